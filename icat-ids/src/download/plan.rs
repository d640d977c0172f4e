//! Downloading many datafiles: a plan of (id, checked local path, expected size/checksum), run
//! under an adaptive concurrency limit as raw streams, as bundles and stripes chosen from the
//! catalogue sizes ([`Strategy::Auto`]), or as one prepared zip, restoring offline data when
//! asked; the result is a per-file summary.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use unicode_normalization::UnicodeNormalization;

use super::DownloadOptions;
use super::adaptive::Limiter;
use super::budget::RetryBudget;
use super::engine::{FileResult, wanted_entries};
use super::lock::DestLock;
use super::names::{SafeRelPath, check_no_symlinks};
use super::part::{Expected, datafile_part, work_dir};
use super::raw::Flow;
use super::report::{DownloadSummary, FileReport, IgnoredEntry, Outcome};
use super::split::{AutoOptions, Item, split};
use super::stripe_state::{StripeState, stripes_part};
use super::zip_salvage::salvage_orphaned_zips;
use super::zipfile::remove_orphaned_zips;
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::selection::DataSelection;
use crate::types::Packing;

/// One datafile to download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatafileSpec {
    /// ICAT Datafile id.
    pub id: i64,
    /// Where it goes, relative to the plan's destination.
    pub path: SafeRelPath,
    /// Catalogue size and checksum to verify against.
    pub expected: Expected,
    /// ICAT Dataset id, when known: restores from tape are requested, waited for and
    /// downloaded dataset by dataset.
    pub dataset: Option<i64>,
    /// The datafile's entry name in an IDS zip (`<visit>/<dataset>/<name>`), when known: only
    /// such files can be fetched bundled in a zip ([`Strategy::Auto`]).
    pub zip_entry: Option<SafeRelPath>,
}

impl DatafileSpec {
    /// A datafile with an explicit (checked) relative path; it is always fetched on its own.
    pub fn new(id: i64, path: SafeRelPath, expected: Expected) -> Self {
        DatafileSpec {
            id,
            path,
            expected,
            dataset: None,
            zip_entry: None,
        }
    }

    /// The same datafile, known to belong to dataset `id`.
    pub fn with_dataset(mut self, id: i64) -> Self {
        self.dataset = Some(id);
        self
    }

    /// The same datafile, never fetched inside a zip (e.g. when its path is not the IDS zip
    /// layout's).
    pub fn without_zip_entry(mut self) -> Self {
        self.zip_entry = None;
        self
    }

    /// A datafile placed at `<visit>/<dataset>/<name>`, the layout of extracted IDS zips; every
    /// name from the catalogue is checked (a datafile name may hold `/` for subdirectories).
    pub fn in_visit_dataset(
        id: i64,
        visit: &str,
        dataset: &str,
        name: &str,
        expected: Expected,
    ) -> Result<Self, IdsError> {
        let refuse = |reason| IdsError::UnsafeName {
            name: super::report::clean_name(&format!("{visit}/{dataset}/{name}")),
            reason,
        };
        // A '/' inside the visit or dataset name must not create directories, and each must be
        // a folder of its own: `.`, `..` or an empty name would put the files elsewhere.
        for part in [visit, dataset] {
            if part.contains('/') {
                return Err(refuse("'/' in a visit id or dataset name"));
            }
            if part.is_empty() || part == "." || part == ".." {
                return Err(refuse(
                    "a visit id or dataset name that is empty, '.' or '..'",
                ));
            }
        }
        // The datafile name must name a file: not empty, `.` or `..`, nor only separators and
        // `.` components (`./`, `/.//`), which would leave the dataset folder as its path.
        let file_parts = name
            .split('/')
            .filter(|c| !c.is_empty() && *c != ".")
            .count();
        if file_parts == 0 {
            return Err(refuse("a datafile name that is empty or '.' once cleaned"));
        }
        let path = SafeRelPath::join_parts([visit, dataset, name])?;
        Ok(DatafileSpec {
            id,
            zip_entry: Some(path.clone()),
            path,
            expected,
            dataset: None,
        })
    }
}

