//! Calls that change data: put (upload a datafile) and delete.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::{datasets_with_files, resolve};
use crate::ids::catalog::NewDatafile;
use crate::ids::error::{IdsError, IdsResult};
use crate::ids::params::Params;
use crate::ids::state::IdsState;
use crate::ids::storage::Storage;

fn require_writable(state: &IdsState) -> IdsResult<()> {
    if state.settings().read_only {
        Err(IdsError::NotImplemented(
            "This operation has been configured to be unavailable".to_string(),
        ))
    } else {
        Ok(())
    }
}

/// `PUT put?sessionId=&name=&datasetId=&datafileFormatId=[&description&doi&datafileCreateTime
/// &datafileModTime]` with the file as body: store, catalogue, answer 201 with the CRC32.
pub(super) async fn put(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
    body: Body,
) -> IdsResult<Response> {
    require_writable(&state)?;
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let session = params.uuid("sessionId")?;
    let name = params
        .get("name")
        .ok_or_else(|| IdsError::BadRequest("The name parameter must be set".to_string()))?
        .to_string();
    let datafile_format_id = params.required_long("datafileFormatId")?;
    let dataset_id = params.required_long("datasetId")?;
    let create_time_millis = params.optional_long("datafileCreateTime")?;
    let mod_time_millis = params.optional_long("datafileModTime")?;
    if name.is_empty() || name.contains('\0') {
        return Err(IdsError::BadRequest(format!(
            "Illegal filename or dataset: {name:?}"
        )));
    }

    let sid = session.clone();
    let dataset = state
        .with_catalog(move |c| c.dataset(&sid, dataset_id))
        .await?;
    state.require_online(std::slice::from_ref(&dataset))?;
    let _lock = state.lock_datasets(std::slice::from_ref(&dataset), false)?;

    let location = Storage::new_location(dataset.investigation_id, dataset.id);
    let stored = state
        .storage()
        .put_stream(&location, body.into_data_stream())
        .await?;
    let new = NewDatafile {
        name,
        dataset_id,
        datafile_format_id,
        description: params.get("description").map(str::to_string),
        doi: params.get("doi").map(str::to_string),
        create_time_millis,
        mod_time_millis,
        location: location.clone(),
        file_size: stored.size as i64,
        checksum: stored.checksum_hex(),
    };
    let registered = state
        .with_catalog(move |c| c.register_datafile(&session, &new))
        .await;
    let id = match registered {
        Ok(id) => id,
        Err(e) => {
            if let Err(delete_error) = state.storage().delete(&location).await {
                tracing::warn!(error = %delete_error, "could not remove an uncatalogued upload");
            }
            return Err(e);
        }
    };
    tracing::debug!(id, size = stored.size, "datafile put");
    let body = serde_json::json!({
        "id": id,
        "checksum": stored.crc32,
        "location": location,
        "size": stored.size,
    });
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
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
