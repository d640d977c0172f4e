//! Zip downloads: streamed to a temporary file (re-fetched whole on failure, never spliced, and
//! removed when a transfer fails), then kept as a file or extracted entry by entry into a
//! checked local tree. For a plan only entries that map to a planned datafile are extracted,
//! each bounded by its catalogue size; everything else is reported, not written.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::finish::{Finish, finishing_in_parallel};
use super::lock::DestLock;
use super::names::{
    SafeRelPath, ZipLayout, as_the_catalogue_shows_it, check_no_symlinks, entry_path,
};
use super::part::{Expected, PartFile, crc_hex, datafile_part, part_path, verify, work_dir};
use super::raw::{Flow, RawOutcome};
use super::report::{IgnoredEntry, UnverifiedReason, Verification, clean_name};
use super::room::{Bound, tighter, unknown_size_bound};
use super::{DownloadOptions, Phase, Progress};
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::pause::sleep_or_cancel;
use crate::selection::{DataRef, PreparedId};
use crate::types::Packing;

/// Where a downloaded zip goes.
#[derive(Debug, Clone)]
pub enum ZipOutput {
    /// Keep the zip as this file.
    File(PathBuf),
    /// Extract into this directory with the given layout.
    Extract {
        /// Destination root; nothing is written outside it.
        dir: PathBuf,
        /// How entry names become paths.
        layout: ZipLayout,
    },
}

/// What an extraction wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExtractReport {
    /// Files written (or found already present and identical), relative to the destination.
    pub files: Vec<PathBuf>,
    /// Bytes written.
    pub bytes: u64,
    /// Files that already existed with identical content and were left alone.
    pub skipped: usize,
}

/// How to extract.
#[derive(Debug, Clone)]
pub struct ExtractOptions {
    /// Entry name to path mapping.
    pub layout: ZipLayout,
    /// Replace differing existing files.
    pub overwrite: bool,
    /// Catalogue expectations per relative path, checked after each entry.
    pub expected: HashMap<PathBuf, Expected>,
    /// Stop between blocks when fired.
    pub cancel: CancellationToken,
    /// fsync each file before renaming it into place.
    pub fsync: bool,
    /// Most bytes extracted for an entry whose catalogue size is unknown; such an entry is also
    /// bounded by the size the zip declares and by the destination's free space minus 64 MiB.
    /// Default `None`: only those bounds apply.
    pub unknown_size_limit: Option<u64>,
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            layout: ZipLayout::default(),
            overwrite: false,
            expected: HashMap::new(),
            cancel: CancellationToken::new(),
            fsync: true,
            unknown_size_limit: None,
        }
    }
}

struct Planned {
    index: usize,
    rel: SafeRelPath,
    is_dir: bool,
}

fn bad_zip(path: &Path, e: impl std::fmt::Display) -> IdsError {
    IdsError::BadZip {
        path: path.to_path_buf(),
        detail: e.to_string(),
    }
}

/// Extract `zip_path` into `dest` (blocking; run it on a blocking thread). All entry names are
/// checked before anything is written: one hostile name (absolute, `..`, drive letter, NUL,
/// control character, overlong, symlink entry) rejects the whole archive. Each file goes through
/// a temporary file in `dest/.icat-download/`, is read no further than its expected (else
/// declared) size, and is renamed after its CRC32 (and any catalogue expectation) matched.
pub fn extract_zip(
    zip_path: &Path,
    dest: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractReport, IdsError> {
    let mut zip = open_zip(zip_path)?;
    let repeated = names_listed_twice(zip_path, &zip)?;

    // Pass 1: validate every name, reject links, detect collisions.
    let mut planned = Vec::with_capacity(zip.len());
    let mut seen = HashSet::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| bad_zip(zip_path, e))?;
        let raw = entry.name_raw();
        if repeated.contains(raw) {
            let shown = String::from_utf8_lossy(raw);
            return Err(IdsError::ZipEntryRepeated {
                path: entry_path(shown.trim_end_matches('/'), opts.layout)
                    .map_or_else(|_| dest.to_path_buf(), |rel| rel.under(dest)),
            });
        }
        let name = std::str::from_utf8(raw).map_err(|_| IdsError::UnsafeName {
            name: String::from_utf8_lossy(raw).into_owned(),
            reason: "entry name is not UTF-8",
        })?;
        if entry.is_symlink() {
            return Err(IdsError::UnsafeName {
                name: name.to_string(),
                reason: "symbolic link entries are not extracted",
            });
        }
        let is_dir = entry.is_dir();
        let rel = entry_path(name.trim_end_matches('/'), opts.layout)?;
        if !is_dir && !seen.insert(rel.clone()) {
            return Err(IdsError::DuplicatePath {
                path: rel.under(dest),
            });
        }
        check_no_symlinks(dest, &rel)?;
        planned.push(Planned {
            index: i,
            rel,
            is_dir,
        });
    }

    // Pass 2: write; each written file is synced and renamed on a finishing thread.
    let mut report = ExtractReport::default();
    let work = work_dir(dest);
    let (written, finished) = finishing_in_parallel(dest, opts.fsync, |finish| {
        for p in planned {
            if opts.cancel.is_cancelled() {
                return Err(IdsError::Cancelled);
            }
            let target = p.rel.under(dest);
            if p.is_dir {
                std::fs::create_dir_all(&target)
                    .map_err(|e| IdsError::io("create directory", &target, e))?;
                continue;
            }
            let expected = opts
                .expected
                .get(p.rel.as_path())
                .cloned()
                .unwrap_or_default();
            let tmp = work.join(format!("entry-{}.part", p.index));
            let label = p.rel.as_path().display().to_string();
            match extract_one(
                &mut zip,
                zip_path,
                p.index,
                &label,
                (dest, &p.rel),
                &tmp,
                &expected,
                opts,
            )? {
                Extracted::Present(_) => report.skipped += 1,
                Extracted::Written(f) => finish(p.rel.as_path().to_path_buf(), f),
            }
            report.files.push(p.rel.as_path().to_path_buf());
        }
        Ok(())
    });
    written?;
    for (_, r) in finished {
        report.bytes += r?;
    }
    let _ = std::fs::remove_dir(&work);
    Ok(report)
}

