//! One datafile as a raw stream: a temporary file named after the datafile id, resume with
//! `Range: bytes=N-` after a dropped connection (bounded retries with backoff), reading bounded
//! by the expected size, size + CRC32 verification, then rename.

use std::path::Path;

use futures_util::StreamExt;

use super::adaptive::{Limiter, congestion};
use super::digest::{FileHasher, digest_existing};
use super::lock::DestLock;
use super::part::{Expected, PartFile, datafile_part, existing_matches, verify, work_dir};
use super::report::{UnverifiedReason, Verification};
use super::room::{Bound, tighter, unknown_size_bound};
use super::{DownloadOptions, Phase, Progress};
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::pause::sleep_or_cancel;
use crate::selection::{DataRef, DataSelection, PreparedId};
use crate::types::Packing;

/// What feeds one transfer of a run: the run's concurrency limiter (a slot is held only while
/// a request is open, not during pauses) and, for data prepared in advance, its prepared id
/// (then no request of the transfer needs the session).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flow<'a> {
    /// The run's limiter.
    pub limiter: Option<&'a Limiter>,
    /// Fetch by this prepared id instead of by session and datafile id.
    pub prepared: Option<&'a PreparedId>,
}

impl Flow<'_> {
    /// Tell the limiter what an error says about the server's load; returns the pause the
    /// server asked for.
    pub(crate) fn saw_error(&self, e: &IdsError) -> Option<std::time::Duration> {
        let signal = congestion(e)?;
        if let Some(l) = self.limiter {
            l.congested(signal, std::time::Instant::now());
        }
        signal
    }

    pub(crate) fn record(&self, bytes: u64) {
        if let Some(l) = self.limiter {
            l.record(bytes, std::time::Instant::now());
        }
    }
}

/// Result of one raw datafile download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawOutcome {
    /// Final size in bytes.
    pub bytes: u64,
    /// Bytes from an earlier run's temporary file that the final file kept (0 when they were
    /// thrown away and the file fetched again from the start).
    pub resumed_from: u64,
    /// Retries needed (dropped connections, server hiccups).
    pub retries: u32,
    /// The final file already existed and matched; nothing was downloaded.
    pub skipped: bool,
    /// What the file was checked against.
    pub verification: Verification,
    /// The caller's extra digest of the final file ([`DownloadOptions::extra_digest`]), computed
    /// while streaming (over the resumed prefix too); `None` when none was asked for.
    pub extra_digest: Option<String>,
}

