//! The `icat-sim` binary prints the WSDL and IDS URLs, serves, stops cleanly on SIGTERM, and
//! writes no colour codes to a redirected stderr.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[cfg(unix)]
#[tokio::test]
async fn binary_prints_urls_and_stops_on_sigterm() {
    let log_dir = tempfile::tempdir().unwrap();
    let log_path = log_dir.path().join("stderr.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_icat-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--synthetic",
            "visits=2,datasets=1,files=2,size=10",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let wsdl = lines.next().unwrap().unwrap();
    let ids = lines.next().unwrap().unwrap();
    assert!(
        wsdl.starts_with("http://127.0.0.1:") && wsdl.ends_with("/ICATService/ICAT?wsdl"),
        "{wsdl}"
    );
    assert_eq!(ids, wsdl.replace("/ICATService/ICAT?wsdl", "/ids"));
    let body = icat_soap::tls::http_client()
        .unwrap()
        .get(&wsdl)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains(&wsdl.replace("?wsdl", "")));

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = child.wait().unwrap();
    assert!(exit.success(), "clean exit on SIGTERM: {exit:?}");
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("shutting down"), "{log}");
    assert!(
        !log.contains('\x1b'),
        "colour codes in a redirected stderr: {log:?}"
    );
}

#[test]
fn bad_arguments_are_reported() {
    let out = Command::new(env!("CARGO_BIN_EXE_icat-sim"))
        .args(["--listen", "127.0.0.1:0", "--synthetic", "visits=lots"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("visits=lots"));
    let out = Command::new(env!("CARGO_BIN_EXE_icat-sim"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--config",
            "/nonexistent/sim.toml",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("cannot read config file /nonexistent/sim.toml")
    );
}
