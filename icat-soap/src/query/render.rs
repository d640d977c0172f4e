//! Turns a validated [`Query`] into JPQL text: variables, JOINs, WHERE, ORDER BY, INCLUDE, LIMIT.

use std::collections::HashMap;

use crate::meta::{AttrType, EntityMeta, FieldKind, FieldMeta};

use super::JPQL_KEYWORDS;
use super::condition::{LIKE_ESCAPE, MatchKind, escape_like};
use super::literal::attr_type_name;
use super::literal::quote_string;
use super::path::{self, Resolved, Schema};
use super::{
    Aggregate, CompareOp, Condition, Direction, Include, JoinKind, MAX_IN_VALUES, Query,
    QueryError, SelectItem, Selection,
};

/// Where a condition stands, which decides whether aggregates may appear in it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Clause {
    Where,
    Having,
}

/// One generated `JOIN parent.field alias`.
struct Join {
    parent: String,
    field: String,
    alias: String,
    kind: JoinKind,
}

/// The FROM-clause state: the root variable and the joins made so far, keyed by path prefix.
struct From<'a> {
    schema: Schema<'a>,
    root: &'a EntityMeta,
    root_alias: String,
    joins: Vec<Join>,
    by_prefix: HashMap<String, usize>,
    kinds: HashMap<String, JoinKind>,
}

impl<'a> From<'a> {
    fn new(schema: Schema<'a>, root: &'a EntityMeta, kinds: HashMap<String, JoinKind>) -> Self {
        let root_alias = initials(root.name);
        From {
            schema,
            root,
            root_alias,
            joins: Vec::new(),
            by_prefix: HashMap::new(),
            kinds,
        }
    }

    fn resolve(&self, path: &str) -> Result<Resolved<'a>, QueryError> {
        path::resolve(&self.schema, self.root, path)
    }

    /// The variable for the entity reached by the relation steps of `resolved`, joining as needed.
    fn variable(&mut self, resolved: &Resolved<'_>) -> String {
        let mut alias = self.root_alias.clone();
        let mut prefix = String::new();
        for step in &resolved.steps {
            if !prefix.is_empty() {
                prefix.push('.');
            }
            prefix.push_str(step.field);
            alias = match self.by_prefix.get(&prefix) {
                Some(&i) => self.joins[i].alias.clone(),
                None => {
                    let new_alias = self.fresh_alias(step.field);
                    self.joins.push(Join {
                        parent: alias,
                        field: step.field.to_owned(),
                        alias: new_alias.clone(),
                        kind: self.kinds.get(&prefix).copied().unwrap_or_default(),
                    });
                    self.by_prefix.insert(prefix.clone(), self.joins.len() - 1);
                    new_alias
                }
            };
        }
        alias
    }

    /// A variable name built from the initials of `field`, made unique and never a keyword.
    fn fresh_alias(&self, field: &str) -> String {
        let base = initials(field);
        let taken = |a: &str| {
            a.eq_ignore_ascii_case(&self.root_alias)
                || self.joins.iter().any(|j| j.alias.eq_ignore_ascii_case(a))
                || JPQL_KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(a))
        };
        if !taken(&base) {
            return base;
        }
        (2..)
            .map(|n| format!("{base}{n}"))
            .find(|a| !taken(a))
            .unwrap_or(base)
    }

    /// `var.field` for a path that must end in an attribute; returns the attribute type too.
    fn attribute(&mut self, path: &str) -> Result<(String, AttrType), QueryError> {
        let resolved = self.resolve(path)?;
        let ty = attr_type(&resolved, path)?;
        let var = self.variable(&resolved);
        Ok((format!("{var}.{}", resolved.last.name), ty))
    }

    fn clause(&self) -> String {
        let mut out = format!("{} {}", self.root.name, self.root_alias);
        for j in &self.joins {
            let kw = match j.kind {
                JoinKind::Inner => "JOIN",
                JoinKind::Left => "LEFT JOIN",
            };
            out.push_str(&format!(" {kw} {}.{} {}", j.parent, j.field, j.alias));
        }
        out
    }
}

/// Lower-case initials of a camel-case name: `investigationUsers` -> `iu`, `Dataset` -> `d`.
fn initials(name: &str) -> String {
    let mut chars = name.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_ascii_lowercase())
        .into_iter()
        .collect();
    out.extend(
        chars
            .filter(|c| c.is_ascii_uppercase())
            .map(|c| c.to_ascii_lowercase()),
    );
    out
}

