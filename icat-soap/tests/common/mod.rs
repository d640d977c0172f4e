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
