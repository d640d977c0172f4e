//! End-to-end `search` of 10,000 datafiles with `INCLUDE df.dataset` against the simulator, split into
//! the part the client adds (decoding) and the rest (server, HTTP). Run:
//! `cargo bench -p icat-e2e --bench search`; results go into BENCHMARKS.md.
//!
//! * `raw_post`: the same SOAP request posted with the client's transport, answer bytes only: the
//!   baseline (server time + HTTP), with no client-side decoding;
//! * `search`: `Session::search`, i.e. encode + post + decode into typed values;
//! * `decode_only`: decoding the captured answer bytes, nothing else.
//!
//! Client-side cost = `decode_only`; its share of `search` is the figure the issue bounds (≤ 20 %).

use std::sync::OnceLock;

use divan::AllocProfiler;
use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::process::config::SimConfig;
use icat_sim::{RunningSimulator, Simulator};
use icat_soap::client::{Client, Credentials, Reply, Session};
use icat_soap::envelope::{read_response_envelope, write_request_envelope};
use icat_soap::ops::{SearchRequest, SearchResponse};

#[global_allocator]
static ALLOC: AllocProfiler = AllocProfiler::system();

const QUERY: &str = "SELECT df FROM Datafile df INCLUDE df.dataset";
const RESULTS: usize = 10_000;

struct Fixture {
    rt: tokio::runtime::Runtime,
    _sim: RunningSimulator,
    session: Session,
    envelope: Vec<u8>,
    answer: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let (sim, session, envelope, answer) = rt.block_on(async {
            let config = SimConfig {
                max_entities: 100_000,
                ..SimConfig::default()
            };
            let sim = Simulator::builder()
                .config(config)
                .synthetic(SyntheticSpec {
                    visits: 10,
                    datasets: 10,
                    files: 100,
                    size: 1,
                    ..SyntheticSpec::default()
                })
                .start()
                .await
                .expect("simulator");
            let client = Client::new(&sim.icat_url()).expect("client");
            let creds = Credentials::new()
                .with("username", "root")
                .with("password", "secret");
            let session = client.login("simple", &creds).await.expect("login");
            let envelope = write_request_envelope(&SearchRequest {
                session_id: Some(session.id()),
                query: Some(QUERY.into()),
            })
            .into_bytes();
            let answer = match client.post_envelope(envelope.clone()).await.expect("post") {
                Reply::Answer(b) => b.to_vec(),
                Reply::Fault(b) => panic!("fault: {}", String::from_utf8_lossy(&b)),
            };
            (sim, session, envelope, answer)
        });
        let decoded = read_response_envelope::<SearchResponse>(&answer).expect("decode");
        assert_eq!(decoded.return_.len(), RESULTS, "fixture size");
        Fixture {
            rt,
            _sim: sim,
            session,
            envelope,
            answer,
        }
    })
}

fn main() {
    let f = fixture();
    eprintln!(
        "answer: {} bytes for {RESULTS} datafiles ({} bytes per result)",
        f.answer.len(),
        f.answer.len() / RESULTS
    );
    divan::main();
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn raw_post(b: divan::Bencher) {
    let f = fixture();
    b.counter(divan::counter::ItemsCount::new(RESULTS))
        .bench(|| {
            f.rt.block_on(f.session.client().post_envelope(f.envelope.clone()))
                .expect("post")
        });
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn search(b: divan::Bencher) {
    let f = fixture();
    b.counter(divan::counter::ItemsCount::new(RESULTS))
        .bench(|| f.rt.block_on(f.session.search(QUERY)).expect("search"));
}

#[divan::bench(sample_count = 10, sample_size = 1)]
fn decode_only(b: divan::Bencher) {
    let f = fixture();
    b.counter(divan::counter::ItemsCount::new(RESULTS))
        .bench(|| read_response_envelope::<SearchResponse>(&f.answer).expect("decode"));
}
