//! A hostile IDS for tests: a raw-TCP HTTP/1.1 server on 127.0.0.1 whose answers each scenario
//! scripts (endless bodies, lying `Content-Length`, bodies cut without a length, hand-made zips).
//! Whatever it sends is capped at [`SERVER_CAP`] bytes per answer, so a client that does not
//! stop still cannot fill the disk; [`HostileIds::bytes_sent`] tells how much went out.

#![allow(dead_code)]

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Most bytes one answer body may carry, whatever the scenario says (64 MiB).
pub const SERVER_CAP: u64 = 64 << 20;

/// A request as the hostile server saw it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The IDS call (`getData`, `prepareData`, ...): the last path segment.
    pub call: String,
    /// The query string (GET) or form body (POST).
    pub params: String,
    /// The start offset of a `Range: bytes=N-` header.
    pub range_from: Option<u64>,
}

impl Request {
    /// The value of a query or form parameter.
    pub fn param(&self, name: &str) -> Option<String> {
        self.params.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == name).then(|| v.to_string())
        })
    }
}

/// How an answer body is sent.
#[derive(Debug, Clone)]
pub enum Body {
    /// These bytes with a correct `Content-Length`.
    Full(Vec<u8>),
    /// `Content-Length` as given (or none: the body ends when the connection closes), then
    /// bytes without end (until [`SERVER_CAP`] or the client hangs up).
    Endless {
        /// The declared length, if any.
        content_length: Option<u64>,
    },
    /// These bytes without a `Content-Length`, then the connection closes: a cut looks like
    /// the end of the body.
    CloseDelimited(Vec<u8>),
    /// `head` then `tail` with a correct `Content-Length`, pausing in between until the test
    /// releases the [`Gate`] (which it learns was reached with [`Gate::reached`]): orders events
    /// between the client and the test without any timing.
    Paused {
        /// Sent before the pause.
        head: Vec<u8>,
        /// Where the answer waits.
        gate: Gate,
        /// Sent after the release.
        tail: Vec<u8>,
    },
}

/// A pause inside an answer: the server signals when it got there and waits for a release.
#[derive(Clone, Default)]
pub struct Gate {
    reached: Arc<tokio::sync::Notify>,
    release: Arc<tokio::sync::Notify>,
}

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl Gate {
    /// Wait until an answer has sent its head and paused here.
    pub async fn reached(&self) {
        self.reached.notified().await
    }

    /// Let the paused answer go on.
    pub fn release(&self) {
        self.release.notify_one()
    }
}

/// An answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// The body.
    pub body: Body,
    /// Extra headers (`Content-Range`, ...).
    pub headers: Vec<(String, String)>,
}

