//! INCLUDE clauses resolved to a tree of relationships to fill in.

use icat_soap::meta::{EntityMeta, FieldKind};

use super::super::ast::*;
use super::super::error::JpqlError;
use super::{Compiler, IncludeNode, Shape, display_path};

impl Compiler<'_> {
    // ---- INCLUDE ----

    pub(super) fn include(&mut self, query: &Query, shape: Shape) -> Result<Shape, JpqlError> {
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
}

/// Arena used while resolving INCLUDE paths; node 0 is the result entity.
#[derive(Default)]
struct IncludeTree {
    nodes: Vec<(usize, IncludeNode)>,
}

impl IncludeTree {
    /// The child of `parent` via `field`, created if new; returns its index.
    pub(super) fn child(
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
    pub(super) fn build(&self, parent: usize) -> Vec<IncludeNode> {
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
