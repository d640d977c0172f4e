//! A hostile ICAT that sends its SOAP answer a byte at a time (issue 14, finding 6: "the
//! whole-operation timeout must cover decoding"): each byte comes well within the read
//! timeout, so only the operation timeout can end the call, and it does, with a typed
//! `IcatError::Timeout` naming the operation timeout, not a hang; without one, the request
//! timeout ends it, named as such (`IcatError::AnswerTimeout`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use icat_soap::IcatError;
use icat_soap::client::{Client, Credentials, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Most body bytes the server trickles (at 20 ms each, over three minutes), so a client that
/// never gives up cannot keep the test running forever.
const MOST_BYTES: usize = 10_000;

/// A server that answers every request with a well-formed SOAP answer's head, then one byte
/// every 20 ms; counts the bytes sent and notes when the client hung up.
async fn trickling() -> (String, Arc<AtomicUsize>, Arc<AtomicBool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/ICATService/ICAT",
        listener.local_addr().expect("addr")
    );
    let sent = Arc::new(AtomicUsize::new(0));
    let hung_up = Arc::new(AtomicBool::new(false));
    let (s, h) = (sent.clone(), hung_up.clone());
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (s, h) = (s.clone(), h.clone());
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                // The request: enough to know it arrived (the envelope is small).
                if conn.read(&mut buf).await.unwrap_or(0) == 0 {
                    return;
                }
                let head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nConnection: close\r\n\r\n<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:loginResponse xmlns:ns2=\"http://icatproject.org\"><return>";
                if conn.write_all(head.as_bytes()).await.is_err() {
                    h.store(true, Ordering::SeqCst);
                    return;
                }
                for _ in 0..MOST_BYTES {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    if conn.write_all(b"a").await.is_err() || conn.flush().await.is_err() {
                        h.store(true, Ordering::SeqCst);
                        return;
                    }
                    s.fetch_add(1, Ordering::SeqCst);
                }
            });
        }
    });
    (url, sent, hung_up)
}

/// The answer keeps arriving, a byte every 20 ms (within the 30 s read timeout, and the 10 min
/// request timeout is far away): the 1 s operation timeout ends the call with
/// `IcatError::Timeout { after: 1 s }`, and the client hangs up on the server.
#[tokio::test]
async fn an_answer_trickling_in_is_ended_by_the_operation_timeout() {
    let (url, sent, hung_up) = trickling().await;
    let client = Client::builder(&url)
        .timeout(Duration::from_secs(600))
        .read_timeout(Duration::from_secs(30))
        .operation_timeout(Duration::from_secs(1))
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let creds = Credentials::new().with("username", "u");
    // A guard against a hang (the server would trickle for over three minutes), not a timing
    // threshold: the assertion is on the error.
    let err = tokio::time::timeout(Duration::from_secs(150), client.login("db", &creds))
        .await
        .expect("the call hung past the operation timeout")
        .unwrap_err();
    assert!(
        matches!(err, IcatError::Timeout { after, .. } if after == Duration::from_secs(1)),
        "{err:?}"
    );
    assert!(sent.load(Ordering::SeqCst) < MOST_BYTES);
    // The connection is dropped with the call: the server's next write fails.
    for _ in 0..500 {
        if hung_up.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        hung_up.load(Ordering::SeqCst),
        "the client kept the connection"
    );
}

/// Review: with only the request timeout (here 2 s; 120 s by default) and a read timeout the
/// bytes keep within (30 s), an answer trickling in ended with "no answer within 30 s ... raise
/// the read timeout": the wrong limit and the wrong knob. It is `AnswerTimeout`, naming the
/// request limit that ran out while the answer was arriving.
#[tokio::test]
async fn an_answer_outlasting_the_request_timeout_names_that_limit() {
    let (url, _sent, hung_up) = trickling().await;
    let client = Client::builder(&url)
        .timeout(Duration::from_secs(2))
        .read_timeout(Duration::from_secs(30))
        .retry(RetryPolicy::none())
        .build()
        .expect("client");
    let creds = Credentials::new().with("username", "u");
    // A guard against a hang, not a timing threshold: the assertion is on the error.
    let err = tokio::time::timeout(Duration::from_secs(150), client.login("db", &creds))
        .await
        .expect("the call hung past the request timeout")
        .unwrap_err();
    assert!(
        matches!(err, IcatError::AnswerTimeout { after, .. } if after == Duration::from_secs(2)),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("was not complete within 2s"), "{text}");
    assert!(!text.contains("no answer"), "{text}");
    for _ in 0..500 {
        if hung_up.load(Ordering::SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        hung_up.load(Ordering::SeqCst),
        "the client kept the connection"
    );
}