impl DatafileSpec {
    /// A datafile from ICAT (searched with `INCLUDE df.dataset.investigation`), placed at
    /// `<visit>/<dataset>/<name>` and checked against its `fileSize` and `checksum`.
    pub fn from_datafile(df: &icat_soap::model::Datafile) -> Result<Self, IdsError> {
        let label = || match (df.id, &df.name) {
            (Some(id), _) => id.to_string(),
            (None, Some(n)) => n.clone(),
            (None, None) => "?".into(),
        };
        let missing = |field| IdsError::MissingMetadata {
            datafile: label(),
            field,
        };
        let id = df.id.ok_or_else(|| missing("id"))?;
        let name = df.name.as_deref().ok_or_else(|| missing("name"))?;
        let ds = df.dataset.as_deref().ok_or_else(|| missing("dataset"))?;
        let ds_name = ds.name.as_deref().ok_or_else(|| missing("dataset name"))?;
        let inv = ds
            .investigation
            .as_deref()
            .ok_or_else(|| missing("dataset.investigation"))?;
        let visit = inv
            .visit_id
            .as_deref()
            .ok_or_else(|| missing("investigation visitId"))?;
        let expected = Expected {
            size: df.file_size.and_then(|s| u64::try_from(s).ok()),
            checksum: df.checksum.clone(),
        };
        let spec = Self::in_visit_dataset(id, visit, ds_name, name, expected)?;
        Ok(match ds.id {
            Some(ds_id) => spec.with_dataset(ds_id),
            None => spec,
        })
    }
}

/// Which transfer method a plan uses. Every method runs under the adaptive concurrency limit
/// (see [`super::adaptive`]) capped by [`DownloadOptions::concurrency`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Strategy {
    /// Each datafile as its own raw stream: resumable and verified one by one (default).
    #[default]
    RawFiles,
    /// One prepared zip of all datafiles, extracted with the `<visit>/<dataset>/<file>` layout
    /// (only files whose spec uses that layout are matched and verified).
    PreparedZip {
        /// Deflate the zip.
        compress: bool,
    },
    /// Chosen per file from the catalogue sizes (see [`AutoOptions`]): small files bundled in
    /// prepared zips (one request per bundle, each entry extracted and verified on its own),
    /// large files as raw resumable streams, a very large file striped over several ranges.
    Auto(AutoOptions),
}

/// A datafile left out of a plan because its catalogue names cannot be a safe local path.
#[derive(Debug, Clone)]
pub struct RefusedDatafile {
    /// ICAT Datafile id.
    pub id: i64,
    /// Why ([`IdsError::UnsafeName`] naming the cleaned names).
    pub error: Arc<IdsError>,
}

/// A set of datafiles and the directory they go to.
#[derive(Debug, Clone, Default)]
pub struct DownloadPlan {
    /// Destination root; nothing is written outside it.
    pub dest: PathBuf,
    /// The datafiles.
    pub files: Vec<DatafileSpec>,
    /// Datafiles whose names were refused: each is reported as failed with its error, after the
    /// files of the plan; the others still download.
    pub refused: Vec<RefusedDatafile>,
}

impl DownloadPlan {
    /// An empty plan into `dest`.
    pub fn new(dest: impl Into<PathBuf>) -> Self {
        DownloadPlan {
            dest: dest.into(),
            files: Vec::new(),
            refused: Vec::new(),
        }
    }

    /// Add a datafile.
    pub fn push(&mut self, spec: DatafileSpec) {
        self.files.push(spec);
    }

    /// Add datafile `id` when its spec could be made, else record it as refused: one bad name
    /// from the catalogue fails that file only, not the whole run.
    pub fn push_or_refuse(&mut self, id: i64, spec: Result<DatafileSpec, IdsError>) {
        match spec {
            Ok(spec) => self.files.push(spec),
            Err(e) => self.refused.push(RefusedDatafile {
                id,
                error: Arc::new(e),
            }),
        }
    }

    /// Total catalogue size, when every file's size is known.
    pub fn total_bytes(&self) -> Option<u64> {
        self.files.iter().map(|f| f.expected.size).sum()
    }

    /// Reject two datafiles mapped to one path, and one datafile listed twice. (A symbolic link
    /// on a file's way fails that file alone, in the run.)
    pub fn check(&self) -> Result<(), IdsError> {
        let mut seen = HashSet::new();
        let mut ids = HashSet::new();
        for f in &self.files {
            if !seen.insert(&f.path) {
                return Err(IdsError::DuplicatePath {
                    path: f.path.under(&self.dest),
                });
            }
            if !ids.insert(f.id) {
                return Err(IdsError::DuplicatePath {
                    path: f.path.under(&self.dest),
                });
            }
        }
        Ok(())
    }

