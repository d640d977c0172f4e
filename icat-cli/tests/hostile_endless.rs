//! `icat` against endless or enormous protocol answers (issue 14, findings 4 and 6): an endless
//! SOAP `login` answer, the review's namespace-heavy `login` answer (100,000 declarations,
//! 1,000,000 children), and, with the simulator as the ICAT, an endless IDS JSON answer. Each
//! ends with a typed error, a non-zero exit and a peak resident memory of `icat` under 64 MiB
//! (measured with `wait4`, printed with `--nocapture`: the numbers in RELIABILITY.md).

mod common;
mod hostile_icat_server;
mod peak_memory;

#[path = "../../icat-ids/tests/hostile/server.rs"]
mod hostile;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::process::Output;
use std::time::Duration;

use common::{Home, start_sim, stderr};
use hostile::{Body, HostileIds, Reply};
use hostile_icat_server::read_request;

/// The most an endless SOAP answer sends: above the client's default 256 MiB answer limit, so
/// the client's own bound is what stops it.
const SOAP_CAP: usize = 300 << 20;

/// `icat` with these arguments and `stdin`, and its peak resident memory in KiB (its own
/// `ru_maxrss`, from `wait4`; Linux only, else `None`). Printed to the test's stderr (the
/// numbers in RELIABILITY.md).
fn run(home: &Home, args: &[&str], stdin: &str) -> (Output, Option<u64>) {
    let m = peak_memory::run_measured(home.icat(args), stdin);
    let peak = m.peak_kib;
    let output = Output {
        status: m.status,
        stdout: m.stdout,
        stderr: m.stderr,
    };
    (output, peak)
}

/// Asserts the peak memory goal when it was measured.
fn assert_peak_within_goal(peak: Option<u64>) {
    if let Some(kib) = peak {
        assert!(
            kib < peak_memory::PEAK_GOAL_KIB,
            "icat peaked at {kib} KiB, above the {} KiB goal",
            peak_memory::PEAK_GOAL_KIB
        );
    }
}

/// A raw-TCP SOAP server on 127.0.0.1 that reads one request and sends `answer` to it.
fn soap_server(answer: impl Fn(&mut TcpStream) + Send + Sync + 'static) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!(
        "http://{}/ICATService/ICAT",
        listener.local_addr().expect("addr")
    );
    let answer = std::sync::Arc::new(answer);
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let answer = answer.clone();
            std::thread::spawn(move || {
                if read_request(&mut conn, &mut Vec::new()).is_some() {
                    answer(&mut conn);
                }
            });
        }
    });
    url
}

const LOGIN_OPEN: &str = "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:loginResponse xmlns:ns2=\"http://icatproject.org\"><return>";

fn login(home: &Home, icat: &str) -> (Output, Option<u64>) {
    run(
        home,
        &[
            "-w",
            icat,
            "-a",
            "db",
            "-u",
            "root",
            "--password-stdin",
            "login",
        ],
        "pw\n",
    )
}

/// An endless `login` answer without a length (close-delimited, capped at 300 MiB by the
/// server): refused at the client's 32 MiB answer limit, exit 5 (server), with the flag that
/// raises the limit named; `icat` stays under the 64 MiB goal (it peaked at 276 MiB with the
/// old 256 MiB limit).
#[test]
fn an_endless_soap_answer_is_refused_at_the_answer_limit() {
    let url = soap_server(|conn| {
        let head =
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nConnection: close\r\n\r\n";
        if conn.write_all(head.as_bytes()).is_err()
            || conn.write_all(LOGIN_OPEN.as_bytes()).is_err()
        {
            return;
        }
        let block = vec![b'a'; 64 * 1024];
        let mut sent = 0;
        while sent < SOAP_CAP && conn.write_all(&block).is_ok() {
            sent += block.len();
        }
    });
    let home = Home::new();
    let (o, peak) = login(&home, &url);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("larger than the 32 MiB limit"), "{err}");
    assert!(err.contains("--max-answer-mib"), "{err}");
    assert!(!err.contains("::"), "{err}");
    assert_peak_within_goal(peak);
}

/// The review's namespace-heavy `login` answer: 100,000 `xmlns:pN` declarations on
/// `loginResponse` and 1,000,000 prefixed children (about 11 MB), sent with its length.
/// Refused for its declarations before any child is read.
#[test]
fn the_namespace_heavy_soap_answer_is_refused() {
    let decls: String = (0..100_000)
        .map(|i| format!(" xmlns:p{i}=\"urn:{}\"", i % 3))
        .collect();
    let doc = format!(
        "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:loginResponse xmlns:ns2=\"http://icatproject.org\"{decls}>{}<return>sid</return></ns2:loginResponse></S:Body></S:Envelope>",
        "<p0:x/>".repeat(1_000_000)
    );
    let url = soap_server(move |conn| {
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\n\r\n",
            doc.len()
        );
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(doc.as_bytes());
    });
    let home = Home::new();
    let (o, peak) = login(&home, &url);
    let err = stderr(&o);
    assert_ne!(o.status.code(), Some(0), "{err}");
    assert!(err.contains("namespace"), "{err}");
    assert_peak_within_goal(peak);
}

/// An IDS answering every call with an endless JSON body (no length; the test server stops at
/// 64 MiB): `icat download --zip` stops at the 16 MiB bound of small IDS answers, exit 5.
#[test]
fn an_endless_ids_answer_is_refused_at_the_small_answer_bound() {
    let sim = start_sim(
        "visits=1,datasets=1,files=2,size=1KiB",
        false,
        Duration::ZERO,
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let ids = rt.block_on(HostileIds::start(|_| {
        Reply::body(Body::Endless {
            content_length: None,
        })
    }));
    let home = Home::new();
    let (o, _) = run(
        &home,
        &[
            "-w",
            &sim.icat_url,
            "--idsurl",
            &ids.url(),
            "-a",
            "simple",
            "-u",
            "root",
            "--password-stdin",
            "login",
        ],
        "secret\n",
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let dest = home.path().join("out");
    let (o, peak) = run(
        &home,
        &[
            "--idsurl",
            &ids.url(),
            "download",
            "SIM000001",
            "--zip",
            "-o",
            dest.to_str().unwrap(),
        ],
        "",
    );
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(5), "{err}");
    assert!(err.contains("16777216"), "{err}");
    assert_peak_within_goal(peak);
}
