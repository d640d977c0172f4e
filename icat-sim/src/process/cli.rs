//! The command-line options of `icat-sim` (and `icat sim serve`), and running a simulator from them
//! until Ctrl-C or SIGTERM.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::data::synthetic::SyntheticSpec;
use crate::process::config::SimConfig;
use crate::process::duration::parse_duration;
use crate::process::simulator::{SimError, Simulator, SimulatorBuilder};

/// Options of a simulator run.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8181")]
    pub listen: SocketAddr,
    /// Configuration file (sim.toml); the built-in defaults otherwise.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Keep the catalogue in this SQLite file, so state survives a restart.
    #[arg(long)]
    pub db: Option<PathBuf>,
    /// Keep file contents in this directory (default: a temporary directory).
    #[arg(long)]
    pub storage: Option<PathBuf>,
    /// Load a python-icat icatdump XML file at start.
    #[arg(long, value_name = "DUMP.xml")]
    pub load: Option<PathBuf>,
    /// Create a synthetic facility, e.g. visits=100,datasets=10,files=100,size=1MiB,archived=0.3
    /// (archived above 0 switches on --two-level; with --db, a restart with the same spec reuses it).
    /// Without --synthetic, --load or a --db that holds one, the catalogue is empty (only the test
    /// accounts): to try the library or the CLI, start with e.g.
    /// --synthetic visits=5,datasets=3,files=4,size=64KiB
    #[arg(long, value_name = "SPEC", value_parser = parse_spec)]
    pub synthetic: Option<SyntheticSpec>,
    /// Two-level IDS storage (archive + cache).
    #[arg(long)]
    pub two_level: bool,
    /// How long an IDS restore takes, e.g. 2s or 500ms (switches on --two-level).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub restore_delay: Option<Duration>,
    /// Each restore takes the restore delay plus or minus up to this, e.g. 4s (seeded per
    /// dataset by [ids] restoreSeed).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub restore_jitter: Option<Duration>,
    /// Restores that run at once (tape drives); 0 is no limit.
    #[arg(long, value_name = "N")]
    pub tape_drives: Option<usize>,
    /// Shape every answer like this facility network: lan, wan or transatlantic (the figures of
    /// the config file's [network] section override the preset's; see the README).
    #[arg(long, value_name = "PRESET")]
    pub network: Option<String>,
}

fn parse_spec(text: &str) -> Result<SyntheticSpec, String> {
    text.parse()
}

impl ServeArgs {
    /// The configuration: the file given with `--config`, or the built-in defaults.
    pub fn sim_config(&self) -> Result<SimConfig, SimError> {
        Ok(match &self.config {
            Some(path) => SimConfig::from_file(path)?,
            None => SimConfig::default(),
        })
    }

    /// A simulator builder with these options.
    pub fn builder(&self) -> Result<SimulatorBuilder, SimError> {
        let config = self.sim_config()?;
        let mut b = Simulator::builder().config(config).listen(self.listen);
        if let Some(db) = &self.db {
            b = b.db_path(db);
        }
        if let Some(dir) = &self.storage {
            b = b.storage_dir(dir);
        }
        if let Some(dump) = &self.load {
            b = b.load_file(dump);
        }
        if let Some(spec) = &self.synthetic {
            b = b.synthetic(spec.clone());
        }
        if self.two_level {
            b = b.two_level(true);
        }
        if let Some(delay) = self.restore_delay {
            b = b.restore_delay(delay);
        }
        if let Some(jitter) = self.restore_jitter {
            b = b.restore_jitter(jitter);
        }
        if let Some(drives) = self.tape_drives {
            b = b.tape_drives(drives);
        }
        if let Some(preset) = &self.network {
            b = b.network_preset(preset);
        }
        Ok(b)
    }
}

/// Starts a simulator, writes the test accounts it accepts to `notes` (for people: stderr), the
/// WSDL URL and the IDS URL to `out` (one per line), and serves until Ctrl-C or SIGTERM, then
/// shuts down cleanly.
pub async fn serve(
    args: &ServeArgs,
    out: &mut dyn Write,
    notes: &mut dyn Write,
) -> Result<(), SimError> {
    let accounts = args.sim_config()?.test_accounts();
    let running = args.builder()?.start().await?;
    for line in accounts {
        let _ = writeln!(notes, "{line}");
    }
    // Watch for the signals before announcing the URLs, so a supervisor that reads them and then
    // signals us always gets a clean shutdown.
    let stop = stop_signal();
    let _ = writeln!(out, "{}", running.wsdl_url());
    let _ = writeln!(out, "{}", running.ids_url());
    let _ = out.flush();
    stop.await;
    tracing::info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// A future that completes on Ctrl-C or SIGTERM; the handlers are installed when this is called.
fn stop_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(term) => Some(term),
            Err(e) => {
                tracing::warn!(error = %e, "cannot watch SIGTERM; stopping on Ctrl-C only");
                None
            }
        }
    };
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        {
            if let Some(mut term) = term {
                tokio::select! {
                    _ = ctrl_c => {}
                    _ = term.recv() => {}
                }
                return;
            }
        }
        let _ = ctrl_c.await;
    }
}
