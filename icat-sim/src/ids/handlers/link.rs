//! `getLink` (deprecated since IDS 2.0, gone in 3.0): a hard link to a datafile's stored file,
//! for users who can reach the IDS's file system. Off unless `linkLifetimeSeconds > 0`.

use axum::body::Bytes;
use axum::extract::State;
use axum::response::Response;

use super::text;
use crate::ids::catalog::Selection;
use crate::ids::error::{IdsError, IdsResult};
use crate::ids::params::Params;
use crate::ids::state::IdsState;

/// The 501 message when links are off (the real IDS's).
const LINKS_OFF: &str = "Sorry getLink is not available on this IDS installation";

/// The 503 message for a datafile whose dataset is archived (storageUnit=dataset).
const NOT_ONLINE: &str = "Before linking a datafile, its dataset has to be restored, restoration requested automatically";

/// `POST getLink` (form `sessionId`, `datafileId`, `username`): `text/plain` absolute path of a
/// new hard link to the datafile's file in `<storage>/link/`, valid for the link lifetime.
///
/// The datafile must be readable with the session (403, 404 as for getData); archived data gives
/// 503 and starts a restore; a synthetic file is written out first so the link has real bytes.
pub(super) async fn get_link(State(state): State<IdsState>, body: Bytes) -> IdsResult<Response> {
    if !state.settings().links_enabled() {
        return Err(IdsError::NotImplemented(LINKS_OFF.to_string()));
    }
    let params = Params::parse(&body);
    let session = params.uuid("sessionId")?;
    let datafile_id = params.required_long("datafileId")?;
    let username = params.get("username").unwrap_or_default().to_string();
    let selection = Selection {
        datafile_ids: vec![datafile_id],
        ..Selection::default()
    };
    let resolved = state
        .with_catalog(move |c| c.resolve(Some(&session), &selection))
        .await?;
    let datafile = resolved
        .datafiles
        .into_iter()
        .find(|df| df.id == datafile_id)
        .ok_or_else(|| IdsError::NotFound(format!("Datafile {datafile_id}")))?;
    if state.settings().two_level && !state.restore_offline(std::slice::from_ref(&datafile.dataset))
    {
        return Err(IdsError::DataNotOnline(NOT_ONLINE.to_string()));
    }
    let link = state.make_link(datafile.location, username).await?;
    let path = link.to_str().ok_or_else(|| {
        IdsError::Internal(format!(
            "the link path {} is not valid UTF-8; use a storage directory with a UTF-8 path",
            link.display()
        ))
    })?;
    tracing::debug!(datafile = datafile_id, "link made");
    Ok(text(path))
}
