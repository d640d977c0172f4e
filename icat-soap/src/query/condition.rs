//! Conditions for the WHERE clause of a [`Query`](super::Query): comparisons on field paths.

use super::{Aggregate, Literal};

/// The escape character [`Condition::contains`] and friends write after `ESCAPE`. `!` rather
/// than `\\`, because some databases behind ICAT (MySQL) also treat a backslash in a string
/// literal as an escape of their own.
pub const LIKE_ESCAPE: char = '!';

/// Escapes `text` for use inside a LIKE pattern with `ESCAPE '!'`: `%`, `_` and `!` each get a `!`
/// before them, so they match themselves.
///
/// ```
/// assert_eq!(icat_soap::query::escape_like("100%_done!"), "100!%!_done!!");
/// ```
pub fn escape_like(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 4);
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            out.push(LIKE_ESCAPE);
        }
        out.push(c);
    }
    out
}

/// Where the text of a [`Condition::Match`] must occur.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchKind {
    /// Anywhere (`%text%`).
    Contains,
    /// At the start (`text%`).
    StartsWith,
    /// At the end (`%text`).
    EndsWith,
}

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
    /// `path [NOT] LIKE pattern ESCAPE '!'` where the pattern is `text` taken literally (its `%`,
    /// `_` and `!` escaped) with `%` added as `kind` says.
    Match {
        /// Field path (a string attribute).
        path: String,
        /// Where the text must occur.
        kind: MatchKind,
        /// The text, taken literally.
        text: String,
        /// `NOT LIKE` when true.
        negated: bool,
    },
    /// `FUNC(path) op value`: a condition on an aggregate, for [`Query::having`](super::Query::having).
    Aggregate {
        /// The aggregate function.
        func: Aggregate,
        /// The path aggregated over (`None` for the entity itself, COUNT only).
        path: Option<String>,
        /// Operator.
        op: CompareOp,
        /// Value.
        value: Literal,
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

    /// `path LIKE '%text%' ESCAPE '!'`: `text` occurs anywhere, taken literally (a `%` or `_` in it
    /// matches only itself). Use this, not [`Condition::like`], for user input.
    ///
    /// ```
    /// use icat_soap::query::{Condition, Query};
    /// let jpql = Query::new("Dataset").filter(Condition::contains("name", "100%_done")).to_jpql()?;
    /// assert_eq!(jpql, "SELECT d FROM Dataset d WHERE d.name LIKE '%100!%!_done%' ESCAPE '!'");
    /// # Ok::<(), icat_soap::query::QueryError>(())
    /// ```
    pub fn contains(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self::matching(path, MatchKind::Contains, text)
    }

    /// `path LIKE 'text%' ESCAPE '!'`: starts with `text`, taken literally.
    pub fn starts_with(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self::matching(path, MatchKind::StartsWith, text)
    }

    /// `path LIKE '%text' ESCAPE '!'`: ends with `text`, taken literally.
    pub fn ends_with(path: impl Into<String>, text: impl Into<String>) -> Self {
        Self::matching(path, MatchKind::EndsWith, text)
    }

    fn matching(path: impl Into<String>, kind: MatchKind, text: impl Into<String>) -> Self {
        Condition::Match {
            path: path.into(),
            kind,
            text: text.into(),
            negated: false,
        }
    }

    /// `FUNC(path) op value`, for [`Query::having`](super::Query::having): e.g.
    /// `Condition::aggregate(Aggregate::Sum, "fileSize", CompareOp::Gt, 1000_i64)`. COUNT also takes
    /// a relation path; see [`Condition::count`] for counting the entity itself.
    pub fn aggregate(
        func: Aggregate,
        path: impl Into<String>,
        op: CompareOp,
        value: impl Into<Literal>,
    ) -> Self {
        Condition::Aggregate {
            func,
            path: Some(path.into()),
            op,
            value: value.into(),
        }
    }

    /// `COUNT(entity) op value`, for [`Query::having`](super::Query::having).
    pub fn count(op: CompareOp, value: impl Into<Literal>) -> Self {
        Condition::Aggregate {
            func: Aggregate::Count,
            path: None,
            op,
            value: value.into(),
        }
    }

    /// `path LIKE pattern`: `%` and `_` in `pattern` are wildcards; quotes are still escaped.
    /// For user input use [`Condition::contains`], [`Condition::starts_with`] or
    /// [`Condition::ends_with`], which escape the wildcards.
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

    /// `condition` does not hold (also written `!condition`). A negated
    /// [`Condition::contains`] (and friends) becomes `NOT LIKE`.
    pub fn negate(condition: Condition) -> Self {
        match condition {
            Condition::Match {
                path,
                kind,
                text,
                negated,
            } => Condition::Match {
                path,
                kind,
                text,
                negated: !negated,
            },
            other => Condition::Not(Box::new(other)),
        }
    }
}

impl std::ops::Not for Condition {
    type Output = Condition;

    /// `NOT (condition)`.
    fn not(self) -> Condition {
        Condition::negate(self)
    }
}