fn attr_type(resolved: &Resolved<'_>, path: &str) -> Result<AttrType, QueryError> {
    match resolved.last.kind {
        FieldKind::Attribute(ty) => Ok(ty),
        FieldKind::One { target } | FieldKind::Many { target, .. } => {
            Err(QueryError::NotAnAttribute {
                path: path.to_owned(),
                target: target.to_owned(),
            })
        }
    }
}

/// Renders `query` against `schema`.
pub(crate) fn render(query: &Query, schema: Schema<'_>) -> Result<String, QueryError> {
    let root = schema.require(&query.entity)?;
    let kinds: HashMap<String, JoinKind> = query.joins.iter().cloned().collect();
    let mut from = From::new(schema, root, kinds);

    // Explicit joins first, so they come out in the order declared.
    for (path, _) in &query.joins {
        let resolved = from.resolve(path)?;
        if matches!(resolved.last.kind, FieldKind::Attribute(_)) {
            return Err(QueryError::AttributeNotRelation {
                path: path.clone(),
                clause: "JOIN",
            });
        }
        let mut full = resolved.clone();
        full.steps.push(step_for(&schema, resolved.last)?);
        from.variable(&full);
    }

    let select = render_select(query, &mut from)?;

    let mut where_parts = Vec::with_capacity(query.conditions.len());
    for c in &query.conditions {
        where_parts.push(render_condition(c, &mut from, true, Clause::Where)?);
    }

    let mut group_parts = Vec::with_capacity(query.group_by.len());
    for path in &query.group_by {
        group_parts.push(from.attribute(path)?.0);
    }
    check_grouping(query)?;
    if !query.having.is_empty() && query.group_by.is_empty() {
        return Err(QueryError::HavingNeedsGroupBy);
    }
    let mut having_parts = Vec::with_capacity(query.having.len());
    for c in &query.having {
        having_parts.push(render_condition(c, &mut from, true, Clause::Having)?);
    }

    let mut order_parts = Vec::with_capacity(query.order.len());
    for (path, dir) in &query.order {
        let (expr, _) = from.attribute(path)?;
        order_parts.push(match dir {
            Direction::Asc => expr,
            Direction::Desc => format!("{expr} DESC"),
        });
    }

    let include = render_include(query, &from)?;

    let mut out = format!("SELECT {select} FROM {}", from.clause());
    if !where_parts.is_empty() {
        out.push_str(" WHERE ");
        out.push_str(&where_parts.join(" AND "));
    }
    if !group_parts.is_empty() {
        out.push_str(" GROUP BY ");
        out.push_str(&group_parts.join(", "));
    }
    if !having_parts.is_empty() {
        out.push_str(" HAVING ");
        out.push_str(&having_parts.join(" AND "));
    }
    if !order_parts.is_empty() {
        out.push_str(" ORDER BY ");
        out.push_str(&order_parts.join(", "));
    }
    if let Some(include) = include {
        out.push(' ');
        out.push_str(&include);
    }
    if let Some((offset, count)) = query.limit {
        if count == 0 {
            return Err(QueryError::ZeroLimit);
        }
        out.push_str(&format!(" LIMIT {offset}, {count}"));
    }
    Ok(out)
}

fn step_for<'a>(schema: &Schema<'a>, field: &'a FieldMeta) -> Result<path::Step<'a>, QueryError> {
    schema.require(field.kind.target().unwrap_or_default())?;
    Ok(path::Step { field: field.name })
}

/// Attributes selected next to aggregates must be grouped, or the database refuses the query.
fn check_grouping(query: &Query) -> Result<(), QueryError> {
    let Selection::Items(items) = &query.selection else {
        if !query.group_by.is_empty() {
            return Err(QueryError::GroupByNeedsItems);
        }
        return Ok(());
    };
    if !query.has_aggregate() {
        return Ok(());
    }
    for item in items {
        if let SelectItem::Attribute(path) = item
            && !query.group_by.contains(path)
        {
            return Err(QueryError::NotGrouped { path: path.clone() });
        }
    }
    Ok(())
}

fn aggregate_name(func: Aggregate) -> &'static str {
    match func {
        Aggregate::Count | Aggregate::CountDistinct => "COUNT",
        Aggregate::Min => "MIN",
        Aggregate::Max => "MAX",
        Aggregate::Avg => "AVG",
        Aggregate::Sum => "SUM",
    }
}