    /// The files whose paths differ from another file's only in letter case or Unicode
    /// normalisation (one file on macOS or Windows), or name a folder of another file's path
    /// (`sub` beside `sub/nested.dat`), each with a path it collides with.
    pub fn case_collisions(&self) -> HashMap<usize, PathBuf> {
        let mut by_folded: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, f) in self.files.iter().enumerate() {
            // NFC first (`é` as one code point or as `e` + combining accent are one name on
            // macOS), then lower case, then NFC again (lower-casing can denormalise).
            let nfc: String = f.path.as_path().to_string_lossy().nfc().collect();
            let folded: String = nfc.to_lowercase().nfc().collect();
            by_folded.entry(folded).or_default().push(i);
        }
        let mut out = HashMap::new();
        for group in by_folded.values().filter(|g| g.len() > 1) {
            for &i in group {
                let other = group.iter().copied().find(|&j| j != i).unwrap_or(i);
                out.insert(i, self.files[other].path.under(&self.dest));
            }
        }
        // A file whose path is a folder of another file's path (`sub` beside `sub/nested.dat`):
        // one of them cannot be written, so neither is.
        for (folded, group) in &by_folded {
            let mut folder = folded.as_str();
            while let Some((parent, _)) = folder.rsplit_once('/') {
                folder = parent;
                if let Some(files) = by_folded.get(folder) {
                    for &i in group {
                        out.insert(i, self.files[files[0]].path.under(&self.dest));
                    }
                    for &j in files {
                        out.insert(j, self.files[group[0]].path.under(&self.dest));
                    }
                }
            }
        }
        out
    }
}

impl IdsClient {
    /// Run a download plan: check it, then fetch with the configured strategy. Partial data
    /// lives in the destination's `.icat-download/` work folder, named by datafile id; a run in
    /// which every file succeeds leaves no work folder behind. Per-file failures (including
    /// names that collide without letter case) are in the summary; only plan-level problems
    /// (unsafe or duplicate paths, a failed zip preparation) are returned as errors.
    pub async fn download_plan(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
    ) -> Result<DownloadSummary, IdsError> {
        plan.check()?;
        let lock = DestLock::acquire(&plan.dest).await?;
        let r = self.download_plan_locked(plan, opts).await;
        lock.release().await;
        r
    }

    async fn download_plan_locked(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
    ) -> Result<DownloadSummary, IdsError> {
        let start = Instant::now();
        let collisions = plan.case_collisions();
        let mut results: HashMap<usize, FileResult> = collisions
            .into_iter()
            .map(|(i, other)| {
                let path = plan.files[i].path.under(&plan.dest);
                (i, Err(Arc::new(IdsError::NameCollision { path, other })))
            })
            .collect();
        // A symbolic link on a file's way (the file itself, or a folder of it) fails that file
        // alone, before anything reads or writes there; the others download.
        for (i, f) in plan.files.iter().enumerate() {
            if let (false, Err(e)) = (
                results.contains_key(&i),
                check_no_symlinks(&plan.dest, &f.path),
            ) {
                results.insert(i, Err(Arc::new(e)));
            }
        }
        let runnable: Vec<usize> = (0..plan.files.len())
            .filter(|i| !results.contains_key(i))
            .collect();
        let mut summary = DownloadSummary::default();
        let limiter = Limiter::new(opts.concurrency, Instant::now());
        let items = match opts.strategy {
            Strategy::RawFiles => Some(runnable.iter().map(|&i| Item::Raw(i)).collect()),
            Strategy::Auto(auto) => {
                // What an earlier run killed mid-bundle left whole is kept (files with nothing
                // here yet only), then its zips are removed.
                let fresh: Vec<usize> = fresh_files(plan, &runnable).await.into_iter().collect();
                let (wanted, _) = wanted_entries(plan, &fresh);
                salvage_orphaned_zips(&plan.dest, wanted, opts.fsync).await;
                remove_orphaned_zips(&plan.dest).await;
                let fresh = fresh_files(plan, &runnable).await;
                let items = split(&plan.files, &runnable, opts.concurrency, &auto, |i| {
                    fresh.contains(&i)
                });
                Some(resume_stripes(plan, items, opts.concurrency).await)
            }
            Strategy::PreparedZip { .. } => None,
        };
        // One retry budget for all transfers of the run (raw, striped, bundled or the one
        // prepared zip), so a lost server (or session) stops it once.
        let budget = opts.retry_budget.clone().unwrap_or_else(|| {
            let parallel = u32::try_from(opts.concurrency.max(1)).unwrap_or(u32::MAX);
            let budget = RetryBudget::new(opts.retry.max_retries.saturating_mul(parallel));
            // The restore wait's bound on an unanswering IDS bounds transfers too.
            Arc::new(match &opts.wait_for_restore {
                Some(w) => budget.with_unreachable_limit(w.unreachable_limit),
                None => budget,
            })
        });
        let opts = &DownloadOptions {
            retry_budget: Some(budget.clone()),
            ..opts.clone()
        };
        let shared = match (opts.strategy, items) {
            (_, Some(items)) => {
                let out = self.run_items(plan, opts, items, &limiter).await;
                results.extend(out.results);
                summary.ignored = out.ignored;
                None
            }
            (Strategy::PreparedZip { compress }, None) => {
                remove_orphaned_zips(&plan.dest).await;
                let (ignored, shared) = self
                    .plan_zip(plan, opts, compress, &runnable, &mut results, &limiter)
                    .await?;
                summary.ignored = ignored;
                shared
            }
            (_, None) => None,
        };
        summary.stopped = budget.stopped();
        finish(plan, results, shared, &mut summary);
        summary.concurrency = limiter.stats();
        summary.elapsed = start.elapsed();
        summary.cancelled = opts.cancel.is_cancelled();
        Ok(summary)
    }

