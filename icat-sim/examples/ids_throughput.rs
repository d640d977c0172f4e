//! Measures getData throughput of the simulated IDS against `cat` on the same stored file.
//!
//! `cargo run --release -p icat-sim --example ids_throughput [SIZE_MIB]` (default 1024). It
//! writes a synthetic file, serves it with the IDS alone (the simulator's router and
//! connections), and times `cat FILE > /dev/null` and `curl -o /dev/null getData?...` in the
//! same run: five alternating rounds of cat and the raw file, then the uncompressed zip. It
//! prints the best rates, their ratio to `cat`, the ratio of each round, and the process's peak
//! resident memory.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use icat_sim::ids::{IdsServer, IdsSettings, IdsState, MemoryCatalog};

/// Best seconds of cat, raw curl and zip curl, and the cat/raw ratio of each round.
type Timings = (f64, f64, f64, Vec<f64>);

/// Rounds of `cat` then `curl` (raw file).
const ROUNDS: usize = 5;

fn time_command(program: &str, args: &[&str]) -> Result<f64, Box<dyn std::error::Error>> {
    let start = Instant::now();
    let status = Command::new(program)
        .args(args)
        .stdout(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("{program} failed: {status}").into());
    }
    Ok(start.elapsed().as_secs_f64())
}

fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn best_of(
    runs: usize,
    f: impl Fn() -> Result<f64, Box<dyn std::error::Error>>,
) -> Result<f64, Box<dyn std::error::Error>> {
    let mut best = f64::MAX;
    for _ in 0..runs {
        best = best.min(f()?);
    }
    Ok(best)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mib: u64 = std::env::args()
        .nth(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(1024);
    let size = mib << 20;
    let dir = tempfile::tempdir()?;
    let catalog = Arc::new(MemoryCatalog::new("http://localhost/ICATService/ICAT"));
    let facility = catalog.add_facility("Bench");
    let inv = catalog.add_investigation(facility, "inv", "1");
    let ds = catalog.add_dataset(inv, "ds");
    let state = IdsState::new(catalog.clone(), dir.path(), IdsSettings::default())?;
    let stored = state.storage().write_pattern("bench/big", 1, size)?;
    let df = catalog.add_datafile(
        ds,
        "big.bin",
        Some("bench/big"),
        Some(stored.size as i64),
        None,
    );
    let file = state.storage().path_of("bench/big")?;
    let file = file.to_str().ok_or("non-UTF-8 temp path")?.to_string();
    let session = catalog.login("bench");
    let server = IdsServer::start(state).await?;
    let raw_url = format!(
        "{}/getData?sessionId={session}&datafileIds={df}",
        server.url()
    );
    let zip_url = format!("{raw_url}&zip=true");
    let rss_before = peak_rss_kib();

    // cat and curl alternate, so both see the same background load; the best of each counts.
    let (cat, raw, zip, ratios) = tokio::task::spawn_blocking(move || -> Result<_, String> {
        let run = || -> Result<Timings, Box<dyn std::error::Error>> {
            time_command("cat", &[&file])?; // warm the page cache
            let (mut cat, mut raw) = (f64::MAX, f64::MAX);
            let mut ratios = Vec::new();
            for _ in 0..ROUNDS {
                let c = time_command("cat", &[&file])?;
                let r = time_command("curl", &["-sf", "-o", "/dev/null", &raw_url])?;
                ratios.push(c / r);
                cat = cat.min(c);
                raw = raw.min(r);
            }
            let zip = best_of(2, || {
                time_command("curl", &["-sf", "-o", "/dev/null", &zip_url])
            })?;
            Ok((cat, raw, zip, ratios))
        };
        run().map_err(|e| e.to_string())
    })
    .await??;

    let rate = |secs: f64| size as f64 / secs / 1e6;
    println!("file size: {mib} MiB");
    println!("cat  > /dev/null:            {:8.0} MB/s", rate(cat));
    println!(
        "curl getData raw:            {:8.0} MB/s  ratio to cat {:.2}",
        rate(raw),
        cat / raw
    );
    let shown: Vec<String> = ratios.iter().map(|r| format!("{r:.2}")).collect();
    println!("raw/cat ratio of each round:  {}", shown.join(" "));
    println!(
        "curl getData zip (level 0):  {:8.0} MB/s  ratio to cat {:.2}",
        rate(zip),
        cat / zip
    );
    if let (Some(before), Some(after)) = (rss_before, peak_rss_kib()) {
        println!(
            "peak RSS before downloads: {} MiB, after: {} MiB",
            before / 1024,
            after / 1024
        );
    }
    server.shutdown().await;
    Ok(())
}
