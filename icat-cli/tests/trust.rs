//! TLS trust as a user meets it: a private CA given with `--ca-file` or `caFile` and kept with
//! the session, the openssl-style self-signed certificate, the system store (`SSL_CERT_FILE`),
//! one warning for `--no-check-certificate`, and hints that name flags and the scheme to use.

mod common;
mod tls_front;

use std::time::Duration;

use common::{Home, Sim, ok, start_sim, stderr, stdout};
use tls_front::{TlsFront, backend_of, openssl_made_self_signed, openssl_style_self_signed};
use tls_front::{private_ca, tls_front, write};

fn sim() -> Sim {
    start_sim(
        "visits=2,datasets=1,files=1,size=1KiB",
        false,
        Duration::ZERO,
    )
}

/// An https front for the simulator with this certificate and key.
fn front(sim: &Sim, cert: &str, key: &str) -> TlsFront {
    tls_front(backend_of(&sim.icat_url), cert, key)
}

/// `icat [extra...] -w URL --idsurl URL -a db -u jdoe --password-stdin login`.
fn login_args<'a>(url: &'a str, ids: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = extra.to_vec();
    args.extend([
        "-w",
        url,
        "--idsurl",
        ids,
        "-a",
        "db",
        "-u",
        "jdoe",
        "--password-stdin",
        "login",
    ]);
    args
}

fn https(host: &str, port: u16) -> (String, String) {
    (
        format!("https://{host}:{port}/ICATService/ICAT"),
        format!("https://{host}:{port}/ids"),
    )
}

#[test]
fn ca_file_given_at_login_is_kept_for_later_commands() {
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    let ca_path = write(home.path(), "ca.pem", &ca.ca.cert);
    let (url, ids) = https("localhost", front.port);
    let ca_arg = ca_path.to_str().unwrap();
    let o = home.run_with_stdin(&login_args(&url, &ids, &["--ca-file", ca_arg]), "secret\n");
    ok(&o);
    // Later commands name no CA file: the session remembers it (ICAT and IDS calls).
    let o = home.run(&["visits"]);
    let text = ok(&o);
    assert!(text.contains("SIM000001"), "{text}");
    let o = home.run(&["status", "SIM000001"]);
    ok(&o);
    let o = home.run(&["whoami"]);
    assert!(ok(&o).contains("db/jdoe"));
}

#[test]
fn ca_file_key_in_icat_cfg_is_used_and_kept() {
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    let ca_path = write(home.path(), "ca.pem", &ca.ca.cert);
    let (url, ids) = https("localhost", front.port);
    let cfg_dir = home.path().join(".icat");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(
        cfg_dir.join("icat.cfg"),
        format!(
            "[jdoe]\nurl = {url}\nidsurl = {ids}\nauth = db\nusername = jdoe\ncaFile = {}\n",
            ca_path.display()
        ),
    )
    .unwrap();
    let o = home.run_with_stdin(&["-s", "jdoe", "--password-stdin", "login"], "secret\n");
    ok(&o);
    let o = home.run(&["visits"]);
    ok(&o);
}

