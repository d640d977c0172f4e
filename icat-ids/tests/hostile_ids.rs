//! A hostile IDS (issue 14, findings 4 and 7c), one small raw-TCP server per scenario on
//! 127.0.0.1: answers to small calls that never end (or claim 50 GB) are refused at
//! `MAX_SMALL_ANSWER`, and redirects to another origin are reported, never followed (so no
//! Referer or session id reaches it), while same-origin redirects still work.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use icat_ids::{
    DataSelection, IdsClient, IdsError, MAX_SMALL_ANSWER, Packing, PreparedId, PutRequest,
    SessionId, TransportOptions,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const SESSION: &str = "5c3d0b8e-1f2a-4c8e-9a43-0f1e2d3c4b5a";

/// Reads one request (head, and a body by Content-Length or chunked), returning the head.
async fn read_request(conn: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 || buf.len() > 1 << 20 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok());
    let chunked = head.contains("transfer-encoding: chunked");
    loop {
        let body = &buf[head_end..];
        let done = match length {
            Some(n) => body.len() >= n,
            None if chunked => body.ends_with(b"0\r\n\r\n"),
            None => true,
        };
        if done || buf.len() > 8 << 20 {
            break;
        }
        let n = conn.read(&mut chunk).await.ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Some(String::from_utf8_lossy(&buf[..head_end]).into_owned())
}

/// A server answering every request with `head` and then `body_chunk` again and again until
/// the client goes away; counts the bytes of body it managed to write.
async fn endless(head: &'static str, body_chunk: &'static [u8]) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}/ids", listener.local_addr().expect("addr"));
    let written = Arc::new(AtomicU64::new(0));
    let w = written.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let w = w.clone();
            tokio::spawn(async move {
                if read_request(&mut conn).await.is_none() {
                    return;
                }
                if conn.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                // Chunked framing around each chunk; a bound keeps a broken client from
                // making the test itself endless.
                let framed = [
                    format!("{:x}\r\n", body_chunk.len()).into_bytes(),
                    body_chunk.to_vec(),
                    b"\r\n".to_vec(),
                ]
                .concat();
                let chunked = head.contains("chunked");
                for _ in 0..(1u64 << 30) / body_chunk.len() as u64 {
                    let data = if chunked { &framed[..] } else { body_chunk };
                    if conn.write_all(data).await.is_err() {
                        return;
                    }
                    w.fetch_add(body_chunk.len() as u64, Ordering::SeqCst);
                }
            });
        }
    });
    (url, written)
}

fn client(url: &str) -> IdsClient {
    IdsClient::new(url, TransportOptions::default())
        .expect("client")
        .with_retry(icat_ids::RetryPolicy::none())
        .with_session(SessionId::new(SESSION))
}

const CHUNKED: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
const LYING: &str =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 50000000000\r\n\r\n";

fn too_large(e: &IdsError) -> bool {
    matches!(e, IdsError::AnswerTooLarge { limit, .. } if *limit == MAX_SMALL_ANSWER)
}

/// Finding 4: endless answers to prepareData, isPrepared, getStatus, getSize,
/// getDatafileIds and put (before: the client read them whole, 3.3 GB in 10 s).
#[tokio::test]
async fn endless_small_answers_are_refused_at_the_bound() {
    static DIGITS: [u8; 64 * 1024] = [b'7'; 64 * 1024];
    let (url, written) = endless(CHUNKED, &DIGITS).await;
    let c = client(&url);
    let sel = DataSelection::datafiles([1, 2]);
    let source = tempfile::NamedTempFile::new().expect("temp");
    std::fs::write(source.path(), b"data").expect("write");
    let results = [
        c.prepare_data(&sel, Packing::default()).await.map(drop),
        c.is_prepared(&PreparedId::parse("0d9a3706-80d4-4d29-9ff3-4d65d4308a24").expect("id"))
            .await
            .map(drop),
        c.get_status(&sel).await.map(drop),
        c.get_size(&sel).await.map(drop),
        c.get_datafile_ids(&sel).await.map(drop),
        c.put(source.path(), &PutRequest::new("f", 1, 1), None)
            .await
            .map(drop),
    ];
    for (i, r) in results.iter().enumerate() {
        let e = r.as_ref().expect_err("an endless answer cannot succeed");
        assert!(too_large(e), "call {i}: {e:?}");
    }
    // Six calls, each stopped after the bound (plus what sat in socket buffers).
    let sent = written.load(Ordering::SeqCst);
    assert!(
        sent < 6 * (MAX_SMALL_ANSWER + (32 << 20)),
        "{sent} bytes sent"
    );
}

