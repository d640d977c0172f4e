//! ICAT's query languages (JPQL and the old concise syntax) parsed and compiled to SQLite SQL.
//!
//! # Use
//! ```text
//! let query = jpql::parse("SELECT ds FROM Dataset ds WHERE ds.name = 'x' INCLUDE ds.datafiles")?;
//! let compiled = jpql::compile(&query, "db/jdoe", ENTITIES)?;
//! // run compiled.sql with compiled.params (rusqlite::params_from_iter), then read compiled.shape
//! ```
//! [`parse`] takes a `search` query: text starting with `SELECT` (case-insensitive) is JPQL,
//! anything else the concise syntax. [`parse_get`] takes the query argument of `get`.
//!
//! # The SQL contract
//! The SQL runs on the schema described in `docs/ARCHITECTURE.md` (one table per entity, columns
//! named as fields, `"<field>_id"` foreign keys, dates as epoch milliseconds, booleans 0/1, enums
//! by wire name). It is one `SELECT` with `?N` placeholders; `params[i]` binds `?{i+1}`. No value
//! from the query text is ever part of the SQL text. ORDER BY, DISTINCT and LIMIT are already in
//! the SQL. Result columns depend on [`Shape`]:
//! - [`Shape::Entity`]: one column, the id of each returned entity, in result order (duplicates
//!   are kept unless the query says DISTINCT, as in ICAT). The caller loads the rows and fills in
//!   the [`IncludeNode`] tree (`ONE`: the parent's `"<field>_id"`; `MANY`: the target rows whose
//!   `"<back_ref>_id"` is the parent id).
//! - [`Shape::Columns`]: one column per select item, typed by [`ColumnType`]; an entity-valued
//!   item is its id. One item gives plain values, several give `fieldSet`s.
//! - [`Shape::Aggregate`]: a single aggregate item (one column).
//!
//! # Semantics worth knowing
//! Navigation through a many-to-one in an expression (`ds.type.name`) is an inner join, as in
//! EclipseLink, so rows whose relation is null drop out; `x.rel.id` reads the foreign key column.
//! `LIKE` uses SQLite's `LIKE`, which ignores ASCII case, like ICAT on MySQL/MariaDB. `:user` is
//! the only parameter. `{ts ...}` literals are UTC. `SQRT` is rejected (SQLite is built without
//! math functions).
//!
//! Access control hook: [`compile_with`] takes per-entity read [`Restriction`]s that are added, as
//! ICAT's `SearchQuery` adds its rule restrictions, for every entity a top-level select item is or
//! belongs to (`SELECT ds`, `SELECT ds.name`, `COUNT(ds)`: `ds`; `SELECT ds.investigation`: the
//! investigation). Variables only joined or used in WHERE are not restricted, so
//! `SELECT i FROM Investigation i JOIN i.investigationUsers iu WHERE iu.user.name = :user` works for
//! a user who may read the investigations but not the investigation users.
//! [`compile_rule`] turns a `Rule.what` into the ids it grants; [`Restriction::any_of`] unites the
//! grants of several rules.

mod ast;
mod compile;
mod concise;
mod error;
mod parser;
mod rule;
mod token;

pub use ast::*;
pub use compile::{
    ClockKind, ClockParam, ColumnType, CompileOptions, CompiledQuery, IncludeNode, Restriction,
    Shape, compile_with,
};
pub use concise::parse_get;
pub use error::JpqlError;
pub use rule::{RuleQuery, compile_rule};

/// Compiles a parsed query for `user` (the value of `:user`) against the entity model `entities`
/// (normally `icat_soap::meta::ENTITIES`), with no access restrictions and
/// `CURRENT_TIMESTAMP` taken from the system clock.
pub fn compile(
    query: &Query,
    user: &str,
    entities: &'static [icat_soap::meta::EntityMeta],
) -> Result<CompiledQuery, JpqlError> {
    let now_millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    compile_with(
        query,
        user,
        &CompileOptions {
            entities,
            restrictions: None,
            now_millis,
        },
    )
}

/// Parses a `search` query: JPQL when it starts with `SELECT`, otherwise the concise syntax.
pub fn parse(query: &str) -> Result<Query, JpqlError> {
    let trimmed = query.trim_start();
    let is_jpql = trimmed
        .get(..6)
        .is_some_and(|s| s.eq_ignore_ascii_case("SELECT"));
    if is_jpql {
        parser::parse_jpql(query)
    } else {
        concise::parse_concise(query)
    }
}

#[cfg(test)]
mod tests;
