//! What the benchmarks need before they run: the tools (python3, curl), the binaries built in the
//! chosen profile, the python-icat venv (shared with `tests/interop/run.sh`), and a description of
//! the machine and the versions measured.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// python-icat version the baselines use (as in `tests/interop/run.sh`).
pub const PYTHON_ICAT: &str = "1.7.0";

/// Paths of everything the scenarios run.
pub struct Tools {
    /// `icat` (the CLI).
    pub icat: PathBuf,
    /// `icat-sim`.
    pub sim: PathBuf,
    /// The `visits` example of icat-soap (the catalogue walk).
    pub walk: PathBuf,
    /// The `bench_decode` driver of icat-bench.
    pub decode: PathBuf,
    /// The venv's python.
    pub python: PathBuf,
    /// `xtask/bench/pyicat.py`.
    pub pyicat: PathBuf,
    /// `curl`.
    pub curl: PathBuf,
}

/// The cargo target directory.
pub fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .map(|p| if p.is_absolute() { p } else { root.join(p) })
        .unwrap_or_else(|| root.join("target"))
}

/// Fails with what to install when `program` is not on the PATH.
pub fn require(program: &str, install: &str) -> Result<PathBuf> {
    let paths = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&paths)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
        .with_context(|| format!("`{program}` is not on the PATH: {install}"))
}

/// A `cargo` command without the variables `cargo run` set for xtask itself (`CARGO_PKG_*`,
/// `CARGO_BIN_NAME`, ...): inherited, they would change the fingerprints and rebuild crates that
/// the CI build already compiled.
pub fn cargo(root: &Path) -> Command {
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy();
        let keep = ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_TERM_COLOR"];
        if key.starts_with("CARGO_") && !keep.contains(&key.as_ref()) || key == "OUT_DIR" {
            cmd.env_remove(key.as_ref());
        }
    }
    cmd.current_dir(root);
    cmd
}

/// Builds `icat`, `icat-sim`, the `visits` example and the `bench_decode` driver in `profile` ("release" or "dev").
pub fn build(root: &Path, profile: &str) -> Result<()> {
    let mut cmd = cargo(root);
    cmd.args([
        "build",
        "--quiet",
        "--profile",
        profile,
        "-p",
        "icat-cli",
        "-p",
        "icat-sim",
        "-p",
        "icat-soap",
        "--bin",
        "icat",
        "--bin",
        "icat-sim",
        "--example",
        "visits",
        "-p",
        "icat-bench",
        "--bin",
        "bench_decode",
    ]);
    eprintln!(
        "bench: building icat, icat-sim, the visits example and bench_decode ({profile} profile)"
    );
    let status = cmd.status().context("running cargo build")?;
    if !status.success() {
        bail!("cargo build --profile {profile} failed");
    }
    Ok(())
}

/// The directory a profile's binaries land in.
pub fn profile_dir(root: &Path, profile: &str) -> PathBuf {
    target_dir(root).join(if profile == "dev" { "debug" } else { profile })
}

/// Checks python3 and curl, creates or reuses the venv, and collects the paths.
pub fn tools(root: &Path, profile: &str) -> Result<Tools> {
    let python3 = require(
        "python3",
        "install Python 3 with its venv module (e.g. apt-get install python3 python3-venv)",
    )?;
    let curl = require("curl", "install curl (e.g. apt-get install curl)")?;
    let python = venv(root, &python3)?;
    let bin = profile_dir(root, profile);
    Ok(Tools {
        icat: bin.join("icat"),
        sim: bin.join("icat-sim"),
        walk: bin.join("examples/visits"),
        decode: bin.join("bench_decode"),
        python,
        pyicat: root.join("xtask/bench/pyicat.py"),
        curl,
    })
}

/// The venv of `tests/interop/run.sh` (`target/interop-venv`), created and filled with
/// python-icat 1.7.0, suds and lxml from PyPI when it does not already have them.
fn venv(root: &Path, python3: &Path) -> Result<PathBuf> {
    let dir = target_dir(root).join("interop-venv");
    let python = dir.join("bin/python");
    if !python.is_file() {
        eprintln!("bench: creating the venv {}", dir.display());
        let status = Command::new(python3)
            .args(["-m", "venv"])
            .arg(&dir)
            .status()
            .context("running python3 -m venv")?;
        if !status.success() {
            bail!(
                "python3 -m venv {} failed: install the venv module (e.g. apt-get install python3-venv)",
                dir.display()
            );
        }
    }
    let probe = Command::new(&python)
        .args(["-c", "import icat, suds, lxml; print(icat.__version__)"])
        .output();
    let ready = matches!(&probe, Ok(o) if o.status.success()
        && String::from_utf8_lossy(&o.stdout).trim() == PYTHON_ICAT);
    if !ready {
        eprintln!("bench: installing python-icat {PYTHON_ICAT}, suds and lxml from PyPI");
        let status = Command::new(dir.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .arg(format!("python-icat=={PYTHON_ICAT}"))
            .args(["suds", "lxml"])
            .status()
            .context("running pip")?;
        if !status.success() {
            bail!("pip install python-icat=={PYTHON_ICAT} suds lxml failed (is PyPI reachable?)");
        }
    }
    Ok(python)
}

/// Machine and versions, as `(label, value)` pairs for the report.
pub fn describe(root: &Path, tools: &Tools, profile: &str) -> Vec<(String, String)> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or("unknown".into(), |kib| {
            format!("{:.1} GiB", kib as f64 / 1024.0 / 1024.0)
        });
    let load = std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default();
    let out = |cmd: &mut Command| {
        cmd.output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| {
                let s = if o.stdout.is_empty() {
                    o.stderr
                } else {
                    o.stdout
                };
                String::from_utf8_lossy(&s).trim().to_string()
            })
            .unwrap_or_else(|| "unknown".into())
    };
    let rustc = out(Command::new("rustc").arg("-V").current_dir(root));
    let python = out(Command::new(&tools.python).arg("-V"));
    let curl = out(Command::new(&tools.curl).arg("-V"));
    let curl = curl.lines().next().unwrap_or("unknown").to_string();
    let date = out(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]));
    let commit = out(Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(root));
    vec![
        ("date".into(), date),
        ("commit".into(), commit),
        (
            "machine".into(),
            format!("{cpu}, {cores} cores, {mem} RAM, Linux {kernel}"),
        ),
        ("load average at start".into(), load),
        ("rustc".into(), format!("{rustc} ({profile} profile)")),
        (
            "python".into(),
            format!("{python}, python-icat {PYTHON_ICAT} with suds"),
        ),
        ("curl".into(), curl),
    ]
}
