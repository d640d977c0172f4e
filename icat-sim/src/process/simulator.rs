//! Starting and stopping a simulator: [`Simulator::builder`] collects the options, `start()` opens the
//! database, loads data, binds the listener and serves until [`RunningSimulator::shutdown`] or drop.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::data::synthetic::SyntheticSpec;
use crate::glue::fault_injection::FaultHandle;
use crate::glue::sim_catalog::SimCatalog;
use crate::icat::Icat;
use crate::icat::db::{Clock, Db, DbError};
use crate::icat::error::IcatError;
use crate::icat::http::ICAT_PATH;
use crate::network::{Network, NetworkProfile};
use crate::process::config::{ConfigError, SimConfig};

/// Errors starting a simulator.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The database could not be opened.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The dump file could not be loaded.
    #[error(transparent)]
    Load(#[from] crate::data::icatdump::LoadError),
    /// `--load` was given with a `--db` that already holds a catalogue.
    #[error(
        "the database {db} already holds a catalogue ({objects} objects); --load only fills an empty \
         database: drop --load to keep using it, or give a new --db file to load {dump} into"
    )]
    LoadIntoNonEmpty {
        /// The database file.
        db: String,
        /// How many objects it holds.
        objects: i64,
        /// The dump that was to be loaded.
        dump: String,
    },
    /// `--synthetic` with a `--db` that holds a catalogue not made from the same spec.
    #[error(
        "the database {db} holds a catalogue {made}, not from --synthetic {requested}: start with \
         the same --synthetic (or without it) to keep using it, or give a new --db file"
    )]
    SyntheticMismatch {
        /// The database file.
        db: String,
        /// How the catalogue in it was made (`made from --synthetic SPEC` or `of N objects`).
        made: String,
        /// The spec asked for now (canonical form).
        requested: String,
    },
    /// The synthetic facility could not be made.
    #[error("cannot create the synthetic facility: {0}")]
    Synthetic(String),
    /// The IDS could not be set up (storage state unreadable).
    #[error("cannot start the IDS: {0}")]
    Ids(String),
    /// The storage directory could not be prepared.
    #[error("cannot use storage directory {path}: {source}")]
    Storage {
        /// The directory.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another server using the port?)")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Entry point: `Simulator::builder()`.
#[derive(Debug)]
pub struct Simulator;

impl Simulator {
    /// A builder with the default configuration, an in-memory database and `127.0.0.1:0`.
    pub fn builder() -> SimulatorBuilder {
        SimulatorBuilder {
            config: SimConfig::default(),
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            db_path: None,
            storage_dir: None,
            load: None,
            synthetic: None,
            two_level: None,
            restore_delay: None,
            link_lifetime: None,
            clock: Clock::default(),
            faults: None,
            network: None,
            network_preset: None,
            tape_drives: None,
            restore_jitter: None,
        }
    }
}

/// Options of a simulator to start.
#[derive(Debug, Clone)]
pub struct SimulatorBuilder {
    config: SimConfig,
    listen: SocketAddr,
    db_path: Option<PathBuf>,
    storage_dir: Option<PathBuf>,
    load: Option<PathBuf>,
    synthetic: Option<SyntheticSpec>,
    two_level: Option<bool>,
    restore_delay: Option<Duration>,
    link_lifetime: Option<Duration>,
    clock: Clock,
    faults: Option<crate::process::config::FaultConfig>,
    network: Option<NetworkProfile>,
    network_preset: Option<String>,
    tape_drives: Option<usize>,
    restore_jitter: Option<Duration>,
}

impl SimulatorBuilder {
    /// Uses this configuration (default: [`SimConfig::default`]).
    pub fn config(mut self, config: SimConfig) -> Self {
        self.config = config;
        self
    }

    /// Listens here (port 0 picks a free port).
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Keeps the catalogue in this SQLite file (state survives a restart).
    pub fn db_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.db_path = Some(path.into());
        self
    }

    /// Keeps file contents in this directory (default: a temporary directory removed at shutdown).
    pub fn storage_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage_dir = Some(dir.into());
        self
    }

    /// Loads a python-icat icatdump XML file at start.
    pub fn load_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.load = Some(path.into());
        self
    }

    /// Creates a synthetic facility at start.
    pub fn synthetic(mut self, spec: SyntheticSpec) -> Self {
        self.synthetic = Some(spec);
        self
    }

    /// Two-level IDS storage (overrides the configuration).
    pub fn two_level(mut self, on: bool) -> Self {
        self.two_level = Some(on);
        self
    }

    /// Restore delay of the two-level IDS (overrides the configuration).
    pub fn restore_delay(mut self, delay: Duration) -> Self {
        self.restore_delay = Some(delay);
        self
    }

    /// Lifetime of `getLink` hard links (overrides the configuration's `linkLifetimeSeconds`);
    /// zero switches `getLink` off.
    pub fn link_lifetime(mut self, lifetime: Duration) -> Self {
        self.link_lifetime = Some(lifetime);
        self
    }

    /// Shapes every answer with this facility profile (overrides the configuration's
    /// `[network]`); see [`crate::network`].
    pub fn network(mut self, profile: NetworkProfile) -> Self {
        self.network = Some(profile);
        self
    }

    /// Starts from this network preset (`lan`, `wan`, `transatlantic`); the figures of the
    /// configuration's `[network]` still override it (what `--network PRESET` does).
    pub fn network_preset(mut self, preset: impl Into<String>) -> Self {
        self.network_preset = Some(preset.into());
        self
    }

    /// Restores that run at once on two-level storage (tape drives; 0: no limit).
    pub fn tape_drives(mut self, drives: usize) -> Self {
        self.tape_drives = Some(drives);
        self
    }

    /// Each restore takes the restore delay plus or minus up to `jitter` (seeded per dataset
    /// by the configuration's `restoreSeed`).
    pub fn restore_jitter(mut self, jitter: Duration) -> Self {
        self.restore_jitter = Some(jitter);
        self
    }

    /// Uses this clock (tests move it forward to expire sessions).
    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Injects these faults from the start (overrides the configuration's `[faults]`).
    pub fn faults(mut self, faults: crate::process::config::FaultConfig) -> Self {
        self.faults = Some(faults);
        self
    }

    /// Opens the database, loads data, binds and starts serving.
    pub async fn start(self) -> Result<RunningSimulator, SimError> {
        let mut config = self.config;
        if let Some(two) = self.two_level {
            config.ids.two_level = two;
        }
        if let Some(delay) = self.restore_delay {
            config.ids.restore_delay = delay;
        }
        if let Some(drives) = self.tape_drives {
            config.ids.tape_drives = drives;
        }
        if let Some(jitter) = self.restore_jitter {
            config.ids.restore_jitter = jitter;
        }
        // The command line's tape figures are checked as the file's are.
        config.ids.check_tape().map_err(ConfigError::Invalid)?;
        let network = match self.network {
            Some(profile) => Some(profile),
            None => config
                .network
                .resolve(self.network_preset.as_deref())
                .map_err(ConfigError::from)?,
        }
        .map(Network::new);
        // Archived synthetic datasets and a restore delay only mean something with two-level
        // storage: they switch it on, unless the builder was told `.two_level(false)` (the
        // command line never does that: without --two-level it says nothing).
        let needs_two_level = if self.synthetic.as_ref().is_some_and(|s| s.archived > 0.0) {
            Some("--synthetic ...,archived=")
        } else if self.restore_delay.is_some() {
            Some("--restore-delay")
        } else {
            None
        };
        if let (Some(what), false) = (needs_two_level, config.ids.two_level) {
            if self.two_level.is_none() {
                tracing::info!("{what} given: two-level IDS storage switched on");
                config.ids.two_level = true;
            } else {
                tracing::warn!("{what} has no effect: two-level IDS storage was switched off");
            }
        }
        if let Some(faults) = self.faults {
            faults.validate().map_err(ConfigError::Invalid)?;
            config.faults = faults;
        }
        let (storage_dir, temp_storage) = match self.storage_dir {
            Some(dir) => {
                std::fs::create_dir_all(&dir).map_err(|source| SimError::Storage {
                    path: dir.display().to_string(),
                    source,
                })?;
                (dir, None)
            }
            None => {
                let temp = tempfile::Builder::new()
                    .prefix("icat-sim-storage-")
                    .tempdir()
                    .map_err(|source| SimError::Storage {
                        path: std::env::temp_dir().display().to_string(),
                        source,
                    })?;
                (temp.path().to_path_buf(), Some(temp))
            }
        };
        let mut db = Db::open(self.db_path.as_deref(), crate::entities(), self.clock)?;
        if let Some(path) = &self.load {
            // Loading twice would fail half-way on the first duplicate: refuse clearly instead.
            let objects =
                db.object_count()
                    .map_err(|source| crate::data::icatdump::LoadError::Create {
                        what: "a check that the database is empty".into(),
                        source,
                    })?;
            if objects > 0 {
                return Err(SimError::LoadIntoNonEmpty {
                    db: self
                        .db_path
                        .as_deref()
                        .map_or_else(|| ":memory:".to_string(), |p| p.display().to_string()),
                    objects,
                    dump: path.display().to_string(),
                });
            }
            let n = crate::data::icatdump::load_file(&mut db, path, &loader_user(&config))?;
            tracing::info!(objects = n, file = %path.display(), "loaded dump");
        }
        let synthetic = match &self.synthetic {
            Some(spec) => reuse_or_make(&db, spec, self.db_path.as_deref())?.then_some(spec),
            None => None,
        };
        if let Some(spec) = synthetic {
            let storage = crate::ids::Storage::open(&storage_dir)
                .map_err(|e| SimError::Synthetic(e.to_string()))?;
            let summary = crate::data::synthetic::generate(
                &mut db,
                spec,
                &loader_user(&config),
                &storage,
                config.ids.two_level,
            )
            .map_err(|e| SimError::Synthetic(e.to_string()))?;
            db.set_meta(SYNTHETIC_META_KEY, &spec.canonical())
                .map_err(|e| SimError::Synthetic(e.to_string()))?;
            tracing::info!(
                investigations = summary.investigations,
                datasets = summary.datasets,
                datafiles = summary.datafiles,
                bytes = summary.bytes,
                archived = %summary.archived_text(),
                "created synthetic facility"
            );
        }
        let icat = Icat::new(db, config);
        let listener = tokio::net::TcpListener::bind(self.listen)
            .await
            .map_err(|source| SimError::Bind {
                addr: self.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SimError::Bind {
            addr: self.listen,
            source,
        })?;
        let icat_url = format!("http://{addr}{ICAT_PATH}");
        let catalog = std::sync::Arc::new(SimCatalog::new(icat.clone(), icat_url));
        let ids_settings = crate::ids::IdsSettings {
            two_level: icat.config().ids.two_level,
            restore_delay: icat.config().ids.restore_delay,
            restore_jitter: icat.config().ids.restore_jitter,
            restore_seed: icat.config().ids.restore_seed,
            tape_drives: icat.config().ids.tape_drives,
            read_only: icat.config().ids.read_only,
            link_lifetime: self
                .link_lifetime
                .unwrap_or(Duration::from_secs(icat.config().ids.link_lifetime_seconds)),
            prepared_count: icat.config().ids.prepared_count,
            ..crate::ids::IdsSettings::default()
        };
        let fault_config = icat.config().faults.clone();
        let ids_state = crate::ids::IdsState::with_faults(
            catalog,
            &storage_dir,
            ids_settings,
            fault_config.ids_settings(),
        )
        .map_err(|e| SimError::Ids(e.to_string()))?;
        let faults = FaultHandle::new(&fault_config, icat.clone(), ids_state.clone());
        if !fault_config.is_off() {
            tracing::warn!(faults = ?fault_config, "fault injection is on");
        }
        if let Some(network) = &network {
            ids_state.set_network(network.clone());
            tracing::info!(profile = ?network.profile(), "facility network profile is on");
        }
        let link_sweeper = ids_state.clone().sweep_links();
        let router = crate::glue::routes::router(&icat, ids_state, &faults, network.as_ref());
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let mut tasks = Vec::new();
        if let Some(every) = fault_config.expire_sessions_every {
            tasks.push(tokio::spawn(
                crate::glue::fault_injection::expire_sessions_periodically(
                    icat.clone(),
                    every,
                    stop_tx.subscribe(),
                ),
            ));
        }
        let mut purge_rx = stop_tx.subscribe();
        let purge_icat = icat.clone();
        let purge = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            tick.tick().await;
            loop {
                tokio::select! {
                    _ = tick.tick() => {
                        let icat = purge_icat.clone();
                        let purged = tokio::task::spawn_blocking(move || icat.db().session_purge()).await;
                        tracing::debug!(?purged, "purged expired sessions");
                    }
                    _ = purge_rx.changed() => break,
                }
            }
        });
        let server = tokio::spawn(async move {
            let shutdown = async move {
                let _ = stop_rx.wait_for(|stop| *stop).await;
            };
            // The link sweeper never finishes; it is dropped when the server stops.
            tokio::select! {
                served = axum::serve(crate::network::ShapedListener::new(listener, network), router)
                    .with_graceful_shutdown(shutdown) => {
                    if let Err(e) = served {
                        tracing::error!(error = %e, "server stopped with an error");
                    }
                }
                () = link_sweeper => {}
            }
        });
        tracing::info!(%addr, "icat-sim listening");
        tasks.push(server);
        tasks.push(purge);
        Ok(RunningSimulator {
            addr,
            icat,
            faults,
            stop: stop_tx,
            tasks,
            storage_dir,
            _temp_storage: temp_storage,
        })
    }
}

