//! Compiles a query syntax tree to one SQLite statement over the simulator's schema.
//!
//! Every value that comes from the query text (strings, numbers, timestamps, enum names, `:user`,
//! LIMIT bounds) is bound as a numbered parameter `?N`; only quoted entity and field names that
//! were checked against the metadata, generated aliases `tN`, operators and keywords appear in the
//! SQL text.

use std::collections::HashMap;

use icat_soap::meta::{AttrType, EntityMeta, FieldKind, FieldMeta};
use rusqlite::types::Value;

use super::ast::*;
use super::error::JpqlError;
use super::parser::ENUM_VALUES;

/// A read restriction on one entity type, added for every variable of that type declared in the
/// FROM clause (access-control hook; see ICAT's `searchJPQL` rules).
#[derive(Debug, Clone, PartialEq)]
pub enum Restriction {
    /// The user may read nothing of this type: the query returns nothing.
    DenyAll,
    /// The user may read the rows whose id is returned by `sql`, a `SELECT` of one id column that
    /// uses `?1`, `?2`, ... (or plain `?`) for `params`. Placeholders are renumbered on embedding.
    IdsIn {
        /// The id-returning subquery.
        sql: String,
        /// Its bound values, in placeholder order.
        params: Vec<Value>,
    },
}

impl Restriction {
    /// The rows allowed by any of `parts` (an SQL `UNION` of the id sets); [`Restriction::DenyAll`]
    /// when there are none.
    pub fn any_of(parts: impl IntoIterator<Item = Restriction>) -> Restriction {
        let mut sqls = Vec::new();
        let mut all_params = Vec::new();
        for part in parts {
            if let Restriction::IdsIn { sql, params } = part {
                sqls.push(renumber(&sql, all_params.len()));
                all_params.extend(params);
            }
        }
        if sqls.is_empty() {
            Restriction::DenyAll
        } else {
            Restriction::IdsIn {
                sql: sqls.join(" UNION "),
                params: all_params,
            }
        }
    }
}

