//! Scenario 1: decoding one 10,000-entity `searchResponse` (nested includes), built once and
//! written to a file, by the generated decoder (`bench_decode` of icat-bench) and by suds (python-icat's
//! SOAP layer, fed the same bytes through `__inject`).

use std::process::Command;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::sim::Sim;
use super::{Ctx, Row, Stats, interleave, peak_mib};

/// Entities per result in the generated answer (as `maxEntities` counts them).
const ENTITIES_PER_RESULT: u32 = 10;

#[derive(Deserialize)]
struct Report {
    bytes: u64,
    results: u64,
    secs: Vec<f64>,
}

/// Runs the scenario; the simulator only serves suds its WSDL.
pub fn run(ctx: &Ctx, sim: &Sim) -> Result<Vec<Row>> {
    let n = ctx.opts.decode_results;
    let file = ctx.work.join("search-response.xml");
    let status = Command::new(&ctx.tools.decode)
        .arg("generate")
        .arg(&file)
        .arg(n.to_string())
        .status()
        .context("running bench_decode generate")?;
    if !status.success() {
        bail!("bench_decode generate failed");
    }
    let entities = n * ENTITIES_PER_RESULT;
    eprintln!("bench: decode: {n} datasets, {entities} entities");
    let file_s = file.to_string_lossy().into_owned();
    // The generated decoder is fast: decode several times per process to see past timer noise.
    let inner = if ctx.opts.quick { "3" } else { "10" };
    let mut ours = || {
        let mut c = Command::new(&ctx.tools.decode);
        c.args(["decode", &file_s, inner]);
        c
    };
    let mut suds = || ctx.pyicat(&["decode", &sim.wsdl, &file_s]);
    let runs = interleave(
        ctx,
        None,
        &mut [("decode-ours", &mut ours), ("decode-suds", &mut suds)],
        &mut || Ok(()),
    )?;
    let scenario = format!("decode: searchResponse of {entities} entities");
    let mut rows = Vec::new();
    for (client, runs, note) in [
        (
            "icat-soap generated decoder",
            &runs[0],
            "whole process: reads the file, decodes",
        ),
        (
            "suds (python-icat 1.7.0)",
            &runs[1],
            "whole process: python-icat Client (WSDL), then unmarshal",
        ),
    ] {
        let mut secs = Vec::new();
        let mut bytes = 0;
        for (run, _) in runs {
            let r: Report = serde_json::from_slice(&run.stdout)
                .with_context(|| format!("{client}: unreadable report"))?;
            if r.results != u64::from(n) {
                bail!("{client} decoded {} results, expected {n}", r.results);
            }
            bytes = r.bytes;
            secs.extend(r.secs);
        }
        rows.push(Row {
            scenario: scenario.clone(),
            client: client.into(),
            secs: Stats::of(&secs).context("no decode times")?,
            peak_rss_mib: peak_mib(runs),
            requests: None,
            bytes: Some(bytes),
            note: format!("time per decode, in process; peak RSS of the {note}"),
        });
    }
    Ok(rows)
}
