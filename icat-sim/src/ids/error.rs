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

impl IntoResponse for IdsError {
    fn into_response(self) -> Response {
        if self.status().is_server_error() {
            tracing::warn!(code = self.code(), message = %self, "IDS request failed");
        } else {
            tracing::debug!(code = self.code(), message = %self, "IDS request refused");
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
