//! ICAT's fault model: the exception types and messages the SOAP operations report.

use std::fmt;

/// The ICAT exception types (`icatExceptionType` on the wire).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcatErrorKind {
    /// Bad arguments or a query that does not parse.
    BadParameter,
    /// A database or simulator failure.
    Internal,
    /// The user may not do this.
    InsufficientPrivileges,
    /// The object does not exist.
    NoSuchObjectFound,
    /// A uniqueness constraint would be violated.
    ObjectAlreadyExists,
    /// Bad, unknown or expired session, or failed authentication.
    Session,
    /// The result would be invalid, or too large.
    Validation,
    /// Not implemented.
    NotImplemented,
}

impl IcatErrorKind {
    /// The wire name, e.g. `BAD_PARAMETER`.
    pub fn wire_name(self) -> &'static str {
        match self {
            IcatErrorKind::BadParameter => "BAD_PARAMETER",
            IcatErrorKind::Internal => "INTERNAL",
            IcatErrorKind::InsufficientPrivileges => "INSUFFICIENT_PRIVILEGES",
            IcatErrorKind::NoSuchObjectFound => "NO_SUCH_OBJECT_FOUND",
            IcatErrorKind::ObjectAlreadyExists => "OBJECT_ALREADY_EXISTS",
            IcatErrorKind::Session => "SESSION",
            IcatErrorKind::Validation => "VALIDATION",
            IcatErrorKind::NotImplemented => "NOT_IMPLEMENTED",
        }
    }
}

/// An ICAT exception: type, message and the offset of the failing bean in a `*Many` call (else -1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct IcatError {
    /// The exception type.
    pub kind: IcatErrorKind,
    /// The message, as ICAT words it.
    pub message: String,
    /// Index within `createMany`/`deleteMany`, or -1.
    pub offset: i32,
}

impl fmt::Display for IcatError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.wire_name(), self.message)
    }
}

impl IcatError {
    /// A new error with offset -1.
    pub fn new(kind: IcatErrorKind, message: impl Into<String>) -> Self {
        IcatError {
            kind,
            message: message.into(),
            offset: -1,
        }
    }

    /// BAD_PARAMETER.
    pub fn bad_parameter(message: impl Into<String>) -> Self {
        Self::new(IcatErrorKind::BadParameter, message)
    }

    /// INTERNAL.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(IcatErrorKind::Internal, message)
    }

    /// SESSION.
    pub fn session(message: impl Into<String>) -> Self {
        Self::new(IcatErrorKind::Session, message)
    }

    /// VALIDATION.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(IcatErrorKind::Validation, message)
    }

    /// INSUFFICIENT_PRIVILEGES.
    pub fn privileges(message: impl Into<String>) -> Self {
        Self::new(IcatErrorKind::InsufficientPrivileges, message)
    }

    /// NO_SUCH_OBJECT_FOUND in ICAT's words: `Dataset[id:42] not found.`
    pub fn not_found(entity: &str, id: i64) -> Self {
        Self::new(
            IcatErrorKind::NoSuchObjectFound,
            format!("{entity}[id:{id}] not found."),
        )
    }

    /// The same error, naming bean `offset` of a `*Many` call.
    pub fn at_offset(mut self, offset: usize) -> Self {
        self.offset = i32::try_from(offset).unwrap_or(i32::MAX);
        self
    }
}

impl From<rusqlite::Error> for IcatError {
    fn from(e: rusqlite::Error) -> Self {
        tracing::error!(error = %e, "database error");
        IcatError::internal(format!("database error: {e}"))
    }
}
