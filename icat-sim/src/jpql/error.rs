//! The error type of the query parser and compiler (ICAT reports all of these as `BAD_PARAMETER`).

/// A query that cannot be parsed or compiled.
///
/// Every variant is reported by ICAT as an `IcatException` of type `BAD_PARAMETER`; the `Display`
/// text is the exception message and always names the offending token, entity or field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JpqlError {
    /// The query text does not follow the grammar.
    #[error("{message}: found '{token}' at position {pos} in the query")]
    Syntax {
        /// What was wrong or what was expected.
        message: String,
        /// The offending token as written.
        token: String,
        /// Zero-based character offset of the token.
        pos: usize,
    },
    /// A name used as an entity is not an ICAT entity.
    #[error("{name} is not an ICAT entity (at position {pos} in the query)")]
    UnknownEntity {
        /// The name as written.
        name: String,
        /// Zero-based character offset.
        pos: usize,
    },
    /// A path names a field the entity does not have.
    #[error("{field} is not a field of {entity} (at position {pos} in the query)")]
    UnknownField {
        /// The entity the path reached.
        entity: String,
        /// The field as written.
        field: String,
        /// Zero-based character offset of the path.
        pos: usize,
    },
    /// The query is well formed but cannot be answered as written (unknown variable, misplaced
    /// INCLUDE, attribute used as a relationship, ...).
    #[error("{message} (at position {pos} in the query)")]
    Invalid {
        /// Explanation naming the offending item.
        message: String,
        /// Zero-based character offset of the item.
        pos: usize,
    },
}

impl JpqlError {
    /// A grammar error at a token.
    pub(crate) fn syntax(message: &str, token: &str, pos: usize) -> Self {
        JpqlError::Syntax {
            message: message.to_string(),
            token: token.to_string(),
            pos,
        }
    }

    /// A semantic error at a position.
    pub(crate) fn invalid(message: impl Into<String>, pos: usize) -> Self {
        JpqlError::Invalid {
            message: message.into(),
            pos,
        }
    }

    /// The ICAT exception type this error is reported as: always `"BAD_PARAMETER"`.
    pub fn icat_exception_type(&self) -> &'static str {
        "BAD_PARAMETER"
    }

    /// Zero-based character offset in the query of the offending item.
    pub fn position(&self) -> usize {
        match self {
            JpqlError::Syntax { pos, .. }
            | JpqlError::UnknownEntity { pos, .. }
            | JpqlError::UnknownField { pos, .. }
            | JpqlError::Invalid { pos, .. } => *pos,
        }
    }
}
