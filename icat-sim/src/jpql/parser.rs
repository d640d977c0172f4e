//! Recursive-descent parser for ICAT's JPQL dialect (`SELECT ... FROM ... INCLUDE ... LIMIT ...`).
//!
//! Grammar (from ICAT's `SearchQuery`): `select from [where] [group by] [having] [order by]`
//! followed by INCLUDE and LIMIT in either order. The expression parser is shared with the
//! concise-syntax parser in [`super::concise`], which resolves bare names against one entity.

use super::ast::*;
use super::error::JpqlError;
use super::token::{Tok, Token, tokenize};

/// Values of the ICAT enums, for bare enum names in the concise syntax.
pub(crate) const ENUM_VALUES: &[(&str, &[&str])] = &[
    (
        "ParameterValueType",
        &["DATE_AND_TIME", "NUMERIC", "STRING"],
    ),
    (
        "StudyStatus",
        &["NEW", "IN_PROGRESS", "COMPLETE", "CANCELLED"],
    ),
];

/// Parses a JPQL `search` query.
pub fn parse_jpql(query: &str) -> Result<Query, JpqlError> {
    let mut p = Parser::new(tokenize(query)?, None);
    let q = p.query(true)?;
    p.expect_eof()?;
    Ok(q)
}

/// Token cursor and the grammar rules.
pub(crate) struct Parser {
    toks: Vec<Token>,
    idx: usize,
    /// In concise mode, the variable that bare attribute names belong to.
    pub(crate) implicit_var: Option<String>,
    /// Current nesting of expressions, bounded by [`MAX_DEPTH`].
    depth: usize,
    /// Binary operators read so far, bounded by [`MAX_OPERATORS`].
    operators: usize,
}

/// Deepest expression nesting accepted (parentheses, NOT, unary minus, subqueries), so that a
/// hostile query cannot exhaust the stack.
const MAX_DEPTH: usize = 50;

/// Most binary operators (`OR`, `AND`, `+`, `-`, `*`, `/`) in one query. A chain `a OR b OR …`
/// is a tree as deep as it is long, and everything that walks it recurses: 40,000 ORs overflowed
/// the stack and aborted the whole simulator. SQLite refuses expressions deeper than 1000 anyway.
const MAX_OPERATORS: usize = 1000;

impl Parser {
    pub(crate) fn new(toks: Vec<Token>, implicit_var: Option<String>) -> Self {
        Parser {
            toks,
            idx: 0,
            depth: 0,
            operators: 0,
            implicit_var,
        }
    }

    pub(crate) fn peek(&self) -> &Token {
        &self.toks[self.idx.min(self.toks.len() - 1)]
    }

    pub(crate) fn peek_at(&self, n: usize) -> &Token {
        &self.toks[(self.idx + n).min(self.toks.len() - 1)]
    }

    /// Moves past the current token (never past the end marker).
    pub(crate) fn advance(&mut self) {
        if self.idx < self.toks.len() - 1 {
            self.idx += 1;
        }
    }

