//! The syntax tree of a parsed query; both the JPQL and the concise parser produce it.

/// A whole `search` query (or a `get` query turned into one).
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// `SELECT DISTINCT`.
    pub distinct: bool,
    /// The select items (at least one).
    pub select: Vec<Expr>,
    /// The FROM items, in order.
    pub from: Vec<FromItem>,
    /// The WHERE condition.
    pub where_clause: Option<Expr>,
    /// GROUP BY expressions.
    pub group_by: Vec<Expr>,
    /// The HAVING condition.
    pub having: Option<Expr>,
    /// ORDER BY items.
    pub order_by: Vec<OrderItem>,
    /// The INCLUDE clause.
    pub include: Option<Include>,
    /// The LIMIT clause.
    pub limit: Option<Limit>,
}

/// One item of the FROM clause with the joins that follow it.
#[derive(Debug, Clone, PartialEq)]
pub struct FromItem {
    /// What the item declares.
    pub source: FromSource,
    /// The identification variable it declares.
    pub alias: String,
    /// Position of the item in the query.
    pub pos: usize,
    /// `JOIN`s that follow the item.
    pub joins: Vec<Join>,
}

/// What a FROM item ranges over.
#[derive(Debug, Clone, PartialEq)]
pub enum FromSource {
    /// An entity name: `Dataset ds`.
    Entity(String),
    /// A relationship path from an earlier variable: `ds.parameters dp`.
    Path(Path),
}

/// Kind of a join.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    /// `JOIN` / `INNER JOIN`.
    Inner,
    /// `LEFT [OUTER] JOIN`.
    Left,
}

/// A `JOIN` declaration.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    /// Inner or left.
    pub kind: JoinKind,
    /// What is joined.
    pub target: JoinTarget,
    /// The variable it declares, if any.
    pub alias: Option<String>,
}

/// What a join follows.
#[derive(Debug, Clone, PartialEq)]
pub enum JoinTarget {
    /// A relationship path: `JOIN ds.investigation i`.
    Path(Path),
    /// The concise syntax `A <-> B`: entity `entity` linked by a direct relationship (either
    /// direction) to the variable `from_var`; resolved against the metadata when compiling.
    Route {
        /// The variable already in scope.
        from_var: String,
        /// The entity to reach.
        entity: String,
        /// Position in the query.
        pos: usize,
    },
}

/// A dotted path `var.field.field`; `fields` is empty for a bare variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    /// The identification variable the path starts from.
    pub var: String,
    /// The fields followed, in order.
    pub fields: Vec<String>,
    /// Position of the path in the query.
    pub pos: usize,
}

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'`.
    Str(String),
    /// An integer.
    Integer(i64),
    /// A floating point number.
    Real(f64),
    /// `TRUE` / `FALSE`.
    Bool(bool),
    /// `{ts ...}` as epoch milliseconds.
    Timestamp(i64),
    /// An enum value: type name and value name (`ParameterValueType`, `NUMERIC`).
    Enum(String, String),
    /// `NULL`.
    Null,
}

/// Binary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    /// `OR`.
    Or,
    /// `AND`.
    And,
    /// `=`.
    Eq,
    /// `<>` or `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `+`.
    Add,
    /// `-`.
    Sub,
    /// `*`.
    Mul,
    /// `/`.
    Div,
}

/// Scalar functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Func {
    /// `UPPER(s)`.
    Upper,
    /// `LOWER(s)`.
    Lower,
    /// `LENGTH(s)`.
    Length,
    /// `CONCAT(a, b, ...)`.
    Concat,
    /// `SUBSTRING(s, start[, length])`.
    Substring,
    /// `LOCATE(needle, haystack[, start])`.
    Locate,
    /// `ABS(x)`.
    Abs,
    /// `SQRT(x)`.
    Sqrt,
    /// `MOD(a, b)`.
    Mod,
    /// `SIZE(collection)`.
    Size,
    /// `CURRENT_TIMESTAMP`.
    CurrentTimestamp,
    /// `CURRENT_DATE`.
    CurrentDate,
    /// `CURRENT_TIME`.
    CurrentTime,
}

/// Aggregate functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AggFunc {
    /// `COUNT`.
    Count,
    /// `MIN`.
    Min,
    /// `MAX`.
    Max,
    /// `AVG`.
    Avg,
    /// `SUM`.
    Sum,
}

/// Which side `TRIM` works on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimSpec {
    /// `LEADING`.
    Leading,
    /// `TRAILING`.
    Trailing,
    /// `BOTH` (the default).
    Both,
}

