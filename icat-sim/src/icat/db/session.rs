//! ICAT sessions (facts §9): random UUID ids, expiry after `lifetimeMinutes`, refresh that revives
//! expired sessions until they are purged, logout, and ICAT's exact SESSION messages.
//! Sessions live in the database so they survive a restart with `--db`.

use rusqlite::OptionalExtension;

use super::Db;
use crate::icat::error::IcatError;

/// The session table (not an ICAT entity, so it cannot clash with one).
pub(super) const DDL: &str = "CREATE TABLE IF NOT EXISTS \"_session\" (\"id\" TEXT PRIMARY KEY, \
     \"userName\" TEXT NOT NULL, \"expires\" INTEGER NOT NULL, \"lifetimeMs\" INTEGER NOT NULL);\n";

/// A live session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionInfo {
    /// The user name with mechanism prefix.
    pub user: String,
    /// Expiry, in milliseconds since the Unix epoch.
    pub expires_ms: i64,
}

/// A new random (version 4) UUID in lower case, as `UUID.randomUUID().toString()` gives.
pub fn new_session_id() -> String {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

impl Db {
    /// Creates a session for `user` lasting `lifetime_minutes`; returns its id.
    pub fn session_create(&self, user: &str, lifetime_minutes: u32) -> Result<String, IcatError> {
        let id = new_session_id();
        let lifetime = i64::from(lifetime_minutes) * 60_000;
        let expires = self.clock.now_millis() + lifetime;
        self.conn
            .prepare_cached("INSERT INTO \"_session\" VALUES (?, ?, ?, ?)")?
            .execute(rusqlite::params![id, user, expires, lifetime])?;
        Ok(id)
    }

    fn session_row(&self, id: &str) -> Result<Option<(String, i64, i64)>, IcatError> {
        if id.is_empty() {
            return Err(IcatError::session("Session Id cannot be null or empty."));
        }
        Ok(self
            .conn
            .prepare_cached("SELECT \"userName\", \"expires\", \"lifetimeMs\" FROM \"_session\" WHERE \"id\" = ?")?
            .query_row([id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .optional()?)
    }

    /// The live session `id`, or ICAT's SESSION error (empty, unknown or expired).
    pub fn session_get(&self, id: &str) -> Result<SessionInfo, IcatError> {
        match self.session_row(id)? {
            None => Err(IcatError::session(format!(
                "Unable to find user by sessionid: {id}"
            ))),
            Some((_, expires, _)) if expires <= self.clock.now_millis() => {
                Err(IcatError::session(format!("Session id:{id} has expired")))
            }
            Some((user, expires_ms, _)) => Ok(SessionInfo { user, expires_ms }),
        }
    }

    /// Minutes left in a live session.
    pub fn session_remaining_minutes(&self, id: &str) -> Result<f64, IcatError> {
        let s = self.session_get(id)?;
        Ok((s.expires_ms - self.clock.now_millis()) as f64 / 60_000.0)
    }

    /// Restores the full lifetime; also revives an expired session that has not been purged.
    pub fn session_refresh(&self, id: &str) -> Result<(), IcatError> {
        let (_, _, lifetime) = self
            .session_row(id)?
            .ok_or_else(|| IcatError::session(format!("Unable to find user by sessionid: {id}")))?;
        self.conn
            .prepare_cached("UPDATE \"_session\" SET \"expires\" = ? WHERE \"id\" = ?")?
            .execute(rusqlite::params![self.clock.now_millis() + lifetime, id])?;
        Ok(())
    }

    /// Removes a session (expired ones too).
    pub fn session_logout(&self, id: &str) -> Result<(), IcatError> {
        if self.session_row(id)?.is_none() {
            return Err(IcatError::session(format!(
                "Unable to find user by sessionid: {id}"
            )));
        }
        self.conn
            .prepare_cached("DELETE FROM \"_session\" WHERE \"id\" = ?")?
            .execute([id])?;
        Ok(())
    }

    /// Deletes every expired session (ICAT does this hourly); returns how many.
    pub fn session_purge(&self) -> Result<usize, IcatError> {
        Ok(self
            .conn
            .prepare_cached("DELETE FROM \"_session\" WHERE \"expires\" < ?")?
            .execute([self.clock.now_millis()])?)
    }
}