/// A simulator that is serving; stops on [`RunningSimulator::shutdown`] or when dropped.
#[derive(Debug)]
pub struct RunningSimulator {
    addr: SocketAddr,
    icat: Icat,
    faults: FaultHandle,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    storage_dir: PathBuf,
    _temp_storage: Option<tempfile::TempDir>,
}

impl RunningSimulator {
    /// The address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://host:port`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The ICAT SOAP endpoint, `…/ICATService/ICAT`.
    pub fn icat_url(&self) -> String {
        format!("{}{ICAT_PATH}", self.base_url())
    }

    /// The WSDL URL, `…/ICATService/ICAT?wsdl`.
    pub fn wsdl_url(&self) -> String {
        format!("{}?wsdl", self.icat_url())
    }

    /// The IDS base URL, `…/ids`.
    pub fn ids_url(&self) -> String {
        format!("{}/ids", self.base_url())
    }

    /// The directory holding file contents.
    pub fn storage_dir(&self) -> &std::path::Path {
        &self.storage_dir
    }

    /// The catalogue service (for in-process inspection).
    pub fn icat(&self) -> &Icat {
        &self.icat
    }

    /// The fault knobs: arm or clear faults while the simulator runs.
    pub fn faults(&self) -> &FaultHandle {
        &self.faults
    }

