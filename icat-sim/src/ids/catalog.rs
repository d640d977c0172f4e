//! The contract between the IDS side and the ICAT catalogue that backs it.
//!
//! The IDS never reads the ICAT database itself: every question about sessions, entities and
//! access goes through [`IdsCatalog`]. The simulator core implements it over SQLite;
//! [`crate::ids::MemoryCatalog`] implements it in memory for tests.

use serde::{Deserialize, Serialize};

/// An ICAT error as the IDS sees it; each kind maps to one IDS error status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    /// The session id is unknown or expired (ICAT `SESSION`); the IDS answers 403.
    #[error("{0}")]
    Session(String),
    /// The user may not do this (ICAT `INSUFFICIENT_PRIVILEGES`); the IDS answers 403.
    #[error("{0}")]
    InsufficientPrivileges(String),
    /// An entity does not exist (ICAT `NO_SUCH_OBJECT_FOUND`); the IDS answers 404.
    #[error("{0}")]
    NotFound(String),
    /// ICAT refused the values (`VALIDATION`, `BAD_PARAMETER`, `OBJECT_ALREADY_EXISTS`); 400.
    /// When registering a `put` datafile only `VALIDATION` lands here (ids.server's
    /// `IdsBean.registerDatafile`); the other types become [`CatalogError::Internal`].
    #[error("{0}")]
    BadParameter(String),
    /// Anything else that went wrong inside the catalogue; the IDS answers 500.
    #[error("{0}")]
    Internal(String),
}

/// Which entities a request names: the three id lists of every IDS call.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// `investigationIds`.
    pub investigation_ids: Vec<i64>,
    /// `datasetIds`.
    pub dataset_ids: Vec<i64>,
    /// `datafileIds`.
    pub datafile_ids: Vec<i64>,
}

impl Selection {
    /// True when no id at all is given.
    pub fn is_empty(&self) -> bool {
        self.investigation_ids.is_empty()
            && self.dataset_ids.is_empty()
            && self.datafile_ids.is_empty()
    }

    /// Total number of ids in the three lists.
    pub fn len(&self) -> usize {
        self.investigation_ids.len() + self.dataset_ids.len() + self.datafile_ids.len()
    }
}

/// What the IDS needs to know about a dataset (the real IDS's `DsInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatasetInfo {
    /// `Dataset.id`.
    pub id: i64,
    /// `Dataset.name`.
    pub name: String,
    /// `Dataset.location`, if any.
    pub location: Option<String>,
    /// `Investigation.id` of the dataset's investigation.
    pub investigation_id: i64,
    /// `Investigation.name`.
    pub investigation_name: String,
    /// `Investigation.visitId`.
    pub visit_id: String,
    /// `Facility.id` of the investigation's facility.
    pub facility_id: i64,
    /// `Facility.name`.
    pub facility_name: String,
}

/// A datafile with a non-null location, with its dataset (the real IDS's `DfInfo` + `DsInfo`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatafileRecord {
    /// `Datafile.id`.
    pub id: i64,
    /// `Datafile.name` (untrusted: used in zip entry names, never as a path here).
    pub name: String,
    /// `Datafile.location`: where the file lives in storage, relative to the storage root.
    pub location: String,
    /// `Datafile.fileSize` as catalogued (may differ from the stored file).
    pub file_size: Option<i64>,
    /// `Datafile.checksum` as catalogued (lower-case hex CRC32 for files put through the IDS).
    pub checksum: Option<String>,
    /// The dataset holding the datafile.
    pub dataset: DatasetInfo,
}

/// The result of resolving a [`Selection`]: its datafiles and every dataset it touches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resolved {
    /// Datafiles with a non-null location, without duplicates, in ascending id order.
    pub datafiles: Vec<DatafileRecord>,
    /// Every dataset selected directly, through an investigation, or holding a selected datafile,
    /// including datasets without files; without duplicates, in ascending id order.
    pub datasets: Vec<DatasetInfo>,
}

/// A datafile to catalogue after its bytes have been stored by `put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDatafile {
    /// `Datafile.name`.
    pub name: String,
    /// The dataset to put it in.
    pub dataset_id: i64,
    /// `Datafile.datafileFormat` id.
    pub datafile_format_id: i64,
    /// `Datafile.description`.
    pub description: Option<String>,
    /// `Datafile.doi`.
    pub doi: Option<String>,
    /// `Datafile.datafileCreateTime` in milliseconds since the Unix epoch.
    pub create_time_millis: Option<i64>,
    /// `Datafile.datafileModTime` in milliseconds since the Unix epoch.
    pub mod_time_millis: Option<i64>,
    /// `Datafile.location` chosen by the storage.
    pub location: String,
    /// `Datafile.fileSize`: bytes received.
    pub file_size: i64,
    /// `Datafile.checksum`: lower-case hex CRC32 without zero padding (`Long.toHexString`).
    pub checksum: String,
}

/// The ICAT catalogue as seen by the IDS.
///
/// Methods are synchronous (the simulator's SQLite is); the IDS calls them on blocking threads.
/// A `session_id` of `None` means the IDS's own reader account, which may read everything.
pub trait IdsCatalog: Send + Sync + 'static {
    /// The ICAT URL reported by `getIcatUrl`.
    fn icat_url(&self) -> String;

    /// The user name (e.g. `simple/root`) owning a valid session.
    fn user_for_session(&self, session_id: &str) -> Result<String, CatalogError>;

    /// Whether `user` is one of the configured root users (`getServiceStatus` needs it).
    fn is_root(&self, user: &str) -> bool;

    /// Resolve a selection with the rights of `session_id` (or the reader account).
    ///
    /// Unknown or unreadable ids give `NotFound` / `InsufficientPrivileges`. Datafiles with a
    /// null location are left out of dataset and investigation selections; an explicitly
    /// selected datafile with a null location gives `NotFound("Datafile <id>")`.
    fn resolve(
        &self,
        session_id: Option<&str>,
        selection: &Selection,
    ) -> Result<Resolved, CatalogError>;

    /// The dataset `dataset_id` as readable by `session_id` (used by `put`).
    fn dataset(&self, session_id: &str, dataset_id: i64) -> Result<DatasetInfo, CatalogError>;

    /// Catalogue a stored file with the user's session; returns the new `Datafile.id`.
    fn register_datafile(&self, session_id: &str, new: &NewDatafile) -> Result<i64, CatalogError>;

    /// Delete datafiles with the user's session (all or nothing).
    fn delete_datafiles(&self, session_id: &str, datafile_ids: &[i64]) -> Result<(), CatalogError>;

    /// Of `datafile_ids`, those that still exist (reader account).
    fn existing_datafile_ids(&self, datafile_ids: &[i64]) -> Result<Vec<i64>, CatalogError>;

    /// Whether any datafile still has this location (so its file must be kept).
    fn location_in_use(&self, location: &str) -> Result<bool, CatalogError>;
}
