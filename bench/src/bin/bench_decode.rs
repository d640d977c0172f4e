//! Decode benchmark helper for `cargo xtask bench` (scenario 1, against suds on the same bytes).
//!
//! `bench_decode generate OUT DATASETS`: writes one SOAP envelope with a `searchResponse` of
//! `DATASETS` `xsi:type="tns:dataset"` results, each with nested includes (investigation and its
//! facility, dataset type, two datafiles each with one parameter and its type): 10 entities per
//! result as ICAT's `maxEntities` counts them, so 1,000 results are a 10,000-entity answer.
//! `bench_decode decode FILE REPS`: reads FILE once, decodes it REPS times with the generated
//! decoder and prints `{"bytes":…,"results":…,"secs":[…]}` (seconds per decode) as JSON.

use std::process::ExitCode;
use std::time::Instant;

use icat_soap::envelope::read_response_envelope;
use icat_soap::ops::SearchResponse;

#[path = "../../../icat-soap/benches/fixture/mod.rs"]
mod fixture;

type Res<T> = Result<T, Box<dyn std::error::Error>>;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match (args.get(1).map(String::as_str), args.len()) {
        (Some("generate"), 4) => generate(&args[2], &args[3]),
        (Some("decode"), 4) => decode(&args[2], &args[3]),
        _ => Err("usage: bench_decode generate OUT DATASETS | decode FILE REPS".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench_decode: {e}");
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &str, count: &str) -> Res<()> {
    let n: i64 = count.parse().map_err(|_| "DATASETS must be a number")?;
    std::fs::write(out, fixture::search_response(n))?;
    Ok(())
}

fn decode(file: &str, reps: &str) -> Res<()> {
    let reps: usize = reps.parse().map_err(|_| "REPS must be a number")?;
    let bytes = std::fs::read(file)?;
    let mut secs = Vec::with_capacity(reps);
    let mut results = 0;
    for _ in 0..reps.max(1) {
        let started = Instant::now();
        let r: SearchResponse = read_response_envelope(&bytes)?;
        secs.push(started.elapsed().as_secs_f64());
        results = r.return_.len();
        drop(r);
    }
    let json = serde_json::json!({"bytes": bytes.len(), "results": results, "secs": secs});
    println!("{json}");
    Ok(())
}
