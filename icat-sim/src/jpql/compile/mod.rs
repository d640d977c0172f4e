//! Compiles a query syntax tree to one SQLite statement over the simulator's schema.
//!
//! Submodules: `paths` (resolving paths and joins), `query` (SELECT/FROM and access
//! restrictions), `include` (INCLUDE trees), `expr` (expressions), `restriction` (the
//! access-control hook).
//!
//! Every value that comes from the query text (strings, numbers, timestamps, enum names, `:user`,
//! LIMIT bounds) is bound as a numbered parameter `?N`; only quoted entity and field names that
//! were checked against the metadata, generated aliases `tN`, operators and keywords appear in the
//! SQL text.

use std::collections::HashMap;

use icat_soap::meta::{AttrType, EntityMeta, FieldMeta};
use rusqlite::types::Value;

use super::ast::*;
use super::error::JpqlError;

mod date_literal;
mod expr;
mod include;
mod paths;
mod query;
mod restriction;

pub(crate) use restriction::renumber;
pub use restriction::{ClockKind, ClockParam, Restriction};

/// Settings for [`compile_with`].
#[derive(Debug, Clone)]
pub struct CompileOptions<'a> {
    /// The entity model (normally `icat_soap::meta::ENTITIES`); names are matched
    /// exactly (ICAT entity and field names are case-sensitive).
    pub entities: &'static [EntityMeta],
    /// Read restrictions by entity name; entities not in the map are unrestricted (see
    /// [`Restriction`] for where they apply).
    pub restrictions: Option<&'a HashMap<String, Restriction>>,
    /// The value of `CURRENT_TIMESTAMP`, as epoch milliseconds.
    pub now_millis: i64,
}

/// The value type of one result column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// An attribute value (SQLite storage as in the schema convention: booleans 0/1, dates as
    /// epoch milliseconds, enums by wire name).
    Attr(AttrType),
    /// An entity: the column holds its id.
    Entity(&'static str),
    /// A column that is always NULL (`SELECT NULL, ...`).
    Null,
}

/// One relationship to fill in on returned entities, with its own nested INCLUDEs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncludeNode {
    /// Field on the parent entity, e.g. `"datafiles"`.
    pub field: &'static str,
    /// Entity the field leads to, e.g. `"Datafile"`.
    pub target: &'static str,
    /// True for one-to-many (`MANY`), false for many-to-one (`ONE`).
    pub many: bool,
    /// For `MANY`: the `ONE` field on `target` pointing back to the parent, so children are the
    /// rows of `"<target>"` whose `"<back_ref>_id"` is the parent id. `None` for `ONE`, whose
    /// target id is the parent's `"<field>_id"` column.
    pub back_ref: Option<&'static str>,
    /// Nested includes on the target.
    pub children: Vec<IncludeNode>,
}

impl IncludeNode {
    /// Every path from the result entity to an included relationship, as field names
    /// (`["datafiles"]`, `["datafiles", "parameters"]`), parents before children.
    pub fn paths(nodes: &[IncludeNode]) -> Vec<Vec<&'static str>> {
        let mut out = Vec::new();
        for n in nodes {
            out.push(vec![n.field]);
            for mut p in IncludeNode::paths(&n.children) {
                p.insert(0, n.field);
                out.push(p);
            }
        }
        out
    }
}

/// What the rows of a compiled query mean.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shape {
    /// Each row has exactly one column: the id of a returned entity of type `name`. The caller
    /// loads the entities (in row order) and fills in `include`.
    Entity {
        /// Entity name.
        name: &'static str,
        /// Relationships to fill in.
        include: Vec<IncludeNode>,
    },
    /// Each row has one column per select item. One item: plain values; several: `fieldSet`s.
    Columns(Vec<ColumnType>),
    /// A single aggregate (`COUNT`, `MIN`, ...): one column, normally one row.
    Aggregate(ColumnType),
}

/// A query ready to run against the simulator's SQLite schema.
#[derive(Debug, Clone, PartialEq)]
pub struct CompiledQuery {
    /// One `SELECT` statement with `?N` placeholders. LIMIT is already applied in it.
    pub sql: String,
    /// Values for the placeholders: `params[i]` binds `?{i+1}`.
    pub params: Vec<Value>,
    /// What the result rows mean.
    pub shape: Shape,
    /// `SELECT DISTINCT` (already applied in `sql`).
    pub distinct: bool,
    /// The LIMIT clause (already applied in `sql`).
    pub limit: Option<Limit>,
    /// The parameters holding clock values (`CURRENT_TIMESTAMP`, ...), for callers that keep the
    /// compiled query and re-bind them later (see [`Restriction::params_at`]).
    pub clock: Vec<ClockParam>,
}

/// Compiles `query` for user `user` (the value of `:user`) with explicit options.
pub fn compile_with(
    query: &Query,
    user: &str,
    opts: &CompileOptions<'_>,
) -> Result<CompiledQuery, JpqlError> {
    let mut c = Compiler {
        opts,
        user,
        params: Vec::new(),
        next_alias: 0,
        levels: Vec::new(),
        clock_params: Vec::new(),
    };
    let (sql, shape) = c.query(query, true)?;
    Ok(CompiledQuery {
        sql,
        params: c.params,
        shape,
        distinct: query.distinct,
        limit: query.limit,
        clock: c.clock_params,
    })
}

