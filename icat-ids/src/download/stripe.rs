//! One very large datafile over several open-ended ranges (`Range: bytes=N-`), each stream
//! closed after its share, written at its offset into one temporary file in the work folder
//! (`df-<id>.stripes.part`), each share bounded by its end, the CRC32s of the shares combined
//! and checked against the catalogue before the file is renamed into place.
//!
//! A share whose stream breaks is fetched again from where it stopped (bounded retries); a
//! server that ignores ranges makes the file fall back to one raw stream. A striped transfer
//! that fails or is cancelled removes its temporary file (it is not resumed by a later run,
//! which fetches the file again).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use tokio::io::{AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio_util::sync::CancellationToken;

use super::adaptive::congestion;
use super::digest::digest_existing;
use super::part::{Expected, WRITE_BUF, create_work_dir, verify, work_dir};
use super::raw::{Flow, RawOutcome};
use super::report::{UnverifiedReason, Verification};
use super::split::stripe_offsets;
use super::{DownloadOptions, Phase, Progress};
use crate::backoff::sleep_or_cancel;
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::selection::{DataRef, DataSelection};
use crate::types::Packing;

/// Where one share goes and what it gave.
struct Share {
    from: u64,
    to: u64,
}

impl IdsClient {
    /// Fetch datafile `id` (`expected.size` known) with `streams` ranges; falls back to one raw
    /// stream when the server does not honour ranges.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn fetch_striped(
        &self,
        id: i64,
        root: &Path,
        rel: &Path,
        expected: &Expected,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        flow: &Flow<'_>,
        streams: u32,
    ) -> Result<RawOutcome, IdsError> {
        let size = match expected.size {
            Some(s) if streams > 1 => s,
            _ => {
                return self
                    .fetch_raw(id, root, rel, expected, opts, (index, label), flow)
                    .await;
            }
        };
        let tmp = work_dir(root).join(format!("df-{id}.stripes.part"));
        if let Some(dir) = root.join(rel).parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| IdsError::io("create directory", dir, e))?;
        }
        let r = self
            .striped_into(id, &tmp, size, opts, (index, label), flow, streams)
            .await;
        let crc = match r {
            Ok(crc) => crc,
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                if matches!(e, IdsError::BadRange { .. }) {
                    tracing::info!(file = label, error = %e, "ranges not honoured; one stream instead");
                    return self
                        .fetch_raw(id, root, rel, expected, opts, (index, label), flow)
                        .await;
                }
                if !matches!(e, IdsError::Cancelled) {
                    opts.report(progress(index, label, 0, size, Phase::Failed));
                }
                return Err(e);
            }
        };
        if let Err(e) = verify(label, &tmp, size, Some(crc), expected) {
            let _ = tokio::fs::remove_file(&tmp).await;
            opts.report(progress(index, label, size, size, Phase::Failed));
            return Err(e);
        }
        let name = tmp
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| IdsError::Internal {
                message: format!("temporary file {} has no plain name", tmp.display()),
            })?;
        let (r, p) = (root.to_path_buf(), rel.to_path_buf());
        let placed =
            tokio::task::spawn_blocking(move || super::place::rename_within(&r, &name, &p))
                .await
                .map_err(|e| IdsError::Internal {
                    message: format!("rename task failed: {e}"),
                })?;
        if let Err(e) = placed {
            let _ = tokio::fs::remove_file(&tmp).await;
            return Err(e);
        }
        let _ = tokio::fs::remove_dir(work_dir(root)).await;
        // The caller's extra digest: the placed file is read once for it (shares arrive out
        // of order, so it cannot be computed while streaming).
        let extra_digest = digest_existing(opts.extra_digest.as_ref(), &root.join(rel)).await?;
        opts.report(progress(index, label, size, size, Phase::Done));
        Ok(RawOutcome {
            extra_digest,
            bytes: size,
            resumed_from: 0,
            retries: 0,
            skipped: false,
            verification: Verification::from_catalogue(
                expected,
                UnverifiedReason::ServerLengthOnly,
            ),
        })
    }

    /// All shares into `tmp`; the CRC32 of the whole file.
    #[allow(clippy::too_many_arguments)]
    async fn striped_into(
        &self,
        id: i64,
        tmp: &Path,
        size: u64,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        flow: &Flow<'_>,
        streams: u32,
    ) -> Result<u32, IdsError> {
        create_work_dir(tmp).await?;
        if let Ok(m) = tokio::fs::symlink_metadata(tmp).await
            && m.file_type().is_symlink()
        {
            return Err(IdsError::UnsafeName {
                name: tmp.display().to_string(),
                reason: "the temporary file is a symbolic link",
            });
        }
        let f = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(tmp)
            .await
            .map_err(|e| IdsError::io("create", tmp, e))?;
        f.set_len(size)
            .await
            .map_err(|e| IdsError::io("allocate", tmp, e))?;
        drop(f);
        let offsets = stripe_offsets(size, streams);
        let shares: Vec<Share> = offsets
            .iter()
            .enumerate()
            .map(|(k, &from)| Share {
                from,
                to: offsets.get(k + 1).copied().unwrap_or(size),
            })
            .collect();
        opts.report(progress(index, label, 0, size, Phase::Started));
        let done = Arc::new(AtomicU64::new(0));
        // One failed share stops the others.
        let stop = opts.cancel.child_token();
        let tasks = shares.iter().map(|s| {
            let done = done.clone();
            let stop = stop.clone();
            async move {
                let r = self
                    .fetch_share(id, tmp, s, size, opts, (index, label), flow, &done, &stop)
                    .await;
                if r.is_err() {
                    stop.cancel();
                }
                r
            }
        });
        let results = futures_util::future::join_all(tasks).await;
        if opts.cancel.is_cancelled() {
            return Err(IdsError::Cancelled);
        }
        let mut crc: Option<crc32fast::Hasher> = None;
        let mut first_err = None;
        for r in results {
            match r {
                Ok(h) => match &mut crc {
                    Some(c) => c.combine(&h),
                    None => crc = Some(h),
                },
                // The share that failed first is the cause; the others were stopped.
                Err(IdsError::Cancelled) => {}
                Err(e) => {
                    first_err.get_or_insert(e);
                }
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
        if opts.fsync {
            let f = tokio::fs::OpenOptions::new()
                .write(true)
                .open(tmp)
                .await
                .map_err(|e| IdsError::io("open", tmp, e))?;
            f.sync_all()
                .await
                .map_err(|e| IdsError::io("sync", tmp, e))?;
        }
        Ok(crc.unwrap_or_default().finalize())
    }

    /// One share: from its start (or where a broken stream stopped) to its end, then the stream
    /// is dropped; the CRC32 of the share.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_share(
        &self,
        id: i64,
        tmp: &Path,
        share: &Share,
        size: u64,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        flow: &Flow<'_>,
        done: &AtomicU64,
        stop: &CancellationToken,
    ) -> Result<crc32fast::Hasher, IdsError> {
        let f = tokio::fs::OpenOptions::new()
            .write(true)
            .open(tmp)
            .await
            .map_err(|e| IdsError::io("open", tmp, e))?;
        let mut w = BufWriter::with_capacity(WRITE_BUF, f);
        w.seek(std::io::SeekFrom::Start(share.from))
            .await
            .map_err(|e| IdsError::io("seek", tmp, e))?;
        let mut hasher = crc32fast::Hasher::new();
        let mut pos = share.from;
        let sel = DataSelection::datafiles([id]);
        let what = match flow.prepared {
            Some(p) => DataRef::Prepared(p),
            None => DataRef::Selection(&sel),
        };
        let mut attempt = 0u32;
        loop {
            let r = async {
                let _permit = match flow.limiter {
                    Some(l) => Some(tokio::select! {
                        _ = stop.cancelled() => return Err(IdsError::Cancelled),
                        p = l.acquire() => p,
                    }),
                    None => None,
                };
                let r = self
                    .stream_share(
                        what,
                        &mut w,
                        &mut hasher,
                        &mut pos,
                        share.to,
                        size,
                        (stop, opts),
                        flow,
                        (done, tmp),
                        (index, label),
                    )
                    .await;
                if let Err(e) = &r {
                    flow.saw_error(e);
                }
                r
            }
            .await;
            let e = match r {
                Ok(()) => {
                    w.flush().await.map_err(|e| IdsError::io("write", tmp, e))?;
                    return Ok(hasher);
                }
                Err(e) => e,
            };
            if matches!(e, IdsError::Cancelled) || stop.is_cancelled() {
                return Err(IdsError::Cancelled);
            }
            if !e.is_transient() || attempt >= opts.max_retries {
                return Err(if attempt > 0 {
                    IdsError::RetriesExhausted {
                        file: label.to_string(),
                        attempts: attempt + 1,
                        last: Box::new(e),
                    }
                } else {
                    e
                });
            }
            let delay = opts
                .backoff
                .delay(attempt)
                .max(congestion(&e).flatten().unwrap_or_default());
            attempt += 1;
            tracing::warn!(file = label, attempt, from = pos, error = %e, "share transfer failed; resuming it in {delay:?}");
            sleep_or_cancel(delay, stop).await?;
        }
    }

    /// One request for the share from `pos`; reads up to `to` and drops the stream there.
    #[allow(clippy::too_many_arguments)]
    async fn stream_share(
        &self,
        what: DataRef<'_>,
        w: &mut BufWriter<tokio::fs::File>,
        hasher: &mut crc32fast::Hasher,
        pos: &mut u64,
        to: u64,
        size: u64,
        (stop, opts): (&CancellationToken, &DownloadOptions),
        flow: &Flow<'_>,
        (done, tmp): (&AtomicU64, &Path),
        (index, label): (usize, &str),
    ) -> Result<(), IdsError> {
        let ds = tokio::select! {
            _ = stop.cancelled() => return Err(IdsError::Cancelled),
            r = self.get_data(what, Packing::default(), *pos) => r?,
        };
        if *pos > 0 && ds.status() != 206 {
            return Err(IdsError::BadRange {
                file: label.to_string(),
                detail: format!(
                    "asked for the bytes from {}, the answer is not partial",
                    *pos
                ),
            });
        }
        if let Some(Ok((first, _))) = ds.content_range()
            && first != *pos
        {
            return Err(IdsError::BadRange {
                file: label.to_string(),
                detail: format!(
                    "asked for the bytes from {}, the answer starts at {first}",
                    *pos
                ),
            });
        }
        if let Some(len) = ds.content_length()
            && pos.checked_add(len) != Some(size)
        {
            return Err(IdsError::BadRange {
                file: label.to_string(),
                detail: format!(
                    "asked for the bytes from {} of a {size}-byte file, the answer holds {len}",
                    *pos
                ),
            });
        }
        let mut stream = ds.into_stream();
        while *pos < to {
            let next = tokio::select! {
                _ = stop.cancelled() => return Err(IdsError::Cancelled),
                n = stream.next() => n,
            };
            let chunk = match next {
                None => {
                    return Err(IdsError::IncompleteTransfer {
                        file: label.to_string(),
                        received: *pos,
                        expected: to,
                    });
                }
                Some(Ok(c)) => c,
                Some(Err(e)) => return Err(self.map_reqwest("getData", e)),
            };
            // Never past the share's end: the rest belongs to the next share.
            let take = chunk
                .len()
                .min(usize::try_from(to - *pos).unwrap_or(usize::MAX));
            let bytes = &chunk[..take];
            w.write_all(bytes)
                .await
                .map_err(|e| IdsError::io("write", tmp, e))?;
            hasher.update(bytes);
            *pos += take as u64;
            flow.record(take as u64);
            let total = done.fetch_add(take as u64, Ordering::Relaxed) + take as u64;
            opts.report(progress(index, label, total, size, Phase::Transferring));
        }
        // Dropping the stream closes this connection: the share is complete.
        Ok(())
    }
}

fn progress(index: usize, name: &str, done: u64, total: u64, phase: Phase) -> Progress<'_> {
    Progress {
        index,
        name,
        done,
        total: Some(total),
        phase,
    }
}