type Zip = zip::ZipArchive<std::io::BufReader<std::fs::File>>;

/// Entry names the zip's central directory lists more than once. The `zip` crate shows one entry
/// per name (the last copy), so without this a second copy would silently be extracted in place
/// of the first.
fn names_listed_twice(zip_path: &Path, zip: &Zip) -> Result<HashSet<Vec<u8>>, IdsError> {
    let max_records = zip.len().saturating_mul(2).saturating_add(1024);
    super::zip_directory::repeated_names(zip_path, zip.central_directory_start(), max_records)
}

fn open_zip(zip_path: &Path) -> Result<Zip, IdsError> {
    let f = std::fs::File::open(zip_path).map_err(|e| IdsError::io("open", zip_path, e))?;
    zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| bad_zip(zip_path, e))
}

/// What extracting one entry gave.
#[derive(Debug)]
pub(crate) enum Extracted {
    /// An identical file of this length was already at the target.
    Present(u64),
    /// Written and verified; to be synced and renamed into place.
    Written(Finish),
}

/// Extract entry `index` for `target` into `tmp`: at most the expected size (catalogue, else
/// the size the zip declares) is read, and the CRC32 is checked against the catalogue and the
/// zip; the caller then syncs it and renames it into place ([`Finish::run`]).
#[allow(clippy::too_many_arguments)]
fn extract_one(
    zip: &mut Zip,
    zip_path: &Path,
    index: usize,
    label: &str,
    (dest, rel): (&Path, &SafeRelPath),
    tmp: &Path,
    catalogue: &Expected,
    opts: &ExtractOptions,
) -> Result<Extracted, IdsError> {
    let mut entry = zip.by_index(index).map_err(|e| bad_zip(zip_path, e))?;
    let declared = (entry.size(), entry.crc32());
    extract_reader(
        &mut entry,
        declared,
        zip_path,
        label,
        (dest, rel),
        tmp,
        catalogue,
        opts,
    )
}

/// [`extract_one`] of an entry's data read from `entry`, whose zip declares `(size, crc)`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn extract_reader(
    entry: &mut impl Read,
    (declared_size, declared_crc): (u64, u32),
    zip_path: &Path,
    label: &str,
    (dest, rel): (&Path, &SafeRelPath),
    tmp: &Path,
    catalogue: &Expected,
    opts: &ExtractOptions,
) -> Result<Extracted, IdsError> {
    let target = &rel.under(dest);
    let mut expected = catalogue.clone();
    // Unknown catalogue size: the size the zip declares, and the room at the destination.
    let room = match catalogue.size {
        Some(_) => None,
        None => unknown_size_bound(tmp.parent().unwrap_or(dest), opts.unknown_size_limit),
    };
    if expected.size.is_none() {
        expected.size = Some(declared_size);
    }
    if expected.crc32().is_none() {
        expected.checksum = Some(crc_hex(declared_crc));
    }
    let bound = tighter(expected.size.map(Bound::Size), room).unwrap_or(Bound::Size(0));
    if let Ok(m) = std::fs::symlink_metadata(target) {
        if m.is_dir() {
            return Err(IdsError::TargetExists {
                path: target.to_path_buf(),
                detail: "it is a directory".into(),
            });
        }
        if !opts.overwrite {
            let same =
                Some(m.len()) == expected.size && Some(hash_std(target)?) == expected.crc32();
            if same {
                return Ok(Extracted::Present(m.len()));
            }
            return Err(IdsError::TargetExists {
                path: target.to_path_buf(),
                detail: "content differs from the catalogue".into(),
            });
        }
    }
    if let Some(dir) = target.parent() {
        std::fs::create_dir_all(dir).map_err(|e| IdsError::io("create directory", dir, e))?;
    }
    if let Some(work) = tmp.parent() {
        if std::fs::symlink_metadata(work).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(IdsError::LinkInDestination {
                link: work.to_path_buf(),
                what: "the work folder for partial downloads",
            });
        }
        std::fs::create_dir_all(work).map_err(|e| IdsError::io("create directory", work, e))?;
    }
    if std::fs::symlink_metadata(tmp).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(IdsError::LinkInDestination {
            link: tmp.to_path_buf(),
            what: "a temporary file of the download",
        });
    }
    let mut out = std::fs::File::create(tmp).map_err(|e| IdsError::io("create", tmp, e))?;
    let written = copy_bounded(entry, &mut out, bound, label, tmp, zip_path, &opts.cancel);
    let (len, crc) = match written {
        Ok(v) => v,
        Err(e) => {
            drop(out);
            let _ = std::fs::remove_file(tmp);
            return Err(e);
        }
    };
    verify(label, tmp, len, Some(crc), &expected)?;
    if crc != declared_crc {
        return Err(bad_zip(
            zip_path,
            format_args!("entry {label}: CRC32 differs from the zip's own"),
        ));
    }
    let tmp_name = tmp
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| IdsError::Internal {
            message: format!("temporary file {} has no plain name", tmp.display()),
        })?;
    Ok(Extracted::Written(Finish {
        file: out,
        tmp: tmp.to_path_buf(),
        tmp_name: tmp_name.to_string(),
        rel: rel.clone(),
        len,
    }))
}