#[test]
fn private_ca_without_ca_file_is_refused_with_a_flag_hint() {
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    let (url, ids) = https("localhost", front.port);
    let o = home.run_with_stdin(&login_args(&url, &ids, &[]), "secret\n");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("--ca-file"), "{err}");
    assert!(err.contains("caFile"), "{err}");
    assert!(!err.contains("ClientBuilder"), "{err}");
    assert!(!err.contains("::"), "Rust paths leak: {err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn openssl_style_self_signed_certificate_is_accepted_as_its_own_ca() {
    let sim = sim();
    let cert = openssl_style_self_signed();
    let front = front(&sim, &cert.cert, &cert.key);
    let home = Home::new();
    let ca_path = write(home.path(), "self.pem", &cert.cert);
    let ca_arg = ca_path.to_str().unwrap();
    let (url, ids) = https("localhost", front.port);
    let o = home.run_with_stdin(&login_args(&url, &ids, &["--ca-file", ca_arg]), "secret\n");
    ok(&o);
    ok(&home.run(&["visits"]));
    // The exact match is the only thing relaxed: the name must still match (the certificate
    // names localhost, not 127.0.0.1) ...
    let home = Home::new();
    let ca_path = write(home.path(), "self.pem", &cert.cert);
    let ca_arg = ca_path.to_str().unwrap();
    let (url, ids) = https("127.0.0.1", front.port);
    let o = home.run_with_stdin(&login_args(&url, &ids, &["--ca-file", ca_arg]), "secret\n");
    assert!(!o.status.success(), "{}", stdout(&o));
    let err = stderr(&o);
    assert!(
        err.contains("certificate is for another host name (not for 127.0.0.1)"),
        "{err}"
    );
    assert!(
        !err.contains("NotValidForName") && !err.contains("DnsName"),
        "{err}"
    );
    // ... and another self-signed certificate in the CA file does not vouch for this one.
    let home = Home::new();
    let other = openssl_style_self_signed();
    let ca_path = write(home.path(), "other.pem", &other.cert);
    let ca_arg = ca_path.to_str().unwrap();
    let (url, ids) = https("localhost", front.port);
    let o = home.run_with_stdin(&login_args(&url, &ids, &["--ca-file", ca_arg]), "secret\n");
    assert!(!o.status.success(), "{}", stdout(&o));
}

#[test]
fn certificate_made_by_the_openssl_command_is_accepted() {
    let home = Home::new();
    let Some(cert) = openssl_made_self_signed(home.path()) else {
        eprintln!("skipping: the openssl command is not available");
        return;
    };
    let sim = sim();
    let front = front(&sim, &cert.cert, &cert.key);
    let ca_path = write(home.path(), "self.pem", &cert.cert);
    let ca_arg = ca_path.to_str().unwrap();
    let (url, ids) = https("localhost", front.port);
    let o = home.run_with_stdin(&login_args(&url, &ids, &["--ca-file", ca_arg]), "secret\n");
    ok(&o);
}

#[cfg(target_os = "linux")]
#[test]
fn a_ca_in_the_system_store_is_trusted() {
    // On Linux the platform verifier reads the system store, which SSL_CERT_FILE replaces.
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    let store = write(home.path(), "system-store.pem", &ca.ca.cert);
    let (url, ids) = https("localhost", front.port);
    let o = home
        .icat(&login_args(&url, &ids, &[]))
        .env("SSL_CERT_FILE", &store)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(b"secret\n")?;
            child.wait_with_output()
        })
        .unwrap();
    ok(&o);
}

#[test]
fn no_check_certificate_warns_once_per_command() {
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    let (url, ids) = https("localhost", front.port);
    let o = home.run_with_stdin(
        &login_args(&url, &ids, &["--no-check-certificate"]),
        "secret\n",
    );
    ok(&o);
    // `status` talks to ICAT and to the IDS: still one warning.
    let o = home.run(&["--no-check-certificate", "status", "SIM000001"]);
    ok(&o);
    let err = stderr(&o);
    assert_eq!(err.matches("verification is off").count(), 1, "{err}");
}

#[test]
fn wrong_scheme_gets_a_hint_to_switch_it() {
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    // https to the plain-http simulator.
    let url = sim.icat_url.replacen("http://", "https://", 1);
    let ids = sim.ids_url.replacen("http://", "https://", 1);
    let o = home.run_with_stdin(&login_args(&url, &ids, &[]), "secret\n");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("use http://"), "{err}");
    // http to the https front.
    let url = format!("http://localhost:{}/ICATService/ICAT", front.port);
    let ids = format!("http://localhost:{}/ids", front.port);
    let o = home.run_with_stdin(&login_args(&url, &ids, &[]), "secret\n");
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(err.contains("use https://"), "{err}");
}

#[test]
fn an_unreadable_ca_file_names_the_flag_not_the_url() {
    let sim = sim();
    let home = Home::new();
    let missing = home.path().join("missing-ca.pem");
    let bogus = write(home.path(), "bogus.pem", "not a certificate\n");
    for path in [missing, bogus] {
        let p = path.to_str().unwrap();
        let o = home.run_with_stdin(
            &login_args(&sim.icat_url, &sim.ids_url, &["--ca-file", p]),
            "secret\n",
        );
        assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
        let err = stderr(&o);
        assert!(err.contains(p) && err.contains("--ca-file"), "{err}");
        assert!(!err.contains("check -w/--url"), "{err}");
    }
}

