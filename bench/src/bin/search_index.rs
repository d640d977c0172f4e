//! Measures the simulator's free-text search at scale: start-up of a synthetic catalogue with its
//! full-text index kept by triggers, a full rebuild of the index, the latency of a fixed set of
//! `search/documents` queries (median and p95 over repetitions, root and a non-root user), and the
//! process's peak resident memory.
//!
//! `cargo run --release -p icat-bench --bin search_index [VISITS DATASETS FILES [REPS]]`
//! (default 1000 10 100 20: 1,000,000 datafiles). `... 10 5 10 3` is a quick check.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use icat_sim::Simulator;
use serde_json::{Value, json};

/// The fixed query set: (label, target, query, sort).
fn queries() -> Vec<(&'static str, Value, Option<&'static str>)> {
    vec![
        (
            "investigations: text lysozyme",
            json!({"target": "Investigation", "text": "lysozyme"}),
            None,
        ),
        (
            "datasets: text 'powder diffraction'",
            json!({"target": "Dataset", "text": "\"powder diffraction\""}),
            None,
        ),
        (
            "datafiles: text quartz (via sample)",
            json!({"target": "Datafile", "text": "quartz"}),
            None,
        ),
        (
            "datafiles: prefix df0004*",
            json!({"target": "Datafile", "text": "df0004*"}),
            None,
        ),
        (
            "datafiles: date range, newest first",
            json!({"target": "Datafile", "lower": "202001100000", "upper": "202001202359"}),
            Some(r#"{"date":"desc"}"#),
        ),
        (
            "investigations: temperature 10-20 K + facets",
            json!({"target": "Investigation",
            "parameters": [{"name": "temperature", "units": "K", "lowerNumericValue": 10, "upperNumericValue": 20}],
            "facets": [{"target": "InvestigationInstrument", "dimensions": [{"dimension": "instrument.name"}]}]}),
            None,
        ),
        (
            "datasets: samples [graphene] + type facet",
            json!({"target": "Dataset", "samples": ["graphene"],
            "facets": [{"target": "Dataset", "dimensions": [{"dimension": "type.name"}]}]}),
            None,
        ),
    ]
}

/// Peak resident memory of this process in MiB (`VmHWM`).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let (visits, datasets, files) = match args.as_slice() {
        [v, d, f, ..] => (*v, *d, *f),
        _ => (1000, 10, 100),
    };
    let reps = args.get(3).copied().unwrap_or(20) as usize;
    let spec = format!("visits={visits},datasets={datasets},files={files},size=1KiB");
    eprintln!("starting a simulator with --synthetic {spec} ...");
    let started = Instant::now();
    let sim = Simulator::builder()
        .synthetic(spec.parse()?)
        .start()
        .await?;
    let startup = started.elapsed();
    let counts: (i64, i64) = {
        let db = sim.icat().db();
        let n = |t: &str| {
            db.conn()
                .query_row(&format!("SELECT COUNT(*) FROM \"{t}\""), [], |r| r.get(0))
        };
        (n("Datafile")?, n("_search_datafile")?)
    };
    let rebuild = {
        let db = sim.icat().db();
        let t = Instant::now();
        icat_sim::icat::textsearch::index::rebuild(db.conn())?;
        t.elapsed()
    };
    println!(
        "catalogue: {} datafiles ({} indexed documents)",
        counts.0, counts.1
    );
    println!(
        "start-up (catalogue + index kept by triggers): {:.1} s",
        startup.as_secs_f64()
    );
    println!("full index rebuild: {:.1} s", rebuild.as_secs_f64());
    let http = icat_soap::tls::http_client()?;
    let creds = |u: &str| {
        BTreeMap::from([
            ("username".to_string(), u.to_string()),
            ("password".to_string(), "secret".to_string()),
        ])
    };
    let sessions = [
        ("simple/root", sim.icat().login("simple", &creds("root"))?),
        ("db/nbour", sim.icat().login("db", &creds("nbour"))?),
    ];
    let url = format!("{}/icat/search/documents", sim.base_url());
    println!("| query | user | hits (first page) | median | p95 |");
    println!("|---|---|---|---|---|");
    let mut all = Vec::new();
    for (label, query, sort) in queries() {
        for (user, session) in &sessions {
            let mut times = Vec::with_capacity(reps);
            let mut hits = 0;
            let mut failed = None;
            for _ in 0..reps {
                let mut params = vec![("sessionId", session.clone()), ("query", query.to_string())];
                if let Some(s) = sort {
                    params.push(("sort", s.to_string()));
                }
                let t = Instant::now();
                let r = http.get(&url).query(&params).send().await?;
                let status = r.status();
                let body: Value = r.json().await?;
                times.push(t.elapsed());
                if !status.is_success() {
                    // E.g. ICAT's "Search cancelled for exceeding 5 seconds": report, go on.
                    failed = Some(format!("{status} {}", body["message"]));
                    break;
                }
                hits = body["results"].as_array().map_or(0, Vec::len);
            }
            times.sort();
            if let Some(why) = failed {
                println!("| {label} | {user} | failed: {why} | | |");
                continue;
            }
            all.extend(times.iter().copied());
            println!(
                "| {label} | {user} | {hits} | {:.1} ms | {:.1} ms |",
                percentile(&times, 0.5).as_secs_f64() * 1e3,
                percentile(&times, 0.95).as_secs_f64() * 1e3
            );
        }
    }
    all.sort();
    println!(
        "all queries: median {:.1} ms, p95 {:.1} ms over {} requests",
        percentile(&all, 0.5).as_secs_f64() * 1e3,
        percentile(&all, 0.95).as_secs_f64() * 1e3,
        all.len()
    );
    if let Some(mib) = peak_rss_mib() {
        println!("peak resident memory (simulator and this driver, one process): {mib:.0} MiB");
    }
    sim.shutdown().await;
    Ok(())
}