    pub(crate) fn eat_kw(&mut self, kw: &str) -> bool {
        if self.peek().is_kw(kw) {
            self.idx += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn eat_punct(&mut self, p: &str) -> bool {
        if self.peek().is_punct(p) {
            self.idx += 1;
            true
        } else {
            false
        }
    }

    pub(crate) fn unexpected(&self, expected: &str) -> JpqlError {
        let t = self.peek();
        JpqlError::syntax(&format!("Expected {expected}"), &t.text, t.pos)
    }

    pub(crate) fn expect_kw(&mut self, kw: &str) -> Result<(), JpqlError> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.unexpected(kw))
        }
    }

    pub(crate) fn expect_punct(&mut self, p: &str) -> Result<(), JpqlError> {
        if self.eat_punct(p) {
            Ok(())
        } else {
            Err(self.unexpected(&format!("'{p}'")))
        }
    }

    pub(crate) fn expect_eof(&self) -> Result<(), JpqlError> {
        if matches!(self.peek().tok, Tok::Eof) {
            Ok(())
        } else {
            let t = self.peek();
            Err(JpqlError::syntax(
                "Unexpected trailing input",
                &t.text,
                t.pos,
            ))
        }
    }

    pub(crate) fn ident(&mut self, what: &str) -> Result<(String, usize), JpqlError> {
        match &self.peek().tok {
            Tok::Ident(s) => {
                let s = s.clone();
                let pos = self.peek().pos;
                self.advance();
                Ok((s, pos))
            }
            _ => Err(self.unexpected(what)),
        }
    }

    /// `select from [where] [group by] [having] [order by]`, then (top level only) INCLUDE and LIMIT
    /// in either order.
    pub(crate) fn query(&mut self, top: bool) -> Result<Query, JpqlError> {
        self.expect_kw("SELECT")?;
        let distinct = self.eat_kw("DISTINCT");
        let mut select = vec![self.select_item()?];
        while self.eat_punct(",") {
            select.push(self.select_item()?);
        }
        self.expect_kw("FROM")?;
        let from = self.range_clause()?;
        let where_clause = if self.eat_kw("WHERE") {
            Some(self.expr()?)
        } else {
            None
        };
        let mut group_by = Vec::new();
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            group_by.push(self.expr()?);
            while self.eat_punct(",") {
                group_by.push(self.expr()?);
            }
        }
        let having = if self.eat_kw("HAVING") {
            Some(self.expr()?)
        } else {
            None
        };
        let order_by = if top && self.peek().is_kw("ORDER") {
            self.order_by()?
        } else {
            Vec::new()
        };
        let mut include = None;
        let mut limit = None;
        if top {
            for _ in 0..2 {
                if include.is_none() && self.eat_kw("INCLUDE") {
                    include = Some(self.include_clause()?);
                } else if limit.is_none() && self.eat_kw("LIMIT") {
                    limit = Some(self.limit_clause()?);
                }
            }
        }
        Ok(Query {
            distinct,
            select,
            from,
            where_clause,
            group_by,
            having,
            order_by,
            include,
            limit,
        })
    }

    fn select_item(&mut self) -> Result<Expr, JpqlError> {
        // `OBJECT(x)` is plain JPQL for `x`.
        if self.peek().is_kw("OBJECT") && self.peek_at(1).is_punct("(") {
            self.advance();
            self.advance();
            let e = self.expr()?;
            self.expect_punct(")")?;
            return Ok(e);
        }
        self.expr()
    }

    fn range_clause(&mut self) -> Result<Vec<FromItem>, JpqlError> {
        let mut items = vec![self.range_item()?];
        while self.eat_punct(",") {
            items.push(self.range_item()?);
        }
        Ok(items)
    }

    fn range_item(&mut self) -> Result<FromItem, JpqlError> {
        let (name, pos) = self.ident("an entity name or a path")?;
        let source = if self.peek().is_punct(".") {
            let mut fields = Vec::new();
            while self.eat_punct(".") {
                fields.push(self.ident("a field name")?.0);
            }
            FromSource::Path(Path {
                var: name,
                fields,
                pos,
            })
        } else {
            FromSource::Entity(name)
        };
        self.eat_kw("AS");
        let (alias, _) = self.ident("an identification variable")?;
        let mut joins = Vec::new();
        loop {
            let kind = if self.peek().is_kw("JOIN") {
                JoinKind::Inner
            } else if self.peek().is_kw("INNER") && self.peek_at(1).is_kw("JOIN") {
                self.advance();
                JoinKind::Inner
            } else if self.peek().is_kw("LEFT") {
                self.advance();
                self.eat_kw("OUTER");
                if !self.peek().is_kw("JOIN") {
                    return Err(self.unexpected("JOIN"));
                }
                JoinKind::Left
            } else {
                break;
            };
            self.expect_kw("JOIN")?;
            self.eat_kw("FETCH");
            let path = self.path_expr()?;
            if path.fields.is_empty() {
                return Err(JpqlError::syntax(
                    "Expected a relationship path after JOIN",
                    &path.var,
                    path.pos,
                ));
            }
            self.eat_kw("AS");
            let alias = match &self.peek().tok {
                Tok::Ident(_) => Some(self.ident("an identification variable")?.0),
                _ => None,
            };
            joins.push(Join {
                kind,
                target: JoinTarget::Path(path),
                alias,
            });
        }
        Ok(FromItem {
            source,
            alias,
            pos,
            joins,
        })
    }

    /// `ident(.ident)*` as written (no implicit variable).
    fn path_expr(&mut self) -> Result<Path, JpqlError> {
        let (var, pos) = self.ident("a path")?;
        let mut fields = Vec::new();
        while self.eat_punct(".") {
            fields.push(self.ident("a field name")?.0);
        }
        Ok(Path { var, fields, pos })
    }

    pub(crate) fn order_by(&mut self) -> Result<Vec<OrderItem>, JpqlError> {
        self.expect_kw("ORDER")?;
        self.expect_kw("BY")?;
        let mut items = Vec::new();
        loop {
            let expr = self.expr()?;
            let descending = if self.eat_kw("DESC") {
                true
            } else {
                self.eat_kw("ASC");
                false
            };
            items.push(OrderItem { expr, descending });
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(items)
    }

    fn include_clause(&mut self) -> Result<Include, JpqlError> {
        if let Tok::Integer(n) = self.peek().tok {
            if n != 1 {
                let t = self.peek();
                return Err(JpqlError::syntax(
                    "Only INCLUDE 1 is allowed as a number",
                    &t.text,
                    t.pos,
                ));
            }
            self.advance();
            return Ok(Include::One);
        }
        let mut steps = Vec::new();
        loop {
            let path = self.path_expr()?;
            if path.fields.is_empty() {
                return Err(JpqlError::syntax(
                    "Expected a relationship path in INCLUDE",
                    &path.var,
                    path.pos,
                ));
            }
            self.eat_kw("AS");
            let alias = match &self.peek().tok {
                Tok::Ident(_) => Some(self.ident("an identification variable")?.0),
                _ => None,
            };
            steps.push(IncludeStep { path, alias });
            if !self.eat_punct(",") {
                break;
            }
        }
        Ok(Include::Steps(steps))
    }

    fn limit_clause(&mut self) -> Result<Limit, JpqlError> {
        let offset = self.non_negative("an offset")?;
        self.expect_punct(",")?;
        let count = if self.eat_punct("*") {
            None
        } else {
            Some(self.non_negative("a count or *")?)
        };
        Ok(Limit { offset, count })
    }

    pub(crate) fn non_negative(&mut self, what: &str) -> Result<u64, JpqlError> {
        match self.peek().tok {
            Tok::Integer(n) if n >= 0 => {
                self.advance();
                Ok(n as u64)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    // ---- expressions ----

    /// `expr := and (OR and)*`.
    pub(crate) fn expr(&mut self) -> Result<Expr, JpqlError> {
        self.enter()?;
        let e = self.or_expr();
        self.depth -= 1;
        e
    }

    /// Counts one level of nesting, failing beyond [`MAX_DEPTH`].
    fn enter(&mut self) -> Result<(), JpqlError> {
        if self.depth >= MAX_DEPTH {
            let t = self.peek();
            return Err(JpqlError::syntax(
                &format!("Expressions are nested more than {MAX_DEPTH} deep"),
                &t.text,
                t.pos,
            ));
        }
        self.depth += 1;
        Ok(())
    }

    /// Counts one binary operator, failing beyond [`MAX_OPERATORS`].
    fn operator(&mut self) -> Result<(), JpqlError> {
        if self.operators >= MAX_OPERATORS {
            let t = self.peek();
            return Err(JpqlError::syntax(
                &format!(
                    "More than {MAX_OPERATORS} operators in one query (use IN for long lists)"
                ),
                &t.text,
                t.pos,
            ));
        }
        self.operators += 1;
        Ok(())
    }

    fn or_expr(&mut self) -> Result<Expr, JpqlError> {
        let mut e = self.and_expr()?;
        while self.eat_kw("OR") {
            self.operator()?;
            let r = self.and_expr()?;
            e = Expr::Binary(BinOp::Or, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn and_expr(&mut self) -> Result<Expr, JpqlError> {
        let mut e = self.not_expr()?;
        while self.eat_kw("AND") {
            self.operator()?;
            let r = self.not_expr()?;
            e = Expr::Binary(BinOp::And, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn not_expr(&mut self) -> Result<Expr, JpqlError> {
        if self.peek().is_kw("NOT") && !self.peek_at(1).is_kw("EXISTS") {
            self.advance();
            self.enter()?;
            let e = self.not_expr();
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(e?)));
        }
        self.predicate()
    }

    fn predicate(&mut self) -> Result<Expr, JpqlError> {
        if self.peek().is_kw("EXISTS")
            || (self.peek().is_kw("NOT") && self.peek_at(1).is_kw("EXISTS"))
        {
            let negated = self.eat_kw("NOT");
            self.expect_kw("EXISTS")?;
            self.expect_punct("(")?;
            let query = self.query(false)?;
            self.expect_punct(")")?;
            return Ok(Expr::Exists {
                query: Box::new(query),
                negated,
            });
        }
        let left = self.additive()?;
        let op = match &self.peek().tok {
            Tok::Punct("=") => Some(BinOp::Eq),
            Tok::Punct("<>") | Tok::Punct("!=") => Some(BinOp::Ne),
            Tok::Punct("<") => Some(BinOp::Lt),
            Tok::Punct("<=") => Some(BinOp::Le),
            Tok::Punct(">") => Some(BinOp::Gt),
            Tok::Punct(">=") => Some(BinOp::Ge),
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            let right = self.additive()?;
            return Ok(Expr::Binary(op, Box::new(left), Box::new(right)));
        }
        if self.eat_kw("IS") {
            let negated = self.eat_kw("NOT");
            if self.eat_kw("NULL") {
                return Ok(Expr::IsNull {
                    expr: Box::new(left),
                    negated,
                });
            }
            if self.peek().is_kw("EMPTY") {
                let t = self.peek().clone();
                self.advance();
                let Expr::Path(path) = left else {
                    return Err(JpqlError::syntax(
                        "IS EMPTY needs a collection-valued path",
                        &t.text,
                        t.pos,
                    ));
                };
                return Ok(Expr::IsEmpty { path, negated });
            }
            return Err(self.unexpected("NULL or EMPTY"));
        }
        let negated = self.peek().is_kw("NOT")
            && (self.peek_at(1).is_kw("LIKE")
                || self.peek_at(1).is_kw("IN")
                || self.peek_at(1).is_kw("BETWEEN")
                || self.peek_at(1).is_kw("MEMBER"));
        if negated {
            self.advance();
        }
        if self.eat_kw("LIKE") {
            let pattern = self.additive()?;
            let escape = if self.eat_kw("ESCAPE") {
                let pos = self.peek().pos;
                let escape = self.additive()?;
                // The JPQL grammar's escape character is one character; SQL refuses any other
                // string when the statement runs, so say so here, naming the clause.
                if let Expr::Lit(Literal::Str(s)) = &escape
                    && s.chars().count() != 1
                {
                    return Err(JpqlError::invalid(
                        format!(
                            "ESCAPE takes exactly one character, not a string of {} characters",
                            s.chars().count()
                        ),
                        pos,
                    ));
                }
                Some(Box::new(escape))
            } else {
                None
            };
            return Ok(Expr::Like {
                expr: Box::new(left),
                pattern: Box::new(pattern),
                escape,
                negated,
            });
        }
        if self.eat_kw("IN") {
            self.expect_punct("(")?;
            if self.peek().is_kw("SELECT") {
                let query = self.query(false)?;
                self.expect_punct(")")?;
                return Ok(Expr::InSubquery {
                    expr: Box::new(left),
                    query: Box::new(query),
                    negated,
                });
            }
            let mut list = vec![self.additive()?];
            while self.eat_punct(",") {
                list.push(self.additive()?);
            }
            self.expect_punct(")")?;
            return Ok(Expr::InList {
                expr: Box::new(left),
                list,
                negated,
            });
        }
        if self.eat_kw("BETWEEN") {
            let low = self.additive()?;
            self.expect_kw("AND")?;
            let high = self.additive()?;
            return Ok(Expr::Between {
                expr: Box::new(left),
                low: Box::new(low),
                high: Box::new(high),
                negated,
            });
        }
        if self.eat_kw("MEMBER") {
            self.eat_kw("OF");
            let path = self.path_with_implicit()?;
            return Ok(Expr::MemberOf {
                expr: Box::new(left),
                path,
                negated,
            });
        }
        if negated {
            return Err(self.unexpected("LIKE, IN, BETWEEN or MEMBER after NOT"));
        }
        Ok(left)
    }

    fn additive(&mut self) -> Result<Expr, JpqlError> {
        let mut e = self.multiplicative()?;
        loop {
            let op = if self.eat_punct("+") {
                BinOp::Add
            } else if self.eat_punct("-") {
                BinOp::Sub
            } else {
                break;
            };
            self.operator()?;
            let r = self.multiplicative()?;
            e = Expr::Binary(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn multiplicative(&mut self) -> Result<Expr, JpqlError> {
        let mut e = self.unary()?;
        loop {
            let op = if self.eat_punct("*") {
                BinOp::Mul
            } else if self.eat_punct("/") {
                BinOp::Div
            } else {
                break;
            };
            self.operator()?;
            let r = self.unary()?;
            e = Expr::Binary(op, Box::new(e), Box::new(r));
        }
        Ok(e)
    }

    fn unary(&mut self) -> Result<Expr, JpqlError> {
        if self.eat_punct("-") {
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return Ok(match e? {
                Expr::Lit(Literal::Integer(n)) => Expr::Lit(Literal::Integer(-n)),
                Expr::Lit(Literal::Real(x)) => Expr::Lit(Literal::Real(-x)),
                e => Expr::Neg(Box::new(e)),
            });
        }
        if self.eat_punct("+") {
            self.enter()?;
            let e = self.unary();
            self.depth -= 1;
            return e;
        }
        self.primary()
    }

    /// A path, resolved against the implicit variable in concise mode.
    fn path_with_implicit(&mut self) -> Result<Path, JpqlError> {
        let (first, pos) = self.ident("a path")?;
        let mut fields = Vec::new();
        while self.eat_punct(".") {
            fields.push(self.ident("a field name")?.0);
        }
        Ok(match &self.implicit_var {
            Some(var) => {
                fields.insert(0, first);
                Path {
                    var: var.clone(),
                    fields,
                    pos,
                }
            }
            None => Path {
                var: first,
                fields,
                pos,
            },
        })
    }

    fn primary(&mut self) -> Result<Expr, JpqlError> {
        let t = self.peek().clone();
        match &t.tok {
            Tok::Str(s) => {
                self.advance();
                Ok(Expr::Lit(Literal::Str(s.clone())))
            }
            Tok::Integer(n) => {
                self.advance();
                Ok(Expr::Lit(Literal::Integer(*n)))
            }
            Tok::Real(x) => {
                self.advance();
                Ok(Expr::Lit(Literal::Real(*x)))
            }
            Tok::Timestamp(ms) => {
                self.advance();
                Ok(Expr::Lit(Literal::Timestamp(*ms)))
            }
            Tok::Enum(ty, v) => {
                let Some((_, values)) = ENUM_VALUES.iter().find(|(n, _)| n == ty) else {
                    return Err(JpqlError::syntax(
                        &format!("org.icatproject.{ty} is not an ICAT enum"),
                        &t.text,
                        t.pos,
                    ));
                };
                if !values.contains(&v.as_str()) {
                    return Err(JpqlError::syntax(
                        &format!("{v} is not a value of {ty} (one of {})", values.join(", ")),
                        &t.text,
                        t.pos,
                    ));
                }
                self.advance();
                Ok(Expr::Lit(Literal::Enum(ty.clone(), v.clone())))
            }
            Tok::Param(name) => {
                self.advance();
                Ok(Expr::Param {
                    name: name.clone(),
                    pos: t.pos,
                })
            }
            Tok::Punct("(") => {
                self.advance();
                if self.peek().is_kw("SELECT") {
                    let query = self.query(false)?;
                    self.expect_punct(")")?;
                    return Ok(Expr::Subquery(Box::new(query)));
                }
                let e = self.expr()?;
                self.expect_punct(")")?;
                Ok(e)
            }
            Tok::Ident(name) => {
                let bare_enum = ENUM_VALUES
                    .iter()
                    .find(|(_, vals)| vals.contains(&name.as_str()))
                    .filter(|_| self.implicit_var.is_some() && !self.peek_at(1).is_punct("."));
                if let Some((ty, _)) = bare_enum {
                    self.advance();
                    return Ok(Expr::Lit(Literal::Enum(ty.to_string(), name.clone())));
                }
                Ok(Expr::Path(self.path_with_implicit()?))
            }
            Tok::Keyword(kw) => self.keyword_primary(kw, &t),
            _ => Err(self.unexpected("an expression")),
        }
    }

    fn keyword_primary(&mut self, kw: &str, t: &Token) -> Result<Expr, JpqlError> {
        let pos = t.pos;
        let simple = |func| Expr::Func {
            func,
            args: Vec::new(),
            pos,
        };
        match kw {
            "TRUE" | "FALSE" => {
                self.advance();
                Ok(Expr::Lit(Literal::Bool(kw == "TRUE")))
            }
            "NULL" => {
                self.advance();
                Ok(Expr::Lit(Literal::Null))
            }
            "CURRENT_TIMESTAMP" => {
                self.advance();
                Ok(simple(Func::CurrentTimestamp))
            }
            "CURRENT_DATE" => {
                self.advance();
                Ok(simple(Func::CurrentDate))
            }
            "CURRENT_TIME" => {
                self.advance();
                Ok(simple(Func::CurrentTime))
            }
            "COUNT" | "MIN" | "MAX" | "AVG" | "SUM" => {
                self.advance();
                let func = match kw {
                    "COUNT" => AggFunc::Count,
                    "MIN" => AggFunc::Min,
                    "MAX" => AggFunc::Max,
                    "AVG" => AggFunc::Avg,
                    _ => AggFunc::Sum,
                };
                self.expect_punct("(")?;
                let distinct = self.eat_kw("DISTINCT");
                let arg = self.expr()?;
                self.expect_punct(")")?;
                Ok(Expr::Aggregate {
                    func,
                    distinct,
                    arg: Box::new(arg),
                    pos,
                })
            }
            "TRIM" => {
                self.advance();
                self.expect_punct("(")?;
                let mut spec = TrimSpec::Both;
                let mut explicit_spec = false;
                if self.eat_kw("LEADING") {
                    spec = TrimSpec::Leading;
                    explicit_spec = true;
                } else if self.eat_kw("TRAILING") {
                    spec = TrimSpec::Trailing;
                    explicit_spec = true;
                } else if self.eat_kw("BOTH") {
                    explicit_spec = true;
                }
                let mut chars = None;
                let expr;
                if explicit_spec && self.eat_kw("FROM") {
                    expr = self.expr()?;
                } else {
                    let first = self.expr()?;
                    if self.eat_kw("FROM") {
                        chars = Some(Box::new(first));
                        expr = self.expr()?;
                    } else if explicit_spec {
                        return Err(self.unexpected("FROM"));
                    } else {
                        expr = first;
                    }
                }
                self.expect_punct(")")?;
                Ok(Expr::Trim {
                    spec,
                    chars,
                    expr: Box::new(expr),
                })
            }
            "UPPER" | "LOWER" | "LENGTH" | "CONCAT" | "SUBSTRING" | "LOCATE" | "ABS" | "SQRT"
            | "MOD" | "SIZE" => {
                self.advance();
                let (func, min, max) = match kw {
                    "UPPER" => (Func::Upper, 1, 1),
                    "LOWER" => (Func::Lower, 1, 1),
                    "LENGTH" => (Func::Length, 1, 1),
                    "CONCAT" => (Func::Concat, 2, usize::MAX),
                    "SUBSTRING" => (Func::Substring, 2, 3),
                    "LOCATE" => (Func::Locate, 2, 3),
                    "ABS" => (Func::Abs, 1, 1),
                    "SQRT" => (Func::Sqrt, 1, 1),
                    "MOD" => (Func::Mod, 2, 2),
                    _ => (Func::Size, 1, 1),
                };
                self.expect_punct("(")?;
                let mut args = vec![self.expr()?];
                while self.eat_punct(",") {
                    args.push(self.expr()?);
                }
                if args.len() < min || args.len() > max {
                    let t = self.peek();
                    return Err(JpqlError::syntax(
                        &format!("Wrong number of arguments for {kw}"),
                        &t.text,
                        t.pos,
                    ));
                }
                self.expect_punct(")")?;
                Ok(Expr::Func { func, args, pos })
            }
            _ => Err(self.unexpected("an expression")),
        }
    }
}
