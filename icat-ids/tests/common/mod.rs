//! Shared fixture: the simulator's IDS over a small in-memory catalogue, and an `IdsClient` for it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use icat_ids::{
    DownloadOptions, Expected, IdsClient, PollPace, RetryPolicy, SessionId, TransportOptions,
    WaitOptions,
};
use icat_sim::ids::{IdsServer, IdsSettings, IdsState, MemoryCatalog};

pub struct Fixture {
    pub server: IdsServer,
    pub catalog: Arc<MemoryCatalog>,
    pub storage_dir: tempfile::TempDir,
    pub client: IdsClient,
    pub root_session: String,
    pub facility: i64,
    pub investigation: i64,
    /// Dataset "greetings": two small text files.
    pub dataset: i64,
    /// Dataset "raw data": one 300 kB file.
    pub dataset2: i64,
    pub df_small: i64,
    pub df_small2: i64,
    pub df_big: i64,
    pub format: i64,
}

pub const SMALL: &[u8] = b"Hello John Doe!\n";
pub const SMALL2: &[u8] = b"Hello Nicolas Bourbaki!\n";

pub fn big_bytes() -> Vec<u8> {
    let mut v = vec![0u8; 300_000];
    icat_sim::ids::fill_pattern(7, 0, &mut v);
    v
}

/// Fast retries so tests do not sleep long: `max_retries` retries from 20 ms.
pub fn quick_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        multiplier: 2.0,
        jitter: 0.1,
    }
}

/// Fast polls so tests do not sleep long.
pub fn quick_pace() -> PollPace {
    PollPace {
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(200),
        multiplier: 2.0,
        jitter: 0.1,
    }
}

pub fn quick_options() -> DownloadOptions {
    DownloadOptions {
        retry: quick_retry(icat_ids::DEFAULT_DOWNLOAD_RETRY.max_retries),
        wait_for_restore: Some(quick_wait()),
        ..DownloadOptions::default()
    }
}

pub fn quick_wait() -> WaitOptions {
    WaitOptions {
        pace: quick_pace(),
        deadline: Duration::from_secs(30),
        ..WaitOptions::default()
    }
}

impl Fixture {
    pub async fn new() -> Fixture {
        Self::with_settings(IdsSettings::default()).await
    }

    pub async fn two_level() -> Fixture {
        Self::with_settings(IdsSettings {
            two_level: true,
            restore_delay: Duration::from_millis(300),
            ..IdsSettings::default()
        })
        .await
    }

    pub async fn with_settings(settings: IdsSettings) -> Fixture {
        let storage_dir = tempfile::tempdir().unwrap();
        let catalog = Arc::new(MemoryCatalog::new(
            "https://icat.example.org/ICATService/ICAT",
        ));
        let facility = catalog.add_facility("ESNF");
        let investigation = catalog.add_investigation(facility, "12100409-ST", "1.1-P");
        let dataset = catalog.add_dataset(investigation, "greetings");
        let dataset2 = catalog.add_dataset(investigation, "raw data");
        let format = catalog.add_datafile_format("Text");
        let state = IdsState::new(catalog.clone(), storage_dir.path(), settings).unwrap();
        let add = |ds: i64, name: &str, loc: &str, bytes: &[u8]| {
            let stored = state.storage().write_bytes(loc, bytes).unwrap();
            catalog.add_datafile(
                ds,
                name,
                Some(loc),
                Some(stored.size as i64),
                Some(&stored.checksum_hex()),
            )
        };
        let df_small = add(dataset, "greet-jdoe.txt", "a/greet-jdoe", SMALL);
        let df_small2 = add(dataset, "greet-nbour.txt", "a/greet-nbour", SMALL2);
        let df_big = add(dataset2, "big file.bin", "b/big", &big_bytes());
        let session = catalog.login("db/jdoe");
        let root_session = catalog.login("simple/root");
        catalog.add_root_user("simple/root");
        let server = IdsServer::start(state).await.unwrap();
        let client = IdsClient::new(server.url(), TransportOptions::default())
            .unwrap()
            .with_session(SessionId::new(session))
            .with_retry(quick_retry(3));
        Fixture {
            server,
            catalog,
            storage_dir,
            client,
            root_session,
            facility,
            investigation,
            dataset,
            dataset2,
            df_small,
            df_small2,
            df_big,
            format,
        }
    }

    /// What the catalogue says about a datafile.
    pub fn expected(&self, id: i64) -> Expected {
        let df = self.catalog.datafile(id).unwrap();
        Expected {
            size: df.file_size.map(|s| s as u64),
            checksum: df.checksum,
        }
    }
}

/// Every regular file under `root`, sorted.
pub fn all_files(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in rd {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}
