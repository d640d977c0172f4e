//! The simulated ICAT Data Service (IDS 2.1): REST endpoints, file storage, two-level storage.
//!
//! The IDS talks to the ICAT side only through [`IdsCatalog`]. To run it:
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use icat_sim::ids::{IdsSettings, IdsState, MemoryCatalog};
//!
//! let catalog = Arc::new(MemoryCatalog::new("http://localhost/ICATService/ICAT"));
//! let state = IdsState::new(catalog, "/tmp/ids-storage", IdsSettings::default())?;
//! let app = axum::Router::new().nest("/ids", icat_sim::ids::router(state));
//! # let _ = app; Ok(()) }
//! ```
//!
//! or, in tests, [`serve_for_tests`], which binds 127.0.0.1 on a free port.

mod body;
mod catalog;
mod error;
mod faults;
mod handlers;
mod links;
mod memory;
mod names;
mod params;
mod prepared;
mod settings;
mod state;
mod storage;
mod testing;

pub use catalog::{
    CatalogError, DatafileRecord, DatasetInfo, IdsCatalog, NewDatafile, Resolved, Selection,
};
pub use error::IdsError;
pub use faults::{DropAt, FaultSettings, Faults, gateway_page};
pub use handlers::router;
pub use memory::{MemoryCatalog, MemoryDatafile};
pub use names::{java_url_encode, zip_entry_name};
pub use settings::{DEFAULT_PREPARED_COUNT, IdsSettings};
pub use state::{DataStatus, IdsState};
pub use storage::{
    ReadSeek, SplitMix64, Storage, StorageError, StoredContent, StoredFile, SyntheticFile,
    SyntheticTail, fill_pattern,
};
pub use testing::{IdsServer, serve_for_tests};
