//! Service information calls: ping, version, getIcatUrl, isReadOnly, isTwoLevel,
//! getServiceStatus.

use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::{json, text};
use crate::ids::error::{IdsError, IdsResult};
use crate::ids::params::Params;
use crate::ids::state::IdsState;

/// `GET ping`: `IdsOK`.
pub(super) async fn ping() -> Response {
    text("IdsOK")
}

/// `GET version`: `{"version":"2.1.1"}`.
pub(super) async fn version(State(state): State<IdsState>) -> Response {
    json(serde_json::json!({"version": state.settings().version}))
}

/// `GET getIcatUrl`: the ICAT URL.
pub(super) async fn get_icat_url(State(state): State<IdsState>) -> Response {
    text(state.catalog().icat_url())
}

/// `GET isReadOnly`.
pub(super) async fn is_read_only(State(state): State<IdsState>) -> Response {
    text(state.settings().read_only.to_string())
}

/// `GET isTwoLevel`.
pub(super) async fn is_two_level(State(state): State<IdsState>) -> Response {
    text(state.settings().two_level.to_string())
}

/// `GET getServiceStatus?sessionId=`: root users only.
pub(super) async fn get_service_status(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
) -> IdsResult<Response> {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let session = params.uuid("sessionId")?;
    let user = state
        .with_catalog(move |c| {
            let user = c.user_for_session(&session)?;
            let root = c.is_root(&user);
            Ok((user, root))
        })
        .await?;
    let (user, root) = user;
    if !root {
        return Err(IdsError::InsufficientPrivileges(format!(
            "{user} is not included in the ids rootUserNames set."
        )));
    }
    let (restoring, failures) = state.service_status();
    let ops: Vec<serde_json::Value> = restoring
        .iter()
        .map(|ds| {
            serde_json::json!({
                "data": format!(
                    "{}/{} ({}/{}/{}/{})",
                    ds.investigation_id, ds.id, ds.facility_name, ds.investigation_name,
                    ds.visit_id, ds.name
                ),
                "request": "RESTORE_REQUESTED",
            })
        })
        .collect();
    let locks: Vec<serde_json::Value> = state
        .lock_info()
        .into_iter()
        .map(|(id, exclusive, count)| {
            let kind = if exclusive { "EXCLUSIVE" } else { "SHARED" };
            serde_json::json!({"id": id, "type": kind, "count": count})
        })
        .collect();
    Ok(json(serde_json::json!({
        "opsQueue": ops,
        "lockCount": locks.len(),
        "locks": locks,
        "failures": failures,
    })))
}
