//! Search throughput: one investigation by visit id with its datasets INCLUDEd, on a synthetic
//! facility of 1000 investigations x 10 datasets x 10 datafiles. `raw_sql` is the baseline measured
//! in the same run: the same lookup as two hand-written SQLite statements, no query compilation,
//! no entity building. `icat_search` is the service call in process (parse, compile, run, build
//! entities); `soap_search` is the whole SOAP round trip over loopback HTTP with the generated
//! request and response types. Run with `cargo bench -p icat-sim --bench search`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::icat::Icat;
use icat_sim::icat::db::{Clock, Db};
use icat_sim::ids::Storage;
use icat_sim::process::config::SimConfig;

fn main() {
    divan::main();
}

struct Fixture {
    icat: Icat,
    session: String,
    _storage: tempfile::TempDir,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let storage = tempfile::tempdir().expect("temp dir");
        let mut db = Db::open(None, icat_sim::entities(), Clock::default()).expect("db");
        let spec: SyntheticSpec = "visits=1000,datasets=10,files=10,size=0"
            .parse()
            .expect("spec");
        icat_sim::data::synthetic::generate(
            &mut db,
            &spec,
            "simple/root",
            &Storage::open(storage.path()).expect("storage"),
            false,
        )
        .expect("synthetic");
        let icat = Icat::new(db, SimConfig::default());
        let creds = BTreeMap::from([
            ("username".into(), "root".into()),
            ("password".into(), "secret".into()),
        ]);
        let session = icat.login("simple", &creds).expect("login");
        Fixture {
            icat,
            session,
            _storage: storage,
        }
    })
}

fn visit(n: usize) -> String {
    format!("SIM{:06}-1", n % 1000 + 1)
}

#[divan::bench(sample_count = 200)]
fn raw_sql(bencher: divan::Bencher) {
    let f = fixture();
    let mut n = 0;
    bencher.bench_local(|| {
        n += 1;
        let db = f.icat.db();
        let id: i64 = db
            .conn()
            .prepare_cached("SELECT \"id\" FROM \"Investigation\" WHERE \"visitId\" = ?")
            .and_then(|mut s| s.query_row([visit(n)], |r| r.get(0)))
            .expect("investigation");
        let mut s = db
            .conn()
            .prepare_cached("SELECT \"id\", \"name\", \"startDate\" FROM \"Dataset\" WHERE \"investigation_id\" = ?")
            .expect("prepare");
        let rows: Vec<(i64, String, Option<i64>)> = s
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .and_then(|rows| rows.collect())
            .expect("datasets");
        assert_eq!(rows.len(), 10);
    });
}

#[divan::bench(sample_count = 200)]
fn icat_search(bencher: divan::Bencher) {
    let f = fixture();
    let mut n = 0;
    bencher.bench_local(|| {
        n += 1;
        let q = format!(
            "SELECT i FROM Investigation i WHERE i.visitId = '{}' INCLUDE i.datasets",
            visit(n)
        );
        let found = f.icat.search(&f.session, &q).expect("search");
        assert_eq!(found.len(), 1);
    });
}

struct Server {
    runtime: tokio::runtime::Runtime,
    url: String,
    session: String,
    http: reqwest::Client,
    _sim: icat_sim::RunningSimulator,
}

fn server() -> &'static Server {
    static S: OnceLock<Server> = OnceLock::new();
    S.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        let sim = runtime
            .block_on(
                icat_sim::Simulator::builder()
                    .synthetic(
                        "visits=1000,datasets=10,files=10,size=0"
                            .parse()
                            .expect("spec"),
                    )
                    .start(),
            )
            .expect("simulator");
        let creds = BTreeMap::from([
            ("username".into(), "root".into()),
            ("password".into(), "secret".into()),
        ]);
        let session = sim.icat().login("simple", &creds).expect("login");
        Server {
            url: sim.icat_url(),
            session,
            http: icat_soap::tls::http_client().unwrap(),
            runtime,
            _sim: sim,
        }
    })
}

#[divan::bench(sample_count = 200)]
fn soap_search(bencher: divan::Bencher) {
    use icat_soap::envelope::{read_response_envelope, write_request_envelope};
    let s = server();
    let mut n = 0;
    bencher.bench_local(|| {
        n += 1;
        let request = icat_soap::ops::SearchRequest {
            session_id: Some(s.session.clone()),
            query: Some(format!(
                "SELECT i FROM Investigation i WHERE i.visitId = '{}' INCLUDE i.datasets",
                visit(n)
            )),
        };
        let body = s.runtime.block_on(async {
            s.http
                .post(&s.url)
                .header("Content-Type", "text/xml; charset=utf-8")
                .body(write_request_envelope(&request))
                .send()
                .await
                .expect("post")
                .bytes()
                .await
                .expect("body")
        });
        let response: icat_soap::ops::SearchResponse =
            read_response_envelope(&body).expect("response");
        assert_eq!(response.return_.len(), 1);
    });
}
