//! Client for the ICAT Data Service (IDS) REST API (IDS 2.1) and a download engine.
//!
//! - [`IdsClient`]: one method per endpoint, typed [`IdsError`]s, selections of any length
//!   (long ones are split and merged or prepared with POST), retries of idempotent calls as a
//!   [`RetryPolicy`] says (the type the ICAT client takes too).
//! - [`IdsClient::prepare_and_wait`]: prepare data and poll at a [`PollPace`], with a deadline and
//!   cancellation until it is online.
//! - [`download`]: temporary files (in a hidden `.icat-download/` folder, named by datafile id)
//!   renamed only when complete and verified (size + CRC32), reads bounded by the expected size,
//!   resume with `Range`, safe zip extraction of selected entries, concurrent plans with per-file
//!   summaries (verified / unverified with a reason / skipped / failed).
//! - [`IdsClient::put`]: streamed upload with a CRC32 check.
//! - [`SessionIds`]: `session.ids(url)` from a logged-in `icat_soap::Session`;
//!   [`IdsClient::builder`] for other options.
//!
#![doc = include_str!("../README.md")]
//!
//! ## Without an ICAT session
//!
//! ```no_run
//! use std::sync::Arc;
//! use icat_ids::*;
//!
//! # async fn demo() -> Result<(), IdsError> {
//! let ids = IdsClient::builder("https://ids.example.org:8181")
//!     .session(SessionId::new("0d9a3706-80d4-4d29-9ff3-4d65d4308a24"))
//!     .build()?;
//! // Datafile metadata (id, visit, dataset, name, fileSize, checksum) comes from ICAT.
//! let mut plan = DownloadPlan::new("downloads");
//! let expected = Expected { size: Some(16), checksum: Some("cc830993".into()) };
//! plan.push(DatafileSpec::in_visit_dataset(42, "1.1-P", "greetings", "greet-jdoe.txt", expected)?);
//! let opts = DownloadOptions {
//!     concurrency: 4,
//!     progress: Some(Arc::new(|p: &Progress<'_>| eprintln!("{} {}/{:?}", p.name, p.done, p.total))),
//!     ..DownloadOptions::default()
//! };
//! let summary = ids.download_plan(&plan, &opts).await?;
//! for (file, err) in summary.failed() {
//!     eprintln!("{}: {err}", file.path.display());
//! }
//! # Ok(()) }
//! ```

pub mod builder;
pub mod client;
pub mod download;
pub mod error;
pub mod pause;
pub mod prepare;
pub mod selection;
pub mod session_source;
mod shortcuts;
pub mod transport;
pub mod types;
mod upload;

pub use builder::{IdsClientBuilder, SessionIds};
pub use client::{
    DEFAULT_MAX_URL_LEN, DEFAULT_RETRY, DataStream, IdsClient, MAX_SMALL_ANSWER, SessionId,
    normalize_ids_url,
};
pub use download::{
    AutoOptions, ConcurrencyStats, DEFAULT_DOWNLOAD_RETRY, DatafileSpec, DownloadOptions,
    DownloadPlan, DownloadSummary, Expected, FileReport, FileStatus, Outcome, Phase, Progress,
    ProgressFn, RawOutcome, RefusedDatafile, RetryBudget, RetryCause, SafeRelPath, Strategy,
    UnverifiedReason, Verification, ZipLayout, ZipOutput,
};
pub use error::IdsError;
/// The retry policy of IDS calls and downloads: the one type of the workspace (icat-soap's).
pub use icat_soap::RetryPolicy;
pub use pause::PollPace;
pub use prepare::{WaitCallback, WaitOptions, WaitStatus};
pub use selection::{DataRef, DataSelection, PreparedId};
pub use session_source::SessionSource;
pub use tokio_util::sync::CancellationToken;
pub use transport::TransportOptions;
pub use types::{DatafileIds, Packing, PutRequest, PutResponse, ServiceStatus, Status};
