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

use icat_soap::envelope::{read_response_envelope, write_response_envelope};
use icat_soap::*;

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
    let resp = SearchResponse {
        return_: (0..n)
            .map(|i| Value::Entity(Entity::Dataset(dataset(i))))
            .collect(),
    };
    std::fs::write(out, write_response_envelope(&resp))?;
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

fn dataset(i: i64) -> Dataset {
    let t = Some(DateTime::from_unix_millis(1_709_288_130_123 + i));
    let who = Some("db/root".to_owned());
    let facility = Facility {
        create_id: who.clone(),
        create_time: t,
        id: Some(1),
        name: Some("SIM".into()),
        full_name: Some("Simulated facility".into()),
        ..Default::default()
    };
    let investigation = Investigation {
        create_id: who.clone(),
        create_time: t,
        id: Some(100 + i % 50),
        name: Some(format!("SIM{:06}", i % 50)),
        visit_id: Some(format!("SIM{:06}-1", i % 50)),
        title: Some("A test & <demo> investigation".into()),
        start_date: t,
        facility: Some(Box::new(facility)),
        ..Default::default()
    };
    let param_type = ParameterType {
        id: Some(7),
        name: Some("temperature".into()),
        units: Some("K".into()),
        value_type: Some(ParameterValueType::Numeric),
        ..Default::default()
    };
    let datafiles = (0..2)
        .map(|k| Datafile {
            create_id: who.clone(),
            create_time: t,
            id: Some(i * 10 + k),
            mod_id: who.clone(),
            mod_time: t,
            name: Some(format!("run{i:06}_{k}.nxs")),
            location: Some(format!("SIM/{i}/run{i:06}_{k}.nxs")),
            file_size: Some(1_048_576 + i),
            checksum: Some("deadbeef".into()),
            parameters: vec![DatafileParameter {
                id: Some(i * 100 + k),
                numeric_value: Some(273.15 + i as f64 / 7.0),
                type_: Some(Box::new(param_type.clone())),
                ..Default::default()
            }],
            ..Default::default()
        })
        .collect();
    Dataset {
        create_id: who.clone(),
        create_time: t,
        id: Some(i),
        mod_id: who,
        mod_time: t,
        complete: i % 2 == 0,
        name: Some(format!("dataset-{i}")),
        description: Some("raw data".into()),
        start_date: t,
        investigation: Some(Box::new(investigation)),
        type_: Some(Box::new(DatasetType {
            id: Some(3),
            name: Some("raw".into()),
            ..Default::default()
        })),
        datafiles,
        ..Default::default()
    }
}
