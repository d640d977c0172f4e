//! Calls about a selection: prepareData, isPrepared, getStatus, getSize, getDatafileIds.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::Response;

use super::{Target, datasets_with_files, json, load_prepared, must_zip, resolve, text};
use crate::ids::error::IdsResult;
use crate::ids::params::Params;
use crate::ids::prepared::Prepared;
use crate::ids::state::{DataStatus, IdsState};

fn query_params(query: Option<String>) -> Params {
    Params::parse(query.unwrap_or_default().as_bytes())
}

/// `POST prepareData` (form): resolve now, start restores, answer a new preparedId.
pub(super) async fn prepare_data(
    State(state): State<IdsState>,
    body: Bytes,
) -> IdsResult<Response> {
    let params = Params::parse(&body);
    let session = params.uuid("sessionId")?;
    let (selection, resolved) = resolve(&state, Some(session.clone()), &params).await?;
    let zip = params.flag("zip") || must_zip(&selection);
    let owner = if state
        .network()
        .is_some_and(|n| n.profile().max_downloads_per_user.is_some())
    {
        Some(
            state
                .with_catalog(move |c| c.user_for_session(&session))
                .await?,
        )
    } else {
        None
    };
    let prepared = Prepared {
        zip,
        compress: params.flag("compress"),
        datasets: resolved.datasets,
        datafiles: resolved.datafiles,
        owner,
    };
    if state.settings().two_level {
        state.clear_failures(&prepared.datasets);
        let with_files = datasets_with_files(&prepared.datasets, &prepared.datafiles);
        state.restore_offline(&with_files);
    }
    let id = state.prepared().save(&prepared).await?;
    tracing::debug!(files = prepared.datafiles.len(), "data prepared");
    Ok(text(id))
}

/// `GET isPrepared?preparedId=`: true when all prepared data is online.
pub(super) async fn is_prepared(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
) -> IdsResult<Response> {
    let params = query_params(query);
    let prepared_id = params.uuid("preparedId")?;
    let prepared = load_prepared(&state, &prepared_id).await?;
    if !state.settings().two_level {
        return Ok(text("true"));
    }
    state.check_failures(&prepared.datasets)?;
    let with_files = datasets_with_files(&prepared.datasets, &prepared.datafiles);
    Ok(text(state.restore_offline(&with_files).to_string()))
}

/// `GET getStatus`: `ONLINE`, `RESTORING` or `ARCHIVED` (sessionId may be left out).
pub(super) async fn get_status(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
) -> IdsResult<Response> {
    let params = query_params(query);
    let resolved = Target::from_params(&state, &params, true)
        .await?
        .into_resolved();
    if !state.settings().two_level {
        return Ok(text(DataStatus::Online.as_str()));
    }
    state.check_failures(&resolved.datasets)?;
    let with_files = datasets_with_files(&resolved.datasets, &resolved.datafiles);
    Ok(text(state.status(&with_files)?.as_str()))
}

/// `GET getSize`: the sum of the catalogued `fileSize` of the selected datafiles.
pub(super) async fn get_size(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
) -> IdsResult<Response> {
    let params = query_params(query);
    let resolved = Target::from_params(&state, &params, false)
        .await?
        .into_resolved();
    let size: i64 = resolved
        .datafiles
        .iter()
        .map(|df| df.file_size.unwrap_or(0))
        .sum();
    Ok(text(size.to_string()))
}

/// `GET getDatafileIds`: `{"ids":[..]}`, plus `zip` and `compress` for a preparedId.
pub(super) async fn get_datafile_ids(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
) -> IdsResult<Response> {
    let params = query_params(query);
    let target = Target::from_params(&state, &params, false).await?;
    Ok(match target {
        Target::Prepared(p) => {
            let ids: Vec<i64> = p.datafiles.iter().map(|df| df.id).collect();
            json(serde_json::json!({"zip": p.zip, "compress": p.compress, "ids": ids}))
        }
        Target::Session(r) => {
            let ids: Vec<i64> = r.datafiles.iter().map(|df| df.id).collect();
            json(serde_json::json!({"ids": ids}))
        }
    })
}
