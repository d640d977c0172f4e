//! Retries, timeouts and size limits of the client against a local server that counts requests:
//! read-only calls retried on 502/503/504 and broken connections up to the bound, writes and
//! login never; oversized, hostile and stalled answers refused with typed errors.

mod common;

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::response::Response;
use common::{Replay, answer, envelope, xml};
use futures_util::stream;

use icat_soap::IcatError;
use icat_soap::client::{Client, Credentials, RetryPolicy};

fn gateway(status: u16) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "text/html")
        .body(Body::from(format!("<html><h1>{status}</h1></html>")))
        .expect("response")
}

/// Answers login and getRemainingMinutes, and `other` for everything else.
fn with_login(
    other: impl Fn(&str, usize) -> Response + Send + Sync + 'static,
) -> impl Fn(&common::Recorded, usize) -> Response + Send + Sync + 'static {
    move |rec, i| match rec.operation().as_str() {
        "login" => answer(
            "login",
            "<return>0d9a3706-80d4-4d29-9ff3-4d65d4308a24</return>",
        ),
        "getRemainingMinutes" => answer("getRemainingMinutes", "<return>120.0</return>"),
        op => other(op, i),
    }
}

fn quick(url: &str, attempts: u32) -> Client {
    Client::builder(url)
        .retry(RetryPolicy::new(attempts - 1, Duration::from_millis(2)))
        .build()
        .expect("client")
}

fn creds() -> Credentials {
    Credentials::new()
        .with("username", "u")
        .with("password", "p")
}

fn count(server: &Replay, op: &str) -> usize {
    server
        .recorded()
        .iter()
        .filter(|r| r.operation() == op)
        .count()
}

#[tokio::test]
async fn read_only_calls_ride_out_a_503_storm() {
    let server = Replay::start(|_, i| {
        if i < 3 {
            gateway([503, 502, 504][i])
        } else {
            answer("getApiVersion", "<return>6.2.0</return>")
        }
    })
    .await;
    let client = quick(&server.url, 4);
    assert_eq!(client.api_version().await.expect("version"), "6.2.0");
    assert_eq!(server.recorded().len(), 4);
}

