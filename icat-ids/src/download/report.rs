//! What a download run reports per file: downloaded (verified or not, and why not), skipped or
//! failed; plus the zip entries that were not extracted. Built for scripts (`--json`) as much as
//! for people.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::error::IdsError;

/// What a file at its final path was checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verification {
    /// The catalogue's values matched: its `fileSize`, its CRC32 `checksum`, or both (at least
    /// one is true).
    Verified {
        /// The size matched the catalogue's `fileSize`.
        size: bool,
        /// The CRC32 matched the catalogue's `checksum`.
        checksum: bool,
    },
    /// The catalogue gave nothing to check it against; the file may be incomplete or wrong.
    Unverified(UnverifiedReason),
}

impl Verification {
    /// The outcome of checking against these catalogue values; `fallback` says what else
    /// vouched for the bytes when the catalogue has neither a size nor a CRC32.
    pub(crate) fn from_catalogue(
        expected: &super::Expected,
        fallback: UnverifiedReason,
    ) -> Verification {
        let size = expected.size.is_some();
        let checksum = expected.crc32().is_some();
        if size || checksum {
            Verification::Verified { size, checksum }
        } else {
            Verification::Unverified(fallback)
        }
    }

    /// True when the catalogue vouched for the file.
    pub fn is_verified(&self) -> bool {
        matches!(self, Verification::Verified { .. })
    }
}

/// Why a downloaded file could not be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnverifiedReason {
    /// The catalogue has no `fileSize` and no CRC32 `checksum` (or checking was switched off),
    /// and the server sent no length: a connection cut early looks like the end of the file.
    NothingToCompare,
    /// The catalogue has no `fileSize` and no CRC32 `checksum` (or checking was switched off);
    /// only the length the server announced was checked.
    ServerLengthOnly,
    /// The catalogue has no `fileSize` and no CRC32 `checksum` (or checking was switched off);
    /// only the zip's own CRC32 for the entry was checked.
    ZipChecksumOnly,
}

impl UnverifiedReason {
    /// A stable machine-readable name (`nothing_to_compare`, `server_length_only`,
    /// `zip_checksum_only`).
    pub fn as_str(&self) -> &'static str {
        match self {
            UnverifiedReason::NothingToCompare => "nothing_to_compare",
            UnverifiedReason::ServerLengthOnly => "server_length_only",
            UnverifiedReason::ZipChecksumOnly => "zip_checksum_only",
        }
    }

    /// A short explanation for people.
    pub fn describe(&self) -> &'static str {
        match self {
            UnverifiedReason::NothingToCompare => {
                "the catalogue has no size or checksum and the server sent no length"
            }
            UnverifiedReason::ServerLengthOnly => {
                "the catalogue has no size or checksum; only the server's length was checked"
            }
            UnverifiedReason::ZipChecksumOnly => {
                "the catalogue has no size or checksum; only the zip's own checksum was checked"
            }
        }
    }
}

/// How one datafile ended.
#[derive(Debug)]
pub enum Outcome {
    /// Downloaded and placed at its final path.
    Downloaded {
        /// Size in bytes.
        bytes: u64,
        /// Bytes reused from an earlier run's partial download (0 when they were thrown away
        /// and the file fetched again from the start).
        resumed_from: u64,
        /// Retries after dropped connections or server errors.
        retries: u32,
        /// What it was checked against.
        verification: Verification,
    },
    /// Already present and matching the catalogue's size or checksum; left alone.
    Skipped {
        /// Size in bytes.
        bytes: u64,
    },
    /// Failed; other files were still attempted.
    Failed(Arc<IdsError>),
}

/// One word for a file's outcome, with the reason when it could not be verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileStatus {
    /// Downloaded and checked against the catalogue's CRC32 checksum (and its size when known).
    Verified,
    /// Downloaded; only its size could be checked against the catalogue (the catalogue has no
    /// checksum, or one that is not a CRC32 and cannot be computed here).
    SizeOnly,
    /// Downloaded, but there was nothing to check it against.
    Unverified(UnverifiedReason),
    /// Already present and matching the catalogue.
    Skipped,
    /// Not downloaded (see the error).
    Failed,
}

