//! `cargo xtask bench [--quick] [--write] [--reps N]`: icat-rs against python-icat, curl and the
//! seed's one-query-per-attribute pattern, side by side on the same simulator in the same run.
//! Every client runs in its own process; wall time and peak memory come from the OS (`wait4`),
//! SOAP requests from the simulator's request log. Writes `target/bench/` (results.json and the
//! report) and, for a full run, the generated section of `BENCHMARKS.md`.

mod decode;
mod download;
mod facility;
mod facility_report;
mod measure;
mod report;
mod setup;
mod sim;
mod startup;
mod walk;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result, bail};

pub use measure::Stats;

/// Usage of `cargo xtask bench`.
pub const USAGE: &str = "\
       cargo xtask bench [--quick] [--write] [--reps N] [--seed-visits N] [--facility SPEC]

  bench          release build; synthetic facility visits=100,datasets=10,files=100; 1 GiB
                 downloads; 3 repetitions; rewrites the generated section of BENCHMARKS.md
  --quick        tiny facility, small downloads, 2 repetitions, the already-built dev profile;
                 checks every scenario produced numbers; writes target/bench/ only
  --write        also rewrite BENCHMARKS.md after a --quick run
  --release      build in release even with --quick
  --dev          measure the dev-profile binaries in a full or --medium run
  --medium       visits=20 facility, 256 MiB downloads, 2 repetitions (when a full run is too long)
  --reps N       repetitions of every measurement
  --seed-visits  visits the seed's pattern walks (the rest is extrapolated)
  --facility     the --synthetic spec of the catalogue facility
  --render       only re-render the report (and BENCHMARKS.md unless --quick) from the last
                 run's target/bench/results.json
  --only LIST    re-measure only these scenarios (comma-separated: decode, walk, startup,
                 download, codegen) and merge them into the last run's results.json, which
                 must be of the same size and profile; the report names what was re-measured
                 and when; `facility` (every client over icat-sim --network wan: a visit of
                 small and large files, one 1 GiB file, the visit with datasets on tape) has
                 its own results (target/bench/facility.json) and section";

/// The scenarios, in report order: the `--only` name and the prefix of their rows' scenario.
const SCENARIOS: [(&str, &str); 5] = [
    ("decode", "decode:"),
    ("walk", "catalogue walk:"),
    ("startup", "start-up:"),
    ("download", "download:"),
    ("codegen", "codegen:"),
];

/// The `--only` name of the facility section (its own results and its own part of BENCHMARKS.md).
const FACILITY: &str = "facility";

/// Options of one benchmark run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Tiny sizes, dev profile, report to target/ only.
    pub quick: bool,
    /// Rewrite BENCHMARKS.md.
    pub write: bool,
    /// Only re-render the last run's results.
    pub render: bool,
    /// "full", "medium" or "quick".
    pub size: String,
    /// Cargo profile of the measured binaries.
    pub profile: String,
    /// Repetitions.
    pub reps: usize,
    /// Synthetic facility of the catalogue scenarios.
    pub facility: String,
    /// Visits the seed pattern walks.
    pub seed_visits: u32,
    /// Results in the decode answer (10 entities each).
    pub decode_results: u32,
    /// Bytes of the single-file download.
    pub single_size: u64,
    /// Files and bytes per file of the dataset download.
    pub dataset_files: u32,
    /// Bytes per file of the dataset download.
    pub dataset_file_size: u64,
    /// `--only`: the scenarios to re-measure (empty: all).
    pub only: Vec<String>,
}

impl Options {
    /// Whether scenario `name` runs.
    fn runs(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| o == name)
    }
}