    /// One prepared zip of `which`, extracted: only entries that map to a planned datafile are
    /// written; the others are returned as ignored.
    async fn plan_zip(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        compress: bool,
        which: &[usize],
        results: &mut HashMap<usize, FileResult>,
        limiter: &Limiter,
    ) -> Result<(Vec<IgnoredEntry>, Option<Arc<IdsError>>), IdsError> {
        if which.is_empty() {
            return Ok((Vec::new(), None));
        }
        let sel = DataSelection::datafiles(which.iter().map(|&i| plan.files[i].id));
        let packing = Packing {
            zip: true,
            compress,
        };
        let id = match &opts.wait_for_restore {
            Some(wait) => {
                let mut wait = wait.clone();
                wait.cancel = opts.cancel.clone();
                self.prepare_and_wait(&sel, packing, &wait).await?
            }
            None => self.prepare_data(&sel, packing).await?,
        };
        let (wanted, limit) = wanted_entries(plan, which);
        let flow = Flow {
            limiter: Some(limiter),
            prepared: None,
        };
        let extracted = self
            .download_selected_zip(
                &id,
                compress,
                &plan.dest,
                wanted,
                limit,
                opts,
                (0, "prepared zip"),
                &flow,
            )
            .await;
        match extracted {
            Ok(mut x) => {
                let failed = x.failed.take();
                results.extend(x.results.into_iter().map(|(i, r)| (i, r.map_err(Arc::new))));
                if let Some(e) = failed {
                    // Failed after the entries that arrived whole were kept: the others share
                    // its error.
                    return Ok((x.ignored, Some(Arc::new(e))));
                }
                for &i in which {
                    results.entry(i).or_insert_with(|| {
                        let f = &plan.files[i];
                        Err(Arc::new(IdsError::NotFound {
                            message: format!(
                                "datafile {} ({}) was not in the prepared zip",
                                f.id,
                                f.path.as_path().display()
                            ),
                        }))
                    });
                }
                Ok((x.ignored, None))
            }
            // The zip as a whole failed (transfer, not a zip, cancelled): its files share the
            // error itself, so its kind (and exit code) is kept.
            Err(e) => Ok((Vec::new(), Some(Arc::new(e)))),
        }
    }
}

/// The plan indices among `which` with neither partial data in the work folder nor a file at
/// their final path: only these are bundled or striped (the others resume or are checked).
async fn fresh_files(plan: &DownloadPlan, which: &[usize]) -> HashSet<usize> {
    let work = work_dir(&plan.dest);
    let mut out = HashSet::new();
    for &i in which {
        let f = &plan.files[i];
        let part = tokio::fs::symlink_metadata(datafile_part(&work, f.id)).await;
        let target = tokio::fs::symlink_metadata(f.path.under(&plan.dest)).await;
        if part.is_err() && target.is_err() {
            out.insert(i);
        }
    }
    out
}