/// An expression or condition.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A path or a bare variable.
    Path(Path),
    /// A literal.
    Lit(Literal),
    /// A named parameter (`:user` is the only one ICAT defines).
    Param {
        /// Name without the colon.
        name: String,
        /// Position in the query.
        pos: usize,
    },
    /// `NOT e`.
    Not(Box<Expr>),
    /// `-e`.
    Neg(Box<Expr>),
    /// A binary operation.
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `e [NOT] LIKE pattern [ESCAPE c]`.
    Like {
        /// Tested value.
        expr: Box<Expr>,
        /// Pattern.
        pattern: Box<Expr>,
        /// Escape character.
        escape: Option<Box<Expr>>,
        /// `NOT LIKE`.
        negated: bool,
    },
    /// `e [NOT] IN (a, b, ...)`.
    InList {
        /// Tested value.
        expr: Box<Expr>,
        /// Candidates.
        list: Vec<Expr>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `e [NOT] IN (SELECT ...)`.
    InSubquery {
        /// Tested value.
        expr: Box<Expr>,
        /// The subquery.
        query: Box<Query>,
        /// `NOT IN`.
        negated: bool,
    },
    /// `e [NOT] BETWEEN low AND high`.
    Between {
        /// Tested value.
        expr: Box<Expr>,
        /// Lower bound.
        low: Box<Expr>,
        /// Upper bound.
        high: Box<Expr>,
        /// `NOT BETWEEN`.
        negated: bool,
    },
    /// `e IS [NOT] NULL`.
    IsNull {
        /// Tested value.
        expr: Box<Expr>,
        /// `IS NOT NULL`.
        negated: bool,
    },
    /// `path IS [NOT] EMPTY`.
    IsEmpty {
        /// Collection-valued path.
        path: Path,
        /// `IS NOT EMPTY`.
        negated: bool,
    },
    /// `e [NOT] MEMBER [OF] path`.
    MemberOf {
        /// The entity tested.
        expr: Box<Expr>,
        /// Collection-valued path.
        path: Path,
        /// `NOT MEMBER OF`.
        negated: bool,
    },
    /// A scalar subquery `(SELECT ...)` used as a value.
    Subquery(Box<Query>),
    /// `[NOT] EXISTS (SELECT ...)`.
    Exists {
        /// The subquery.
        query: Box<Query>,
        /// `NOT EXISTS`.
        negated: bool,
    },
    /// A scalar function call.
    Func {
        /// Which function.
        func: Func,
        /// Arguments.
        args: Vec<Expr>,
        /// Position in the query.
        pos: usize,
    },
    /// `TRIM([[LEADING|TRAILING|BOTH] [char] FROM] s)`.
    Trim {
        /// Which side.
        spec: TrimSpec,
        /// Character to strip (default space).
        chars: Option<Box<Expr>>,
        /// The string.
        expr: Box<Expr>,
    },
    /// An aggregate.
    Aggregate {
        /// Which aggregate.
        func: AggFunc,
        /// `COUNT(DISTINCT x)`.
        distinct: bool,
        /// The argument.
        arg: Box<Expr>,
        /// Position in the query.
        pos: usize,
    },
}

/// An ORDER BY item.
#[derive(Debug, Clone, PartialEq)]
pub struct OrderItem {
    /// What to order by.
    pub expr: Expr,
    /// `DESC`.
    pub descending: bool,
}

/// The INCLUDE clause.
#[derive(Debug, Clone, PartialEq)]
pub enum Include {
    /// `INCLUDE 1`: every many-to-one relationship, one level deep.
    One,
    /// `INCLUDE ds.datafiles df, df.parameters`.
    Steps(Vec<IncludeStep>),
    /// Old syntax `INCLUDE Datafile, DatasetParameter`: entity types, reached by their unique route.
    Types(Vec<(String, usize)>),
}

/// One INCLUDE step: `var.rel[.rel...] [AS] alias`.
#[derive(Debug, Clone, PartialEq)]
pub struct IncludeStep {
    /// The path (starting at the selected variable or an earlier INCLUDE alias).
    pub path: Path,
    /// The new variable for the last object on the path.
    pub alias: Option<String>,
}

/// `LIMIT offset, count` (`count` is `None` for `*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    /// Rows skipped.
    pub offset: u64,
    /// Maximum rows returned, `None` for no maximum.
    pub count: Option<u64>,
}
