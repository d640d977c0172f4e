//! The download engine: verified, resumable single-file streams, zips kept or safely extracted,
//! and concurrent multi-datafile plans (small files bundled, large ones streamed or striped,
//! adaptive concurrency, restores from tape pipelined dataset by dataset), all writing through
//! temporary files in a hidden `.icat-download/` work folder with flat memory, reading no more
//! than the expected size, and reporting per file whether it was verified.

pub mod adaptive;
mod budget;
mod digest;
mod engine;
mod finish;
mod lock;
pub mod names;
pub mod part;
mod place;
mod plan;
mod raw;
mod report;
mod restore_wait;
mod room;
pub mod split;
mod stripe;
mod stripe_state;
mod zip_directory;
mod zip_salvage;
mod zipfile;

use std::sync::Arc;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use crate::prepare::WaitOptions;
use icat_soap::RetryPolicy;

pub use adaptive::ConcurrencyStats;
pub use budget::RetryBudget;
pub use digest::{DigestFactory, StreamDigest};
pub use names::{IdsEntry, SafeRelPath, ZipLayout, entry_path, parse_ids_entry};
pub use part::{
    Expected, WORK_DIR, crc_hex, datafile_part, datafile_part_for, part_path, work_dir,
};
pub use plan::{DatafileSpec, DownloadPlan, RefusedDatafile, Strategy};
pub use raw::RawOutcome;
pub use report::{
    DownloadSummary, FileReport, FileStatus, IgnoredEntry, Outcome, UnverifiedReason, Verification,
};
pub use split::AutoOptions;
pub use stripe_state::resumable_bytes;
pub use zipfile::{ExtractOptions, ExtractReport, ZipOutput, extract_zip};

/// What a progress report is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// The transfer starts (or restarts); `done` is the resume offset.
    Started,
    /// Bytes arrived. The bytes that complete a file are reported by its `Done` (or by the
    /// failure that follows when it does not verify), not as `Transferring` as well, so each byte
    /// count of a file is reported once.
    Transferring,
    /// A transfer failed and is retried after `delay`.
    Retrying {
        /// Attempt number about to start (1 = first retry).
        attempt: u32,
        /// Pause before it.
        delay: Duration,
        /// Why the try failed.
        cause: RetryCause,
    },
    /// Data is offline; waiting for the IDS to restore it.
    WaitingForRestore,
    /// The status of every dataset of the run is known, and restores of the archived ones are
    /// requested: each of their files has had its [`WaitingForRestore`](Phase::WaitingForRestore)
    /// (counts of files restoring and online are right from here on). Reported once per batch
    /// of restores, about no file: its index is `usize::MAX`.
    RestoresRequested,
    /// Restored data is online; its transfer starts as soon as a slot is free.
    Online,
    /// Extracted from a bundle, verified and placed (its bytes were reported with the
    /// bundle's transfer, whose index is past the plan's files).
    Extracted,
    /// Extracting a downloaded zip.
    Extracting,
    /// Finished and verified.
    Done,
    /// The final file already existed and matched the catalogue.
    Skipped,
    /// Failed (the summary holds the error).
    Failed,
}

/// Why a transfer is tried again ([`Phase::Retrying`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryCause {
    /// The IDS (or a proxy in front of it) answered that it is busy (503/429 with
    /// `Retry-After`): nothing was transferred.
    Busy,
    /// Data was arriving when the transfer broke off.
    Interrupted,
    /// The request failed before any data of this try arrived (no answer, an error status).
    Failed,
}

impl RetryCause {
    /// The cause of a failed try that ended with `e`, `got_data` telling whether bytes of this
    /// try had arrived.
    pub(crate) fn of(e: &crate::IdsError, got_data: bool) -> RetryCause {
        match e {
            crate::IdsError::Busy { .. } => RetryCause::Busy,
            _ if got_data => RetryCause::Interrupted,
            _ => RetryCause::Failed,
        }
    }
}

/// A progress report: which item, bytes so far, total when known.
#[derive(Debug, Clone, Copy)]
pub struct Progress<'a> {
    /// Index of the item in the plan (0 for single downloads).
    pub index: usize,
    /// The item's name (relative path or zip name).
    pub name: &'a str,
    /// Bytes received so far for this item (including resumed bytes).
    pub done: u64,
    /// Total bytes when known.
    pub total: Option<u64>,
    /// What happened.
    pub phase: Phase,
}

