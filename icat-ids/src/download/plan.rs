//! Downloading many datafiles: a plan of (id, checked local path, expected size/checksum), run
//! with a concurrency limit as raw streams, restoring offline data when asked, or as one prepared
//! zip; the result is a per-file summary.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;

use super::names::{SafeRelPath, check_no_symlinks};
use super::part::Expected;
use super::zipfile::ZipOutput;
use super::{DownloadOptions, Phase, Progress, ZipLayout};
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::selection::{DataRef, DataSelection};
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
    pub fn from_datafile(df: &icat_soap::Datafile) -> Result<Self, IdsError> {
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

    /// Reject two datafiles mapped to one path, and symbolic links inside the destination.
    pub fn check(&self) -> Result<(), IdsError> {
        let mut seen = HashSet::new();
        for f in &self.files {
            if !seen.insert(&f.path) {
                return Err(IdsError::DuplicatePath {
                    path: f.path.under(&self.dest),
                });
            }
            check_no_symlinks(&self.dest, &f.path)?;
        }
        Ok(())
    }
}

/// How one datafile ended.
#[derive(Debug)]
pub enum Outcome {
    /// Downloaded and verified.
    Downloaded {
        /// Size in bytes.
        bytes: u64,
        /// Bytes reused from an earlier run's `.part` file.
        resumed_from: u64,
        /// Retries after dropped connections or server errors.
        retries: u32,
    },
    /// Already present with the right size and checksum.
    Skipped {
        /// Size in bytes.
        bytes: u64,
    },
    /// Failed; other files were still attempted.
    Failed(Arc<IdsError>),
}

/// Result for one datafile of a plan.
#[derive(Debug)]
pub struct FileReport {
    /// Datafile id.
    pub id: i64,
    /// Final local path.
    pub path: PathBuf,
    /// What happened.
    pub outcome: Outcome,
}

/// Result of running a plan.
#[derive(Debug, Default)]
pub struct DownloadSummary {
    /// One report per planned datafile, in plan order.
    pub files: Vec<FileReport>,
    /// Bytes transferred in this run (excluding skipped files and resumed bytes).
    pub bytes_transferred: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// True when the run was cancelled (unfinished files remain as `.part`).
    pub cancelled: bool,
}

impl DownloadSummary {
    /// The failed files.
    pub fn failed(&self) -> impl Iterator<Item = (&FileReport, &IdsError)> {
        self.files.iter().filter_map(|f| match &f.outcome {
            Outcome::Failed(e) => Some((f, e.as_ref())),
            _ => None,
        })
    }

    /// True when every file is downloaded or skipped.
    pub fn is_complete(&self) -> bool {
        self.failed().next().is_none() && !self.cancelled
    }
}

impl IdsClient {
    /// Run a download plan: check it, then fetch with the configured strategy. Per-file failures
    /// are in the summary; only plan-level problems (unsafe or colliding paths, a failed zip
    /// preparation) are returned as errors.
    pub async fn download_plan(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
    ) -> Result<DownloadSummary, IdsError> {
        plan.check()?;
        let start = Instant::now();
        let mut summary = match opts.strategy {
            Strategy::RawFiles => self.plan_raw(plan, opts).await,
            Strategy::PreparedZip { compress } => self.plan_zip(plan, opts, compress).await?,
        };
        summary.elapsed = start.elapsed();
        summary.cancelled = opts.cancel.is_cancelled();
        Ok(summary)
    }

    async fn run_raw(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        which: &[usize],
    ) -> Vec<(usize, Result<super::raw::RawOutcome, IdsError>)> {
        futures_util::stream::iter(which.iter().copied())
            .map(|i| {
                let spec = &plan.files[i];
                async move {
                    if opts.cancel.is_cancelled() {
                        return (i, Err(IdsError::Cancelled));
                    }
                    let target = spec.path.under(&plan.dest);
                    let label = spec.path.as_path().display().to_string();
                    (
                        i,
                        self.fetch_raw(spec.id, &target, &spec.expected, opts, i, &label)
                            .await,
                    )
                }
            })
            .buffer_unordered(opts.concurrency.max(1))
            .collect()
            .await
    }