impl IdsClient {
    /// Download datafile `id` as raw bytes to `target`: resumes the partial data an earlier run
    /// left for this datafile (in `.icat-download/` beside `target`), retries dropped connections
    /// with `Range`, stops reading as soon as more than the expected size arrives, verifies size
    /// and CRC32 against `expected`, and only then renames into place.
    pub async fn download_datafile(
        &self,
        id: i64,
        target: &Path,
        expected: &Expected,
        opts: &DownloadOptions,
    ) -> Result<RawOutcome, IdsError> {
        let label = target.display().to_string();
        let root = target.parent().unwrap_or(Path::new(""));
        let Some(name) = target.file_name() else {
            return Err(IdsError::UnsafeName {
                name: label,
                reason: "the target has no file name",
            });
        };
        let lock = DestLock::acquire(root).await?;
        let r = self
            .fetch_raw(
                id,
                root,
                Path::new(name),
                expected,
                opts,
                (0, &label),
                &Flow::default(),
            )
            .await;
        lock.release().await;
        r
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn fetch_raw(
        &self,
        id: i64,
        root: &Path,
        rel: &Path,
        expected: &Expected,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        flow: &Flow<'_>,
    ) -> Result<RawOutcome, IdsError> {
        let target = &root.join(rel);
        let tmp = &datafile_part(&work_dir(root), id);
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
            // A matching file is skipped; one that differs is an error, or with `overwrite` is
            // downloaded again into its `.part` file and replaces the old one once verified.
            match existing_matches(target, expected).await? {
                Ok(()) => {
                    let extra_digest = digest_existing(opts.extra_digest.as_ref(), target).await?;
                    report(m.len(), Phase::Skipped);
                    return Ok(RawOutcome {
                        bytes: m.len(),
                        resumed_from: 0,
                        retries: 0,
                        skipped: true,
                        verification: Verification::from_catalogue(
                            expected,
                            UnverifiedReason::NothingToCompare,
                        ),
                        extra_digest,
                    });
                }
                Err(detail) if !opts.overwrite => {
                    return Err(IdsError::TargetExists {
                        path: target.to_path_buf(),
                        detail,
                    });
                }
                Err(detail) => {
                    tracing::info!(file = label, %detail, "replacing a local file that differs");
                }
            }
        }
        let mut part = PartFile::open(tmp, target, false).await?;
        if expected.size.is_some_and(|s| part.len() > s) {
            part.truncate().await?;
        }
        let resumed_from = part.len();
        let mut hasher = if resumed_from > 0 {
            tracing::info!(
                file = label,
                bytes = resumed_from,
                "resuming from the partial download"
            );
            FileHasher::with_prefix(opts.extra_digest.as_ref(), part.path(), resumed_from).await?
        } else {
            FileHasher::new(opts.extra_digest.as_ref())
        };
        let mut attempt = 0u32;
        let mut restarted = false;
        let mut range_restarted = false;
        let mut used_resume = resumed_from > 0;
        report(part.len(), Phase::Started);
        loop {
            let before = part.len();
            let r = self
                .stream_once(
                    id,
                    &mut part,
                    &mut hasher,
                    expected,
                    opts,
                    (index, label),
                    flow,
                )
                .await;
            let err = match r {
                Ok(server_length) => {
                    part.sync(opts.fsync).await?;
                    let crc = hasher.crc();
                    match verify(label, part.path(), part.len(), Some(crc), expected) {
                        Ok(()) => {
                            let bytes = part.len();
                            // What this run did not fetch: 0 after a refetch from the start.
                            let resumed_from = part.kept_from_earlier();
                            part.commit_within(root, rel).await?;
                            report(bytes, Phase::Done);
                            let fallback = if server_length {
                                UnverifiedReason::ServerLengthOnly
                            } else {
                                UnverifiedReason::NothingToCompare
                            };
                            return Ok(RawOutcome {
                                bytes,
                                resumed_from,
                                retries: attempt,
                                skipped: false,
                                verification: Verification::from_catalogue(expected, fallback),
                                extra_digest: hasher.finish_extra(),
                            });
                        }
                        Err(e) if used_resume && !restarted => {
                            // Resumed bytes may belong to an older version of the file:
                            // fetch it whole once before giving up.
                            tracing::warn!(file = label, error = %e, "verification failed after resume; downloading again from the start");
                            restarted = true;
                            used_resume = false;
                            part.truncate().await?;
                            hasher.reset();
                            report(0, Phase::Started);
                            continue;
                        }
                        Err(e) => {
                            report(part.len(), Phase::Failed);
                            return Err(e);
                        }
                    }
                }
                Err(e)
                    if !range_restarted
                        && !part.is_empty()
                        && matches!(
                            e,
                            IdsError::BadRange { .. } | IdsError::Server { status: 416, .. }
                        ) =>
                {
                    // The partial data does not fit what the server has (or says): fetch the
                    // whole file once, without a range.
                    tracing::warn!(file = label, error = %e, "the server's answer does not continue the partial download; downloading again from the start");
                    range_restarted = true;
                    used_resume = false;
                    part.truncate().await?;
                    hasher.reset();
                    report(0, Phase::Started);
                    continue;
                }
                Err(
                    e @ (IdsError::BodyTooLong { .. }
                    | IdsError::NotEnoughSpace { .. }
                    | IdsError::BadRange { .. }),
                ) => {
                    // The stream is not this file: its bytes are worth nothing.
                    report(part.len(), Phase::Failed);
                    part.discard().await;
                    return Err(e);
                }
                Err(e) => e,
            };
            part.flush().await?;
            if matches!(err, IdsError::Cancelled) || opts.cancel.is_cancelled() {
                return Err(IdsError::Cancelled);
            }
            if matches!(&err, IdsError::DataNotOnline { message } if !message.contains("busy")) {
                // Archived: not a failure yet (the plan waits for the restore and tries again,
                // so no `Failed` is reported), and no empty partial file is left behind before
                // any bytes arrived; partial data is kept for the resume.
                if part.is_empty() {
                    part.discard().await;
                }
                return Err(err);
            }
            // A failure counts against the run's shared budget too: when that is spent (the
            // IDS keeps failing, or stays busy, for every file), this file stops and so does
            // the run.
            let err = match &opts.retry_budget {
                Some(budget) if err.is_transient() => match budget.failed(err) {
                    Ok(err) => err,
                    Err(stop) => {
                        report(part.len(), Phase::Failed);
                        return Err(stop);
                    }
                },
                _ => err,
            };
            // The limiter heard of it while the request's slot was still held (in stream_once).
            let asked = congestion(&err).flatten();
            if !err.is_transient() || attempt >= opts.retry.max_retries {
                report(part.len(), Phase::Failed);
                let err = if attempt > 0 {
                    IdsError::RetriesExhausted {
                        file: label.to_string(),
                        attempts: attempt + 1,
                        last: Box::new(err),
                    }
                } else {
                    err
                };
                return Err(match &opts.retry_budget {
                    Some(budget) => budget.gave_up(err),
                    None => err,
                });
            }
            let delay = opts.retry.pause(attempt + 1, asked);
            // Never past the run's --max-unreachable (the try then is the last).
            let delay = opts.retry_budget.as_ref().map_or(delay, |b| b.pause(delay));
            attempt += 1;
            used_resume |= !part.is_empty();
            tracing::warn!(file = label, attempt, error = %err, "transfer failed; resuming in {delay:?}");
            let cause = super::RetryCause::of(&err, part.len() > before);
            report(
                part.len(),
                Phase::Retrying {
                    attempt,
                    delay,
                    cause,
                },
            );
            sleep_or_cancel(delay, &opts.cancel).await?;
            if let Some(budget) = &opts.retry_budget
                && budget.stopped().is_some()
            {
                // Another file spent the budget while this one waited: the run stops.
                report(part.len(), Phase::Failed);
                return Err(IdsError::Unreachable {
                    failures: budget.failures_in_a_row(),
                    last: std::sync::Arc::new(err),
                });
            }
        }
    }

