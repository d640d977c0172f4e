//! Small typed values the IDS returns or accepts: status, service status, datafile id lists,
//! upload requests and answers, packing flags.

use std::fmt;

use serde::Deserialize;

use crate::error::IdsError;

/// Availability of data on two-level storage. Ordered so the maximum is the worst:
/// `Online < Restoring < Archived` (the IDS itself lets ARCHIVED win over RESTORING).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Status {
    /// Everything is on main storage.
    Online,
    /// Some data is being restored and none is archived without a restore.
    Restoring,
    /// Some data is only in archive storage.
    Archived,
}

impl Status {
    /// Parse the IDS text (`ONLINE`, `RESTORING`, `ARCHIVED`).
    pub fn parse(s: &str) -> Result<Self, IdsError> {
        match s.trim() {
            "ONLINE" => Ok(Status::Online),
            "RESTORING" => Ok(Status::Restoring),
            "ARCHIVED" => Ok(Status::Archived),
            other => Err(IdsError::UnexpectedResponse {
                call: "getStatus",
                detail: format!("unknown status {other:?}"),
            }),
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Status::Online => "ONLINE",
            Status::Restoring => "RESTORING",
            Status::Archived => "ARCHIVED",
        })
    }
}

/// Packing of a download: raw bytes for one datafile, or a zip (optionally compressed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Packing {
    /// Ask for a zip even for a single datafile.
    pub zip: bool,
    /// Deflate the zip entries (otherwise they are stored with level 0).
    pub compress: bool,
}

/// Answer of `getDatafileIds`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DatafileIds {
    /// The datafile ids.
    pub ids: Vec<i64>,
    /// Whether the prepared data will be zipped (only when asked by prepared id).
    #[serde(default)]
    pub zip: Option<bool>,
    /// Whether the prepared data will be compressed (only when asked by prepared id).
    #[serde(default)]
    pub compress: Option<bool>,
}

/// Answer of `getServiceStatus` (root users only).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceStatus {
    /// Queued deferred operations.
    #[serde(default)]
    pub ops_queue: Vec<QueuedOperation>,
    /// Number of locks held.
    #[serde(default)]
    pub lock_count: u64,
    /// Locks held, per dataset.
    #[serde(default)]
    pub locks: Vec<Lock>,
    /// Ids whose restore failed.
    #[serde(default)]
    pub failures: Vec<i64>,
}

/// One queued operation in [`ServiceStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct QueuedOperation {
    /// Dataset description or datafile location.
    pub data: String,
    /// The state, e.g. `RESTORE_REQUESTED`.
    pub request: String,
}

/// One lock in [`ServiceStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Lock {
    /// Dataset id.
    pub id: i64,
    /// `SHARED` or `EXCLUSIVE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// How many holders.
    pub count: u64,
}

/// What to catalogue for an uploaded file (`put`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutRequest {
    /// Datafile name in ICAT.
    pub name: String,
    /// Dataset the file belongs to.
    pub dataset_id: i64,
    /// Id of the DatafileFormat.
    pub datafile_format_id: i64,
    /// Optional description.
    pub description: Option<String>,
    /// Optional DOI.
    pub doi: Option<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub create_time_millis: Option<i64>,
    /// Modification time, milliseconds since the Unix epoch.
    pub mod_time_millis: Option<i64>,
}

impl PutRequest {
    /// A request with the three required fields.
    pub fn new(name: impl Into<String>, dataset_id: i64, datafile_format_id: i64) -> Self {
        PutRequest {
            name: name.into(),
            dataset_id,
            datafile_format_id,
            description: None,
            doi: None,
            create_time_millis: None,
            mod_time_millis: None,
        }
    }
}

impl PutRequest {
    /// Set the datafile's creation and modification times from ICAT `DateTime`s (the IDS takes
    /// milliseconds since the epoch).
    pub fn with_times(
        mut self,
        created: Option<&icat_soap::DateTime>,
        modified: Option<&icat_soap::DateTime>,
    ) -> Self {
        self.create_time_millis = created.map(icat_soap::DateTime::to_unix_millis);
        self.mod_time_millis = modified.map(icat_soap::DateTime::to_unix_millis);
        self
    }

    /// Take the modification time (and, when unset, the creation time) from a local file's
    /// metadata, as python-icat's `putData` does.
    pub fn with_file_times(mut self, meta: &std::fs::Metadata) -> Self {
        self.mod_time_millis = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .and_then(|d| i64::try_from(d.as_millis()).ok());
        if self.create_time_millis.is_none() {
            self.create_time_millis = self.mod_time_millis;
        }
        self
    }
}

/// What the IDS answered to a successful, verified `put`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutResponse {
    /// Id of the new Datafile.
    pub id: i64,
    /// CRC32 of the stored bytes (checked equal to what was sent).
    pub checksum: u32,
    /// Storage location the IDS chose.
    pub location: String,
    /// Bytes stored (checked equal to what was sent).
    pub size: u64,
}

impl PutResponse {
    /// The checksum as ICAT stores it: lower-case hex without zero padding.
    pub fn checksum_hex(&self) -> String {
        format!("{:x}", self.checksum)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worst_status_is_max() {
        let worst = [Status::Online, Status::Archived, Status::Restoring]
            .into_iter()
            .max();
        assert_eq!(worst, Some(Status::Archived));
        assert_eq!(Status::parse(" RESTORING\n").unwrap(), Status::Restoring);
        assert!(Status::parse("BROKEN").is_err());
    }

    #[test]
    fn service_status_parses_ids_json() {
        let s: ServiceStatus = serde_json::from_str(
            r#"{"opsQueue":[{"data":"1/2 (f/i/v/d)","request":"RESTORE_REQUESTED"}],
                "lockCount":1,"locks":[{"id":2,"type":"SHARED","count":1}],"failures":[5]}"#,
        )
        .unwrap();
        assert_eq!(s.ops_queue[0].request, "RESTORE_REQUESTED");
        assert_eq!(s.locks[0].kind, "SHARED");
        assert_eq!(s.failures, vec![5]);
    }

    #[test]
    fn put_times_from_datetime() {
        let t = icat_soap::DateTime::parse("2024-01-02T03:04:05.678Z").unwrap();
        let r = PutRequest::new("f", 1, 2).with_times(Some(&t), None);
        assert_eq!(r.create_time_millis, Some(1_704_164_645_678));
        assert_eq!(r.mod_time_millis, None);
    }

    #[test]
    fn checksum_hex_has_no_padding() {
        let r = PutResponse {
            id: 1,
            checksum: 0x0abc,
            location: String::new(),
            size: 0,
        };
        assert_eq!(r.checksum_hex(), "abc");
    }
}
