//! Placing a finished temporary file at its final path without following symbolic links: the
//! folders from the destination down to the file are opened one by one with `O_NOFOLLOW`, and
//! the file is renamed between directory handles, so a folder replaced by a link during the run
//! cannot redirect the file outside the destination.

use std::path::{Component, Path};

use super::part::WORK_DIR;
use crate::error::IdsError;

/// Rename `<root>/.icat-download/<tmp_name>` to `<root>/<rel>`, refusing (with
/// [`IdsError::LocalPathChanged`]) when a folder of `rel`, or the work folder, is not a plain
/// folder; then sync the target folder. `rel` holds only plain components.
pub(crate) fn rename_within(root: &Path, tmp_name: &str, rel: &Path) -> Result<(), IdsError> {
    imp::rename_within(root, tmp_name, rel)
}

fn components(rel: &Path) -> Option<(Vec<&std::ffi::OsStr>, &std::ffi::OsStr)> {
    let mut parts = Vec::new();
    for c in rel.components() {
        match c {
            Component::Normal(p) => parts.push(p),
            _ => return None,
        }
    }
    let file = parts.pop()?;
    Some((parts, file))
}

#[cfg(unix)]
mod imp {
    use super::*;
    use rustix::fd::OwnedFd;
    use rustix::fs::{CWD, Mode, OFlags, openat, renameat};
    use rustix::io::Errno;

    fn open_dir(at: &OwnedFd, name: &std::ffi::OsStr, target: &Path) -> Result<OwnedFd, IdsError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        openat(at, name, flags, Mode::empty()).map_err(|e| match e {
            Errno::LOOP | Errno::NOTDIR | Errno::MLINK => IdsError::LocalPathChanged {
                path: target.to_path_buf(),
                reason: "a folder on the way was replaced by a symbolic link or a file during the run",
            },
            e => IdsError::io("open", target, e.into()),
        })
    }

    pub(super) fn rename_within(root: &Path, tmp_name: &str, rel: &Path) -> Result<(), IdsError> {
        let target = root.join(rel);
        let (parents, file) = components(rel).ok_or_else(|| IdsError::UnsafeName {
            name: rel.display().to_string(),
            reason: "not a plain relative path",
        })?;
        let root_dir = if root.as_os_str().is_empty() {
            Path::new(".")
        } else {
            root
        };
        // The destination itself is the user's choice and may be a link.
        let root_fd = openat(
            CWD,
            root_dir,
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| IdsError::io("open", root_dir, e.into()))?;
        let work_fd = open_dir(&root_fd, std::ffi::OsStr::new(WORK_DIR), &target)?;
        let mut dir = root_fd;
        for p in parents {
            dir = open_dir(&dir, p, &target)?;
        }
        renameat(&work_fd, tmp_name, &dir, file)
            .map_err(|e| IdsError::io("rename", &target, e.into()))?;
        // Best effort: the rename survives a crash once its folder is synced.
        let _ = rustix::fs::fsync(&dir);
        Ok(())
    }
}

#[cfg(not(unix))]
mod imp {
    use super::*;

    pub(super) fn rename_within(root: &Path, tmp_name: &str, rel: &Path) -> Result<(), IdsError> {
        let target = root.join(rel);
        if components(rel).is_none() {
            return Err(IdsError::UnsafeName {
                name: rel.display().to_string(),
                reason: "not a plain relative path",
            });
        }
        let mut p = root.to_path_buf();
        for c in rel.parent().into_iter().flat_map(Path::components) {
            p.push(c);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| !m.is_dir()) {
                return Err(IdsError::LocalPathChanged {
                    path: target,
                    reason: "a folder on the way was replaced by a symbolic link or a file during the run",
                });
            }
        }
        let tmp = root.join(WORK_DIR).join(tmp_name);
        std::fs::rename(&tmp, &target).map_err(|e| IdsError::io("rename", &target, e))
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn renames_through_plain_folders_and_refuses_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("dest");
        let outside = dir.path().join("outside");
        std::fs::create_dir_all(root.join(WORK_DIR)).unwrap();
        std::fs::create_dir_all(root.join("v/d")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        std::fs::write(root.join(WORK_DIR).join("t"), b"x").unwrap();
        rename_within(&root, "t", Path::new("v/d/f")).unwrap();
        assert_eq!(std::fs::read(root.join("v/d/f")).unwrap(), b"x");

        std::fs::write(root.join(WORK_DIR).join("t"), b"y").unwrap();
        std::fs::remove_dir_all(root.join("v/d")).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("v/d")).unwrap();
        let e = rename_within(&root, "t", Path::new("v/d/f")).unwrap_err();
        assert!(matches!(e, IdsError::LocalPathChanged { .. }), "{e}");
        assert_eq!(std::fs::read_dir(&outside).unwrap().count(), 0);
    }
}
