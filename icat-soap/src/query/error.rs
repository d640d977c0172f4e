//! Why a [`Query`](super::Query) cannot be rendered: each error names the bad path or value and how to fix it.

/// An error found while building a query, before anything is sent to the server.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum QueryError {
    /// The queried entity type does not exist.
    #[error("`{name}` is not an ICAT entity{}", hint(suggestion))]
    UnknownEntity {
        /// The name given.
        name: String,
        /// The closest known entity name, if any.
        suggestion: Option<String>,
    },
    /// A path segment is not a field of the entity reached so far.
    #[error(
        "{entity} has no field `{field}` (in path `{path}`){}",
        hint(suggestion)
    )]
    UnknownField {
        /// The entity on which the field was looked up.
        entity: String,
        /// The unknown field.
        field: String,
        /// The whole path.
        path: String,
        /// The closest known field name, if any.
        suggestion: Option<String>,
    },
    /// A path continues after an attribute.
    #[error(
        "`{field}` of {entity} is an attribute, not a relation, so path `{path}` cannot continue after it"
    )]
    NotARelation {
        /// The entity holding the field.
        entity: String,
        /// The attribute used as a relation.
        field: String,
        /// The whole path.
        path: String,
    },
    /// A path that must end in an attribute ends in a relation.
    #[error(
        "path `{path}` ends in a relation to {target}; name one of its attributes instead (e.g. `{path}.id`)"
    )]
    NotAnAttribute {
        /// The whole path.
        path: String,
        /// The target entity of the relation.
        target: String,
    },
    /// A path that must end in a relation (INCLUDE, JOIN) ends in an attribute.
    #[error("`{path}` ends in an attribute; {clause} needs a relation path")]
    AttributeNotRelation {
        /// The whole path.
        path: String,
        /// The clause that needed a relation ("INCLUDE" or "JOIN").
        clause: &'static str,
    },
    /// A path is empty or has a segment that is not an identifier.
    #[error("`{path}` is not a field path; use names separated by dots, like `investigation.name`")]
    InvalidPath {
        /// The path given.
        path: String,
    },
    /// A value does not fit the attribute's type.
    #[error("`{path}` holds a {expected} but the value given is a {found}")]
    TypeMismatch {
        /// The attribute path.
        path: String,
        /// The attribute's type.
        expected: &'static str,
        /// The kind of value given.
        found: &'static str,
    },
    /// An operator cannot be used with the attribute's type.
    #[error("{op} cannot be used on `{path}`, which holds a {ty}")]
    OperatorMismatch {
        /// The attribute path.
        path: String,
        /// The operator.
        op: &'static str,
        /// The attribute's type.
        ty: &'static str,
    },
    /// An enum value is not one of the enum's constants.
    #[error("`{value}` is not a {enum_name} constant, as `{path}` needs: {hint}")]
    InvalidEnumValue {
        /// The attribute path.
        path: String,
        /// The ICAT enum type.
        enum_name: String,
        /// The value given (cut to a bounded length).
        value: String,
        /// The closest constant, or the list of constants.
        hint: String,
    },
    /// A `None` was given as a value.
    #[error(
        "the value for `{path}` is None (e.g. the id of an entity that was never stored); pass a value, or use Condition::is_null to match a missing one"
    )]
    MissingValue {
        /// The attribute path (or parameter name).
        path: String,
    },
    /// An unsigned integer too large for ICAT's 64-bit signed integers.
    #[error("{value} for `{path}` is larger than the largest ICAT integer (9223372036854775807)")]
    IntegerOutOfRange {
        /// The attribute path (or parameter name).
        path: String,
        /// The value given.
        value: u64,
    },
    /// A string given for a timestamp attribute is not a date or date-time.
    #[error(
        "`{value}` for `{path}` is not a date (2024-01-31) or date-time (2024-01-31T12:00:00): {reason}"
    )]
    InvalidTimestamp {
        /// The attribute path.
        path: String,
        /// The value given (cut to a bounded length).
        value: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An IN list longer than [`MAX_IN_VALUES`](super::MAX_IN_VALUES).
    #[error(
        "IN on `{path}` has {count} values, more than the {max} a query may hold; split the list (Session::search_in does it for you)"
    )]
    TooManyInValues {
        /// The attribute path.
        path: String,
        /// Values given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// An aggregate condition in WHERE.
    #[error("{func}(...) cannot be used in WHERE; put aggregate conditions in Query::having")]
    AggregateInWhere {
        /// The aggregate function.
        func: &'static str,
    },
    /// An attribute selected next to an aggregate is not grouped.
    #[error(
        "`{path}` is selected next to an aggregate but not grouped; add Query::group_by(\"{path}\")"
    )]
    NotGrouped {
        /// The attribute path.
        path: String,
    },
    /// GROUP BY on a query that selects the entity itself.
    #[error(
        "GROUP BY needs selected attributes and aggregates (Query::select, Query::count, Query::aggregate)"
    )]
    GroupByNeedsItems,
    /// HAVING without GROUP BY.
    #[error("HAVING needs a GROUP BY (Query::group_by)")]
    HavingNeedsGroupBy,
    /// A `:name` in raw JPQL that no value was bound to.
    #[error("the JPQL uses the parameter :{name} but no value was bound to it (Jpql::bind)")]
    UnboundParameter {
        /// The parameter name.
        name: String,
    },
    /// A value was bound to a name the JPQL does not use.
    #[error("a value was bound to :{name} but the JPQL does not use that parameter")]
    UnusedParameter {
        /// The parameter name.
        name: String,
    },
    /// A parameter name that is not an identifier, or the reserved `user`.
    #[error(
        "`{name}` cannot be a parameter name: use letters, digits and _ (and not `user`, which ICAT fills in)"
    )]
    InvalidParameterName {
        /// The name given (cut to a bounded length).
        name: String,
    },
    /// A quote in raw JPQL is never closed.
    #[error("the JPQL has a string literal that is never closed")]
    UnterminatedString,
    /// NaN or an infinity was given as a number.
    #[error(
        "the number compared with `{path}` is NaN or infinite; ICAT queries need a finite number"
    )]
    NonFiniteNumber {
        /// The attribute path.
        path: String,
    },
    /// A timestamp outside the years 0000-9999.
    #[error("timestamp {value} for `{path}` cannot be written as {{ts yyyy-mm-dd hh:mm:ss}}")]
    UnsupportedTimestamp {
        /// The attribute path.
        path: String,
        /// The timestamp given.
        value: String,
    },
    /// A string value holds a character that cannot travel in XML.
    #[error(
        "the value for `{path}` contains the control character U+{code_point:04X}, which cannot be sent in a SOAP request"
    )]
    InvalidCharacter {
        /// The attribute path.
        path: String,
        /// The offending code point.
        code_point: u32,
    },
    /// `IN` with no values.
    #[error("IN on `{path}` needs at least one value")]
    EmptyIn {
        /// The attribute path.
        path: String,
    },
    /// An empty `Condition::all` / `Condition::any`.
    #[error("a condition group (all/any) must contain at least one condition")]
    EmptyGroup,
    /// INCLUDE with a SELECT that is not a single entity.
    #[error(
        "INCLUDE only works when the query selects the entity itself, not attributes or aggregates"
    )]
    IncludeNeedsEntity,
    /// An aggregate function that needs an attribute was applied to the entity.
    #[error("{func} needs an attribute path; only COUNT can be applied to the entity itself")]
    AggregateNeedsAttribute {
        /// The aggregate function.
        func: &'static str,
    },
    /// The LIMIT count is zero.
    #[error("LIMIT count must be at least 1")]
    ZeroLimit,
}

/// The most characters of a user-given value an error message repeats.
pub(crate) const MAX_VALUE_CHARS: usize = 200;

/// `value` cut to [`MAX_VALUE_CHARS`] characters (with `…` when cut), so that an error's text stays
/// bounded whatever the input.
pub(crate) fn clip(value: &str) -> String {
    match value.char_indices().nth(MAX_VALUE_CHARS) {
        Some((i, _)) => format!("{}…", &value[..i]),
        None => value.to_owned(),
    }
}

fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}