/// An identification variable in scope.
#[derive(Debug, Clone)]
struct Var {
    name: String,
    entity: &'static EntityMeta,
    alias: String,
}

/// The scope and generated pieces of one SELECT (the top query or a subquery).
#[derive(Default)]
struct Level {
    vars: Vec<Var>,
    from: String,
    implicit: Vec<String>,
    implicit_cache: HashMap<(String, &'static str), String>,
    conditions: Vec<String>,
}

/// The type of a compiled expression.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ty {
    Attr(AttrType),
    Entity(&'static EntityMeta),
    Null,
    Bool,
}

struct Typed {
    sql: String,
    ty: Ty,
}

/// A path resolved against the metadata.
enum Resolved {
    Value(Typed),
    /// An entity with its table alias when the table is joined (`None` when only the foreign key
    /// column is known).
    Entity {
        id_sql: String,
        entity: &'static EntityMeta,
    },
    Collection {
        owner_alias: String,
        target: &'static EntityMeta,
        back_col: String,
    },
}

struct Compiler<'a> {
    opts: &'a CompileOptions<'a>,
    user: &'a str,
    params: Vec<Value>,
    next_alias: usize,
    levels: Vec<Level>,
    clock_params: Vec<ClockParam>,
}

fn q(name: &str) -> String {
    format!("\"{name}\"")
}

impl Compiler<'_> {
    fn bind(&mut self, v: Value) -> String {
        self.params.push(v);
        format!("?{}", self.params.len())
    }

    fn alias(&mut self) -> String {
        let a = format!("t{}", self.next_alias);
        self.next_alias += 1;
        a
    }

    fn level(&mut self) -> &mut Level {
        let n = self.levels.len() - 1;
        &mut self.levels[n]
    }

    fn entity(&self, name: &str, pos: usize) -> Result<&'static EntityMeta, JpqlError> {
        let entities = self.opts.entities;
        // The model is sorted by name; fall back to a scan should a caller pass an unsorted one.
        entities
            .binary_search_by(|e| e.name.cmp(name))
            .ok()
            .map(|i| &entities[i])
            .or_else(|| entities.iter().find(|e| e.name == name))
            .ok_or_else(|| JpqlError::UnknownEntity {
                name: name.to_string(),
                pos,
            })
    }

    fn find_var(&self, name: &str, pos: usize) -> Result<Var, JpqlError> {
        for level in self.levels.iter().rev() {
            if let Some(v) = level
                .vars
                .iter()
                .find(|v| v.name.eq_ignore_ascii_case(name))
            {
                return Ok(v.clone());
            }
        }
        Err(JpqlError::invalid(
            format!("Identification variable {name} is not defined"),
            pos,
        ))
    }

    fn declare(
        &mut self,
        name: &str,
        entity: &'static EntityMeta,
        alias: &str,
        pos: usize,
    ) -> Result<(), JpqlError> {
        let taken = self
            .levels
            .iter()
            .any(|l| l.vars.iter().any(|v| v.name.eq_ignore_ascii_case(name)));
        if taken {
            return Err(JpqlError::invalid(
                format!("Identification variable {name} is defined more than once"),
                pos,
            ));
        }
        self.level().vars.push(Var {
            name: name.to_string(),
            entity,
            alias: alias.to_string(),
        });
        Ok(())
    }

    /// Adds the read restriction of `entity`, if any, to the id expression `id_sql`.
    fn restrict(&mut self, entity: &'static EntityMeta, id_sql: &str) {
        let Some(r) = self.opts.restrictions.and_then(|m| m.get(entity.name)) else {
            return;
        };
        let cond = match r {
            Restriction::DenyAll => "0".to_string(),
            Restriction::IdsIn { sql, params, clock } => {
                let offset = self.params.len();
                let now = self.opts.now_millis;
                self.params
                    .extend(Restriction::params_at(params, clock, now));
                self.clock_params.extend(clock.iter().map(|c| ClockParam {
                    index: c.index + offset,
                    ..*c
                }));
                format!("{id_sql} IN ({})", renumber(sql, offset))
            }
        };
        self.level().conditions.push(cond);
    }

    fn field(
        &self,
        entity: &'static EntityMeta,
        name: &str,
        pos: usize,
    ) -> Result<&'static FieldMeta, JpqlError> {
        entity.field(name).ok_or_else(|| JpqlError::UnknownField {
            entity: entity.name.to_string(),
            field: name.to_string(),
            pos,
        })
    }
}

fn column_type(ty: Ty) -> ColumnType {
    match ty {
        Ty::Attr(a) => ColumnType::Attr(a),
        Ty::Entity(e) => ColumnType::Entity(e.name),
        Ty::Null => ColumnType::Null,
        Ty::Bool => ColumnType::Attr(AttrType::Boolean),
    }
}

fn column_ty(c: ColumnType) -> Ty {
    match c {
        ColumnType::Attr(a) => Ty::Attr(a),
        // Entity columns of subqueries are only compared by id.
        ColumnType::Entity(_) => Ty::Attr(AttrType::Long),
        ColumnType::Null => Ty::Null,
    }
}

fn display_path(p: &Path) -> String {
    let mut s = p.var.clone();
    for f in &p.fields {
        s.push('.');
        s.push_str(f);
    }
    s
}
