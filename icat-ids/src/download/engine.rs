//! Running a plan's transfers (raw streams, bundles, stripes) under one adaptive concurrency
//! limit, with the tape pipeline: when the plan knows its datasets, their status is asked up
//! front, restores of every archived dataset are requested in one call, each transfer of an
//! archived dataset is prepared at once (so everything after that runs by prepared id and a
//! session that lapses during a long restore does not matter), and each dataset is downloaded
//! as soon as it is online, not when the whole selection is.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use futures_util::StreamExt;
use tokio::sync::Semaphore;

use super::adaptive::Limiter;
use super::budget::stops_the_run;
use super::digest::digest_existing;
use super::plan::DownloadPlan;
use super::raw::{Flow, RawOutcome};
use super::report::IgnoredEntry;
use super::restore_wait::RestoreClock;
use super::split::Item;
use super::zipfile::Wanted;
use super::{DownloadOptions, Phase, Progress};
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::prepare::NoticeWithin;
use crate::selection::{DataSelection, PreparedId};
use crate::types::{Packing, Status};

/// A file's result; errors shared by several files (a failed bundle or restore) are one `Arc`.
pub(crate) type FileResult = Result<RawOutcome, Arc<IdsError>>;

/// Prepared requests made in advance at most this many at a time.
const PREPARE_AT_ONCE: usize = 4;

/// `getStatus` calls per dataset made at once when the selection is not all online.
const STATUS_AT_ONCE: usize = 8;

/// Transfers under way per request slot of the cap (see [`Run::open`]).
const OPEN_PER_SLOT: usize = 2;

/// Times one transfer is prepared again when the IDS no longer knows its prepared id (its
/// prepared file was removed: ids.server's `Tidier` keeps only the newest `preparedCount`, and
/// an administrator may clear the prepared folder), before its files fail.
pub(crate) const PREPARE_AGAIN: u32 = 3;

/// Whether `e` says the IDS no longer knows the prepared id `id` (ids.server answers
/// `NotFoundException` "The preparedId <id> is not known" for getData, isPrepared, getStatus
/// and getSize by that id: IdsBean.java).
pub(crate) fn prepared_id_lost(e: &IdsError, id: &PreparedId) -> bool {
    let e = match e {
        IdsError::RetriesExhausted { last, .. } => last.as_ref(),
        e => e,
    };
    matches!(e, IdsError::NotFound { message } if message.contains(id.as_str()))
}

/// How one try of a transfer ended.
enum Tried {
    /// Its results are recorded.
    Done,
    /// The IDS no longer knows this prepared id: nothing is recorded, prepare it again.
    Lost(PreparedId),
}

/// What a run collects.
#[derive(Default)]
pub(crate) struct Collected {
    pub results: HashMap<usize, FileResult>,
    pub ignored: Vec<IgnoredEntry>,
}

/// The shared state of one run.
struct Run<'a> {
    plan: &'a DownloadPlan,
    opts: &'a DownloadOptions,
    limiter: &'a Limiter,
    /// Bounds the transfers that are under way at once (open temporary files), whatever the
    /// limit: twice the cap, so that while `cap` requests move data (the limiter holds them to
    /// its limit), as many others prepare their zip or finish (fsync, extraction, rename)
    /// without holding a request slot idle.
    open: Semaphore,
    /// Bounds the `prepareData` calls made in advance, over all datasets.
    prepares: Semaphore,
    /// The run's one restore deadline (`None`: offline data is not waited for).
    restore: Option<RestoreClock>,
    out: Mutex<Collected>,
}