/// `FUNC([DISTINCT ]arg)` and the type of the value it gives (`None` for a COUNT).
fn render_aggregate(
    func: Aggregate,
    path: Option<&str>,
    distinct: bool,
    from: &mut From<'_>,
) -> Result<(String, AttrType), QueryError> {
    let name = aggregate_name(func);
    let is_count = matches!(func, Aggregate::Count | Aggregate::CountDistinct);
    let (arg, ty) = match path {
        None => (from.root_alias.clone(), None),
        Some(p) => {
            let resolved = from.resolve(p)?;
            match resolved.last.kind {
                FieldKind::Attribute(ty) => {
                    let var = from.variable(&resolved);
                    (format!("{var}.{}", resolved.last.name), Some(ty))
                }
                // COUNT over a relation counts the related objects: join it, count its variable.
                FieldKind::One { .. } | FieldKind::Many { .. } if is_count => {
                    let mut full = resolved.clone();
                    full.steps.push(step_for(&from.schema, resolved.last)?);
                    (from.variable(&full), None)
                }
                FieldKind::One { target } | FieldKind::Many { target, .. } => {
                    return Err(QueryError::NotAnAttribute {
                        path: p.to_owned(),
                        target: target.to_owned(),
                    });
                }
            }
        }
    };
    let value_ty = match (func, ty) {
        (Aggregate::Count | Aggregate::CountDistinct, _) => AttrType::Long,
        (_, None) => return Err(QueryError::AggregateNeedsAttribute { func: name }),
        (Aggregate::Avg | Aggregate::Sum, Some(ty))
            if !matches!(ty, AttrType::Long | AttrType::Int | AttrType::Double) =>
        {
            return Err(QueryError::OperatorMismatch {
                path: path.unwrap_or_default().to_owned(),
                op: name,
                ty: attr_type_name(ty),
            });
        }
        (Aggregate::Avg, Some(_)) => AttrType::Double,
        (_, Some(ty)) => ty,
    };
    let inner_distinct = if func == Aggregate::CountDistinct || distinct {
        "DISTINCT "
    } else {
        ""
    };
    Ok((format!("{name}({inner_distinct}{arg})"), value_ty))
}

fn render_select(query: &Query, from: &mut From<'_>) -> Result<String, QueryError> {
    let distinct = if query.distinct { "DISTINCT " } else { "" };
    match &query.selection {
        Selection::Entity => Ok(format!("{distinct}{}", from.root_alias)),
        // A lone aggregate keeps DISTINCT inside it: `COUNT(DISTINCT x)`.
        Selection::Items(items)
            if items.len() == 1 && matches!(items[0], SelectItem::Aggregate { .. }) =>
        {
            let SelectItem::Aggregate { func, path } = &items[0] else {
                return Err(QueryError::EmptyGroup);
            };
            Ok(render_aggregate(*func, path.as_deref(), query.distinct, from)?.0)
        }
        Selection::Items(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                parts.push(match item {
                    SelectItem::Attribute(p) => from.attribute(p)?.0,
                    SelectItem::Aggregate { func, path } => {
                        render_aggregate(*func, path.as_deref(), false, from)?.0
                    }
                });
            }
            Ok(format!("{distinct}{}", parts.join(", ")))
        }
    }
}

