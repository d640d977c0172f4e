//! A `icat-sim` process for the benchmarks: started with a synthetic facility, its SOAP requests
//! counted from its request log, stopped with SIGTERM (and cleaned up) when dropped.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The log line icat-sim writes per SOAP request under `RUST_LOG=icat_sim::requests=debug`
/// (`icat_sim::icat::soap::REQUEST_LOG_TARGET`).
const REQUEST_LINE: &str = "SOAP request";

/// A running simulator.
pub struct Sim {
    child: Child,
    /// The WSDL URL (`http://127.0.0.1:PORT/ICATService/ICAT?wsdl`).
    pub wsdl: String,
    /// The IDS URL.
    pub ids: String,
    log: PathBuf,
    storage: PathBuf,
    /// How long the simulator took to create the facility and listen.
    pub startup: Duration,
}

impl Sim {
    /// Starts `bin --synthetic spec` on a free port, with its storage and log under `dir`, and
    /// waits (up to `limit`) for it to print its URLs.
    pub fn start(bin: &Path, spec: &str, dir: &Path, limit: Duration) -> Result<Sim> {
        Self::start_with(bin, spec, &[], dir, limit)
    }

    /// As [`Sim::start`], with more command-line options (e.g. `--network wan`).
    pub fn start_with(
        bin: &Path,
        spec: &str,
        extra: &[&str],
        dir: &Path,
        limit: Duration,
    ) -> Result<Sim> {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let storage = dir.join("storage");
        let log = dir.join("sim.log");
        let log_file =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args(["--listen", "127.0.0.1:0", "--synthetic", spec, "--storage"])
            .arg(&storage)
            .args(extra)
            .env("RUST_LOG", "icat_sim=info,icat_sim::requests=debug")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("simulator stdout")?;
        // Read the two URL lines on a thread, so a simulator that never prints cannot hang us.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            let first = lines.next().and_then(Result::ok);
            let second = lines.next().and_then(Result::ok);
            let _ = tx.send((first, second));
            // Keep draining so the simulator never blocks on a full pipe.
            for _ in lines {}
        });
        let mut sim = Sim {
            child,
            wsdl: String::new(),
            ids: String::new(),
            log,
            storage,
            startup: Duration::ZERO,
        };
        match rx.recv_timeout(limit) {
            Ok((Some(wsdl), Some(ids))) => {
                sim.wsdl = wsdl;
                sim.ids = ids;
                sim.startup = started.elapsed();
                Ok(sim)
            }
            Ok(_) => bail!(
                "icat-sim exited before printing its URLs; its log:\n{}",
                sim.log_tail()
            ),
            Err(_) => bail!(
                "icat-sim did not start within {limit:?}; its log:\n{}",
                sim.log_tail()
            ),
        }
    }

    /// How many SOAP requests the simulator has answered so far.
    pub fn requests(&self) -> Result<u64> {
        let text = std::fs::read_to_string(&self.log)
            .with_context(|| format!("reading {}", self.log.display()))?;
        Ok(text.lines().filter(|l| l.contains(REQUEST_LINE)).count() as u64)
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Ok(pid) = libc::pid_t::try_from(self.child.id()) {
            // SAFETY: signalling our own child process by its id.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            match self.child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() > deadline => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
        let _ = std::fs::remove_dir_all(&self.storage);
    }
}