impl FileStatus {
    /// A stable machine-readable name: `verified`, `size_only`, `unverified`, `skipped`,
    /// `failed`.
    pub fn as_str(&self) -> &'static str {
        match self {
            FileStatus::Verified => "verified",
            FileStatus::SizeOnly => "size_only",
            FileStatus::Unverified(_) => "unverified",
            FileStatus::Skipped => "skipped",
            FileStatus::Failed => "failed",
        }
    }
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
    /// The extra digest asked for with [`super::DownloadOptions::extra_digest`], for a file
    /// downloaded or skipped by the raw strategy.
    pub extra_digest: Option<String>,
}

impl FileReport {
    /// The outcome in one word (and why a file is unverified).
    pub fn status(&self) -> FileStatus {
        match &self.outcome {
            Outcome::Downloaded {
                verification: Verification::Unverified(why),
                ..
            } => FileStatus::Unverified(*why),
            Outcome::Downloaded {
                verification:
                    Verification::Verified {
                        checksum: false, ..
                    },
                ..
            } => FileStatus::SizeOnly,
            Outcome::Downloaded { .. } => FileStatus::Verified,
            Outcome::Skipped { .. } => FileStatus::Skipped,
            Outcome::Failed(_) => FileStatus::Failed,
        }
    }

    /// The error of a failed file.
    pub fn error(&self) -> Option<&IdsError> {
        match &self.outcome {
            Outcome::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// A zip entry that was not extracted because it is not one of the selected datafiles (an
/// extra file, an unsafe name, a second copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredEntry {
    /// The entry name, without control characters and cut to 200 characters.
    pub name: String,
    /// Why it was not extracted.
    pub reason: &'static str,
}

/// Result of running a plan.
#[derive(Debug, Default)]
pub struct DownloadSummary {
    /// One report per planned datafile, in plan order, then one per refused datafile.
    pub files: Vec<FileReport>,
    /// Zip entries that were not extracted (prepared zips and bundles).
    pub ignored: Vec<IgnoredEntry>,
    /// How the concurrency limit moved during the run.
    pub concurrency: super::adaptive::ConcurrencyStats,
    /// Bytes transferred in this run (excluding skipped files and resumed bytes).
    pub bytes_transferred: u64,
    /// Wall time.
    pub elapsed: Duration,
    /// True when the run was cancelled.
    pub cancelled: bool,
    /// Why the run stopped before all files were tried (the IDS kept failing, or the session is
    /// gone); the files not done fail with this one error.
    pub stopped: Option<Arc<IdsError>>,
}

impl DownloadSummary {
    /// The failed files.
    pub fn failed(&self) -> impl Iterator<Item = (&FileReport, &IdsError)> {
        self.files.iter().filter_map(|f| f.error().map(|e| (f, e)))
    }

    /// The files placed without anything to verify them against, and why.
    pub fn unverified(&self) -> impl Iterator<Item = (&FileReport, UnverifiedReason)> {
        self.files.iter().filter_map(|f| match f.status() {
            FileStatus::Unverified(why) => Some((f, why)),
            _ => None,
        })
    }

    /// True when every file is downloaded or skipped.
    pub fn is_complete(&self) -> bool {
        self.failed().next().is_none() && !self.cancelled
    }

    /// True when every file is downloaded or skipped and each was checked against the catalogue.
    pub fn is_verified(&self) -> bool {
        self.is_complete() && self.unverified().next().is_none()
    }
}

/// Clean a server-provided name for a report: no control characters, at most 200 characters.
pub(crate) fn clean_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || icat_soap::untrusted::is_bidi_control(c) {
                '?'
            } else {
                c
            }
        })
        .take(200)
        .collect()
}