/// Copy at most `bound` bytes; one byte more is not written and is the bound's error
/// ([`IdsError::BodyTooLong`], or [`IdsError::NotEnoughSpace`] for the room at the destination).
fn copy_bounded(
    entry: &mut impl Read,
    out: &mut std::fs::File,
    bound: Bound,
    label: &str,
    tmp: &Path,
    zip_path: &Path,
    cancel: &CancellationToken,
) -> Result<(u64, u32), IdsError> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut h = crc32fast::Hasher::new();
    let mut len = 0u64;
    loop {
        if cancel.is_cancelled() {
            return Err(IdsError::Cancelled);
        }
        let n = entry
            .read(&mut buf)
            .map_err(|e| bad_zip(zip_path, format_args!("entry {label}: {e}")))?;
        if n == 0 {
            return Ok((len, h.finalize()));
        }
        if len + n as u64 > bound.bytes() {
            return Err(bound.exceeded(label, tmp.parent().unwrap_or(tmp)));
        }
        out.write_all(&buf[..n])
            .map_err(|e| IdsError::io("write", tmp, e))?;
        h.update(&buf[..n]);
        len += n as u64;
    }
}

/// A planned datafile a prepared zip should hold.
#[derive(Debug, Clone)]
pub(crate) struct Wanted {
    /// Its index in the plan.
    pub index: usize,
    /// Datafile id (names its temporary file).
    pub id: i64,
    /// Its place under the destination.
    pub path: SafeRelPath,
    /// Catalogue values.
    pub expected: Expected,
}

/// What extracting the planned datafiles from a zip gave.
#[derive(Debug, Default)]
pub(crate) struct SelectedExtract {
    /// Per plan index.
    pub results: HashMap<usize, Result<RawOutcome, IdsError>>,
    /// Entries not extracted.
    pub ignored: Vec<IgnoredEntry>,
    /// The transfer failed with this after the entries of what had arrived that were whole
    /// were kept (`results`): every other wanted datafile failed with it.
    pub failed: Option<IdsError>,
}

/// Extract only the entries that map (with the IDS `<visit>/<dataset>/<file>` layout) to a
/// wanted datafile; each is bounded by its catalogue size, checked and placed on its own, so
/// one bad entry does not stop the others. Everything else is listed as ignored.
fn extract_selected(
    zip_path: &Path,
    dest: &Path,
    wanted: &HashMap<PathBuf, Wanted>,
    opts: &ExtractOptions,
) -> Result<SelectedExtract, IdsError> {
    let mut zip = open_zip(zip_path)?;
    let repeated = names_listed_twice(zip_path, &zip)?;
    let mut out = SelectedExtract::default();
    let mut found: HashMap<usize, (usize, &Wanted)> = HashMap::new();
    let mut ignore = |name: &str, reason: &'static str| {
        out.ignored.push(IgnoredEntry {
            name: clean_name(name),
            reason,
        })
    };
    // Selected datafiles whose entry is a link or a folder instead of a file.
    let mut not_files: HashMap<usize, &'static str> = HashMap::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| bad_zip(zip_path, e))?;
        let name = String::from_utf8_lossy(entry.name_raw()).into_owned();
        let not_a_file = if entry.is_dir() {
            Some("a folder")
        } else if entry.is_symlink() {
            Some("a symbolic link")
        } else {
            None
        };
        if let Some(kind) = not_a_file {
            // In place of a selected datafile, the zip is broken (reported for that datafile
            // below, unless a file entry of that name turns up too); anything else is a folder
            // of the layout, or a link nobody asked for.
            let shown = as_the_catalogue_shows_it(name.trim_end_matches('/'));
            let selected = entry_path(&shown, ZipLayout::VisitDataset)
                .ok()
                .and_then(|rel| wanted.get(rel.as_path()));
            match selected {
                Some(w) => {
                    not_files.insert(w.index, kind);
                }
                None if kind == "a folder" => {}
                None => ignore(&name, "a symbolic link"),
            }
            continue;
        }
        if std::str::from_utf8(entry.name_raw()).is_err() {
            ignore(&name, "the name is not UTF-8");
            continue;
        }
        let Ok(rel) = entry_path(&as_the_catalogue_shows_it(&name), ZipLayout::VisitDataset) else {
            ignore(&name, "an unsafe name");
            continue;
        };
        let Some(w) = wanted.get(rel.as_path()) else {
            ignore(&name, "not one of the selected datafiles");
            continue;
        };
        if repeated.contains(entry.name_raw()) {
            // Two copies under one name: neither is trusted, a file already there stays.
            ignore(&name, "listed twice in the zip");
            out.results.insert(
                w.index,
                Err(IdsError::ZipEntryRepeated {
                    path: w.path.under(dest),
                }),
            );
            continue;
        }
        if found.insert(w.index, (i, w)).is_some() {
            ignore(&name, "a second entry for one datafile");
            out.results.insert(
                w.index,
                Err(IdsError::DuplicatePath {
                    path: w.path.under(dest),
                }),
            );
        }
    }
    for w in wanted.values() {
        if let Some(kind) = not_files.get(&w.index)
            && !found.contains_key(&w.index)
            && !out.results.contains_key(&w.index)
        {
            out.results.insert(
                w.index,
                Err(IdsError::ZipEntryNotAFile {
                    path: w.path.under(dest),
                    kind,
                }),
            );
        }
    }
    let work = work_dir(dest);
    let mut order: Vec<(usize, (usize, &Wanted))> = found.into_iter().collect();
    order.sort_unstable_by_key(|&(_, (entry, _))| entry);
    let by_index: HashMap<usize, &Wanted> = order.iter().map(|&(i, (_, w))| (i, w)).collect();
    let outcome = |w: &Wanted, bytes: u64, skipped: bool| RawOutcome {
        bytes,
        resumed_from: 0,
        retries: 0,
        skipped,
        verification: Verification::from_catalogue(&w.expected, UnverifiedReason::ZipChecksumOnly),
        extra_digest: None,
    };
    // Entries are read in zip order by this thread; each written file is synced and renamed on
    // a finishing thread meanwhile.
    let ((), finished) = finishing_in_parallel(dest, opts.fsync, |finish| {
        for &(index, (entry, w)) in &order {
            if out.results.contains_key(&index) {
                continue; // two entries: neither is trusted
            }
            if opts.cancel.is_cancelled() {
                out.results.insert(index, Err(IdsError::Cancelled));
                continue;
            }
            let label = w.path.as_path().display().to_string();
            let r = check_no_symlinks(dest, &w.path).and_then(|()| {
                let tmp = datafile_part(&work, w.id);
                extract_one(
                    &mut zip,
                    zip_path,
                    entry,
                    &label,
                    (dest, &w.path),
                    &tmp,
                    &w.expected,
                    opts,
                )
            });
            match r {
                Ok(Extracted::Present(bytes)) => {
                    out.results.insert(index, Ok(outcome(w, bytes, true)));
                }
                Ok(Extracted::Written(f)) => finish(index, f),
                Err(e) => {
                    out.results.insert(index, Err(e));
                }
            }
        }
    });
    for (index, r) in finished {
        if let Some(w) = by_index.get(&index) {
            out.results
                .insert(index, r.map(|bytes| outcome(w, bytes, false)));
        }
    }
    Ok(out)
}

