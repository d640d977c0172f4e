//! A hostile ICAT (issue 14, findings 5, 7 and 8 on the SOAP side), one small local server per
//! scenario on 127.0.0.1: redirects are reported with their target and never followed (the
//! password stays home), fault text with escape sequences is cleaned and bounded, and a server
//! that ignores the LIMIT offset cannot keep a paged search going.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::response::Response;
use common::{Replay, answer, fault};
use futures_util::TryStreamExt;
use icat_soap::IcatError;
use icat_soap::client::{Client, Credentials, RetryPolicy};
use icat_soap::query::Query;
use tokio::io::AsyncReadExt;

fn creds() -> Credentials {
    Credentials::new()
        .with("username", "u")
        .with("password", "s3cret-pw")
}

/// A raw TCP listener that counts connections and records what arrives (at most 64 KiB), and
/// never answers: where a followed redirect would have gone.
async fn elsewhere() -> (u16, Arc<AtomicUsize>, Arc<std::sync::Mutex<Vec<u8>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (h, s) = (hits.clone(), seen.clone());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
            let s = s.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                if let Ok(n) = conn.read(&mut buf).await {
                    s.lock().expect("lock").extend_from_slice(&buf[..n]);
                }
            });
        }
    });
    (port, hits, seen)
}

fn redirect(status: u16, location: &str) -> Response {
    let location = axum::http::HeaderValue::from_bytes(location.as_bytes()).expect("header value");
    Response::builder()
        .status(status)
        .header("location", location)
        .body(Body::empty())
        .expect("response")
}

/// Finding 7a/7b: `login` answered with 307 (and the other redirects) to another port. Before,
/// the client re-sent the envelope, password included, there (to plain http as readily as to
/// https, so an https ICAT could hand the password to a clear-text address), then reported
/// "logged in at" the first address.
#[tokio::test]
async fn a_redirected_login_is_reported_and_the_password_never_follows() {
    let (port, hits, seen) = elsewhere().await;
    for status in [307, 308, 302, 301, 303] {
        let target = format!("http://127.0.0.1:{port}/ICATService/ICAT");
        let t = target.clone();
        let server = Replay::start(move |_, _| redirect(status, &t)).await;
        let client = Client::builder(&server.url)
            .retry(RetryPolicy::none())
            .build()
            .expect("client");
        let err = client.login("db", &creds()).await.unwrap_err();
        let IcatError::Redirected {
            status: got,
            location,
            ..
        } = &err
        else {
            panic!("{status}: {err:?}");
        };
        assert_eq!(*got, status);
        assert_eq!(location, &target);
        assert!(err.to_string().contains(&target), "{err}");
        assert_eq!(server.recorded().len(), 1, "sent once, to the URL given");
    }
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(hits.load(Ordering::SeqCst), 0, "nothing went to the target");
    assert!(
        !String::from_utf8_lossy(&seen.lock().expect("lock")).contains("s3cret-pw"),
        "the password was re-sent"
    );
}