/// Settings for [`compile_with`].
#[derive(Debug, Clone)]
pub struct CompileOptions<'a> {
    /// The entity model (normally `icat_soap::generated::meta::ENTITIES`); names are matched
    /// exactly (ICAT entity and field names are case-sensitive).
    pub entities: &'static [EntityMeta],
    /// Restrictions by entity name; entities not in the map are unrestricted.
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
    };
    let (sql, shape) = c.query(query, true)?;
    Ok(CompiledQuery {
        sql,
        params: c.params,
        shape,
        distinct: query.distinct,
        limit: query.limit,
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
        self.restrict(entity, alias);
        Ok(())
    }

    /// Adds the access restriction for a declared variable, if any.
    fn restrict(&mut self, entity: &'static EntityMeta, alias: &str) {
        let Some(r) = self.opts.restrictions.and_then(|m| m.get(entity.name)) else {
            return;
        };
        let cond = match r {
            Restriction::DenyAll => "0".to_string(),
            Restriction::IdsIn { sql, params } => {
                let offset = self.params.len();
                self.params.extend(params.iter().cloned());
                format!("{alias}.\"id\" IN ({})", renumber(sql, offset))
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

    /// The `ONE` field on the target of a `MANY` field that points back to `owner`.
    fn back_ref(
        &self,
        owner: &'static EntityMeta,
        field: &'static FieldMeta,
        pos: usize,
    ) -> Result<(&'static EntityMeta, &'static str), JpqlError> {
        let FieldKind::Many { target, back_ref } = field.kind else {
            return Err(JpqlError::invalid(
                format!(
                    "{} of {} is not a one-to-many relationship",
                    field.name, owner.name
                ),
                pos,
            ));
        };
        let target = self.entity(target, pos)?;
        if let Some(b) = back_ref {
            return Ok((target, b));
        }
        let mut candidates = target
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::One { target } if target == owner.name));
        match (candidates.next(), candidates.next()) {
            (Some(f), None) => Ok((target, f.name)),
            _ => Err(JpqlError::invalid(
                format!(
                    "The inverse of {}.{} is not known to the simulator",
                    owner.name, field.name
                ),
                pos,
            )),
        }
    }

    /// Joins `target` via `field` of the table `alias` (`owner`), returning the new alias.
    fn join_step(
        &mut self,
        kind: JoinKind,
        owner: &'static EntityMeta,
        alias: &str,
        field: &'static FieldMeta,
        pos: usize,
    ) -> Result<(String, &'static EntityMeta), JpqlError> {
        let new = self.alias();
        let (target, on) = match field.kind {
            FieldKind::One { target } => {
                let target = self.entity(target, pos)?;
                let on = format!(
                    "{new}.\"id\" = {alias}.{}",
                    q(&format!("{}_id", field.name))
                );
                (target, on)
            }
            FieldKind::Many { .. } => {
                let (target, back) = self.back_ref(owner, field, pos)?;
                let on = format!("{new}.{} = {alias}.\"id\"", q(&format!("{back}_id")));
                (target, on)
            }
            FieldKind::Attribute(_) => {
                return Err(JpqlError::invalid(
                    format!("{} of {} is not a relationship", field.name, owner.name),
                    pos,
                ));
            }
        };
        let kw = match kind {
            JoinKind::Inner => "JOIN",
            JoinKind::Left => "LEFT JOIN",
        };
        let text = format!(" {kw} {} AS {new} ON {on}", q(target.name));
        self.level().implicit.push(text);
        Ok((new, target))
    }

    /// Implicit (inner) navigation, reusing an earlier join of the same step.
    fn implicit_join(
        &mut self,
        owner: &'static EntityMeta,
        alias: &str,
        field: &'static FieldMeta,
        pos: usize,
    ) -> Result<(String, &'static EntityMeta), JpqlError> {
        let key = (alias.to_string(), field.name);
        if let Some(a) = self.level().implicit_cache.get(&key).cloned() {
            let target = self.entity(field.kind.target().unwrap_or_default(), pos)?;
            return Ok((a, target));
        }
        let (a, target) = self.join_step(JoinKind::Inner, owner, alias, field, pos)?;
        self.level().implicit_cache.insert(key, a.clone());
        Ok((a, target))
    }

    /// Resolves a path; `join_last` joins the table of a final many-to-one step instead of using
    /// the foreign key column.
    fn resolve(&mut self, path: &Path, join_last: bool) -> Result<Resolved, JpqlError> {
        let var = self.find_var(&path.var, path.pos)?;
        let mut entity = var.entity;
        let mut alias = var.alias;
        let n = path.fields.len();
        for (i, name) in path.fields.iter().enumerate() {
            let last = i + 1 == n;
            let f = self.field(entity, name, path.pos)?;
            match f.kind {
                FieldKind::Attribute(ty) => {
                    if !last {
                        return Err(JpqlError::invalid(
                            format!(
                                "{name} is an attribute of {}, not a relationship, so {} cannot follow it",
                                entity.name,
                                path.fields[i + 1]
                            ),
                            path.pos,
                        ));
                    }
                    return Ok(Resolved::Value(Typed {
                        sql: format!("{alias}.{}", q(name)),
                        ty: Ty::Attr(ty),
                    }));
                }
                FieldKind::One { target } => {
                    let fk = format!("{alias}.{}", q(&format!("{name}_id")));
                    if last && !join_last {
                        return Ok(Resolved::Entity {
                            id_sql: fk,
                            entity: self.entity(target, path.pos)?,
                        });
                    }
                    if i + 2 == n && path.fields[i + 1] == "id" {
                        return Ok(Resolved::Value(Typed {
                            sql: fk,
                            ty: Ty::Attr(AttrType::Long),
                        }));
                    }
                    let (a, t) = self.implicit_join(entity, &alias, f, path.pos)?;
                    alias = a;
                    entity = t;
                }
                FieldKind::Many { .. } => {
                    if last {
                        let (target, back) = self.back_ref(entity, f, path.pos)?;
                        return Ok(Resolved::Collection {
                            owner_alias: alias,
                            target,
                            back_col: q(&format!("{back}_id")),
                        });
                    }
                    let (a, t) = self.implicit_join(entity, &alias, f, path.pos)?;
                    alias = a;
                    entity = t;
                }
            }
        }
        Ok(Resolved::Entity {
            id_sql: format!("{alias}.\"id\""),
            entity,
        })
    }

    /// A path used as a value (attribute or entity id).
    fn path_value(&mut self, path: &Path) -> Result<Typed, JpqlError> {
        match self.resolve(path, false)? {
            Resolved::Value(t) => Ok(t),
            Resolved::Entity { id_sql, entity } => Ok(Typed {
                sql: id_sql,
                ty: Ty::Entity(entity),
            }),
            Resolved::Collection { .. } => Err(JpqlError::invalid(
                format!(
                    "{} is a collection; use JOIN, IS EMPTY, MEMBER OF or SIZE with it",
                    display_path(path)
                ),
                path.pos,
            )),
        }
    }

    fn collection(
        &mut self,
        path: &Path,
    ) -> Result<(String, &'static EntityMeta, String), JpqlError> {
        match self.resolve(path, false)? {
            Resolved::Collection {
                owner_alias,
                target,
                back_col,
            } => Ok((owner_alias, target, back_col)),
            _ => Err(JpqlError::invalid(
                format!("{} is not a one-to-many relationship", display_path(path)),
                path.pos,
            )),
        }
    }

    // ---- queries ----

    fn query(&mut self, query: &Query, top: bool) -> Result<(String, Shape), JpqlError> {
        self.levels.push(Level::default());
        let result = self.query_body(query, top);
        self.levels.pop();
        result
    }

    fn query_body(&mut self, query: &Query, top: bool) -> Result<(String, Shape), JpqlError> {
        for (i, item) in query.from.iter().enumerate() {
            self.range_item(item, i == 0)?;
        }
        let where_sql = match &query.where_clause {
            Some(e) => Some(self.expr(e)?.sql),
            None => None,
        };
        let (select_sql, shape) = self.select(query)?;
        let group_by = query
            .group_by
            .iter()
            .map(|e| self.expr(e).map(|t| t.sql))
            .collect::<Result<Vec<_>, _>>()?;
        let having = match &query.having {
            Some(e) => Some(self.expr(e)?.sql),
            None => None,
        };
        let mut order = Vec::new();
        for item in &query.order_by {
            let t = self.expr(&item.expr)?;
            order.push(format!(
                "{}{}",
                t.sql,
                if item.descending { " DESC" } else { " ASC" }
            ));
        }
        let shape = if top {
            self.include(query, shape)?
        } else {
            shape
        };
        let level = self.level();
        let mut sql = String::from("SELECT ");
        if query.distinct {
            sql.push_str("DISTINCT ");
        }
        sql.push_str(&select_sql);
        sql.push_str(" FROM ");
        sql.push_str(&level.from);
        for j in &level.implicit {
            sql.push_str(j);
        }
        let mut conds = level.conditions.clone();
        if let Some(w) = where_sql {
            conds.push(w);
        }
        if !conds.is_empty() {
            sql.push_str(" WHERE ");
            sql.push_str(&conds.join(" AND "));
        }
        if !group_by.is_empty() {
            sql.push_str(" GROUP BY ");
            sql.push_str(&group_by.join(", "));
        }
        if let Some(h) = having {
            sql.push_str(" HAVING ");
            sql.push_str(&h);
        }
        if !order.is_empty() {
            sql.push_str(" ORDER BY ");
            sql.push_str(&order.join(", "));
        }
        if let Some(limit) = query.limit {
            let count = limit
                .count
                .map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX));
            let offset = i64::try_from(limit.offset).unwrap_or(i64::MAX);
            let c = self.bind(Value::Integer(count));
            let o = self.bind(Value::Integer(offset));
            sql.push_str(&format!(" LIMIT {c} OFFSET {o}"));
        }
        Ok((sql, shape))
    }

    fn range_item(&mut self, item: &FromItem, first: bool) -> Result<(), JpqlError> {
        let alias = self.alias();
        match &item.source {
            FromSource::Entity(name) => {
                let entity = self.entity(name, item.pos)?;
                let sep = if first { "" } else { ", " };
                let text = format!("{sep}{} AS {alias}", q(entity.name));
                // Implicit joins made so far belong before this comma item.
                self.flush_implicit();
                self.level().from.push_str(&text);
                self.declare(&item.alias, entity, &alias, item.pos)?;
            }
            FromSource::Path(path) => {
                // `ds.parameters dp`: a new row source linked to the owner in WHERE.
                let Some((last, prefix)) = path.fields.split_last() else {
                    return Err(JpqlError::invalid(
                        format!("{} is not a relationship path", path.var),
                        path.pos,
                    ));
                };
                let owner_path = Path {
                    var: path.var.clone(),
                    fields: prefix.to_vec(),
                    pos: path.pos,
                };
                let (owner_alias, owner) = match self.resolve(&owner_path, true)? {
                    Resolved::Entity { id_sql, entity } => {
                        let a = id_sql.trim_end_matches(".\"id\"").to_string();
                        (a, entity)
                    }
                    _ => {
                        return Err(JpqlError::invalid(
                            format!("{} is not a relationship path", display_path(path)),
                            path.pos,
                        ));
                    }
                };
                let f = self.field(owner, last, path.pos)?;
                let (target, cond) = match f.kind {
                    FieldKind::One { target } => (
                        self.entity(target, path.pos)?,
                        format!(
                            "{alias}.\"id\" = {owner_alias}.{}",
                            q(&format!("{last}_id"))
                        ),
                    ),
                    FieldKind::Many { .. } => {
                        let (t, back) = self.back_ref(owner, f, path.pos)?;
                        (
                            t,
                            format!(
                                "{alias}.{} = {owner_alias}.\"id\"",
                                q(&format!("{back}_id"))
                            ),
                        )
                    }
                    FieldKind::Attribute(_) => {
                        return Err(JpqlError::invalid(
                            format!("{last} of {} is not a relationship", owner.name),
                            path.pos,
                        ));
                    }
                };
                self.flush_implicit();
                let text = format!(
                    "{}{} AS {alias}",
                    if first { "" } else { ", " },
                    q(target.name)
                );
                self.level().from.push_str(&text);
                self.level().conditions.push(cond);
                self.declare(&item.alias, target, &alias, item.pos)?;
            }
        }
        for join in &item.joins {
            self.join(join)?;
        }
        self.flush_implicit();
        Ok(())
    }

    /// Moves pending join texts into the FROM text.
    fn flush_implicit(&mut self) {
        let level = self.level();
        let joins = std::mem::take(&mut level.implicit);
        for j in joins {
            level.from.push_str(&j);
        }
    }

    fn join(&mut self, join: &Join) -> Result<(), JpqlError> {
        let (alias, entity, pos) = match &join.target {
            JoinTarget::Path(path) => {
                let var = self.find_var(&path.var, path.pos)?;
                let mut entity = var.entity;
                let mut alias = var.alias;
                for name in &path.fields {
                    let f = self.field(entity, name, path.pos)?;
                    let (a, t) = self.join_step(join.kind, entity, &alias, f, path.pos)?;
                    alias = a;
                    entity = t;
                }
                (alias, entity, path.pos)
            }
            JoinTarget::Route {
                from_var,
                entity,
                pos,
            } => {
                let var = self.find_var(from_var, *pos)?;
                let target = self.entity(entity, *pos)?;
                let f = self.route(var.entity, target, *pos)?;
                let (a, t) = match f {
                    RouteStep::Forward(f) => {
                        self.join_step(join.kind, var.entity, &var.alias, f, *pos)?
                    }
                    RouteStep::Backward(f) => {
                        let new = self.alias();
                        let text = format!(
                            " JOIN {} AS {new} ON {new}.{} = {}.\"id\"",
                            q(target.name),
                            q(&format!("{}_id", f.name)),
                            var.alias
                        );
                        self.level().implicit.push(text);
                        (new, target)
                    }
                    RouteStep::Chain(fields) => {
                        let mut alias = var.alias.clone();
                        let mut owner = var.entity;
                        for f in fields {
                            let (a, t) = self.join_step(join.kind, owner, &alias, f, *pos)?;
                            alias = a;
                            owner = t;
                        }
                        (alias, owner)
                    }
                };
                (a, t, *pos)
            }
        };
        if let Some(name) = &join.alias {
            self.declare(name, entity, &alias, pos)?;
        }
        Ok(())
    }

    /// The unique direct relationship between two entities (concise `A <-> B`).
    fn route(
        &self,
        from: &'static EntityMeta,
        to: &'static EntityMeta,
        pos: usize,
    ) -> Result<RouteStep, JpqlError> {
        let forward: Vec<_> = from
            .relations()
            .filter(|f| f.kind.target() == Some(to.name))
            .collect();
        let backward: Vec<_> = to
            .fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::One { target } if target == from.name))
            .collect();
        match (forward.as_slice(), backward.as_slice()) {
            ([f], _) => Ok(RouteStep::Forward(f)),
            ([], [b]) => Ok(RouteStep::Backward(b)),
            ([], []) => self.chain(from, to, pos).map(RouteStep::Chain),
            _ => Err(JpqlError::invalid(
                format!(
                    "There is more than one relationship between {} and {}",
                    from.name, to.name
                ),
                pos,
            )),
        }
    }

    /// The unique shortest chain of relationships from `from` to `to` (at most four steps), for
    /// concise `A <-> B` when there is no direct relationship (ICAT's `DagHandler` route).
    fn chain(
        &self,
        from: &'static EntityMeta,
        to: &'static EntityMeta,
        pos: usize,
    ) -> Result<Vec<&'static FieldMeta>, JpqlError> {
        const MAX_STEPS: usize = 4;
        // entity name -> (number of shortest routes, route to it)
        let mut seen: HashMap<&'static str, (usize, Vec<&'static FieldMeta>)> = HashMap::new();
        seen.insert(from.name, (1, Vec::new()));
        let mut frontier = vec![from];
        for _ in 0..MAX_STEPS {
            let mut next: HashMap<&'static str, (usize, Vec<&'static FieldMeta>)> = HashMap::new();
            for owner in &frontier {
                let (count, route) = seen.get(owner.name).cloned().unwrap_or_default();
                for f in owner.relations() {
                    let Some(target) = f.kind.target() else {
                        continue;
                    };
                    if seen.contains_key(target) {
                        continue;
                    }
                    let entry = next.entry(target).or_insert_with(|| {
                        let mut r = route.clone();
                        r.push(f);
                        (0, r)
                    });
                    entry.0 = entry.0.saturating_add(count);
                }
            }
            if let Some((count, route)) = next.get(to.name) {
                if *count > 1 {
                    return Err(JpqlError::invalid(
                        format!(
                            "There is more than one route between {} and {}",
                            from.name, to.name
                        ),
                        pos,
                    ));
                }
                return Ok(route.clone());
            }
            frontier = next
                .keys()
                .filter_map(|name| self.opts.entities.iter().find(|e| e.name == *name))
                .collect();
            seen.extend(next);
        }
        Err(JpqlError::invalid(
            format!(
                "There is no relationship between {} and {}",
                from.name, to.name
            ),
            pos,
        ))
    }

    fn select(&mut self, query: &Query) -> Result<(String, Shape), JpqlError> {
        if let [Expr::Path(path)] = query.select.as_slice() {
            if let Resolved::Entity { id_sql, entity } = self.resolve(path, true)? {
                return Ok((
                    id_sql,
                    Shape::Entity {
                        name: entity.name,
                        include: Vec::new(),
                    },
                ));
            }
        }
        let mut sqls = Vec::new();
        let mut types = Vec::new();
        for item in &query.select {
            let t = self.expr(item)?;
            sqls.push(t.sql);
            types.push(column_type(t.ty));
        }
        let shape = match (query.select.as_slice(), types.as_slice()) {
            ([Expr::Aggregate { .. }], [ty]) => Shape::Aggregate(*ty),
            _ => Shape::Columns(types),
        };
        Ok((sqls.join(", "), shape))
    }

    // ---- INCLUDE ----

    fn include(&mut self, query: &Query, shape: Shape) -> Result<Shape, JpqlError> {
        let Some(include) = &query.include else {
            return Ok(shape);
        };
        let (root_name, root_var) = match (&shape, query.select.as_slice()) {
            (Shape::Entity { name, .. }, [Expr::Path(p)]) if p.fields.is_empty() => (*name, &p.var),
            _ => {
                let pos = match query.select.first() {
                    Some(Expr::Path(p)) => p.pos,
                    _ => 0,
                };
                return Err(JpqlError::invalid(
                    "INCLUDE is only valid for one quantity in the SELECT clause, and that must be an identification variable",
                    pos,
                ));
            }
        };
        let root = self.entity(root_name, 0)?;
        let mut tree = IncludeTree::default();
        match include {
            Include::One => {
                for f in root.relations() {
                    if let FieldKind::One { target } = f.kind {
                        tree.child(0, f.name, target, false, None);
                    }
                }
            }
            Include::Steps(steps) => {
                let mut names: Vec<(String, usize, &'static EntityMeta)> =
                    vec![(root_var.to_ascii_lowercase(), 0, root)];
                for step in steps {
                    let start = names
                        .iter()
                        .find(|(n, _, _)| *n == step.path.var.to_ascii_lowercase())
                        .map(|(_, i, e)| (*i, *e));
                    let Some((mut node, mut entity)) = start else {
                        return Err(JpqlError::invalid(
                            format!(
                                "INCLUDE path {} must start from {root_var} or an earlier INCLUDE variable",
                                display_path(&step.path)
                            ),
                            step.path.pos,
                        ));
                    };
                    for name in &step.path.fields {
                        let f = self.field(entity, name, step.path.pos)?;
                        let (target, many, back) = match f.kind {
                            FieldKind::One { target } => {
                                (self.entity(target, step.path.pos)?, false, None)
                            }
                            FieldKind::Many { .. } => {
                                let (t, b) = self.back_ref(entity, f, step.path.pos)?;
                                (t, true, Some(b))
                            }
                            FieldKind::Attribute(_) => {
                                return Err(JpqlError::invalid(
                                    format!(
                                        "{name} of {} is an attribute, not a relationship, so it cannot be included",
                                        entity.name
                                    ),
                                    step.path.pos,
                                ));
                            }
                        };
                        node = tree.child(node, f.name, target.name, many, back);
                        entity = target;
                    }
                    if let Some(alias) = &step.alias {
                        let lower = alias.to_ascii_lowercase();
                        if names.iter().any(|(n, _, _)| *n == lower) {
                            return Err(JpqlError::invalid(
                                format!("INCLUDE variable {alias} is defined more than once"),
                                step.path.pos,
                            ));
                        }
                        names.push((lower, node, entity));
                    }
                }
            }
            Include::Types(types) => self.include_types(root, types, &mut tree)?,
        }
        Ok(Shape::Entity {
            name: root_name,
            include: tree.build(0),
        })
    }

    /// Old-style `INCLUDE Type, Type`: each type must be reachable by exactly one relationship
    /// from the result entity or another included type.
    fn include_types(
        &self,
        root: &'static EntityMeta,
        types: &[(String, usize)],
        tree: &mut IncludeTree,
    ) -> Result<(), JpqlError> {
        let mut placed: Vec<(usize, &'static EntityMeta)> = vec![(0, root)];
        let mut pending: Vec<(&'static EntityMeta, usize)> = Vec::new();
        for (name, pos) in types {
            pending.push((self.entity(name, *pos)?, *pos));
        }
        while !pending.is_empty() {
            let mut progressed = false;
            let mut i = 0;
            while i < pending.len() {
                let (target, pos) = pending[i];
                let mut routes = Vec::new();
                for (node, owner) in &placed {
                    for f in owner.relations() {
                        if f.kind.target() == Some(target.name) {
                            routes.push((*node, *owner, f));
                        }
                    }
                }
                match routes.as_slice() {
                    [] => i += 1,
                    [(node, owner, f)] => {
                        let (many, back) = match f.kind {
                            FieldKind::Many { .. } => (true, Some(self.back_ref(owner, f, pos)?.1)),
                            _ => (false, None),
                        };
                        let n = tree.child(*node, f.name, target.name, many, back);
                        placed.push((n, target));
                        pending.remove(i);
                        progressed = true;
                    }
                    _ => {
                        return Err(JpqlError::invalid(
                            format!(
                                "INCLUDE {} is ambiguous: there is more than one route to it",
                                target.name
                            ),
                            pos,
                        ));
                    }
                }
            }
            if !progressed {
                let (target, pos) = pending[0];
                return Err(JpqlError::invalid(
                    format!(
                        "INCLUDE {}: there is no route to it from {}",
                        target.name, root.name
                    ),
                    pos,
                ));
            }
        }
        Ok(())
    }

    // ---- expressions ----

    fn expr(&mut self, e: &Expr) -> Result<Typed, JpqlError> {
        Ok(match e {
            Expr::Path(p) => self.path_value(p)?,
            Expr::Lit(l) => self.literal(l)?,
            Expr::Param { name, pos } => {
                if name != "user" {
                    return Err(JpqlError::invalid(
                        format!("Unknown parameter :{name}; the only parameter is :user"),
                        *pos,
                    ));
                }
                let user = self.user.to_string();
                Typed {
                    sql: self.bind(Value::Text(user)),
                    ty: Ty::Attr(AttrType::String),
                }
            }
            Expr::Not(inner) => Typed {
                sql: format!("(NOT {})", self.expr(inner)?.sql),
                ty: Ty::Bool,
            },
            Expr::Neg(inner) => {
                let t = self.expr(inner)?;
                Typed {
                    sql: format!("(-{})", t.sql),
                    ty: t.ty,
                }
            }
            Expr::Binary(op, l, r) => self.binary(*op, l, r)?,
            Expr::Like {
                expr,
                pattern,
                escape,
                negated,
            } => {
                let l = self.expr(expr)?.sql;
                let p = self.expr(pattern)?.sql;
                let not = if *negated { "NOT " } else { "" };
                let esc = match escape {
                    Some(e) => format!(" ESCAPE {}", self.expr(e)?.sql),
                    None => String::new(),
                };
                Typed {
                    sql: format!("({l} {not}LIKE {p}{esc})"),
                    ty: Ty::Bool,
                }
            }
            Expr::InList {
                expr,
                list,
                negated,
            } => {
                let l = self.expr(expr)?.sql;
                let items = list
                    .iter()
                    .map(|i| self.expr(i).map(|t| t.sql))
                    .collect::<Result<Vec<_>, _>>()?;
                let not = if *negated { "NOT " } else { "" };
                Typed {
                    sql: format!("({l} {not}IN ({}))", items.join(", ")),
                    ty: Ty::Bool,
                }
            }
            Expr::InSubquery {
                expr,
                query,
                negated,
            } => {
                let l = self.expr(expr)?.sql;
                let (sub, _) = self.subquery(query)?;
                let not = if *negated { "NOT " } else { "" };
                Typed {
                    sql: format!("({l} {not}IN ({sub}))"),
                    ty: Ty::Bool,
                }
            }
            Expr::Between {
                expr,
                low,
                high,
                negated,
            } => {
                let e = self.expr(expr)?.sql;
                let lo = self.expr(low)?.sql;
                let hi = self.expr(high)?.sql;
                let not = if *negated { "NOT " } else { "" };
                Typed {
                    sql: format!("({e} {not}BETWEEN {lo} AND {hi})"),
                    ty: Ty::Bool,
                }
            }
            Expr::IsNull { expr, negated } => {
                let t = self.expr(expr)?.sql;
                let not = if *negated { "NOT " } else { "" };
                Typed {
                    sql: format!("({t} IS {not}NULL)"),
                    ty: Ty::Bool,
                }
            }
            Expr::IsEmpty { path, negated } => {
                let (owner, target, back) = self.collection(path)?;
                let a = self.alias();
                let not = if *negated { "" } else { "NOT " };
                Typed {
                    sql: format!(
                        "({not}EXISTS (SELECT 1 FROM {} AS {a} WHERE {a}.{back} = {owner}.\"id\"))",
                        q(target.name)
                    ),
                    ty: Ty::Bool,
                }
            }
            Expr::MemberOf {
                expr,
                path,
                negated,
            } => {
                let x = self.expr(expr)?.sql;
                let (owner, target, back) = self.collection(path)?;
                let a = self.alias();
                let not = if *negated { "NOT " } else { "" };
                Typed {
                    sql: format!(
                        "({not}EXISTS (SELECT 1 FROM {} AS {a} WHERE {a}.{back} = {owner}.\"id\" AND {a}.\"id\" = {x}))",
                        q(target.name)
                    ),
                    ty: Ty::Bool,
                }
            }
            Expr::Subquery(query) => {
                let (sub, shape) = self.subquery(query)?;
                let ty = match shape {
                    Shape::Entity { name, .. } => Ty::Entity(self.entity(name, 0)?),
                    Shape::Aggregate(c) => column_ty(c),
                    Shape::Columns(cols) => cols.first().map_or(Ty::Null, |c| column_ty(*c)),
                };
                Typed {
                    sql: format!("({sub})"),
                    ty,
                }
            }
            Expr::Exists { query, negated } => {
                let (sub, _) = self.subquery(query)?;
                let not = if *negated { "NOT " } else { "" };
                Typed {
                    sql: format!("({not}EXISTS ({sub}))"),
                    ty: Ty::Bool,
                }
            }
            Expr::Func { func, args, pos } => self.func(*func, args, *pos)?,
            Expr::Trim { spec, chars, expr } => {
                let s = self.expr(expr)?.sql;
                let f = match spec {
                    TrimSpec::Both => "TRIM",
                    TrimSpec::Leading => "LTRIM",
                    TrimSpec::Trailing => "RTRIM",
                };
                let sql = match chars {
                    Some(c) => format!("{f}({s}, {})", self.expr(c)?.sql),
                    None => format!("{f}({s})"),
                };
                Typed {
                    sql,
                    ty: Ty::Attr(AttrType::String),
                }
            }
            Expr::Aggregate {
                func,
                distinct,
                arg,
                ..
            } => {
                let t = self.expr(arg)?;
                let d = if *distinct { "DISTINCT " } else { "" };
                let (name, ty) = match func {
                    AggFunc::Count => ("COUNT", Ty::Attr(AttrType::Long)),
                    AggFunc::Min => ("MIN", t.ty),
                    AggFunc::Max => ("MAX", t.ty),
                    AggFunc::Avg => ("AVG", Ty::Attr(AttrType::Double)),
                    AggFunc::Sum => (
                        "SUM",
                        match t.ty {
                            Ty::Attr(AttrType::Long | AttrType::Int) => Ty::Attr(AttrType::Long),
                            _ => Ty::Attr(AttrType::Double),
                        },
                    ),
                };
                let sql = if *func == AggFunc::Avg {
                    format!("AVG({d}CAST({} AS REAL))", t.sql)
                } else {
                    format!("{name}({d}{})", t.sql)
                };
                Typed { sql, ty }
            }
        })
    }

    fn subquery(&mut self, query: &Query) -> Result<(String, Shape), JpqlError> {
        if query.select.len() != 1 {
            return Err(JpqlError::invalid(
                "A subquery must select exactly one item",
                query.from.first().map_or(0, |f| f.pos),
            ));
        }
        self.query(query, false)
    }

    fn literal(&mut self, l: &Literal) -> Result<Typed, JpqlError> {
        let (v, ty) = match l {
            Literal::Str(s) => (Value::Text(s.clone()), AttrType::String),
            Literal::Integer(n) => (Value::Integer(*n), AttrType::Long),
            Literal::Real(x) => (Value::Real(*x), AttrType::Double),
            Literal::Bool(b) => (Value::Integer(i64::from(*b)), AttrType::Boolean),
            Literal::Timestamp(ms) => (Value::Integer(*ms), AttrType::DateTime),
            Literal::Enum(ty, value) => {
                let Some((ty_name, values)) = ENUM_VALUES.iter().find(|(n, _)| n == ty) else {
                    return Err(JpqlError::invalid(
                        format!("org.icatproject.{ty} is not an ICAT enum"),
                        0,
                    ));
                };
                if !values.contains(&value.as_str()) {
                    return Err(JpqlError::invalid(
                        format!(
                            "{value} is not a value of {ty_name} (one of {})",
                            values.join(", ")
                        ),
                        0,
                    ));
                }
                (Value::Text(value.clone()), AttrType::Enum(ty_name))
            }
            Literal::Null => {
                return Ok(Typed {
                    sql: "NULL".to_string(),
                    ty: Ty::Null,
                });
            }
        };
        Ok(Typed {
            sql: self.bind(v),
            ty: Ty::Attr(ty),
        })
    }

    fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr) -> Result<Typed, JpqlError> {
        let lt = self.expr(l)?;
        let rt = self.expr(r)?;
        let (sym, ty) = match op {
            BinOp::Or => ("OR", Ty::Bool),
            BinOp::And => ("AND", Ty::Bool),
            BinOp::Eq => ("=", Ty::Bool),
            BinOp::Ne => ("<>", Ty::Bool),
            BinOp::Lt => ("<", Ty::Bool),
            BinOp::Le => ("<=", Ty::Bool),
            BinOp::Gt => (">", Ty::Bool),
            BinOp::Ge => (">=", Ty::Bool),
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div => {
                let integral = |t: Ty| matches!(t, Ty::Attr(AttrType::Long | AttrType::Int));
                let ty = if integral(lt.ty) && integral(rt.ty) {
                    Ty::Attr(AttrType::Long)
                } else {
                    Ty::Attr(AttrType::Double)
                };
                let sym = match op {
                    BinOp::Add => "+",
                    BinOp::Sub => "-",
                    BinOp::Mul => "*",
                    _ => "/",
                };
                (sym, ty)
            }
        };
        Ok(Typed {
            sql: format!("({} {sym} {})", lt.sql, rt.sql),
            ty,
        })
    }

    fn func(&mut self, func: Func, args: &[Expr], pos: usize) -> Result<Typed, JpqlError> {
        let now = self.opts.now_millis;
        let day = 86_400_000;
        match func {
            Func::CurrentTimestamp => {
                return Ok(Typed {
                    sql: self.bind(Value::Integer(now)),
                    ty: Ty::Attr(AttrType::DateTime),
                });
            }
            Func::CurrentDate => {
                return Ok(Typed {
                    sql: self.bind(Value::Integer(now.div_euclid(day) * day)),
                    ty: Ty::Attr(AttrType::DateTime),
                });
            }
            Func::CurrentTime => {
                return Ok(Typed {
                    sql: self.bind(Value::Integer(now.rem_euclid(day))),
                    ty: Ty::Attr(AttrType::DateTime),
                });
            }
            Func::Size => {
                let Some(Expr::Path(path)) = args.first() else {
                    return Err(JpqlError::invalid(
                        "SIZE needs a collection-valued path",
                        pos,
                    ));
                };
                let (owner, target, back) = self.collection(path)?;
                let a = self.alias();
                return Ok(Typed {
                    sql: format!(
                        "(SELECT COUNT(*) FROM {} AS {a} WHERE {a}.{back} = {owner}.\"id\")",
                        q(target.name)
                    ),
                    ty: Ty::Attr(AttrType::Int),
                });
            }
            Func::Sqrt => {
                return Err(JpqlError::invalid(
                    "SQRT is not supported by the simulator's database",
                    pos,
                ));
            }
            _ => {}
        }
        let args = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Result<Vec<_>, _>>()?;
        let s = |i: usize| args.get(i).map(|t| t.sql.as_str()).unwrap_or("NULL");
        let (sql, ty) = match func {
            Func::Upper => (format!("UPPER({})", s(0)), Ty::Attr(AttrType::String)),
            Func::Lower => (format!("LOWER({})", s(0)), Ty::Attr(AttrType::String)),
            Func::Length => (format!("LENGTH({})", s(0)), Ty::Attr(AttrType::Int)),
            Func::Concat => (
                format!(
                    "({})",
                    args.iter()
                        .map(|t| t.sql.as_str())
                        .collect::<Vec<_>>()
                        .join(" || ")
                ),
                Ty::Attr(AttrType::String),
            ),
            Func::Substring => {
                let sql = if args.len() == 3 {
                    format!("SUBSTR({}, {}, {})", s(0), s(1), s(2))
                } else {
                    format!("SUBSTR({}, {})", s(0), s(1))
                };
                (sql, Ty::Attr(AttrType::String))
            }
            Func::Locate => {
                let sql = if args.len() == 3 {
                    let found = format!("INSTR(SUBSTR({}, {}), {})", s(1), s(2), s(0));
                    format!(
                        "(CASE WHEN {found} > 0 THEN {found} + {} - 1 ELSE 0 END)",
                        s(2)
                    )
                } else {
                    format!("INSTR({}, {})", s(1), s(0))
                };
                (sql, Ty::Attr(AttrType::Int))
            }
            Func::Abs => (
                format!("ABS({})", s(0)),
                args.first().map_or(Ty::Null, |t| t.ty),
            ),
            Func::Mod => (format!("({} % {})", s(0), s(1)), Ty::Attr(AttrType::Long)),
            Func::Sqrt
            | Func::Size
            | Func::CurrentTimestamp
            | Func::CurrentDate
            | Func::CurrentTime => {
                return Err(JpqlError::invalid("Misplaced function", pos));
            }
        };
        Ok(Typed { sql, ty })
    }
}

/// How concise `A <-> B` reaches `B`.
enum RouteStep {
    /// A relationship field of `A`.
    Forward(&'static FieldMeta),
    /// A many-to-one field of `B` pointing at `A` (no inverse declared on `A`).
    Backward(&'static FieldMeta),
    /// Several relationship steps from `A`.
    Chain(Vec<&'static FieldMeta>),
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

/// Shifts the placeholders of an embedded SQL fragment by `offset` (`?N` -> `?{N+offset}`, a plain
/// `?` numbered as SQLite does), leaving quoted text alone.
fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut largest = 0;
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(qc) = quote {
            out.push(c);
            if c == qc {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                // SQLite numbering: a plain `?` is one more than the largest number so far.
                let n = if digits.is_empty() {
                    largest + 1
                } else {
                    digits.parse::<usize>().unwrap_or(0)
                };
                largest = largest.max(n);
                out.push_str(&format!("?{}", n + offset));
            }
            _ => out.push(c),
        }
    }
    out
}

/// Arena used while resolving INCLUDE paths; node 0 is the result entity.
#[derive(Default)]
struct IncludeTree {
    nodes: Vec<(usize, IncludeNode)>,
}

impl IncludeTree {
    /// The child of `parent` via `field`, created if new; returns its index.
    fn child(
        &mut self,
        parent: usize,
        field: &'static str,
        target: &'static str,
        many: bool,
        back_ref: Option<&'static str>,
    ) -> usize {
        if let Some(i) = self
            .nodes
            .iter()
            .position(|(p, n)| *p == parent && n.field == field)
        {
            return i + 1;
        }
        self.nodes.push((
            parent,
            IncludeNode {
                field,
                target,
                many,
                back_ref,
                children: Vec::new(),
            },
        ));
        self.nodes.len()
    }

    /// The nested nodes under `parent`, in the order they were first named.
    fn build(&self, parent: usize) -> Vec<IncludeNode> {
        self.nodes
            .iter()
            .enumerate()
            .filter(|(_, (p, _))| *p == parent)
            .map(|(i, (_, n))| IncludeNode {
                children: self.build(i + 1),
                ..n.clone()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn renumber_shifts_numbered_and_plain_placeholders_outside_quotes() {
        assert_eq!(renumber("a = ?1 AND b = ?2", 3), "a = ?4 AND b = ?5");
        assert_eq!(renumber("a = ? AND '?' = ?", 2), "a = ?3 AND '?' = ?4");
        assert_eq!(renumber("\"x?\" = ?", 0), "\"x?\" = ?1");
        assert_eq!(
            renumber("a = ?2 AND b = ? AND c = ?1", 1),
            "a = ?3 AND b = ?4 AND c = ?2"
        );
    }
}
