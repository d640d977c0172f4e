//! The session reuse cache: one small JSON file per server + user, mode 0600, written atomically.
//!
//! `icat login` stores the session id (never the password) here so later commands reuse it instead
//! of logging in again. The directory is `$ICAT_CACHE_DIR` when set, else `<cache dir>/icat`.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::failure::Failure;

/// A stored session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedSession {
    /// The normalised ICAT URL.
    pub url: String,
    /// The normalised IDS URL, when known.
    pub idsurl: Option<String>,
    /// The authenticator used.
    pub auth: String,
    /// The user name as given at login (empty for anonymous logins).
    pub username: String,
    /// The user name as the server reports it (e.g. `db/jdoe`).
    pub server_user: String,
    /// The session id.
    pub session_id: String,
    /// Estimated expiry, milliseconds since the Unix epoch.
    pub expires_at_ms: i64,
    /// When this entry was last written, milliseconds since the Unix epoch.
    pub saved_at_ms: i64,
    /// Whether TLS certificates are checked for this server.
    #[serde(default = "default_true")]
    pub check_cert: bool,
    /// The extra CA certificate file (absolute path) trusted for this server, if any.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
}

/// Which stored session is the default: server, authenticator and user of the last `icat login`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DefaultKey {
    /// The normalised ICAT URL.
    pub url: String,
    /// The authenticator.
    pub auth: String,
    /// The user name as given at login.
    pub username: String,
    /// The user name as the server reports it, for messages after the session is gone.
    pub server_user: String,
}

impl DefaultKey {
    /// The key of a stored session.
    pub fn of(session: &CachedSession) -> Self {
        DefaultKey {
            url: session.url.clone(),
            auth: session.auth.clone(),
            username: session.username.clone(),
            server_user: session.server_user.clone(),
        }
    }

    /// Whether this key names that session.
    pub fn names(&self, session: &CachedSession) -> bool {
        self.url == session.url && self.auth == session.auth && self.username == session.username
    }
}

fn default_true() -> bool {
    true
}

/// A session id shortened for display and logs (`1a2b3c4d…`); never print the whole id.
pub use icat_soap::client::short_id;

/// The cache directory with its session files.
#[derive(Clone, Debug)]
pub struct SessionCache {
    dir: PathBuf,
}