impl Options {
    fn parse(mut it: impl Iterator<Item = String>) -> Result<Options> {
        let mut quick = false;
        let mut write = None;
        let mut release = false;
        let mut render = false;
        let mut dev = false;
        let mut medium = false;
        let mut reps = None;
        let mut seed_visits = None;
        let mut facility = None;
        let mut only = Vec::new();
        while let Some(a) = it.next() {
            match a.as_str() {
                "--quick" => quick = true,
                "--write" => write = Some(true),
                "--release" => release = true,
                "--render" => render = true,
                "--dev" => dev = true,
                "--medium" => medium = true,
                "--reps" => {
                    let n: usize = it.next().context("--reps needs N")?.parse()?;
                    reps = Some(n.max(1));
                }
                "--seed-visits" => {
                    let n: u32 = it.next().context("--seed-visits needs N")?.parse()?;
                    seed_visits = Some(n.max(1));
                }
                "--facility" => facility = Some(it.next().context("--facility needs a spec")?),
                "--only" => {
                    let list = it.next().context("--only needs a list of scenarios")?;
                    for name in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                        if name != FACILITY && !SCENARIOS.iter().any(|(n, _)| *n == name) {
                            let mut known: Vec<&str> = SCENARIOS.iter().map(|(n, _)| *n).collect();
                            known.push(FACILITY);
                            bail!("unknown scenario {name:?} (known: {})", known.join(", "));
                        }
                        only.push(name.to_string());
                    }
                }
                "-h" | "--help" => {
                    println!("usage:\n{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other:?}\nusage:\n{USAGE}"),
            }
        }
        const GIB: u64 = 1 << 30;
        Ok(if quick {
            Options {
                quick,
                write: write.unwrap_or(false),
                render,
                size: "quick".into(),
                profile: if release { "release" } else { "dev" }.into(),
                reps: reps.unwrap_or(2),
                facility: facility.unwrap_or_else(|| "visits=3,datasets=2,files=5,size=0".into()),
                seed_visits: seed_visits.unwrap_or(3),
                decode_results: 100,
                single_size: 16 << 20,
                dataset_files: 10,
                dataset_file_size: 1 << 20,
                only,
            }
        } else {
            let mib = |n: u64| n << 20;
            let (size, visits, single, reps_default, seed_default) = if medium {
                ("medium", 20, mib(256), 2, 1)
            } else {
                ("full", 100, GIB, 3, 2)
            };
            Options {
                quick,
                write: write.unwrap_or(true),
                render,
                size: size.into(),
                profile: if dev { "dev" } else { "release" }.into(),
                reps: reps.unwrap_or(reps_default),
                facility: facility
                    .unwrap_or_else(|| format!("visits={visits},datasets=10,files=100,size=0")),
                seed_visits: seed_visits.unwrap_or(seed_default),
                decode_results: 1000,
                single_size: single,
                dataset_files: 100,
                dataset_file_size: single / 100,
                only,
            }
        })
    }
}

/// One measured client in one scenario.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Row {
    /// Scenario group (one table each), e.g. "download: 1 GiB single file".
    pub scenario: String,
    /// Who ran it, e.g. "icat download" or "curl".
    pub client: String,
    /// Seconds per run (per decode for the decode scenario).
    pub secs: Stats,
    /// Largest peak RSS seen over the runs, in MiB.
    pub peak_rss_mib: f64,
    /// SOAP requests per run (median), when counted.
    pub requests: Option<f64>,
    /// Bytes processed per run, for a throughput column.
    pub bytes: Option<u64>,
    /// Anything a reader must know about this row.
    pub note: String,
}

impl Row {
    /// Throughput in MiB/s at the median, when bytes are known.
    pub fn mib_per_s(&self) -> Option<f64> {
        self.bytes
            .map(|b| b as f64 / (1 << 20) as f64 / self.secs.median)
    }
}

/// Shared state of the scenarios.
pub struct Ctx {
    /// Workspace root.
    pub root: PathBuf,
    /// Options.
    pub opts: Options,
    /// Binaries and scripts.
    pub tools: setup::Tools,
    /// Scratch directory (target/bench/work), removed at the end.
    pub work: PathBuf,
}

