//! IDS errors and their `{"code","message"}` responses.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::catalog::CatalogError;
use super::storage::StorageError;

/// An error answered by the IDS, named after the real server's exception classes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdsError {
    /// 400 `BadRequestException`.
    #[error("{0}")]
    BadRequest(String),
    /// 403 `InsufficientPrivilegesException`.
    #[error("{0}")]
    InsufficientPrivileges(String),
    /// 404 `NotFoundException`.
    #[error("{0}")]
    NotFound(String),
    /// 500 `InternalException`.
    #[error("{0}")]
    Internal(String),
    /// 501 `NotImplementedException`.
    #[error("{0}")]
    NotImplemented(String),
    /// 503 `DataNotOnlineException`.
    #[error("{0}")]
    DataNotOnline(String),
    /// 501 `NOT_IMPLEMENTED` for unknown paths.
    #[error("Operation not implemented by this IDS server.")]
    UnknownOperation,
}

impl IdsError {
    /// The HTTP status the real IDS uses for this error.
    pub fn status(&self) -> StatusCode {
        match self {
            IdsError::BadRequest(_) => StatusCode::BAD_REQUEST,
            IdsError::InsufficientPrivileges(_) => StatusCode::FORBIDDEN,
            IdsError::NotFound(_) => StatusCode::NOT_FOUND,
            IdsError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            IdsError::NotImplemented(_) | IdsError::UnknownOperation => StatusCode::NOT_IMPLEMENTED,
            IdsError::DataNotOnline(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The `code` field of the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            IdsError::BadRequest(_) => "BadRequestException",
            IdsError::InsufficientPrivileges(_) => "InsufficientPrivilegesException",
            IdsError::NotFound(_) => "NotFoundException",
            IdsError::Internal(_) => "InternalException",
            IdsError::NotImplemented(_) => "NotImplementedException",
            IdsError::DataNotOnline(_) => "DataNotOnlineException",
            IdsError::UnknownOperation => "NOT_IMPLEMENTED",
        }
    }

    /// The JSON body `{"code":..,"message":..}`.
    pub fn body(&self) -> String {
        serde_json::json!({"code": self.code(), "message": self.to_string()}).to_string()
    }
}

/// `text` with every UUID-shaped token (a session id, as in ICAT's "Session id:… has expired")
/// cut to its first 8 characters and `…`, so logs never hold a usable session id. The answer to
/// the client keeps the full text, as the real IDS sends it.
pub fn shorten_uuids(text: &str) -> String {
    const SHAPE: [usize; 5] = [8, 4, 4, 4, 12];
    let is_uuid = |s: &[u8]| {
        let mut at = 0;
        SHAPE.iter().enumerate().all(|(i, &n)| {
            let group = s[at..at + n].iter().all(u8::is_ascii_hexdigit);
            at += n;
            let dash = i == SHAPE.len() - 1 || s[at] == b'-';
            at += 1;
            group && dash
        })
    };
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let mut copied = 0;
    while i + 36 <= b.len() {
        if is_uuid(&b[i..i + 36]) {
            // All 36 bytes are ASCII, so both cut points are char boundaries.
            out.push_str(&text[copied..i + 8]);
            out.push('…');
            i += 36;
            copied = i;
        } else {
            i += 1;
        }
    }
    out.push_str(&text[copied..]);
    out
}

impl IntoResponse for IdsError {
    fn into_response(self) -> Response {
        let logged = shorten_uuids(&self.to_string());
        if self.status().is_server_error() {
            tracing::warn!(code = self.code(), message = %logged, "IDS request failed");
        } else {
            tracing::debug!(code = self.code(), message = %logged, "IDS request refused");
        }
        (
            self.status(),
            [(header::CONTENT_TYPE, "application/json")],
            self.body(),
        )
            .into_response()
    }
}

impl From<CatalogError> for IdsError {
    fn from(e: CatalogError) -> Self {
        match e {
            CatalogError::Session(m) | CatalogError::InsufficientPrivileges(m) => {
                IdsError::InsufficientPrivileges(m)
            }
            CatalogError::NotFound(m) => IdsError::NotFound(m),
            CatalogError::BadParameter(m) => IdsError::BadRequest(m),
            CatalogError::Internal(m) => IdsError::Internal(m),
        }
    }
}

impl From<StorageError> for IdsError {
    fn from(e: StorageError) -> Self {
        IdsError::Internal(e.to_string())
    }
}

/// The result type of IDS handlers.
pub type IdsResult<T> = Result<T, IdsError>;

#[cfg(test)]
mod log_tests {
    use super::shorten_uuids;

    #[test]
    fn session_ids_are_shortened_in_logs() {
        assert_eq!(
            shorten_uuids("Session id:02b7b495-0c3f-4785-8176-9c9683a10cae has expired"),
            "Session id:02b7b495… has expired"
        );
        assert_eq!(shorten_uuids("déjà vu, no id"), "déjà vu, no id");
        assert_eq!(
            shorten_uuids(
                "a 02b7b495-0c3f-4785-8176-9c9683a10cae b 11111111-2222-3333-4444-555555555555"
            ),
            "a 02b7b495… b 11111111…"
        );
        assert_eq!(
            shorten_uuids("02b7b495-0c3f-4785-8176"),
            "02b7b495-0c3f-4785-8176"
        );
    }
}