impl SessionCache {
    /// A cache in an explicit directory.
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        SessionCache { dir: dir.into() }
    }

    /// The cache for this user: `$ICAT_CACHE_DIR`, else the platform cache dir + `icat`.
    /// Warns when the directory already exists and others may read or write it.
    pub fn from_env(env: &HashMap<String, String>) -> Result<Self, Failure> {
        let cache = if let Some(dir) = env.get("ICAT_CACHE_DIR").filter(|d| !d.is_empty()) {
            SessionCache::at(dir)
        } else {
            match dirs::cache_dir() {
                Some(dir) => SessionCache::at(dir.join("icat")),
                None => {
                    return Err(Failure::usage(
                        "cannot find a cache directory for the session cache",
                        "set ICAT_CACHE_DIR to a private directory",
                    ));
                }
            }
        };
        if let Some(mode) = cache.loose_mode() {
            tracing::warn!(
                "the session cache {} is open to other users (mode {mode:o}), who could replace \
                 or remove your sessions; run `chmod 700 {}` (or set ICAT_CACHE_DIR to a private \
                 directory)",
                cache.dir.display(),
                cache.dir.display()
            );
        }
        Ok(cache)
    }

    /// The permission bits of an existing cache directory that group or others have.
    #[cfg(unix)]
    fn loose_mode(&self) -> Option<u32> {
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&self.dir).ok()?;
        // Not a directory: saving says what is wrong with it.
        if !meta.is_dir() {
            return None;
        }
        let mode = meta.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }

    #[cfg(not(unix))]
    fn loose_mode(&self) -> Option<u32> {
        None
    }

    /// The directory holding the session files.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file for a server + authenticator + user.
    pub fn path_for(&self, url: &str, auth: &str, username: &str) -> PathBuf {
        let key = format!("{url}\n{auth}\n{username}");
        self.dir
            .join(format!("session-{:016x}.json", fnv1a64(key.as_bytes())))
    }

    /// The stored session for a server + authenticator + user, if any (unreadable files are ignored).
    pub fn load(&self, url: &str, auth: &str, username: &str) -> Option<CachedSession> {
        read_entry(&self.path_for(url, auth, username))
            .filter(|s| s.url == url && s.auth == auth && s.username == username)
    }

    /// All stored sessions, most recently saved first.
    pub fn all(&self) -> Vec<(PathBuf, CachedSession)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found: Vec<(PathBuf, CachedSession)> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("session-") && n.ends_with(".json"))
            })
            .filter_map(|p| read_entry(&p).map(|s| (p, s)))
            .collect();
        found.sort_by_key(|e| std::cmp::Reverse(e.1.saved_at_ms));
        found
    }

    /// The most recently saved session, optionally limited to one server URL.
    pub fn latest(&self, url: Option<&str>) -> Option<CachedSession> {
        self.all()
            .into_iter()
            .map(|(_, s)| s)
            .find(|s| url.is_none_or(|u| s.url == u))
    }

    /// Stores a session: private directory (0700), file mode 0600, written to a temporary file
    /// and renamed into place so a reader never sees half a file.
    pub fn save(&self, session: &CachedSession) -> Result<PathBuf, Failure> {
        let path = self.path_for(&session.url, &session.auth, &session.username);
        self.write_private(&path, session)?;
        Ok(path)
    }

    /// Writes `value` as JSON to `path` in the cache directory, privately and atomically.
    fn write_private(&self, path: &Path, value: &impl Serialize) -> Result<(), Failure> {
        let io_fail = |what: &str, err: std::io::Error| {
            Failure::bare(
                crate::failure::ExitKind::Other,
                format!(
                    "cannot {what} the session cache in {}: {err}; set ICAT_CACHE_DIR to a writable private directory",
                    self.dir.display()
                ),
            )
        };
        if self.dir.exists() && !self.dir.is_dir() {
            return Err(Failure::bare(
                crate::failure::ExitKind::Other,
                format!(
                    "the session cache {} is not a directory; set ICAT_CACHE_DIR to a writable private directory",
                    self.dir.display()
                ),
            ));
        }
        create_private_dir(&self.dir).map_err(|e| io_fail("create", e))?;
        let tmp = path.with_extension(format!("json.tmp{}", std::process::id()));
        let text = serde_json::to_vec_pretty(value)
            .map_err(|e| io_fail("encode", std::io::Error::other(e)))?;
        let result = (|| {
            let mut file = open_private(&tmp)?;
            file.write_all(&text)?;
            file.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if let Err(err) = result {
            let _ = std::fs::remove_file(&tmp);
            return Err(io_fail("write", err));
        }
        Ok(())
    }

    fn default_path(&self) -> PathBuf {
        self.dir.join("default.json")
    }

    /// The session plain commands use: the one of the last `icat login`, if any.
    pub fn default_key(&self) -> Option<DefaultKey> {
        let text = std::fs::read(self.default_path()).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Makes this session the one plain commands use (`icat login` does this).
    pub fn set_default(&self, session: &CachedSession) -> Result<(), Failure> {
        self.write_private(&self.default_path(), &DefaultKey::of(session))
    }

    /// Forgets which session is the default (after `icat logout`).
    pub fn clear_default(&self) -> Result<(), Failure> {
        match std::fs::remove_file(self.default_path()) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(Failure::bare(
                crate::failure::ExitKind::Other,
                format!("cannot remove {}: {e}", self.default_path().display()),
            )),
        }
    }

    /// Removes the files of sessions whose expiry (as estimated when last used) has passed;
    /// returns them.
    /// A session file that cannot be read as one is removed too, with a warning naming it.
    pub fn prune_expired(&self, now_ms: i64) -> Vec<CachedSession> {
        for damaged in self.remove_damaged() {
            tracing::warn!("{}", damaged.describe());
        }
        let mut gone = Vec::new();
        for (path, session) in self.all() {
            if session.expires_at_ms <= now_ms && std::fs::remove_file(&path).is_ok() {
                gone.push(session);
            }
        }
        gone
    }

    /// Removes a stored session file; returns whether one existed.
    pub fn remove(&self, url: &str, auth: &str, username: &str) -> Result<bool, Failure> {
        let path = self.path_for(url, auth, username);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(Failure::bare(
                crate::failure::ExitKind::Other,
                format!("cannot remove {}: {e}", path.display()),
            )),
        }
    }
}

/// A session file that was not a session: cut short, edited, from an incompatible version, or
/// holding another server's or user's session than its name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedFile {
    /// The file.
    pub path: PathBuf,
    /// What is wrong with it.
    pub problem: String,
    /// Whether it could be removed.
    pub removed: bool,
}

