//! Access rules: an ICAT `Rule.what` compiled to the set of ids it grants (ICAT's `searchJPQL`),
//! ready to be used as a [`Restriction`] when compiling searches for a user.

use super::ast::{Expr, Path, Query};
use super::compile::{CompileOptions, Restriction, Shape, compile_with};
use super::error::JpqlError;

/// A compiled access rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleQuery {
    /// The entity the rule is about (ICAT's `bean`).
    pub entity: &'static str,
    /// False when the rule has no WHERE condition (ICAT's `restricted`): it grants every row of
    /// the entity. An unrestricted rule without a grouping makes the table public.
    pub restricted: bool,
    /// The attribute the rule selects (`SELECT o.name FROM Dataset o`): such rules only allow
    /// updating that attribute (ICAT's `Rule.attribute`).
    pub attribute: Option<String>,
    /// The rows the rule grants: `SELECT <id> FROM ... WHERE ...` with `:user` bound.
    pub grants: Restriction,
}

/// Compiles a rule's `what` (JPQL `SELECT x[.attr] FROM ... [WHERE ...]` or the concise syntax,
/// e.g. `Grouping <-> UserGroup <-> User [name=:user]` or a bare entity name) for `user`.
///
/// Rules may not have INCLUDE, LIMIT or ORDER BY, and must select an identification variable or
/// one of its attributes.
pub fn compile_rule(
    what: &str,
    user: &str,
    opts: &CompileOptions<'_>,
) -> Result<RuleQuery, JpqlError> {
    let mut query: Query = super::parse(what)?;
    if query.include.is_some() || query.limit.is_some() || !query.order_by.is_empty() {
        return Err(JpqlError::invalid(
            "A rule may not have INCLUDE, LIMIT or ORDER BY",
            0,
        ));
    }
    let (var, attribute) = match query.select.as_slice() {
        [Expr::Path(p)] if p.fields.len() <= 1 => (
            Path {
                var: p.var.clone(),
                fields: Vec::new(),
                pos: p.pos,
            },
            p.fields.first().cloned(),
        ),
        _ => {
            return Err(JpqlError::invalid(
                "A rule must select an identification variable or one of its attributes",
                0,
            ));
        }
    };
    query.select = vec![Expr::Path(var)];
    query.distinct = false;
    let restricted = query.where_clause.is_some();
    let compiled = compile_with(
        &query,
        user,
        &CompileOptions {
            restrictions: None,
            ..opts.clone()
        },
    )?;
    let Shape::Entity { name, .. } = compiled.shape else {
        return Err(JpqlError::invalid(
            "A rule must select an identification variable",
            0,
        ));
    };
    Ok(RuleQuery {
        entity: name,
        restricted,
        attribute,
        grants: Restriction::IdsIn {
            sql: compiled.sql,
            params: compiled.params,
            clock: compiled.clock,
        },
    })
}
