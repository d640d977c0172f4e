//! Prepared selections (`prepareData`), kept as JSON files so they survive a restart.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::catalog::{DatafileRecord, DatasetInfo};
use super::names::{is_lower_uuid, random_uuid};
use super::storage::StorageError;

/// A snapshot of a resolved selection with its packing flags (the real IDS's prepared file).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Prepared {
    /// Whether getData answers a zip.
    pub zip: bool,
    /// Whether the zip is compressed.
    pub compress: bool,
    /// The datasets of the selection (including empty ones).
    pub datasets: Vec<DatasetInfo>,
    /// The datafiles, ascending by id.
    pub datafiles: Vec<DatafileRecord>,
    /// The user who prepared it, recorded only when the facility profile caps downloads per
    /// user (a real IDS's prepared file has no user; the cap is the facility front end's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// The directory of prepared selections, `<storage>/prepared/<preparedId>`.
#[derive(Debug, Clone)]
pub struct PreparedStore {
    dir: PathBuf,
    /// How many prepared selections are kept (`preparedCount`).
    keep: usize,
}

impl PreparedStore {
    /// The store in `dir` (which must exist) keeping at most `keep` selections; removes temporary
    /// files left by a crash.
    pub fn open(dir: PathBuf, keep: usize) -> Result<Self, StorageError> {
        let io = |source| StorageError::Io {
            path: dir.clone(),
            source,
        };
        for entry in std::fs::read_dir(&dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        Ok(PreparedStore { dir, keep })
    }

    /// Save a prepared selection under a new random preparedId and return the id.
    pub async fn save(&self, prepared: &Prepared) -> Result<String, StorageError> {
        let id = random_uuid();
        let path = self.dir.join(&id);
        let tmp = self.dir.join(format!("{id}.tmp"));
        let json = serde_json::to_vec(prepared).map_err(|e| StorageError::State {
            path: path.clone(),
            message: e.to_string(),
        })?;
        let io = |source| StorageError::Io {
            path: path.clone(),
            source,
        };
        tokio::fs::write(&tmp, json).await.map_err(io)?;
        tokio::fs::rename(&tmp, &path).await.map_err(io)?;
        let dir = self.dir.clone();
        let keep = self.keep;
        match tokio::task::spawn_blocking(move || tidy(&dir, keep)).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "cannot tidy prepared selections"),
            Err(e) => tracing::warn!(error = %e, "tidying prepared selections failed"),
        }
        Ok(id)
    }

    /// The prepared selection `id`, or `None` when it is not known.
    pub async fn load(&self, id: &str) -> Result<Option<Prepared>, StorageError> {
        if !is_lower_uuid(id) {
            return Ok(None);
        }
        let path = self.dir.join(id);
        match tokio::fs::read(&path).await {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StorageError::State {
                        path,
                        message: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StorageError::Io { path, source }),
        }
    }
}

/// ids.server's `Tidier.cleanPreparedDir`: when the directory holds more than `keep` files, the
/// oldest by modification time are deleted until `keep` remain. (The real IDS does this every
/// `sizeCheckIntervalSeconds`; the simulator does it after each `prepareData`.)
fn tidy(dir: &std::path::Path, keep: usize) -> std::io::Result<()> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let modified = entry.metadata()?.modified()?;
        files.push((modified, entry.path()));
    }
    if files.len() <= keep {
        return Ok(());
    }
    files.sort();
    let excess = files.len() - keep;
    for (_, path) in files.into_iter().take(excess) {
        tracing::debug!(path = %path.display(), "deleting an old prepared selection");
        std::fs::remove_file(path)?;
    }
    Ok(())
}
