//! Hard links made by `getLink`: the `link/` directory of the storage, the expiry of every link,
//! and granting the named user read access.
//!
//! A link is named by a fresh random UUID (never by anything from the catalogue or the request),
//! so it cannot be guessed and cannot escape `link/`. Each link expires `linkLifetimeSeconds`
//! after it was made; expired links are removed by every `getLink` call and by
//! [`crate::ids::IdsState::sweep_links`], which the server runs alongside itself. The real IDS's
//! Tidier compares the lifetime with the link's mtime, which for a hard link is the stored
//! file's mtime (an old file's link can vanish at once); here the expiry counts from the moment
//! the link was made. Links left by an earlier run (the expiry is kept in memory) get a full
//! lifetime from start-up; with links switched off they are removed at start-up.
//!
//! Read access: the real IDS runs `setfacl -m user:<username>:r` on the stored file and fails
//! with 400 when that fails. Simulated user names (`db/jdoe`) are rarely system accounts, so here
//! the same command is run when `setfacl` is installed and the name is a plain account name
//! (letters, digits, `.`, `_`, `-`, not starting with `-`); anything else (no `setfacl`, an
//! unknown account, an unusable name) is logged as a warning and the link is still returned.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::names::{is_lower_uuid, random_uuid};
use super::storage::{Storage, StorageError, io_err};

/// The links made by `getLink` and when each expires.
#[derive(Debug)]
pub(crate) struct Links {
    dir: PathBuf,
    lifetime: Duration,
    expiry: Mutex<BTreeMap<String, Instant>>,
}

impl Links {
    /// Open (creating if needed) `<storage>/link`; links from an earlier run are adopted with a
    /// full `lifetime`, or removed when `lifetime` is zero (links switched off).
    pub(crate) fn open(storage_dir: &Path, lifetime: Duration) -> Result<Links, StorageError> {
        let dir = storage_dir.join("link");
        std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
        // Answers are absolute paths, also when the storage was given as a relative one.
        let dir = std::fs::canonicalize(&dir).map_err(io_err(&dir))?;
        let links = Links {
            dir,
            lifetime,
            expiry: Mutex::default(),
        };
        let expires = Instant::now() + lifetime;
        let mut adopted = 0;
        for entry in std::fs::read_dir(&links.dir).map_err(io_err(&links.dir))? {
            let entry = entry.map_err(io_err(&links.dir))?;
            let Some(name) = entry.file_name().to_str().map(str::to_string) else {
                continue;
            };
            if !is_lower_uuid(&name) {
                continue;
            }
            if lifetime.is_zero() {
                links.remove(&name);
            } else {
                links.registry().insert(name, expires);
                adopted += 1;
            }
        }
        if adopted > 0 {
            tracing::info!(
                adopted,
                "links from an earlier run expire one lifetime from now"
            );
        }
        Ok(links)
    }

    fn registry(&self) -> MutexGuard<'_, BTreeMap<String, Instant>> {
        // The map is changed in single statements; a poisoned lock is taken over.
        self.expiry.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The absolute directory holding the links.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Number of links that have not been removed yet.
    #[cfg(test)]
    pub(crate) fn count(&self) -> usize {
        self.registry().len()
    }

    /// When the next link expires, if there is one.
    pub(crate) fn next_expiry(&self) -> Option<Instant> {
        self.registry().values().min().copied()
    }

    /// How long a link lives.
    pub(crate) fn lifetime(&self) -> Duration {
        self.lifetime
    }

    /// Remove every link whose lifetime is over; returns how many were removed.
    pub(crate) fn remove_expired(&self) -> usize {
        let now = Instant::now();
        let expired: Vec<String> = {
            let mut registry = self.registry();
            let names: Vec<String> = registry
                .iter()
                .filter(|(_, at)| **at <= now)
                .map(|(name, _)| name.clone())
                .collect();
            for name in &names {
                registry.remove(name);
            }
            names
        };
        for name in &expired {
            self.remove(name);
        }
        if !expired.is_empty() {
            tracing::debug!(removed = expired.len(), "expired links removed");
        }
        expired.len()
    }

    fn remove(&self, name: &str) {
        let path = self.dir.join(name);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not remove a link"),
        }
    }

    /// Make a new link to the file stored at `location` (writing out a synthetic file first, so
    /// the link has real bytes), try to give `username` read access, and return the link's
    /// absolute path. Blocking: call it off the async threads.
    pub(crate) fn link(
        &self,
        storage: &Storage,
        location: &str,
        username: &str,
    ) -> Result<PathBuf, StorageError> {
        self.remove_expired();
        let target = storage.materialise(location)?;
        grant_read(username, &target);
        let name = random_uuid();
        let link = self.dir.join(&name);
        std::fs::hard_link(&target, &link).map_err(io_err(&link))?;
        self.registry().insert(name, Instant::now() + self.lifetime);
        Ok(link)
    }
}

/// Whether `name` is safe to put in a `setfacl` ACL entry: a plain account name (no `:` or `,`,
/// which would add ACL entries of their own).
fn is_plain_account_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The `setfacl` program on `PATH`, if installed.
fn find_setfacl() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join("setfacl"))
        .find(|candidate| candidate.is_file())
}

