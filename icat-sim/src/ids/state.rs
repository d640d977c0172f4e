//! Shared state of the IDS: catalogue, storage, settings, faults and two-level bookkeeping.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use super::catalog::{CatalogError, DatasetInfo, IdsCatalog};
use super::error::{IdsError, IdsResult};
use super::faults::{FaultSettings, Faults};
use super::links::Links;
use super::prepared::PreparedStore;
use super::settings::IdsSettings;
use super::storage::{Storage, StorageError};
use crate::network::Network;

/// The message of 503 answers for offline data (storageUnit=dataset).
pub const NOT_ONLINE_MESSAGE: &str = "Before putting, getting or deleting a datafile, its dataset has to be restored, restoration requested automatically";

/// Archive status of a selection, as `getStatus` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataStatus {
    /// Everything is in main storage.
    Online,
    /// Some data is being restored and none is archived without a restore.
    Restoring,
    /// Some data is archived and not being restored.
    Archived,
}

impl DataStatus {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataStatus::Online => "ONLINE",
            DataStatus::Restoring => "RESTORING",
            DataStatus::Archived => "ARCHIVED",
        }
    }
}

#[derive(Debug, Default)]
struct TwoLevel {
    /// Datasets being restored, with the generation of their restore task.
    restoring: BTreeMap<i64, (DatasetInfo, u64)>,
    /// Datasets whose last restore failed.
    failures: BTreeSet<i64>,
}

/// Locks held on one dataset (the real IDS's non-blocking LockManager).
#[derive(Debug, Default, Clone, Copy)]
struct DatasetLock {
    shared: u32,
    exclusive: bool,
}

/// A lock on some datasets, released when dropped.
#[derive(Debug)]
pub struct LockGuard {
    state: IdsState,
    dataset_ids: Vec<i64>,
    exclusive: bool,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let mut locks = self.state.locks();
        for id in &self.dataset_ids {
            if let Some(lock) = locks.get_mut(id) {
                if self.exclusive {
                    lock.exclusive = false;
                } else {
                    lock.shared = lock.shared.saturating_sub(1);
                }
                if lock.shared == 0 && !lock.exclusive {
                    locks.remove(id);
                }
            }
        }
    }
}

struct Inner {
    locks: Mutex<BTreeMap<i64, DatasetLock>>,
    catalog: Arc<dyn IdsCatalog>,
    storage: Storage,
    prepared: PreparedStore,
    links: Links,
    settings: IdsSettings,
    faults: Faults,
    two_level: Mutex<TwoLevel>,
    generation: AtomicU64,
    /// The tape drives: one permit per restore that may run (none: no limit).
    drives: Option<Arc<tokio::sync::Semaphore>>,
    /// The facility profile's network, when the simulator runs with one.
    network: OnceLock<Network>,
}

