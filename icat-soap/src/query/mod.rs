//! A builder for ICAT JPQL search queries that escapes every value and checks every path offline.
//!
//! ```
//! use icat_soap::query::{Condition, Query};
//!
//! let jpql = Query::new("Dataset")
//!     .filter(Condition::eq("investigation.visitId", "O'Brien"))
//!     .order_by("name")
//!     .include("datafiles")
//!     .to_jpql()?;
//! assert_eq!(
//!     jpql,
//!     "SELECT d FROM Dataset d JOIN d.investigation i WHERE i.visitId = 'O''Brien' \
//!      ORDER BY d.name INCLUDE d.datafiles"
//! );
//! # Ok::<(), icat_soap::query::QueryError>(())
//! ```
//!
//! Several select items, aggregates and GROUP BY / HAVING (ICAT returns one row per group):
//!
//! ```
//! use icat_soap::query::{Aggregate, CompareOp, Condition, Query};
//!
//! let jpql = Query::new("Datafile")
//!     .select("dataset.investigation.name")
//!     .count()
//!     .aggregate(Aggregate::Sum, "fileSize")
//!     .group_by("dataset.investigation.name")
//!     .having(Condition::aggregate(Aggregate::Sum, "fileSize", CompareOp::Gt, 1_000_000_i64))
//!     .to_jpql()?;
//! assert_eq!(
//!     jpql,
//!     "SELECT i.name, COUNT(d), SUM(d.fileSize) FROM Datafile d JOIN d.dataset d2 \
//!      JOIN d2.investigation i GROUP BY i.name HAVING SUM(d.fileSize) > 1000000"
//! );
//! # Ok::<(), icat_soap::query::QueryError>(())
//! ```
//!
//! User input in LIKE patterns is escaped by [`Condition::contains`], [`Condition::starts_with`]
//! and [`Condition::ends_with`]; hand-written JPQL takes values through named parameters
//! ([`Jpql::bind`]), so no value is ever formatted into query text.

mod condition;
mod error;
mod jpql;
mod keywords;
mod literal;
mod path;
mod render;

pub use condition::{CompareOp, Condition, LIKE_ESCAPE, MatchKind, escape_like};
pub use error::QueryError;
pub use jpql::Jpql;
pub use keywords::JPQL_KEYWORDS;
pub use literal::{ENUM_PREFIX, Literal, enum_constants, quote_string};
pub use path::Schema;

/// The most values one `IN (...)` list may hold. Databases behind ICAT limit IN lists (Oracle
/// refuses more than 1000 items) and long lists make queries the server may refuse; use
/// [`Session::search_in`](crate::client::Session::search_in) to split a long list into several
/// searches instead.
pub const MAX_IN_VALUES: usize = 1000;

/// An aggregate function over the selected entity or attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aggregate {
    /// `COUNT(x)`
    Count,
    /// `COUNT(DISTINCT x)`
    CountDistinct,
    /// `MIN(x)`
    Min,
    /// `MAX(x)`
    Max,
    /// `AVG(x)` (numeric attributes only)
    Avg,
    /// `SUM(x)` (numeric attributes only)
    Sum,
}

/// The kind of a JOIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JoinKind {
    /// `JOIN` (inner join, the default): rows without a related object are dropped.
    #[default]
    Inner,
    /// `LEFT JOIN`: rows without a related object are kept.
    Left,
}

/// Sort direction for ORDER BY.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Ascending (the default).
    Asc,
    /// Descending.
    Desc,
}

/// What the query returns.
#[derive(Debug, Clone, PartialEq)]
enum Selection {
    /// The entity itself.
    Entity,
    /// One or more attribute paths and aggregates (several give `fieldSet` rows).
    Items(Vec<SelectItem>),
}

/// One item of a SELECT list that is not the entity itself.
#[derive(Debug, Clone, PartialEq)]
enum SelectItem {
    /// An attribute path.
    Attribute(String),
    /// An aggregate over the entity (`path` `None`), an attribute path, or (COUNT only) a relation.
    Aggregate {
        func: Aggregate,
        path: Option<String>,
    },
}

/// What the INCLUDE clause asks for.
#[derive(Debug, Clone, PartialEq)]
enum Include {
    /// Relation paths, each from the selected entity.
    Paths(Vec<String>),
    /// `INCLUDE 1`: every many-to-one relation, one level deep.
    ManyToOne,
}

