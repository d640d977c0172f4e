//! The IDS REST endpoints and the router that serves them.

mod data;
mod info;
mod link;
mod modify;
mod put_post;
mod selection;
mod two_level;
mod upload;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};

use super::catalog::{DatafileRecord, DatasetInfo, Resolved, Selection};
use super::error::{IdsError, IdsResult};
use super::params::Params;
use super::prepared::Prepared;
use super::state::IdsState;

/// The IDS router; the simulator nests it at `/ids`.
///
/// Unknown paths answer 501 `NOT_IMPLEMENTED`; every answer carries the CORS headers of the
/// real IDS; the fault knobs of `state` (delays, failed requests) apply to every call.
pub fn router(state: IdsState) -> Router {
    Router::new()
        .route("/ping", get(info::ping))
        .route("/version", get(info::version))
        .route("/getIcatUrl", get(info::get_icat_url))
        .route("/isReadOnly", get(info::is_read_only))
        .route("/isTwoLevel", get(info::is_two_level))
        .route("/getServiceStatus", get(info::get_service_status))
        .route("/prepareData", post(selection::prepare_data))
        .route("/isPrepared", get(selection::is_prepared))
        .route("/getStatus", get(selection::get_status))
        .route("/getSize", get(selection::get_size))
        .route("/getDatafileIds", get(selection::get_datafile_ids))
        .route("/getData", get(data::get_data))
        .route("/archive", post(two_level::archive))
        .route("/restore", post(two_level::restore))
        .route("/write", post(two_level::write))
        .route("/reset", post(two_level::reset))
        .route(
            "/put",
            put(modify::put)
                .post(put_post::put_as_post)
                // Uploads are streamed to storage, never held: no size limit.
                .layer(DefaultBodyLimit::disable()),
        )
        .route("/delete", delete(modify::delete))
        .route("/getLink", post(link::get_link))
        .fallback(unknown_operation)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            faults_and_cors,
        ))
        .with_state(state)
}

async fn unknown_operation() -> IdsError {
    IdsError::UnknownOperation
}

async fn method_not_allowed() -> Response {
    let body = serde_json::json!({
        "code": "InternalException",
        "message": "HTTP 405 Method Not Allowed",
    });
    (
        StatusCode::METHOD_NOT_ALLOWED,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// Applies injected delays and failures, answers CORS preflights, adds CORS headers.
async fn faults_and_cors(State(state): State<IdsState>, request: Request, next: Next) -> Response {
    if let Some(delay) = state.faults().delay() {
        tokio::time::sleep(delay).await;
    }
    let mut response = if let Some(status) = state.faults().take_failure() {
        tracing::info!(status, path = %request.uri().path(), "failing request (injected fault)");
        if status == 503 {
            IdsError::DataNotOnline("Injected fault: service unavailable".to_string())
                .into_response()
        } else if let Some(gateway) = crate::ids::gateway_page(status) {
            gateway
        } else {
            IdsError::Internal("Injected fault: internal error".to_string()).into_response()
        }
    } else if request.method() == Method::OPTIONS {
        StatusCode::OK.into_response()
    } else {
        next.run(request).await
    };
    let headers = response.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, DELETE, PUT"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Content-Type"),
    );
    response
}

/// A `text/plain` 200 answer.
fn text(body: impl Into<String>) -> Response {
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// An `application/json` 200 answer.
fn json(value: serde_json::Value) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Whether getData must zip: several datafiles, any dataset or investigation, or nothing.
fn must_zip(selection: &Selection) -> bool {
    selection.datafile_ids.len() > 1
        || !selection.dataset_ids.is_empty()
        || !selection.investigation_ids.is_empty()
        || selection.is_empty()
}

/// The datasets that hold at least one of the datafiles (empty datasets count as online).
fn datasets_with_files(datasets: &[DatasetInfo], datafiles: &[DatafileRecord]) -> Vec<DatasetInfo> {
    let used: std::collections::HashSet<i64> = datafiles.iter().map(|df| df.dataset.id).collect();
    datasets
        .iter()
        .filter(|ds| used.contains(&ds.id))
        .cloned()
        .collect()
}

/// A prepared selection by id, or 404 `The preparedId <id> is not known`.
async fn load_prepared(state: &IdsState, prepared_id: &str) -> IdsResult<Prepared> {
    state
        .prepared()
        .load(prepared_id)
        .await?
        .ok_or_else(|| IdsError::NotFound(format!("The preparedId {prepared_id} is not known")))
}

/// Resolve the selection in `params` with `session_id` (or the reader account).
async fn resolve(
    state: &IdsState,
    session_id: Option<String>,
    params: &Params,
) -> IdsResult<(Selection, Resolved)> {
    let selection = params.selection()?;
    if let (Some(network), Some(_)) = (state.network(), &session_id) {
        network.session_overhead().await;
    }
    let sel = selection.clone();
    let resolved = state
        .with_catalog(move |c| c.resolve(session_id.as_deref(), &sel))
        .await?;
    Ok((selection, resolved))
}

/// What a call names: a prepared selection, or a selection resolved with a session.
enum Target {
    Prepared(Prepared),
    Session(Resolved),
}

impl Target {
    /// From `preparedId`, else from `sessionId` (required unless `session_optional`) + ids.
    async fn from_params(
        state: &IdsState,
        params: &Params,
        session_optional: bool,
    ) -> IdsResult<Target> {
        if let Some(prepared_id) = params.prepared_id()? {
            return Ok(Target::Prepared(load_prepared(state, &prepared_id).await?));
        }
        let session = if session_optional && params.get("sessionId").is_none() {
            None
        } else {
            Some(params.uuid("sessionId")?)
        };
        let (_, resolved) = resolve(state, session, params).await?;
        Ok(Target::Session(resolved))
    }

    /// The resolved datasets and datafiles.
    fn into_resolved(self) -> Resolved {
        match self {
            Target::Prepared(p) => Resolved {
                datafiles: p.datafiles,
                datasets: p.datasets,
            },
            Target::Session(r) => r,
        }
    }
}