#[test]
fn relative_ca_file_in_icat_cfg_is_relative_to_the_file() {
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    let (url, ids) = https("localhost", front.port);
    let cfg_dir = home.path().join(".icat");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    write(&cfg_dir, "ca.pem", &ca.ca.cert);
    std::fs::write(
        cfg_dir.join("icat.cfg"),
        format!(
            "[jdoe]\nurl = {url}\nidsurl = {ids}\nauth = db\nusername = jdoe\ncaFile = ca.pem\n"
        ),
    )
    .unwrap();
    let o = home.run_with_stdin(&["-s", "jdoe", "--password-stdin", "login"], "secret\n");
    ok(&o);
}

/// A certificate nobody vouches for (the openssl-style self-signed one, rustls says
/// `CaUsedAsEndEntity`; one from a private CA, `UnknownIssuer`), at the ICAT or the IDS: the
/// message says in plain words that it is not trusted and what to do, in flags and keys.
#[test]
fn untrusted_certificates_are_explained_in_plain_words() {
    let sim = sim();
    let self_signed = openssl_style_self_signed();
    let ca = private_ca();
    let check = |err: &str| {
        assert!(err.contains("certificate is not trusted"), "{err}");
        for advice in ["--ca-file", "caFile", "--no-check-certificate"] {
            assert!(err.contains(advice), "{advice} missing: {err}");
        }
        for jargon in ["CaUsedAsEndEntity", "UnknownIssuer", "OtherError"] {
            assert!(!err.contains(jargon), "{jargon}: {err}");
        }
    };
    // The ICAT, self-signed.
    let front_icat = front(&sim, &self_signed.cert, &self_signed.key);
    let home = Home::new();
    let (url, ids) = https("localhost", front_icat.port);
    let o = home.run_with_stdin(&login_args(&url, &ids, &[]), "secret\n");
    assert_eq!(o.status.code(), Some(5), "{}", stderr(&o));
    check(&stderr(&o));
    // The IDS behind a private CA, the ICAT plain http.
    let front_ids = front(&sim, &ca.server.cert, &ca.server.key);
    let (_, ids) = https("localhost", front_ids.port);
    let o = home.run_with_stdin(&login_args(&sim.icat_url, &ids, &[]), "secret\n");
    ok(&o);
    let o = home.run(&["status", "SIM000001"]);
    assert!(!o.status.success(), "{}", stdout(&o));
    check(&stderr(&o));
}

/// `--no-check-certificate` given at login stays with the session for later `-w` commands of
/// the same server, and each command says that verification is off.
#[test]
fn no_check_certificate_at_login_is_kept_with_the_session() {
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    let (url, ids) = https("localhost", front.port);
    let o = home.run_with_stdin(
        &login_args(&url, &ids, &["--no-check-certificate"]),
        "secret\n",
    );
    ok(&o);
    for args in [vec!["visits"], vec!["-w", url.as_str(), "visits"]] {
        let o = home.run(&args);
        let text = ok(&o);
        assert!(text.contains("SIM000001"), "{text}");
        assert_eq!(
            stderr(&o).matches("verification is off").count(),
            1,
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

/// `caFile = ~/ca.pem` in icat.cfg is the file in the home directory, as a shell would read it.
#[test]
fn ca_file_in_icat_cfg_expands_the_home_directory() {
    let sim = sim();
    let ca = private_ca();
    let front = front(&sim, &ca.server.cert, &ca.server.key);
    let home = Home::new();
    write(home.path(), "my-ca.pem", &ca.ca.cert);
    let (url, ids) = https("localhost", front.port);
    let cfg_dir = home.path().join(".icat");
    std::fs::create_dir_all(&cfg_dir).unwrap();
    std::fs::write(
        cfg_dir.join("icat.cfg"),
        format!(
            "[jdoe]\nurl = {url}\nidsurl = {ids}\nauth = db\nusername = jdoe\ncaFile = ~/my-ca.pem\n"
        ),
    )
    .unwrap();
    let o = home.run_with_stdin(&["-s", "jdoe", "--password-stdin", "login"], "secret\n");
    ok(&o);
    ok(&home.run(&["visits"]));
}
