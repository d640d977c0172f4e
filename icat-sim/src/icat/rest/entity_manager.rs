//! `GET /icat/entityManager`: `search` with `query` (a JSON array of entities, values or arrays of
//! values) or `get` with `query` and `id` (one `{"Entity": {...}}` object), as
//! `ICATRest.search` answers them.

use axum::extract::{RawQuery, State};
use axum::response::Response;
use serde_json::Value;

use super::entity_json::entity_json;
use super::{blocking, int_param, item_json, json_response, query_params};
use crate::icat::error::IcatError;
use crate::icat::http::AppState;

/// `GET /icat/entityManager?sessionId=...&query=...[&id=...]`.
pub async fn search_or_get(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    blocking(&state.icat, move |icat| {
        let params = query_params(raw.as_deref());
        let id = int_param(&params, "id")?;
        let query = params
            .get("query")
            .ok_or_else(|| IcatError::bad_parameter("query is not set"))?;
        let session = params.get("sessionId").map(String::as_str).unwrap_or("");
        let body = match id {
            None => Value::Array(icat.search(session, query)?.iter().map(item_json).collect()),
            Some(id) => entity_json(&icat.get(session, query, id)?),
        };
        Ok(json_response(body.to_string()))
    })
    .await
}
