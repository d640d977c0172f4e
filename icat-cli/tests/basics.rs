//! The command line itself: help with exit codes, completions, usage errors, `icat sim serve`.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Stdio;

use common::{Home, ok, stderr};

#[test]
fn help_documents_exit_codes() {
    let home = Home::new();
    let out = ok(&home.run(&["--help"]));
    for needle in [
        "Exit codes",
        "3    authentication",
        "4    not found",
        "6    verification",
    ] {
        assert!(out.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

/// A default simulator has an empty catalogue: `icat sim serve --help` says so and how to fill it,
/// so a user trying the quick start does not search an empty facility and find nothing.
#[test]
fn sim_serve_help_says_the_default_catalogue_is_empty() {
    let home = Home::new();
    let out = ok(&home.run(&["sim", "serve", "--help"]));
    let text = out.split_whitespace().collect::<Vec<_>>().join(" ");
    for needle in [
        "catalogue is empty",
        "--synthetic visits=5,datasets=3,files=4,size=64KiB",
    ] {
        assert!(text.contains(needle), "missing {needle:?} in:\n{out}");
    }
}

#[test]
fn completions_for_bash() {
    let home = Home::new();
    let out = ok(&home.run(&["completions", "bash"]));
    assert!(out.contains("_icat()"), "{out}");
    assert!(out.contains("download"));
}

#[test]
fn usage_errors_exit_2() {
    let home = Home::new();
    let o = home.run(&["download"]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let o = home.run(&["--password", "x", "login"]);
    assert_eq!(o.status.code(), Some(2), "a password flag must not exist");
}

#[test]
fn sim_serve_prints_urls_and_serves_the_wsdl() {
    let home = Home::new();
    let mut child = home
        .icat(&[
            "sim",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--synthetic",
            "visits=1,datasets=1,files=1,size=1KiB",
            "--storage",
            home.path().join("storage").to_str().expect("utf-8 path"),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("icat sim serve starts");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let wsdl = lines.next().expect("wsdl line").expect("utf-8");
    let ids = lines.next().expect("ids line").expect("utf-8");
    assert!(
        wsdl.starts_with("http://127.0.0.1:") && wsdl.ends_with("/ICATService/ICAT?wsdl"),
        "{wsdl}"
    );
    assert!(ids.ends_with("/ids"), "{ids}");
    // Fetch the WSDL with a raw HTTP request.
    let rest = wsdl.trim_start_matches("http://");
    let (hostport, path) = rest.split_once('/').expect("path");
    let mut conn = std::net::TcpStream::connect(hostport).expect("connect");
    write!(conn, "GET /{path} HTTP/1.0\r\nHost: {hostport}\r\n\r\n").expect("send");
    let mut body = String::new();
    conn.read_to_string(&mut body).expect("read");
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{}",
        &body[..body.len().min(200)]
    );
    assert!(body.contains("definitions"));
    // And the IDS answers on the printed URL.
    let ids_rest = ids.trim_start_matches("http://");
    let (_, ids_path) = ids_rest.split_once('/').expect("path");
    let mut conn = std::net::TcpStream::connect(hostport).expect("connect");
    write!(
        conn,
        "GET /{ids_path}/ping HTTP/1.0\r\nHost: {hostport}\r\n\r\n"
    )
    .expect("send");
    let mut body = String::new();
    conn.read_to_string(&mut body).expect("read");
    assert!(body.ends_with("IdsOK"), "{body}");
    // SIGTERM (what supervisors send) stops it cleanly.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(term.success());
    let status = child.wait().expect("simulator exits");
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    assert!(
        home.path().join("storage").is_dir(),
        "given storage is kept"
    );
}
