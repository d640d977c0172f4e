//! Client for the ICAT Data Service (IDS) REST API (IDS 2.1) and a download engine.
//!
//! - [`IdsClient`]: one method per endpoint, typed [`IdsError`]s, selections of any length
//!   (long ones are split and merged or prepared with POST), retries of idempotent calls.
//! - [`IdsClient::prepare_and_wait`]: prepare data and poll with backoff, a deadline and
//!   cancellation until it is online.
//! - [`download`]: `.part` files renamed only when complete and verified (size + CRC32), resume
//!   with `Range`, safe zip extraction, concurrent plans with per-file summaries.
//! - [`IdsClient::put`]: streamed upload with a CRC32 check.

pub mod backoff;
pub mod client;
pub mod download;
pub mod error;
pub mod prepare;
pub mod selection;
pub mod transport;
pub mod types;
mod upload;

pub use backoff::Backoff;
pub use client::{DEFAULT_MAX_URL_LEN, DataStream, IdsClient, SessionId, normalize_ids_url};
pub use download::{
    DatafileSpec, DownloadOptions, DownloadPlan, DownloadSummary, Expected, FileReport, Outcome,
    Phase, Progress, ProgressFn, SafeRelPath, Strategy, ZipLayout, ZipOutput,
};
pub use error::IdsError;
pub use prepare::{WaitCallback, WaitOptions, WaitStatus};
pub use selection::{DataRef, DataSelection, PreparedId};
pub use tokio_util::sync::CancellationToken;
pub use transport::TransportOptions;
pub use types::{DatafileIds, Packing, PutRequest, PutResponse, ServiceStatus, Status};