    /// One `getData` request from the current end of `part`; true when the server announced
    /// the length it sent (and all of it arrived). Reading stops, without writing, at the first
    /// chunk that would take the file past the catalogue size (else the announced length).
    #[allow(clippy::too_many_arguments)]
    async fn stream_once(
        &self,
        id: i64,
        part: &mut PartFile,
        hasher: &mut FileHasher,
        expected: &Expected,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        flow: &Flow<'_>,
    ) -> Result<bool, IdsError> {
        let sel = DataSelection::datafiles([id]);
        let what = match flow.prepared {
            Some(p) => DataRef::Prepared(p),
            None => DataRef::Selection(&sel),
        };
        // A slot of the run is held while the request is open.
        let _permit = match flow.limiter {
            Some(l) => Some(tokio::select! {
                _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
                p = l.acquire() => p,
            }),
            None => None,
        };
        let r = self
            .stream_body(what, part, hasher, expected, opts, (index, label), flow)
            .await;
        if let Err(e) = &r {
            // While the slot is held, so no other transfer takes it before the limit drops.
            flow.saw_error(e);
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream_body(
        &self,
        what: DataRef<'_>,
        part: &mut PartFile,
        hasher: &mut FileHasher,
        expected: &Expected,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        flow: &Flow<'_>,
    ) -> Result<bool, IdsError> {
        let offset = part.len();
        let ds = tokio::select! {
            _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
            r = self.get_data(what, Packing::default(), offset) => r?,
        };
        check_range(label, offset, &ds, expected)?;
        if offset > 0 && !ds.is_partial() {
            tracing::info!(
                file = label,
                "server ignored the range; downloading from the start"
            );
            part.truncate().await?;
            hasher.reset();
        }
        let server_length = ds.content_length().map(|c| c + part.len());
        let total = expected.size.or(server_length);
        // Unknown catalogue size: Content-Length (if sent) and the room at the destination.
        let dir = part.path().parent().unwrap_or(Path::new(".")).to_path_buf();
        let limit = match expected.size {
            Some(s) => Some(Bound::Size(s)),
            None => tighter(
                server_length.map(Bound::Size),
                unknown_size_bound(&dir, opts.unknown_size_limit),
            ),
        };
        let mut stream = ds.into_stream();
        loop {
            let next = tokio::select! {
                _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
                n = stream.next() => n,
            };
            match next {
                None => break,
                Some(Ok(chunk)) => {
                    if let Some(limit) = limit
                        && part.len() + chunk.len() as u64 > limit.bytes()
                    {
                        return Err(limit.exceeded(label, &dir));
                    }
                    part.write(&chunk).await?;
                    hasher.update(&chunk);
                    flow.record(chunk.len() as u64);
                    if let Some(budget) = &opts.retry_budget {
                        budget.progress();
                    }
                    // The chunk that completes the file is reported by `Done` (or by the
                    // failure that follows when the file does not verify): its count once.
                    if total != Some(part.len()) {
                        opts.report(Progress {
                            index,
                            name: label,
                            done: part.len(),
                            total,
                            phase: Phase::Transferring,
                        });
                    }
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
        Ok(server_length.is_some())
    }
}

/// Refuse a partial (206) answer that does not continue the partial download: one that starts
/// elsewhere than asked (`Content-Range`), one for a file of another size, or a partial answer
/// to a request for the whole file. The IDS itself sends 206 with only a `Content-Length`
/// (the file size minus the offset), which is checked against the catalogue size.
fn check_range(
    label: &str,
    offset: u64,
    ds: &crate::client::DataStream,
    expected: &Expected,
) -> Result<(), IdsError> {
    if ds.status() != 206 {
        return Ok(());
    }
    let bad = |detail: String| {
        Err(IdsError::BadRange {
            file: label.to_string(),
            detail,
        })
    };
    match ds.content_range() {
        Some(Ok((first, total))) => {
            if first != offset {
                return bad(format!(
                    "asked for the bytes from {offset}, the answer starts at byte {first}"
                ));
            }
            if let (Some(t), Some(s)) = (total, expected.size)
                && t != s
            {
                return bad(format!(
                    "the answer is part of a {t}-byte file, the catalogue says {s} bytes"
                ));
            }
        }
        Some(Err(text)) => {
            return bad(format!(
                "unreadable Content-Range {:?}",
                super::report::clean_name(&text)
            ));
        }
        None if offset == 0 => {
            return bad("a partial answer (206) to a request for the whole file".into());
        }
        None => {}
    }
    if let (Some(len), Some(s)) = (ds.content_length(), expected.size)
        && offset.checked_add(len) != Some(s)
    {
        return bad(format!(
            "asked for the bytes from {offset} of a {s}-byte file, the answer holds {len}"
        ));
    }
    Ok(())
}
