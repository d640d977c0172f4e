//! The catalogue behind the IDS: [`IdsCatalog`] implemented over the simulator's ICAT core, so the
//! IDS checks sessions, resolves selections and registers or deletes datafiles with ICAT's rules.

use icat_soap::DateTime;
use icat_soap::dynamic::{AttrValue, DynEntity};

use crate::icat::access::Access;
use crate::icat::db::Db;
use crate::icat::db::files::{DatafileRecord as Row, DatasetRow, Selection as DbSelection};
use crate::icat::error::{IcatError, IcatErrorKind};
use crate::icat::{Icat, denied};
use crate::ids::{
    CatalogError, DatafileRecord, DatasetInfo, IdsCatalog, NewDatafile, Resolved, Selection,
};

/// The simulator's catalogue as the IDS sees it.
#[derive(Debug, Clone)]
pub struct SimCatalog {
    icat: Icat,
    icat_url: String,
}

impl SimCatalog {
    /// A catalogue over `icat`, reporting `icat_url` from `getIcatUrl`.
    pub fn new(icat: Icat, icat_url: impl Into<String>) -> Self {
        SimCatalog {
            icat,
            icat_url: icat_url.into(),
        }
    }

    /// Checks the session (the reader account when `None`) and returns its user.
    fn check(&self, session: Option<&str>) -> Result<Option<String>, CatalogError> {
        match session {
            Some(s) => self.icat.user_of(s).map(Some).map_err(to_catalog),
            None => Ok(None),
        }
    }

    /// As a real IDS asks ICAT as the user: every object the selection names must be readable
    /// (else 403 InsufficientPrivileges), and only readable datafiles of it are served.
    fn check_readable(
        &self,
        db: &Db,
        user: &str,
        selection: &Selection,
        files: &mut Vec<Row>,
    ) -> Result<(), CatalogError> {
        let Some(access) = self.icat.user_access(db, user).map_err(to_catalog)? else {
            return Ok(());
        };
        let now = db.clock().now_millis();
        let named = [
            ("Investigation", &selection.investigation_ids),
            ("Dataset", &selection.dataset_ids),
            ("Datafile", &selection.datafile_ids),
        ];
        for (entity, ids) in named {
            let allowed = access
                .allowed_ids(db.conn(), Access::Read, entity, ids, now)
                .map_err(to_catalog)?;
            if allowed.len() != ids.len() {
                return Err(to_catalog(denied(Access::Read, entity)));
            }
        }
        let ids: Vec<i64> = files.iter().map(|f| f.id).collect();
        let readable: std::collections::HashSet<i64> = access
            .allowed_ids(db.conn(), Access::Read, "Datafile", &ids, now)
            .map_err(to_catalog)?
            .into_iter()
            .collect();
        files.retain(|f| readable.contains(&f.id));
        Ok(())
    }
}

/// Maps an ICAT exception to the IDS's view of it.
pub fn to_catalog(e: IcatError) -> CatalogError {
    match e.kind {
        IcatErrorKind::Session => CatalogError::Session(e.message),
        IcatErrorKind::InsufficientPrivileges => CatalogError::InsufficientPrivileges(e.message),
        IcatErrorKind::NoSuchObjectFound => CatalogError::NotFound(e.message),
        IcatErrorKind::BadParameter
        | IcatErrorKind::Validation
        | IcatErrorKind::ObjectAlreadyExists => CatalogError::BadParameter(e.message),
        // INTERNAL, NOT_IMPLEMENTED and any type a newer schema adds.
        _ => CatalogError::Internal(e.message),
    }
}

/// Maps an ICAT exception from creating the datafile in `put`, as ids.server 2.1.1's
/// `IdsBean.registerDatafile` does: `SESSION` and `INSUFFICIENT_PRIVILEGES` become 403,
/// `VALIDATION` 400, and every other type (`OBJECT_ALREADY_EXISTS` for a duplicate name among
/// them) an `InternalException` with the text `"<TYPE> <message>"` (500).
pub fn to_catalog_on_register(e: IcatError) -> CatalogError {
    match e.kind {
        IcatErrorKind::Session => CatalogError::Session(e.message),
        IcatErrorKind::InsufficientPrivileges => CatalogError::InsufficientPrivileges(e.message),
        IcatErrorKind::Validation => CatalogError::BadParameter(e.message),
        kind => CatalogError::Internal(format!("{} {}", kind.as_str(), e.message)),
    }
}

fn dataset_info(d: DatasetRow) -> DatasetInfo {
    DatasetInfo {
        id: d.id,
        name: d.name,
        location: d.location,
        investigation_id: d.investigation_id,
        investigation_name: d.investigation_name,
        visit_id: d.visit_id,
        facility_id: d.facility_id,
        facility_name: d.facility_name,
    }
}