/// A file that an earlier run fetched striped and left with its state is striped again
/// (whatever the split chose this time): its shares resume where they stopped, with at most
/// `cap` streams and within the read budget (`StripeState::resume_shares`).
async fn resume_stripes(plan: &DownloadPlan, items: Vec<Item>, cap: usize) -> Vec<Item> {
    let work = work_dir(&plan.dest);
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let i = match item {
            Item::Raw(i) | Item::Striped { index: i, .. } => i,
            other => {
                out.push(other);
                continue;
            }
        };
        let f = &plan.files[i];
        let part = stripes_part(&work, f.id);
        out.push(match StripeState::load(&part, &f.expected).await {
            Some(_) => Item::Striped {
                index: i,
                streams: u32::try_from(cap.max(1)).unwrap_or(u32::MAX),
            },
            _ => item,
        });
    }
    out
}

fn finish(
    plan: &DownloadPlan,
    mut results: HashMap<usize, FileResult>,
    shared: Option<Arc<IdsError>>,
    summary: &mut DownloadSummary,
) {
    for (i, f) in plan.files.iter().enumerate() {
        let result = results.remove(&i);
        let extra_digest = match &result {
            Some(Ok(o)) => o.extra_digest.clone(),
            _ => None,
        };
        let outcome = match result {
            Some(Ok(o)) if o.skipped => Outcome::Skipped { bytes: o.bytes },
            Some(Ok(o)) => {
                summary.bytes_transferred += o.bytes - o.resumed_from;
                Outcome::Downloaded {
                    bytes: o.bytes,
                    resumed_from: o.resumed_from,
                    retries: o.retries,
                    verification: o.verification,
                }
            }
            Some(Err(e)) => Outcome::Failed(e),
            None => Outcome::Failed(shared.clone().unwrap_or_else(|| {
                Arc::new(IdsError::Internal {
                    message: "no result recorded".into(),
                })
            })),
        };
        summary.files.push(FileReport {
            id: f.id,
            path: f.path.under(&plan.dest),
            outcome,
            extra_digest,
        });
    }
    // A refused datafile has no local path: its report names the destination, its error the
    // names from the catalogue.
    for r in &plan.refused {
        summary.files.push(FileReport {
            id: r.id,
            path: plan.dest.clone(),
            outcome: Outcome::Failed(r.error.clone()),
            extra_digest: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_cannot_be_paths_are_refused_per_file() {
        let spec = |v: &str, d: &str, f: &str| {
            DatafileSpec::in_visit_dataset(1, v, d, f, Expected::default())
        };
        for (v, d, f) in [
            ("v", "d", ""),
            ("v", "d", "."),
            ("v", "d", ".."),
            ("v", "d", "/./."),
            ("v", "d", "./"),
            ("v", ".", "f"),
            ("v", "", "f"),
            ("v", "..", "f"),
            (".", "d", "f"),
            ("", "d", "f"),
        ] {
            assert!(
                matches!(spec(v, d, f), Err(IdsError::UnsafeName { .. })),
                "{v:?}/{d:?}/{f:?} accepted"
            );
        }
        for f in ["f", "sub/f", "./f", "a//f", ".hidden"] {
            assert!(spec("v", "d", f).is_ok(), "{f:?} refused");
        }
        let mut plan = DownloadPlan::new("/tmp/x");
        plan.push_or_refuse(1, spec("v", "d", "f"));
        plan.push_or_refuse(2, spec("v", ".", "f"));
        assert_eq!((plan.files.len(), plan.refused.len()), (1, 1));
        assert_eq!(plan.refused[0].id, 2);
    }

    #[test]
    fn spec_from_icat_datafile() {
        let inv = icat_soap::model::Investigation {
            visit_id: Some("1.1-P".into()),
            ..Default::default()
        };
        let ds = icat_soap::model::Dataset {
            name: Some("raw data".into()),
            investigation: Some(Box::new(inv)),
            ..Default::default()
        };
        let mut df = icat_soap::model::Datafile {
            id: Some(7),
            name: Some("a/b.nxs".into()),
            file_size: Some(12),
            checksum: Some("cc830993".into()),
            dataset: Some(Box::new(ds)),
            ..Default::default()
        };
        let spec = DatafileSpec::from_datafile(&df).unwrap();
        assert_eq!(
            spec.path.as_path(),
            std::path::Path::new("1.1-P/raw data/a/b.nxs")
        );
        assert_eq!(spec.expected.size, Some(12));
        df.name = Some("../../x".into());
        assert!(matches!(
            DatafileSpec::from_datafile(&df),
            Err(IdsError::UnsafeName { .. })
        ));
        df.dataset = None;
        let e = DatafileSpec::from_datafile(&df).unwrap_err();
        assert!(
            matches!(
                e,
                IdsError::MissingMetadata {
                    field: "dataset",
                    ..
                }
            ),
            "{e}"
        );
    }
}