impl Reply {
    /// 200 with these bytes.
    pub fn ok(bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status: 200,
            body: Body::Full(bytes.into()),
            headers: Vec::new(),
        }
    }

    /// 200 with this body.
    pub fn body(body: Body) -> Reply {
        Reply {
            status: 200,
            body,
            headers: Vec::new(),
        }
    }

    /// This status and bytes.
    pub fn status(status: u16, bytes: impl Into<Vec<u8>>) -> Reply {
        Reply {
            status,
            body: Body::Full(bytes.into()),
            headers: Vec::new(),
        }
    }

    /// The same answer with one more header.
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Reply {
        self.headers.push((name.to_string(), value.into()));
        self
    }

    /// 404 with an IDS error body.
    pub fn not_found() -> Reply {
        Reply {
            status: 404,
            body: Body::Full(br#"{"code":"NotFoundException","message":"no such thing"}"#.to_vec()),
            headers: Vec::new(),
        }
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

/// The running hostile server; stops when dropped.
pub struct HostileIds {
    addr: std::net::SocketAddr,
    sent: Arc<AtomicU64>,
    requests: Arc<Mutex<Vec<Request>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for HostileIds {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileIds {
    /// Serve on 127.0.0.1 (a free port) with `handler` scripting every answer.
    pub async fn start(handler: impl Fn(&Request) -> Reply + Send + Sync + 'static) -> HostileIds {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let sent = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let (s, r) = (sent.clone(), requests.clone());
        let task = tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                let (h, s, r) = (handler.clone(), s.clone(), r.clone());
                tokio::spawn(async move {
                    let _ = serve(conn, &*h, &s, &r).await;
                });
            }
        });
        HostileIds {
            addr,
            sent,
            requests,
            task,
        }
    }

    /// The IDS base URL, `http://127.0.0.1:port/ids`.
    pub fn url(&self) -> String {
        format!("http://{}/ids", self.addr)
    }

    /// Body bytes written to clients so far (all answers).
    pub fn bytes_sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

async fn serve(
    mut conn: TcpStream,
    handler: &Handler,
    sent: &AtomicU64,
    requests: &Mutex<Vec<Request>>,
) -> std::io::Result<()> {
    // One request per connection: read the head (bounded), then a form body if any.
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        if buf.len() > 64 * 1024 {
            return Ok(());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let method = first.next().unwrap_or_default().to_string();
    let target = first.next().unwrap_or_default().to_string();
    let mut content_length = 0usize;
    let mut range_from = None;
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        match k.trim().to_ascii_lowercase().as_str() {
            "content-length" => content_length = v.parse().unwrap_or(0).min(1 << 20),
            "range" => {
                range_from = v
                    .strip_prefix("bytes=")
                    .and_then(|r| r.trim_end_matches('-').parse().ok())
            }
            _ => {}
        }
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < content_length {
        let n = conn.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    let (path, query) = target.split_once('?').unwrap_or((target.as_str(), ""));
    let req = Request {
        method,
        call: path.rsplit('/').next().unwrap_or_default().to_string(),
        params: if query.is_empty() {
            String::from_utf8_lossy(&body).into_owned()
        } else {
            query.to_string()
        },
        range_from,
    };
    requests.lock().unwrap().push(req.clone());
    let reply = handler(&req);
    let reason = if reply.status < 400 { "OK" } else { "Error" };
    let mut out = format!(
        "HTTP/1.1 {} {reason}\r\nConnection: close\r\n",
        reply.status
    );
    let length = match &reply.body {
        Body::Full(b) => Some(b.len() as u64),
        Body::Endless { content_length } => *content_length,
        Body::CloseDelimited(_) => None,
        Body::Paused { head, tail, .. } => Some((head.len() + tail.len()) as u64),
    };
    if let Some(l) = length {
        out.push_str(&format!("Content-Length: {l}\r\n"));
    }
    for (k, v) in &reply.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Content-Type: application/octet-stream\r\n\r\n");
    conn.write_all(out.as_bytes()).await?;
    match reply.body {
        Body::Full(b) | Body::CloseDelimited(b) => {
            conn.write_all(&b).await?;
            sent.fetch_add(b.len() as u64, Ordering::SeqCst);
        }
        Body::Paused { head, gate, tail } => {
            conn.write_all(&head).await?;
            conn.flush().await?;
            sent.fetch_add(head.len() as u64, Ordering::SeqCst);
            gate.reached.notify_one();
            gate.release.notified().await;
            conn.write_all(&tail).await?;
            sent.fetch_add(tail.len() as u64, Ordering::SeqCst);
        }
        Body::Endless { .. } => {
            let block = vec![b'x'; 64 * 1024];
            let mut total = 0u64;
            while total < SERVER_CAP {
                conn.write_all(&block).await?;
                total += block.len() as u64;
                sent.fetch_add(block.len() as u64, Ordering::SeqCst);
            }
        }
    }
    conn.shutdown().await
}

/// A zip in memory with these (name, bytes) entries, stored or deflated.
pub fn make_zip(entries: &[(&str, &[u8])], deflate: bool) -> Vec<u8> {
    use std::io::Write;
    let mut w = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let method = if deflate {
        zip::CompressionMethod::Deflated
    } else {
        zip::CompressionMethod::Stored
    };
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(false);
    for (name, data) in entries {
        w.start_file(*name, opts).unwrap();
        w.write_all(data).unwrap();
    }
    w.finish().unwrap().into_inner()
}

/// A lower-case UUID for `prepareData` answers.
pub const PREPARED_ID: &str = "0a1b2c3d-4e5f-4061-8273-94a5b6c7d8e9";
