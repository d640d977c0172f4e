//! Typed errors for reading SOAP/XML documents, each carrying the byte position in the input.

/// Why an XML document could not be decoded. Every variant says where (byte offset in the input).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum XmlError {
    /// The bytes are not well-formed XML.
    #[error("malformed XML at byte {position}: {message}")]
    Malformed {
        /// Byte offset of the problem.
        position: u64,
        /// What the XML parser reported.
        message: String,
    },
    /// The document ended in the middle of an element (a truncated response?).
    #[error(
        "XML ended unexpectedly at byte {position} while reading {context} (truncated document?)"
    )]
    UnexpectedEof {
        /// Byte offset of the end.
        position: u64,
        /// What was being read.
        context: &'static str,
    },
    /// The document has a `<!DOCTYPE>`; SOAP forbids them, and refusing them blocks entity-expansion attacks.
    #[error(
        "a <!DOCTYPE> declaration at byte {position} was refused: SOAP messages must not carry one"
    )]
    Doctype {
        /// Byte offset of the declaration.
        position: u64,
    },
    /// Elements are nested more deeply than the reader allows.
    #[error("XML nested more than {limit} levels deep at byte {position}")]
    TooDeep {
        /// Byte offset of the element that went too deep.
        position: u64,
        /// The nesting limit.
        limit: usize,
    },
    /// More namespace declarations are in scope than the reader allows (a hostile answer trying
    /// to make every name lookup slow).
    #[error(
        "more than {limit} namespace declarations in scope at byte {position}: refused as a \
         hostile or broken answer"
    )]
    TooManyNamespaces {
        /// Byte offset of the element whose declaration went beyond the limit.
        position: u64,
        /// The limit.
        limit: usize,
    },
    /// An entity reference other than the five predefined ones or a character reference.
    #[error("unknown entity reference &{name}; at byte {position}")]
    UnknownEntity {
        /// Byte offset.
        position: u64,
        /// The entity name.
        name: String,
    },
    /// The text of an element is not a valid value of its XML Schema type.
    #[error("invalid value {value:?} in <{element}> at byte {position}: {reason}")]
    InvalidValue {
        /// Byte offset of the element.
        position: u64,
        /// Element local name.
        element: String,
        /// The offending text (shortened).
        value: String,
        /// What was expected.
        reason: &'static str,
    },
    /// A different element was found where a specific one is required.
    #[error("expected {expected} at byte {position}, found <{found}>")]
    UnexpectedElement {
        /// Byte offset.
        position: u64,
        /// What was expected.
        expected: String,
        /// The element that was found (local name, with namespace when known).
        found: String,
    },
    /// An element that must carry `xsi:type` (a polymorphic slot) does not.
    #[error("<{element}> at byte {position} has no xsi:type, so its entity type is unknown")]
    MissingType {
        /// Byte offset.
        position: u64,
        /// Element local name.
        element: String,
    },
    /// An `xsi:type` names a type these bindings do not know (a newer server?).
    #[error(
        "<{element}> at byte {position} has xsi:type {type_name:?}, which these bindings do not know; \
         regenerate them from the server's WSDL (`cargo xtask codegen --wsdl ...`)"
    )]
    UnknownType {
        /// Byte offset.
        position: u64,
        /// Element local name.
        element: String,
        /// The type as written (`{namespace}local` or `local`).
        type_name: String,
    },
    /// An `xsi:type` prefix is not bound to any namespace.
    #[error(
        "<{element}> at byte {position}: xsi:type prefix {prefix:?} is not bound to a namespace"
    )]
    UnboundPrefix {
        /// Byte offset.
        position: u64,
        /// Element local name.
        element: String,
        /// The prefix.
        prefix: String,
    },
    /// Something other than comments or whitespace follows the root element.
    #[error("unexpected content after the end of the document at byte {position}")]
    TrailingContent {
        /// Byte offset.
        position: u64,
    },
}

impl XmlError {
    /// The byte offset in the input where the problem was found.
    pub fn position(&self) -> u64 {
        match self {
            XmlError::Malformed { position, .. }
            | XmlError::UnexpectedEof { position, .. }
            | XmlError::Doctype { position }
            | XmlError::TooDeep { position, .. }
            | XmlError::TooManyNamespaces { position, .. }
            | XmlError::UnknownEntity { position, .. }
            | XmlError::InvalidValue { position, .. }
            | XmlError::UnexpectedElement { position, .. }
            | XmlError::MissingType { position, .. }
            | XmlError::UnknownType { position, .. }
            | XmlError::UnboundPrefix { position, .. }
            | XmlError::TrailingContent { position } => *position,
        }
    }
}

/// Shortens text quoted in an error message.
pub(crate) fn shorten(s: &str) -> String {
    const MAX: usize = 80;
    if s.len() <= MAX {
        s.to_owned()
    } else {
        let mut end = MAX;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}
