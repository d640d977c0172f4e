//! Calls that change data: put (upload a datafile as the request body) and delete.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::upload::{require_writable, store_and_register};
use super::{datasets_with_files, resolve};
use crate::ids::error::IdsResult;
use crate::ids::params::Params;
use crate::ids::state::IdsState;

/// `PUT put?sessionId=&name=&datasetId=&datafileFormatId=[&description&doi&datafileCreateTime
/// &datafileModTime]` with the file as body: store, catalogue, answer 201 with the CRC32.
pub(super) async fn put(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
    body: Body,
) -> IdsResult<Response> {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let uploaded = store_and_register(&state, &params, body.into_data_stream()).await?;
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        uploaded.json(),
    )
        .into_response())
}

/// `DELETE delete?sessionId=&...Ids=`: delete the datafiles in ICAT, then their files.
pub(super) async fn delete(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
) -> IdsResult<StatusCode> {
    require_writable(&state)?;
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let session = params.uuid("sessionId")?;
    let (_, resolved) = resolve(&state, Some(session.clone()), &params).await?;
    let touched = datasets_with_files(&resolved.datasets, &resolved.datafiles);
    state.require_online(&touched)?;
    let _lock = state.lock_datasets(&touched, true)?;
    let ids: Vec<i64> = resolved.datafiles.iter().map(|df| df.id).collect();
    state
        .with_catalog(move |c| c.delete_datafiles(&session, &ids))
        .await?;
    for df in resolved.datafiles {
        let location = df.location.clone();
        let in_use = state
            .with_catalog(move |c| c.location_in_use(&location))
            .await?;
        if !in_use {
            state.storage().delete(&df.location).await?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
