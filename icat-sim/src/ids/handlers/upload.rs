//! The one code path of both uploads, `put` (PUT, the file as body) and putAsPost (POST
//! multipart): check the parameters as the real IDS does, stream the bytes to storage with their
//! size and CRC32, and catalogue the Datafile with the user's session.

use bytes::Bytes;
use futures_util::Stream;

use crate::ids::catalog::NewDatafile;
use crate::ids::error::{IdsError, IdsResult};
use crate::ids::params::Params;
use crate::ids::state::IdsState;
use crate::ids::storage::Storage;

/// 501 unless the IDS is writable (`readOnly = false`).
pub(super) fn require_writable(state: &IdsState) -> IdsResult<()> {
    if state.settings().read_only {
        Err(IdsError::NotImplemented(
            "This operation has been configured to be unavailable".to_string(),
        ))
    } else {
        Ok(())
    }
}

/// A stored and catalogued upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Uploaded {
    /// `Datafile.id`.
    pub id: i64,
    /// CRC32 of the bytes.
    pub crc32: u32,
    /// `Datafile.location`.
    pub location: String,
    /// Number of bytes.
    pub size: u64,
}

impl Uploaded {
    /// The 201 body `{"id":..,"checksum":<CRC32 decimal>,"location":"..","size":..}`, in the
    /// real IDS's key order. Like the real IDS, `\` and `'` in the location are escaped for its
    /// HTML wrapper in every answer (locations made here never hold either).
    pub(super) fn json(&self) -> String {
        let location = self.location.replace('\\', "\\\\").replace('\'', "\\'");
        format!(
            "{{\"id\":{},\"checksum\":{},\"location\":{},\"size\":{}}}",
            self.id,
            self.crc32,
            serde_json::Value::String(location),
            self.size
        )
    }
}

/// Check `params` (readOnly, `sessionId`, `name`, `datafileFormatId`, `datasetId`, the two
/// times), store `body` under a fresh location while computing size and CRC32 (never holding it
/// whole), and register the Datafile with the user's session; the stored file is removed again
/// if the catalogue refuses it. Archived datasets give 503 (and a restore), a conflicting
/// exclusive lock 503 `Data is busy`.
pub(super) async fn store_and_register<S, E>(
    state: &IdsState,
    params: &Params,
    body: S,
) -> IdsResult<Uploaded>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: std::fmt::Display,
{
    require_writable(state)?;
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
    let stored = state.storage().put_stream(&location, body).await?;
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
    Ok(Uploaded {
        id,
        crc32: stored.crc32,
        location,
        size: stored.size,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_has_the_real_key_order_and_escapes() {
        let up = Uploaded {
            id: 7,
            crc32: 4_294_967_295,
            location: "1/2/a'b\\c".to_string(),
            size: 12,
        };
        let json = up.json();
        assert_eq!(
            json,
            r#"{"id":7,"checksum":4294967295,"location":"1/2/a\\'b\\\\c","size":12}"#
        );
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["location"], "1/2/a\\'b\\\\c");
    }
}
