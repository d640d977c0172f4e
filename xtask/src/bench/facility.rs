//! The facility section of `cargo xtask bench`: every client against one `icat-sim --network wan`
//! per workload (the facility profile: latency, per-connection and link rates, IDS session
//! overhead, Range prefix reads, per-user download cap, tape drives), in one run. Workloads: (a) a
//! visit of many small files and a few large ones, (b) one very large file, (c) the visit of (a)
//! with most datasets on tape. Wall time, peak memory and the first complete file are measured
//! here; requests and server reads are the simulator's own counts (`GET /sim/network`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use super::Ctx;
use super::measure;
use super::sim::Sim;
use super::startup::{icat_login, prepare};

/// The preset every workload of a full run runs under.
pub const PRESET: &str = "wan";
/// The preset workload (b) is also run under in a full run (`bt`): 233 Mbit/s per connection on
/// the same 1 Gbit/s link, where 3x a single stream is physically possible (ceiling 4.29x).
pub const FAR_PRESET: &str = "transatlantic";
/// The `transatlantic` preset's per-connection rate (`connectionRate = 233Mbit/s`), bytes per
/// second.
pub const FAR_STREAM_BYTES_PER_SEC: f64 = 29.125e6;
/// The preset of `--quick` (a harness check: no WAN latency, so that CI stays quick).
pub const QUICK_PRESET: &str = "lan";
/// The link capacity of both presets (`linkRate = 1Gbit/s`), bytes per second.
pub const LINK_BYTES_PER_SEC: f64 = 125e6;
/// The `wan` preset's per-connection rate (`connectionRate = 350Mbit/s`), bytes per second.
pub const STREAM_BYTES_PER_SEC: f64 = 43.75e6;
/// Streams needed to fill the link at that rate (1000 / 350 Mbit/s, rounded up).
pub const STREAMS_TO_FILL: u64 = 3;
/// How often the simulator's counters are sampled during an `icat download` run.
const SAMPLE_EVERY: Duration = Duration::from_millis(200);

/// Sizes of the three workloads.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Sizes {
    /// Datasets of the visit.
    pub datasets: u32,
    /// Small files per dataset.
    pub files: u32,
    /// Bytes per small file.
    pub small: u64,
    /// Large files of the visit (spread over its datasets).
    pub large: u32,
    /// Bytes per large file.
    pub large_size: u64,
    /// Bytes of workload (b)'s single file.
    pub single: u64,
    /// Fraction of datasets on tape in (c).
    pub archived: f64,
    /// Restore time per dataset (middle of the distribution), jitter and tape drives in (c).
    pub restore: String,
    /// Plus or minus this.
    pub jitter: String,
    /// Restores at once.
    pub drives: u32,
}

impl Sizes {
    /// The workloads, or tiny ones for `--quick`.
    pub fn new(quick: bool) -> Sizes {
        if quick {
            Sizes {
                datasets: 2,
                files: 4,
                small: 4 << 10,
                large: 2,
                large_size: 256 << 10,
                single: 1 << 20,
                archived: 0.6,
                restore: "300ms".into(),
                jitter: "100ms".into(),
                drives: 1,
            }
        } else {
            Sizes {
                datasets: 20,
                files: 100,
                small: 64 << 10,
                large: 16,
                large_size: 64 << 20,
                single: 1 << 30,
                archived: 0.6,
                restore: "8s".into(),
                jitter: "4s".into(),
                drives: 2,
            }
        }
    }

    fn visit_spec(&self, tape: bool) -> String {
        format!(
            "visits=1,datasets={},files={},size={},large={}x{}{}",
            self.datasets,
            self.files,
            self.small,
            self.large,
            self.large_size,
            if tape {
                format!(",archived={}", self.archived)
            } else {
                String::new()
            }
        )
    }
}

