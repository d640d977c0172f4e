//! One very large datafile over several open-ended ranges (`Range: bytes=N-`), each stream
//! closed after its share, written at its offset into one temporary file in the work folder
//! (`df-<id>.stripes.part`), each share bounded by its end, the CRC32s of the shares combined
//! and checked against the catalogue before the file is renamed into place.
//!
//! A share whose stream breaks is fetched again from where it stopped (bounded retries); a
//! server that ignores ranges makes the file fall back to one raw stream. A striped transfer
//! that fails or is cancelled keeps its temporary file and its state (`stripe_state.rs`): a
//! later run resumes every share where it stopped (reading the resumed bytes back for the
//! CRC32) and, when the resumed file fails verification, fetches it once more from scratch.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use futures_util::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt, BufWriter};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::adaptive::congestion;
use super::digest::digest_existing;
use super::part::{Expected, WRITE_BUF, create_work_dir, verify, work_dir};
use super::raw::{Flow, RawOutcome};
use super::report::{UnverifiedReason, Verification};
use super::split::AutoOptions;
use super::split::stripe_offsets;
use super::stripe_state::{StripeState, stripes_part};
use super::{DownloadOptions, Phase, Progress, Strategy};
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::pause::sleep_or_cancel;
use crate::selection::{DataRef, DataSelection};
use crate::types::Packing;

/// A share's progress is saved after about this many bytes (and when the transfer stops).
const SAVE_EVERY: u64 = 16 << 20;

/// Where one share goes: its number in the state, its range, and where its bytes start.
struct Share {
    k: usize,
    from: u64,
    to: u64,
    done: u64,
}

/// The state of a striped transfer, shared by its shares; saving is serialized by the lock.
struct Saved<'a> {
    part: &'a Path,
    state: Mutex<StripeState>,
    /// Server reads so far over all runs (saved with the state).
    reads: AtomicU64,
}

impl Saved<'_> {
    /// Share `k` has its bytes up to `done` written (handed to the OS): record and save it.
    async fn progress(&self, k: usize, done: u64) -> Result<(), IdsError> {
        let mut s = self.state.lock().await;
        if let Some(share) = s.shares.get_mut(k) {
            share.done = done;
        }
        s.reads = self.reads.load(Ordering::Relaxed);
        s.save(self.part).await
    }

    /// The server read `n` more bytes for this transfer (a prefix it skipped, or bytes sent).
    fn read(&self, n: u64) {
        self.reads.fetch_add(n, Ordering::Relaxed);
    }
}