/// Everything the IDS handlers share; cheap to clone.
#[derive(Clone)]
pub struct IdsState {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for IdsState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdsState")
            .field("storage", &self.inner.storage.dir())
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl IdsState {
    /// State over `catalog`, with files under `storage_dir` (created if needed).
    pub fn new(
        catalog: Arc<dyn IdsCatalog>,
        storage_dir: impl Into<PathBuf>,
        settings: IdsSettings,
    ) -> Result<IdsState, StorageError> {
        Self::with_faults(catalog, storage_dir, settings, FaultSettings::default())
    }

    /// As [`IdsState::new`], starting with the given faults switched on.
    pub fn with_faults(
        catalog: Arc<dyn IdsCatalog>,
        storage_dir: impl Into<PathBuf>,
        settings: IdsSettings,
        faults: FaultSettings,
    ) -> Result<IdsState, StorageError> {
        let storage = Storage::open(storage_dir)?;
        let prepared =
            PreparedStore::open(storage.dir().join("prepared"), settings.prepared_count)?;
        let links = Links::open(storage.dir(), settings.link_lifetime)?;
        let drives = (settings.tape_drives > 0)
            .then(|| Arc::new(tokio::sync::Semaphore::new(settings.tape_drives)));
        Ok(IdsState {
            inner: Arc::new(Inner {
                locks: Mutex::default(),
                catalog,
                storage,
                prepared,
                links,
                settings,
                faults: Faults::new(faults),
                two_level: Mutex::default(),
                generation: AtomicU64::new(0),
                drives,
                network: OnceLock::new(),
            }),
        })
    }

    /// The catalogue.
    pub fn catalog(&self) -> &Arc<dyn IdsCatalog> {
        &self.inner.catalog
    }

    /// The file storage.
    pub fn storage(&self) -> &Storage {
        &self.inner.storage
    }

    /// The settings.
    pub fn settings(&self) -> &IdsSettings {
        &self.inner.settings
    }

    /// Shape this IDS with the facility profile `network` (once; later calls are ignored).
    pub fn set_network(&self, network: Network) {
        let _ = self.inner.network.set(network);
    }

    /// The facility profile's network, when there is one.
    pub fn network(&self) -> Option<&Network> {
        self.inner.network.get()
    }

    /// The runtime fault knobs.
    pub fn faults(&self) -> &Faults {
        &self.inner.faults
    }

    pub(crate) fn prepared(&self) -> &PreparedStore {
        &self.inner.prepared
    }

    /// The directory holding `getLink` links (absolute).
    pub fn link_dir(&self) -> &std::path::Path {
        self.inner.links.dir()
    }

    /// Make a `getLink` hard link to the file at `location` for `username` (see
    /// [`super::links`]); returns its absolute path.
    pub(crate) async fn make_link(&self, location: String, username: String) -> IdsResult<PathBuf> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            state
                .inner
                .links
                .link(&state.inner.storage, &location, &username)
        })
        .await
        .map_err(|e| IdsError::Internal(format!("making a link failed: {e}")))?
        .map_err(IdsError::from)
    }

    /// Remove expired `getLink` links whenever one is due, forever; never finishes, and does
    /// nothing when links are off. Servers run it next to themselves and drop it when they stop,
    /// so no task outlives the server.
    pub async fn sweep_links(self) {
        if !self.inner.settings.links_enabled() {
            return std::future::pending().await;
        }
        loop {
            let now = std::time::Instant::now();
            // Every new link expires after the ones already made: waiting for the earliest
            // expiry, or a whole lifetime when there is none, misses nothing.
            let wait = match self.inner.links.next_expiry() {
                Some(at) => at.saturating_duration_since(now),
                None => self.inner.links.lifetime(),
            };
            tokio::time::sleep(wait).await;
            let state = self.clone();
            if let Err(e) =
                tokio::task::spawn_blocking(move || state.inner.links.remove_expired()).await
            {
                tracing::warn!(error = %e, "removing expired links failed");
            }
        }
    }

    /// Run a catalogue call on a blocking thread.
    pub(crate) async fn with_catalog<T, F>(&self, f: F) -> IdsResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&dyn IdsCatalog) -> Result<T, CatalogError> + Send + 'static,
    {
        let catalog = self.inner.catalog.clone();
        match tokio::task::spawn_blocking(move || f(catalog.as_ref())).await {
            Ok(result) => result.map_err(IdsError::from),
            Err(e) => Err(IdsError::Internal(format!("catalogue call failed: {e}"))),
        }
    }

    fn two_level(&self) -> MutexGuard<'_, TwoLevel> {
        // The bookkeeping is updated in single statements; a poisoned lock is taken over.
        self.inner
            .two_level
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    fn locks(&self) -> MutexGuard<'_, BTreeMap<i64, DatasetLock>> {
        // Lock counts are updated in single statements; a poisoned lock is taken over.
        self.inner.locks.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take a SHARED (getData, put) or EXCLUSIVE (delete) lock on datasets; a conflict gives
    /// 503 `Data is busy`, as the real IDS's non-blocking locks do.
    pub(crate) fn lock_datasets(
        &self,
        datasets: &[DatasetInfo],
        exclusive: bool,
    ) -> IdsResult<LockGuard> {
        let mut locks = self.locks();
        let busy = datasets.iter().any(|ds| {
            locks
                .get(&ds.id)
                .is_some_and(|l| l.exclusive || (exclusive && l.shared > 0))
        });
        if busy {
            return Err(IdsError::DataNotOnline("Data is busy".to_string()));
        }
        let mut dataset_ids: Vec<i64> = datasets.iter().map(|ds| ds.id).collect();
        dataset_ids.sort_unstable();
        dataset_ids.dedup();
        for id in &dataset_ids {
            let lock = locks.entry(*id).or_default();
            if exclusive {
                lock.exclusive = true;
            } else {
                lock.shared += 1;
            }
        }
        Ok(LockGuard {
            state: self.clone(),
            dataset_ids,
            exclusive,
        })
    }

    /// Locked datasets as (id, exclusive, count), for `getServiceStatus`.
    pub(crate) fn lock_info(&self) -> Vec<(i64, bool, u32)> {
        self.locks()
            .iter()
            .map(|(id, l)| (*id, l.exclusive, if l.exclusive { 1 } else { l.shared }))
            .collect()
    }

    /// Fail with 500 "Restore failed" if any of the datasets has a failed restore.
    pub(crate) fn check_failures(&self, datasets: &[DatasetInfo]) -> IdsResult<()> {
        let tl = self.two_level();
        if datasets.iter().any(|ds| tl.failures.contains(&ds.id)) {
            return Err(IdsError::Internal("Restore failed".to_string()));
        }
        Ok(())
    }

    /// Clear the "restore failed" flags of these datasets.
    pub(crate) fn clear_failures(&self, datasets: &[DatasetInfo]) {
        let mut tl = self.two_level();
        for ds in datasets {
            tl.failures.remove(&ds.id);
        }
    }

    /// The `getStatus` answer for these datasets (two-level; checks failure flags first).
    pub(crate) fn status(&self, datasets: &[DatasetInfo]) -> IdsResult<DataStatus> {
        self.check_failures(datasets)?;
        let tl = self.two_level();
        let mut status = DataStatus::Online;
        for ds in datasets {
            if tl.restoring.contains_key(&ds.id) {
                status = DataStatus::Restoring;
            } else if self.inner.storage.is_archived(ds.id) {
                return Ok(DataStatus::Archived);
            }
        }
        Ok(status)
    }

    /// Whether a dataset is in main storage (not archived, not being restored).
    pub(crate) fn is_online(&self, dataset_id: i64) -> bool {
        !self.inner.storage.is_archived(dataset_id)
    }

    /// Queue restores of the archived datasets among these; returns whether all are online.
    pub(crate) fn restore_offline(&self, datasets: &[DatasetInfo]) -> bool {
        let mut all_online = true;
        for ds in datasets {
            if !self.is_online(ds.id) {
                all_online = false;
                self.queue_restore(ds);
            }
        }
        all_online
    }

    /// Fail with 503 (and start restores) unless all these datasets are online.
    pub(crate) fn require_online(&self, datasets: &[DatasetInfo]) -> IdsResult<()> {
        if !self.inner.settings.two_level || self.restore_offline(datasets) {
            Ok(())
        } else {
            Err(IdsError::DataNotOnline(NOT_ONLINE_MESSAGE.to_string()))
        }
    }

    /// Start restoring an archived dataset unless a restore is already running.
    pub(crate) fn queue_restore(&self, ds: &DatasetInfo) {
        if !self.inner.storage.is_archived(ds.id) {
            return;
        }
        let generation = self.inner.generation.fetch_add(1, Ordering::Relaxed);
        {
            let mut tl = self.two_level();
            if tl.restoring.contains_key(&ds.id) {
                return;
            }
            tl.restoring.insert(ds.id, (ds.clone(), generation));
        }
        tracing::debug!(dataset = ds.id, "restore queued");
        let state = self.clone();
        let dataset_id = ds.id;
        let record = self.network().map(|n| {
            (
                n.restore_queued(dataset_id, tokio::time::Instant::now()),
                n.clone(),
            )
        });
        tokio::spawn(async move {
            // Wait for a tape drive (in order of request); a restore cancelled meanwhile by an
            // archive call gives its turn away without using the drive.
            let drive = match &state.inner.drives {
                Some(drives) => drives.clone().acquire_owned().await.map(Some),
                None => Ok(None),
            };
            let (Ok(_drive), true) = (drive, state.restore_is_current(dataset_id, generation))
            else {
                if let Some((id, network)) = &record {
                    network.restore_dropped(*id);
                }
                return;
            };
            tracing::debug!(dataset = dataset_id, "restore started");
            if let Some((id, network)) = &record {
                network.restore_started(*id, tokio::time::Instant::now());
            }
            tokio::time::sleep(state.inner.settings.restore_time(dataset_id)).await;
            state.finish_restore(dataset_id, generation);
            if let Some((id, network)) = &record {
                network.restore_done(*id, tokio::time::Instant::now());
            }
        });
    }

    fn restore_is_current(&self, dataset_id: i64, generation: u64) -> bool {
        matches!(self.two_level().restoring.get(&dataset_id), Some((_, g)) if *g == generation)
    }

    fn finish_restore(&self, dataset_id: i64, generation: u64) {
        let mut tl = self.two_level();
        match tl.restoring.get(&dataset_id) {
            Some((_, g)) if *g == generation => {}
            _ => return,
        }
        tl.restoring.remove(&dataset_id);
        if self.inner.faults.restores_fail() {
            tracing::info!(dataset = dataset_id, "restore failed (injected fault)");
            tl.failures.insert(dataset_id);
            return;
        }
        drop(tl);
        match self.inner.storage.set_archived([dataset_id], false) {
            Ok(()) => tracing::debug!(dataset = dataset_id, "restore complete"),
            Err(e) => {
                tracing::warn!(dataset = dataset_id, error = %e, "restore failed");
                self.two_level().failures.insert(dataset_id);
            }
        }
    }

    /// Archive datasets now (cancelling restores in progress).
    pub(crate) fn archive(&self, datasets: &[DatasetInfo]) -> IdsResult<()> {
        {
            let mut tl = self.two_level();
            for ds in datasets {
                tl.restoring.remove(&ds.id);
            }
        }
        self.inner
            .storage
            .set_archived(datasets.iter().map(|ds| ds.id), true)?;
        Ok(())
    }

    /// Restores in progress and failure flags, for `getServiceStatus`.
    pub(crate) fn service_status(&self) -> (Vec<DatasetInfo>, Vec<i64>) {
        let tl = self.two_level();
        (
            tl.restoring.values().map(|(ds, _)| ds.clone()).collect(),
            tl.failures.iter().copied().collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::ids::MemoryCatalog;

    fn dataset(id: i64) -> DatasetInfo {
        DatasetInfo {
            id,
            name: format!("ds{id}"),
            location: None,
            investigation_id: 1,
            investigation_name: "inv".into(),
            visit_id: "1".into(),
            facility_id: 1,
            facility_name: "SIM".into(),
        }
    }

    fn two_level(dir: &std::path::Path, settings: IdsSettings, archived: &[i64]) -> IdsState {
        let catalog = Arc::new(MemoryCatalog::new("http://localhost/ICATService/ICAT"));
        let state = IdsState::new(
            catalog,
            dir,
            IdsSettings {
                two_level: true,
                ..settings
            },
        )
        .unwrap();
        state
            .storage()
            .set_archived(archived.iter().copied(), true)
            .unwrap();
        state
    }

    fn online(state: &IdsState, ids: &[i64]) -> usize {
        ids.iter().filter(|id| state.is_online(**id)).count()
    }

    /// Restores wait for a tape drive: with 2 drives and 10 s per restore, 5 datasets come online
    /// 2, 2 and 1 at a time (by the simulator's clock, run paused).
    #[tokio::test(start_paused = true)]
    async fn restores_run_at_most_as_many_at_once_as_there_are_tape_drives() {
        let dir = tempfile::tempdir().unwrap();
        let ids = [1, 2, 3, 4, 5];
        let settings = IdsSettings {
            restore_delay: Duration::from_secs(10),
            tape_drives: 2,
            ..IdsSettings::default()
        };
        let state = two_level(dir.path(), settings, &ids);
        let datasets: Vec<DatasetInfo> = ids.iter().map(|id| dataset(*id)).collect();
        assert!(!state.restore_offline(&datasets));
        let start = tokio::time::Instant::now();
        for (secs, expected) in [(9, 0), (11, 2), (19, 2), (21, 4), (29, 4), (31, 5)] {
            tokio::time::sleep_until(start + Duration::from_secs(secs)).await;
            assert_eq!(online(&state, &ids), expected, "after {secs} s");
        }
        assert_eq!(state.status(&datasets).unwrap(), DataStatus::Online);
    }

    /// Without a drive limit they all run at once; the restore times are drawn per dataset from
    /// the seeded distribution, the same every time and within delay +- jitter.
    #[tokio::test(start_paused = true)]
    async fn restore_times_come_from_the_seeded_distribution() {
        let settings = IdsSettings {
            restore_delay: Duration::from_secs(10),
            restore_jitter: Duration::from_secs(5),
            restore_seed: 7,
            ..IdsSettings::default()
        };
        let times: Vec<Duration> = (1..=50).map(|id| settings.restore_time(id)).collect();
        assert_eq!(
            times,
            (1..=50)
                .map(|id| settings.restore_time(id))
                .collect::<Vec<_>>()
        );
        assert!(
            times
                .iter()
                .all(|t| (5.0..=15.0).contains(&t.as_secs_f64()))
        );
        assert!(times.iter().any(|t| t.as_secs_f64() < 8.0));
        assert!(times.iter().any(|t| t.as_secs_f64() > 12.0));
        let other_seed = IdsSettings {
            restore_seed: 8,
            ..settings.clone()
        };
        assert_ne!(times[0], other_seed.restore_time(1));

        let dir = tempfile::tempdir().unwrap();
        let ids: Vec<i64> = (1..=5).collect();
        let state = two_level(dir.path(), settings.clone(), &ids);
        let datasets: Vec<DatasetInfo> = ids.iter().map(|id| dataset(*id)).collect();
        assert!(!state.restore_offline(&datasets));
        let mut by_time: Vec<(Duration, i64)> = ids
            .iter()
            .map(|id| (settings.restore_time(*id), *id))
            .collect();
        by_time.sort();
        let start = tokio::time::Instant::now();
        for (i, (at, id)) in by_time.iter().enumerate() {
            // Just before its time the dataset is still restoring, just after it is online.
            tokio::time::sleep_until(start + *at - Duration::from_millis(1)).await;
            assert!(!state.is_online(*id), "dataset {id} early");
            tokio::time::sleep_until(start + *at + Duration::from_millis(1)).await;
            assert!(state.is_online(*id), "dataset {id} late");
            assert_eq!(online(&state, &ids), i + 1);
        }
    }
}
