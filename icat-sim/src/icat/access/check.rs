//! Checking rows against compiled grants: one object (`get`, writes, `isAccessAllowed`) or many
//! at once (INCLUDEd objects, IDS selections).

use rusqlite::types::Value;
use rusqlite::{Connection, params_from_iter};

use super::{Grant, UserAccess};
use crate::icat::access::Access;
use crate::icat::db::ReadFilter;
use crate::icat::error::IcatError;
use crate::jpql::Restriction;

/// Ids checked per statement.
const CHUNK: usize = 500;

impl UserAccess {
    /// True when the user has `access` to the row `id` of `entity`, as the database is now
    /// (inside the caller's transaction, so a row being created is seen as it would exist).
    pub fn allows(
        &self,
        conn: &Connection,
        access: Access,
        entity: &str,
        id: i64,
        now_millis: i64,
    ) -> Result<bool, IcatError> {
        Ok(!self
            .allowed_ids(conn, access, entity, &[id], now_millis)?
            .is_empty())
    }

    /// The subset of `ids` (rows of `entity`) the user has `access` to, in the given order.
    pub fn allowed_ids(
        &self,
        conn: &Connection,
        access: Access,
        entity: &str,
        ids: &[i64],
        now_millis: i64,
    ) -> Result<Vec<i64>, IcatError> {
        let (sql, params, clock) = match self.grant(access, entity) {
            None => return Ok(Vec::new()),
            Some(Grant::All) => return Ok(ids.to_vec()),
            Some(Grant::Rows(Restriction::DenyAll)) => return Ok(Vec::new()),
            Some(Grant::Rows(Restriction::IdsIn { sql, params, clock })) => (sql, params, clock),
        };
        let params = Restriction::params_at(params, clock, now_millis);
        let mut allowed = std::collections::HashSet::new();
        for chunk in ids.chunks(CHUNK) {
            let marks = (0..chunk.len())
                .map(|i| format!("?{}", params.len() + i + 1))
                .collect::<Vec<_>>()
                .join(",");
            // `entity` names a table only after `grant` found rules for it (a known entity).
            let query = check_sql(entity, sql, &marks);
            let mut all = params.clone();
            all.extend(chunk.iter().map(|id| Value::Integer(*id)));
            let mut stmt = conn.prepare_cached(&query)?;
            let rows = stmt.query_map(params_from_iter(all.iter()), |r| r.get::<_, i64>(0))?;
            for r in rows {
                allowed.insert(r?);
            }
        }
        Ok(ids
            .iter()
            .copied()
            .filter(|id| allowed.contains(id))
            .collect())
    }
}

/// The statement selecting which of the ids bound at `marks` (rows of `entity`) the restriction
/// `sql` allows. The restriction is checked per id (a correlated `EXISTS` over its `UNION ALL` arms,
/// which SQLite flattens into primary-key lookups from each id), so the cost follows the number of
/// ids, not the number of rows the user may read: `id IN (sql)` would build the whole readable set
/// (every datafile of every released visit) for each chunk.
pub(crate) fn check_sql(entity: &str, sql: &str, marks: &str) -> String {
    format!(
        "WITH \"_allowed\"(\"id\") AS ({sql}) SELECT \"_chk\".\"id\" FROM \"{entity}\" AS \"_chk\" \
         WHERE \"_chk\".\"id\" IN ({marks}) AND EXISTS (SELECT 1 FROM \"_allowed\" \
         WHERE \"_allowed\".\"id\" = \"_chk\".\"id\")"
    )
}

/// Drops INCLUDEd objects the user may not read, except across public steps and to public types.
pub struct IncludeFilter<'a> {
    /// The user's compiled rules.
    pub access: &'a UserAccess,
    /// The clock value to evaluate rules at.
    pub now_millis: i64,
}

impl ReadFilter for IncludeFilter<'_> {
    fn visible(
        &self,
        conn: &Connection,
        origin: &str,
        field: &str,
        target: &str,
        ids: &[i64],
    ) -> Result<Vec<i64>, IcatError> {
        if self.access.step_is_public(origin, field, target) {
            return Ok(ids.to_vec());
        }
        self.access
            .allowed_ids(conn, Access::Read, target, ids, self.now_millis)
    }
}