impl Ctx {
    /// A command for the venv's python running pyicat.py with `args`.
    pub fn pyicat(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.tools.python);
        c.arg(&self.tools.pyicat).args(args);
        c
    }

    /// A command for `icat` with a private session cache and no inherited ICAT_* settings.
    pub fn icat(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.tools.icat);
        for var in [
            "ICAT_SERVICE",
            "ICAT_DATA_SERVICE",
            "ICAT_AUTH",
            "ICAT_USER",
            "ICAT_CFG",
            "ICAT_CFG_SECTION",
        ] {
            c.env_remove(var);
        }
        c.env("ICAT_CACHE_DIR", self.work.join("icat-cache"))
            .current_dir(&self.work)
            .args(args);
        c
    }

    /// Where a run's stdout goes.
    pub fn out_file(&self, name: &str) -> PathBuf {
        self.work.join(format!("{name}.out"))
    }

    /// Starts a simulator with `spec`, its files under the scratch directory.
    pub fn start_sim(&self, name: &str, spec: &str) -> Result<sim::Sim> {
        eprintln!("bench: starting icat-sim --synthetic {spec}");
        let s = sim::Sim::start(
            &self.tools.sim,
            spec,
            &self.work.join(name),
            Duration::from_secs(900),
        )?;
        eprintln!("bench: simulator ready in {:.1?}", s.startup);
        Ok(s)
    }
}

/// What a run leaves in `target/bench/results.json`: enough to render the report again.
#[derive(serde::Serialize, serde::Deserialize)]
struct Saved {
    machine: Vec<(String, String)>,
    size: String,
    profile: String,
    quick: bool,
    reps: usize,
    facility: String,
    rows: Vec<Row>,
}

/// `--render`: the report of the last run, written again (wording changes need no new run).
fn render_saved(root: &Path, mut opts: Options) -> Result<ExitCode> {
    let path = setup::target_dir(root).join("bench/results.json");
    let saved: Saved = serde_json::from_slice(
        &std::fs::read(&path)
            .with_context(|| format!("reading {} (run the bench first)", path.display()))?,
    )
    .with_context(|| format!("{} is not a results file", path.display()))?;
    opts.quick = saved.quick;
    opts.size = saved.size;
    opts.profile = saved.profile;
    opts.reps = saved.reps;
    opts.facility = saved.facility;
    let text = report::render(&opts, &saved.machine, &saved.rows);
    eprintln!("{text}");
    if opts.write && !saved.quick {
        report::rewrite(&root.join("BENCHMARKS.md"), &text)?;
        eprintln!("bench: rewrote the generated section of BENCHMARKS.md");
    }
    Ok(ExitCode::SUCCESS)
}