    /// Stops serving and waits until in-flight requests are done.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        for task in self.tasks.drain(..) {
            let _ = task.await;
        }
    }
}

impl Drop for RunningSimulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Where the spec a synthetic catalogue was made from is recorded.
const SYNTHETIC_META_KEY: &str = "synthetic";

/// Whether `--synthetic spec` must make its facility (`true`: the database is empty) or may reuse
/// the one already there (`false`: made from the same spec); any other catalogue is an error.
fn reuse_or_make(db: &Db, spec: &SyntheticSpec, path: Option<&Path>) -> Result<bool, SimError> {
    let requested = spec.canonical();
    let wrap = |e: IcatError| SimError::Synthetic(e.to_string());
    let made = match db.meta(SYNTHETIC_META_KEY).map_err(wrap)? {
        Some(made) if made == requested => {
            tracing::info!(spec = %made, "reusing the synthetic facility in the database");
            return Ok(false);
        }
        Some(made) => format!("made from --synthetic {made}"),
        None => match db.object_count().map_err(wrap)? {
            0 => return Ok(true),
            n => format!("of {n} objects"),
        },
    };
    Err(SimError::SyntheticMismatch {
        db: path.map_or_else(|| ":memory:".to_string(), |p| p.display().to_string()),
        made,
        requested,
    })
}

/// The user recorded as creator of loaded and synthetic data: the first root user.
fn loader_user(config: &SimConfig) -> String {
    config
        .root_user_names
        .first()
        .cloned()
        .unwrap_or_else(|| "simple/root".to_string())
}
