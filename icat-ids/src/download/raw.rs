//! One datafile as a raw stream: `.part` file, resume with `Range: bytes=N-` after a dropped
//! connection (bounded retries with backoff), size + CRC32 verification, then rename.

use std::path::Path;

use futures_util::StreamExt;

use super::part::{Expected, PartFile, existing_matches, hash_file, verify};
use super::{DownloadOptions, Phase, Progress};
use crate::backoff::sleep_or_cancel;
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::selection::DataSelection;
use crate::types::Packing;

/// Result of one raw datafile download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOutcome {
    /// Final size in bytes.
    pub bytes: u64,
    /// Bytes that were already in the `.part` file from an earlier run.
    pub resumed_from: u64,
    /// Retries needed (dropped connections, server hiccups).
    pub retries: u32,
    /// The final file already existed and matched; nothing was downloaded.
    pub skipped: bool,
}

impl IdsClient {
    /// Download datafile `id` as raw bytes to `target`: resumes a `.part` left by an earlier run,
    /// retries dropped connections with `Range`, verifies size and CRC32 against `expected`, and
    /// only then renames into place.
    pub async fn download_datafile(
        &self,
        id: i64,
        target: &Path,
        expected: &Expected,
        opts: &DownloadOptions,
    ) -> Result<RawOutcome, IdsError> {
        let label = target.display().to_string();
        self.fetch_raw(id, target, expected, opts, 0, &label).await
    }

    pub(crate) async fn fetch_raw(
        &self,
        id: i64,
        target: &Path,
        expected: &Expected,
        opts: &DownloadOptions,
        index: usize,
        label: &str,
    ) -> Result<RawOutcome, IdsError> {
        let report = |done, phase| {
            opts.report(Progress {
                index,
                name: label,
                done,
                total: expected.size,
                phase,
            })
        };
        if let Ok(m) = tokio::fs::symlink_metadata(target).await {
            if m.is_dir() {
                return Err(IdsError::TargetExists {
                    path: target.to_path_buf(),
                    detail: "it is a directory".into(),
                });
            }
            if !opts.overwrite {
                return match existing_matches(target, expected).await? {
                    Ok(()) => {
                        report(m.len(), Phase::Skipped);
                        Ok(RawOutcome {
                            bytes: m.len(),
                            resumed_from: 0,
                            retries: 0,
                            skipped: true,
                        })
                    }
                    Err(detail) => Err(IdsError::TargetExists {
                        path: target.to_path_buf(),
                        detail,
                    }),
                };
            }
        }
        let mut part = PartFile::open(target, false).await?;
        if expected.size.is_some_and(|s| part.len() > s) {
            part.truncate().await?;
        }
        let resumed_from = part.len();
        let mut hasher = if resumed_from > 0 {
            tracing::info!(
                file = label,
                bytes = resumed_from,
                "resuming from .part file"
            );
            hash_file(part.path(), Some(resumed_from)).await?.0
        } else {
            crc32fast::Hasher::new()
        };
        let mut attempt = 0u32;
        let mut restarted = false;
        let mut used_resume = resumed_from > 0;
        report(part.len(), Phase::Started);
        loop {
            let r = self
                .stream_once(id, &mut part, &mut hasher, expected, opts, index, label)
                .await;
            let err = match r {
                Ok(()) => {
                    part.sync(opts.fsync).await?;
                    let crc = hasher.clone().finalize();
                    match verify(label, part.path(), part.len(), Some(crc), expected) {
                        Ok(()) => {
                            let bytes = part.len();
                            part.commit().await?;
                            report(bytes, Phase::Done);
                            return Ok(RawOutcome {
                                bytes,
                                resumed_from,
                                retries: attempt,
                                skipped: false,
                            });
                        }
                        Err(e) if used_resume && !restarted => {
                            // Resumed bytes may belong to an older version of the file:
                            // fetch it whole once before giving up.
                            tracing::warn!(file = label, error = %e, "verification failed after resume; downloading again from the start");
                            restarted = true;
                            used_resume = false;
                            part.truncate().await?;
                            hasher = crc32fast::Hasher::new();
                            report(0, Phase::Started);
                            continue;
                        }
                        Err(e) => {
                            report(part.len(), Phase::Failed);
                            return Err(e);
                        }
                    }
                }
                Err(e) => e,
            };
            part.flush().await?;
            if matches!(err, IdsError::Cancelled) || opts.cancel.is_cancelled() {
                return Err(IdsError::Cancelled);
            }
            if !err.is_transient() || attempt >= opts.max_retries {
                report(part.len(), Phase::Failed);
                return Err(if attempt > 0 {
                    IdsError::RetriesExhausted {
                        file: label.to_string(),
                        attempts: attempt + 1,
                        last: Box::new(err),
                    }
                } else {
                    err
                });
            }
            let delay = opts.backoff.delay(attempt);
            attempt += 1;
            used_resume |= !part.is_empty();
            tracing::warn!(file = label, attempt, error = %err, "transfer failed; resuming in {delay:?}");
            report(part.len(), Phase::Retrying { attempt, delay });
            sleep_or_cancel(delay, &opts.cancel).await?;
        }
    }

    /// One `getData` request from the current end of `part`.
    #[allow(clippy::too_many_arguments)]
    async fn stream_once(
        &self,
        id: i64,
        part: &mut PartFile,
        hasher: &mut crc32fast::Hasher,
        expected: &Expected,
        opts: &DownloadOptions,
        index: usize,
        label: &str,
    ) -> Result<(), IdsError> {
        let sel = DataSelection::datafiles([id]);
        let offset = part.len();
        let ds = tokio::select! {
            _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
            r = self.get_data(&sel, Packing::default(), offset) => r?,
        };
        if offset > 0 && !ds.is_partial() {
            tracing::info!(
                file = label,
                "server ignored the range; downloading from the start"
            );
            part.truncate().await?;
            *hasher = crc32fast::Hasher::new();
        }
        let total = expected
            .size
            .or_else(|| ds.content_length().map(|c| c + part.len()));
        let mut stream = ds.into_stream();
        loop {
            let next = tokio::select! {
                _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
                n = stream.next() => n,
            };
            match next {
                None => break,
                Some(Ok(chunk)) => {
                    part.write(&chunk).await?;
                    hasher.update(&chunk);
                    opts.report(Progress {
                        index,
                        name: label,
                        done: part.len(),
                        total,
                        phase: Phase::Transferring,
                    });
                }
                Some(Err(e)) => return Err(self.map_reqwest("getData", e)),
            }
        }
        if let Some(t) = total
            && part.len() < t
        {
            return Err(IdsError::IncompleteTransfer {
                file: label.to_string(),
                received: part.len(),
                expected: t,
            });
        }
        Ok(())
    }
}
