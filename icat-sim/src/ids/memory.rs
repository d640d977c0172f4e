//! An in-memory [`IdsCatalog`]: a tiny facility to run the IDS without the SQLite core.
//!
//! Used by the IDS tests and by the IDS client's tests. Every valid session may read and write
//! everything except investigations explicitly denied to its user with [`MemoryCatalog::deny`].

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use super::catalog::{
    CatalogError, DatafileRecord, DatasetInfo, IdsCatalog, NewDatafile, Resolved, Selection,
};
use super::names::random_uuid;

/// A datafile as stored by [`MemoryCatalog`] (all its catalogued fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemoryDatafile {
    /// `Datafile.id`.
    pub id: i64,
    /// `Datafile.name`.
    pub name: String,
    /// `Datafile.location`.
    pub location: Option<String>,
    /// `Datafile.fileSize`.
    pub file_size: Option<i64>,
    /// `Datafile.checksum`.
    pub checksum: Option<String>,
    /// The dataset id.
    pub dataset_id: i64,
    /// `Datafile.datafileFormat` id, when set.
    pub datafile_format_id: Option<i64>,
    /// `Datafile.description`.
    pub description: Option<String>,
    /// `Datafile.doi`.
    pub doi: Option<String>,
    /// `Datafile.datafileCreateTime` (ms since the epoch).
    pub create_time_millis: Option<i64>,
    /// `Datafile.datafileModTime` (ms since the epoch).
    pub mod_time_millis: Option<i64>,
}

#[derive(Debug, Clone)]
struct Investigation {
    facility_id: i64,
    name: String,
    visit_id: String,
}

#[derive(Debug, Clone)]
struct Dataset {
    investigation_id: i64,
    name: String,
    location: Option<String>,
}

#[derive(Debug, Default)]
struct Data {
    next_id: i64,
    sessions: HashMap<String, String>,
    root_users: HashSet<String>,
    denied: HashSet<(String, i64)>,
    facilities: BTreeMap<i64, String>,
    formats: BTreeMap<i64, String>,
    investigations: BTreeMap<i64, Investigation>,
    datasets: BTreeMap<i64, Dataset>,
    datafiles: BTreeMap<i64, MemoryDatafile>,
}

impl Data {
    fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    fn user(&self, session_id: &str) -> Result<String, CatalogError> {
        self.sessions.get(session_id).cloned().ok_or_else(|| {
            CatalogError::Session(format!(
                "Unable to find user by sessionid: {}...",
                session_id.get(..8).unwrap_or(session_id)
            ))
        })
    }

    fn check_read(&self, user: Option<&str>, investigation_id: i64) -> Result<(), CatalogError> {
        match user {
            Some(user) if self.denied.contains(&(user.to_string(), investigation_id)) => {
                Err(CatalogError::InsufficientPrivileges(format!(
                    "Read access to Investigation {investigation_id} is not allowed."
                )))
            }
            _ => Ok(()),
        }
    }

    fn dataset_info(&self, dataset_id: i64) -> Result<DatasetInfo, CatalogError> {
        let not_found = || CatalogError::NotFound(format!("Dataset[id:{dataset_id}] not found."));
        let ds = self.datasets.get(&dataset_id).ok_or_else(not_found)?;
        let inv = self
            .investigations
            .get(&ds.investigation_id)
            .ok_or_else(not_found)?;
        let facility = self
            .facilities
            .get(&inv.facility_id)
            .ok_or_else(not_found)?;
        Ok(DatasetInfo {
            id: dataset_id,
            name: ds.name.clone(),
            location: ds.location.clone(),
            investigation_id: ds.investigation_id,
            investigation_name: inv.name.clone(),
            visit_id: inv.visit_id.clone(),
            facility_id: inv.facility_id,
            facility_name: facility.clone(),
        })
    }

    fn record(&self, df: &MemoryDatafile) -> Result<Option<DatafileRecord>, CatalogError> {
        let Some(location) = &df.location else {
            return Ok(None);
        };
        Ok(Some(DatafileRecord {
            id: df.id,
            name: df.name.clone(),
            location: location.clone(),
            file_size: df.file_size,
            checksum: df.checksum.clone(),
            dataset: self.dataset_info(df.dataset_id)?,
        }))
    }
}

