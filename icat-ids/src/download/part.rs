//! Temporary files: data is written into a hidden work folder of the destination
//! ([`WORK_DIR`], where no catalogue name can reach: names are checked to never use it) under a
//! name carrying the datafile id, and renamed into place only once it is complete, synced and
//! verified; plus size/CRC32 verification helpers.

use std::path::{Path, PathBuf};

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};

use crate::error::IdsError;

/// Write buffer for downloads; large enough that disk writes are few and cheap.
pub(crate) const WRITE_BUF: usize = 1 << 20;

/// `<target>.part`: the temporary name of a zip kept as a file the caller named.
pub fn part_path(target: &Path) -> PathBuf {
    let mut s = target.as_os_str().to_owned();
    s.push(".part");
    PathBuf::from(s)
}

/// The hidden work folder holding partial downloads, directly under a destination. Names from
/// the server may not use it as a path component (in any letter case).
pub const WORK_DIR: &str = ".icat-download";

/// `<dir>/.icat-download`.
pub fn work_dir(dir: &Path) -> PathBuf {
    dir.join(WORK_DIR)
}

/// The partial download of datafile `id` in work folder `work`: only this datafile ever
/// resumes from it.
pub fn datafile_part(work: &Path, id: i64) -> PathBuf {
    work.join(format!("df-{id}.part"))
}

/// Where [`crate::IdsClient::download_datafile`] keeps the partial data of datafile `id` on its
/// way to `target`: `<target's folder>/.icat-download/df-<id>.part`.
pub fn datafile_part_for(target: &Path, id: i64) -> PathBuf {
    datafile_part(&work_dir(target.parent().unwrap_or(Path::new(""))), id)
}

/// Create the work folder holding `part` (refusing a symbolic link in its place).
pub(crate) async fn create_work_dir(part: &Path) -> Result<(), IdsError> {
    let Some(dir) = part.parent().filter(|d| !d.as_os_str().is_empty()) else {
        return Ok(());
    };
    if let Ok(m) = tokio::fs::symlink_metadata(dir).await
        && m.file_type().is_symlink()
    {
        return Err(IdsError::LinkInDestination {
            link: dir.to_path_buf(),
            what: "the work folder for partial downloads",
        });
    }
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| IdsError::io("create directory", dir, e))
}

/// What the catalogue says a file should be.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expected {
    /// `Datafile.fileSize`.
    pub size: Option<u64>,
    /// `Datafile.checksum`: CRC32 as lower-case hex without zero padding.
    pub checksum: Option<String>,
}

impl Expected {
    /// The expected CRC32, if the checksum is a CRC32 in the IDS format (up to 8 hex digits).
    /// Other checksum formats cannot be verified and are reported once in the log.
    pub fn crc32(&self) -> Option<u32> {
        let c = self.checksum.as_deref()?.trim();
        let parsed = if !c.is_empty() && c.len() <= 8 {
            u32::from_str_radix(c, 16).ok()
        } else {
            None
        };
        if parsed.is_none() {
            tracing::warn!(checksum = c, "checksum is not an IDS CRC32; not verified");
        }
        parsed
    }
}

/// The checksum in ICAT's form: lower-case hex, no zero padding.
pub fn crc_hex(crc: u32) -> String {
    format!("{crc:x}")
}

/// Check `len` bytes with CRC32 `crc` against `expected`; `label` names the file in errors.
pub fn verify(
    label: &str,
    part: &Path,
    len: u64,
    crc: Option<u32>,
    expected: &Expected,
) -> Result<(), IdsError> {
    if let Some(size) = expected.size
        && size != len
    {
        return Err(IdsError::SizeMismatch {
            file: label.to_string(),
            expected: size,
            actual: len,
            part: part.to_path_buf(),
        });
    }
    if let (Some(want), Some(got)) = (expected.crc32(), crc)
        && want != got
    {
        return Err(IdsError::ChecksumMismatch {
            file: label.to_string(),
            expected: expected.checksum.clone().unwrap_or_default(),
            actual: crc_hex(got),
            part: part.to_path_buf(),
        });
    }
    Ok(())
}