/// A search query against one entity type, rendered to ICAT JPQL by [`Query::to_jpql`].
///
/// Every path is relative to the queried entity and is checked against the entity metadata before
/// anything is sent. Every value is written as an escaped literal. Relation steps in paths become
/// `JOIN`s with generated variable names (one per distinct path prefix).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    entity: String,
    selection: Selection,
    distinct: bool,
    joins: Vec<(String, JoinKind)>,
    conditions: Vec<Condition>,
    group_by: Vec<String>,
    having: Vec<Condition>,
    order: Vec<(String, Direction)>,
    include: Include,
    limit: Option<(u64, u64)>,
}

impl Query {
    /// A query returning every `entity` (the JPQL entity name, e.g. `"Investigation"`).
    pub fn new(entity: impl Into<String>) -> Self {
        Query {
            entity: entity.into(),
            selection: Selection::Entity,
            distinct: false,
            joins: Vec::new(),
            conditions: Vec::new(),
            group_by: Vec::new(),
            having: Vec::new(),
            order: Vec::new(),
            include: Include::Paths(Vec::new()),
            limit: None,
        }
    }

    /// The queried entity name.
    pub fn entity(&self) -> &str {
        &self.entity
    }

    /// True when the query returns entities (not attributes or an aggregate).
    pub fn selects_entity(&self) -> bool {
        self.selection == Selection::Entity
    }

    /// True when the SELECT holds an aggregate (COUNT, SUM, ...).
    pub fn has_aggregate(&self) -> bool {
        match &self.selection {
            Selection::Entity => false,
            Selection::Items(items) => items
                .iter()
                .any(|i| matches!(i, SelectItem::Aggregate { .. })),
        }
    }

    /// A `COUNT` of the rows this query returns at most: the same entity, joins and conditions,
    /// selecting `COUNT(entity)` without DISTINCT, GROUP BY, HAVING, ORDER BY, INCLUDE or LIMIT.
    /// DISTINCT, grouping and HAVING only ever return fewer rows, so the count bounds the rows
    /// of a paged search (entities or plain values): with it, a server handing out fresh pages
    /// forever can be stopped (see [`PageGuard::with_expected_total`](crate::client::PageGuard::with_expected_total)).
    pub fn row_count_bound(&self) -> Query {
        Query {
            selection: Selection::Items(vec![SelectItem::Aggregate {
                func: Aggregate::Count,
                path: None,
            }]),
            distinct: false,
            group_by: Vec::new(),
            having: Vec::new(),
            order: Vec::new(),
            include: Include::Paths(Vec::new()),
            limit: None,
            ..self.clone()
        }
    }

    /// True when the query has an ORDER BY clause.
    pub fn is_ordered(&self) -> bool {
        !self.order.is_empty()
    }

    /// The LIMIT, as `(offset, count)`, when set.
    pub fn limit_value(&self) -> Option<(u64, u64)> {
        self.limit
    }

    /// Selects an attribute path instead of the entity; call again to select several (the server
    /// then returns one `fieldSet` per row). Can be mixed with aggregates ([`Query::count`],
    /// [`Query::aggregate`]); every attribute selected next to an aggregate must be grouped
    /// ([`Query::group_by`]).
    pub fn select(self, path: impl Into<String>) -> Self {
        self.push_item(SelectItem::Attribute(path.into()))
    }

    fn push_item(mut self, item: SelectItem) -> Self {
        match &mut self.selection {
            Selection::Items(items) => items.push(item),
            other => *other = Selection::Items(vec![item]),
        }
        self
    }

    /// Selects `COUNT(entity)`, after any items selected before.
    pub fn count(self) -> Self {
        self.push_item(SelectItem::Aggregate {
            func: Aggregate::Count,
            path: None,
        })
    }

    /// Selects an aggregate over a path, after any items selected before, e.g.
    /// `aggregate(Aggregate::Sum, "fileSize")`. COUNT also takes a relation path
    /// (`aggregate(Aggregate::CountDistinct, "datasets")` counts related datasets).
    pub fn aggregate(self, func: Aggregate, path: impl Into<String>) -> Self {
        self.push_item(SelectItem::Aggregate {
            func,
            path: Some(path.into()),
        })
    }

    /// Selects an aggregate over the entity itself (`COUNT(d)`, `COUNT(DISTINCT d)`), after any
    /// items selected before.
    pub fn aggregate_entity(self, func: Aggregate) -> Self {
        self.push_item(SelectItem::Aggregate { func, path: None })
    }