impl DamagedFile {
    /// One sentence for the user: which file, what is wrong, what was done.
    pub fn describe(&self) -> String {
        format!(
            "the session file {} is damaged ({}); {}",
            self.path.display(),
            self.problem,
            if self.removed {
                "removed it"
            } else {
                "could not remove it either, delete it by hand"
            }
        )
    }
}

impl SessionCache {
    /// Removes the session files that are not valid sessions (not session JSON, or a session
    /// other than the one its file name is for) and says which.
    pub fn remove_damaged(&self) -> Vec<DamagedFile> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut damaged = Vec::new();
        for path in entries.filter_map(Result::ok).map(|e| e.path()) {
            let is_session = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("session-") && n.ends_with(".json"));
            if !is_session {
                continue;
            }
            let Ok(text) = std::fs::read(&path) else {
                continue;
            };
            let problem = match serde_json::from_slice::<CachedSession>(&text) {
                Err(e) => e.to_string(),
                Ok(s) if self.path_for(&s.url, &s.auth, &s.username) != path => {
                    "it was edited: its server or user is not the one its name is for".to_string()
                }
                Ok(_) => continue,
            };
            let removed = std::fs::remove_file(&path).is_ok();
            damaged.push(DamagedFile {
                path,
                problem,
                removed,
            });
        }
        damaged
    }
}

fn read_entry(path: &Path) -> Option<CachedSession> {
    let text = std::fs::read(path).ok()?;
    serde_json::from_slice(&text).ok()
}

/// 64-bit FNV-1a: a stable file name for a cache key (not a security measure).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(user: &str, saved: i64) -> CachedSession {
        CachedSession {
            url: "http://127.0.0.1:1/ICATService/ICAT".into(),
            idsurl: Some("http://127.0.0.1:1/ids".into()),
            auth: "db".into(),
            username: user.into(),
            server_user: format!("db/{user}"),
            session_id: "0f0e0d0c-1111-2222-3333-444455556666".into(),
            expires_at_ms: 1_000_000,
            saved_at_ms: saved,
            check_cert: true,
            ca_file: None,
        }
    }

    #[test]
    fn save_load_latest_remove() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path().join("nested/icat"));
        let a = sample("jdoe", 10);
        let b = sample("rbeck", 20);
        cache.save(&a).unwrap();
        cache.save(&b).unwrap();
        assert_eq!(cache.load(&a.url, "db", "jdoe"), Some(a.clone()));
        assert_eq!(cache.load(&a.url, "ldap", "jdoe"), None);
        assert_eq!(cache.latest(None), Some(b.clone()));
        assert_eq!(cache.latest(Some("http://other/ICATService/ICAT")), None);
        assert!(cache.remove(&a.url, "db", "rbeck").unwrap());
        assert!(!cache.remove(&a.url, "db", "rbeck").unwrap());
        assert_eq!(cache.latest(None), Some(a));
        let leftovers: Vec<_> = std::fs::read_dir(cache.dir())
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.is_empty());
    }

    #[test]
    fn default_key_and_pruning() {
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path().join("icat"));
        assert_eq!(cache.default_key(), None);
        let a = sample("jdoe", 10);
        let mut b = sample("rbeck", 20);
        b.expires_at_ms = 5;
        cache.save(&a).unwrap();
        cache.save(&b).unwrap();
        cache.set_default(&a).unwrap();
        assert!(cache.default_key().unwrap().names(&a));
        // The default file is not a session file.
        assert_eq!(cache.all().len(), 2);
        let gone = cache.prune_expired(100);
        assert_eq!(gone, vec![b]);
        assert_eq!(cache.all().len(), 1);
        cache.clear_default().unwrap();
        cache.clear_default().unwrap();
        assert_eq!(cache.default_key(), None);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let cache = SessionCache::at(dir.path().join("icat"));
        let path = cache.save(&sample("jdoe", 1)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mode = std::fs::metadata(cache.dir()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700);
        // Overwriting keeps the mode.
        let path = cache.save(&sample("jdoe", 2)).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }

    #[test]
    fn short_ids_hide_the_session() {
        assert_eq!(
            short_id("0f0e0d0c-1111-2222-3333-444455556666"),
            "0f0e0d0c…"
        );
    }

    #[test]
    fn env_override() {
        let env: HashMap<String, String> = [("ICAT_CACHE_DIR".to_string(), "/tmp/x".to_string())]
            .into_iter()
            .collect();
        assert_eq!(
            SessionCache::from_env(&env).unwrap().dir(),
            Path::new("/tmp/x")
        );
    }
}