impl Run<'_> {
    fn put(&self, i: usize, r: FileResult) {
        self.out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .results
            .insert(i, r);
    }

    fn report(&self, i: usize, phase: Phase) {
        report_file(self.opts, self.plan, i, phase);
    }

    /// Why the run stopped (its retry budget is spent or the session is gone), if it did.
    fn stopped(&self) -> Option<Arc<IdsError>> {
        self.opts.retry_budget.as_ref().and_then(|b| b.stopped())
    }

    /// The error files of a failed transfer share: when it ends the whole run (a spent budget,
    /// a lost session), the run is stopped and the shared reason is the run's.
    fn shared_failure(&self, e: IdsError) -> Arc<IdsError> {
        match &self.opts.retry_budget {
            Some(budget) if stops_the_run(&e) => {
                budget.stop(e);
                budget.stopped().unwrap_or_else(|| {
                    Arc::new(IdsError::Internal {
                        message: "the run stopped without a reason".into(),
                    })
                })
            }
            _ => Arc::new(e),
        }
    }

    /// A transfer's result; an error that ends the whole run stops it, and every file then
    /// shares that one reason.
    fn put_transfer(&self, i: usize, r: Result<RawOutcome, IdsError>) {
        self.put(i, r.map_err(|e| self.shared_failure(e)));
    }
}

/// A transfer ready to run: the item, and its prepared id when it was prepared in advance.
struct Ready {
    item: Item,
    bundle_no: usize,
    prepared: Option<PreparedId>,
}

impl IdsClient {
    /// Run `items` of `plan`; the tape pipeline applies when the plan's files carry dataset ids
    /// and waiting for restores is allowed.
    pub(crate) async fn run_items(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        items: Vec<Item>,
        limiter: &Limiter,
    ) -> Collected {
        let run = Run {
            plan,
            opts,
            limiter,
            open: Semaphore::new(opts.concurrency.max(1).saturating_mul(OPEN_PER_SLOT)),
            prepares: Semaphore::new(PREPARE_AT_ONCE),
            restore: RestoreClock::start(opts.wait_for_restore.as_ref()),
            out: Mutex::new(Collected::default()),
        };
        // A file already at its final path is checked locally (skipped, or an error), whatever
        // its dataset's status: it never waits for a restore.
        let mut local = Vec::new();
        let mut remote = Vec::new();
        for (no, item) in items.into_iter().enumerate() {
            match item {
                Item::Raw(i)
                    if tokio::fs::symlink_metadata(plan.files[i].path.under(&plan.dest))
                        .await
                        .is_ok() =>
                {
                    local.push((no, item));
                }
                _ => remote.push((no, item)),
            }
        }
        self.run_group(&run, local, false).await;
        let items: Vec<&Item> = remote.iter().map(|(_, item)| item).collect();
        let offline = self.offline_datasets(plan, opts, &items).await;
        // Group by dataset, keeping the split's order inside a group.
        let mut groups: BTreeMap<Option<i64>, Vec<(usize, Item)>> = BTreeMap::new();
        for (no, item) in remote {
            let ds = item.indices().first().and_then(|&i| plan.files[i].dataset);
            groups.entry(ds).or_default().push((no, item));
        }
        if !offline.is_empty() {
            self.request_restores(plan, opts, &groups, &offline).await;
        }
        let tasks = groups.into_iter().map(|(ds, items)| {
            let archived = ds.is_some_and(|d| offline.contains_key(&d));
            self.run_group(&run, items, archived)
        });
        futures_util::future::join_all(tasks).await;
        let mut out = run.out.into_inner().unwrap_or_else(|e| e.into_inner());
        if let Some(clock) = &run.restore {
            self.restore_stragglers(plan, opts, limiter, clock, &mut out)
                .await;
        }
        out
    }

