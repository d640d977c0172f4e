//! Conditions for the WHERE clause of a [`Query`](super::Query): comparisons on field paths.

use super::Literal;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CompareOp {
    /// `=`
    Eq,
    /// `<>`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `LIKE` (strings only; `%` and `_` in the value are wildcards).
    Like,
    /// `NOT LIKE`
    NotLike,
}

impl CompareOp {
    pub(crate) fn jpql(self) -> &'static str {
        match self {
            CompareOp::Eq => "=",
            CompareOp::Ne => "<>",
            CompareOp::Lt => "<",
            CompareOp::Le => "<=",
            CompareOp::Gt => ">",
            CompareOp::Ge => ">=",
            CompareOp::Like => "LIKE",
            CompareOp::NotLike => "NOT LIKE",
        }
    }
}

/// One condition of a WHERE clause. Build them with the constructors ([`Condition::eq`], ...) and
/// combine them with [`Condition::any`], [`Condition::all`] and [`Condition::negate`] (or `!`).
///
/// Paths are relative to the queried entity (`"investigation.facility.name"` on a `Dataset` query);
/// values are [`Literal`]s and are always escaped.
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `path op value`
    Compare {
        /// Field path.
        path: String,
        /// Operator.
        op: CompareOp,
        /// Value.
        value: Literal,
    },
    /// `path [NOT] IN (values…)`
    In {
        /// Field path.
        path: String,
        /// Values; must not be empty.
        values: Vec<Literal>,
        /// `NOT IN` when true.
        negated: bool,
    },
    /// `path BETWEEN low AND high`
    Between {
        /// Field path.
        path: String,
        /// Lower bound (inclusive).
        low: Literal,
        /// Upper bound (inclusive).
        high: Literal,
    },
    /// `path IS [NOT] NULL`
    Null {
        /// Field path (an attribute or a many-to-one relation).
        path: String,
        /// `IS NOT NULL` when true.
        negated: bool,
    },
    /// All of the conditions hold (`(a AND b …)`).
    All(Vec<Condition>),
    /// At least one of the conditions holds (`(a OR b …)`).
    Any(Vec<Condition>),
    /// The condition does not hold (`NOT (a)`).
    Not(Box<Condition>),
}

impl Condition {
    fn compare(path: impl Into<String>, op: CompareOp, value: impl Into<Literal>) -> Self {
        Condition::Compare {
            path: path.into(),
            op,
            value: value.into(),
        }
    }

    /// `path = value`
    pub fn eq(path: impl Into<String>, value: impl Into<Literal>) -> Self {
        Self::compare(path, CompareOp::Eq, value)
    }

    /// `path <> value`
    pub fn ne(path: impl Into<String>, value: impl Into<Literal>) -> Self {
        Self::compare(path, CompareOp::Ne, value)
    }

    /// `path < value`
    pub fn lt(path: impl Into<String>, value: impl Into<Literal>) -> Self {
        Self::compare(path, CompareOp::Lt, value)
    }

    /// `path <= value`
    pub fn le(path: impl Into<String>, value: impl Into<Literal>) -> Self {
        Self::compare(path, CompareOp::Le, value)
    }

    /// `path > value`
    pub fn gt(path: impl Into<String>, value: impl Into<Literal>) -> Self {
        Self::compare(path, CompareOp::Gt, value)
    }

    /// `path >= value`
    pub fn ge(path: impl Into<String>, value: impl Into<Literal>) -> Self {
        Self::compare(path, CompareOp::Ge, value)
    }

    /// `path LIKE pattern`: `%` and `_` in `pattern` are wildcards; quotes are still escaped.
    pub fn like(path: impl Into<String>, pattern: impl Into<String>) -> Self {
        Self::compare(path, CompareOp::Like, Literal::String(pattern.into()))
    }

    /// `path NOT LIKE pattern`.
    pub fn not_like(path: impl Into<String>, pattern: impl Into<String>) -> Self {
        Self::compare(path, CompareOp::NotLike, Literal::String(pattern.into()))
    }

    /// `path IN (values…)`.
    pub fn is_in<V: Into<Literal>>(
        path: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Condition::In {
            path: path.into(),
            values: values.into_iter().map(Into::into).collect(),
            negated: false,
        }
    }

    /// `path NOT IN (values…)`.
    pub fn not_in<V: Into<Literal>>(
        path: impl Into<String>,
        values: impl IntoIterator<Item = V>,
    ) -> Self {
        Condition::In {
            path: path.into(),
            values: values.into_iter().map(Into::into).collect(),
            negated: true,
        }
    }

    /// `path BETWEEN low AND high`.
    pub fn between(
        path: impl Into<String>,
        low: impl Into<Literal>,
        high: impl Into<Literal>,
    ) -> Self {
        Condition::Between {
            path: path.into(),
            low: low.into(),
            high: high.into(),
        }
    }

    /// `path IS NULL`.
    pub fn is_null(path: impl Into<String>) -> Self {
        Condition::Null {
            path: path.into(),
            negated: false,
        }
    }

    /// `path IS NOT NULL`.
    pub fn is_not_null(path: impl Into<String>) -> Self {
        Condition::Null {
            path: path.into(),
            negated: true,
        }
    }

    /// All of `conditions` hold.
    pub fn all(conditions: impl IntoIterator<Item = Condition>) -> Self {
        Condition::All(conditions.into_iter().collect())
    }

    /// At least one of `conditions` holds.
    pub fn any(conditions: impl IntoIterator<Item = Condition>) -> Self {
        Condition::Any(conditions.into_iter().collect())
    }

    /// `condition` does not hold (also written `!condition`).
    pub fn negate(condition: Condition) -> Self {
        Condition::Not(Box::new(condition))
    }
}

impl std::ops::Not for Condition {
    type Output = Condition;

    /// `NOT (condition)`.
    fn not(self) -> Condition {
        Condition::negate(self)
    }
}