#[tokio::test]
async fn beyond_the_bound_a_typed_error_says_what_to_do() {
    let server = Replay::start(|_, _| gateway(503)).await;
    let client = quick(&server.url, 3);
    let err = client.api_version().await.unwrap_err();
    let IcatError::RetriesExhausted {
        ref operation,
        attempts,
        ref last,
    } = err
    else {
        panic!("expected RetriesExhausted, got {err:?}")
    };
    assert_eq!((operation.as_str(), attempts), ("getApiVersion", 3));
    assert!(
        matches!(**last, IcatError::Http { status: 503, .. }),
        "{last:?}"
    );
    assert!(err.to_string().contains("raise the retry limit"), "{err}");
    assert_eq!(server.recorded().len(), 3);

    // With retries off the first failure comes back as it is.
    let server = Replay::start(|_, _| gateway(503)).await;
    let client = Client::builder(&server.url)
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let err = client.api_version().await.unwrap_err();
    assert!(
        matches!(err, IcatError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(server.recorded().len(), 1);
}

#[tokio::test]
async fn writes_logout_and_login_are_never_retried() {
    // login itself failing: one request only.
    let server = Replay::start(|_, _| gateway(503)).await;
    let err = quick(&server.url, 5)
        .login("db", &creds())
        .await
        .unwrap_err();
    assert!(
        matches!(err, IcatError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(count(&server, "login"), 1);

    let server = Replay::start(with_login(|_, _| gateway(503))).await;
    let session = quick(&server.url, 5)
        .login("db", &creds())
        .await
        .expect("login");
    let facility = icat_soap::model::Facility {
        name: Some("F".into()),
        ..Default::default()
    };
    let err = session.create(facility.clone()).await.unwrap_err();
    assert!(
        matches!(err, IcatError::Http { status: 503, .. }),
        "{err:?}"
    );
    let err = session.update(facility.clone()).await.unwrap_err();
    assert!(
        matches!(err, IcatError::Http { status: 503, .. }),
        "{err:?}"
    );
    let err = session.delete(facility).await.unwrap_err();
    assert!(
        matches!(err, IcatError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(count(&server, "create"), 1);
    assert_eq!(count(&server, "update"), 1);
    assert_eq!(count(&server, "delete"), 1);
    // A read through the same session is retried (5 attempts in all).
    let err = session.user_name().await.unwrap_err();
    assert!(
        matches!(err, IcatError::RetriesExhausted { attempts: 5, .. }),
        "{err:?}"
    );
    assert_eq!(count(&server, "getUserName"), 5);
    let err = session.logout().await.unwrap_err();
    assert!(
        matches!(err, IcatError::Http { status: 503, .. }),
        "{err:?}"
    );
    assert_eq!(count(&server, "logout"), 1);
}

#[tokio::test]
async fn an_internal_fault_is_not_retried() {
    let server = Replay::start(|_, _| common::fault("INTERNAL", "database down", -1)).await;
    let err = quick(&server.url, 4).api_version().await.unwrap_err();
    assert!(matches!(err, IcatError::Internal { .. }), "{err:?}");
    assert_eq!(server.recorded().len(), 1);
}

/// A 200 whose body breaks off after its first bytes.
fn broken_answer() -> Response {
    let parts: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(b"<?xml version='1.0'?><S:Envelope")),
        Err(std::io::Error::other("connection reset")),
    ];
    Response::builder()
        .status(200)
        .header("content-type", "text/xml; charset=utf-8")
        .body(Body::from_stream(stream::iter(parts)))
        .expect("response")
}

#[tokio::test]
async fn an_answer_cut_off_mid_body_is_retried_for_reads_and_reported_for_writes() {
    let server = Replay::start(|_, i| {
        if i < 2 {
            broken_answer()
        } else {
            answer("getApiVersion", "<return>6.2.0</return>")
        }
    })
    .await;
    assert_eq!(
        quick(&server.url, 4).api_version().await.expect("version"),
        "6.2.0"
    );
    assert_eq!(server.recorded().len(), 3);

    let server = Replay::start(with_login(|_, _| broken_answer())).await;
    let session = quick(&server.url, 4)
        .login("db", &creds())
        .await
        .expect("login");
    let err = session
        .create(icat_soap::model::Facility::default())
        .await
        .unwrap_err();
    assert!(matches!(err, IcatError::Interrupted { .. }), "{err:?}");
    assert!(
        err.to_string()
            .contains("check whether the change was made"),
        "{err}"
    );
    assert_eq!(count(&server, "create"), 1);
}

#[tokio::test]
async fn oversized_answers_are_refused_with_or_without_a_length() {
    let big = envelope(&format!(
        "<ns2:getApiVersionResponse xmlns:ns2=\"http://icatproject.org\"><return>{}</return></ns2:getApiVersionResponse>",
        "x".repeat(10_000)
    ));
    let streamed = big.clone();
    let server = Replay::start(move |_, i| {
        if i == 0 {
            xml(200, big.clone())
        } else {
            // Chunked, so the size is only known while reading.
            let chunks: Vec<Result<Bytes, std::io::Error>> = streamed
                .as_bytes()
                .chunks(1000)
                .map(|c| Ok(Bytes::copy_from_slice(c)))
                .collect();
            Response::builder()
                .status(200)
                .header("content-type", "text/xml; charset=utf-8")
                .body(Body::from_stream(stream::iter(chunks)))
                .expect("response")
        }
    })
    .await;
    let client = Client::builder(&server.url)
        .max_response_size(4096)
        .build()
        .expect("client");
    for _ in 0..2 {
        let err = client.api_version().await.unwrap_err();
        assert!(
            matches!(err, IcatError::ResponseTooLarge { limit: 4096, .. }),
            "{err:?}"
        );
        assert!(err.to_string().contains("max_response_size"), "{err}");
    }
    assert_eq!(
        server.recorded().len(),
        2,
        "a refused answer is not retried"
    );
    // The same answer under the default limit is fine.
    let client = Client::new(&server.url).expect("client");
    assert_eq!(client.api_version().await.expect("version").len(), 10_000);
}

#[tokio::test]
async fn hostile_xml_over_http_is_refused() {
    let server = Replay::start(|_, i| {
        if i == 0 {
            xml(
                200,
                "<?xml version=\"1.0\"?><!DOCTYPE S:Envelope [<!ENTITY x \"boom\">]><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:getApiVersionResponse xmlns:ns2=\"http://icatproject.org\"><return>&x;</return></ns2:getApiVersionResponse></S:Body></S:Envelope>",
            )
        } else {
            let deep = format!("{}{}", "<a>".repeat(10_000), "</a>".repeat(10_000));
            answer("getApiVersion", &format!("<return>1</return>{deep}"))
        }
    })
    .await;
    let client = quick(&server.url, 4);
    for what in ["DOCTYPE", "nesting"] {
        let err = client.api_version().await.unwrap_err();
        assert!(matches!(err, IcatError::Decode { .. }), "{what}: {err:?}");
    }
    assert_eq!(server.recorded().len(), 2, "decode errors are not retried");
}

#[tokio::test]
async fn a_stalled_answer_hits_the_read_timeout() {
    let server = Replay::start(|_, _| {
        Response::builder()
            .status(200)
            .header("content-type", "text/xml; charset=utf-8")
            .body(Body::from_stream(stream::pending::<
                Result<Bytes, std::io::Error>,
            >()))
            .expect("response")
    })
    .await;
    let client = Client::builder(&server.url)
        .read_timeout(Duration::from_millis(150))
        .build()
        .expect("client");
    let err = client.api_version().await.unwrap_err();
    assert!(
        matches!(err, IcatError::Timeout { after, .. } if after == Duration::from_millis(150)),
        "{err:?}"
    );
}

#[tokio::test]
async fn the_operation_timeout_bounds_all_attempts_together() {
    let server = Replay::start(|_, _| gateway(503)).await;
    let client = Client::builder(&server.url)
        .retry(RetryPolicy::new(50, Duration::from_millis(100)))
        .operation_timeout(Duration::from_millis(400))
        .build()
        .expect("client");
    let err = client.api_version().await.unwrap_err();
    assert!(
        matches!(err, IcatError::Timeout { after, .. } if after == Duration::from_millis(400)),
        "{err:?}"
    );
    // Far fewer than 50 attempts were made in that time.
    assert!(server.recorded().len() < 50);
}
