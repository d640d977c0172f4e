//! Shortcuts for the common download: a plan from datafiles fetched from ICAT, options with a
//! progress callback.

use std::path::PathBuf;
use std::sync::Arc;

use crate::download::{DatafileSpec, DownloadOptions, DownloadPlan, Progress};
use crate::error::IdsError;

impl DownloadPlan {
    /// A plan that puts each datafile at `<dest>/<visit>/<dataset>/<name>`: the datafiles must
    /// have been searched with `include("dataset.investigation")` (see
    /// [`DatafileSpec::from_datafile`]).
    pub fn of_datafiles<'a>(
        dest: impl Into<PathBuf>,
        datafiles: impl IntoIterator<Item = &'a icat_soap::model::Datafile>,
    ) -> Result<DownloadPlan, IdsError> {
        let mut plan = DownloadPlan::new(dest);
        for df in datafiles {
            plan.push(DatafileSpec::from_datafile(df)?);
        }
        Ok(plan)
    }
}

impl DownloadOptions {
    /// These options with `progress` called for every progress report (from download tasks, so
    /// keep it cheap).
    ///
    /// ```
    /// let opts = icat_ids::DownloadOptions::default()
    ///     .on_progress(|p| eprintln!("{} {}/{:?}", p.name, p.done, p.total));
    /// assert!(opts.progress.is_some());
    /// ```
    pub fn on_progress(
        mut self,
        progress: impl Fn(&Progress<'_>) + Send + Sync + 'static,
    ) -> DownloadOptions {
        self.progress = Some(Arc::new(progress));
        self
    }
}
