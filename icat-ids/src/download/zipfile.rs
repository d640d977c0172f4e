//! Zip downloads: streamed to a `.part` file (re-fetched whole on failure, never spliced), then
//! kept as a file or extracted entry by entry into a checked local tree.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use futures_util::StreamExt;
use tokio_util::sync::CancellationToken;

use super::names::{SafeRelPath, ZipLayout, check_no_symlinks, entry_path};
use super::part::{Expected, PartFile, crc_hex, part_path, verify};
use super::{DownloadOptions, Phase, Progress};
use crate::backoff::sleep_or_cancel;
use crate::client::IdsClient;
use crate::error::IdsError;
use crate::selection::DataRef;
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
}

impl Default for ExtractOptions {
    fn default() -> Self {
        ExtractOptions {
            layout: ZipLayout::default(),
            overwrite: false,
            expected: HashMap::new(),
            cancel: CancellationToken::new(),
            fsync: true,
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
/// `<file>.part` and is renamed after its CRC32 (and any catalogue expectation) matched.
pub fn extract_zip(
    zip_path: &Path,
    dest: &Path,
    opts: &ExtractOptions,
) -> Result<ExtractReport, IdsError> {
    let f = std::fs::File::open(zip_path).map_err(|e| IdsError::io("open", zip_path, e))?;
    let mut zip =
        zip::ZipArchive::new(std::io::BufReader::new(f)).map_err(|e| bad_zip(zip_path, e))?;

    // Pass 1: validate every name, reject links, detect collisions.
    let mut planned = Vec::with_capacity(zip.len());
    let mut seen = HashSet::new();
    for i in 0..zip.len() {
        let entry = zip.by_index_raw(i).map_err(|e| bad_zip(zip_path, e))?;
        let raw = entry.name_raw();
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

    // Pass 2: write.
    let mut report = ExtractReport::default();
    let mut buf = vec![0u8; 256 * 1024];
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
        let mut entry = zip.by_index(p.index).map_err(|e| bad_zip(zip_path, e))?;
        let label = p.rel.as_path().display().to_string();
        let mut expected = opts
            .expected
            .get(p.rel.as_path())
            .cloned()
            .unwrap_or_default();
        if expected.size.is_none() {
            expected.size = Some(entry.size());
        }
        if expected.checksum.is_none() {
            expected.checksum = Some(crc_hex(entry.crc32()));
        }
        if let Ok(m) = std::fs::symlink_metadata(&target) {
            if m.is_dir() {
                return Err(IdsError::TargetExists {
                    path: target,
                    detail: "it is a directory".into(),
                });
            }
            if !opts.overwrite {
                let same = Some(m.len()) == expected.size
                    && hash_std(&target)? == expected.crc32().unwrap_or(entry.crc32());
                if same {
                    report.skipped += 1;
                    report.files.push(p.rel.as_path().to_path_buf());
                    continue;
                }
                return Err(IdsError::TargetExists {
                    path: target,
                    detail: "content differs from the zip entry".into(),
                });
            }
        }
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).map_err(|e| IdsError::io("create directory", dir, e))?;
        }
        let part = part_path(&target);
        if std::fs::symlink_metadata(&part).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(IdsError::UnsafeName {
                name: part.display().to_string(),
                reason: "the .part file is a symbolic link",
            });
        }
        let mut out = std::fs::File::create(&part).map_err(|e| IdsError::io("create", &part, e))?;
        let mut h = crc32fast::Hasher::new();
        let mut len = 0u64;
        loop {
            if opts.cancel.is_cancelled() {
                return Err(IdsError::Cancelled);
            }
            let n = match entry.read(&mut buf) {
                Ok(n) => n,
                Err(e) => return Err(bad_zip(zip_path, format_args!("entry {label}: {e}"))),
            };
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])
                .map_err(|e| IdsError::io("write", &part, e))?;
            h.update(&buf[..n]);
            len += n as u64;
        }
        if opts.fsync {
            out.sync_all().map_err(|e| IdsError::io("sync", &part, e))?;
        }
        drop(out);
        verify(&label, &part, len, Some(h.finalize()), &expected)?;
        std::fs::rename(&part, &target).map_err(|e| IdsError::io("rename", &target, e))?;
        report.bytes += len;
        report.files.push(p.rel.as_path().to_path_buf());
    }
    Ok(report)
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

