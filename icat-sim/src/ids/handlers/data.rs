//! `getData`: a raw file for one datafile, otherwise a zip streamed on the fly.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::{datasets_with_files, load_prepared, must_zip, resolve};
use crate::ids::body::{ZipItem, file_body, zip_body};
use crate::ids::catalog::DatafileRecord;
use crate::ids::error::{IdsError, IdsResult};
use crate::ids::names::{content_disposition, download_name, zip_entry_name};
use crate::ids::params::Params;
use crate::ids::state::IdsState;
use crate::ids::storage::{StorageError, StoredContent};

/// Parse a `Range` header: only `bytes=N-` is accepted.
fn range_offset(headers: &HeaderMap) -> IdsResult<u64> {
    let Some(value) = headers.get(header::RANGE) else {
        return Ok(0);
    };
    let bad = || IdsError::BadRequest("The range must match bytes=(\\d+)-".to_string());
    let value = value.to_str().map_err(|_| bad())?;
    let digits = value
        .strip_prefix("bytes=")
        .and_then(|rest| rest.strip_suffix('-'))
        .ok_or_else(bad)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    digits.parse().map_err(|_| bad())
}

/// `GET getData`.
pub(super) async fn get_data(
    State(state): State<IdsState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> IdsResult<Response> {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    let outname = params.get("outname").map(str::to_string);
    let prepared_mode = params.prepared_id()?;
    let capped = state
        .network()
        .is_some_and(|n| n.profile().max_downloads_per_user.is_some());
    let (zip, compress, datasets, datafiles, user) = if let Some(prepared_id) = &prepared_mode {
        let prepared = load_prepared(&state, prepared_id).await?;
        let ids: Vec<i64> = prepared.datafiles.iter().map(|df| df.id).collect();
        let wanted = ids.len();
        let existing = state
            .with_catalog(move |c| c.existing_datafile_ids(&ids))
            .await?;
        if existing.len() != wanted {
            return Err(IdsError::NotFound(
                "One of the data files requested has been deleted".to_string(),
            ));
        }
        (
            prepared.zip,
            prepared.compress,
            prepared.datasets,
            prepared.datafiles,
            prepared.owner,
        )
    } else {
        let session = params.uuid("sessionId")?;
        let (selection, resolved) = resolve(&state, Some(session.clone()), &params).await?;
        let user = if capped {
            Some(
                state
                    .with_catalog(move |c| c.user_for_session(&session))
                    .await?,
            )
        } else {
            None
        };
        (
            params.flag("zip") || must_zip(&selection),
            params.flag("compress"),
            resolved.datasets,
            resolved.datafiles,
            user,
        )
    };
    let offset = range_offset(&headers)?;
    let locked = datasets_with_files(&datasets, &datafiles);
    state.require_online(&locked)?;
    let lock = state.lock_datasets(&locked, false)?;
    // The facility profile: a per-user cap on downloads (answered by the facility's front end),
    // and the server reading the prefix a Range skips before the first byte goes.
    let slot = match state.network() {
        Some(network) => {
            let slot = match network.begin_download(user.as_deref().unwrap_or("(prepared)")) {
                Ok(slot) => slot,
                Err(busy) => return Ok(busy.into_response()),
            };
            network.read_skipped_prefix(offset).await;
            slot
        }
        None => None,
    };

    let mut response_headers = HeaderMap::new();
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    response_headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    let status = if offset > 0 {
        StatusCode::PARTIAL_CONTENT
    } else {
        StatusCode::OK
    };

    let body = if !zip && datafiles.len() == 1 {
        let df = &datafiles[0];
        let content = stored_content(&state, df)?;
        let stored = content.size();
        let name = download_name(false, outname.as_deref(), Some(&df.name));
        insert_disposition(&mut response_headers, &name);
        if prepared_mode.is_none()
            && let Some(size) = df.file_size
        {
            let length = (size.max(0) as u64).saturating_sub(offset);
            response_headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
        }
        let cut = state.faults().take_drop(stored.saturating_sub(offset));
        let corrupt = state.faults().corrupts(df.id);
        let unable = |e: std::io::Error| {
            IdsError::Internal(format!("Unable to read datafile {}: {e}", df.id))
        };
        file_body(content, offset, corrupt, cut)
            .await
            .map_err(unable)?
    } else {
        // Checking every file touches the disk: do it off the async threads.
        let checker = state.clone();
        let (items, total) = tokio::task::spawn_blocking(move || zip_items(&checker, &datafiles))
            .await
            .map_err(|e| IdsError::Internal(format!("checking stored files failed: {e}")))??;
        let name = download_name(true, outname.as_deref(), None);
        insert_disposition(&mut response_headers, &name);
        let cut = state.faults().take_drop(total.saturating_sub(offset));
        zip_body(items, compress, offset, cut)
    };
    // The SHARED lock (and the download's place under the cap) live as long as the body is
    // being sent.
    let body = Body::from_stream(body.into_data_stream().map(move |chunk| {
        let _held = (&lock, &slot);
        chunk
    }));
    Ok((status, response_headers, body).into_response())
}

/// The zip entries of `datafiles` (checking each file is stored) and their total size.
fn zip_items(state: &IdsState, datafiles: &[DatafileRecord]) -> IdsResult<(Vec<ZipItem>, u64)> {
    let mut items = Vec::with_capacity(datafiles.len());
    let mut total = 0u64;
    for df in datafiles {
        let content = stored_content(state, df)?;
        let size = content.size();
        total += size;
        items.push(ZipItem {
            name: zip_entry_name(df),
            content,
            size,
            corrupt: state.faults().corrupts(df.id),
        });
    }
    Ok((items, total))
}

fn insert_disposition(headers: &mut HeaderMap, name: &str) {
    if let Ok(value) = HeaderValue::from_str(&content_disposition(name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
}

fn stored_content(state: &IdsState, df: &DatafileRecord) -> IdsResult<StoredContent> {
    state.storage().content(&df.location).map_err(|e| match e {
        StorageError::Missing(_) => IdsError::Internal(format!(
            "The file of datafile {} is missing from main storage",
            df.id
        )),
        StorageError::IllegalLocation(_) => {
            IdsError::Internal(format!("Datafile {} has an unusable location: {e}", df.id))
        }
        other => IdsError::from(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offset(v: &str) -> IdsResult<u64> {
        let mut h = HeaderMap::new();
        h.insert(header::RANGE, HeaderValue::from_str(v).unwrap());
        range_offset(&h)
    }

    #[test]
    fn only_open_ended_byte_ranges_are_accepted() {
        assert_eq!(offset("bytes=0-").unwrap(), 0);
        assert_eq!(offset("bytes=123-").unwrap(), 123);
        for bad in [
            "bytes=0-99",
            "bytes=-5",
            "bytes=1-,5-",
            "items=1-",
            "bytes=x-",
            "bytes=-",
        ] {
            assert_eq!(
                offset(bad).unwrap_err(),
                IdsError::BadRequest("The range must match bytes=(\\d+)-".into()),
                "{bad}"
            );
        }
        assert_eq!(range_offset(&HeaderMap::new()).unwrap(), 0);
    }
}