fn hash_std(path: &Path) -> Result<u32, IdsError> {
    let mut f = std::fs::File::open(path).map_err(|e| IdsError::io("open", path, e))?;
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = f
            .read(&mut buf)
            .map_err(|e| IdsError::io("read", path, e))?;
        if n == 0 {
            return Ok(h.finalize());
        }
        h.update(&buf[..n]);
    }
}

/// Remove temporary zips an interrupted or killed earlier run left in `dest` (this version's
/// `.icat-download/zip-*.part` and older versions' `.ids-download-*.zip.part`): they are never
/// resumed, so they are only taking space. Striped files (`df-*.stripes.part`) are resumed
/// with their state file; one without its state (left by an older version) is removed.
pub(crate) async fn remove_orphaned_zips(dest: &Path) {
    remove_stateless_stripes(&work_dir(dest)).await;
    for (dir, prefix, suffix) in [
        (work_dir(dest), "zip-", ".part"),
        (dest.to_path_buf(), ".ids-download-", ".zip.part"),
    ] {
        let Ok(mut rd) = tokio::fs::read_dir(&dir).await else {
            continue;
        };
        while let Ok(Some(e)) = rd.next_entry().await {
            let name = e.file_name();
            let name = name.to_string_lossy();
            let is_file = e.file_type().await.is_ok_and(|t| t.is_file());
            if is_file && name.starts_with(prefix) && name.ends_with(suffix) {
                tracing::info!(file = %e.path().display(), "removing a zip an earlier run left");
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }
}

/// Remove the striped temporary files in `work` that have no state file (nothing can resume
/// them).
async fn remove_stateless_stripes(work: &Path) {
    let Ok(mut rd) = tokio::fs::read_dir(work).await else {
        return;
    };
    while let Ok(Some(e)) = rd.next_entry().await {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let is_file = e.file_type().await.is_ok_and(|t| t.is_file());
        if is_file && name.starts_with("df-") && name.ends_with(".stripes.part") {
            let state = super::stripe_state::state_path(&e.path());
            if tokio::fs::symlink_metadata(&state).await.is_err() {
                tracing::info!(file = %e.path().display(), "removing a striped file an earlier run left without its state");
                let _ = tokio::fs::remove_file(e.path()).await;
            }
        }
    }
}

impl IdsClient {
    /// Download `what` as a zip and keep it or extract it. A dropped transfer is retried from the
    /// start (a rebuilt zip differs byte for byte, so it is never resumed); a failed transfer
    /// leaves no temporary zip behind.
    pub async fn download_zip<'a>(
        &self,
        what: impl Into<DataRef<'a>>,
        compress: bool,
        output: &ZipOutput,
        opts: &DownloadOptions,
    ) -> Result<ExtractReport, IdsError> {
        let what = what.into();
        let lock = match output {
            ZipOutput::Extract { dir, .. } => Some(DestLock::acquire(dir).await?),
            ZipOutput::File(_) => None,
        };
        let r = self.download_zip_locked(what, compress, output, opts).await;
        if let Some(lock) = lock {
            lock.release().await;
        }
        r
    }

    async fn download_zip_locked(
        &self,
        what: DataRef<'_>,
        compress: bool,
        output: &ZipOutput,
        opts: &DownloadOptions,
    ) -> Result<ExtractReport, IdsError> {
        let zip_target = match output {
            ZipOutput::File(p) => part_path(p),
            ZipOutput::Extract { dir, .. } => work_dir(dir).join(format!("zip-{}.part", key(what))),
        };
        let label = zip_target.display().to_string();
        let final_zip = match output {
            ZipOutput::File(p) => p.clone(),
            ZipOutput::Extract { .. } => zip_target.clone(),
        };
        let part = self
            .fetch_zip(
                what,
                compress,
                (&zip_target, &final_zip),
                opts,
                (0, &label),
                None,
                &Flow::default(),
                FetchZip {
                    sync: matches!(output, ZipOutput::File(_)) && opts.fsync,
                    keep_cut: true,
                },
            )
            .await?;
        let bytes = part.len();
        match output {
            ZipOutput::File(_) => {
                let check = part.path().to_path_buf();
                let valid = tokio::task::spawn_blocking(move || open_zip(&check).map(drop))
                    .await
                    .map_err(|e| IdsError::Internal {
                        message: format!("zip check task failed: {e}"),
                    })?;
                if let Err(e) = valid {
                    part.discard().await;
                    return Err(e);
                }
                let path = part.commit().await?;
                opts.report(done(&label, bytes));
                Ok(ExtractReport {
                    files: vec![path],
                    bytes,
                    skipped: 0,
                })
            }
            ZipOutput::Extract { dir, layout } => {
                let zip_part = part.path().to_path_buf();
                drop(part);
                opts.report(Progress {
                    phase: Phase::Extracting,
                    ..done(&label, bytes)
                });
                let xopts = ExtractOptions {
                    layout: *layout,
                    overwrite: opts.overwrite,
                    expected: HashMap::new(),
                    cancel: opts.cancel.clone(),
                    fsync: opts.fsync,
                    unknown_size_limit: opts.unknown_size_limit,
                };
                let (zp, d) = (zip_part.clone(), dir.clone());
                let r = tokio::task::spawn_blocking(move || extract_zip(&zp, &d, &xopts))
                    .await
                    .map_err(|e| IdsError::Internal {
                        message: format!("extraction task failed: {e}"),
                    })?;
                // The zip is never reused (not even an invalid one: a later run fetches it again).
                let _ = tokio::fs::remove_file(&zip_part).await;
                let rep = r?;
                opts.report(done(&label, bytes));
                Ok(rep)
            }
        }
    }

    /// The prepared zip of a plan (or of one bundle of it), extracted: only entries that are
    /// `wanted` datafiles (keyed by their zip entry path) are written. The caller removes
    /// orphaned zips of earlier runs first ([`remove_orphaned_zips`], under the destination's
    /// lock); this zip is removed when it is done, also when it is not a valid zip.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn download_selected_zip(
        &self,
        id: &PreparedId,
        compress: bool,
        dest: &Path,
        wanted: HashMap<PathBuf, Wanted>,
        limit: Option<u64>,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        flow: &Flow<'_>,
    ) -> Result<SelectedExtract, IdsError> {
        let what = DataRef::Prepared(id);
        let zip_target = work_dir(dest).join(format!("zip-{}.part", key(what)));
        let cut = cut_path(&zip_target);
        // Entries that arrived are worth keeping when the run is stopped: a stop does not
        // interrupt their extraction, and a zip cut by the stop is walked for whole entries.
        let xopts = ExtractOptions {
            layout: ZipLayout::VisitDataset,
            overwrite: opts.overwrite,
            expected: HashMap::new(),
            cancel: CancellationToken::new(),
            fsync: opts.fsync,
            unknown_size_limit: opts.unknown_size_limit,
        };
        let part = match self
            .fetch_zip(
                what,
                compress,
                (&zip_target, &zip_target),
                opts,
                (index, label),
                limit,
                flow,
                FetchZip {
                    sync: false,
                    keep_cut: true,
                },
            )
            .await
        {
            Ok(part) => part,
            Err(IdsError::Cancelled) => {
                // The zip cut by the stop, or the longer one an earlier try left.
                let walked = if file_len(&cut) > file_len(&zip_target) {
                    &cut
                } else {
                    &zip_target
                };
                let x = salvage(walked, dest, wanted, xopts, true).await;
                remove_cut_zips(&zip_target).await;
                return Ok(x);
            }
            Err(e) if file_len(&cut) > 0 && !super::engine::prepared_id_lost(&e, id) => {
                // A try broke off after data had arrived (the IDS went away mid-zip) and no
                // later one got further: what arrived whole is kept, the rest fails with `e`.
                let mut x = salvage(&cut, dest, wanted, xopts, false).await;
                remove_cut_zips(&zip_target).await;
                x.failed = Some(e);
                return Ok(x);
            }
            Err(e) => {
                remove_cut_zips(&zip_target).await;
                return Err(e);
            }
        };
        let bytes = part.len();
        let zip_part = part.path().to_path_buf();
        drop(part);
        opts.report(Progress {
            index,
            phase: Phase::Extracting,
            ..done(label, bytes)
        });
        let (zp, d) = (zip_part.clone(), dest.to_path_buf());
        let r = tokio::task::spawn_blocking(move || extract_selected(&zp, &d, &wanted, &xopts))
            .await
            .map_err(|e| IdsError::Internal {
                message: format!("extraction task failed: {e}"),
            })?;
        let _ = tokio::fs::remove_file(&zip_part).await;
        let x = r?;
        opts.report(Progress {
            index,
            ..done(label, bytes)
        });
        Ok(x)
    }

    /// Fetch a zip into `tmp` (on its way to `target`), retrying transient failures from the
    /// start; on failure the temporary zip is removed (a later run fetches the zip again, it
    /// never resumes it), except when the run is stopped and `how.keep_cut` (the caller keeps
    /// what arrived whole). `how.sync`: fsync it (a zip that is kept; one that is only
    /// extracted and removed needs no sync, its files are synced one by one).
    #[allow(clippy::too_many_arguments)]
    async fn fetch_zip(
        &self,
        what: DataRef<'_>,
        compress: bool,
        (tmp, target): (&Path, &Path),
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        limit: Option<u64>,
        flow: &Flow<'_>,
        how: FetchZip,
    ) -> Result<PartFile, IdsError> {
        let packing = Packing {
            zip: true,
            compress,
        };
        let cut = cut_path(tmp);
        let mut attempt = 0u32;
        loop {
            let mut part = PartFile::open(tmp, target, true).await?;
            opts.report(Progress {
                index,
                name: label,
                done: 0,
                total: None,
                phase: Phase::Started,
            });
            let r = self
                .stream_zip(what, packing, &mut part, opts, (index, label), limit, flow)
                .await;
            let e = match r {
                Ok(()) => match part.sync(how.sync).await {
                    Ok(()) => {
                        let _ = tokio::fs::remove_file(&cut).await;
                        return Ok(part);
                    }
                    Err(e) => e,
                },
                Err(e) => e,
            };
            let done = part.len();
            let stopped = matches!(e, IdsError::Cancelled) || opts.cancel.is_cancelled();
            if stopped && how.keep_cut && part.flush().await.is_ok() {
                return Err(IdsError::Cancelled);
            }
            if how.keep_cut && done > file_len(&cut) && part.flush().await.is_ok() {
                // The longest cut zip is kept aside: when no later try gets further (the IDS
                // went away), the caller keeps its entries that arrived whole.
                let from = part.path().to_path_buf();
                drop(part);
                if tokio::fs::rename(&from, &cut).await.is_err() {
                    let _ = tokio::fs::remove_file(&from).await;
                }
            } else {
                part.discard().await;
            }
            if stopped {
                return Err(IdsError::Cancelled);
            }
            // As for raw transfers: a failure (a busy answer too) counts against the run's
            // shared budget, and when that is spent this zip stops and so does the run.
            let e = match &opts.retry_budget {
                Some(budget) if e.is_transient() => budget.failed(e)?,
                _ => e,
            };
            let asked = super::adaptive::congestion(&e).flatten();
            if !e.is_transient() || attempt >= opts.retry.max_retries {
                let e = if attempt > 0 {
                    IdsError::RetriesExhausted {
                        file: label.to_string(),
                        attempts: attempt + 1,
                        last: Box::new(e),
                    }
                } else {
                    e
                };
                return Err(match &opts.retry_budget {
                    Some(budget) => budget.gave_up(e),
                    None => e,
                });
            }
            let delay = opts.retry.pause(attempt + 1, asked);
            // Never past the run's --max-unreachable (the try then is the last).
            let delay = opts.retry_budget.as_ref().map_or(delay, |b| b.pause(delay));
            attempt += 1;
            tracing::warn!(file = %label, attempt, error = %e, "zip transfer failed; fetching it again in {delay:?}");
            let cause = super::RetryCause::of(&e, done > 0);
            opts.report(Progress {
                index,
                name: label,
                done,
                total: None,
                phase: Phase::Retrying {
                    attempt,
                    delay,
                    cause,
                },
            });
            sleep_or_cancel(delay, &opts.cancel).await?;
            if let Some(budget) = &opts.retry_budget
                && budget.stopped().is_some()
            {
                // Another transfer spent the budget while this one waited: the run stops.
                return Err(IdsError::Unreachable {
                    failures: budget.failures_in_a_row(),
                    last: std::sync::Arc::new(e),
                });
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream_zip(
        &self,
        what: DataRef<'_>,
        packing: Packing,
        part: &mut PartFile,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        limit: Option<u64>,
        flow: &Flow<'_>,
    ) -> Result<(), IdsError> {
        let _permit = match flow.limiter {
            Some(l) => Some(tokio::select! {
                _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
                p = l.acquire() => p,
            }),
            None => None,
        };
        let r = self
            .stream_zip_body(what, packing, part, opts, (index, label), limit, flow)
            .await;
        if let Err(e) = &r {
            // While the slot is held, so no other transfer takes it before the limit drops.
            flow.saw_error(e);
        }
        r
    }

    #[allow(clippy::too_many_arguments)]
    async fn stream_zip_body(
        &self,
        what: DataRef<'_>,
        packing: Packing,
        part: &mut PartFile,
        opts: &DownloadOptions,
        (index, label): (usize, &str),
        limit: Option<u64>,
        flow: &Flow<'_>,
    ) -> Result<(), IdsError> {
        let ds = tokio::select! {
            _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
            r = self.get_data(what, packing, 0) => r?,
        };
        // A zip holding a datafile of unknown size: bounded by the room at the destination.
        let dir = part.path().parent().unwrap_or(Path::new(".")).to_path_buf();
        let limit = limit
            .map(Bound::Size)
            .or_else(|| unknown_size_bound(&dir, None));
        let mut stream = ds.into_stream();
        loop {
            let next = tokio::select! {
                _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
                n = stream.next() => n,
            };
            match next {
                None => return Ok(()),
                Some(Ok(chunk)) => {
                    if let Some(limit) = limit
                        && part.len() + chunk.len() as u64 > limit.bytes()
                    {
                        return Err(limit.exceeded(label, &dir));
                    }
                    part.write(&chunk).await?;
                    flow.record(chunk.len() as u64);
                    if let Some(budget) = &opts.retry_budget {
                        budget.progress();
                    }
                    opts.report(Progress {
                        index,
                        name: label,
                        done: part.len(),
                        total: None,
                        phase: Phase::Transferring,
                    });
                }
                Some(Err(e)) => return Err(self.map_reqwest("getData", e)),
            }
        }
    }
}

/// How [`IdsClient::fetch_zip`] treats its temporary zip.
#[derive(Debug, Clone, Copy)]
struct FetchZip {
    /// fsync it once whole.
    sync: bool,
    /// Keep it when the run is stopped (the caller walks it for whole entries and removes it).
    keep_cut: bool,
}

/// Where [`IdsClient::fetch_zip`] keeps the longest zip a failed try left (named like the
/// zip's temporary file, so an orphan is removed with it).
fn cut_path(tmp: &Path) -> PathBuf {
    let name = tmp
        .file_name()
        .map_or_else(|| "zip.part".into(), |n| n.to_string_lossy().into_owned());
    let stem = name.strip_suffix(".part").unwrap_or(&name);
    tmp.with_file_name(format!("{stem}.cut.part"))
}

/// The length of a plain file (0 when it is absent or not a plain file).
fn file_len(path: &Path) -> u64 {
    std::fs::symlink_metadata(path).map_or(0, |m| if m.is_file() { m.len() } else { 0 })
}

/// Remove the temporary zip `tmp` and the cut zip kept beside it.
async fn remove_cut_zips(tmp: &Path) {
    let _ = tokio::fs::remove_file(tmp).await;
    let _ = tokio::fs::remove_file(cut_path(tmp)).await;
}

/// The wanted entries that arrived whole in the zip at `zip_part`, cut short by a stop or a
/// failure, placed; every other wanted datafile is `Cancelled` when `stopped` (else absent: the
/// caller says why they failed). The zip is removed.
async fn salvage(
    zip_part: &Path,
    dest: &Path,
    wanted: HashMap<PathBuf, Wanted>,
    xopts: ExtractOptions,
    stopped: bool,
) -> SelectedExtract {
    let indices: Vec<usize> = wanted.values().map(|w| w.index).collect();
    let (zp, d) = (zip_part.to_path_buf(), dest.to_path_buf());
    let mut x = tokio::task::spawn_blocking(move || {
        if std::fs::symlink_metadata(&zp).is_ok_and(|m| m.is_file()) {
            super::zip_salvage::salvage_selected(&zp, &d, &wanted, &xopts)
        } else {
            SelectedExtract::default()
        }
    })
    .await
    .unwrap_or_default();
    let _ = tokio::fs::remove_file(zip_part).await;
    if stopped {
        for i in indices {
            x.results.entry(i).or_insert(Err(IdsError::Cancelled));
        }
    }
    x
}

/// A name for the temporary zip of `what`, so two zip downloads into one folder do not clash.
/// A prepared id is a capability (the IDS serves `getData?preparedId=` without a session): the
/// name carries a hash of it, never the id (issue 14 re-review).
fn key(what: DataRef<'_>) -> String {
    match what {
        DataRef::Prepared(id) => {
            use std::hash::{Hash, Hasher};
            let mut h = std::collections::hash_map::DefaultHasher::new();
            id.hash(&mut h);
            format!("prep-{:016x}", h.finish())
        }
        DataRef::Selection(sel) => {
            let mut h = crc32fast::Hasher::new();
            for (k, v) in sel.params() {
                h.update(k.as_bytes());
                h.update(v.as_bytes());
            }
            format!("sel-{:08x}", h.finalize())
        }
    }
}

fn done(label: &str, bytes: u64) -> Progress<'_> {
    Progress {
        index: 0,
        name: label,
        done: bytes,
        total: Some(bytes),
        phase: Phase::Done,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zip::write::SimpleFileOptions;

    fn make_zip(path: &Path, entries: &[(&str, &[u8])]) {
        let f = std::fs::File::create(path).unwrap();
        let mut w = zip::ZipWriter::new(f);
        for (name, data) in entries {
            w.start_file(*name, SimpleFileOptions::default()).unwrap();
            w.write_all(data).unwrap();
        }
        w.finish().unwrap();
    }

    fn all_files(root: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    out.push(p);
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn extracts_ids_layout_and_verifies() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("a.zip");
        make_zip(
            &zp,
            &[
                ("ids/F/I/v1/ds+1/a.txt", b"alpha"),
                ("ids/F/I/v1/ds+1/sub/b.txt", b"beta"),
            ],
        );
        let dest = dir.path().join("out");
        let rep = extract_zip(&zp, &dest, &ExtractOptions::default()).unwrap();
        assert_eq!(rep.files.len(), 2);
        assert_eq!(std::fs::read(dest.join("v1/ds 1/a.txt")).unwrap(), b"alpha");
        assert_eq!(
            std::fs::read(dest.join("v1/ds 1/sub/b.txt")).unwrap(),
            b"beta"
        );
        // A second run finds identical files and skips them.
        let rep = extract_zip(&zp, &dest, &ExtractOptions::default()).unwrap();
        assert_eq!(rep.skipped, 2);
    }

    #[test]
    fn hostile_zip_writes_nothing_anywhere() {
        let overlong = format!("ids/F/I/v/d/{}.txt", "x".repeat(300));
        for bad in [
            "../escape.txt",
            "/tmp/abs-escape.txt",
            "ids/F/I/v/../../../../e.txt",
            "C:/x.txt",
            "ids/F/I/v/d/nul\0.txt",
            "ids/F/I/v/d/esc\u{1b}[2J.txt",
            "ids/F/I/v/d/new\nline.txt",
            "ids/F/I/v/d/..\\..\\win.txt",
            "ids/F/I/%2E%2E/d/enc.txt",
            &overlong,
        ]
        .into_iter()
        // A drive letter is a Windows matter: on Unix `C:` is an ordinary folder name.
        .filter(|bad| cfg!(windows) || !bad.starts_with("C:"))
        {
            let dir = tempfile::tempdir().unwrap();
            let zp = dir.path().join("bad.zip");
            // A good entry first: it must not be written either.
            make_zip(&zp, &[("ids/F/I/v/d/good.txt", b"ok"), (bad, b"pwned")]);
            let dest = dir.path().join("out");
            std::fs::create_dir(&dest).unwrap();
            let e = extract_zip(&zp, &dest, &ExtractOptions::default()).unwrap_err();
            assert!(matches!(e, IdsError::UnsafeName { .. }), "{bad}: {e}");
            assert!(all_files(&dest).is_empty(), "{bad}");
            assert_eq!(all_files(dir.path()), vec![zp.clone()], "{bad}");
            assert!(!Path::new("/tmp/abs-escape.txt").exists());
        }
    }

    #[cfg(unix)]
    #[test]
    fn symlink_entries_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("link.zip");
        let f = std::fs::File::create(&zp).unwrap();
        let mut w = zip::ZipWriter::new(f);
        w.add_symlink(
            "ids/F/I/v/d/link",
            "/etc/passwd",
            SimpleFileOptions::default(),
        )
        .unwrap();
        w.finish().unwrap();
        let dest = dir.path().join("out");
        let e = extract_zip(&zp, &dest, &ExtractOptions::default()).unwrap_err();
        assert!(matches!(e, IdsError::UnsafeName { .. }), "{e}");
        assert!(!dest.exists());
    }

    #[test]
    fn expectation_mismatch_is_reported_and_final_file_absent() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("a.zip");
        make_zip(&zp, &[("ids/F/I/v/d/f.dat", b"data")]);
        let dest = dir.path().join("out");
        let mut opts = ExtractOptions::default();
        opts.expected.insert(
            PathBuf::from("v/d/f.dat"),
            Expected {
                size: Some(4),
                checksum: Some("deadbeef".into()),
            },
        );
        let e = extract_zip(&zp, &dest, &opts).unwrap_err();
        assert!(matches!(e, IdsError::ChecksumMismatch { .. }), "{e}");
        assert!(!dest.join("v/d/f.dat").exists());
        assert!(dest.join(".icat-download/entry-0.part").exists());
    }

    /// A zip listing one name twice (the second copy written as `f.daQ`, renamed in the bytes):
    /// the `zip` crate shows one entry, the last copy; the archive is refused as a whole.
    #[test]
    fn an_entry_listed_twice_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("a.zip");
        make_zip(&zp, &[("v/d/f.dat", b"first"), ("v/d/f.daQ", b"other")]);
        let mut bytes = std::fs::read(&zp).unwrap();
        for i in 0..bytes.len() - 9 {
            if &bytes[i..i + 9] == b"v/d/f.daQ" {
                bytes[i + 8] = b't';
            }
        }
        std::fs::write(&zp, bytes).unwrap();
        let opts = ExtractOptions {
            layout: ZipLayout::AsStored,
            ..Default::default()
        };
        let out = dir.path().join("o");
        let e = extract_zip(&zp, &out, &opts).unwrap_err();
        assert!(matches!(e, IdsError::ZipEntryRepeated { .. }), "{e}");
        assert!(!out.join("v/d/f.dat").exists());
    }

    #[test]
    fn colliding_entries_are_rejected() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("a.zip");
        make_zip(&zp, &[("ids/F/I1/v/d/f", b"1"), ("ids/F/I2/v/d/f", b"2")]);
        let e = extract_zip(&zp, &dir.path().join("o"), &ExtractOptions::default()).unwrap_err();
        assert!(matches!(e, IdsError::DuplicatePath { .. }));
        let opts = ExtractOptions {
            layout: ZipLayout::AsStored,
            ..Default::default()
        };
        assert_eq!(
            extract_zip(&zp, &dir.path().join("o"), &opts)
                .unwrap()
                .files
                .len(),
            2
        );
    }

    #[test]
    fn corrupt_zip_is_bad_zip() {
        let dir = tempfile::tempdir().unwrap();
        let zp = dir.path().join("a.zip");
        std::fs::write(&zp, b"PK\x03\x04 this is not a zip").unwrap();
        let e = extract_zip(&zp, &dir.path().join("o"), &ExtractOptions::default()).unwrap_err();
        assert!(matches!(e, IdsError::BadZip { .. }));
    }

    /// Issue 14 re-review: the full prepared id (a bearer capability for `getData`) was the
    /// temporary zip's file name in a world-listable folder.
    #[test]
    fn a_temporary_zip_name_never_holds_the_prepared_id() {
        let id = crate::PreparedId::parse("48d6cefa-e3fd-42d8-a5ec-899e5c9ac363").unwrap();
        let other = crate::PreparedId::parse("48d6cefa-e3fd-42d8-a5ec-899e5c9ac364").unwrap();
        let name = key(DataRef::Prepared(&id));
        assert!(
            !name.contains("48d6cefa") && !name.contains("899e5c9ac363"),
            "{name}"
        );
        assert_ne!(name, key(DataRef::Prepared(&other)));
    }
}