impl IdsClient {
    /// Download `what` as a zip and keep it or extract it. A dropped transfer is retried from the
    /// start (a rebuilt zip differs byte for byte, so it is never resumed).
    pub async fn download_zip<'a>(
        &self,
        what: impl Into<DataRef<'a>>,
        compress: bool,
        output: &ZipOutput,
        opts: &DownloadOptions,
    ) -> Result<ExtractReport, IdsError> {
        self.download_zip_with(what.into(), compress, output, opts, HashMap::new())
            .await
    }

    pub(crate) async fn download_zip_with(
        &self,
        what: DataRef<'_>,
        compress: bool,
        output: &ZipOutput,
        opts: &DownloadOptions,
        expected: HashMap<PathBuf, Expected>,
    ) -> Result<ExtractReport, IdsError> {
        let zip_target = match output {
            ZipOutput::File(p) => p.clone(),
            // Named after what is fetched, so two zip downloads into one directory do not clash.
            ZipOutput::Extract { dir, .. } => {
                let key = match what {
                    DataRef::Prepared(id) => id.to_string(),
                    DataRef::Selection(sel) => {
                        let mut h = crc32fast::Hasher::new();
                        for (k, v) in sel.params() {
                            h.update(k.as_bytes());
                            h.update(v.as_bytes());
                        }
                        format!("sel-{:08x}", h.finalize())
                    }
                };
                dir.join(format!(".ids-download-{key}.zip"))
            }
        };
        let label = zip_target.display().to_string();
        let packing = Packing {
            zip: true,
            compress,
        };
        let mut attempt = 0u32;
        let part = loop {
            let mut part = PartFile::open(&zip_target, true).await?;
            opts.report(Progress {
                index: 0,
                name: &label,
                done: 0,
                total: None,
                phase: Phase::Started,
            });
            let r = self
                .stream_zip(what, packing, &mut part, opts, &label)
                .await;
            match r {
                Ok(()) => {
                    part.sync(opts.fsync).await?;
                    break part;
                }
                Err(e) => {
                    part.flush().await?;
                    if matches!(e, IdsError::Cancelled) || opts.cancel.is_cancelled() {
                        return Err(IdsError::Cancelled);
                    }
                    if !e.is_transient() || attempt >= opts.max_retries {
                        return Err(if attempt > 0 {
                            IdsError::RetriesExhausted {
                                file: label,
                                attempts: attempt + 1,
                                last: Box::new(e),
                            }
                        } else {
                            e
                        });
                    }
                    let delay = opts.backoff.delay(attempt);
                    attempt += 1;
                    tracing::warn!(file = %label, attempt, error = %e, "zip transfer failed; fetching it again in {delay:?}");
                    opts.report(Progress {
                        index: 0,
                        name: &label,
                        done: part.len(),
                        total: None,
                        phase: Phase::Retrying { attempt, delay },
                    });
                    sleep_or_cancel(delay, &opts.cancel).await?;
                }
            }
        };
        let bytes = part.len();
        match output {
            ZipOutput::File(_) => {
                let check = part.path().to_path_buf();
                tokio::task::spawn_blocking(move || {
                    let f =
                        std::fs::File::open(&check).map_err(|e| IdsError::io("open", &check, e))?;
                    zip::ZipArchive::new(std::io::BufReader::new(f))
                        .map_err(|e| bad_zip(&check, e))?;
                    Ok::<_, IdsError>(())
                })
                .await
                .map_err(|e| IdsError::Internal {
                    message: format!("zip check task failed: {e}"),
                })??;
                let path = part.commit().await?;
                opts.report(Progress {
                    index: 0,
                    name: &label,
                    done: bytes,
                    total: Some(bytes),
                    phase: Phase::Done,
                });
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
                    index: 0,
                    name: &label,
                    done: bytes,
                    total: Some(bytes),
                    phase: Phase::Extracting,
                });
                let xopts = ExtractOptions {
                    layout: *layout,
                    overwrite: opts.overwrite,
                    expected,
                    cancel: opts.cancel.clone(),
                    fsync: opts.fsync,
                };
                let (zp, d) = (zip_part.clone(), dir.clone());
                let r = tokio::task::spawn_blocking(move || extract_zip(&zp, &d, &xopts))
                    .await
                    .map_err(|e| IdsError::Internal {
                        message: format!("extraction task failed: {e}"),
                    })?;
                if r.is_ok() {
                    let _ = tokio::fs::remove_file(&zip_part).await;
                }
                let rep = r?;
                opts.report(Progress {
                    index: 0,
                    name: &label,
                    done: bytes,
                    total: Some(bytes),
                    phase: Phase::Done,
                });
                Ok(rep)
            }
        }
    }

    async fn stream_zip(
        &self,
        what: DataRef<'_>,
        packing: Packing,
        part: &mut PartFile,
        opts: &DownloadOptions,
        label: &str,
    ) -> Result<(), IdsError> {
        let ds = tokio::select! {
            _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
            r = self.get_data(what, packing, 0) => r?,
        };
        let mut stream = ds.into_stream();
        loop {
            let next = tokio::select! {
                _ = opts.cancel.cancelled() => return Err(IdsError::Cancelled),
                n = stream.next() => n,
            };
            match next {
                None => return Ok(()),
                Some(Ok(chunk)) => {
                    part.write(&chunk).await?;
                    opts.report(Progress {
                        index: 0,
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
        ] {
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
        assert!(dest.join("v/d/f.dat.part").exists());
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
}