/// One client's run of one workload.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FacilityRow {
    /// `a`, `b` or `c`.
    pub workload: String,
    /// The workload in words.
    pub title: String,
    /// Who ran.
    pub client: String,
    /// How it downloads.
    pub note: String,
    /// Wall time of the process, seconds.
    pub wall_s: f64,
    /// Bytes the run delivered (the payload it was asked for).
    pub payload: u64,
    /// Share of the workload's files the run covered (below 1 for a sampled run).
    pub sample: f64,
    /// ICAT and IDS requests the simulator answered.
    pub requests: u64,
    /// Bytes the server read for getData (sent plus skipped prefixes).
    pub server_read: u64,
    /// getData answers refused by the per-user cap (503).
    pub refused: u64,
    /// Seconds to the first complete file at its final path.
    pub first_file_s: Option<f64>,
    /// Whether that file was verified by the client before it appeared.
    pub verified: bool,
    /// Peak resident memory, MiB.
    pub peak_rss_mib: f64,
    /// (c): the first restore plus its dataset's transfer at link rate, scheduled from the
    /// restore times the simulator recorded in this run, all requested at the start.
    pub ideal_first_s: Option<f64>,
    /// (c): the last restore plus the last dataset's transfer, scheduled likewise.
    pub ideal_total_s: Option<f64>,
    /// Where the time went (`icat download` only), from the simulator's counters sampled
    /// every 200 ms.
    #[serde(default)]
    pub breakdown: Option<Breakdown>,
}

/// Where a run's time went, from the simulator's counters sampled during it (resolution 0.2 s).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Breakdown {
    /// Seconds from the start to the first getData byte (log-in, catalogue queries, plan,
    /// preparing, first requests).
    pub to_first_byte_s: f64,
    /// Seconds from the first to the last getData byte.
    pub data_s: f64,
    /// getData bytes per second over that span, as a share of the link.
    pub data_link_share: f64,
    /// Mean getData answers open over that span.
    pub mean_open: f64,
    /// Seconds of that span with at least [`STREAMS_TO_FILL`] answers open.
    pub full_s: f64,
    /// Seconds from the last getData byte to the end of the process (last files' checks,
    /// extraction, fsync, rename, exit).
    pub after_last_byte_s: f64,
    /// (c): seconds from the start until the last restore of the run was online.
    pub last_restore_s: Option<f64>,
}

/// One sample of the counters: seconds since the start, getData bytes, getData answers open.
#[derive(Debug, Clone, Copy)]
struct Sample {
    t: f64,
    bytes: u64,
    open: u64,
}

/// Samples `/sim/network` every [`SAMPLE_EVERY`] until stopped.
fn sample(ctx: &Ctx, sim: &Sim) -> (Arc<AtomicBool>, std::thread::JoinHandle<Vec<Sample>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let curl = ctx.tools.curl.clone();
    let url = format!("{}/sim/network", base(sim));
    let started = Instant::now();
    let handle = std::thread::spawn(move || {
        let mut out = Vec::new();
        while !flag.load(Ordering::Relaxed) {
            let t = started.elapsed().as_secs_f64();
            let got = Command::new(&curl).args(["-s", "-f", &url]).output();
            if let Ok(o) = got
                && let Ok(v) = serde_json::from_slice::<serde_json::Value>(&o.stdout)
            {
                out.push(Sample {
                    t,
                    bytes: counter(&v, "getDataBytes"),
                    open: counter(&v, "getDataOpen"),
                });
            }
            std::thread::sleep(SAMPLE_EVERY);
        }
        out
    });
    (stop, handle)
}

/// The breakdown of a run of `wall` seconds from its samples; `last_restore_s` from the
/// simulator's restore records.
fn breakdown(samples: &[Sample], wall: f64, last_restore_s: Option<f64>) -> Option<Breakdown> {
    let b0 = samples.first()?.bytes;
    let end = samples.last()?.bytes;
    let first = samples.iter().find(|s| s.bytes > b0)?;
    let last = samples.iter().find(|s| s.bytes == end)?;
    let span: Vec<&Sample> = samples
        .iter()
        .filter(|s| s.t >= first.t && s.t <= last.t)
        .collect();
    let data_s = (last.t - first.t).max(SAMPLE_EVERY.as_secs_f64());
    let moved = end - first.bytes.min(end);
    let n = span.len().max(1) as f64;
    Some(Breakdown {
        to_first_byte_s: first.t,
        data_s,
        data_link_share: moved as f64 / data_s / LINK_BYTES_PER_SEC,
        mean_open: span.iter().map(|s| s.open as f64).sum::<f64>() / n,
        full_s: span.iter().filter(|s| s.open >= STREAMS_TO_FILL).count() as f64
            * SAMPLE_EVERY.as_secs_f64(),
        after_last_byte_s: (wall - last.t).max(0.0),
        last_restore_s,
    })
}

