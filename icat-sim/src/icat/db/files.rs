//! Datafile lookups for the IDS side: resolving a data selection (investigation, dataset and datafile
//! ids) to the datafiles it covers, with the names the IDS needs for zip paths and status.

use std::collections::BTreeSet;

use rusqlite::params_from_iter;

use super::Db;
use crate::icat::error::{IcatError, IcatErrorKind};

/// One datafile as the IDS sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatafileRecord {
    /// Datafile id.
    pub id: i64,
    /// Datafile name.
    pub name: String,
    /// Storage location (never null here).
    pub location: String,
    /// `fileSize`, when known.
    pub size: Option<i64>,
    /// `checksum`, when known.
    pub checksum: Option<String>,
    /// Dataset id.
    pub dataset_id: i64,
    /// Dataset name.
    pub dataset_name: String,
    /// Dataset location, if any.
    pub dataset_location: Option<String>,
    /// Investigation id.
    pub investigation_id: i64,
    /// Investigation name.
    pub investigation_name: String,
    /// Investigation visit id.
    pub visit_id: String,
    /// Facility id.
    pub facility_id: i64,
    /// Facility name.
    pub facility_name: String,
    /// `createId` of the datafile.
    pub create_id: Option<String>,
    /// `modId` of the datafile.
    pub mod_id: Option<String>,
}

/// The ids of a data selection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selection {
    /// Investigation ids.
    pub investigation_ids: Vec<i64>,
    /// Dataset ids.
    pub dataset_ids: Vec<i64>,
    /// Datafile ids.
    pub datafile_ids: Vec<i64>,
}

const RECORD_SQL: &str = "SELECT df.\"id\", df.\"name\", df.\"location\", df.\"fileSize\", df.\"checksum\", \
     ds.\"id\", ds.\"name\", inv.\"id\", inv.\"name\", inv.\"visitId\", fac.\"id\", fac.\"name\", \
     df.\"createId\", df.\"modId\", ds.\"location\" \
     FROM \"Datafile\" df JOIN \"Dataset\" ds ON df.\"dataset_id\" = ds.\"id\" \
     JOIN \"Investigation\" inv ON ds.\"investigation_id\" = inv.\"id\" \
     JOIN \"Facility\" fac ON inv.\"facility_id\" = fac.\"id\"";

impl Db {
    fn records(
        &self,
        condition: &str,
        ids: &[i64],
    ) -> Result<Vec<(DatafileRecord, bool)>, IcatError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!("{RECORD_SQL} WHERE {condition} IN ({marks}) ORDER BY df.\"id\"");
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(chunk.iter()), |r| {
                let location: Option<String> = r.get(2)?;
                Ok((
                    DatafileRecord {
                        id: r.get(0)?,
                        name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                        location: location.clone().unwrap_or_default(),
                        size: r.get(3)?,
                        checksum: r.get(4)?,
                        dataset_id: r.get(5)?,
                        dataset_name: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
                        investigation_id: r.get(7)?,
                        investigation_name: r.get::<_, Option<String>>(8)?.unwrap_or_default(),
                        visit_id: r.get::<_, Option<String>>(9)?.unwrap_or_default(),
                        facility_id: r.get(10)?,
                        facility_name: r.get::<_, Option<String>>(11)?.unwrap_or_default(),
                        create_id: r.get(12)?,
                        mod_id: r.get(13)?,
                        dataset_location: r.get(14)?,
                    },
                    location.is_some(),
                ))
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        Ok(out)
    }

    fn require_all(&self, entity: &str, ids: &[i64]) -> Result<(), IcatError> {
        for id in ids {
            if !self.exists(entity, *id)? {
                return Err(IcatError::not_found(entity, *id));
            }
        }
        Ok(())
    }

    /// The datafiles a selection covers, by id, each once. Unknown ids give NO_SUCH_OBJECT_FOUND;
    /// datafiles without a location are left out of investigation and dataset selections, and an
    /// explicitly selected one without a location is NO_SUCH_OBJECT_FOUND, as the IDS does.
    pub fn resolve_selection(
        &self,
        selection: &Selection,
    ) -> Result<Vec<DatafileRecord>, IcatError> {
        self.require_all("Investigation", &selection.investigation_ids)?;
        self.require_all("Dataset", &selection.dataset_ids)?;
        self.require_all("Datafile", &selection.datafile_ids)?;
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        let explicit = self.records("df.\"id\"", &selection.datafile_ids)?;
        for (rec, has_location) in explicit {
            if !has_location {
                // ids.server 2.1.1 DataSelection.resolveDatasetIds: NotFoundException("Datafile " + id).
                return Err(IcatError::new(
                    IcatErrorKind::NoSuchObjectFound,
                    format!("Datafile {}", rec.id),
                ));
            }
            if seen.insert(rec.id) {
                out.push(rec);
            }
        }
        let by_dataset = self.records("ds.\"id\"", &selection.dataset_ids)?;
        let by_investigation = self.records("inv.\"id\"", &selection.investigation_ids)?;
        for (rec, has_location) in by_dataset.into_iter().chain(by_investigation) {
            if has_location && seen.insert(rec.id) {
                out.push(rec);
            }
        }
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// The ids of the datasets in a selection's investigations plus its explicit datasets.
    pub fn selection_datasets(&self, selection: &Selection) -> Result<Vec<i64>, IcatError> {
        self.require_all("Investigation", &selection.investigation_ids)?;
        self.require_all("Dataset", &selection.dataset_ids)?;
        let mut ids: BTreeSet<i64> = selection.dataset_ids.iter().copied().collect();
        for chunk in selection.investigation_ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql =
                format!("SELECT \"id\" FROM \"Dataset\" WHERE \"investigation_id\" IN ({marks})");
            let mut stmt = self.conn.prepare_cached(&sql)?;
            for id in stmt.query_map(params_from_iter(chunk.iter()), |r| r.get::<_, i64>(0))? {
                ids.insert(id?);
            }
        }
        Ok(ids.into_iter().collect())
    }
}

