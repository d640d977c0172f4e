//! The old "concise" query syntax (`Dataset INCLUDE 1 [name = 'x'] <-> Investigation [...]`) and
//! the `get` query syntax, both translated into the JPQL syntax tree.
//!
//! The concise grammar is icat.server's `oldparser/OldSearchQuery.java` (6.2.0):
//! `[offset] , [count]` (either part may be left out), then either an aggregate
//! `MAX (Entity.attr)` or `[DISTINCT] Entity[.attr...]` followed directly by `ORDER BY attr
//! [ASC|DESC], ...` (relative to the first entity) and, for a whole entity only, `INCLUDE 1` or
//! `INCLUDE Type, Type` (the two in either order); then an optional `[condition]` on the first
//! entity (bare names are its fields; bare enum names such as `NUMERIC` are allowed) and further
//! entities linked with `<->` (by their unique direct relationship or, failing that, the unique
//! shortest chain of relationships), each with an optional condition. So
//! `Investigation INCLUDE Dataset [name = 'x']` is the investigation named x with its datasets,
//! and an ORDER BY or INCLUDE after a condition is refused, as ICAT refuses it.

use super::ast::*;
use super::error::JpqlError;
use super::parser::Parser;
use super::token::{Tok, tokenize};

/// The identification variable the translation gives to an entity, e.g. `Dataset$`.
pub fn concise_var(entity: &str) -> String {
    format!("{entity}$")
}

/// Parses a query in the concise syntax.
pub fn parse_concise(query: &str) -> Result<Query, JpqlError> {
    let mut p = Parser::new(tokenize(query)?, None);
    let limit = paging_prefix(&mut p)?;
    let distinct = p.eat_kw("DISTINCT");
    let aggregate = aggregate_start(&mut p)?;
    let (entity, pos) = p.ident("an entity name")?;
    let var = concise_var(&entity);
    let mut fields = Vec::new();
    while p.eat_punct(".") {
        fields.push(p.ident("a field name")?.0);
    }
    let mut select = Expr::Path(Path {
        var: var.clone(),
        fields,
        pos,
    });
    if let Some((func, agg_distinct, agg_pos)) = aggregate {
        p.expect_punct(")")?;
        select = Expr::Aggregate {
            func,
            distinct: agg_distinct,
            arg: Box::new(select),
            pos: agg_pos,
        };
    }
    // OldSearchQuery: an aggregate takes nothing more here; otherwise ORDER BY and, for a whole
    // entity only, INCLUDE follow the name directly, in either order (INCLUDE first, or ORDER BY
    // first), before any condition.
    let mut order_by = Vec::new();
    let mut include = None;
    if aggregate.is_none() {
        let simple = matches!(&select, Expr::Path(path) if path.fields.is_empty());
        if p.peek().is_kw("ORDER") {
            order_by = concise_order_by(&mut p, &var)?;
            if simple && p.eat_kw("INCLUDE") {
                include = Some(type_include(&mut p)?);
            }
        } else {
            if simple && p.eat_kw("INCLUDE") {
                include = Some(type_include(&mut p)?);
            }
            if p.peek().is_kw("ORDER") {
                order_by = concise_order_by(&mut p, &var)?;
            }
        }
    }
    let mut conditions = Vec::new();
    if let Some(c) = bracket_condition(&mut p, &var)? {
        conditions.push(c);
    }
    let mut joins = Vec::new();
    let mut prev = var.clone();
    while !matches!(p.peek().tok, Tok::Eof) {
        p.expect_punct("<->")?;
        let (other, opos) = p.ident("an entity name")?;
        let ovar = concise_var(&other);
        joins.push(Join {
            kind: JoinKind::Inner,
            target: JoinTarget::Route {
                from_var: prev.clone(),
                entity: other,
                pos: opos,
            },
            alias: Some(ovar.clone()),
        });
        if let Some(c) = bracket_condition(&mut p, &ovar)? {
            conditions.push(c);
        }
        prev = ovar;
    }
    p.expect_eof()?;
    let where_clause = conditions
        .into_iter()
        .reduce(|a, b| Expr::Binary(BinOp::And, Box::new(a), Box::new(b)));
    Ok(Query {
        distinct,
        select: vec![select],
        from: vec![FromItem {
            source: FromSource::Entity(entity),
            alias: var,
            pos,
            joins,
        }],
        where_clause,
        group_by: Vec::new(),
        having: None,
        order_by,
        include,
        limit,
    })
}

/// `ORDER BY attr [ASC|DESC], ...` with bare names relative to the first entity.
fn concise_order_by(p: &mut Parser, var: &str) -> Result<Vec<OrderItem>, JpqlError> {
    p.implicit_var = Some(var.to_string());
    let items = p.order_by()?;
    p.implicit_var = None;
    Ok(items)
}

