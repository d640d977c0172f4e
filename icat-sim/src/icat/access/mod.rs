//! ICAT's authorization model: `Rule`s (with `Grouping`/`UserGroup` membership), public tables
//! and `PublicStep`s, compiled once per user into SQL restrictions and cached.
//!
//! What a non-root user may do (root users, from `rootUserNames`, bypass all of this):
//! - A rule applies to a user when it has no grouping or the user is a member of its grouping.
//! - READ of an entity type is unrestricted when an applicable rule with `R` has no WHERE
//!   condition, or when the type is *public* (some rule without grouping and without WHERE, any
//!   flags, as ICAT's `Rule.PublicQuery`); otherwise the readable rows are the union of the rows
//!   the applicable restricted `R` rules select; no applicable rule means nothing is readable.
//! - CREATE, UPDATE and DELETE work the same with the `C`, `U` and `D` flags (no public tables).
//!   Rules that select an attribute (`SELECT o.name FROM ...`) only ever allowed updating that
//!   attribute through ICAT's REST interface; they grant nothing here.
//! - An INCLUDEd object reached through a `PublicStep` (origin entity, field) or whose type is
//!   public is not checked; other included objects the user may not read are dropped.
//!
//! The compiled rules ([`UserAccess`]) are cached per user. SQLite triggers on `Rule`,
//! `Grouping`, `UserGroup`, `User` and `PublicStep` change a generation number in a temporary
//! table on every write (also writes that are later rolled back, and cascading deletes), and the
//! cache is dropped whenever that number differs from the one it was built at.

mod check;
mod rules;
pub mod standard;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

pub use check::IncludeFilter;
/// The kinds of access `isAccessAllowed` asks about (and rules grant): the enumeration generated
/// from the WSDL (`accessType`).
pub use icat_soap::model::AccessType as Access;
pub use rules::{compile_what, parse_flags};

use crate::icat::db::Db;
use crate::icat::error::IcatError;
use crate::jpql::Restriction;

/// Which rows of one entity type an access type allows.
#[derive(Debug, Clone, PartialEq)]
pub enum Grant {
    /// Every row.
    All,
    /// The rows an id subquery selects ([`Restriction::IdsIn`]).
    Rows(Restriction),
}

/// One user's compiled rules.
#[derive(Debug, Default)]
pub struct UserAccess {
    /// Grants by access type and entity name; absent means nothing is allowed.
    grants: HashMap<(Access, &'static str), Grant>,
    /// READ restrictions for every entity that is not fully readable (what `search` passes to
    /// the query compiler).
    read_restrictions: HashMap<String, Restriction>,
    /// Entity types everybody may read.
    public_tables: HashSet<&'static str>,
    /// `(origin, field)` relationships whose targets are readable without a check.
    public_steps: HashSet<(String, String)>,
}

impl UserAccess {
    /// The READ restrictions to compile searches with.
    pub fn read_restrictions(&self) -> &HashMap<String, Restriction> {
        &self.read_restrictions
    }

    /// The grant of `access` to `entity`, if any (READ of a public table is [`Grant::All`]).
    pub fn grant(&self, access: Access, entity: &str) -> Option<&Grant> {
        const ALL: Grant = Grant::All;
        if access == Access::Read && self.public_tables.contains(entity) {
            return Some(&ALL);
        }
        self.grants.get(&(access, entity_name(entity)?))
    }

    /// True when objects reached from `origin` through `field` (leading to `target`) need no
    /// READ check: the step is a `PublicStep` or the target type is public.
    pub fn step_is_public(&self, origin: &str, field: &str, target: &str) -> bool {
        self.public_tables.contains(target)
            || self
                .public_steps
                .contains(&(origin.to_string(), field.to_string()))
    }
}

/// The static name of an entity type (grants are keyed by it).
fn entity_name(entity: &str) -> Option<&'static str> {
    icat_soap::meta::entity(entity).map(|e| e.name)
}

/// The per-user cache of compiled rules, rebuilt when the authorization tables change.
#[derive(Debug, Default)]
pub struct AccessControl {
    state: Mutex<CacheState>,
}

#[derive(Debug, Default)]
struct CacheState {
    /// True once the generation table and triggers exist on the connection.
    installed: bool,
    /// The generation the cached entries were built at.
    generation: i64,
    users: HashMap<String, Arc<UserAccess>>,
}

/// The tables whose changes invalidate compiled rules.
const WATCHED: [&str; 5] = ["Rule", "Grouping", "UserGroup", "User", "PublicStep"];

impl AccessControl {
    /// An empty cache.
    pub fn new() -> Self {
        AccessControl::default()
    }

    /// The compiled rules of `user` (compiled now if the cache has none that are current).
    pub fn for_user(&self, db: &Db, user: &str) -> Result<Arc<UserAccess>, IcatError> {
        // Only ever locked while the database lock is held, so this never contends.
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !state.installed {
            install_generation(db.conn())?;
            state.installed = true;
        }
        let generation = current_generation(db.conn())?;
        if generation != state.generation {
            state.users.clear();
            state.generation = generation;
        }
        if let Some(found) = state.users.get(user) {
            return Ok(found.clone());
        }
        let built = Arc::new(rules::compile_for(db, user)?);
        tracing::debug!(
            user = %user,
            grants = built.grants.len(),
            "compiled access rules"
        );
        state.users.insert(user.to_string(), built.clone());
        Ok(built)
    }
}

/// Creates the generation table and the triggers that change it (temporary objects of this
/// connection, so nothing is added to the catalogue's schema).
fn install_generation(conn: &Connection) -> Result<(), IcatError> {
    let mut sql = String::from(
        "CREATE TEMP TABLE IF NOT EXISTS icat_access_generation (n INTEGER NOT NULL);
         INSERT INTO icat_access_generation (n)
             SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM icat_access_generation);\n",
    );
    for table in WATCHED {
        for op in ["INSERT", "UPDATE", "DELETE"] {
            sql.push_str(&format!(
                "CREATE TEMP TRIGGER IF NOT EXISTS \"icat_access_{table}_{op}\" AFTER {op} ON main.\"{table}\"
                 BEGIN UPDATE icat_access_generation SET n = random(); END;\n"
            ));
        }
    }
    conn.execute_batch(&sql)?;
    Ok(())
}

fn current_generation(conn: &Connection) -> Result<i64, IcatError> {
    let mut stmt = conn.prepare_cached("SELECT n FROM temp.icat_access_generation")?;
    Ok(stmt.query_row([], |r| r.get(0))?)
}

#[cfg(test)]
mod tests;