    /// The datasets of the plan that are not online (empty when the plan knows no datasets, the
    /// caller does not wait for restores, or the IDS does not say).
    async fn offline_datasets(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        items: &[&Item],
    ) -> HashMap<i64, Status> {
        let mut out = HashMap::new();
        if opts.wait_for_restore.is_none() {
            return out;
        }
        let mut datasets: Vec<i64> = items
            .iter()
            .flat_map(|item| item.indices())
            .filter_map(|i| plan.files[i].dataset)
            .collect();
        datasets.sort_unstable();
        datasets.dedup();
        if datasets.is_empty() {
            return out;
        }
        // One call for the whole selection; only when something is not online, one per dataset.
        match self
            .get_status(&DataSelection::datasets(datasets.iter().copied()))
            .await
        {
            Ok(Status::Online) => return out,
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "getStatus failed; restores are handled file by file");
                return out;
            }
        }
        // Several at once: one after the other, 20 datasets cost 20 round trips before the
        // restores are asked for, and every restore starts that much later.
        let statuses: Vec<(i64, Result<Status, IdsError>)> = futures_util::stream::iter(datasets)
            .map(|d| async move { (d, self.get_status(&DataSelection::datasets([d])).await) })
            .buffer_unordered(STATUS_AT_ONCE)
            .collect()
            .await;
        for (d, r) in statuses {
            match r {
                Ok(Status::Online) => {}
                Ok(s) => {
                    out.insert(d, s);
                }
                Err(e) => tracing::debug!(dataset = d, error = %e, "getStatus failed"),
            }
        }
        tracing::info!(datasets = out.len(), "archived datasets; restoring them");
        out
    }

    /// One `restore` call for every archived dataset of the plan (a failure is only logged:
    /// preparing the data asks for the restore too).
    async fn request_restores(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        groups: &BTreeMap<Option<i64>, Vec<(usize, Item)>>,
        offline: &HashMap<i64, Status>,
    ) {
        let mut ids: Vec<i64> = offline.keys().copied().collect();
        ids.sort_unstable();
        if let Err(e) = self.restore(&DataSelection::datasets(ids)).await {
            tracing::info!(error = %e, "restore request failed; preparing the data restores it");
        }
        for (ds, items) in groups {
            if ds.is_some_and(|d| offline.contains_key(&d)) {
                for (_, item) in items {
                    for i in item.indices() {
                        report_file(opts, plan, i, Phase::WaitingForRestore);
                    }
                }
            }
        }
        report_restores_requested(opts);
    }

    /// One dataset's transfers: when it is archived, prepare them all now (by session), wait
    /// until they are online (by prepared id), then run them by prepared id.
    async fn run_group(&self, run: &Run<'_>, items: Vec<(usize, Item)>, archived: bool) {
        let mut ready = Vec::with_capacity(items.len());
        if archived {
            let prepared: Vec<_> = futures_util::stream::iter(items)
                .map(|(no, item)| async move {
                    let sel = DataSelection::datafiles(
                        item.indices().iter().map(|&i| run.plan.files[i].id),
                    );
                    let packing = Packing {
                        zip: matches!(item, Item::Bundle(_)),
                        compress: false,
                    };
                    let r = match run.prepares.acquire().await {
                        Ok(_slot) => self.prepare_data(&sel, packing).await,
                        Err(_) => Err(IdsError::Cancelled),
                    };
                    (no, item, r)
                })
                .buffered(PREPARE_AT_ONCE)
                .collect()
                .await;
            for (no, item, r) in prepared {
                match r {
                    Ok(id) => ready.push(Ready {
                        item,
                        bundle_no: no,
                        prepared: Some(id),
                    }),
                    Err(e) => fail_all(run, &item, Arc::new(e)),
                }
            }
            // The first wait is the restore; the others find their data online at once.
            let mut waited = Vec::with_capacity(ready.len());
            for mut r in ready {
                let Some(id) = r.prepared.take() else {
                    continue;
                };
                match self.wait_or_prepare_again(run, &r.item, id).await {
                    Ok(id) => {
                        for i in r.item.indices() {
                            run.report(i, Phase::Online);
                        }
                        r.prepared = Some(id);
                        waited.push(r);
                    }
                    Err(e) => fail_all(run, &r.item, Arc::new(e)),
                }
            }
            ready = waited;
        } else {
            ready = items
                .into_iter()
                .map(|(no, item)| Ready {
                    item,
                    bundle_no: no,
                    prepared: None,
                })
                .collect();
        }
        futures_util::future::join_all(ready.into_iter().map(|r| self.run_ready(run, r))).await;
    }

    /// Wait for the prepared data of `item`; when the IDS forgot `id` meanwhile, prepare the
    /// item again (at most [`PREPARE_AGAIN`] times) and wait for that. Returns the id to use.
    async fn wait_or_prepare_again(
        &self,
        run: &Run<'_>,
        item: &Item,
        mut id: PreparedId,
    ) -> Result<PreparedId, IdsError> {
        let mut again = 0;
        loop {
            match self.wait_for(run, &id).await {
                Ok(()) => return Ok(id),
                Err(e) if again < PREPARE_AGAIN && prepared_id_lost(&e, &id) => {
                    again += 1;
                    tracing::warn!(
                        attempt = again,
                        "the IDS no longer knows the prepared data; preparing it again"
                    );
                    id = self.prepare_item(run, item).await?;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `prepareData` of an item's datafiles (a zip for a bundle), without waiting.
    async fn prepare_item(&self, run: &Run<'_>, item: &Item) -> Result<PreparedId, IdsError> {
        let sel = DataSelection::datafiles(item.indices().iter().map(|&i| run.plan.files[i].id));
        let packing = Packing {
            zip: matches!(item, Item::Bundle(_)),
            compress: false,
        };
        let _slot = run
            .prepares
            .acquire()
            .await
            .map_err(|_| IdsError::Cancelled)?;
        self.prepare_data(&sel, packing).await
    }

    /// Wait for prepared data until the run's restore deadline.
    async fn wait_for(&self, run: &Run<'_>, id: &PreparedId) -> Result<(), IdsError> {
        let Some(clock) = &run.restore else {
            // Only archived groups wait, and only runs that wait for restores find them.
            return Ok(());
        };
        self.wait_prepared_paced(
            id,
            &clock.options(&run.opts.cancel),
            NoticeWithin::Hundredth,
        )
        .await
        .map_err(|e| clock.run_error(e))
    }

    async fn run_ready(&self, run: &Run<'_>, r: Ready) {
        let Ok(_open) = run.open.acquire().await else {
            return;
        };
        if run.opts.cancel.is_cancelled() {
            fail_all(run, &r.item, Arc::new(IdsError::Cancelled));
            return;
        }
        if let Some(why) = run.stopped() {
            // A stopped run tries no more transfers.
            fail_all(run, &r.item, why);
            return;
        }
        let mut prepared = r.prepared;
        let mut again = 0;
        loop {
            let tried = self
                .try_item(run, &r.item, r.bundle_no, prepared.as_ref())
                .await;
            let Tried::Lost(lost) = tried else { return };
            if again >= PREPARE_AGAIN || run.opts.cancel.is_cancelled() {
                fail_all(
                    run,
                    &r.item,
                    Arc::new(IdsError::NotFound {
                        message: format!(
                            "the IDS kept losing the prepared data (its preparedId {} is not \
                             known, also after preparing it again {again} times); run the \
                             command again later",
                            icat_soap::client::short_id(lost.as_str())
                        ),
                    }),
                );
                return;
            }
            again += 1;
            tracing::warn!(
                attempt = again,
                "the IDS no longer knows the prepared data; preparing it again"
            );
            // A bundle prepares (and waits) itself; a file of an archived dataset is prepared
            // and waited for here.
            prepared = match (&r.item, &prepared) {
                (Item::Bundle(_), _) | (_, None) => None,
                (item, Some(_)) => {
                    let again = match self.prepare_item(run, item).await {
                        Ok(id) => self.wait_or_prepare_again(run, item, id).await,
                        Err(e) => Err(e),
                    };
                    match again {
                        Ok(id) => Some(id),
                        Err(e) => {
                            fail_all(run, item, Arc::new(e));
                            return;
                        }
                    }
                }
            };
        }
    }

    /// One try of a transfer, by `prepared` id when there is one.
    async fn try_item(
        &self,
        run: &Run<'_>,
        item: &Item,
        bundle_no: usize,
        prepared: Option<&PreparedId>,
    ) -> Tried {
        let flow = Flow {
            limiter: Some(run.limiter),
            prepared,
        };
        let lost = |res: &Result<RawOutcome, IdsError>| match (res, prepared) {
            (Err(e), Some(id)) if prepared_id_lost(e, id) => Some(id.clone()),
            _ => None,
        };
        match *item {
            Item::Raw(i) => {
                let f = &run.plan.files[i];
                let label = f.path.as_path().display().to_string();
                let res = self
                    .fetch_raw(
                        f.id,
                        &run.plan.dest,
                        f.path.as_path(),
                        &f.expected,
                        run.opts,
                        (i, &label),
                        &flow,
                    )
                    .await;
                if let Some(id) = lost(&res) {
                    return Tried::Lost(id);
                }
                run.put_transfer(i, res);
            }
            Item::Striped { index: i, streams } => {
                let f = &run.plan.files[i];
                let label = f.path.as_path().display().to_string();
                let res = self
                    .fetch_striped(
                        f.id,
                        &run.plan.dest,
                        f.path.as_path(),
                        &f.expected,
                        run.opts,
                        (i, &label),
                        &flow,
                        streams,
                    )
                    .await;
                if let Some(id) = lost(&res) {
                    return Tried::Lost(id);
                }
                run.put_transfer(i, res);
            }
            Item::Bundle(ref indices) => {
                return self
                    .run_bundle(run, indices, bundle_no, prepared, &flow)
                    .await;
            }
        }
        Tried::Done
    }

    /// One bundle: prepared (unless it was in advance), fetched as one zip, each entry
    /// extracted, bounded and verified on its own.
    async fn run_bundle(
        &self,
        run: &Run<'_>,
        indices: &[usize],
        bundle_no: usize,
        prepared: Option<&PreparedId>,
        flow: &Flow<'_>,
    ) -> Tried {
        let plan = run.plan;
        let packing = Packing {
            zip: true,
            compress: false,
        };
        let id = match prepared {
            Some(id) => id.clone(),
            None => {
                let sel = DataSelection::datafiles(indices.iter().map(|&i| plan.files[i].id));
                let r = match self.prepare_data(&sel, packing).await {
                    Ok(id) => match self.wait_for(run, &id).await {
                        Ok(()) => Ok(id),
                        Err(e) if prepared_id_lost(&e, &id) => return Tried::Lost(id),
                        Err(e) => Err(e),
                    },
                    Err(e) => Err(e),
                };
                match r {
                    Ok(id) => id,
                    Err(e) => {
                        let e = Arc::new(e);
                        for &i in indices {
                            run.put(i, Err(e.clone()));
                        }
                        return Tried::Done;
                    }
                }
            }
        };
        let (wanted, limit) = wanted_entries(plan, indices);
        let label = format!("bundle {} ({} files)", bundle_no + 1, indices.len());
        let index = plan.files.len() + bundle_no;
        let r = self
            .download_selected_zip(
                &id,
                false,
                &plan.dest,
                wanted,
                limit,
                run.opts,
                (index, &label),
                flow,
            )
            .await;
        match r {
            Ok(mut x) => {
                // Failed after its whole entries were kept: the other files share the reason.
                let failed = x.failed.take().map(|e| run.shared_failure(e));
                for &i in indices {
                    let r = match (x.results.get(&i), &failed) {
                        (Some(_), _) => continue,
                        (None, Some(e)) => e.clone(),
                        (None, None) => Arc::new(missing_from_zip(plan, i)),
                    };
                    run.put(i, Err(r));
                }
                for (i, r) in x.results {
                    let r = match r {
                        Ok(mut o) => {
                            // The caller's extra digest: the placed file is read once for it.
                            let path = plan.files[i].path.under(&plan.dest);
                            match digest_existing(run.opts.extra_digest.as_ref(), &path).await {
                                Ok(d) => {
                                    o.extra_digest = d;
                                    run.report(i, Phase::Extracted);
                                    Ok(o)
                                }
                                Err(e) => Err(e),
                            }
                        }
                        Err(e) => Err(e),
                    };
                    run.put(i, r.map_err(Arc::new));
                }
                run.out
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .ignored
                    .extend(x.ignored);
            }
            Err(e) if prepared_id_lost(&e, &id) => return Tried::Lost(id),
            Err(e) => {
                // A spent budget (or a lost session) stops the run, as for raw transfers.
                let e = run.shared_failure(e);
                for &i in indices {
                    run.put(i, Err(e.clone()));
                }
            }
        }
        Tried::Done
    }

    /// Files that turned out offline although nothing said so up front (no dataset ids, or the
    /// IDS does not tell): restored together in one prepared request, then fetched again.
    async fn restore_stragglers(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        limiter: &Limiter,
        clock: &RestoreClock,
        out: &mut Collected,
    ) {
        let mut offline: Vec<usize> = out
            .results
            .iter()
            .filter(|(_, r)| {
                matches!(r, Err(e) if matches!(e.as_ref(), IdsError::DataNotOnline { .. }))
            })
            .map(|(&i, _)| i)
            .collect();
        offline.sort_unstable();
        if offline.is_empty() {
            return;
        }
        if let Some(why) = opts.retry_budget.as_ref().and_then(|b| b.stopped()) {
            // No restore for a stopped run: its offline files share the reason it stopped.
            for i in offline {
                out.results.insert(i, Err(why.clone()));
            }
            return;
        }
        for &i in &offline {
            report_file(opts, plan, i, Phase::WaitingForRestore);
        }
        report_restores_requested(opts);
        let sel = DataSelection::datafiles(offline.iter().map(|&i| plan.files[i].id));
        match self
            .prepare_and_wait(&sel, Packing::default(), &clock.options(&opts.cancel))
            .await
            .map_err(|e| clock.run_error(e))
        {
            Ok(_) => {
                let flow = Flow {
                    limiter: Some(limiter),
                    prepared: None,
                };
                let again: Vec<(usize, FileResult)> = futures_util::stream::iter(offline)
                    .map(|i| {
                        let f = &plan.files[i];
                        let flow = &flow;
                        async move {
                            let label = f.path.as_path().display().to_string();
                            let r = self
                                .fetch_raw(
                                    f.id,
                                    &plan.dest,
                                    f.path.as_path(),
                                    &f.expected,
                                    opts,
                                    (i, &label),
                                    flow,
                                )
                                .await;
                            (i, r.map_err(Arc::new))
                        }
                    })
                    .buffer_unordered(opts.concurrency.max(1))
                    .collect()
                    .await;
                out.results.extend(again);
            }
            Err(e) => {
                // Every offline file fails with the preparation's error.
                let e = Arc::new(e);
                for i in offline {
                    out.results.insert(i, Err(e.clone()));
                }
            }
        }
    }
}

/// Report `phase` for file `i` of the plan.
fn report_file(opts: &DownloadOptions, plan: &DownloadPlan, i: usize, phase: Phase) {
    let f = &plan.files[i];
    opts.report(Progress {
        index: i,
        name: &f.path.as_path().display().to_string(),
        done: 0,
        total: f.expected.size,
        phase,
    });
}

/// Every file waiting for a restore has been reported ([`Phase::RestoresRequested`]).
fn report_restores_requested(opts: &DownloadOptions) {
    opts.report(Progress {
        index: usize::MAX,
        name: "",
        done: 0,
        total: None,
        phase: Phase::RestoresRequested,
    });
}

/// Every file of `item` fails with `e` (a failed preparation or restore wait: the summary says
/// why; no per-file `Failed` progress, as for the restore of files found offline one by one).
fn fail_all(run: &Run<'_>, item: &Item, e: Arc<IdsError>) {
    for i in item.indices() {
        run.put(i, Err(e.clone()));
    }
}

fn missing_from_zip(plan: &DownloadPlan, i: usize) -> IdsError {
    let f = &plan.files[i];
    IdsError::NotFound {
        message: format!(
            "datafile {} ({}) was not in the prepared zip",
            f.id,
            f.path.as_path().display()
        ),
    }
}

/// The entries a zip of `indices` should hold, keyed by their zip entry path, and the most
/// bytes the zip may have: its files plus headers (names up to a few KiB each, twice).
pub(crate) fn wanted_entries(
    plan: &DownloadPlan,
    indices: &[usize],
) -> (HashMap<PathBuf, Wanted>, Option<u64>) {
    let wanted = indices
        .iter()
        .map(|&i| {
            let f = &plan.files[i];
            let entry = f.zip_entry.as_ref().unwrap_or(&f.path);
            (
                entry.as_path().to_path_buf(),
                Wanted {
                    index: i,
                    id: f.id,
                    path: f.path.clone(),
                    expected: f.expected.clone(),
                },
            )
        })
        .collect();
    let limit = indices
        .iter()
        .map(|&i| plan.files[i].expected.size.map(|s| s + 10_000))
        .sum::<Option<u64>>()
        .map(|t| t + (1 << 20));
    (wanted, limit)
}