/// An in-memory catalogue implementing [`IdsCatalog`].
#[derive(Debug, Default)]
pub struct MemoryCatalog {
    icat_url: String,
    data: Mutex<Data>,
}

impl MemoryCatalog {
    /// An empty catalogue whose `getIcatUrl` answer is `icat_url`.
    pub fn new(icat_url: impl Into<String>) -> Self {
        MemoryCatalog {
            icat_url: icat_url.into(),
            data: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Data> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters for a test catalogue, so a poisoned lock is simply taken over.
        self.data.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Open a session for `user` and return its (lower-case UUID) session id.
    pub fn login(&self, user: &str) -> String {
        let session_id = random_uuid();
        self.add_session(&session_id, user);
        session_id
    }

    /// Register an existing session id for `user`.
    pub fn add_session(&self, session_id: &str, user: &str) {
        self.lock()
            .sessions
            .insert(session_id.to_string(), user.to_string());
    }

    /// End a session (later calls with it get 403).
    pub fn logout(&self, session_id: &str) {
        self.lock().sessions.remove(session_id);
    }

    /// Make `user` a root user.
    pub fn add_root_user(&self, user: &str) {
        self.lock().root_users.insert(user.to_string());
    }

    /// Forbid `user` to read (and so download, put or delete in) an investigation.
    pub fn deny(&self, user: &str, investigation_id: i64) {
        self.lock()
            .denied
            .insert((user.to_string(), investigation_id));
    }

    /// Add a facility; returns its id.
    pub fn add_facility(&self, name: &str) -> i64 {
        let mut data = self.lock();
        let id = data.new_id();
        data.facilities.insert(id, name.to_string());
        id
    }

    /// Add a datafile format; returns its id.
    pub fn add_datafile_format(&self, name: &str) -> i64 {
        let mut data = self.lock();
        let id = data.new_id();
        data.formats.insert(id, name.to_string());
        id
    }

    /// Add an investigation; returns its id.
    pub fn add_investigation(&self, facility_id: i64, name: &str, visit_id: &str) -> i64 {
        let mut data = self.lock();
        let id = data.new_id();
        data.investigations.insert(
            id,
            Investigation {
                facility_id,
                name: name.to_string(),
                visit_id: visit_id.to_string(),
            },
        );
        id
    }

    /// Add a dataset; returns its id.
    pub fn add_dataset(&self, investigation_id: i64, name: &str) -> i64 {
        let mut data = self.lock();
        let id = data.new_id();
        data.datasets.insert(
            id,
            Dataset {
                investigation_id,
                name: name.to_string(),
                location: None,
            },
        );
        id
    }

    /// Add a datafile; returns its id. `location: None` makes it invisible to the IDS.
    pub fn add_datafile(
        &self,
        dataset_id: i64,
        name: &str,
        location: Option<&str>,
        file_size: Option<i64>,
        checksum: Option<&str>,
    ) -> i64 {
        let mut data = self.lock();
        let id = data.new_id();
        data.datafiles.insert(
            id,
            MemoryDatafile {
                id,
                name: name.to_string(),
                location: location.map(str::to_string),
                file_size,
                checksum: checksum.map(str::to_string),
                dataset_id,
                datafile_format_id: None,
                description: None,
                doi: None,
                create_time_millis: None,
                mod_time_millis: None,
            },
        );
        id
    }

    /// A datafile as currently catalogued.
    pub fn datafile(&self, id: i64) -> Option<MemoryDatafile> {
        self.lock().datafiles.get(&id).cloned()
    }
}

impl IdsCatalog for MemoryCatalog {
    fn icat_url(&self) -> String {
        self.icat_url.clone()
    }

    fn user_for_session(&self, session_id: &str) -> Result<String, CatalogError> {
        self.lock().user(session_id)
    }

    fn is_root(&self, user: &str) -> bool {
        self.lock().root_users.contains(user)
    }

    fn resolve(
        &self,
        session_id: Option<&str>,
        selection: &Selection,
    ) -> Result<Resolved, CatalogError> {
        let data = self.lock();
        let user = session_id.map(|s| data.user(s)).transpose()?;
        let user = user.as_deref();
        let mut dataset_ids = BTreeSet::new();
        let mut files = BTreeMap::new();
        for &inv_id in &selection.investigation_ids {
            if !data.investigations.contains_key(&inv_id) {
                return Err(CatalogError::NotFound(format!(
                    "Investigation[id:{inv_id}] not found."
                )));
            }
            data.check_read(user, inv_id)?;
            for (&ds_id, ds) in &data.datasets {
                if ds.investigation_id == inv_id {
                    dataset_ids.insert(ds_id);
                }
            }
        }
        for &ds_id in &selection.dataset_ids {
            let info = data.dataset_info(ds_id)?;
            data.check_read(user, info.investigation_id)?;
            dataset_ids.insert(ds_id);
        }
        for df in data.datafiles.values() {
            if dataset_ids.contains(&df.dataset_id)
                && let Some(record) = data.record(df)?
            {
                files.insert(df.id, record);
            }
        }
        for &df_id in &selection.datafile_ids {
            let df = data.datafiles.get(&df_id).ok_or_else(|| {
                CatalogError::NotFound(format!("Datafile[id:{df_id}] not found."))
            })?;
            let record = data
                .record(df)?
                .ok_or_else(|| CatalogError::NotFound(format!("Datafile {df_id}")))?;
            data.check_read(user, record.dataset.investigation_id)?;
            dataset_ids.insert(record.dataset.id);
            files.insert(df_id, record);
        }
        let datasets = dataset_ids
            .iter()
            .map(|&id| data.dataset_info(id))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Resolved {
            datafiles: files.into_values().collect(),
            datasets,
        })
    }

    fn dataset(&self, session_id: &str, dataset_id: i64) -> Result<DatasetInfo, CatalogError> {
        let data = self.lock();
        let user = data.user(session_id)?;
        let info = data.dataset_info(dataset_id)?;
        data.check_read(Some(&user), info.investigation_id)?;
        Ok(info)
    }

    fn register_datafile(&self, session_id: &str, new: &NewDatafile) -> Result<i64, CatalogError> {
        let mut data = self.lock();
        let user = data.user(session_id)?;
        let info = data.dataset_info(new.dataset_id)?;
        data.check_read(Some(&user), info.investigation_id)?;
        if !data.formats.contains_key(&new.datafile_format_id) {
            return Err(CatalogError::NotFound(format!(
                "DatafileFormat[id:{}] not found.",
                new.datafile_format_id
            )));
        }
        let duplicate = data
            .datafiles
            .values()
            .any(|df| df.dataset_id == new.dataset_id && df.name == new.name);
        if duplicate {
            // ids.server's registerDatafile turns ICAT's OBJECT_ALREADY_EXISTS into
            // InternalException("OBJECT_ALREADY_EXISTS " + message).
            return Err(CatalogError::Internal(format!(
                "OBJECT_ALREADY_EXISTS Datafile exists with dataset = 'id:{}', name = '{}'",
                new.dataset_id, new.name
            )));
        }
        let id = data.new_id();
        data.datafiles.insert(
            id,
            MemoryDatafile {
                id,
                name: new.name.clone(),
                location: Some(new.location.clone()),
                file_size: Some(new.file_size),
                checksum: Some(new.checksum.clone()),
                dataset_id: new.dataset_id,
                datafile_format_id: Some(new.datafile_format_id),
                description: new.description.clone(),
                doi: new.doi.clone(),
                create_time_millis: new.create_time_millis,
                mod_time_millis: new.mod_time_millis,
            },
        );
        Ok(id)
    }

    fn delete_datafiles(&self, session_id: &str, datafile_ids: &[i64]) -> Result<(), CatalogError> {
        let mut data = self.lock();
        let user = data.user(session_id)?;
        for id in datafile_ids {
            let df = data
                .datafiles
                .get(id)
                .ok_or_else(|| CatalogError::NotFound(format!("Datafile[id:{id}] not found.")))?;
            let info = data.dataset_info(df.dataset_id)?;
            data.check_read(Some(&user), info.investigation_id)?;
        }
        for id in datafile_ids {
            data.datafiles.remove(id);
        }
        Ok(())
    }

    fn existing_datafile_ids(&self, datafile_ids: &[i64]) -> Result<Vec<i64>, CatalogError> {
        let data = self.lock();
        Ok(datafile_ids
            .iter()
            .copied()
            .filter(|id| data.datafiles.contains_key(id))
            .collect())
    }

    fn location_in_use(&self, location: &str) -> Result<bool, CatalogError> {
        Ok(self
            .lock()
            .datafiles
            .values()
            .any(|df| df.location.as_deref() == Some(location)))
    }
}
