//! Resolving paths (`ds.investigation.name`) and joins (`JOIN`, concise `A <-> B`) to SQL.

use std::collections::HashMap;

use icat_soap::meta::{AttrType, EntityMeta, FieldKind, FieldMeta};

use super::super::ast::*;
use super::super::error::JpqlError;
use super::{Compiler, Resolved, Ty, Typed, display_path, q};

impl Compiler<'_> {
    /// The `ONE` field on the target of a `MANY` field that points back to `owner`.
    pub(super) fn back_ref(
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
    pub(super) fn join_step(
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
    pub(super) fn implicit_join(
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
    pub(super) fn resolve(&mut self, path: &Path, join_last: bool) -> Result<Resolved, JpqlError> {
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
    pub(super) fn path_value(&mut self, path: &Path) -> Result<Typed, JpqlError> {
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

    pub(super) fn collection(
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

    pub(super) fn join(&mut self, join: &Join) -> Result<(), JpqlError> {
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