/// A 50 GB Content-Length is refused before the body is read.
#[tokio::test]
async fn a_lying_content_length_is_refused_at_once() {
    static DIGITS: [u8; 64 * 1024] = [b'7'; 64 * 1024];
    let (url, _) = endless(LYING, &DIGITS).await;
    let e = client(&url)
        .get_size(&DataSelection::datafiles([1]))
        .await
        .unwrap_err();
    assert!(too_large(&e), "{e:?}");
}

/// A server that redirects `getData`/`getSize` to `to(port_of_this_server)` and answers
/// `/ids/getSize2` with 42 itself; records every request head.
async fn redirecting(
    to: impl Fn(u16) -> String + Send + Sync + 'static,
) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let heads = Arc::new(std::sync::Mutex::new(Vec::new()));
    let h = heads.clone();
    let to = Arc::new(to);
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let (h, to) = (h.clone(), to.clone());
            tokio::spawn(async move {
                while let Some(head) = read_request(&mut conn).await {
                    h.lock().expect("lock").push(head.clone());
                    let answer = if head.starts_with("GET /ids/getSize2") {
                        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n42".to_owned()
                    } else {
                        format!(
                            "HTTP/1.1 302 Found\r\nLocation: {}\r\nContent-Length: 0\r\n\r\n",
                            to(port)
                        )
                    };
                    if conn.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("http://127.0.0.1:{port}/ids"), heads)
}

/// A listener on another port (another origin) that counts connections and keeps what it got.
async fn other_origin() -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    tokio::spawn(async move {
        while let Ok((_conn, _)) = listener.accept().await {
            h.fetch_add(1, Ordering::SeqCst);
        }
    });
    (port, hits)
}

/// Finding 7c: `getData` answered 302 to another origin. Before, the client followed it and
/// the other origin received `Referer: .../getData?sessionId=<full id>`. Now the redirect is
/// an error naming the target, and the other origin receives nothing.
#[tokio::test]
async fn a_redirect_to_another_origin_is_reported_and_not_followed() {
    let (evil, hits) = other_origin().await;
    let (url, heads) = redirecting(move |_| format!("http://127.0.0.1:{evil}/steal?x=1")).await;
    let c = client(&url);
    let e = c
        .get_data(&DataSelection::datafiles([1]), Packing::default(), 0)
        .await
        .err()
        .expect("a redirect elsewhere cannot succeed");
    let IdsError::Redirected {
        status, location, ..
    } = &e
    else {
        panic!("{e:?}");
    };
    assert_eq!(*status, 302);
    assert!(
        location.contains(&format!("127.0.0.1:{evil}/steal")),
        "{location}"
    );
    assert!(!e.to_string().contains(SESSION), "{e}");
    let e = c
        .get_size(&DataSelection::datafiles([1]))
        .await
        .unwrap_err();
    assert!(matches!(e, IdsError::Redirected { .. }), "{e:?}");
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the other origin was contacted"
    );
    assert_eq!(heads.lock().expect("lock").len(), 2);
}

/// Review: an IDS redirecting to the very URL asked (a loop within the IDS). The client follows
/// same-origin redirects, gives up after five, and used to report the target as "another
/// address, ... if that address is the right IDS, use it as the IDS URL": it is the IDS URL.
/// Now the error says the redirects go round in a loop.
#[tokio::test]
async fn a_redirect_loop_within_the_ids_is_called_a_loop() {
    let (url, heads) = redirecting(|port| format!("http://127.0.0.1:{port}/ids/getSize")).await;
    let e = client(&url)
        .get_size(&DataSelection::datafiles([1]))
        .await
        .unwrap_err();
    assert!(
        matches!(&e, IdsError::RedirectLoop { status: 302, followed: 5, location, .. } if location.ends_with("/ids/getSize")),
        "{e:?}"
    );
    let text = e.to_string();
    assert!(text.contains("loop"), "{text}");
    assert!(!text.contains("another address"), "{text}");
    assert!(!text.contains("use it as the IDS URL"), "{text}");
    assert!(!text.contains(SESSION), "{text}");
    // The first request and the five redirects followed.
    assert_eq!(heads.lock().expect("lock").len(), 6);
}

/// Same-origin redirects are still followed, without a Referer.
#[tokio::test]
async fn a_same_origin_redirect_is_followed_without_a_referer() {
    let (url, heads) = redirecting(|port| format!("http://127.0.0.1:{port}/ids/getSize2")).await;
    let size = client(&url)
        .get_size(&DataSelection::datafiles([1]))
        .await
        .expect("followed");
    assert_eq!(size, 42);
    let heads = heads.lock().expect("lock").clone();
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(
        !heads[1].to_ascii_lowercase().contains("referer"),
        "{}",
        heads[1]
    );
}
