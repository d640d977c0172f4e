//! ICAT's JSON REST API at `/icat` (icat.server `exposed/ICATRest.java`): sessions, version,
//! properties, `entityManager` search and get, and the free-text `search/documents` and
//! `facet/documents` endpoints. Errors are written as `IcatExceptionMapper` writes them.

mod entity_json;
mod entity_manager;
mod search;
mod session;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::icat::Icat;
use crate::icat::error::{IcatError, IcatErrorKind};
use crate::icat::http::AppState;

pub use entity_json::{format_date, item_json};

/// The path the REST API is served under.
pub const REST_PATH: &str = "/icat";

/// The router for `/icat/...` (to be nested at [`REST_PATH`]).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/session", axum::routing::post(session::login))
        .route(
            "/session/{session_id}",
            get(session::get_session)
                .put(session::refresh)
                .delete(session::logout),
        )
        .route("/version", get(session::version))
        .route("/properties", get(session::properties))
        .route("/entityManager", get(entity_manager::search_or_get))
        .route("/search/documents", get(search::search_documents))
        .route("/facet/documents", get(search::facet_documents))
        .fallback(not_implemented)
        .with_state(state)
}

/// The HTTP status ICAT gives each exception type (`IcatException.IcatExceptionType`,
/// icat.authentication).
pub fn status_of(kind: IcatErrorKind) -> StatusCode {
    match kind {
        IcatErrorKind::BadParameter => StatusCode::BAD_REQUEST,
        IcatErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        IcatErrorKind::InsufficientPrivileges | IcatErrorKind::Session => StatusCode::FORBIDDEN,
        IcatErrorKind::NoSuchObjectFound => StatusCode::NOT_FOUND,
        IcatErrorKind::ObjectAlreadyExists | IcatErrorKind::Validation => {
            StatusCode::PRECONDITION_FAILED
        }
        IcatErrorKind::NotImplemented => StatusCode::NOT_IMPLEMENTED,
        // A type a newer schema adds (the simulator never makes one).
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// An ICAT error as `IcatExceptionMapper` answers it: `{"code":..., "message":...[, "offset":...]}`
/// with the type's status. The message is cut to
/// [`MAX_FAULT_MESSAGE`](crate::icat::error::MAX_FAULT_MESSAGE) bytes, as SOAP faults are.
pub fn error_response(e: &IcatError) -> Response {
    let message = crate::icat::error::bounded(e.message.clone());
    let mut body = serde_json::json!({"code": e.kind.as_str(), "message": message});
    if e.offset >= 0 {
        body["offset"] = serde_json::json!(e.offset);
    }
    (
        status_of(e.kind.clone()),
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A JSON answer (200).
pub fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Unknown paths and parameters that do not convert: JAX-RS raises `NotFoundException`, which
/// `NotFoundExceptionMapper` answers as 501 NOT_IMPLEMENTED.
pub async fn not_implemented() -> Response {
    error_response(&not_implemented_error())
}

fn not_implemented_error() -> IcatError {
    IcatError::new(
        IcatErrorKind::NotImplemented,
        "Operation not implemented by this ICAT server.",
    )
}

/// Runs blocking catalogue work off the async runtime and turns its outcome into a response.
pub(crate) async fn blocking<F>(icat: &Icat, work: F) -> Response
where
    F: FnOnce(&Icat) -> Result<Response, IcatError> + Send + 'static,
{
    let icat = icat.clone();
    match tokio::task::spawn_blocking(move || work(&icat)).await {
        Ok(Ok(response)) => response,
        Ok(Err(e)) => {
            tracing::debug!(kind = e.kind.as_str(), "ICAT REST error");
            error_response(&e)
        }
        Err(e) => {
            tracing::error!(error = %e, "REST handler failed");
            error_response(&IcatError::internal("the request handler failed"))
        }
    }
}

/// The decoded query string: parameter name to value (the first of repeated names, as
/// `@QueryParam` takes).
pub(crate) fn query_params(raw: Option<&str>) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or("").as_bytes()) {
        out.entry(k.into_owned()).or_insert_with(|| v.into_owned());
    }
    out
}

/// An `int`/`long` query parameter: absent is 0 (a Java primitive), a value that does not convert
/// is JAX-RS's `NotFoundException` (501 NOT_IMPLEMENTED).
pub(crate) fn int_param(
    params: &std::collections::HashMap<String, String>,
    name: &str,
) -> Result<Option<i64>, IcatError> {
    match params.get(name) {
        None => Ok(None),
        Some(v) => v
            .trim()
            .parse::<i64>()
            .map(Some)
            .map_err(|_| not_implemented_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_icat_exception_types() {
        assert_eq!(status_of(IcatErrorKind::BadParameter), 400);
        assert_eq!(status_of(IcatErrorKind::Session), 403);
        assert_eq!(status_of(IcatErrorKind::InsufficientPrivileges), 403);
        assert_eq!(status_of(IcatErrorKind::NoSuchObjectFound), 404);
        assert_eq!(status_of(IcatErrorKind::ObjectAlreadyExists), 412);
        assert_eq!(status_of(IcatErrorKind::Validation), 412);
        assert_eq!(status_of(IcatErrorKind::Internal), 500);
        assert_eq!(status_of(IcatErrorKind::NotImplemented), 501);
    }
}