    async fn plan_raw(&self, plan: &DownloadPlan, opts: &DownloadOptions) -> DownloadSummary {
        let all: Vec<usize> = (0..plan.files.len()).collect();
        let mut results: HashMap<usize, Result<super::raw::RawOutcome, IdsError>> =
            self.run_raw(plan, opts, &all).await.into_iter().collect();

        let offline: Vec<usize> = all
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
                    let e = Arc::new(e);
                    // Every offline file fails with the preparation's error.
                    for i in offline {
                        results.remove(&i);
                    }
                    return finish(plan, results, Some(e));
                }
            }
        }
        finish(plan, results, None)
    }

    async fn plan_zip(
        &self,
        plan: &DownloadPlan,
        opts: &DownloadOptions,
        compress: bool,
    ) -> Result<DownloadSummary, IdsError> {
        let sel = DataSelection::datafiles(plan.files.iter().map(|f| f.id));
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
        let expected = plan
            .files
            .iter()
            .map(|f| (f.path.as_path().to_path_buf(), f.expected.clone()))
            .collect();
        let output = ZipOutput::Extract {
            dir: plan.dest.clone(),
            layout: ZipLayout::VisitDataset,
        };
        let rep = self
            .download_zip_with(DataRef::Prepared(&id), compress, &output, opts, expected)
            .await;
        let mut summary = DownloadSummary::default();
        let shared = rep.as_ref().err().map(|e| Arc::new(clone_error(e)));
        let written: HashSet<PathBuf> = rep
            .as_ref()
            .map(|r| r.files.iter().cloned().collect())
            .unwrap_or_default();
        if let Ok(r) = &rep {
            summary.bytes_transferred = r.bytes;
        }
        for f in &plan.files {
            let path = f.path.under(&plan.dest);
            let outcome = match &shared {
                Some(e) => Outcome::Failed(e.clone()),
                None if written.contains(f.path.as_path()) => Outcome::Downloaded {
                    bytes: f.expected.size.unwrap_or(0),
                    resumed_from: 0,
                    retries: 0,
                },
                None => Outcome::Failed(Arc::new(IdsError::NotFound {
                    message: format!(
                        "datafile {} ({}) was not in the prepared zip",
                        f.id,
                        f.path.as_path().display()
                    ),
                })),
            };
            summary.files.push(FileReport {
                id: f.id,
                path,
                outcome,
            });
        }
        if let Err(IdsError::Cancelled) = rep {
            summary.cancelled = true;
        }
        Ok(summary)
    }
}

/// Errors are not `Clone`; make a faithful copy of the message for sharing across files.
fn clone_error(e: &IdsError) -> IdsError {
    match e {
        IdsError::Cancelled => IdsError::Cancelled,
        other => IdsError::Internal {
            message: other.to_string(),
        },
    }
}

fn finish(
    plan: &DownloadPlan,
    mut results: HashMap<usize, Result<super::raw::RawOutcome, IdsError>>,
    shared: Option<Arc<IdsError>>,
) -> DownloadSummary {
    let mut summary = DownloadSummary::default();
    for (i, f) in plan.files.iter().enumerate() {
        let outcome = match results.remove(&i) {
            Some(Ok(o)) if o.skipped => Outcome::Skipped { bytes: o.bytes },
            Some(Ok(o)) => {
                summary.bytes_transferred += o.bytes - o.resumed_from;
                Outcome::Downloaded {
                    bytes: o.bytes,
                    resumed_from: o.resumed_from,
                    retries: o.retries,
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
        });
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spec_from_icat_datafile() {
        let inv = icat_soap::Investigation {
            visit_id: Some("1.1-P".into()),
            ..Default::default()
        };
        let ds = icat_soap::Dataset {
            name: Some("raw data".into()),
            investigation: Some(Box::new(inv)),
            ..Default::default()
        };
        let mut df = icat_soap::Datafile {
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
