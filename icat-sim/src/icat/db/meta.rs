//! Facts about how the catalogue was made (e.g. the `--synthetic` spec), kept beside it so a
//! restart on the same `--db` can tell whether it may reuse it.

use rusqlite::OptionalExtension;

use super::Db;
use crate::icat::error::IcatError;

/// The metadata table (not an ICAT entity, so it cannot clash with one).
pub(super) const DDL: &str = "CREATE TABLE IF NOT EXISTS \"_sim_meta\" (\"key\" TEXT PRIMARY KEY, \
     \"value\" TEXT NOT NULL);\n";

impl Db {
    /// The value recorded under `key`, if any.
    pub fn meta(&self, key: &str) -> Result<Option<String>, IcatError> {
        Ok(self
            .conn
            .query_row(
                "SELECT \"value\" FROM \"_sim_meta\" WHERE \"key\" = ?1",
                [key],
                |r| r.get(0),
            )
            .optional()?)
    }

    /// Records `value` under `key` (replacing an earlier value).
    pub fn set_meta(&self, key: &str, value: &str) -> Result<(), IcatError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO \"_sim_meta\" (\"key\", \"value\") VALUES (?1, ?2)",
            [key, value],
        )?;
        Ok(())
    }
}