/// A relative target is shown resolved, and the server's text in it is cleaned.
#[tokio::test]
async fn a_redirect_target_is_resolved_and_cleaned() {
    let server = Replay::start(|_, _| redirect(302, "/elsewhere/ICAT?x=\u{9b}2J")).await;
    let client = Client::new(&server.url).expect("client");
    let err = client.api_version().await.unwrap_err();
    let IcatError::Redirected { location, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(location.starts_with(&server.url), "{location}");
    assert!(location.contains("/elsewhere/ICAT"), "{location}");
    assert!(!location.chars().any(char::is_control), "{location:?}");
}

/// Review: a redirect to the very URL called was reported as "redirecting to <the same URL> ...
/// If that address is the right ICAT, use it as the ICAT URL", advice that cannot help. It is
/// `RedirectLoop`, saying the server redirects to itself.
#[tokio::test]
async fn a_redirect_to_the_same_url_is_called_a_loop() {
    for status in [302, 307, 308] {
        let server = Replay::start(move |rec, _| redirect(status, &rec.path)).await;
        let client = Client::builder(&server.url)
            .retry(RetryPolicy::none())
            .build()
            .expect("client");
        let err = client.api_version().await.unwrap_err();
        assert!(
            matches!(&err, IcatError::RedirectLoop { status: s, url } if *s == status && url == client.endpoint()),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains("redirecting to itself"), "{text}");
        assert!(!text.contains("use it as the ICAT URL"), "{text}");
        assert_eq!(server.requests.lock().expect("lock").len(), 1);
    }
}

/// Finding 8 (library side): 100 KB of fault text with terminal escape sequences arrives as a
/// short message without control characters.
#[tokio::test]
async fn fault_text_is_cleaned_and_bounded() {
    let hostile = format!(
        "\u{1b}[2J\u{1b}]0;pwned\u{7}{}",
        "A\u{1b}[31mB\r\n".repeat(12_000)
    );
    let h = hostile.clone();
    let server = Replay::start(move |rec, _| match rec.operation().as_str() {
        "login" => fault("SESSION", &h, -1),
        _ => answer("getApiVersion", "<return>6.2.0</return>"),
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    let err = client.login("db", &creds()).await.unwrap_err();
    let IcatError::Session { message, .. } = &err else {
        panic!("{err:?}");
    };
    assert!(
        message.len() <= icat_soap::untrusted::MAX_FAULT_MESSAGE_LEN,
        "{}",
        message.len()
    );
    let shown = err.to_string();
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
    assert!(shown.len() < 4000, "{}", shown.len());
}

fn dataset_page(ids: std::ops::Range<i64>) -> String {
    ids.map(|id| {
        format!(
            r#"<return xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ns2:dataset"><id>{id}</id><name>d{id}</name></return>"#
        )
    })
    .collect()
}

/// The answer to a COUNT search: `n`.
fn counted(n: u64) -> String {
    format!(
        r#"<return xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:long">{n}</return>"#
    )
}

/// Finding 5 (library side): an ICAT that ignores the LIMIT offset and always answers the same
/// full page. Before, `search_stream` asked forever (the CLI reached 10.4 GB); now the second
/// page, a repeat of the first, ends it with a typed error (after the COUNT made first, which
/// here says 100).
#[tokio::test]
async fn a_server_ignoring_the_limit_offset_cannot_page_forever() {
    let server = Replay::start(|rec, _| match rec.operation().as_str() {
        "login" => answer("login", "<return>sid-0123456789</return>"),
        "search" if rec.body.contains("COUNT(") => answer("search", &counted(100)),
        "search" => answer("search", &dataset_page(1..4)),
        _ => answer("getRemainingMinutes", "<return>120.0</return>"),
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    let session = client.login("db", &creds()).await.expect("login");
    let query = Query::new("Dataset").order_by("id");
    let mut stream = Box::pin(session.search_stream(&query, 3).expect("stream"));
    let mut received = 0;
    let err = loop {
        match stream.try_next().await {
            Ok(Some(_)) => {
                received += 1;
                assert!(received <= 300, "paging did not stop");
            }
            Ok(None) => panic!("the stream ended without noticing the repeats"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(
            err,
            IcatError::EndlessPaging {
                offset: 3,
                pages: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(received, 3);
    let searches = server
        .recorded()
        .iter()
        .filter(|r| r.operation() == "search")
        .count();
    assert_eq!(searches, 3, "one COUNT and two pages");
}

/// Finding 5, fresh pages of entities: a server that ignores the offset and answers every page
/// with datasets never seen before (new ids each time) is not caught by repetition. Before,
/// the library searched a COUNT only for plain values, so this stream never ended; now the
/// COUNT made first (10 in pages of 3) bounds it like value pages: the sixth page is refused.
#[tokio::test]
async fn endless_fresh_entity_pages_stop_at_the_counted_total() {
    let server = Replay::start(|rec, n| match rec.operation().as_str() {
        "login" => answer("login", "<return>sid-0123456789</return>"),
        "search" if rec.body.contains("COUNT(") => answer("search", &counted(10)),
        "search" => {
            let first = 1 + 3 * n as i64;
            answer("search", &dataset_page(first..first + 3))
        }
        _ => answer("getRemainingMinutes", "<return>120.0</return>"),
    })
    .await;
    stops_at_the_sixth_page(&server, &Query::new("Dataset").order_by("id")).await;
}

/// Streams `query` 3 at a time from `server`, whose COUNT says 10 and whose every page is
/// fresh: the stream must end with `EndlessPaging` on the sixth page (the counted pages and one
/// to spare) after 15 results, having searched the COUNT first and then six pages. Returns the
/// search request bodies.
async fn stops_at_the_sixth_page(server: &Replay, query: &Query) -> Vec<String> {
    let client = Client::new(&server.url).expect("client");
    let session = client.login("db", &creds()).await.expect("login");
    let mut stream = Box::pin(session.search_stream(query, 3).expect("stream"));
    let mut received = 0;
    let err = loop {
        match stream.try_next().await {
            Ok(Some(_)) => {
                received += 1;
                assert!(received <= 300, "paging did not stop");
            }
            Ok(None) => panic!("the stream ended without noticing"),
            Err(e) => break e,
        }
    };
    assert!(
        matches!(err, IcatError::EndlessPaging { pages: 6, .. }),
        "{err:?}"
    );
    assert_eq!(received, 15);
    let searches: Vec<String> = server
        .recorded()
        .iter()
        .filter(|r| r.operation() == "search")
        .map(|r| r.body.clone())
        .collect();
    assert_eq!(searches.len(), 7, "one COUNT and six pages");
    assert!(
        searches[0].contains("SELECT COUNT(d) FROM Dataset d"),
        "{}",
        searches[0]
    );
    searches
}

/// A page of three string values no page has had before (`n` numbers the request).
fn fresh_values(n: usize) -> String {
    (0..3)
        .map(|i| {
            format!(
                r#"<return xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xmlns:xs="http://www.w3.org/2001/XMLSchema" xsi:type="xs:string">v{n}-{i}</return>"#
            )
        })
        .collect()
}

/// Finding 5, pages of plain values: they carry no ids, so a server that ignores the offset and
/// answers every page with values never seen before cannot be caught by repetition. Before, the
/// stream asked forever; now a COUNT made before paging bounds the pages (10 rows in pages of 3:
/// at most 4 pages and one to spare), then a typed error.
#[tokio::test]
async fn endless_fresh_value_pages_stop_at_the_counted_total() {
    let server = Replay::start(|rec, n| match rec.operation().as_str() {
        "login" => answer("login", "<return>sid-0123456789</return>"),
        "search" if rec.body.contains("COUNT(") => answer("search", &counted(10)),
        "search" => answer("search", &fresh_values(n)),
        _ => answer("getRemainingMinutes", "<return>120.0</return>"),
    })
    .await;
    let query = Query::new("Dataset").select("name").order_by("name");
    let searches = stops_at_the_sixth_page(&server, &query).await;
    assert!(!searches[0].contains("ORDER BY"), "{}", searches[0]);
}

/// Issue 14, breaker's finding 12: a page with far more rows than its LIMIT (420,000 tiny rows
/// asked 3,000 at a time) was decoded whole, about 250 MiB from one 32 MiB answer, before the
/// paging refused it. Now an answer holding more results than the query's `LIMIT offset, count`
/// is refused before any result is decoded: the answer here holds 11 datasets for `LIMIT 0, 10`
/// and then an item that cannot be decoded, which the refusal never reaches.
#[tokio::test]
async fn an_answer_with_more_results_than_its_limit_is_refused_before_it_is_decoded() {
    let broken = r#"<return xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="ns2:noSuchEntity"><id>x</id></return>"#;
    let server = Replay::start(move |rec, _| match rec.operation().as_str() {
        "login" => answer("login", "<return>sid-0123456789</return>"),
        "search" if rec.body.contains("LIMIT 0, 11") => answer("search", &dataset_page(1..12)),
        "search" => answer("search", &format!("{}{broken}", dataset_page(1..12))),
        _ => answer("getRemainingMinutes", "<return>120.0</return>"),
    })
    .await;
    let client = Client::new(&server.url).expect("client");
    let session = client.login("db", &creds()).await.expect("login");
    let err = session
        .search("SELECT d FROM Dataset d ORDER BY d.id LIMIT 0, 10")
        .await
        .unwrap_err();
    assert!(
        matches!(err, IcatError::MoreResultsThanAsked { asked: 10, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("ignore the LIMIT"), "{err}");
    // Without a LIMIT the same answer is decoded, and the broken item refused.
    let err = session
        .search("SELECT d FROM Dataset d ORDER BY d.id")
        .await
        .unwrap_err();
    assert!(matches!(err, IcatError::Decode { .. }), "{err:?}");
    // As many results as the LIMIT asked for are read as usual.
    let values = session
        .search("SELECT d FROM Dataset d ORDER BY d.id LIMIT 0, 11")
        .await
        .expect("within the LIMIT");
    assert_eq!(values.len(), 11);
}