fn datafile_record(r: Row) -> DatafileRecord {
    DatafileRecord {
        id: r.id,
        name: r.name,
        location: r.location,
        file_size: r.size,
        checksum: r.checksum,
        dataset: DatasetInfo {
            id: r.dataset_id,
            name: r.dataset_name,
            location: r.dataset_location,
            investigation_id: r.investigation_id,
            investigation_name: r.investigation_name,
            visit_id: r.visit_id,
            facility_id: r.facility_id,
            facility_name: r.facility_name,
        },
    }
}

fn reference(entity: &str, id: i64) -> DynEntity {
    let mut r = DynEntity::new(entity);
    r.attrs.insert("id".into(), AttrValue::Long(id));
    r
}

impl IdsCatalog for SimCatalog {
    fn icat_url(&self) -> String {
        self.icat_url.clone()
    }

    fn user_for_session(&self, session_id: &str) -> Result<String, CatalogError> {
        self.icat.user_of(session_id).map_err(to_catalog)
    }

    fn is_root(&self, user: &str) -> bool {
        self.icat.is_root(user)
    }

    fn resolve(
        &self,
        session_id: Option<&str>,
        selection: &Selection,
    ) -> Result<Resolved, CatalogError> {
        let user = self.check(session_id)?;
        let sel = DbSelection {
            investigation_ids: selection.investigation_ids.clone(),
            dataset_ids: selection.dataset_ids.clone(),
            datafile_ids: selection.datafile_ids.clone(),
        };
        let db = self.icat.db();
        let mut files = db.resolve_selection(&sel).map_err(to_catalog)?;
        if let Some(user) = &user {
            self.check_readable(&db, user, selection, &mut files)?;
        }
        let mut dataset_ids = db.selection_datasets(&sel).map_err(to_catalog)?;
        dataset_ids.extend(files.iter().map(|f| f.dataset_id));
        dataset_ids.sort_unstable();
        dataset_ids.dedup();
        let datasets = db.dataset_rows(&dataset_ids).map_err(to_catalog)?;
        Ok(Resolved {
            datafiles: files.into_iter().map(datafile_record).collect(),
            datasets: datasets.into_iter().map(dataset_info).collect(),
        })
    }

    fn dataset(&self, session_id: &str, dataset_id: i64) -> Result<DatasetInfo, CatalogError> {
        let user = self.check(Some(session_id))?.unwrap_or_default();
        let db = self.icat.db();
        self.icat
            .check_read(&db, &user, "Dataset", dataset_id)
            .map_err(to_catalog)?;
        db.dataset_rows(&[dataset_id])
            .map_err(to_catalog)?
            .pop()
            .map(dataset_info)
            .ok_or_else(|| CatalogError::NotFound(format!("Dataset[id:{dataset_id}] not found.")))
    }

    fn register_datafile(&self, session_id: &str, new: &NewDatafile) -> Result<i64, CatalogError> {
        let mut df = DynEntity::new("Datafile");
        let attrs = [
            ("name", Some(AttrValue::String(new.name.clone()))),
            ("location", Some(AttrValue::String(new.location.clone()))),
            ("fileSize", Some(AttrValue::Long(new.file_size))),
            ("checksum", Some(AttrValue::String(new.checksum.clone()))),
            (
                "description",
                new.description.clone().map(AttrValue::String),
            ),
            ("doi", new.doi.clone().map(AttrValue::String)),
            (
                "datafileCreateTime",
                new.create_time_millis
                    .map(|ms| AttrValue::DateTime(DateTime::from_unix_millis(ms))),
            ),
            (
                "datafileModTime",
                new.mod_time_millis
                    .map(|ms| AttrValue::DateTime(DateTime::from_unix_millis(ms))),
            ),
        ];
        for (field, value) in attrs {
            if let Some(v) = value {
                df.attrs.insert(field.to_string(), v);
            }
        }
        df.one
            .insert("dataset".into(), reference("Dataset", new.dataset_id));
        df.one.insert(
            "datafileFormat".into(),
            reference("DatafileFormat", new.datafile_format_id),
        );
        self.icat
            .create(session_id, &df)
            .map_err(to_catalog_on_register)
    }

    fn delete_datafiles(&self, session_id: &str, datafile_ids: &[i64]) -> Result<(), CatalogError> {
        let beans: Vec<DynEntity> = datafile_ids
            .iter()
            .map(|id| reference("Datafile", *id))
            .collect();
        self.icat
            .delete_many(session_id, &beans)
            .map_err(to_catalog)
    }

    fn existing_datafile_ids(&self, datafile_ids: &[i64]) -> Result<Vec<i64>, CatalogError> {
        let db = self.icat.db();
        let mut out = Vec::new();
        for id in datafile_ids {
            if db.exists("Datafile", *id).map_err(to_catalog)? {
                out.push(*id);
            }
        }
        Ok(out)
    }

    fn location_in_use(&self, location: &str) -> Result<bool, CatalogError> {
        self.icat.db().location_in_use(location).map_err(to_catalog)
    }
}
