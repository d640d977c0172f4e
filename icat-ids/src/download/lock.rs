//! One download run per destination: an exclusive `flock` on `.icat-download/lock`, held for the
//! whole run, so two runs never write into the same temporary files or remove each other's
//! temporary zips. A second run is refused at once (it does not wait).

use std::path::{Path, PathBuf};

use super::part::work_dir;
use crate::error::IdsError;

/// The lock file's name inside the work folder.
pub const LOCK_FILE: &str = "lock";

/// An exclusive lock on a destination; released (and the lock file removed) by
/// [`DestLock::release`], or by the OS when the process ends.
#[derive(Debug)]
pub(crate) struct DestLock {
    /// Open for as long as the lock is held (closing it unlocks).
    #[cfg(unix)]
    _held: std::fs::File,
    path: PathBuf,
    dest: PathBuf,
}

impl DestLock {
    /// Lock `dest` for this run, creating its work folder; [`IdsError::DestinationBusy`] when
    /// another run holds it.
    pub(crate) async fn acquire(dest: &Path) -> Result<DestLock, IdsError> {
        let dest = dest.to_path_buf();
        tokio::task::spawn_blocking(move || acquire_blocking(&dest))
            .await
            .map_err(|e| IdsError::Internal {
                message: format!("lock task failed: {e}"),
            })?
    }

    /// Remove the lock file (while still holding the lock), then the work folder if nothing
    /// else is left in it, then unlock.
    pub(crate) async fn release(self) {
        let _ = tokio::fs::remove_file(&self.path).await;
        let _ = tokio::fs::remove_dir(work_dir(&self.dest)).await;
        drop(self);
    }
}

#[cfg(unix)]
fn acquire_blocking(dest: &Path) -> Result<DestLock, IdsError> {
    use rustix::fs::{FlockOperation, flock, fstat, lstat};
    use std::os::unix::fs::OpenOptionsExt;

    let dir = work_dir(dest);
    if std::fs::symlink_metadata(&dir).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(IdsError::LinkInDestination {
            link: dir.to_path_buf(),
            what: "the work folder for partial downloads",
        });
    }
    // Only this user may list the work folder: the names of its temporary files are no one
    // else's business (issue 14 re-review).
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(|e| IdsError::io("create directory", &dir, e))?;
    }
    let path = dir.join(LOCK_FILE);
    loop {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| IdsError::io("open", &path, e))?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(IdsError::DestinationBusy {
                    dest: dest.to_path_buf(),
                    lock: path,
                });
            }
            Err(e) => return Err(IdsError::io("lock", &path, e.into())),
        }
        // The run we raced with may have removed the lock file it held: our lock is then on a
        // file nobody else will find. Lock the file that is there now instead.
        let held = fstat(&file).map_err(|e| IdsError::io("stat", &path, e.into()))?;
        match lstat(&path) {
            Ok(now) if now.st_dev == held.st_dev && now.st_ino == held.st_ino => {
                return Ok(DestLock {
                    _held: file,
                    path,
                    dest: dest.to_path_buf(),
                });
            }
            _ => continue,
        }
    }
}

#[cfg(not(unix))]
fn acquire_blocking(dest: &Path) -> Result<DestLock, IdsError> {
    let dir = work_dir(dest);
    std::fs::create_dir_all(&dir).map_err(|e| IdsError::io("create directory", &dir, e))?;
    Ok(DestLock {
        path: dir.join(LOCK_FILE),
        dest: dest.to_path_buf(),
    })
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[tokio::test]
    async fn second_lock_is_refused_and_release_cleans_up() {
        let dir = tempfile::tempdir().unwrap();
        let a = DestLock::acquire(dir.path()).await.unwrap();
        let e = DestLock::acquire(dir.path()).await.unwrap_err();
        assert!(matches!(e, IdsError::DestinationBusy { .. }), "{e}");
        a.release().await;
        assert!(!work_dir(dir.path()).exists());
        let b = DestLock::acquire(dir.path()).await.unwrap();
        b.release().await;
    }

    /// Issue 14 re-review: the work folder holding temporary files was world-listable.
    #[cfg(unix)]
    #[tokio::test]
    async fn the_work_folder_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = DestLock::acquire(dir.path()).await.unwrap();
        let mode = std::fs::metadata(work_dir(dir.path()))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o700, "{mode:o}");
        a.release().await;
    }
}