/// The read budget of a striped transfer, in percent of the file's size.
fn read_budget_percent(opts: &DownloadOptions) -> u32 {
    match opts.strategy {
        Strategy::Auto(auto) => auto.read_budget_percent,
        _ => AutoOptions::default().read_budget_percent,
    }
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
        let tmp = stripes_part(&work_dir(root), id);
        // An earlier run's shares resume within what the read budget has left (with one stream
        // too, when `--parallel 1` is all this run has).
        let mut resume = StripeState::load(&tmp, expected)
            .await
            .map(|s| s.resume_shares(read_budget_percent(opts), streams.max(1) as usize));
        let size = match expected.size {
            Some(s) if streams > 1 || resume.is_some() => s,
            _ => {
                return self
                    .fetch_raw(id, root, rel, expected, opts, (index, label), flow)
                    .await;
            }
        };
        if let Some(dir) = root.join(rel).parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| IdsError::io("create directory", dir, e))?;
        }
        let (crc, resumed_from) = loop {
            let resumed = resume.take();
            let was_resumed = resumed.as_ref().is_some_and(|s| s.written() > 0);
            let r = self
                .striped_into(
                    id,
                    &tmp,
                    size,
                    expected,
                    resumed,
                    opts,
                    (index, label),
                    flow,
                    streams,
                )
                .await;
            let (crc, resumed_from) = match r {
                Ok(v) => v,
                Err(e) => {
                    if matches!(e, IdsError::BadRange { .. }) {
                        discard(&tmp).await;
                        tracing::info!(file = label, error = %e, "ranges not honoured; one stream instead");
                        return self
                            .fetch_raw(id, root, rel, expected, opts, (index, label), flow)
                            .await;
                    }
                    // The shares written so far stay for a later run.
                    if !matches!(e, IdsError::Cancelled) {
                        opts.report(progress(index, label, 0, size, Phase::Failed));
                    }
                    return Err(e);
                }
            };
            match verify(label, &tmp, size, Some(crc), expected) {
                Ok(()) => break (crc, resumed_from),
                Err(e) if was_resumed => {
                    // The resumed bytes may belong to an older version of the file: fetch it
                    // whole once more before giving up.
                    tracing::warn!(file = label, error = %e, "verification failed after resuming the shares; fetching the file again");
                    discard(&tmp).await;
                }
                Err(e) => {
                    discard(&tmp).await;
                    opts.report(progress(index, label, size, size, Phase::Failed));
                    return Err(e);
                }
            }
        };
        let _ = crc;
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
            discard(&tmp).await;
            return Err(e);
        }
        StripeState::remove(&tmp).await;
        let _ = tokio::fs::remove_dir(work_dir(root)).await;
        // The caller's extra digest: the placed file is read once for it (shares arrive out
        // of order, so it cannot be computed while streaming).
        let extra_digest = digest_existing(opts.extra_digest.as_ref(), &root.join(rel)).await?;
        opts.report(progress(index, label, size, size, Phase::Done));
        Ok(RawOutcome {
            extra_digest,
            bytes: size,
            resumed_from,
            retries: 0,
            skipped: false,
            verification: Verification::from_catalogue(
                expected,
                UnverifiedReason::ServerLengthOnly,
            ),
        })
    }

    /// All shares into `tmp`, from where `resumed` says they stopped (else from scratch, in
    /// `streams` shares); the CRC32 of the whole file and the bytes that were resumed.
    #[allow(clippy::too_many_arguments)]
    async fn striped_into(
        &self,
        id: i64,
        tmp: &Path,
        size: u64,
        expected: &Expected,
        resumed: Option<StripeState>,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        flow: &Flow<'_>,
        streams: u32,
    ) -> Result<(u32, u64), IdsError> {
        create_work_dir(tmp).await?;
        if let Ok(m) = tokio::fs::symlink_metadata(tmp).await
            && m.file_type().is_symlink()
        {
            return Err(IdsError::LinkInDestination {
                link: tmp.to_path_buf(),
                what: "a temporary file of the download",
            });
        }
        let state = match resumed {
            Some(s) => {
                let streams = s.shares.iter().filter(|x| x.done < x.to).count();
                tracing::info!(
                    file = label,
                    bytes = s.written(),
                    streams,
                    server_reads = format_args!(
                        "{:.2}x the file so far, {:.2}x more",
                        s.reads as f64 / size.max(1) as f64,
                        s.resume_reads() as f64 / size.max(1) as f64
                    ),
                    "resuming the striped partial download"
                );
                // Saved at once: a run stopped before its first progress keeps the new shares
                // (and what the earlier runs read).
                s.save(tmp).await?;
                s
            }
            None => {
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
                let reads = super::split::server_reads(size, &offsets);
                tracing::info!(
                    file = label,
                    streams,
                    offsets = ?offsets,
                    server_reads = format_args!("{:.2}x the file", reads as f64 / size.max(1) as f64),
                    "one stream is not enough for this file: fetching it over {streams} ranges"
                );
                let s = StripeState::fresh(size, expected, &offsets);
                s.save(tmp).await?;
                s
            }
        };
        let resumed_from = state.written();
        let reads = AtomicU64::new(state.reads);
        let shares: Vec<Share> = state
            .shares
            .iter()
            .enumerate()
            .map(|(k, s)| Share {
                k,
                from: s.from,
                to: s.to,
                done: s.done,
            })
            .collect();
        let saved = Saved {
            part: tmp,
            state: Mutex::new(state),
            reads,
        };
        opts.report(progress(index, label, resumed_from, size, Phase::Started));
        let done = Arc::new(AtomicU64::new(resumed_from));
        // One failed share stops the others.
        let stop = opts.cancel.child_token();
        let tasks = shares.iter().map(|s| {
            let done = done.clone();
            let stop = stop.clone();
            let saved = &saved;
            async move {
                let r = self
                    .fetch_share(
                        id,
                        (tmp, saved),
                        s,
                        size,
                        opts,
                        (index, label),
                        flow,
                        &done,
                        &stop,
                    )
                    .await;
                if r.is_err() {
                    stop.cancel();
                }
                r
            }
        });
        let results = futures_util::future::join_all(tasks).await;
        if opts.cancel.is_cancelled() {
            // Every share saved where it stopped: a later run resumes them.
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
        Ok((crc.unwrap_or_default().finalize(), resumed_from))
    }

    /// One share: from where it stopped (its start, where a broken stream stopped, or where an
    /// earlier run left it: those bytes are read back for the CRC32) to its end, then the
    /// stream is dropped; the CRC32 of the share. Its progress is saved every [`SAVE_EVERY`]
    /// bytes and when it stops, whatever the reason.
    #[allow(clippy::too_many_arguments)]
    async fn fetch_share(
        &self,
        id: i64,
        (tmp, saved): (&Path, &Saved<'_>),
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
        let mut hasher = crc32fast::Hasher::new();
        hash_range(tmp, share.from, share.done, &mut hasher).await?;
        let mut w = BufWriter::with_capacity(WRITE_BUF, f);
        w.seek(std::io::SeekFrom::Start(share.done))
            .await
            .map_err(|e| IdsError::io("seek", tmp, e))?;
        let mut pos = share.done;
        if pos >= share.to {
            return Ok(hasher);
        }
        let mut saved_at = pos;
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
                        (&mut pos, &mut saved_at),
                        share,
                        size,
                        (stop, opts),
                        flow,
                        (done, tmp, saved),
                        (index, label),
                    )
                    .await;
                if let Err(e) = &r {
                    flow.saw_error(e);
                }
                r
            }
            .await;
            // Whatever happened, the bytes received so far are written and saved.
            let kept = match w.flush().await {
                Ok(()) => saved.progress(share.k, pos).await,
                Err(e) => Err(IdsError::io("write", tmp, e)),
            };
            let e = match (r, kept) {
                (Ok(()), Ok(())) => return Ok(hasher),
                (Err(e), _) | (Ok(()), Err(e)) => e,
            };
            if matches!(e, IdsError::Cancelled) || stop.is_cancelled() {
                return Err(IdsError::Cancelled);
            }
            if !e.is_transient() || attempt >= opts.retry.max_retries {
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
            let delay = opts.retry.pause(attempt + 1, congestion(&e).flatten());
            attempt += 1;
            tracing::warn!(file = label, attempt, from = pos, error = %e, "share transfer failed; resuming it in {delay:?}");
            sleep_or_cancel(delay, stop).await?;
        }
    }

    /// One request for the share from `pos`; reads up to its end and drops the stream there.
    #[allow(clippy::too_many_arguments)]
    async fn stream_share(
        &self,
        what: DataRef<'_>,
        w: &mut BufWriter<tokio::fs::File>,
        hasher: &mut crc32fast::Hasher,
        (pos, saved_at): (&mut u64, &mut u64),
        share: &Share,
        size: u64,
        (stop, opts): (&CancellationToken, &DownloadOptions),
        flow: &Flow<'_>,
        (done, tmp, saved): (&AtomicU64, &Path, &Saved<'_>),
        (index, label): (usize, &str),
    ) -> Result<(), IdsError> {
        let to = share.to;
        // The server reads and discards the bytes before the offset, also when this run is
        // stopped before the answer comes: counted when the request goes.
        saved.read(*pos);
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
            saved.read(chunk.len() as u64);
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
            // The share that completes the file leaves its count to `Done`: reported once.
            if total != size {
                opts.report(progress(index, label, total, size, Phase::Transferring));
            }
            if *pos - *saved_at >= SAVE_EVERY {
                w.flush().await.map_err(|e| IdsError::io("write", tmp, e))?;
                if opts.fsync {
                    // Written back while the shares stream (the link, not the disk, is the
                    // limit), instead of the whole file in one fsync after the last byte.
                    w.get_ref()
                        .sync_data()
                        .await
                        .map_err(|e| IdsError::io("sync", tmp, e))?;
                }
                saved.progress(share.k, *pos).await?;
                *saved_at = *pos;
            }
        }
        // Dropping the stream closes this connection: the share is complete.
        Ok(())
    }
}

/// Remove a striped temporary file and its state.
async fn discard(tmp: &Path) {
    let _ = tokio::fs::remove_file(tmp).await;
    StripeState::remove(tmp).await;
}

/// Feed bytes `from..to` of `path` (written by an earlier run or attempt) to `hasher`.
async fn hash_range(
    path: &Path,
    from: u64,
    to: u64,
    hasher: &mut crc32fast::Hasher,
) -> Result<(), IdsError> {
    if to <= from {
        return Ok(());
    }
    let mut f = tokio::fs::File::open(path)
        .await
        .map_err(|e| IdsError::io("open", path, e))?;
    f.seek(std::io::SeekFrom::Start(from))
        .await
        .map_err(|e| IdsError::io("seek", path, e))?;
    let mut left = to - from;
    let mut buf = vec![0u8; WRITE_BUF];
    while left > 0 {
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
        let n = f
            .read(&mut buf[..want])
            .await
            .map_err(|e| IdsError::io("read", path, e))?;
        if n == 0 {
            return Err(IdsError::io(
                "read",
                path,
                std::io::Error::from(std::io::ErrorKind::UnexpectedEof),
            ));
        }
        hasher.update(&buf[..n]);
        left -= n as u64;
    }
    Ok(())
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
