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
    /// An enum value is not a constant name.
    #[error(
        "`{value}` is not a valid {enum_name} constant for `{path}`; use the constant's name, e.g. NUMERIC"
    )]
    InvalidEnumValue {
        /// The attribute path.
        path: String,
        /// The ICAT enum type.
        enum_name: String,
        /// The value given.
        value: String,
    },
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

fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(s) => format!("; did you mean `{s}`?"),
        None => String::new(),
    }
}