/// Seconds from `since_ms` (simulator clock) until the last restore queued after it was online.
fn last_restore_after(v: &serde_json::Value, since_ms: u64) -> Option<f64> {
    v["restores"]
        .as_array()?
        .iter()
        .filter(|r| r["queuedMs"].as_u64().is_some_and(|q| q >= since_ms))
        .filter_map(|r| r["doneMs"].as_u64())
        .max()
        .map(|d| d.saturating_sub(since_ms) as f64 / 1000.0)
}

impl FacilityRow {
    /// Goodput as a share of the link capacity.
    pub fn link_share(&self) -> f64 {
        self.payload as f64 / self.wall_s / LINK_BYTES_PER_SEC
    }

    /// Server bytes read per byte delivered.
    pub fn read_ratio(&self) -> f64 {
        self.server_read as f64 / self.payload.max(1) as f64
    }
}

/// What `pyicat.py visitinfo` prints.
#[derive(Debug, Deserialize)]
struct VisitInfo {
    investigation: i64,
    visit: String,
    datasets: Vec<DatasetInfo>,
}

#[derive(Debug, Deserialize)]
struct DatasetInfo {
    id: i64,
    files: u64,
    bytes: u64,
}

/// Where a client writes: a directory of files, or one file (a zip or the single file).
enum Output {
    Dir,
    File { verified: bool },
}

struct Client<'a> {
    name: &'static str,
    note: String,
    output: Output,
    /// Share of the workload the run covers.
    sample: f64,
    payload: u64,
    make: Box<dyn FnMut(&Path) -> Command + 'a>,
}

/// Runs the three workloads.
pub fn run(ctx: &Ctx) -> Result<Vec<FacilityRow>> {
    let sizes = Sizes::new(ctx.opts.quick);
    let mut rows = visit(ctx, &sizes, false).context("workload (a)")?;
    rows.extend(single(ctx, &sizes, false).context("workload (b)")?);
    rows.extend(single(ctx, &sizes, true).context("workload (b) on transatlantic")?);
    rows.extend(visit(ctx, &sizes, true).context("workload (c)")?);
    Ok(rows)
}

/// The per-connection rate of workload `workload`'s preset in a full run, bytes per second.
pub fn stream_rate(workload: &str) -> f64 {
    if workload == "bt" {
        FAR_STREAM_BYTES_PER_SEC
    } else {
        STREAM_BYTES_PER_SEC
    }
}

fn mib(bytes: u64) -> String {
    if bytes >= 1 << 30 {
        format!("{} GiB", bytes >> 30)
    } else if bytes >= 1 << 20 {
        format!("{} MiB", bytes >> 20)
    } else {
        format!("{} KiB", bytes >> 10)
    }
}

/// The preset of this run.
pub fn preset(quick: bool) -> &'static str {
    if quick { QUICK_PRESET } else { PRESET }
}

fn start(ctx: &Ctx, name: &str, spec: &str, extra: &[&str]) -> Result<Sim> {
    start_on(ctx, preset(ctx.opts.quick), name, spec, extra)
}

fn start_on(ctx: &Ctx, preset: &str, name: &str, spec: &str, extra: &[&str]) -> Result<Sim> {
    let mut args = vec!["--network", preset];
    args.extend_from_slice(extra);
    eprintln!(
        "bench: starting icat-sim --synthetic {spec} {}",
        args.join(" ")
    );
    let sim = Sim::start_with(
        &ctx.tools.sim,
        spec,
        &args,
        &ctx.work.join(name),
        Duration::from_secs(900),
    )?;
    eprintln!("bench: simulator ready in {:.1?}", sim.startup);
    Ok(sim)
}

