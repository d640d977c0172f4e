//! One retry policy for both services: the same `RetryPolicy` given to the ICAT client and to
//! the IDS client made from its session (`session.ids_with(..)`) makes the same number of tries
//! against a server that answers 503 or resets the connection, and both wait the `Retry-After`
//! a busy server asks for; `session.ids(url)` takes the ICAT client's options itself. A raw local
//! server (127.0.0.1) counts the requests of each service.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use icat_ids::{IdsClient, RetryPolicy, SessionIds};
use icat_soap::client::{Client, Credentials};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// How the server fails the calls under test (everything but login).
#[derive(Clone, Copy)]
enum Failing {
    /// `503 Service Unavailable`, with `Retry-After: N` when `Some(N)`.
    Unavailable(Option<u64>),
    /// The request is read, then the connection closed without an answer.
    Reset,
}

/// When each failed request of one service arrived.
type Arrivals = Arc<Mutex<Vec<Instant>>>;

struct Server {
    url: String,
    soap: Arrivals,
    ids: Arrivals,
}

async fn serve(failing: Failing) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let (soap, ids) = (Arrivals::default(), Arrivals::default());
    let (s, i) = (soap.clone(), ids.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(answer(stream, failing, s.clone(), i.clone()));
        }
    });
    Server { url, soap, ids }
}

/// Reads one request (headers and a `Content-Length` body, at most 64 KiB) and answers it.
async fn answer(mut stream: TcpStream, failing: Failing, soap: Arrivals, ids: Arrivals) {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    let complete = |r: &[u8]| {
        let text = String::from_utf8_lossy(r);
        let Some(end) = text.find("\r\n\r\n") else {
            return false;
        };
        let length = text[..end]
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        r.len() >= end + 4 + length
    };
    while !complete(&request) && request.len() < 64 << 10 {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&request).into_owned();
    let soap_reply = |inner: &str, op: &str| {
        format!(
            "<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:{op}Response xmlns:ns2=\"http://icatproject.org\"><return>{inner}</return></ns2:{op}Response></S:Body></S:Envelope>"
        )
    };
    let ok = if text.contains("getRemainingMinutes") {
        Some(soap_reply("120.0", "getRemainingMinutes"))
    } else if text.contains("login") {
        Some(soap_reply("0d9a3706-80d4-4d29-9ff3-4d65d4308a24", "login"))
    } else {
        None
    };
    let response = match (ok, failing) {
        (Some(body), _) => format!(
            "HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ),
        (None, failing) => {
            let arrivals = if text.starts_with("GET /ids/") {
                ids
            } else {
                soap
            };
            arrivals.lock().expect("lock").push(Instant::now());
            match failing {
                Failing::Reset => return,
                Failing::Unavailable(after) => {
                    let after = after.map_or(String::new(), |s| format!("Retry-After: {s}\r\n"));
                    let body = "<html>busy</html>";
                    format!(
                        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/html\r\n{after}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    )
                }
            }
        }
    };
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn credentials() -> Credentials {
    Credentials::new()
        .with("username", "u")
        .with("password", "p")
}

/// The ICAT client and the IDS client from its session, both given `policy`.
async fn clients(url: &str, policy: RetryPolicy) -> (Client, IdsClient) {
    let icat = Client::builder(url).retry(policy).build().expect("client");
    let session = icat.login("simple", &credentials()).await.expect("login");
    let ids = session
        .ids_with(IdsClient::builder(url).retry(policy))
        .expect("ids client");
    (icat, ids)
}

fn count(arrivals: &Arrivals) -> usize {
    arrivals.lock().expect("lock").len()
}

#[tokio::test]
async fn one_policy_gives_both_services_the_same_number_of_tries() {
    for failing in [Failing::Unavailable(None), Failing::Reset] {
        for retries in [0, 2] {
            let server = serve(failing).await;
            let policy = RetryPolicy::new(retries, Duration::from_millis(1));
            let (icat, ids) = clients(&server.url, policy).await;
            assert!(icat.api_version().await.is_err());
            assert!(ids.ping().await.is_err());
            let tries = retries as usize + 1;
            assert_eq!(count(&server.soap), tries, "ICAT tries, {retries} retries");
            assert_eq!(count(&server.ids), tries, "IDS tries, {retries} retries");
        }
    }
}

#[tokio::test]
async fn both_services_wait_the_retry_after_a_busy_server_asks_for() {
    let server = serve(Failing::Unavailable(Some(1))).await;
    // The policy's own pause is 1 ms: only the server's `Retry-After: 1` makes it a second.
    let policy = RetryPolicy::new(1, Duration::from_millis(1));
    let (icat, ids) = clients(&server.url, policy).await;
    assert!(icat.api_version().await.is_err());
    assert!(ids.ping().await.is_err());
    for (service, arrivals) in [("ICAT", &server.soap), ("IDS", &server.ids)] {
        let arrivals = arrivals.lock().expect("lock").clone();
        assert_eq!(arrivals.len(), 2, "{service}");
        let gap = arrivals[1] - arrivals[0];
        assert!(
            gap >= Duration::from_secs(1),
            "{service} came back after {gap:?}, before the 1 s the server asked for"
        );
    }
}

/// `session.ids(url)` builds the IDS client from the ICAT client's options: its retry policy,
/// connect, read and operation timeouts, CA certificates, verification and user agent, so a
/// facility's private CA or "no retries" given once holds for both services (library-user
/// review of issue 18, R1: before, the IDS client had its own defaults for all of them).
#[tokio::test]
async fn session_ids_takes_the_icat_clients_options() {
    let server = serve(Failing::Unavailable(None)).await;
    let key = rcgen::KeyPair::generate().expect("key");
    let mut ca = rcgen::CertificateParams::new(vec!["ca.test".to_owned()]).expect("params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let pem = ca.self_signed(&key).expect("certificate").pem();
    let policy = RetryPolicy::new(1, Duration::from_millis(1));
    let secs = Duration::from_secs;
    let icat = Client::builder(&server.url)
        .retry(policy)
        .connect_timeout(secs(3))
        .read_timeout(secs(7))
        .operation_timeout(secs(40))
        .ca_certificate_pem(pem.clone())
        .danger_accept_invalid_certs(true)
        .user_agent("facility-pipeline/2")
        .build()
        .expect("client");
    let session = icat.login("simple", &credentials()).await.expect("login");
    let ids = session.ids(&server.url).expect("ids client");
    assert_eq!(ids.retry_policy(), policy);
    let t = ids.transport();
    assert_eq!(
        (t.connect_timeout, t.read_timeout, t.operation_timeout),
        (secs(3), secs(7), Some(secs(40)))
    );
    assert_eq!(t.ca_pems, vec![pem.into_bytes()]);
    assert!(t.insecure);
    assert_eq!(t.user_agent, "facility-pipeline/2");
    // The calls follow them: one retry, as the ICAT client makes.
    assert!(ids.ping().await.is_err());
    assert_eq!(count(&server.ids), 2);
}
