//! The catalogue's storage: an SQLite database (in memory or in a file) whose schema is derived from
//! the entity metadata, with entity CRUD in ICAT's semantics and the session table.

pub mod files;
mod meta;
mod read;
pub mod schema;
mod session;
pub mod values;
mod write;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use icat_soap::meta::EntityMeta;
use rusqlite::Connection;

pub use read::{Budget, Include, ReadFilter};
pub use schema::{Schema, Table};
pub use session::SessionInfo;
pub use write::Bulk;

use crate::icat::error::IcatError;

/// Errors opening the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite refused to open or initialise the file.
    #[error("cannot open database {path}: {source}")]
    Open {
        /// The file (or `:memory:`).
        path: String,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The database file could not be created or made private (mode 0600).
    #[error("cannot make database {path} readable by its owner only: {source}")]
    Private {
        /// The file.
        path: String,
        /// The file system error.
        source: std::io::Error,
    },
}

/// A wall clock that tests can move forward.
#[derive(Debug, Clone, Default)]
pub struct Clock {
    offset_ms: Arc<AtomicI64>,
}

impl Clock {
    /// Milliseconds since the Unix epoch, plus any offset added by [`Clock::advance`].
    pub fn now_millis(&self) -> i64 {
        let real = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        real.saturating_add(self.offset_ms.load(Ordering::Relaxed))
    }

    /// Moves this clock (and every clone of it) forward.
    pub fn advance(&self, by: Duration) {
        let ms = i64::try_from(by.as_millis()).unwrap_or(i64::MAX);
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// The catalogue database.
pub struct Db {
    conn: Connection,
    schema: Arc<Schema>,
    clock: Clock,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").finish_non_exhaustive()
    }
}

impl Db {
    /// Opens (creating when needed) the database in `path`, or in memory when `None`.
    pub fn open(
        path: Option<&Path>,
        entities: &'static [EntityMeta],
        clock: Clock,
    ) -> Result<Db, DbError> {
        let shown = path.map_or_else(|| ":memory:".to_string(), |p| p.display().to_string());
        let wrap = |source| DbError::Open {
            path: shown.clone(),
            source,
        };
        if let Some(p) = path {
            private_file(p).map_err(|e| DbError::Private {
                path: shown.clone(),
                source: e,
            })?;
        }
        let conn = match path {
            Some(p) => Connection::open(p),
            None => Connection::open_in_memory(),
        }
        .map_err(wrap)?;
        let schema = Arc::new(Schema::new(entities));
        let mut setup = String::from("PRAGMA foreign_keys = ON;\n");
        if path.is_some() {
            setup.push_str("PRAGMA journal_mode = WAL;\nPRAGMA synchronous = NORMAL;\n");
        }
        setup.push_str("BEGIN;\n");
        for stmt in schema.ddl() {
            setup.push_str(&stmt);
            setup.push_str(";\n");
        }
        setup.push_str(session::DDL);
        setup.push_str(meta::DDL);
        setup.push_str("COMMIT;\n");
        conn.execute_batch(&setup).map_err(wrap)?;
        if crate::icat::textsearch::index::install(&conn).map_err(wrap)? {
            let started = std::time::Instant::now();
            crate::icat::textsearch::index::rebuild(&conn).map_err(wrap)?;
            tracing::info!(elapsed = ?started.elapsed(), "built the full-text index");
        }
        conn.set_prepared_statement_cache_capacity(256);
        Ok(Db {
            conn,
            schema,
            clock,
        })
    }

    /// The schema in use.
    pub fn schema(&self) -> &Arc<Schema> {
        &self.schema
    }

    /// The clock used for timestamps and session expiry.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The underlying connection (for compiled queries and bulk loading).
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// The underlying connection, mutably (for transactions).
    pub fn conn_mut(&mut self) -> &mut Connection {
        &mut self.conn
    }

    /// The number of catalogue objects (rows of all entity tables; sessions not counted).
    pub fn object_count(&self) -> Result<i64, IcatError> {
        let mut total = 0;
        for meta in self.schema.entities() {
            if self.schema.table(meta.name).is_none() {
                continue;
            }
            let sql = format!("SELECT COUNT(*) FROM {}", schema::quote(meta.name));
            total += self.conn.query_row(&sql, [], |r| r.get::<_, i64>(0))?;
        }
        Ok(total)
    }

    /// The table of an entity, or ICAT's BAD_PARAMETER for an unknown name.
    pub fn table(&self, entity: &str) -> Result<&Table, IcatError> {
        self.schema
            .table(entity)
            .ok_or_else(|| IcatError::bad_parameter(format!("{entity} is not an ICAT entity")))
    }
}

/// Makes the database file at `path` (and a WAL or shared-memory file left beside it) readable
/// and writable by the owner only: it holds live session ids, root's included. A new file is
/// created with mode 0600 before SQLite opens it; SQLite gives the `-wal` and `-shm` files it
/// creates the mode of the database file. An existing file with looser modes is tightened.
fn private_file(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        let mut companions = vec![path.to_path_buf()];
        for suffix in ["-wal", "-shm"] {
            let mut name = path.as_os_str().to_os_string();
            name.push(suffix);
            companions.push(name.into());
        }
        for file in companions {
            let Ok(meta) = std::fs::metadata(&file) else {
                continue;
            };
            if meta.permissions().mode() & 0o077 != 0 {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?;
                tracing::info!(file = %file.display(), "database file was readable by others: now 0600");
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests;
