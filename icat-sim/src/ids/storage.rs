//! File storage of the IDS: datafile contents by location, plus the IDS's own state files.
//!
//! Layout under the storage directory:
//! - `main/<location>`: file contents (a location never escapes `main/`);
//! - `prepared/<preparedId>`: prepared selections (see [`super::prepared`]);
//! - `archived.json`: ids of datasets that are archived in two-level mode.
//!
//! Writes go to a temporary name and are renamed into place, so a failed or interrupted write
//! never leaves a partial file at a location.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncWriteExt;

use super::names::random_uuid;

/// Errors of the file storage.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// The location would leave the storage directory or is otherwise unusable as a path.
    #[error("illegal location {0:?}: it must be a relative path without '..' or NUL")]
    IllegalLocation(String),
    /// No file is stored at this location.
    #[error("no file is stored at location {0:?}")]
    Missing(String),
    /// The body of an upload could not be read.
    #[error("upload interrupted: {0}")]
    Upload(String),
    /// A file system operation failed.
    #[error("storage I/O error on {path}: {source}")]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The archived-datasets state file is unreadable.
    #[error("corrupt state file {path}: {message}")]
    State {
        /// The state file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> StorageError + '_ {
    move |source| StorageError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Size and CRC32 of stored bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredFile {
    /// Number of bytes.
    pub size: u64,
    /// CRC32 (IEEE, as `java.util.zip.CRC32` and `zlib.crc32`).
    pub crc32: u32,
}

impl StoredFile {
    /// The checksum as ICAT stores it: lower-case hex without zero padding (`Long.toHexString`).
    pub fn checksum_hex(&self) -> String {
        format!("{:x}", self.crc32)
    }
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    main: PathBuf,
    archived: Mutex<BTreeSet<i64>>,
}

/// The IDS file storage rooted at a directory; cheap to clone.
#[derive(Debug, Clone)]
pub struct Storage {
    inner: Arc<Inner>,
}

impl Storage {
    /// Open (creating if needed) the storage under `dir`.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Storage, StorageError> {
        let dir = dir.into();
        let main = dir.join("main");
        std::fs::create_dir_all(&main).map_err(io_err(&main))?;
        let prepared = dir.join("prepared");
        std::fs::create_dir_all(&prepared).map_err(io_err(&prepared))?;
        let archived = load_archived(&dir.join("archived.json"))?;
        Ok(Storage {
            inner: Arc::new(Inner {
                dir,
                main,
                archived: Mutex::new(archived),
            }),
        })
    }

    /// The storage directory given to [`Storage::open`].
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Where the file for `location` lives; refuses locations that would escape the storage.
    pub fn path_of(&self, location: &str) -> Result<PathBuf, StorageError> {
        let illegal = || StorageError::IllegalLocation(location.to_string());
        if location.contains('\0') || location.contains('\\') {
            return Err(illegal());
        }
        let mut path = self.inner.main.clone();
        let mut parts = 0;
        for component in Path::new(location.trim_start_matches('/')).components() {
            match component {
                Component::Normal(part) => {
                    path.push(part);
                    parts += 1;
                }
                Component::CurDir => {}
                _ => return Err(illegal()),
            }
        }
        if parts == 0 {
            return Err(illegal());
        }
        Ok(path)
    }

    /// A fresh location for a file put into a dataset: `<invId>/<dsId>/<uuid>`.
    pub fn new_location(investigation_id: i64, dataset_id: i64) -> String {
        format!("{investigation_id}/{dataset_id}/{}", random_uuid())
    }

    /// The size of the stored file, or `Missing`.
    pub fn stored_size(&self, location: &str) -> Result<u64, StorageError> {
        let path = self.path_of(location)?;
        match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() => Ok(meta.len()),
            Ok(_) => Err(StorageError::Missing(location.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err(StorageError::Missing(location.to_string()))
            }
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    /// Store a byte stream at `location`, computing its size and CRC32 on the way.
    ///
    /// The file appears at its location only when the whole stream has been written.
    pub async fn put_stream<S, E>(
        &self,
        location: &str,
        body: S,
    ) -> Result<StoredFile, StorageError>
    where
        S: Stream<Item = Result<Bytes, E>>,
        E: std::fmt::Display,
    {
        let path = self.path_of(location)?;
        let tmp = temp_path(&path);
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent)
                .await
                .map_err(io_err(parent))?;
        }
        let result = write_stream(&tmp, body).await;
        match result {
            Ok(stored) => {
                tokio::fs::rename(&tmp, &path)
                    .await
                    .map_err(io_err(&path))?;
                Ok(stored)
            }
            Err(e) => {
                let _ = tokio::fs::remove_file(&tmp).await;
                Err(e)
            }
        }
    }

    /// Write `size` bytes of the deterministic pattern for `seed` at `location` (synchronous;
    /// for synthetic data). The same seed and size always give the same bytes.
    pub fn write_pattern(
        &self,
        location: &str,
        seed: u64,
        size: u64,
    ) -> Result<StoredFile, StorageError> {
        let path = self.path_of(location)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let tmp = temp_path(&path);
        let write = || -> std::io::Result<StoredFile> {
            let mut file = std::fs::File::create(&tmp)?;
            let mut buf = vec![0u8; 1 << 20];
            let mut hasher = crc32fast::Hasher::new();
            let mut offset = 0u64;
            while offset < size {
                let n = (size - offset).min(buf.len() as u64) as usize;
                fill_pattern(seed, offset, &mut buf[..n]);
                hasher.update(&buf[..n]);
                file.write_all(&buf[..n])?;
                offset += n as u64;
            }
            file.flush()?;
            Ok(StoredFile {
                size,
                crc32: hasher.finalize(),
            })
        };
        match write() {
            Ok(stored) => {
                std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
                Ok(stored)
            }
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                Err(io_err(&path)(e))
            }
        }
    }

    /// Store a small byte slice at `location` (synchronous; for tests and loaders).
    pub fn write_bytes(&self, location: &str, bytes: &[u8]) -> Result<StoredFile, StorageError> {
        let path = self.path_of(location)?;
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io_err(parent))?;
        }
        let tmp = temp_path(&path);
        std::fs::write(&tmp, bytes).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))?;
        Ok(StoredFile {
            size: bytes.len() as u64,
            crc32: crc32fast::hash(bytes),
        })
    }

    /// Remove the file at `location`; a missing file is not an error.
    pub async fn delete(&self, location: &str) -> Result<(), StorageError> {
        let path = self.path_of(location)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path)(e)),
        }
    }

    fn archived_set(&self) -> MutexGuard<'_, BTreeSet<i64>> {
        // The set is always left consistent, so a poisoned lock is taken over.
        self.inner
            .archived
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Whether a dataset is archived (two-level mode).
    pub fn is_archived(&self, dataset_id: i64) -> bool {
        self.archived_set().contains(&dataset_id)
    }

    /// All archived dataset ids, ascending.
    pub fn archived_ids(&self) -> Vec<i64> {
        self.archived_set().iter().copied().collect()
    }

    /// Mark datasets archived (`true`) or online (`false`) and persist the state.
    pub fn set_archived(
        &self,
        dataset_ids: impl IntoIterator<Item = i64>,
        archived: bool,
    ) -> Result<(), StorageError> {
        let mut set = self.archived_set();
        for id in dataset_ids {
            if archived {
                set.insert(id);
            } else {
                set.remove(&id);
            }
        }
        let path = self.inner.dir.join("archived.json");
        let json = serde_json::to_vec(&*set).map_err(|e| StorageError::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let tmp = temp_path(&path);
        std::fs::write(&tmp, json).map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, &path).map_err(io_err(&path))
    }
}