/// Best effort `setfacl -m user:<username>:r <target>`; every failure is a warning.
fn grant_read(username: &str, target: &Path) {
    if username.is_empty() {
        tracing::debug!("getLink without username: no read access granted");
        return;
    }
    if !is_plain_account_name(username) {
        tracing::warn!(
            username = %username.escape_debug(),
            "getLink: not a plain account name, no read access granted"
        );
        return;
    }
    let Some(setfacl) = find_setfacl() else {
        tracing::warn!(
            username,
            "getLink: setfacl is not installed, no read access granted"
        );
        return;
    };
    match run_setfacl(&setfacl, username, target) {
        Ok(()) => tracing::debug!(username, "getLink: read access granted"),
        Err(message) => tracing::warn!(
            username,
            %message,
            "getLink: setfacl failed (check that the user exists); the link is still returned"
        ),
    }
}

/// Run `<setfacl> -m user:<username>:r <target>` (no shell); the error says what went wrong.
fn run_setfacl(setfacl: &Path, username: &str, target: &Path) -> Result<(), String> {
    let out = std::process::Command::new(setfacl)
        .arg("-m")
        .arg(format!("user:{username}:r"))
        .arg(target)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", setfacl.display()))?;
    if out.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let message: String = stderr.trim().chars().take(300).collect();
    Err(format!("{} ({})", message, out.status))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_account_names_reach_setfacl() {
        for ok in ["jdoe", "j.doe", "j_doe-2", "A1"] {
            assert!(is_plain_account_name(ok), "{ok}");
        }
        for bad in [
            "",
            "-m",
            "db/jdoe",
            "x:rwx",
            "x,other::rwx",
            "a b",
            "é",
            &"a".repeat(65),
        ] {
            assert!(!is_plain_account_name(bad), "{bad:?}");
        }
    }

    /// A stand-in `setfacl` that records its arguments and fails when asked to.
    #[cfg(unix)]
    fn fake_setfacl(dir: &Path, exit: i32) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("setfacl");
        let record = dir.join("args");
        let text = format!(
            "#!/bin/sh\nprintf '%s\\n' \"$@\" > '{}'\necho 'no such user' >&2\nexit {exit}\n",
            record.display()
        );
        std::fs::write(&script, text).unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    #[cfg(unix)]
    #[test]
    fn setfacl_gets_one_acl_entry_and_failures_are_reported() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("stored file");
        std::fs::write(&target, b"x").unwrap();
        let ok = fake_setfacl(dir.path(), 0);
        run_setfacl(&ok, "jdoe", &target).unwrap();
        let args = std::fs::read_to_string(dir.path().join("args")).unwrap();
        assert_eq!(args, format!("-m\nuser:jdoe:r\n{}\n", target.display()));
        let failing = fake_setfacl(dir.path(), 1);
        let err = run_setfacl(&failing, "nosuchuser", &target).unwrap_err();
        assert!(err.contains("no such user"), "{err}");
        let missing = run_setfacl(&dir.path().join("absent"), "jdoe", &target).unwrap_err();
        assert!(missing.contains("cannot run"), "{missing}");
    }

    #[test]
    fn links_share_the_inode_and_expire() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        storage.write_bytes("1/2/f", b"linked bytes").unwrap();
        let links = Links::open(dir.path(), Duration::from_millis(50)).unwrap();
        let link = links.link(&storage, "1/2/f", "").unwrap();
        assert!(link.is_absolute());
        assert_eq!(link.parent(), Some(links.dir()));
        assert_eq!(std::fs::read(&link).unwrap(), b"linked bytes");
        assert_eq!(links.count(), 1);
        assert_eq!(links.remove_expired(), 0);
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(links.remove_expired(), 1);
        assert!(!link.exists());
        assert!(
            storage.path_of("1/2/f").unwrap().exists(),
            "the stored file stays"
        );
        assert!(matches!(
            links.link(&storage, "1/2/missing", ""),
            Err(StorageError::Missing(_))
        ));
    }

    #[test]
    fn leftover_links_are_adopted_or_removed() {
        let dir = tempfile::tempdir().unwrap();
        let storage = Storage::open(dir.path()).unwrap();
        storage.write_bytes("a", b"x").unwrap();
        let links = Links::open(dir.path(), Duration::from_secs(60)).unwrap();
        let link = links.link(&storage, "a", "").unwrap();
        let other = links.dir().join("not-a-link.txt");
        std::fs::write(&other, b"kept").unwrap();
        drop(links);
        let reopened = Links::open(dir.path(), Duration::from_secs(60)).unwrap();
        assert_eq!(reopened.count(), 1);
        assert!(link.exists());
        drop(reopened);
        let off = Links::open(dir.path(), Duration::ZERO).unwrap();
        assert_eq!(off.count(), 0);
        assert!(!link.exists(), "links are removed when getLink is off");
        assert!(other.exists(), "only link-shaped names are touched");
    }
}
