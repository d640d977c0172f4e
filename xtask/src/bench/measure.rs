//! Running one client process and measuring it from the OS: wall time and peak resident memory
//! (`ru_maxrss` from `wait4`), plus summary statistics over repetitions.
//!
//! Linux records the memory of the process a child was spawned from into the child's `ru_maxrss`
//! at `exec` (std spawns with a shared address space), so the child's own figure would include
//! the harness. The client therefore runs under GNU `/usr/bin/time -f %M`, a small process that
//! forks it and reports its `wait4` peak; without `/usr/bin/time` our own `wait4` figure is used
//! (an upper bound).

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// What one run of a client process cost.
#[derive(Debug, Clone)]
pub struct Run {
    /// Wall time from spawn to exit.
    pub wall: Duration,
    /// Peak resident set size of the process, in bytes.
    pub peak_rss: u64,
    /// Everything the process wrote to stdout.
    pub stdout: Vec<u8>,
}

/// Runs `cmd` to completion with stdout captured to `stdout_file` (and read back), stderr kept
/// in `stdout_file` + `.err`; fails with the end of stderr when the process fails.
pub fn run(cmd: &mut Command, stdout_file: &Path) -> Result<Run> {
    let err_file = stdout_file.with_extension("err");
    let out = std::fs::File::create(stdout_file)
        .with_context(|| format!("creating {}", stdout_file.display()))?;
    let err = std::fs::File::create(&err_file)
        .with_context(|| format!("creating {}", err_file.display()))?;
    let rss_file = stdout_file.with_extension("rss");
    let mut wrapped = wrap_in_time(cmd, &rss_file);
    let timed = wrapped.is_some();
    let cmd = wrapped.as_mut().unwrap_or(cmd);
    let started = Instant::now();
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .with_context(|| format!("starting {cmd:?}"))?;
    let (status, own_peak) = wait4(child.id())?;
    let wall = started.elapsed();
    let peak_rss = if timed {
        time_peak(&rss_file).context("reading /usr/bin/time's peak memory")?
    } else {
        own_peak
    };
    if !status_ok(status) {
        let text = std::fs::read_to_string(&err_file).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "{cmd:?} failed ({}):\n{}",
            describe_status(status),
            tail.join("\n")
        );
    }
    let stdout =
        std::fs::read(stdout_file).with_context(|| format!("reading {}", stdout_file.display()))?;
    Ok(Run {
        wall,
        peak_rss,
        stdout,
    })
}

/// GNU time, when installed.
const TIME: &str = "/usr/bin/time";

/// `cmd` run under `/usr/bin/time -f %M -o rss_file`, or `None` without GNU time.
fn wrap_in_time(cmd: &Command, rss_file: &Path) -> Option<Command> {
    if !Path::new(TIME).is_file() {
        return None;
    }
    let mut w = Command::new(TIME);
    w.args(["-f", "%M", "-o"])
        .arg(rss_file)
        .arg(cmd.get_program())
        .args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => w.env(k, v),
            None => w.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        w.current_dir(dir);
    }
    Some(w)
}

/// The peak RSS in bytes from `/usr/bin/time -f %M` output (KiB on the last line).
fn time_peak(file: &Path) -> Result<u64> {
    let text = std::fs::read_to_string(file)?;
    let kib: u64 = text
        .lines()
        .rev()
        .find_map(|l| l.trim().parse().ok())
        .with_context(|| format!("no number in {text:?}"))?;
    Ok(kib * 1024)
}

/// Waits for `pid` and returns its raw wait status and peak RSS in bytes.
fn wait4(pid: u32) -> Result<(i32, u64)> {
    let pid = libc::pid_t::try_from(pid).context("process id out of range")?;
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero `rusage` is a valid value of this plain C struct.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: `status` and `usage` are valid, writable and live for the call; `pid` is our
        // own child, which nothing else waits for (its `Child` handle is dropped unwaited).
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e).context("wait4");
        }
    }
    // ru_maxrss is in KiB on Linux.
    let kib = u64::try_from(usage.ru_maxrss).unwrap_or(0);
    Ok((status, kib * 1024))
}

fn status_ok(status: i32) -> bool {
    libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0
}

fn describe_status(status: i32) -> String {
    if libc::WIFEXITED(status) {
        format!("exit code {}", libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        format!("killed by signal {}", libc::WTERMSIG(status))
    } else {
        format!("wait status {status}")
    }
}

/// Median, minimum and maximum of some samples.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stats {
    /// The median (mean of the middle two for an even count).
    pub median: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples.
    pub n: usize,
}

impl Stats {
    /// The statistics of `samples`; `None` when there are none (or any is not a number).
    pub fn of(samples: &[f64]) -> Option<Stats> {
        if samples.is_empty() || samples.iter().any(|x| !x.is_finite()) {
            return None;
        }
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Some(Stats {
            median,
            min: s[0],
            max: s[n - 1],
            n,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_of_odd_and_even_counts() {
        let s = Stats::of(&[3.0, 1.0, 2.0]).unwrap();
        assert_eq!((s.median, s.min, s.max, s.n), (2.0, 1.0, 3.0, 3));
        let s = Stats::of(&[4.0, 1.0, 2.0, 3.0]).unwrap();
        assert_eq!(s.median, 2.5);
        assert!(Stats::of(&[]).is_none());
        assert!(Stats::of(&[1.0, f64::NAN]).is_none());
    }

    #[test]
    fn measures_a_real_process() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        // Touch 32 MiB so the peak RSS is visibly above that.
        let r = run(
            Command::new("sh").args(["-c", "head -c 33554432 /dev/zero | tail -c 1 | wc -c"]),
            &out,
        )
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&r.stdout).trim(), "1");
        assert!(r.peak_rss > 0);
        // A process that touches 64 MiB peaks above that; a shell that does nothing far below.
        let big = run(
            Command::new("python3").args(["-c", "b = b'x' * (64 << 20); print(len(b))"]),
            &out,
        )
        .unwrap();
        assert!(big.peak_rss >= 64 << 20, "{}", big.peak_rss);
        let small = run(Command::new("sh").args(["-c", "true"]), &out).unwrap();
        assert!(small.peak_rss < 16 << 20, "{}", small.peak_rss);
        let err = run(
            Command::new("sh").args(["-c", "echo boom >&2; exit 3"]),
            &out,
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("exit code 3") && msg.contains("boom"), "{msg}");
    }
}