fn temp_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{}.tmp", random_uuid()));
    path.with_file_name(name)
}

async fn write_stream<S, E>(tmp: &Path, body: S) -> Result<StoredFile, StorageError>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    let mut file = tokio::fs::File::create(tmp).await.map_err(io_err(tmp))?;
    let mut hasher = crc32fast::Hasher::new();
    let mut size = 0u64;
    let mut body = std::pin::pin!(body);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StorageError::Upload(e.to_string()))?;
        hasher.update(&chunk);
        size += chunk.len() as u64;
        file.write_all(&chunk).await.map_err(io_err(tmp))?;
    }
    file.flush().await.map_err(io_err(tmp))?;
    file.sync_all().await.map_err(io_err(tmp))?;
    Ok(StoredFile {
        size,
        crc32: hasher.finalize(),
    })
}

fn load_archived(path: &Path) -> Result<BTreeSet<i64>, StorageError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| StorageError::State {
            path: path.to_path_buf(),
            message: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeSet::new()),
        Err(e) => Err(io_err(path)(e)),
    }
}

/// Fill `buf` with the deterministic pattern for `seed`, starting at byte `offset` of it.
///
/// Each 8-byte word is a SplitMix64 hash of (seed, word index), so any range can be produced
/// independently and the bytes look random (they do not compress).
pub fn fill_pattern(seed: u64, offset: u64, buf: &mut [u8]) {
    let mut pos = offset;
    let mut i = 0;
    while i < buf.len() {
        let word = splitmix(seed ^ (pos / 8).wrapping_mul(0x9E37_79B9_7F4A_7C15)).to_le_bytes();
        let start = (pos % 8) as usize;
        let n = (8 - start).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&word[start..start + n]);
        i += n;
        pos += n as u64;
    }
}

fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_never_escape_the_storage() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let main = dir.path().join("main");
        assert_eq!(storage.path_of("a/b/c").unwrap(), main.join("a/b/c"));
        assert_eq!(storage.path_of("/abs/x").unwrap(), main.join("abs/x"));
        assert_eq!(storage.path_of("./a/./b").unwrap(), main.join("a/b"));
        for bad in [
            "../x",
            "a/../../x",
            "a/..",
            "",
            "/",
            ".",
            "a\0b",
            "a\\..\\b",
        ] {
            assert!(
                matches!(storage.path_of(bad), Err(StorageError::IllegalLocation(_))),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn pattern_is_deterministic_and_offset_consistent() {
        let mut whole = vec![0u8; 1000];
        fill_pattern(7, 0, &mut whole);
        let mut part = vec![0u8; 333];
        fill_pattern(7, 13, &mut part);
        assert_eq!(&whole[13..346], &part[..]);
        let mut other = vec![0u8; 1000];
        fill_pattern(8, 0, &mut other);
        assert_ne!(whole, other);
    }

    #[test]
    fn write_pattern_reports_crc_and_size_of_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        let stored = storage.write_pattern("1/2/f", 42, 3_000_000).unwrap();
        let bytes = std::fs::read(storage.path_of("1/2/f").unwrap()).unwrap();
        assert_eq!(stored.size, 3_000_000);
        assert_eq!(bytes.len(), 3_000_000);
        assert_eq!(stored.crc32, crc32fast::hash(&bytes));
        let mut expected = vec![0u8; 3_000_000];
        fill_pattern(42, 0, &mut expected);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn checksum_hex_is_unpadded_lower_case() {
        let f = StoredFile {
            size: 1,
            crc32: 0x0abc_def0,
        };
        assert_eq!(f.checksum_hex(), "abcdef0");
    }

    #[test]
    fn archived_state_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        storage.set_archived([3, 1, 2], true).unwrap();
        storage.set_archived([2], false).unwrap();
        let reopened = Storage::open(dir.path()).unwrap();
        assert_eq!(reopened.archived_ids(), vec![1, 3]);
        assert!(reopened.is_archived(3));
        assert!(!reopened.is_archived(2));
    }
}
