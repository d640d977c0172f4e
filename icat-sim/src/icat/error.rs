//! ICAT's fault model: the exception types and messages the SOAP operations report.

use std::fmt;

/// The ICAT exception types (`icatExceptionType` on the wire): the enumeration generated from the
/// WSDL, so the simulator cannot report a type the schema lacks.
pub use icat_soap::model::IcatExceptionType as IcatErrorKind;

/// The longest fault message the simulator sends, in bytes.
pub const MAX_FAULT_MESSAGE: usize = 1000;

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
        write!(f, "{}: {}", self.kind, self.message)
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
    /// A database failure is INTERNAL, as ICAT reports a failing database call (`ICAT.java`
    /// wraps any `Throwable` as `INTERNAL` with its message). The fault carries the database's
    /// short reason only, never the SQL statement; the detail goes to the log.
    fn from(e: rusqlite::Error) -> Self {
        log_database_error(&e);
        IcatError::internal(format!("database error: {}", database_reason(&e)))
    }
}

/// A database failure caused by the query a user sent (a value or a construct the database
/// cannot take): BAD_PARAMETER with the database's short reason, never the SQL. Failures that
/// are not about the statement (I/O, a busy or full database) stay INTERNAL.
pub fn query_database_error(e: rusqlite::Error) -> IcatError {
    use rusqlite::ErrorCode;
    // A statement SQLite cannot compile comes with the offset of the offending token.
    let about_the_statement = matches!(e, rusqlite::Error::SqlInputError { .. })
        || matches!(
            e.sqlite_error_code(),
            Some(ErrorCode::Unknown | ErrorCode::TooBig | ErrorCode::ParameterOutOfRange)
        );
    if !about_the_statement {
        return e.into();
    }
    log_database_error(&e);
    let reason = database_reason(&e);
    if reason.starts_with("variable number must be between") {
        return IcatError::bad_parameter(bounded(format!(
            "the query holds more values than the database takes in one statement ({reason}); \
             split it into several queries"
        )));
    }
    IcatError::bad_parameter(bounded(format!("the query cannot be run: {reason}")))
}

/// The database's reason for `e`, without the statement text, at most [`MAX_FAULT_MESSAGE`]
/// bytes.
fn database_reason(e: &rusqlite::Error) -> String {
    let reason = match e {
        rusqlite::Error::SqlInputError { msg, .. } => msg.clone(),
        rusqlite::Error::SqliteFailure(_, Some(msg)) => msg.clone(),
        rusqlite::Error::SqliteFailure(code, None) => code.to_string(),
        other => other.to_string(),
    };
    bounded(reason)
}

/// Logs a database failure with its statement (cut to a few KiB: a statement can be megabytes).
fn log_database_error(e: &rusqlite::Error) {
    const MAX_LOGGED: usize = 4096;
    let detail = e.to_string();
    let cut = detail.len() > MAX_LOGGED;
    tracing::error!(
        error = cut_at_char(&detail, MAX_LOGGED),
        cut,
        "database error"
    );
}

/// `text` cut to at most [`MAX_FAULT_MESSAGE`] bytes (at a character boundary, marked with `…`).
pub fn bounded(text: String) -> String {
    if text.len() <= MAX_FAULT_MESSAGE {
        return text;
    }
    let mut cut = cut_at_char(&text, MAX_FAULT_MESSAGE - '…'.len_utf8()).to_string();
    cut.push('…');
    cut
}

fn cut_at_char(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_and_access_kinds_are_the_generated_enumerations() {
        // The same types, not copies: a kind added to the WSDL reaches the simulator by codegen.
        let kind: icat_soap::model::IcatExceptionType = IcatErrorKind::NoSuchObjectFound;
        let access: icat_soap::model::AccessType = crate::icat::access::Access::Update;
        let e = IcatError::new(kind, "Dataset[id:1] not found.");
        assert_eq!(
            e.to_string(),
            "NO_SUCH_OBJECT_FOUND: Dataset[id:1] not found."
        );
        assert_eq!(access.as_str(), "UPDATE");
    }
}