/// Callback receiving [`Progress`] reports; called from download tasks, so keep it cheap.
pub type ProgressFn = Arc<dyn Fn(&Progress<'_>) + Send + Sync>;

/// How downloads retry a failed transfer by default: 5 retries, 1 s before the first, growing by
/// 1.6, at most 30 s between tries, jitter 0.2.
pub const DEFAULT_DOWNLOAD_RETRY: RetryPolicy = RetryPolicy {
    max_retries: 5,
    base_delay: Duration::from_secs(1),
    max_delay: Duration::from_secs(30),
    multiplier: 1.6,
    jitter: 0.2,
};

/// How downloads behave.
#[derive(Clone)]
pub struct DownloadOptions {
    /// Most transfers at once (default 4): the cap of the adaptive limit, which starts at 2,
    /// grows while goodput grows and backs off when the server is overloaded.
    pub concurrency: usize,
    /// How a dropped or failed transfer is retried, per file (default
    /// [`DEFAULT_DOWNLOAD_RETRY`]: 5 retries from 1 s, at most 30 s apart; a longer
    /// `Retry-After` from a busy server is waited).
    pub retry: RetryPolicy,
    /// Replace final files that exist but differ from the catalogue (default false: such a
    /// file is an error, a matching one is skipped).
    pub overwrite: bool,
    /// Stop when this fires; partial raw downloads stay in the work folder for a later run.
    pub cancel: CancellationToken,
    /// Progress reports.
    pub progress: Option<ProgressFn>,
    /// Raw streams per datafile (default) or one prepared zip.
    pub strategy: Strategy,
    /// fsync every file before renaming it into place (default true): a file at its final path
    /// then survives a crash or power cut. Turning it off is faster on slow disks (the data stays
    /// in the page cache like `curl -o` leaves it) but a crash may leave a renamed, truncated file.
    pub fsync: bool,
    /// When data is offline (archived), request a restore and wait with these options; `None`
    /// fails such files with [`crate::IdsError::DataNotOnline`]. Default:
    /// `Some(WaitOptions::default())`, which waits up to **24 hours** (its `deadline`) polling at
    /// `PollPace::default()`; set a shorter deadline, or `None`, for interactive programs. The
    /// deadline is one for the whole run, counted from its start: every wait of the run (each
    /// archived dataset's transfers, files found offline) gets what is left of it.
    pub wait_for_restore: Option<WaitOptions>,
    /// An extra digest per datafile, computed while its bytes stream to disk (raw streams; a
    /// file skipped because it already matched, and with [`Strategy::Auto`] a file extracted
    /// from a bundle or fetched striped, is read once for it) and returned in
    /// [`FileReport::extra_digest`]. Default `None`. The prepared-zip strategy does not compute it.
    pub extra_digest: Option<DigestFactory>,
    /// The retry budget shared by every file of a plan run: when the IDS fails this many times
    /// in a row with no bytes arriving, or the session is gone, the run stops once (the files
    /// not done fail with that one reason, see [`DownloadSummary::stopped`]). Raw, striped and
    /// zip transfers all count. `None` (default): each plan run gets its own, allowing
    /// `retry.max_retries × concurrency` failures in a row, and no more than
    /// `wait_for_restore`'s `unreachable_limit` of them (see
    /// [`RetryBudget::with_unreachable_limit`]).
    pub retry_budget: Option<Arc<RetryBudget>>,
    /// Most bytes written for one datafile whose catalogue size is unknown (absent or
    /// negative `fileSize`), and for a prepared zip holding such a datafile. Whatever this says,
    /// such data is also bounded by the destination's free space minus 64 MiB, and a raw
    /// stream by its `Content-Length` when sent; a zip entry by the size the zip declares. One
    /// byte more fails the file, nothing at its final path: with
    /// [`crate::IdsError::NotEnoughSpace`] when the free space was the bound, else with
    /// [`crate::IdsError::BodyTooLong`].
    /// Default `None`: only those bounds apply.
    pub unknown_size_limit: Option<u64>,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            concurrency: 4,
            retry: DEFAULT_DOWNLOAD_RETRY,
            overwrite: false,
            cancel: CancellationToken::new(),
            progress: None,
            strategy: Strategy::RawFiles,
            fsync: true,
            wait_for_restore: Some(WaitOptions::default()),
            extra_digest: None,
            retry_budget: None,
            unknown_size_limit: None,
        }
    }
}

impl std::fmt::Debug for DownloadOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DownloadOptions")
            .field("concurrency", &self.concurrency)
            .field("retry", &self.retry)
            .field("overwrite", &self.overwrite)
            .field("strategy", &self.strategy)
            .field("fsync", &self.fsync)
            .field("extra_digest", &self.extra_digest.is_some())
            .field("unknown_size_limit", &self.unknown_size_limit)
            .finish_non_exhaustive()
    }
}

impl DownloadOptions {
    pub(crate) fn report(&self, p: Progress<'_>) {
        if let Some(cb) = &self.progress {
            cb(&p);
        }
    }
}
