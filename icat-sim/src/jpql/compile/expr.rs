//! Expressions: literals, operators, functions, aggregates and subqueries.

use icat_soap::meta::AttrType;
use rusqlite::types::Value;

use super::super::ast::*;
use super::super::error::JpqlError;
use super::super::parser::ENUM_VALUES;
use super::restriction::{ClockKind, ClockParam};
use super::{Compiler, Shape, Ty, Typed, column_ty, q};

/// IN lists up to this length bind one SQL variable per value (the SQL reads as the query does);
/// longer ones are bound as one JSON array (see `in_list_as_one_value`).
const IN_LIST_BOUND_ONE_BY_ONE: usize = 100;

impl Compiler<'_> {
    // ---- expressions ----

    pub(super) fn expr(&mut self, e: &Expr) -> Result<Typed, JpqlError> {
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
                let lt = self.expr(expr)?;
                let l = lt.sql;
                let first_param = self.params.len();
                let items = list
                    .iter()
                    .map(|i| self.compared(i, lt.ty).map(|t| t.sql))
                    .collect::<Result<Vec<_>, _>>()?;
                let not = if *negated { "NOT " } else { "" };
                let sql = match self.in_list_as_one_value(&items, first_param) {
                    Some(array) => format!("({l} {not}IN (SELECT value FROM json_each({array})))"),
                    None => format!("({l} {not}IN ({}))", items.join(", ")),
                };
                Typed { sql, ty: Ty::Bool }
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
                let et = self.expr(expr)?;
                let e = et.sql;
                let lo = self.compared(low, et.ty)?.sql;
                let hi = self.compared(high, et.ty)?.sql;
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

    pub(super) fn subquery(&mut self, query: &Query) -> Result<(String, Shape), JpqlError> {
        if query.select.len() != 1 {
            return Err(JpqlError::invalid(
                "A subquery must select exactly one item",
                query.from.first().map_or(0, |f| f.pos),
            ));
        }
        self.query(query, false)
    }

    pub(super) fn literal(&mut self, l: &Literal) -> Result<Typed, JpqlError> {
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

    /// A long IN list of bound values (`items`, bound from parameter `first_param` on) rebound as
    /// one JSON array, so a list of any length needs one SQL variable: ICAT's JPQL has no limit
    /// on IN lists, SQLite one on variables (32766). Returns the array's placeholder, or `None`
    /// for a short list, one holding anything but single bound values (or a clock value, which
    /// is re-bound by index later), or a value JSON cannot carry (an infinite or NaN real).
    fn in_list_as_one_value(&mut self, items: &[String], first_param: usize) -> Option<String> {
        if items.len() <= IN_LIST_BOUND_ONE_BY_ONE {
            return None;
        }
        let values = self.params.get(first_param..)?;
        if values.len() != items.len() {
            return None;
        }
        let one_each = items
            .iter()
            .enumerate()
            .all(|(k, sql)| *sql == format!("?{}", first_param + k + 1));
        let clock_inside = self.clock_params.iter().any(|c| c.index >= first_param);
        if !one_each || clock_inside {
            return None;
        }
        let json = values
            .iter()
            .map(|v| match v {
                Value::Null => Some(serde_json::Value::Null),
                Value::Integer(n) => Some(serde_json::Value::from(*n)),
                Value::Real(x) => serde_json::Number::from_f64(*x).map(serde_json::Value::Number),
                Value::Text(s) => Some(serde_json::Value::String(s.clone())),
                Value::Blob(_) => None,
            })
            .collect::<Option<Vec<_>>>()?;
        self.params.truncate(first_param);
        Some(self.bind(Value::Text(serde_json::Value::Array(json).to_string())))
    }

    /// An operand compared with `other`: a string literal next to a date attribute becomes the
    /// date the database would convert it to ([`date_literal`](super::date_literal)); a string
    /// that is no date becomes NULL and so matches nothing.
    fn compared(&mut self, e: &Expr, other: Ty) -> Result<Typed, JpqlError> {
        match (e, other) {
            (Expr::Lit(Literal::Str(s)), Ty::Attr(AttrType::DateTime)) => {
                let v = match super::date_literal::mysql_datetime_millis(s) {
                    Some(ms) => Value::Integer(ms),
                    None => Value::Null,
                };
                Ok(Typed {
                    sql: self.bind(v),
                    ty: Ty::Attr(AttrType::DateTime),
                })
            }
            _ => self.expr(e),
        }
    }

    /// Both sides of a comparison, each read against the other's type.
    fn comparison(&mut self, l: &Expr, r: &Expr) -> Result<(Typed, Typed), JpqlError> {
        if matches!(l, Expr::Lit(Literal::Str(_))) {
            let rt = self.expr(r)?;
            let lt = self.compared(l, rt.ty)?;
            Ok((lt, rt))
        } else {
            let lt = self.expr(l)?;
            let rt = self.compared(r, lt.ty)?;
            Ok((lt, rt))
        }
    }

    /// A binary operation. A chain `a OR b OR c …` (also AND and arithmetic) is a left-deep tree
    /// as deep as the chain is long; it is walked in a loop, not by recursion, so a long chain
    /// cannot overflow the stack (300 ORs did in a debug build).
    pub(super) fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr) -> Result<Typed, JpqlError> {
        if is_comparison(op) {
            let (lt, rt) = self.comparison(l, r)?;
            return Ok(combine(op, lt, rt));
        }
        // The operators from the top down, each with its right operand, then the leftmost operand.
        let mut chain = vec![(op, r)];
        let mut leftmost = l;
        while let Expr::Binary(inner, l2, r2) = leftmost
            && !is_comparison(*inner)
        {
            chain.push((*inner, r2));
            leftmost = l2;
        }
        let mut acc = self.expr(leftmost)?;
        for (op, r) in chain.into_iter().rev() {
            let rt = self.expr(r)?;
            acc = combine(op, acc, rt);
        }
        Ok(acc)
    }
}

fn is_comparison(op: BinOp) -> bool {
    matches!(
        op,
        BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge
    )
}

/// `lt op rt` with the type of the result.
fn combine(op: BinOp, lt: Typed, rt: Typed) -> Typed {
    {
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
        Typed {
            sql: format!("({} {sym} {})", lt.sql, rt.sql),
            ty,
        }
    }
}

impl Compiler<'_> {
    pub(super) fn func(
        &mut self,
        func: Func,
        args: &[Expr],
        pos: usize,
    ) -> Result<Typed, JpqlError> {
        match func {
            Func::CurrentTimestamp => return Ok(self.clock(ClockKind::Timestamp)),
            Func::CurrentDate => return Ok(self.clock(ClockKind::Date)),
            Func::CurrentTime => return Ok(self.clock(ClockKind::Time)),
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

    /// A clock value, bound as a parameter that [`ClockParam`] remembers.
    fn clock(&mut self, kind: ClockKind) -> Typed {
        let sql = self.bind(Value::Integer(kind.value(self.opts.now_millis)));
        self.clock_params.push(ClockParam {
            index: self.params.len() - 1,
            kind,
        });
        Typed {
            sql,
            ty: Ty::Attr(AttrType::DateTime),
        }
    }
}