/// CRC32 and length of the first `limit` bytes of a file (all of it when `None`), read in
/// fixed-size blocks.
pub async fn hash_file(
    path: &Path,
    limit: Option<u64>,
) -> Result<(crc32fast::Hasher, u64), IdsError> {
    let f = tokio::fs::File::open(path)
        .await
        .map_err(|e| IdsError::io("open", path, e))?;
    let mut r = f.take(limit.unwrap_or(u64::MAX));
    let mut h = crc32fast::Hasher::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n_total = 0u64;
    loop {
        let n = r
            .read(&mut buf)
            .await
            .map_err(|e| IdsError::io("read", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        n_total += n as u64;
    }
    Ok((h, n_total))
}

/// Check an already existing final file against the catalogue.
pub async fn existing_matches(
    path: &Path,
    expected: &Expected,
) -> Result<Result<(), String>, IdsError> {
    let meta = tokio::fs::metadata(path)
        .await
        .map_err(|e| IdsError::io("stat", path, e))?;
    if let Some(size) = expected.size
        && meta.len() != size
    {
        return Ok(Err(format!("size {} instead of {size}", meta.len())));
    }
    if let Some(want) = expected.crc32() {
        let (h, _) = hash_file(path, None).await?;
        let got = h.finalize();
        if got != want {
            return Ok(Err(format!(
                "CRC32 {} instead of {}",
                crc_hex(got),
                crc_hex(want)
            )));
        }
    }
    if expected.size.is_none() && expected.crc32().is_none() {
        return Ok(Err(
            "nothing to compare it with (no size or checksum known)".into(),
        ));
    }
    Ok(Ok(()))
}

/// An open `.part` file being appended to.
pub struct PartFile {
    path: PathBuf,
    target: PathBuf,
    w: BufWriter<tokio::fs::File>,
    len: u64,
    /// Bytes an earlier run left that are still in the file (0 once it is truncated).
    kept: u64,
}

impl PartFile {
    /// Open the temporary file `path` (on its way to `target`) for appending, keeping what an
    /// earlier run left (resume), or truncating it when `fresh`. Refuses a temporary file that
    /// is a symbolic link.
    pub async fn open(path: &Path, target: &Path, fresh: bool) -> Result<Self, IdsError> {
        let path = path.to_path_buf();
        create_work_dir(&path).await?;
        if let Ok(m) = tokio::fs::symlink_metadata(&path).await
            && m.file_type().is_symlink()
        {
            return Err(IdsError::LinkInDestination {
                link: path.to_path_buf(),
                what: "a temporary file of the download",
            });
        }
        if let Some(dir) = target.parent()
            && !dir.as_os_str().is_empty()
        {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(|e| IdsError::io("create directory", dir, e))?;
        }
        let f = tokio::fs::OpenOptions::new()
            .create(true)
            .append(!fresh)
            .write(true)
            .truncate(fresh)
            .open(&path)
            .await
            .map_err(|e| IdsError::io("create", &path, e))?;
        let len = f
            .metadata()
            .await
            .map_err(|e| IdsError::io("stat", &path, e))?
            .len();
        Ok(PartFile {
            w: BufWriter::with_capacity(WRITE_BUF, f),
            path,
            target: target.to_path_buf(),
            len,
            kept: len,
        })
    }

    /// Bytes in the file (written or buffered).
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Bytes of the file that an earlier run left and that are still in it: what was not
    /// fetched by this run (0 once the file was truncated to be fetched from the start).
    pub fn kept_from_earlier(&self) -> u64 {
        self.kept
    }

    /// True when nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `.part` path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append bytes.
    pub async fn write(&mut self, data: &[u8]) -> Result<(), IdsError> {
        self.w
            .write_all(data)
            .await
            .map_err(|e| IdsError::io("write", &self.path, e))?;
        self.len += data.len() as u64;
        Ok(())
    }

    /// Flush buffered bytes to the OS (so a later run sees them).
    pub async fn flush(&mut self) -> Result<(), IdsError> {
        self.w
            .flush()
            .await
            .map_err(|e| IdsError::io("write", &self.path, e))
    }

    /// Throw away the content and start again at zero.
    pub async fn truncate(&mut self) -> Result<(), IdsError> {
        self.flush().await?;
        let f = self.w.get_mut();
        f.set_len(0)
            .await
            .map_err(|e| IdsError::io("truncate", &self.path, e))?;
        // In append mode writes go to the (new) end; otherwise seek there.
        use tokio::io::AsyncSeekExt;
        f.seek(std::io::SeekFrom::Start(0))
            .await
            .map_err(|e| IdsError::io("seek", &self.path, e))?;
        self.len = 0;
        self.kept = 0;
        Ok(())
    }

    /// Flush and (when `durable`) fsync, keeping the `.part`; after verification call
    /// [`PartFile::commit`].
    pub async fn sync(&mut self, durable: bool) -> Result<(), IdsError> {
        self.flush().await?;
        if !durable {
            return Ok(());
        }
        self.w
            .get_mut()
            .sync_all()
            .await
            .map_err(|e| IdsError::io("sync", &self.path, e))
    }

    /// Close and delete the temporary file (its bytes cannot be used).
    pub async fn discard(self) {
        let PartFile { path, w, .. } = self;
        drop(w);
        let _ = tokio::fs::remove_file(&path).await;
    }

    /// Rename the synced temporary file, which lives in `<root>/.icat-download/`, to
    /// `<root>/<rel>` without following any symbolic link below `root` (see
    /// [`super::place`]), and sync the folder.
    pub(crate) async fn commit_within(self, root: &Path, rel: &Path) -> Result<PathBuf, IdsError> {
        let PartFile { path, w, .. } = self;
        drop(w);
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .map(str::to_owned)
            .ok_or_else(|| IdsError::Internal {
                message: format!("temporary file {} has no plain name", path.display()),
            })?;
        let (root, rel) = (root.to_path_buf(), rel.to_path_buf());
        tokio::task::spawn_blocking(move || {
            super::place::rename_within(&root, &name, &rel).map(|()| root.join(&rel))
        })
        .await
        .map_err(|e| IdsError::Internal {
            message: format!("rename task failed: {e}"),
        })?
    }

    /// Rename the synced temporary file to the final path and sync the directory.
    pub async fn commit(self) -> Result<PathBuf, IdsError> {
        let PartFile {
            path, target, w, ..
        } = self;
        drop(w);
        tokio::fs::rename(&path, &target)
            .await
            .map_err(|e| IdsError::io("rename", &target, e))?;
        sync_dir(&target).await;
        Ok(target)
    }
}

/// Best-effort fsync of the directory holding `path` so the rename survives a crash.
pub(crate) async fn sync_dir(path: &Path) {
    if let Some(dir) = path.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        if let Ok(d) = tokio::fs::File::open(dir).await {
            let _ = d.sync_all().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_path_appends_suffix() {
        assert_eq!(part_path(Path::new("/a/b.nxs")), Path::new("/a/b.nxs.part"));
    }

    #[test]
    fn crc32_parsing_accepts_unpadded_hex_only() {
        let e = |c: &str| Expected {
            size: None,
            checksum: Some(c.into()),
        };
        assert_eq!(e("cc830993").crc32(), Some(0xcc830993));
        assert_eq!(e("abc").crc32(), Some(0xabc));
        assert_eq!(e("md5:0123456789abcdef").crc32(), None);
        assert_eq!(e("zz").crc32(), None);
    }

    #[test]
    fn mismatch_names_file_and_both_values() {
        let exp = Expected {
            size: Some(3),
            checksum: Some("abc".into()),
        };
        let e = verify("run1/f.dat", Path::new("x.part"), 3, Some(0x1234), &exp).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("run1/f.dat") && msg.contains("abc") && msg.contains("1234"),
            "{msg}"
        );
        let e = verify("f", Path::new("x.part"), 4, Some(0xabc), &exp).unwrap_err();
        assert!(matches!(
            e,
            IdsError::SizeMismatch {
                expected: 3,
                actual: 4,
                ..
            }
        ));
        assert!(verify("f", Path::new("x.part"), 3, Some(0xabc), &exp).is_ok());
    }

    #[tokio::test]
    async fn part_resume_truncate_commit() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("sub/file.bin");
        let tmp = datafile_part_for(&target, 7);
        assert_eq!(tmp, dir.path().join("sub/.icat-download/df-7.part"));
        let mut p = PartFile::open(&tmp, &target, false).await.unwrap();
        p.write(b"hello ").await.unwrap();
        p.flush().await.unwrap();
        drop(p);
        let mut p = PartFile::open(&tmp, &target, false).await.unwrap();
        assert_eq!(p.len(), 6);
        p.write(b"world").await.unwrap();
        p.sync(true).await.unwrap();
        assert!(!target.exists());
        let (h, n) = hash_file(p.path(), None).await.unwrap();
        assert_eq!(n, 11);
        assert_eq!(h.finalize(), crc32fast::hash(b"hello world"));
        let (h, n) = hash_file(p.path(), Some(5)).await.unwrap();
        assert_eq!((h.finalize(), n), (crc32fast::hash(b"hello"), 5));
        p.truncate().await.unwrap();
        p.write(b"new").await.unwrap();
        p.sync(true).await.unwrap();
        let t = p.commit().await.unwrap();
        assert_eq!(std::fs::read(&t).unwrap(), b"new");
        assert!(!tmp.exists());
    }

    #[cfg(unix)]
    #[tokio::test]
    async fn symlinked_part_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"keep").unwrap();
        let target = dir.path().join("f");
        std::os::unix::fs::symlink(&outside, part_path(&target)).unwrap();
        assert!(
            PartFile::open(&part_path(&target), &target, false)
                .await
                .is_err()
        );
        assert_eq!(std::fs::read(&outside).unwrap(), b"keep");
    }
}