fn base(sim: &Sim) -> String {
    sim.ids
        .trim_end_matches('/')
        .trim_end_matches("/ids")
        .to_string()
}

/// The simulator's counters.
fn stats(ctx: &Ctx, sim: &Sim) -> Result<serde_json::Value> {
    let out = Command::new(&ctx.tools.curl)
        .args(["-s", "-f", &format!("{}/sim/network", base(sim))])
        .output()
        .context("curl of /sim/network")?;
    if !out.status.success() {
        bail!("GET /sim/network failed");
    }
    serde_json::from_slice(&out.stdout).context("/sim/network is not JSON")
}

fn counter(v: &serde_json::Value, key: &str) -> u64 {
    v[key].as_u64().unwrap_or(0)
}

/// An IDS call with curl (not measured): `GET` when `form` is false, else a `POST` form.
fn ids_call(ctx: &Ctx, sim: &Sim, call: &str, query: &str, post: bool) -> Result<String> {
    let url = format!("{}/{call}", sim.ids.trim_end_matches('/'));
    let mut c = Command::new(&ctx.tools.curl);
    c.args(["-s", "-f"]);
    if post {
        c.args(["-d", query, &url]);
    } else {
        c.arg(format!("{url}?{query}"));
    }
    let out = c.output().with_context(|| format!("curl {call}"))?;
    if !out.status.success() {
        bail!("IDS {call} failed");
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn visit_info(ctx: &Ctx, sim: &Sim, session: &str) -> Result<VisitInfo> {
    let out = ctx
        .pyicat(&["visitinfo", &sim.wsdl, session])
        .output()
        .context("pyicat.py visitinfo")?;
    if !out.status.success() {
        bail!(
            "pyicat.py visitinfo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("pyicat.py visitinfo printed no JSON")
}

fn clear(path: &Path) -> Result<()> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir_all(path)?,
        Ok(_) => std::fs::remove_file(path)?,
        Err(_) => {}
    }
    Ok(())
}

/// Whether a visible, complete file (a size in `sizes`) is somewhere under `dir`; hidden
/// entries (the clients' work folders) and `.part` files do not count.
fn complete_file_under(dir: &Path, sizes: &[u64]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    entries.flatten().any(|e| {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') || name.ends_with(".part") {
            return false;
        }
        match e.metadata() {
            Ok(m) if m.is_dir() => complete_file_under(&e.path(), sizes),
            Ok(m) => sizes.contains(&m.len()),
            Err(_) => false,
        }
    })
}

/// Watches `dir` every 20 ms from now until stopped, and once more when stopped (a file renamed
/// into place in the process's last 20 ms, as `icat download --datafile`'s one file, was missed
/// before); returns when a complete file appeared.
fn watch(dir: PathBuf, sizes: Vec<u64>) -> (Arc<AtomicBool>, std::thread::JoinHandle<Option<f64>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let started = Instant::now();
    let handle = std::thread::spawn(move || {
        loop {
            let stopping = flag.load(Ordering::Relaxed);
            if complete_file_under(&dir, &sizes) {
                return Some(started.elapsed().as_secs_f64());
            }
            if stopping {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    (stop, handle)
}

/// The ideal schedule of (c): every archived dataset requested at the start, restored on the
/// drives in id order with the durations the simulator recorded in this run; returns the first
/// and the last restore each plus its dataset's transfer at the link rate.
fn ideal(
    restores: &[(i64, u64)],
    drives: u32,
    bytes_of: impl Fn(i64) -> u64,
) -> Option<(f64, f64)> {
    if restores.is_empty() {
        return None;
    }
    let mut sorted = restores.to_vec();
    sorted.sort_unstable();
    let mut free = vec![0u64; drives.max(1) as usize];
    let mut done = Vec::new();
    for (id, dur) in sorted {
        let (slot, at) = free.iter().enumerate().min_by_key(|(_, t)| **t)?;
        let (slot, at) = (slot, *at);
        free[slot] = at + dur;
        done.push((at + dur, id));
    }
    let transfer = |id: i64| bytes_of(id) as f64 / LINK_BYTES_PER_SEC;
    let first = done.iter().min()?;
    let last = done.iter().max()?;
    Some((
        first.0 as f64 / 1000.0 + transfer(first.1),
        last.0 as f64 / 1000.0 + transfer(last.1),
    ))
}

/// The restores queued at or after `since_ms`: (dataset, duration on the drive in ms).
fn restores_since(v: &serde_json::Value, since_ms: u64) -> Vec<(i64, u64)> {
    v["restores"]
        .as_array()
        .map(|list| {
            list.iter()
                .filter(|r| r["queuedMs"].as_u64().is_some_and(|q| q >= since_ms))
                .filter_map(|r| {
                    Some((
                        r["dataset"].as_i64()?,
                        r["doneMs"].as_u64()? - r["startedMs"].as_u64()?,
                    ))
                })
                .collect()
        })
        .unwrap_or_default()
}

#[allow(clippy::too_many_arguments)]
fn measure_clients(
    ctx: &Ctx,
    sim: &Sim,
    workload: &str,
    title: &str,
    sizes: &[u64],
    clients: &mut [Client<'_>],
    before: &mut dyn FnMut() -> Result<()>,
    tape: Option<(u32, &dyn Fn(i64) -> u64)>,
) -> Result<Vec<FacilityRow>> {
    let mut rows = Vec::new();
    for c in clients.iter_mut() {
        let out = ctx.work.join(format!("facility-{workload}-{}", c.name));
        clear(&out)?;
        before()?;
        let s0 = stats(ctx, sim)?;
        let watcher = match c.output {
            Output::Dir => Some(watch(out.clone(), sizes.to_vec())),
            Output::File { .. } => None,
        };
        let sampler = c.name.starts_with("icat").then(|| sample(ctx, sim));
        let mut cmd = (c.make)(&out);
        let run = measure::run(
            &mut cmd,
            &ctx.out_file(&format!("facility-{workload}-{}", c.name)),
        )
        .with_context(|| format!("{} on workload ({workload})", c.name));
        let first = match watcher {
            Some((stop, handle)) => {
                stop.store(true, Ordering::Relaxed);
                handle.join().ok().flatten()
            }
            None => None,
        };
        let samples = match sampler {
            Some((stop, handle)) => {
                stop.store(true, Ordering::Relaxed);
                handle.join().ok()
            }
            None => None,
        };
        let run = run?;
        let s1 = stats(ctx, sim)?;
        let wall = run.wall.as_secs_f64();
        let breakdown = samples.and_then(|s| {
            let since = counter(&s0, "uptimeMs");
            let restore = tape.and_then(|_| last_restore_after(&s1, since));
            breakdown(&s, wall, restore)
        });
        let (first_file_s, verified) = match c.output {
            Output::Dir => (first, c.name.starts_with("icat")),
            Output::File { verified } => (Some(wall), verified),
        };
        let (ideal_first_s, ideal_total_s) = match tape {
            Some((drives, bytes_of)) => {
                match ideal(
                    &restores_since(&s1, counter(&s0, "uptimeMs")),
                    drives,
                    bytes_of,
                ) {
                    Some((f, t)) => (Some(f), Some(t)),
                    None => (None, None),
                }
            }
            None => (None, None),
        };
        let row = FacilityRow {
            workload: workload.into(),
            title: title.into(),
            client: c.name.into(),
            note: c.note.clone(),
            wall_s: wall,
            payload: c.payload,
            sample: c.sample,
            requests: counter(&s1, "requests") - counter(&s0, "requests"),
            server_read: counter(&s1, "serverBytesRead") - counter(&s0, "serverBytesRead"),
            refused: counter(&s1, "refusedDownloads") - counter(&s0, "refusedDownloads"),
            first_file_s,
            verified,
            peak_rss_mib: run.peak_rss as f64 / (1 << 20) as f64,
            ideal_first_s,
            ideal_total_s,
            breakdown,
        };
        eprintln!(
            "bench:   ({workload}) {}: {wall:.2} s, {:.0}% of the link, {} requests, server read \
             {:.2}x, first file {}, {:.0} MiB peak",
            c.name,
            row.link_share() * 100.0,
            row.requests,
            row.read_ratio(),
            row.first_file_s.map_or("-".into(), |f| format!("{f:.2} s")),
            row.peak_rss_mib
        );
        clear(&out)?;
        rows.push(row);
    }
    Ok(rows)
}

/// Workloads (a) and, with `tape`, (c).
fn visit(ctx: &Ctx, z: &Sizes, tape: bool) -> Result<Vec<FacilityRow>> {
    let spec = z.visit_spec(tape);
    let drives = z.drives.to_string();
    let extra: Vec<&str> = if tape {
        vec![
            "--restore-delay",
            &z.restore,
            "--restore-jitter",
            &z.jitter,
            "--tape-drives",
            &drives,
        ]
    } else {
        Vec::new()
    };
    let workload = if tape { "c" } else { "a" };
    let sim = start(ctx, &format!("facility-{workload}"), &spec, &extra)?;
    icat_login(ctx, &sim)?;
    let p = prepare(ctx, &sim)?;
    let info = visit_info(ctx, &sim, &p.session)?;
    let total: u64 = info.datasets.iter().map(|d| d.bytes).sum();
    let files: u64 = info.datasets.iter().map(|d| d.files).sum();
    let archived: Vec<i64> = if tape {
        let mut list = Vec::new();
        for d in &info.datasets {
            let q = format!("sessionId={}&datasetIds={}", p.session, d.id);
            if ids_call(ctx, &sim, "getStatus", &q, false)?.trim() == "ARCHIVED" {
                list.push(d.id);
            }
        }
        list
    } else {
        Vec::new()
    };
    let title = format!(
        "({workload}) a visit of {} files of {} + {} of {} ({}){}",
        z.datasets * z.files,
        mib(z.small),
        z.large,
        mib(z.large_size),
        mib(total),
        if tape {
            format!(
                ", {} of {} datasets on tape (restore {} +- {}, {} drives)",
                archived.len(),
                info.datasets.len(),
                z.restore,
                z.jitter,
                z.drives
            )
        } else {
            String::new()
        }
    );
    let inv = info.investigation.to_string();
    let tape_flag = if tape { "1" } else { "0" };
    let first_ds = info.datasets.first().context("the visit has no datasets")?;
    let seed_share = first_ds.files as f64 / files.max(1) as f64;
    let zip_url = format!(
        "{}/getData?sessionId={}&investigationIds={inv}",
        sim.ids.trim_end_matches('/'),
        p.session
    );
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let mut clients: Vec<Client> = vec![
        Client {
            name: "icat download",
            note: "`icat download VISIT`: the engine's choice (verified, fsynced, renamed into visit/dataset/file)".into(),
            output: Output::Dir,
            sample: 1.0,
            payload: total,
            make: Box::new(|out| {
                ctx.icat(&[
                    "-q", "-w", &sim.wsdl, "--idsurl", &sim.ids, "-a", "simple", "-u", "root",
                    "download", &info.visit, "-o", &s(out),
                ])
            }),
        },
        Client {
            name: "python-icat zip",
            note: if tape {
                "Client.prepareData of the visit's datasets, isDataPrepared every 1 s, getData(preparedId): one zip, not extracted or verified".into()
            } else {
                "Client.getData of the visit's datasets: one zip, not extracted or verified".into()
            },
            output: Output::File { verified: false },
            sample: 1.0,
            payload: total,
            make: Box::new(|out| {
                ctx.pyicat(&["visitzip", &sim.wsdl, &sim.ids, &p.session, &inv, &s(out), tape_flag])
            }),
        },
        Client {
            name: "python-icat per file",
            note: format!(
                "{}one Client.getData per datafile (a new connection each, as urllib does), \
                 unverified; measured on the first dataset ({} of {files} files)",
                if tape {
                    "restoreData of the dataset, getStatus every 1 s until ONLINE, then "
                } else {
                    ""
                },
                first_ds.files
            ),
            output: Output::Dir,
            sample: seed_share,
            payload: first_ds.bytes,
            make: Box::new(|out| {
                let ds = first_ds.id.to_string();
                ctx.pyicat(&["perfile", &sim.wsdl, &sim.ids, &p.session, &ds, &s(out), tape_flag])
            }),
        },
        Client {
            name: "curl zip",
            note: "`curl --retry` of getData?investigationIds (one zip; 503 retried every 1 s), not extracted or verified".into(),
            output: Output::File { verified: false },
            sample: 1.0,
            payload: total,
            make: Box::new(|out| {
                let mut c = Command::new(&ctx.tools.curl);
                c.args([
                    "-s", "-f", "--retry", "100000", "--retry-delay", "1", "--retry-max-time",
                    "7200", "-o", &s(out), &zip_url,
                ]);
                c
            }),
        },
        Client {
            name: "seed pattern",
            note: format!(
                "one query per attribute and one getData per datafile (python-icat), unverified; \
                 measured on the first dataset ({} of {files} files)",
                first_ds.files
            ),
            output: Output::Dir,
            sample: seed_share,
            payload: first_ds.bytes,
            make: Box::new(|out| {
                ctx.pyicat(&["seeddl", &sim.wsdl, &sim.ids, &p.session, &first_ds.id.to_string(), &s(out)])
            }),
        },
    ];
    let archive_query = format!(
        "sessionId={}&datasetIds={}",
        p.session,
        archived
            .iter()
            .map(i64::to_string)
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut before = || -> Result<()> {
        if !archived.is_empty() {
            // Every client meets the same tape: put the datasets back on it.
            ids_call(ctx, &sim, "archive", &archive_query, true)?;
        }
        Ok(())
    };
    let bytes_of = |id: i64| {
        info.datasets
            .iter()
            .find(|d| d.id == id)
            .map_or(0, |d| d.bytes)
    };
    let sizes = [z.small, z.large_size];
    measure_clients(
        ctx,
        &sim,
        workload,
        &title,
        &sizes,
        &mut clients,
        &mut before,
        if tape {
            Some((z.drives, &bytes_of))
        } else {
            None
        },
    )
}

/// Workload (b): one large file; with `far`, on the `transatlantic` preset (`icat download` and
/// the single stream only; `--quick` keeps its `lan` preset).
fn single(ctx: &Ctx, z: &Sizes, far: bool) -> Result<Vec<FacilityRow>> {
    let spec = format!("visits=1,datasets=1,files=1,size={}", z.single);
    let (workload, preset) = match (far, ctx.opts.quick) {
        (false, q) => ("b", preset(q)),
        (true, false) => ("bt", FAR_PRESET),
        (true, true) => ("bt", QUICK_PRESET),
    };
    let sim = start_on(ctx, preset, &format!("facility-{workload}"), &spec, &[])?;
    icat_login(ctx, &sim)?;
    let p = prepare(ctx, &sim)?;
    let df = p.datafile.to_string();
    let ds = p.dataset.to_string();
    let url = format!(
        "{}/getData?sessionId={}&datafileIds={df}",
        sim.ids.trim_end_matches('/'),
        p.session
    );
    let s = |p: &Path| p.to_string_lossy().into_owned();
    let title = if far {
        format!(
            "(b) one file of {} on the `{preset}` preset ({:.0} Mbit/s per connection, the same link)",
            mib(z.single),
            FAR_STREAM_BYTES_PER_SEC * 8.0 / 1e6
        )
    } else {
        format!("(b) one file of {}", mib(z.single))
    };
    let mut clients: Vec<Client> = vec![
        Client {
            name: "icat download",
            note: "`icat download --datafile`: the engine's choice (verified, fsynced, renamed)".into(),
            output: Output::Dir,
            sample: 1.0,
            payload: z.single,
            make: Box::new(|out| {
                ctx.icat(&[
                    "-q", "-w", &sim.wsdl, "--idsurl", &sim.ids, "-a", "simple", "-u", "root",
                    "download", "--datafile", &df, "-o", &s(out),
                ])
            }),
        },
        Client {
            name: "python-icat getData",
            note: "IDSClient.getData of the datafile: one stream, unverified".into(),
            output: Output::File { verified: false },
            sample: 1.0,
            payload: z.single,
            make: Box::new(|out| ctx.pyicat(&["download", &sim.ids, &p.session, "single", &df, &s(out)])),
        },
        Client {
            name: "curl",
            note: "`curl -o` of getData?datafileIds: one stream, unverified (the single-stream baseline)".into(),
            output: Output::File { verified: false },
            sample: 1.0,
            payload: z.single,
            make: Box::new(|out| {
                let mut c = Command::new(&ctx.tools.curl);
                c.args(["-s", "-f", "-o", &s(out), &url]);
                c
            }),
        },
        Client {
            name: "seed pattern",
            note: "one query per attribute, then one getData (python-icat), unverified".into(),
            output: Output::Dir,
            sample: 1.0,
            payload: z.single,
            make: Box::new(|out| ctx.pyicat(&["seeddl", &sim.wsdl, &sim.ids, &p.session, &ds, &s(out)])),
        },
    ];
    if far {
        // The engine against the single stream is what this preset is run for.
        clients.retain(|c| c.name == "icat download" || c.name == "curl");
    }
    measure_clients(
        ctx,
        &sim,
        workload,
        &title,
        &[z.single],
        &mut clients,
        &mut || Ok(()),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ideal_tape_schedule_fills_the_drives_in_order() {
        // Three datasets of 8, 4 and 6 s on two drives: online at 8, 4 and 10 s.
        let bytes = |id: i64| id as u64 * 125_000_000;
        let (first, last) = ideal(&[(3, 6000), (1, 8000), (2, 4000)], 2, bytes).unwrap();
        assert_eq!(first, 4.0 + 2.0);
        assert_eq!(last, 10.0 + 3.0);
        assert_eq!(ideal(&[], 2, bytes), None);
    }

    #[test]
    fn the_breakdown_splits_a_run_at_its_first_and_last_byte() {
        let s = |t: f64, bytes: u64, open: u64| Sample { t, bytes, open };
        let samples = [
            s(0.0, 100, 0),
            s(0.2, 100, 0),
            s(0.4, 200, 2),
            s(0.6, 300, 3),
            s(0.8, 400, 4),
            s(1.0, 400, 0),
        ];
        let b = breakdown(&samples, 1.5, None).unwrap();
        assert_eq!(b.to_first_byte_s, 0.4);
        assert!((b.data_s - 0.4).abs() < 1e-9);
        assert_eq!(b.mean_open, 3.0);
        assert!((b.full_s - 0.4).abs() < 1e-9);
        assert!((b.after_last_byte_s - 0.7).abs() < 1e-9);
        assert!(breakdown(&[s(0.0, 5, 0)], 1.0, None).is_none());
    }

    #[test]
    fn a_file_that_appears_just_before_the_stop_is_seen() {
        let dir = tempfile::tempdir().unwrap();
        let (stop, handle) = watch(dir.path().to_path_buf(), vec![10]);
        std::fs::write(dir.path().join("f"), [0u8; 10]).unwrap();
        stop.store(true, Ordering::Relaxed);
        assert!(handle.join().unwrap().is_some());
        // Nothing there: none.
        let empty = tempfile::tempdir().unwrap();
        let (stop, handle) = watch(empty.path().to_path_buf(), vec![10]);
        stop.store(true, Ordering::Relaxed);
        assert_eq!(handle.join().unwrap(), None);
    }

    #[test]
    fn only_visible_complete_files_count() {
        let dir = tempfile::tempdir().unwrap();
        let sizes = [10u64];
        assert!(!complete_file_under(dir.path(), &sizes));
        std::fs::create_dir_all(dir.path().join(".work")).unwrap();
        std::fs::write(dir.path().join(".work/a"), [0u8; 10]).unwrap();
        std::fs::write(dir.path().join("b.part"), [0u8; 10]).unwrap();
        std::fs::create_dir_all(dir.path().join("v/ds")).unwrap();
        std::fs::write(dir.path().join("v/ds/c"), [0u8; 5]).unwrap();
        assert!(!complete_file_under(dir.path(), &sizes));
        std::fs::write(dir.path().join("v/ds/c"), [0u8; 10]).unwrap();
        assert!(complete_file_under(dir.path(), &sizes));
    }
}