fn render_condition(
    c: &Condition,
    from: &mut From<'_>,
    top: bool,
    clause: Clause,
) -> Result<String, QueryError> {
    match c {
        Condition::Aggregate {
            func,
            path,
            op,
            value,
        } => {
            if clause == Clause::Where {
                return Err(QueryError::AggregateInWhere {
                    func: aggregate_name(*func),
                });
            }
            let (expr, ty) = render_aggregate(*func, path.as_deref(), false, from)?;
            let label = path.as_deref().unwrap_or(aggregate_name(*func));
            if matches!(op, CompareOp::Like | CompareOp::NotLike) && ty != AttrType::String {
                return Err(QueryError::OperatorMismatch {
                    path: label.to_owned(),
                    op: op.jpql(),
                    ty: attr_type_name(ty),
                });
            }
            Ok(format!("{expr} {} {}", op.jpql(), value.render(ty, label)?))
        }
        Condition::Match {
            path,
            kind,
            text,
            negated,
        } => {
            let (expr, ty) = from.attribute(path)?;
            if ty != AttrType::String {
                return Err(QueryError::OperatorMismatch {
                    path: path.clone(),
                    op: "LIKE",
                    ty: attr_type_name(ty),
                });
            }
            let escaped = escape_like(text);
            let pattern = match kind {
                MatchKind::Contains => format!("%{escaped}%"),
                MatchKind::StartsWith => format!("{escaped}%"),
                MatchKind::EndsWith => format!("%{escaped}"),
            };
            let kw = if *negated { "NOT LIKE" } else { "LIKE" };
            Ok(format!(
                "{expr} {kw} {} ESCAPE '{LIKE_ESCAPE}'",
                quote_string(&pattern, path)?
            ))
        }
        Condition::Compare { path, op, value } => {
            let (expr, ty) = from.attribute(path)?;
            if matches!(op, CompareOp::Like | CompareOp::NotLike) && ty != AttrType::String {
                return Err(QueryError::OperatorMismatch {
                    path: path.clone(),
                    op: op.jpql(),
                    ty: attr_type_name(ty),
                });
            }
            if matches!(ty, AttrType::Boolean | AttrType::Enum(_))
                && !matches!(op, CompareOp::Eq | CompareOp::Ne)
            {
                return Err(QueryError::OperatorMismatch {
                    path: path.clone(),
                    op: op.jpql(),
                    ty: attr_type_name(ty),
                });
            }
            Ok(format!("{expr} {} {}", op.jpql(), value.render(ty, path)?))
        }
        Condition::In {
            path,
            values,
            negated,
        } => {
            if values.is_empty() {
                return Err(QueryError::EmptyIn { path: path.clone() });
            }
            if values.len() > MAX_IN_VALUES {
                return Err(QueryError::TooManyInValues {
                    path: path.clone(),
                    count: values.len(),
                    max: MAX_IN_VALUES,
                });
            }
            let (expr, ty) = from.attribute(path)?;
            let rendered = values
                .iter()
                .map(|v| v.render(ty, path))
                .collect::<Result<Vec<_>, _>>()?;
            let kw = if *negated { "NOT IN" } else { "IN" };
            Ok(format!("{expr} {kw} ({})", rendered.join(", ")))
        }
        Condition::Between { path, low, high } => {
            let (expr, ty) = from.attribute(path)?;
            Ok(format!(
                "{expr} BETWEEN {} AND {}",
                low.render(ty, path)?,
                high.render(ty, path)?
            ))
        }
        Condition::Null { path, negated } => {
            let resolved = from.resolve(path)?;
            let expr = match resolved.last.kind {
                FieldKind::Attribute(_) | FieldKind::One { .. } => {
                    let var = from.variable(&resolved);
                    format!("{var}.{}", resolved.last.name)
                }
                FieldKind::Many { target, .. } => {
                    return Err(QueryError::NotAnAttribute {
                        path: path.clone(),
                        target: target.to_owned(),
                    });
                }
            };
            let kw = if *negated { "IS NOT NULL" } else { "IS NULL" };
            Ok(format!("{expr} {kw}"))
        }
        Condition::All(cs) | Condition::Any(cs) => {
            if cs.is_empty() {
                return Err(QueryError::EmptyGroup);
            }
            let sep = if matches!(c, Condition::All(_)) {
                " AND "
            } else {
                " OR "
            };
            let parts = cs
                .iter()
                .map(|c| render_condition(c, from, false, clause))
                .collect::<Result<Vec<_>, _>>()?;
            if parts.len() == 1 {
                return Ok(parts.into_iter().next().unwrap_or_default());
            }
            let joined = parts.join(sep);
            if top && sep == " AND " {
                Ok(joined)
            } else {
                Ok(format!("({joined})"))
            }
        }
        Condition::Not(inner) => Ok(format!(
            "NOT ({})",
            render_condition(inner, from, false, clause)?
        )),
    }
}

fn render_include(query: &Query, from: &From<'_>) -> Result<Option<String>, QueryError> {
    let wants = match &query.include {
        Include::ManyToOne => true,
        Include::Paths(paths) => !paths.is_empty(),
    };
    if !wants {
        return Ok(None);
    }
    if query.selection != Selection::Entity {
        return Err(QueryError::IncludeNeedsEntity);
    }
    let paths = match &query.include {
        Include::ManyToOne => return Ok(Some("INCLUDE 1".to_owned())),
        Include::Paths(paths) => paths,
    };
    for p in paths {
        let resolved = from.resolve(p)?;
        if matches!(resolved.last.kind, FieldKind::Attribute(_)) {
            return Err(QueryError::AttributeNotRelation {
                path: p.clone(),
                clause: "INCLUDE",
            });
        }
    }
    // Drop duplicates and paths that a longer path already includes (its steps are included too).
    let mut kept: Vec<&String> = Vec::new();
    for p in paths {
        let covered = paths.iter().any(|q| {
            q.len() > p.len() && q.starts_with(p.as_str()) && q[p.len()..].starts_with('.')
        });
        if !covered && !kept.contains(&p) {
            kept.push(p);
        }
    }
    let items: Vec<String> = kept
        .iter()
        .map(|p| format!("{}.{p}", from.root_alias))
        .collect();
    Ok(Some(format!("INCLUDE {}", items.join(", "))))
}
