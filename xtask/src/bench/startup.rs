//! Scenario 4, start-up: `icat whoami` with a cached session against python-icat creating a
//! `Client` and calling `getUserName` with the same session; scenario 5, `xtask codegen --check`.

use std::io::Write;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use super::sim::Sim;
use super::{Ctx, Row, interleave, row_from_runs};

/// What `pyicat.py prepare` prints.
#[derive(Deserialize)]
pub struct Prepared {
    /// A session of simple/root (never logged out by the driver).
    pub session: String,
    /// The first datafile id.
    pub datafile: i64,
    /// The first dataset id.
    pub dataset: i64,
}

/// Logs python-icat in (not measured) and returns its session and the first ids.
pub fn prepare(ctx: &Ctx, sim: &Sim) -> Result<Prepared> {
    let out = ctx
        .pyicat(&["prepare", &sim.wsdl])
        .output()
        .context("running pyicat.py prepare")?;
    if !out.status.success() {
        bail!(
            "pyicat.py prepare failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    serde_json::from_slice(&out.stdout).context("pyicat.py prepare printed no JSON")
}

/// `icat login` into the bench's session cache (not measured).
pub fn icat_login(ctx: &Ctx, sim: &Sim) -> Result<()> {
    let mut child = ctx
        .icat(&[
            "-q",
            "-w",
            &sim.wsdl,
            "-a",
            "simple",
            "-u",
            "root",
            "--password-stdin",
            "login",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting icat login")?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin.write_all(b"secret\n")?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "icat login failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Scenario 4.
pub fn whoami(ctx: &Ctx, sim: &Sim) -> Result<Vec<Row>> {
    icat_login(ctx, sim)?;
    let p = prepare(ctx, sim)?;
    let mut ours = || ctx.icat(&["-w", &sim.wsdl, "-a", "simple", "-u", "root", "whoami"]);
    let mut py = || ctx.pyicat(&["whoami", &sim.wsdl, &p.session]);
    let runs = interleave(
        ctx,
        Some(sim),
        &mut [("whoami-ours", &mut ours), ("whoami-python-icat", &mut py)],
        &mut || Ok(()),
    )?;
    for (name, r) in [("icat whoami", &runs[0]), ("python-icat", &runs[1])] {
        let text = String::from_utf8_lossy(&r[0].0.stdout);
        if !text.contains("simple/root") {
            bail!("{name} did not print the user: {text:?}");
        }
    }
    let scenario = "start-up: who am I, with an existing session";
    Ok(vec![
        row_from_runs(
            scenario,
            "icat whoami",
            &runs[0],
            None,
            "session from the cache (icat login before)",
        )?,
        row_from_runs(
            scenario,
            "python-icat Client + getUserName",
            &runs[1],
            None,
            "same session; also GETs the WSDL and XSD (not counted)",
        )?,
    ])
}

/// Scenario 5: `xtask codegen --check` (release xtask for a full run; the running dev xtask
/// with --quick).
pub fn codegen(ctx: &Ctx) -> Result<Vec<Row>> {
    let exe = if ctx.opts.profile == "release" {
        let status = super::setup::cargo(&ctx.root)
            .args(["build", "--quiet", "--release", "-p", "xtask"])
            .status()
            .context("building xtask in release")?;
        if !status.success() {
            bail!("cargo build --release -p xtask failed");
        }
        super::setup::profile_dir(&ctx.root, "release").join("xtask")
    } else {
        std::env::current_exe().context("locating the running xtask")?
    };
    let mut check = || {
        let mut c = Command::new(&exe);
        c.args(["codegen", "--check"]).current_dir(&ctx.root);
        c
    };
    let runs = interleave(ctx, None, &mut [("codegen", &mut check)], &mut || Ok(()))?;
    Ok(vec![row_from_runs(
        "codegen: xtask codegen --check (8 files from wsdl/)",
        &format!("xtask ({} profile)", ctx.opts.profile),
        &runs[0],
        None,
        "parse WSDL + XSD, generate, format, compare",
    )?])
}
