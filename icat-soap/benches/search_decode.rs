//! Client-side cost of a 10,000-datafile `search` with `INCLUDE df.dataset`, against a local HTTP
//! server that answers instantly with a recorded Metro-style reply (so the server's own time is ~0
//! and everything measured is transport + client). Run: `cargo bench -p icat-soap --bench search_decode`.
//!
//! * `raw_post`: post the request and read the answer bytes (transport baseline, no decoding);
//! * `search`: `Session::search` (encode, post, decode into typed values);
//! * `decode_only`: decode the recorded bytes.

use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::response::Response;
use divan::AllocProfiler;
use icat_soap::client::{Client, Credentials, Session};
use icat_soap::envelope::{read_response_envelope, write_request_envelope};
use icat_soap::ops::{SearchRequest, SearchResponse};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

const RESULTS: usize = 10_000;
const QUERY: &str = "SELECT df FROM Datafile df INCLUDE df.dataset";

/// A Metro-style answer with `n` datafiles, each with its dataset included.
fn recorded_answer(n: usize) -> String {
    let mut s = String::from(
        "<?xml version='1.0' encoding='UTF-8'?><S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:searchResponse xmlns:ns2=\"http://icatproject.org\">",
    );
    for i in 0..n {
        let ds = i / 100;
        s.push_str(&format!(
            "<return xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xsi:type=\"ns2:datafile\"><createId>simple/root</createId><createTime>2024-03-01T10:15:30.123Z</createTime><id>{}</id><modId>simple/root</modId><modTime>2024-03-01T10:15:30.123Z</modTime><checksum>{:08x}</checksum><datafileCreateTime>2024-03-01T10:15:30Z</datafileCreateTime><dataset><createId>simple/root</createId><createTime>2024-03-01T10:15:30Z</createTime><id>{ds}</id><modId>simple/root</modId><modTime>2024-03-01T10:15:30Z</modTime><complete>true</complete><fileCount>100</fileCount><fileSize>104857600</fileSize><location>inv{}/ds{ds}</location><name>dataset-{ds}</name><startDate>2024-02-01T00:00:00Z</startDate></dataset><fileSize>1048576</fileSize><location>inv{}/ds{ds}/file-{i:05}.nxs</location><name>file-{i:05}.nxs</name></return>",
            1_000_000 + i,
            i * 2_654_435_761 % 4_294_967_296,
            ds / 10,
            ds / 10,
        ));
    }
    s.push_str("</ns2:searchResponse></S:Body></S:Envelope>");
    s
}

struct Fixture {
    rt: tokio::runtime::Runtime,
    session: Session,
    envelope: Vec<u8>,
    answer: Bytes,
}

fn xml(body: impl Into<Body>) -> Response {
    Response::builder()
        .header("content-type", "text/xml; charset=utf-8")
        .body(body.into())
        .unwrap_or_default()
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let answer = Bytes::from(recorded_answer(RESULTS));
        let served = answer.clone();
        let session = rt.block_on(async move {
            let app = axum::Router::new().fallback(move |body: Bytes| {
                let served = served.clone();
                async move {
                    let text = String::from_utf8_lossy(&body);
                    let wrap = |op: &str, inner: &str| format!("<S:Envelope xmlns:S=\"http://schemas.xmlsoap.org/soap/envelope/\"><S:Body><ns2:{op}Response xmlns:ns2=\"http://icatproject.org\">{inner}</ns2:{op}Response></S:Body></S:Envelope>");
                    if text.contains(":login") {
                        xml(wrap("login", "<return>5c3d0b8e-1f2a-4c8e-9a43-0f1e2d3c4b5a</return>"))
                    } else if text.contains(":getRemainingMinutes") {
                        xml(wrap("getRemainingMinutes", "<return>120.0</return>"))
                    } else {
                        xml(served)
                    }
                }
            });
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            let addr = listener.local_addr().expect("addr");
            tokio::spawn(async move {
                let _ = axum::serve(listener, app).await;
            });
            let client = Client::new(&format!("http://{addr}")).expect("client");
            let creds = Credentials::new()
                .with("username", "root")
                .with("password", "secret");
            client.login("simple", &creds).await.expect("login")
        });
        let envelope = write_request_envelope(&SearchRequest {
            session_id: Some(session.id()),
            query: Some(QUERY.into()),
        })
        .into_bytes();
        Fixture {
            rt,
            session,
            envelope,
            answer,
        }
    })
}

fn main() {
    let f = fixture();
    eprintln!(
        "recorded answer: {} bytes for {RESULTS} datafiles ({} bytes per result)",
        f.answer.len(),
        f.answer.len() / RESULTS
    );
    divan::main();
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn raw_post(b: divan::Bencher) {
    let f = fixture();
    b.counter(divan::counter::ItemsCount::new(RESULTS))
        .bench(|| {
            f.rt.block_on(f.session.client().post_envelope(f.envelope.clone()))
                .expect("post")
        });
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn search(b: divan::Bencher) {
    let f = fixture();
    b.counter(divan::counter::ItemsCount::new(RESULTS))
        .bench(|| {
            let v = f.rt.block_on(f.session.search(QUERY)).expect("search");
            assert_eq!(v.len(), RESULTS);
            v
        });
}

#[divan::bench(sample_count = 20, sample_size = 1)]
fn decode_only(b: divan::Bencher) {
    let f = fixture();
    b.counter(divan::counter::ItemsCount::new(RESULTS))
        .bench(|| read_response_envelope::<SearchResponse>(&f.answer).expect("decode"));
}
