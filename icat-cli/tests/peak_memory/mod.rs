//! Running the built `icat` and measuring its peak resident memory (its own `ru_maxrss`, from
//! `wait4`; Linux only), with what it prints kept bounded: tests against endless servers read
//! all of it, keep only the first [`KEPT`] bytes of each stream and count the rest.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::{Command, ExitStatus, Stdio};

/// The goal for the peak memory of `icat` under an endless or lying server.
pub const PEAK_GOAL_KIB: u64 = 64 * 1024;

/// The most bytes of stdout and stderr each kept for the test to read.
pub const KEPT: usize = 1 << 20;

/// What a measured run printed and how it ended.
pub struct Measured {
    /// How `icat` ended.
    pub status: ExitStatus,
    /// The first [`KEPT`] bytes of stdout.
    pub stdout: Vec<u8>,
    /// Every byte written to stdout, kept or not.
    pub stdout_len: u64,
    /// The first [`KEPT`] bytes of stderr.
    pub stderr: Vec<u8>,
    /// Peak resident memory of `icat` in KiB (`None` where it cannot be measured).
    pub peak_kib: Option<u64>,
}

impl Measured {
    /// stderr as text.
    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// stdout (its kept part) as text.
    pub fn stdout_text(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    /// Asserts the peak memory goal when it was measured.
    pub fn assert_peak_within_goal(&self) {
        if let Some(kib) = self.peak_kib {
            assert!(
                kib < PEAK_GOAL_KIB,
                "icat peaked at {kib} KiB, above the {PEAK_GOAL_KIB} KiB goal"
            );
        }
    }
}

/// Reads a pipe to its end, keeping the first [`KEPT`] bytes; returns them and the total.
fn drain(mut pipe: impl Read + Send + 'static) -> std::thread::JoinHandle<(Vec<u8>, u64)> {
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        let mut total = 0u64;
        let mut chunk = vec![0u8; 64 * 1024];
        while let Ok(n) = pipe.read(&mut chunk) {
            if n == 0 {
                break;
            }
            total += n as u64;
            let room = KEPT.saturating_sub(kept.len()).min(n);
            kept.extend_from_slice(&chunk[..room]);
        }
        (kept, total)
    })
}

/// Runs `cmd` (an `icat` command) with `stdin`, reaps it with `wait4` (which gives this one
/// child's resource usage) and prints the peak to the test's stderr.
// The child is reaped by `wait4`, which clippy does not see.
#[allow(clippy::zombie_processes)]
pub fn run_measured(mut cmd: Command, stdin: &str) -> Measured {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("icat starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = drain(child.stdout.take().expect("stdout"));
    let err = drain(child.stderr.take().expect("stderr"));
    let (status, peak_kib) = reap(child);
    let (stdout, stdout_len) = out.join().expect("stdout reader");
    let (stderr, _) = err.join().expect("stderr reader");
    if let Some(kib) = peak_kib {
        eprintln!("{cmd:?}: peak resident memory {kib} KiB, {stdout_len} bytes on stdout");
    }
    Measured {
        status,
        stdout,
        stdout_len,
        stderr,
        peak_kib,
    }
}

#[cfg(target_os = "linux")]
fn reap(child: std::process::Child) -> (ExitStatus, Option<u64>) {
    use std::os::unix::process::ExitStatusExt;
    let pid = libc::pid_t::try_from(child.id()).expect("pid");
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is plain data, all zeroes is a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our own child, not yet reaped; the pointers are to live locals.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(reaped, pid, "wait4: {}", std::io::Error::last_os_error());
    (
        ExitStatus::from_raw(status),
        Some(u64::try_from(usage.ru_maxrss).unwrap_or(0)),
    )
}

#[cfg(not(target_os = "linux"))]
fn reap(mut child: std::process::Child) -> (ExitStatus, Option<u64>) {
    (child.wait().expect("icat runs"), None)
}
