//! Scenario 2: the catalogue walk (the seed's `queryICAT`): every visit with its datasets and
//! datafiles. (a) icat-soap's `visits` example: one INCLUDE query, paged; (b) python-icat with the
//! same query (`searchChunked`); (c) the seed's pattern ported to python-icat, one query per
//! attribute, on a subset of the visits and extrapolated to all of them.

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::sim::Sim;
use super::{Ctx, Row, interleave, row_from_runs};

/// Investigations per page: 5 visits of 10 datasets x 100 datafiles are 5,055 entities, inside
/// the default `maxEntities` of 10,000 (the same page size as the `visits` example).
const PAGE_VISITS: &str = "5";

/// Visits, datasets and datafiles in a walk's JSON output.
fn counts(out: &[u8], who: &str) -> Result<(usize, usize, usize)> {
    let v: Value =
        serde_json::from_slice(out).with_context(|| format!("{who}: output is not JSON"))?;
    let visits = v
        .as_array()
        .with_context(|| format!("{who}: not a list of visits"))?;
    let datasets = visits
        .iter()
        .filter_map(|v| v["datasets"].as_array())
        .flatten();
    let (mut nd, mut nf) = (0, 0);
    for d in datasets {
        nd += 1;
        nf += d["files"].as_array().map_or(0, Vec::len);
    }
    Ok((visits.len(), nd, nf))
}

/// Runs the scenario against the catalogue simulator.
pub fn run(ctx: &Ctx, sim: &Sim) -> Result<Vec<Row>> {
    let seed_visits = ctx.opts.seed_visits.to_string();
    let mut ours = || {
        let mut c = std::process::Command::new(&ctx.tools.walk);
        c.args([&sim.wsdl, "simple", "root"])
            .env("ICAT_PASSWORD", "secret");
        c
    };
    let mut optimal = || ctx.pyicat(&["walk", &sim.wsdl, PAGE_VISITS]);
    let mut seed = || ctx.pyicat(&["seed", &sim.wsdl, &seed_visits]);
    let runs = interleave(
        ctx,
        Some(sim),
        &mut [
            ("walk-ours", &mut ours),
            ("walk-python-icat", &mut optimal),
            ("walk-seed", &mut seed),
        ],
        &mut || Ok(()),
    )?;
    let full = counts(&runs[0][0].0.stdout, "icat-soap walk")?;
    let py = counts(&runs[1][0].0.stdout, "python-icat walk")?;
    let part = counts(&runs[2][0].0.stdout, "seed walk")?;
    if full != py || full.2 == 0 {
        bail!(
            "the walks disagree: icat-soap saw {full:?}, python-icat {py:?} (visits, datasets, files)"
        );
    }
    if part.0 == 0 || part.0 > full.0 {
        bail!("the seed pattern walked {} visits", part.0);
    }
    let scenario = format!(
        "catalogue walk: {} visits, {} datasets, {} datafiles",
        full.0, full.1, full.2
    );
    let mut rows = vec![
        row_from_runs(
            &scenario,
            "icat-soap (one INCLUDE query, paged)",
            &runs[0],
            None,
            &format!("`visits` example: log in, {PAGE_VISITS} visits per page, JSON out"),
        )?,
        row_from_runs(
            &scenario,
            "python-icat, same query",
            &runs[1],
            None,
            &format!("searchChunked(chunksize={PAGE_VISITS}), same JSON out"),
        )?,
    ];
    let mut seed_row = row_from_runs(&scenario, "seed pattern in python-icat", &runs[2], None, "")?;
    if part.0 < full.0 {
        // Every visit has the same shape, so time and requests scale with the visits walked.
        let factor = full.0 as f64 / part.0 as f64;
        seed_row.secs.median *= factor;
        seed_row.secs.min *= factor;
        seed_row.secs.max *= factor;
        seed_row.requests = seed_row.requests.map(|r| r * factor);
        seed_row.note = format!(
            "one query per attribute; walked {} of {} visits, time and requests extrapolated x{factor:.0}",
            part.0, full.0
        );
    } else {
        seed_row.note = "one query per attribute, all visits".into();
    }
    rows.push(seed_row);
    Ok(rows)
}