    /// Adds a GROUP BY attribute path: aggregates are then computed per group, one row each.
    pub fn group_by(mut self, path: impl Into<String>) -> Self {
        self.group_by.push(path.into());
        self
    }

    /// Adds a HAVING condition (all must hold): a condition on the groups, usually on an
    /// aggregate ([`Condition::aggregate`]) or on a grouped path. Needs [`Query::group_by`].
    pub fn having(mut self, condition: Condition) -> Self {
        self.having.push(condition);
        self
    }

    /// Adds `DISTINCT` to the SELECT.
    pub fn distinct(mut self) -> Self {
        self.distinct = true;
        self
    }

    /// Joins a relation path explicitly, e.g. to use a `LEFT JOIN` or to keep only entities that
    /// have a related object. Paths used in conditions, ORDER BY and SELECT are joined automatically
    /// (inner join unless declared here).
    pub fn join(mut self, path: impl Into<String>, kind: JoinKind) -> Self {
        self.joins.push((path.into(), kind));
        self
    }

    /// Adds a condition; all conditions must hold (AND).
    pub fn filter(mut self, condition: Condition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// Shorthand for `filter(Condition::eq(path, value))`.
    pub fn where_eq(self, path: impl Into<String>, value: impl Into<Literal>) -> Self {
        self.filter(Condition::eq(path, value))
    }

    /// Orders by an attribute path, ascending.
    pub fn order_by(self, path: impl Into<String>) -> Self {
        self.order_by_dir(path, Direction::Asc)
    }

    /// Orders by an attribute path, descending.
    pub fn order_by_desc(self, path: impl Into<String>) -> Self {
        self.order_by_dir(path, Direction::Desc)
    }

    /// Orders by an attribute path in the given direction.
    pub fn order_by_dir(mut self, path: impl Into<String>, dir: Direction) -> Self {
        self.order.push((path.into(), dir));
        self
    }

    /// Includes a relation path in each returned entity (`"datasets.datafiles"`; every step on the
    /// way is included too). Only valid when the query selects the entity.
    pub fn include(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        match &mut self.include {
            Include::Paths(paths) => paths.push(path),
            Include::ManyToOne => self.include = Include::Paths(vec![path]),
        }
        self
    }

    /// `INCLUDE 1`: includes every many-to-one relation of the returned entities, one level deep.
    /// Replaces any include paths.
    pub fn include_many_to_one(mut self) -> Self {
        self.include = Include::ManyToOne;
        self
    }

    /// `LIMIT offset, count`: skips `offset` results and returns at most `count`.
    pub fn limit(mut self, offset: u64, count: u64) -> Self {
        self.limit = Some((offset, count));
        self
    }

    /// Removes the LIMIT.
    pub fn without_limit(mut self) -> Self {
        self.limit = None;
        self
    }

    /// Renders the query as ICAT JPQL, checking every path against the built-in ICAT 6.2 metadata.
    pub fn to_jpql(&self) -> Result<String, QueryError> {
        self.to_jpql_with(Schema::new(crate::meta::ENTITIES))
    }

    /// Renders the query as ICAT JPQL, checking every path against `schema`.
    pub fn to_jpql_with(&self, schema: Schema<'_>) -> Result<String, QueryError> {
        render::render(self, schema)
    }
}

/// Anything `search` accepts: JPQL text (sent as is) or a [`Query`] (rendered and checked offline).
pub trait IntoJpql {
    /// The JPQL text to send.
    fn into_jpql(self) -> Result<String, QueryError>;
}

impl IntoJpql for &str {
    fn into_jpql(self) -> Result<String, QueryError> {
        Ok(self.to_owned())
    }
}

impl IntoJpql for String {
    fn into_jpql(self) -> Result<String, QueryError> {
        Ok(self)
    }
}

impl IntoJpql for &String {
    fn into_jpql(self) -> Result<String, QueryError> {
        Ok(self.clone())
    }
}

impl IntoJpql for &Query {
    fn into_jpql(self) -> Result<String, QueryError> {
        self.to_jpql()
    }
}

impl IntoJpql for Query {
    fn into_jpql(self) -> Result<String, QueryError> {
        self.to_jpql()
    }
}

impl IntoJpql for &Jpql {
    fn into_jpql(self) -> Result<String, QueryError> {
        self.render()
    }
}

impl IntoJpql for Jpql {
    fn into_jpql(self) -> Result<String, QueryError> {
        self.render()
    }
}

#[cfg(test)]
mod tests;