/// Runs `cargo xtask bench ...`.
pub fn cmd(root: &Path, args: impl Iterator<Item = String>) -> Result<ExitCode> {
    let opts = Options::parse(args)?;
    if opts.render {
        return render_saved(root, opts);
    }
    if opts.quick && opts.profile == "dev" {
        eprintln!(
            "bench: --quick measures the dev-profile binaries CI has already built (unoptimised \
             crates, optimised dependencies): it checks the harness, its numbers are not the real ratios"
        );
    }
    setup::build(root, &opts.profile)?;
    let tools = setup::tools(root, &opts.profile)?;
    let out_dir = setup::target_dir(root).join("bench");
    let work = out_dir.join("work");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).with_context(|| format!("creating {}", work.display()))?;
    let machine = setup::describe(root, &tools, &opts.profile);
    let facility = opts.only.is_empty() || opts.only.iter().any(|o| o == FACILITY);
    let mut loopback_opts = opts.clone();
    loopback_opts.only.retain(|o| o != FACILITY);
    let loopback = opts.only.is_empty() || !loopback_opts.only.is_empty();
    let ctx = Ctx {
        root: root.to_path_buf(),
        opts: loopback_opts,
        tools,
        work,
    };
    let mut ok = true;
    if loopback {
        let result = loopback_section(root, &ctx, &out_dir, machine.clone());
        if !result? {
            ok = false;
        }
    }
    if facility {
        let result = facility_section(&ctx, &out_dir, &machine);
        result?;
    }
    let _ = std::fs::remove_dir_all(&ctx.work);
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The facility section: its workloads, `target/bench/facility.json`, its report and (when
/// writing) its part of BENCHMARKS.md.
fn facility_section(ctx: &Ctx, out_dir: &Path, machine: &[(String, String)]) -> Result<()> {
    let rows = facility::run(ctx).context("scenario facility")?;
    let sizes = facility::Sizes::new(ctx.opts.quick);
    std::fs::write(
        out_dir.join("facility.json"),
        serde_json::to_vec_pretty(&rows)?,
    )?;
    let text = facility_report::render(machine, ctx.opts.quick, &sizes, &rows);
    let section = out_dir.join("BENCHMARKS.facility.md");
    std::fs::write(&section, &text)?;
    eprintln!("{text}");
    if ctx.opts.write {
        facility_report::rewrite(&ctx.root.join("BENCHMARKS.md"), &text)?;
        eprintln!("bench: rewrote the facility section of BENCHMARKS.md");
    } else {
        eprintln!(
            "bench: facility report in {} (BENCHMARKS.md untouched)",
            section.display()
        );
    }
    Ok(())
}

/// The loopback scenarios (decode, walk, start-up, download, codegen) and their section;
/// `false` when some scenario produced no numbers.
fn loopback_section(
    root: &Path,
    ctx: &Ctx,
    out_dir: &Path,
    machine: Vec<(String, String)>,
) -> Result<bool> {
    let previous = if ctx.opts.only.is_empty() {
        None
    } else {
        Some(previous_run(root, &ctx.opts)?)
    };
    let mut rows = run_all(ctx)?;
    let mut machine = machine;
    // The report's header describes the run the merged rows mostly come from.
    let mut opts = ctx.opts.clone();
    if let Some(previous) = previous {
        opts.reps = previous.reps;
        (machine, rows) = merge(previous, &ctx.opts, machine, rows);
    }
    let missing = report::check_complete(&rows);
    let text = report::render(&opts, &machine, &rows);
    let saved = Saved {
        machine,
        size: ctx.opts.size.clone(),
        profile: ctx.opts.profile.clone(),
        quick: ctx.opts.quick,
        reps: opts.reps,
        facility: ctx.opts.facility.clone(),
        rows,
    };
    std::fs::write(
        out_dir.join("results.json"),
        serde_json::to_vec_pretty(&saved)?,
    )?;
    let section = out_dir.join("BENCHMARKS.section.md");
    std::fs::write(&section, &text)?;
    eprintln!("{text}");
    if ctx.opts.write {
        report::rewrite(&ctx.root.join("BENCHMARKS.md"), &text)?;
        eprintln!("bench: rewrote the generated section of BENCHMARKS.md");
    } else {
        eprintln!(
            "bench: report in {} (BENCHMARKS.md untouched)",
            section.display()
        );
    }
    for m in &missing {
        eprintln!("bench: no numbers for {m}");
    }
    Ok(missing.is_empty())
}

fn run_all(ctx: &Ctx) -> Result<Vec<Row>> {
    let o = &ctx.opts;
    let mut rows = Vec::new();
    if o.runs("decode") || o.runs("walk") || o.runs("startup") {
        let sim = ctx.start_sim("catalogue", &o.facility)?;
        if o.runs("decode") {
            rows.extend(decode::run(ctx, &sim).context("scenario decode")?);
        }
        if o.runs("walk") {
            rows.extend(walk::run(ctx, &sim).context("scenario catalogue walk")?);
        }
        if o.runs("startup") {
            rows.extend(startup::whoami(ctx, &sim).context("scenario start-up")?);
        }
    }
    if o.runs("download") {
        rows.extend(download::run(ctx).context("scenario download")?);
    }
    if o.runs("codegen") {
        rows.extend(startup::codegen(ctx).context("scenario codegen")?);
    }
    Ok(rows)
}

/// The last run's results, which an `--only` run updates; it must be of the same kind.
fn previous_run(root: &Path, opts: &Options) -> Result<Saved> {
    let path = setup::target_dir(root).join("bench/results.json");
    let saved: Saved = serde_json::from_slice(&std::fs::read(&path).with_context(|| {
        format!(
            "--only updates the last run's {}: run the whole bench first",
            path.display()
        )
    })?)
    .with_context(|| format!("{} is not a results file", path.display()))?;
    if saved.size != opts.size || saved.profile != opts.profile || saved.facility != opts.facility {
        bail!(
            "the last run was {} / {} / {}, this one is {} / {} / {}: --only merges only into a \
             run of the same size, profile and facility",
            saved.size,
            saved.profile,
            saved.facility,
            opts.size,
            opts.profile,
            opts.facility
        );
    }
    Ok(saved)
}

/// The previous run with the re-measured scenarios replaced, in report order; the machine
/// list keeps the previous run's facts and gains one line per re-measurement saying which
/// scenarios, when, at which commit and under which load.
fn merge(
    previous: Saved,
    opts: &Options,
    now: Vec<(String, String)>,
    fresh: Vec<Row>,
) -> (Vec<(String, String)>, Vec<Row>) {
    let only = &opts.only;
    let mut rows = Vec::new();
    for (name, prefix) in SCENARIOS {
        let source = if only.iter().any(|o| o == name) {
            &fresh
        } else {
            &previous.rows
        };
        rows.extend(
            source
                .iter()
                .filter(|r| r.scenario.starts_with(prefix))
                .cloned(),
        );
    }
    let fact = |key: &str| {
        now.iter()
            .find(|(k, _)| k == key)
            .map_or("unknown", |(_, v)| v.as_str())
            .to_string()
    };
    // A scenario re-measured again replaces its earlier re-measurement line.
    let mut machine: Vec<(String, String)> = previous
        .machine
        .into_iter()
        .filter(|(k, _)| {
            k.strip_prefix("re-measured: ")
                .is_none_or(|names| !names.split(", ").all(|n| only.iter().any(|o| o == n)))
        })
        .collect();
    machine.push((
        format!("re-measured: {}", only.join(", ")),
        format!(
            "{}, commit {}, {} repetitions, load average at start {} (the other rows are from \
             the run above)",
            fact("date"),
            fact("commit"),
            opts.reps,
            fact("load average at start")
        ),
    ));
    (machine, rows)
}

/// One measured run and the SOAP requests it made (when a simulator counted them).
pub type Counted = (measure::Run, Option<u64>);

/// Runs `reps` repetitions of each client in turn (interleaved, so slow phases of a shared
/// machine hit every client alike), with `before` called before every run (e.g. clearing an
/// output directory). Returns the runs per client and the SOAP requests each run made.
pub fn interleave(
    ctx: &Ctx,
    sim: Option<&sim::Sim>,
    clients: &mut [(&str, &mut dyn FnMut() -> Command)],
    before: &mut dyn FnMut() -> Result<()>,
) -> Result<Vec<Vec<Counted>>> {
    let mut runs: Vec<Vec<Counted>> = vec![Vec::new(); clients.len()];
    for rep in 0..ctx.opts.reps {
        for (i, (name, make)) in clients.iter_mut().enumerate() {
            before()?;
            let count_before = sim.map(sim::Sim::requests).transpose()?;
            let run = measure::run(&mut make(), &ctx.out_file(&format!("{name}-{rep}")))
                .with_context(|| format!("{name}, run {}", rep + 1))?;
            let count_after = sim.map(sim::Sim::requests).transpose()?;
            let requests = count_before.zip(count_after).map(|(a, b)| b - a);
            eprintln!(
                "bench:   {name}: {:.3} s, {:.0} MiB peak{}",
                run.wall.as_secs_f64(),
                run.peak_rss as f64 / (1 << 20) as f64,
                requests.map_or(String::new(), |r| format!(", {r} SOAP requests"))
            );
            runs[i].push((run, requests));
        }
    }
    Ok(runs)
}

/// A row from whole-process runs: wall time per run, peak RSS, median request count.
pub fn row_from_runs(
    scenario: &str,
    client: &str,
    runs: &[Counted],
    bytes: Option<u64>,
    note: &str,
) -> Result<Row> {
    let secs: Vec<f64> = runs.iter().map(|(r, _)| r.wall.as_secs_f64()).collect();
    let requests: Vec<f64> = runs
        .iter()
        .filter_map(|(_, n)| n.map(|n| n as f64))
        .collect();
    Ok(Row {
        scenario: scenario.into(),
        client: client.into(),
        secs: Stats::of(&secs).with_context(|| format!("{scenario}: {client} has no runs"))?,
        peak_rss_mib: peak_mib(runs),
        requests: Stats::of(&requests).map(|s| s.median),
        bytes,
        note: note.into(),
    })
}

/// The largest peak RSS of some runs, in MiB.
pub fn peak_mib(runs: &[Counted]) -> f64 {
    runs.iter().map(|(r, _)| r.peak_rss).max().unwrap_or(0) as f64 / (1 << 20) as f64
}
