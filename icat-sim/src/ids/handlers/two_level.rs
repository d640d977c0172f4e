//! Two-level storage calls: archive, restore, write, reset (POST forms, 204 answers).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;

use super::{Target, datasets_with_files, resolve};
use crate::ids::catalog::Resolved;
use crate::ids::error::{IdsError, IdsResult};
use crate::ids::params::Params;
use crate::ids::state::IdsState;

/// The 501 message of two-level calls on single-level storage.
const SINGLE_LEVEL: &str = "This operation is unavailable for single level storage";

fn require_two_level(state: &IdsState) -> IdsResult<()> {
    if state.settings().two_level {
        Ok(())
    } else {
        Err(IdsError::NotImplemented(SINGLE_LEVEL.to_string()))
    }
}

async fn resolve_with_session(state: &IdsState, params: &Params) -> IdsResult<Resolved> {
    let session = params.uuid("sessionId")?;
    Ok(resolve(state, Some(session), params).await?.1)
}

/// `POST archive`: move the selected datasets to archive storage.
pub(super) async fn archive(State(state): State<IdsState>, body: Bytes) -> IdsResult<StatusCode> {
    require_two_level(&state)?;
    let params = Params::parse(&body);
    let resolved = resolve_with_session(&state, &params).await?;
    state.archive(&resolved.datasets)?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST restore`: start restoring the selected archived datasets.
pub(super) async fn restore(State(state): State<IdsState>, body: Bytes) -> IdsResult<StatusCode> {
    require_two_level(&state)?;
    let params = Params::parse(&body);
    let resolved = resolve_with_session(&state, &params).await?;
    state.restore_offline(&resolved.datasets);
    Ok(StatusCode::NO_CONTENT)
}

/// `POST write`: copy online data to archive storage (nothing to do in the simulator).
pub(super) async fn write(State(state): State<IdsState>, body: Bytes) -> IdsResult<StatusCode> {
    if !state.settings().write_enabled() {
        return Err(IdsError::NotImplemented(
            "This operation has been configured to be unavailable".to_string(),
        ));
    }
    require_two_level(&state)?;
    let params = Params::parse(&body);
    let resolved = resolve_with_session(&state, &params).await?;
    let with_files = datasets_with_files(&resolved.datasets, &resolved.datafiles);
    if with_files.iter().any(|ds| !state.is_online(ds.id)) {
        return Err(IdsError::DataNotOnline(
            "Requested data is not online, write request refused".to_string(),
        ));
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `POST reset`: clear the "restore failed" flags of a preparedId or a selection.
pub(super) async fn reset(State(state): State<IdsState>, body: Bytes) -> IdsResult<StatusCode> {
    let params = Params::parse(&body);
    let resolved = Target::from_params(&state, &params, false)
        .await?
        .into_resolved();
    state.clear_failures(&resolved.datasets);
    Ok(StatusCode::NO_CONTENT)
}
