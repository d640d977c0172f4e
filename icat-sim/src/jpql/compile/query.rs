//! One SELECT (the top query or a subquery): FROM items, select list, clauses and LIMIT.

use icat_soap::meta::FieldKind;
use rusqlite::types::Value;

use super::super::ast::*;
use super::super::error::JpqlError;
use super::{Compiler, Level, Resolved, Shape, column_type, display_path, q};

impl Compiler<'_> {
    // ---- queries ----

    pub(super) fn query(&mut self, query: &Query, top: bool) -> Result<(String, Shape), JpqlError> {
        self.levels.push(Level::default());
        let result = self.query_body(query, top);
        self.levels.pop();
        result
    }

    pub(super) fn query_body(
        &mut self,
        query: &Query,
        top: bool,
    ) -> Result<(String, Shape), JpqlError> {
        for (i, item) in query.from.iter().enumerate() {
            self.range_item(item, i == 0)?;
        }
        let where_sql = match &query.where_clause {
            Some(e) => Some(self.expr(e)?.sql),
            None => None,
        };
        let (select_sql, shape) = self.select(query)?;
        if top && self.opts.restrictions.is_some() {
            self.authorize(query)?;
        }
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

    pub(super) fn range_item(&mut self, item: &FromItem, first: bool) -> Result<(), JpqlError> {
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
    pub(super) fn flush_implicit(&mut self) {
        let level = self.level();
        let joins = std::mem::take(&mut level.implicit);
        for j in joins {
            level.from.push_str(&j);
        }
    }

    pub(super) fn select(&mut self, query: &Query) -> Result<(String, Shape), JpqlError> {
        if let [Expr::Path(path)] = query.select.as_slice()
            && let Resolved::Entity { id_sql, entity } = self.resolve(path, true)?
        {
            return Ok((
                id_sql,
                Shape::Entity {
                    name: entity.name,
                    include: Vec::new(),
                },
            ));
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

    /// Adds the read restrictions for the top-level select items, as ICAT's `SearchQuery` does:
    /// every path in the SELECT clause is restricted on the last entity it reaches (`ds` for
    /// `ds.name` or `COUNT(ds)`, the investigation for `ds.investigation`).
    fn authorize(&mut self, query: &Query) -> Result<(), JpqlError> {
        let mut paths = Vec::new();
        for item in &query.select {
            select_paths(item, &mut paths);
        }
        let mut done = Vec::new();
        for path in paths {
            let var = self.find_var(&path.var, path.pos)?;
            let mut entity = var.entity;
            let mut entity_len = 0;
            for (i, name) in path.fields.iter().enumerate() {
                match entity.field(name).map(|f| f.kind) {
                    Some(FieldKind::One { target }) => {
                        entity = self.entity(target, path.pos)?;
                        entity_len = i + 1;
                    }
                    _ => break,
                }
            }
            let prefix = Path {
                var: path.var.clone(),
                fields: path.fields[..entity_len].to_vec(),
                pos: path.pos,
            };
            if let Resolved::Entity { id_sql, entity } = self.resolve(&prefix, false)?
                && !done.contains(&id_sql)
            {
                self.restrict(entity, &id_sql);
                done.push(id_sql);
            }
        }
        Ok(())
    }
}

/// The paths of a select item (not looking into subqueries, whose variables are their own).
fn select_paths<'q>(e: &'q Expr, out: &mut Vec<&'q Path>) {
    match e {
        Expr::Path(p) => out.push(p),
        Expr::Lit(_) | Expr::Param { .. } | Expr::Subquery(_) | Expr::Exists { .. } => {}
        Expr::Not(x) | Expr::Neg(x) => select_paths(x, out),
        Expr::Binary(_, l, r) => {
            select_paths(l, out);
            select_paths(r, out);
        }
        Expr::Like {
            expr,
            pattern,
            escape,
            ..
        } => {
            select_paths(expr, out);
            select_paths(pattern, out);
            if let Some(x) = escape {
                select_paths(x, out);
            }
        }
        Expr::InList { expr, list, .. } => {
            select_paths(expr, out);
            for x in list {
                select_paths(x, out);
            }
        }
        Expr::InSubquery { expr, .. } | Expr::IsNull { expr, .. } => select_paths(expr, out),
        Expr::Between {
            expr, low, high, ..
        } => {
            select_paths(expr, out);
            select_paths(low, out);
            select_paths(high, out);
        }
        Expr::IsEmpty { path, .. } => out.push(path),
        Expr::MemberOf { expr, path, .. } => {
            select_paths(expr, out);
            out.push(path);
        }
        Expr::Func { args, .. } => {
            for x in args {
                select_paths(x, out);
            }
        }
        Expr::Trim { chars, expr, .. } => {
            if let Some(c) = chars {
                select_paths(c, out);
            }
            select_paths(expr, out);
        }
        Expr::Aggregate { arg, .. } => select_paths(arg, out),
    }
}
