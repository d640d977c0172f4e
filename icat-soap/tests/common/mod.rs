//! A local HTTP server on 127.0.0.1 that replays recorded Metro-style SOAP answers and records requests.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

/// One request the server received.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub path: String,
    pub headers: HeaderMap,
    pub body: String,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The local name of the first element inside `Body` (the operation), e.g. `"search"`.
    pub fn operation(&self) -> String {
        let after = self.body.split("Body>").nth(1).unwrap_or("");
        let start = after.find('<').map(|i| i + 1).unwrap_or(0);
        let tag: String = after[start..]
            .chars()
            .take_while(|c| !c.is_whitespace() && *c != '>' && *c != '/')
            .collect();
        tag.rsplit(':').next().unwrap_or("").to_owned()
    }
}

type Handler = dyn Fn(&Recorded, usize) -> Response + Send + Sync;

/// A running replay server.
pub struct Replay {
    pub url: String,
    pub requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Replay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Replay {
    /// Starts a server whose answers come from `handler(request, index_of_request)`.
    pub async fn start(
        handler: impl Fn(&Recorded, usize) -> Response + Send + Sync + 'static,
    ) -> Replay {
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let handler: Arc<Handler> = Arc::new(handler);
        let reqs = requests.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
                let reqs = reqs.clone();
                let handler = handler.clone();
                async move {
                    let rec = Recorded {
                        path: uri.path().to_owned(),
                        headers,
                        body: String::from_utf8_lossy(&body).into_owned(),
                    };
                    let index = {
                        let mut r = reqs.lock().expect("lock");
                        r.push(rec.clone());
                        r.len() - 1
                    };
                    handler(&rec, index)
                }
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Replay {
            url: format!("http://{addr}"),
            requests,
            task,
        }
    }

    pub fn recorded(&self) -> Vec<Recorded> {
        self.requests.lock().expect("lock").clone()
    }
}

/// A `text/xml` response with the given status.
pub fn xml(status: u16, body: impl Into<String>) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header("content-type", "text/xml; charset=utf-8")
        .body(Body::from(body.into()))
        .expect("response")
}

/// A Metro-style answer envelope around `payload`.
pub fn envelope(payload: &str) -> String {
    format!(
        "<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body>{payload}</S:Body></S:Envelope>"
    )
}

/// A `…Response` wrapper answer for `op` holding `inner`.
pub fn answer(op: &str, inner: &str) -> Response {
    xml(
        200,
        envelope(&format!(
            "<ns2:{op}Response xmlns:ns2=\"http://icatproject.org\">{inner}</ns2:{op}Response>"
        )),
    )
}

/// A Metro-style HTTP 500 fault carrying an IcatException.
pub fn fault(kind: &str, message: &str, offset: i32) -> Response {
    xml(
        500,
        envelope(&format!(
            "<S:Fault xmlns:ns4=\"http://www.w3.org/2003/05/soap-envelope\"><faultcode>S:Server</faultcode><faultstring>{message}</faultstring><detail><ns2:IcatException xmlns:ns2=\"http://icatproject.org\"><message>{message}</message><offset>{offset}</offset><type>{kind}</type></ns2:IcatException></detail></S:Fault>"
        )),
    )
}

/// The session id a fake ICAT hands out first.
pub const SESSION_A: &str = "5c3d0b8e-1f2a-4c8e-9a43-0f1e2d3c4b5a";
/// The session id a fake ICAT hands out second (and after that).
pub const SESSION_B: &str = "9f8e7d6c-5b4a-4321-8fed-cba987654321";

/// The text of the first `<name>…</name>` child in a request body.
pub fn element(body: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{name}>"))? + start;
    Some(body[start..end].to_owned())
}

/// The sessions of a fake ICAT: `login` hands out [`SESSION_A`], then [`SESSION_B`]; the ids
/// handed out are valid until [`FakeSessions::forget_all`].
pub struct FakeSessions {
    valid: Mutex<Vec<String>>,
    next_id: Mutex<Vec<&'static str>>,
}

impl Default for FakeSessions {
    fn default() -> Self {
        FakeSessions {
            valid: Mutex::new(Vec::new()),
            next_id: Mutex::new(vec![SESSION_B, SESSION_A]),
        }
    }
}

impl FakeSessions {
    /// A login: the next session id, now valid.
    pub fn login(&self) -> &'static str {
        let id = self
            .next_id
            .lock()
            .expect("lock")
            .pop()
            .unwrap_or(SESSION_B);
        self.accept(id);
        id
    }

    /// Makes `session` valid (a session the server knows from before the test).
    pub fn accept(&self, session: &str) {
        self.valid.lock().expect("lock").push(session.to_owned());
    }

    /// Whether `session` is a valid session id.
    pub fn is_valid(&self, session: &str) -> bool {
        self.valid
            .lock()
            .expect("lock")
            .iter()
            .any(|s| s == session)
    }

    /// Ends every session (e.g. the server restarted).
    pub fn forget_all(&self) {
        self.valid.lock().expect("lock").clear();
    }
}
