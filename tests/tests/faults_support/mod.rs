//! Shared helpers of the `faults_*` tests: a simulator with a small synthetic facility, sessions,
//! download plans of its datafiles, quick retry settings, and checks of the end state on disk.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use icat_ids::{
    DatafileSpec, DownloadOptions, DownloadPlan, IdsClient, TransportOptions, WaitOptions,
};
use icat_sim::data::synthetic::SyntheticSpec;
use icat_sim::{RunningSimulator, Simulator, SimulatorBuilder};
use icat_soap::client::{Client, Credentials, RetryPolicy, Session};
use icat_soap::model::{Datafile, Entity, Value};

/// Bytes per synthetic datafile: several read chunks of the simulator, small enough to be quick.
pub const FILE_SIZE: u64 = 48 * 1024;

/// A builder for a facility of `datasets` datasets of `files` files each (one visit).
pub fn facility(datasets: u32, files: u32) -> SimulatorBuilder {
    Simulator::builder().synthetic(SyntheticSpec {
        visits: 1,
        datasets,
        files,
        size: FILE_SIZE,
        ..SyntheticSpec::default()
    })
}

/// Starts `builder`, panicking with the error if it cannot.
pub async fn start(builder: SimulatorBuilder) -> RunningSimulator {
    builder.start().await.expect("simulator starts")
}

/// Root's credentials of the default configuration.
pub fn root() -> Credentials {
    Credentials::new()
        .with("username", "root")
        .with("password", "secret")
}

/// An ICAT client with fast retries (so storms pass quickly).
pub fn icat_client(url: &str) -> Client {
    Client::builder(url)
        .retry(RetryPolicy::new(3, Duration::from_millis(5)))
        .build()
        .expect("client")
}

/// Logs in as root; with `relogin` the session keeps the credentials to log in again.
pub async fn login(sim: &RunningSimulator, relogin: bool) -> Session {
    let client = icat_client(&sim.icat_url());
    if relogin {
        client.login_with_relogin("simple", &root()).await
    } else {
        client.login("simple", &root()).await
    }
    .expect("login")
}

/// Every datafile of the facility, with its dataset and investigation, by id.
pub async fn datafiles(session: &Session) -> Vec<Datafile> {
    session
        .search("SELECT df FROM Datafile df ORDER BY df.id INCLUDE df.dataset.investigation")
        .await
        .expect("datafiles")
        .into_iter()
        .filter_map(|v| match v {
            Value::Entity(Entity::Datafile(df)) => Some(*df),
            _ => None,
        })
        .collect()
}

/// Fast retry settings for the IDS client: `max_retries` retries from 5 ms.
pub fn quick_retry(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        multiplier: 2.0,
        jitter: 0.2,
    }
}

/// Fast polls of a wait for restored data.
pub fn quick_pace() -> icat_ids::PollPace {
    icat_ids::PollPace {
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(40),
        multiplier: 2.0,
        jitter: 0.2,
    }
}

/// An IDS client that takes its session id from `session` before every call.
pub fn ids_client(sim: &RunningSimulator, session: &Session) -> IdsClient {
    IdsClient::new(&sim.ids_url(), TransportOptions::default())
        .expect("ids client")
        .with_retry(quick_retry(3))
        .with_session_source(Arc::new(session.clone()))
}

/// Download options with quick retries: `max_retries` per file, one file at a time when
/// `sequential` (so faults hit files in a known order).
pub fn quick_options(max_retries: u32, sequential: bool) -> DownloadOptions {
    DownloadOptions {
        concurrency: if sequential { 1 } else { 4 },
        retry: quick_retry(max_retries),
        wait_for_restore: Some(WaitOptions {
            pace: quick_pace(),
            deadline: Duration::from_secs(60),
            ..WaitOptions::default()
        }),
        // Crash safety is not what these tests are about; fsync only slows them down.
        fsync: false,
        ..DownloadOptions::default()
    }
}

/// A plan of `files` into `dest`.
pub fn plan(dest: &Path, files: &[Datafile]) -> DownloadPlan {
    let mut plan = DownloadPlan::new(dest);
    for df in files {
        plan.push(DatafileSpec::from_datafile(df).expect("spec"));
    }
    plan
}

/// Every regular file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// The CRC32 of a file's contents.
pub fn crc_of(path: &Path) -> u32 {
    crc32fast::hash(&std::fs::read(path).expect("read downloaded file"))
}

/// The CRC32 a catalogue checksum (hex, padded or not) stands for.
pub fn catalogue_crc(checksum: Option<&str>) -> u32 {
    u32::from_str_radix(checksum.expect("a checksum"), 16).expect("a hex CRC32")
}

/// Asserts that every file of `plan` is at its final path with the catalogue's size and CRC32,
/// and that nothing else (no `.part` file) is left under the destination.
pub fn assert_all_verified(plan: &DownloadPlan) {
    let mut expected: Vec<PathBuf> = plan
        .files
        .iter()
        .map(|f| f.path.under(&plan.dest))
        .collect();
    expected.sort();
    assert_eq!(files_under(&plan.dest), expected, "files on disk");
    for spec in &plan.files {
        let path = spec.path.under(&plan.dest);
        let len = std::fs::metadata(&path).expect("final file").len();
        assert_eq!(Some(len), spec.expected.size, "{}", path.display());
        assert_eq!(
            crc_of(&path),
            catalogue_crc(spec.expected.checksum.as_deref()),
            "{}",
            path.display()
        );
    }
}

/// Asserts that nothing but `.part` files exists under `dir`.
pub fn assert_only_part_files(dir: &Path) {
    for f in files_under(dir) {
        assert!(
            f.extension().is_some_and(|e| e == "part"),
            "a non-.part file was left: {}",
            f.display()
        );
    }
}