/// `[offset] , [count]` before the entity name.
fn paging_prefix(p: &mut Parser) -> Result<Option<Limit>, JpqlError> {
    let starts = matches!(p.peek().tok, Tok::Integer(_)) || p.peek().is_punct(",");
    if !starts {
        return Ok(None);
    }
    let offset = if p.peek().is_punct(",") {
        0
    } else {
        p.non_negative("an offset")?
    };
    p.expect_punct(",")?;
    let count = if matches!(p.peek().tok, Tok::Integer(_)) {
        Some(p.non_negative("a count")?)
    } else {
        None
    };
    Ok(Some(Limit { offset, count }))
}

/// `MAX (` / `COUNT (DISTINCT` before the entity; returns the aggregate and its position.
fn aggregate_start(p: &mut Parser) -> Result<Option<(AggFunc, bool, usize)>, JpqlError> {
    let t = p.peek().clone();
    let func = match t.tok {
        Tok::Keyword("COUNT") => AggFunc::Count,
        Tok::Keyword("MIN") => AggFunc::Min,
        Tok::Keyword("MAX") => AggFunc::Max,
        Tok::Keyword("AVG") => AggFunc::Avg,
        Tok::Keyword("SUM") => AggFunc::Sum,
        _ => return Ok(None),
    };
    p.advance();
    p.expect_punct("(")?;
    let distinct = p.eat_kw("DISTINCT");
    Ok(Some((func, distinct, t.pos)))
}

/// `[condition]` with bare names resolved against `var`.
fn bracket_condition(p: &mut Parser, var: &str) -> Result<Option<Expr>, JpqlError> {
    if !p.eat_punct("[") {
        return Ok(None);
    }
    p.implicit_var = Some(var.to_string());
    let e = p.expr()?;
    p.implicit_var = None;
    p.expect_punct("]")?;
    Ok(Some(e))
}

/// `1` or `Type, Type, ...` after INCLUDE in old-style queries.
fn type_include(p: &mut Parser) -> Result<Include, JpqlError> {
    if let Tok::Integer(n) = p.peek().tok {
        if n != 1 {
            let t = p.peek();
            return Err(JpqlError::syntax(
                "Only INCLUDE 1 is allowed as a number",
                &t.text,
                t.pos,
            ));
        }
        p.advance();
        return Ok(Include::One);
    }
    let mut types = vec![p.ident("an entity name")?];
    while p.eat_punct(",") {
        types.push(p.ident("an entity name")?);
    }
    Ok(Include::Types(types))
}

/// Parses a `get` query: `Entity`, `Entity [AS] var [INCLUDE path [AS] v, ...]`,
/// `Entity INCLUDE 1` or the old `Entity INCLUDE Type, Type`.
///
/// The result is the equivalent `SELECT var FROM Entity var INCLUDE ...` (no WHERE; the caller
/// looks the object up by primary key).
pub fn parse_get(query: &str) -> Result<Query, JpqlError> {
    let mut p = Parser::new(tokenize(query)?, None);
    let (entity, pos) = p.ident("an entity name")?;
    let mut var = concise_var(&entity);
    let include = if p.eat_kw("INCLUDE") {
        Some(type_include(&mut p)?)
    } else {
        let had_as = p.eat_kw("AS");
        if matches!(p.peek().tok, Tok::Ident(_)) {
            var = p.ident("an identification variable")?.0;
            if p.eat_kw("INCLUDE") {
                Some(steps_include(&mut p)?)
            } else {
                None
            }
        } else if had_as {
            return Err(p.unexpected("an identification variable"));
        } else {
            None
        }
    };
    p.expect_eof()?;
    Ok(Query {
        distinct: false,
        select: vec![Expr::Path(Path {
            var: var.clone(),
            fields: Vec::new(),
            pos,
        })],
        from: vec![FromItem {
            source: FromSource::Entity(entity),
            alias: var,
            pos,
            joins: Vec::new(),
        }],
        where_clause: None,
        group_by: Vec::new(),
        having: None,
        order_by: Vec::new(),
        include,
        limit: None,
    })
}

/// New-style INCLUDE steps (or `1`) in a get query.
fn steps_include(p: &mut Parser) -> Result<Include, JpqlError> {
    if matches!(p.peek().tok, Tok::Integer(_)) {
        return type_include(p);
    }
    let mut steps = Vec::new();
    loop {
        let (first, pos) = p.ident("a path")?;
        let mut fields = Vec::new();
        while p.eat_punct(".") {
            fields.push(p.ident("a field name")?.0);
        }
        if fields.is_empty() {
            return Err(JpqlError::syntax(
                "Expected a relationship path in INCLUDE",
                &first,
                pos,
            ));
        }
        p.eat_kw("AS");
        let alias = match &p.peek().tok {
            Tok::Ident(_) => Some(p.ident("an identification variable")?.0),
            _ => None,
        };
        steps.push(IncludeStep {
            path: Path {
                var: first,
                fields,
                pos,
            },
            alias,
        });
        if !p.eat_punct(",") {
            break;
        }
    }
    Ok(Include::Steps(steps))
}
