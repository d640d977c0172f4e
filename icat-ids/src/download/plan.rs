//! Downloading many datafiles: a plan of (id, checked local path, expected size/checksum), run
//! with a concurrency limit as raw streams, restoring offline data when asked, or as one prepared
//! zip; the result is a per-file summary.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use futures_util::StreamExt;
use unicode_normalization::UnicodeNormalization;

use super::lock::DestLock;
use super::names::{SafeRelPath, check_no_symlinks};
use super::part::Expected;
use super::raw::RawOutcome;
use super::report::{DownloadSummary, FileReport, IgnoredEntry, Outcome};
use super::zipfile::Wanted;
use super::{DownloadOptions, Phase, Progress};
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
}

impl DatafileSpec {
    /// A datafile with an explicit (checked) relative path.
    pub fn new(id: i64, path: SafeRelPath, expected: Expected) -> Self {
        DatafileSpec { id, path, expected }
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
        // A '/' inside the visit or dataset name must not create directories.
        for part in [visit, dataset] {
            if part.contains('/') {
                return Err(IdsError::UnsafeName {
                    name: format!("{visit}/{dataset}/{name}"),
                    reason: "'/' in a visit id or dataset name",
                });
            }
        }
        Ok(DatafileSpec {
            id,
            path: SafeRelPath::join_parts([visit, dataset, name])?,
            expected,
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
        Self::in_visit_dataset(id, visit, ds_name, name, expected)
    }
}

/// Which transfer method a plan uses.
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
}

/// A set of datafiles and the directory they go to.
#[derive(Debug, Clone, Default)]
pub struct DownloadPlan {
    /// Destination root; nothing is written outside it.
    pub dest: PathBuf,
    /// The datafiles.
    pub files: Vec<DatafileSpec>,
}

impl DownloadPlan {
    /// An empty plan into `dest`.
    pub fn new(dest: impl Into<PathBuf>) -> Self {
        DownloadPlan {
            dest: dest.into(),
            files: Vec::new(),
        }
    }

    /// Add a datafile.
    pub fn push(&mut self, spec: DatafileSpec) {
        self.files.push(spec);
    }

    /// Total catalogue size, when every file's size is known.
    pub fn total_bytes(&self) -> Option<u64> {
        self.files.iter().map(|f| f.expected.size).sum()
    }

    /// Reject two datafiles mapped to one path, one datafile listed twice, and symbolic links
    /// inside the destination.
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
            check_no_symlinks(&self.dest, &f.path)?;
        }
        Ok(())
    }

    /// The files whose paths differ from another file's only in letter case or Unicode
    /// normalisation (one file on macOS or Windows), each with a path it collides with.
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
        let runnable: Vec<usize> = (0..plan.files.len())
            .filter(|i| !collisions.contains_key(i))
            .collect();
        let mut results: HashMap<usize, Result<RawOutcome, IdsError>> = collisions
            .into_iter()
            .map(|(i, other)| {
                let path = plan.files[i].path.under(&plan.dest);
                (i, Err(IdsError::NameCollision { path, other }))
            })
            .collect();
        let mut summary = DownloadSummary::default();
        let shared = match opts.strategy {
            Strategy::RawFiles => self.plan_raw(plan, opts, &runnable, &mut results).await,
            Strategy::PreparedZip { compress } => {
                let (ignored, shared) = self
                    .plan_zip(plan, opts, compress, &runnable, &mut results)
                    .await?;
                summary.ignored = ignored;
                shared
            }
        };
        finish(plan, results, shared, &mut summary);
        summary.elapsed = start.elapsed();
        summary.cancelled = opts.cancel.is_cancelled();
        Ok(summary)
    }

    async fn run_raw(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        which: &[usize],
    ) -> Vec<(usize, Result<RawOutcome, IdsError>)> {
        futures_util::stream::iter(which.iter().copied())
            .map(|i| {
                let spec = &plan.files[i];
                async move {
                    if opts.cancel.is_cancelled() {
                        return (i, Err(IdsError::Cancelled));
                    }
                    let label = spec.path.as_path().display().to_string();
                    let rel = spec.path.as_path();
                    (
                        i,
                        self.fetch_raw(spec.id, &plan.dest, rel, &spec.expected, opts, i, &label)
                            .await,
                    )
                }
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await
    }

    /// Raw streams for `which`; returns the error of a failed restore shared by the files that
    /// were offline.
    async fn plan_raw(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        which: &[usize],
        results: &mut HashMap<usize, Result<RawOutcome, IdsError>>,
    ) -> Option<Arc<IdsError>> {
        results.extend(self.run_raw(plan, opts, which).await);

        let offline: Vec<usize> = which
            .iter()
            .copied()
            .filter(|i| matches!(results.get(i), Some(Err(IdsError::DataNotOnline { .. }))))
            .collect();
        if let (false, Some(wait)) = (offline.is_empty(), &opts.wait_for_restore) {
            for &i in &offline {
                opts.report(Progress {
                    index: i,
                    name: &plan.files[i].path.as_path().display().to_string(),
                    done: 0,
                    total: plan.files[i].expected.size,
                    phase: Phase::WaitingForRestore,
                });
            }
            let sel = DataSelection::datafiles(offline.iter().map(|&i| plan.files[i].id));
            let mut wait = wait.clone();
            wait.cancel = opts.cancel.clone();
            match self.prepare_and_wait(&sel, Packing::default(), &wait).await {
                Ok(_) => results.extend(self.run_raw(plan, opts, &offline).await),
                Err(e) => {
                    // Every offline file fails with the preparation's error.
                    for i in offline {
                        results.remove(&i);
                    }
                    return Some(Arc::new(e));
                }
            }
        }
        None
    }

    /// One prepared zip of `which`, extracted entry by entry: only entries that map to a
    /// planned datafile are written; the others are returned as ignored.
    async fn plan_zip(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        compress: bool,
        which: &[usize],
        results: &mut HashMap<usize, Result<RawOutcome, IdsError>>,
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
        let wanted: HashMap<PathBuf, Wanted> = which
            .iter()
            .map(|&i| {
                let f = &plan.files[i];
                (
                    f.path.as_path().to_path_buf(),
                    Wanted {
                        index: i,
                        id: f.id,
                        path: f.path.clone(),
                        expected: f.expected.clone(),
                    },
                )
            })
            .collect();
        // A stored zip is its files plus headers (names up to a few KiB each, twice).
        let limit = which
            .iter()
            .map(|&i| plan.files[i].expected.size.map(|s| s + 10_000))
            .sum::<Option<u64>>()
            .map(|t| t + (1 << 20));
        let extracted = self
            .download_selected_zip(&id, compress, &plan.dest, wanted, limit, opts)
            .await;
        match extracted {
            Ok(x) => {
                results.extend(x.results);
                for &i in which {
                    results.entry(i).or_insert_with(|| {
                        let f = &plan.files[i];
                        Err(IdsError::NotFound {
                            message: format!(
                                "datafile {} ({}) was not in the prepared zip",
                                f.id,
                                f.path.as_path().display()
                            ),
                        })
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

fn finish(
    plan: &DownloadPlan,
    mut results: HashMap<usize, Result<RawOutcome, IdsError>>,
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
            Some(Err(e)) => Outcome::Failed(Arc::new(e)),
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
}

#[cfg(test)]
mod tests {
    use super::*;

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
