//! The routes of one simulator server: the ICAT SOAP endpoint (behind its fault layer), the IDS at
//! `/ids` and ICAT's REST API at `/icat`; with a facility profile, the network shaping around all
//! of them and its counters at `/sim/network`.

use axum::Router;

use crate::glue::fault_injection::{FaultHandle, soap_layer};
use crate::icat::Icat;
use crate::icat::http::AppState;
use crate::ids::IdsState;
use crate::network::Network;

/// The router of a server for `icat` and `ids`, with the fault layers of `faults` and, when given,
/// the `network` profile.
pub fn router(
    icat: &Icat,
    ids: IdsState,
    faults: &FaultHandle,
    network: Option<&Network>,
) -> Router {
    let router = crate::icat::soap::icat_router(AppState { icat: icat.clone() })
        .layer(axum::middleware::from_fn_with_state(
            faults.soap_state(),
            soap_layer,
        ))
        .nest("/ids", crate::ids::router(ids))
        .nest(
            crate::icat::rest::REST_PATH,
            crate::icat::rest::router(AppState { icat: icat.clone() }),
        );
    // The profile shapes every answer but its own counters.
    match network {
        Some(network) => router
            .layer(axum::middleware::from_fn_with_state(
                network.clone(),
                crate::network::layer,
            ))
            .route(
                crate::network::STATS_PATH,
                axum::routing::get(crate::network::stats_handler).with_state(network.clone()),
            ),
        None => router,
    }
}
