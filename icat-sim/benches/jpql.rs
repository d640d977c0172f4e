//! Cost of the query compiler against running its output: `parse_and_compile_*` turn ICAT queries
//! into SQL; `run_compiled_sql` (the baseline, measured in the same run) executes the compiled SQL
//! of the search benchmark query on a synthetic facility of 1000 investigations x 10 datasets x 10
//! datafiles. Run with `cargo bench -p icat-sim --bench jpql`.

use std::sync::{Mutex, OnceLock};

use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::icat::db::{Clock, Db};
use icat_sim::ids::Storage;
use icat_sim::jpql;

fn main() {
    divan::main();
}

/// The query of the search benchmark: one investigation by visit id with its datasets.
const BY_VISIT: &str =
    "SELECT i FROM Investigation i WHERE i.visitId = 'SIM000500-1' INCLUDE i.datasets";

/// A rule-style query from python-icat's example data: six joins and a user condition.
const RULE_STYLE: &str = "SELECT o FROM Datafile o JOIN o.dataset AS ds JOIN ds.investigation AS i \
    JOIN i.investigationGroups AS s1 JOIN s1.grouping AS s2 JOIN s2.userGroups AS s3 \
    JOIN s3.user AS s4 WHERE ds.complete = False AND s4.name = :user AND s1.role = 'writer'";

struct Fixture {
    db: Mutex<Db>,
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
        Fixture {
            db: Mutex::new(db),
            _storage: storage,
        }
    })
}

fn compile(query: &str) -> jpql::CompiledQuery {
    let parsed = jpql::parse(query).expect("parse");
    jpql::compile(&parsed, "db/jdoe", icat_sim::entities()).expect("compile")
}

#[divan::bench(sample_count = 200)]
fn run_compiled_sql(bencher: divan::Bencher) {
    let f = fixture();
    let compiled = compile(BY_VISIT);
    let db = f.db.lock().expect("db lock");
    bencher.bench_local(|| {
        let mut stmt = db.conn().prepare_cached(&compiled.sql).expect("prepare");
        let ids: Vec<i64> = stmt
            .query_map(rusqlite::params_from_iter(compiled.params.iter()), |r| {
                r.get(0)
            })
            .and_then(|rows| rows.collect())
            .expect("rows");
        assert_eq!(ids.len(), 1);
    });
}

#[divan::bench(sample_count = 200)]
fn parse_and_compile_by_visit() -> jpql::CompiledQuery {
    compile(divan::black_box(BY_VISIT))
}

#[divan::bench(sample_count = 200)]
fn parse_and_compile_rule_style() -> jpql::CompiledQuery {
    compile(divan::black_box(RULE_STYLE))
}

#[divan::bench(sample_count = 200)]
fn parse_only_by_visit() -> jpql::Query {
    jpql::parse(divan::black_box(BY_VISIT)).expect("parse")
}

#[divan::bench(sample_count = 200)]
fn compile_only_by_visit(bencher: divan::Bencher) {
    let parsed = jpql::parse(BY_VISIT).expect("parse");
    bencher.bench_local(|| {
        jpql::compile(divan::black_box(&parsed), "db/jdoe", icat_sim::entities()).expect("compile")
    });
}