/// A dataset with its investigation and facility names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatasetRow {
    /// Dataset id.
    pub id: i64,
    /// Dataset name.
    pub name: String,
    /// Dataset location, if any.
    pub location: Option<String>,
    /// Investigation id.
    pub investigation_id: i64,
    /// Investigation name.
    pub investigation_name: String,
    /// Investigation visit id.
    pub visit_id: String,
    /// Facility id.
    pub facility_id: i64,
    /// Facility name.
    pub facility_name: String,
}

impl Db {
    /// The datasets with these ids (unknown ids are left out), ascending by id.
    pub fn dataset_rows(&self, ids: &[i64]) -> Result<Vec<DatasetRow>, IcatError> {
        let mut out = Vec::new();
        for chunk in ids.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(",");
            let sql = format!(
                "SELECT ds.\"id\", ds.\"name\", ds.\"location\", inv.\"id\", inv.\"name\", inv.\"visitId\", \
                 fac.\"id\", fac.\"name\" FROM \"Dataset\" ds \
                 JOIN \"Investigation\" inv ON ds.\"investigation_id\" = inv.\"id\" \
                 JOIN \"Facility\" fac ON inv.\"facility_id\" = fac.\"id\" WHERE ds.\"id\" IN ({marks})"
            );
            let mut stmt = self.conn.prepare_cached(&sql)?;
            let rows = stmt.query_map(params_from_iter(chunk.iter()), |r| {
                Ok(DatasetRow {
                    id: r.get(0)?,
                    name: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                    location: r.get(2)?,
                    investigation_id: r.get(3)?,
                    investigation_name: r.get::<_, Option<String>>(4)?.unwrap_or_default(),
                    visit_id: r.get::<_, Option<String>>(5)?.unwrap_or_default(),
                    facility_id: r.get(6)?,
                    facility_name: r.get::<_, Option<String>>(7)?.unwrap_or_default(),
                })
            })?;
            for row in rows {
                out.push(row?);
            }
        }
        out.sort_by_key(|d| d.id);
        out.dedup_by_key(|d| d.id);
        Ok(out)
    }

    /// True when some datafile has this location.
    pub fn location_in_use(&self, location: &str) -> Result<bool, IcatError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT 1 FROM \"Datafile\" WHERE \"location\" = ? LIMIT 1")?;
        Ok(stmt.exists([location])?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::icat::db::Clock;
    use crate::icat::error::IcatErrorKind;

    #[test]
    fn selections_resolve_to_datafiles() {
        let mut db = Db::open(None, crate::entities(), Clock::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let spec = "visits=2,datasets=2,files=3,size=5".parse().unwrap();
        crate::data::synthetic::generate(
            &mut db,
            &spec,
            "simple/root",
            &crate::ids::Storage::open(dir.path()).unwrap(),
            false,
        )
        .unwrap();
        let inv: i64 = db
            .conn()
            .query_row("SELECT MIN(\"id\") FROM \"Investigation\"", [], |r| {
                r.get(0)
            })
            .unwrap();
        let all = db
            .resolve_selection(&Selection {
                investigation_ids: vec![inv],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(all.len(), 6);
        assert!(
            all.iter().all(|r| r.investigation_id == inv
                && r.facility_name == "SIM"
                && r.size == Some(5))
        );
        let one = all[0].clone();
        let mixed = db
            .resolve_selection(&Selection {
                investigation_ids: vec![inv],
                dataset_ids: vec![one.dataset_id],
                datafile_ids: vec![one.id],
            })
            .unwrap();
        assert_eq!(mixed, all, "each datafile once");
        assert_eq!(
            db.selection_datasets(&Selection {
                investigation_ids: vec![inv],
                ..Default::default()
            })
            .unwrap()
            .len(),
            2
        );

        db.conn()
            .execute(
                "UPDATE \"Datafile\" SET \"location\" = NULL WHERE \"id\" = ?",
                [one.id],
            )
            .unwrap();
        let without = db
            .resolve_selection(&Selection {
                dataset_ids: vec![one.dataset_id],
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            without.len(),
            2,
            "no-location datafiles are left out of dataset selections"
        );
        let err = db
            .resolve_selection(&Selection {
                datafile_ids: vec![one.id],
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.kind, IcatErrorKind::NoSuchObjectFound);
        let err = db
            .resolve_selection(&Selection {
                dataset_ids: vec![99999],
                ..Default::default()
            })
            .unwrap_err();
        assert_eq!(err.message, "Dataset[id:99999] not found.");
    }
}
