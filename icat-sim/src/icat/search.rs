//! The `search` operation: the query is compiled by [`crate::jpql`] to one SQL statement, run on the
//! catalogue, and its rows turned into entities (with INCLUDEs), plain values or field sets.

use icat_soap::DateTime;
use icat_soap::dynamic::DynEntity;
use icat_soap::meta::AttrType;
use rusqlite::params_from_iter;
use rusqlite::types::ValueRef;

use super::Icat;
use crate::icat::access::IncludeFilter;
use crate::icat::db::{Budget, Include, ReadFilter};
use crate::icat::error::{IcatError, query_database_error};
use crate::jpql::{self, ColumnType, IncludeNode, Shape};

/// One value in a search result row.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// SQL NULL.
    Null,
    /// An entity (selected as a path such as `ds.investigation`).
    Entity(DynEntity),
    /// `xs:string`.
    String(String),
    /// `xs:long` (ids, counts, long attributes).
    Long(i64),
    /// `xs:int`.
    Int(i64),
    /// `xs:double`.
    Double(f64),
    /// `xs:boolean`.
    Bool(bool),
    /// `xs:dateTime`.
    DateTime(DateTime),
    /// An enum value: ICAT enum name (e.g. `ParameterValueType`) and wire value.
    Enum(&'static str, String),
}

/// One item of a `search` result.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchItem {
    /// A single value per row (an entity or a plain value).
    Value(Cell),
    /// Several select items per row.
    FieldSet(Vec<Cell>),
}

fn include_of(nodes: &[IncludeNode]) -> Include {
    let mut inc = Include::none();
    for path in IncludeNode::paths(nodes) {
        inc.add_path(path);
    }
    inc
}

fn jpql_error(e: jpql::JpqlError) -> IcatError {
    IcatError::bad_parameter(e.to_string())
}

fn cell(ty: ColumnType, v: ValueRef<'_>) -> Cell {
    match (ty, v) {
        (_, ValueRef::Null) | (ColumnType::Null, _) => Cell::Null,
        (ColumnType::Attr(AttrType::String), ValueRef::Text(t)) => {
            Cell::String(String::from_utf8_lossy(t).into_owned())
        }
        (ColumnType::Attr(AttrType::Enum(e)), ValueRef::Text(t)) => {
            Cell::Enum(e, String::from_utf8_lossy(t).into_owned())
        }
        (ColumnType::Attr(AttrType::Long), ValueRef::Integer(n)) => Cell::Long(n),
        (ColumnType::Attr(AttrType::Long), ValueRef::Real(d)) => Cell::Long(d as i64),
        (ColumnType::Attr(AttrType::Int), ValueRef::Integer(n)) => Cell::Int(n),
        (ColumnType::Attr(AttrType::Double), ValueRef::Real(d)) => Cell::Double(d),
        (ColumnType::Attr(AttrType::Double), ValueRef::Integer(n)) => Cell::Double(n as f64),
        (ColumnType::Attr(AttrType::Boolean), ValueRef::Integer(n)) => Cell::Bool(n != 0),
        (ColumnType::Attr(AttrType::DateTime), ValueRef::Integer(n)) => {
            Cell::DateTime(DateTime::from_unix_millis(n))
        }
        (ColumnType::Entity(_), ValueRef::Integer(n)) => Cell::Long(n),
        // SQLite computed something of another storage class (e.g. CONCAT of numbers): show it as text.
        (_, ValueRef::Text(t)) => Cell::String(String::from_utf8_lossy(t).into_owned()),
        (_, ValueRef::Integer(n)) => Cell::Long(n),
        (_, ValueRef::Real(d)) => Cell::Double(d),
        (_, ValueRef::Blob(b)) => Cell::String(String::from_utf8_lossy(b).into_owned()),
    }
}

impl Icat {
    /// `search(sessionId, query)`.
    pub fn search(&self, session: &str, query: &str) -> Result<Vec<SearchItem>, IcatError> {
        let user = self.user_of(session)?;
        let parsed = jpql::parse(query).map_err(jpql_error)?;
        let max = self.config().max_entities;
        let db = self.db();
        let now_millis = db.clock().now_millis();
        // Root users compile without restrictions (no extra SQL); others with their READ rules.
        let access = self.user_access(&db, &user)?;
        let opts = jpql::CompileOptions {
            entities: crate::entities(),
            restrictions: access.as_deref().map(|a| a.read_restrictions()),
            now_millis,
        };
        let compiled = jpql::compile_with(&parsed, &user, &opts).map_err(jpql_error)?;
        let filter = access
            .as_deref()
            .map(|access| IncludeFilter { access, now_millis });
        let filter = filter.as_ref().map(|f| f as &dyn ReadFilter);
        // The statement is the user's query: what the database refuses in it is a bad parameter.
        let mut stmt = db
            .conn()
            .prepare(&compiled.sql)
            .map_err(query_database_error)?;
        let width = stmt.column_count();
        let mut rows = stmt
            .query(params_from_iter(compiled.params.iter()))
            .map_err(query_database_error)?;
        let mut raw: Vec<Vec<rusqlite::types::Value>> = Vec::new();
        while let Some(row) = rows.next().map_err(query_database_error)? {
            if raw.len() as u64 >= max {
                return Err(IcatError::validation(format!(
                    "attempt to return more than {max} entities"
                )));
            }
            let mut values = Vec::with_capacity(width);
            for i in 0..width {
                values.push(row.get::<_, rusqlite::types::Value>(i)?);
            }
            raw.push(values);
        }
        drop(rows);
        drop(stmt);
        let mut budget = Budget::new(max);
        match compiled.shape {
            Shape::Entity { name, include } => {
                let ids: Vec<i64> = raw
                    .iter()
                    .filter_map(|r| match r.first() {
                        Some(rusqlite::types::Value::Integer(id)) => Some(*id),
                        _ => None,
                    })
                    .collect();
                let entities = db.load_entities_filtered(
                    name,
                    &ids,
                    &include_of(&include),
                    &mut budget,
                    filter,
                )?;
                Ok(entities
                    .into_iter()
                    .map(|e| SearchItem::Value(Cell::Entity(e)))
                    .collect())
            }
            Shape::Aggregate(ty) => Ok(raw
                .iter()
                .filter_map(|r| r.first())
                .map(|v| cell(ty, v.into()))
                .filter(|c| *c != Cell::Null)
                .map(SearchItem::Value)
                .collect()),
            Shape::Columns(types) => {
                let mut out = Vec::with_capacity(raw.len());
                for r in &raw {
                    let mut cells = Vec::with_capacity(types.len());
                    for (ty, v) in types.iter().zip(r) {
                        let c = match (ty, v) {
                            (ColumnType::Entity(name), rusqlite::types::Value::Integer(id)) => db
                                .load_entities(name, &[*id], &Include::none(), &mut budget)?
                                .pop()
                                .map_or(Cell::Null, Cell::Entity),
                            _ => cell(*ty, v.into()),
                        };
                        cells.push(c);
                    }
                    if types.len() == 1 {
                        if let Some(c) = cells.pop()
                            && c != Cell::Null
                        {
                            out.push(SearchItem::Value(c));
                        }
                    } else {
                        out.push(SearchItem::FieldSet(cells));
                    }
                }
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use icat_soap::dynamic::AttrValue;

    use super::{Cell, SearchItem};
    use crate::icat::Icat;
    use crate::icat::db::{Clock, Db};
    use crate::icat::error::IcatErrorKind;
    use crate::process::config::SimConfig;

    /// The synthetic facility (with its standard rules) and a root session.
    fn loaded(max_entities: u64) -> (Icat, String) {
        let mut db = Db::open(None, crate::entities(), Clock::default()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let spec = "visits=3,datasets=2,files=3,size=10".parse().unwrap();
        crate::data::synthetic::generate(
            &mut db,
            &spec,
            "simple/root",
            &crate::ids::Storage::open(dir.path()).unwrap(),
            false,
        )
        .unwrap();
        let icat = Icat::new(
            db,
            SimConfig {
                max_entities,
                ..SimConfig::default()
            },
        );
        let sid = login(&icat, "simple", "root");
        (icat, sid)
    }

    fn login(icat: &Icat, plugin: &str, user: &str) -> String {
        let creds = BTreeMap::from([
            ("username".to_string(), user.to_string()),
            ("password".to_string(), "secret".to_string()),
        ]);
        icat.login(plugin, &creds).unwrap()
    }

    fn strings(found: &[SearchItem]) -> Vec<String> {
        found
            .iter()
            .map(|item| match item {
                SearchItem::Value(Cell::String(s)) => s.clone(),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn entities_with_include() {
        let (icat, sid) = loaded(1000);
        let found = icat
            .search(&sid, "SELECT i FROM Investigation i WHERE i.name = 'SIM000002' INCLUDE i.datasets ds, ds.datafiles")
            .unwrap();
        assert_eq!(found.len(), 1);
        let SearchItem::Value(Cell::Entity(inv)) = &found[0] else {
            panic!("{found:?}")
        };
        assert_eq!(inv.attrs["name"], AttrValue::String("SIM000002".into()));
        assert_eq!(inv.many["datasets"].len(), 2);
        assert_eq!(inv.many["datasets"][0].many["datafiles"].len(), 3);
    }

    #[test]
    fn values_field_sets_and_aggregates() {
        let (icat, sid) = loaded(1000);
        let names = icat
            .search(
                &sid,
                "SELECT i.name FROM Investigation i ORDER BY i.name DESC",
            )
            .unwrap();
        assert_eq!(
            names[0],
            SearchItem::Value(Cell::String("SIM000003".into()))
        );
        let count = icat
            .search(&sid, "SELECT COUNT(df) FROM Datafile df")
            .unwrap();
        assert_eq!(count, vec![SearchItem::Value(Cell::Long(18))]);
        let rows = icat
            .search(&sid, "SELECT ds.name, ds.complete, ds.fileSize FROM Dataset ds ORDER BY ds.id LIMIT 0, 1")
            .unwrap();
        assert_eq!(
            rows,
            vec![SearchItem::FieldSet(vec![
                Cell::String("ds0001".into()),
                Cell::Bool(true),
                Cell::Long(30)
            ])]
        );
        // In the synthetic facility db/jbotu is on the second and third visits; db/jdoe is on
        // the third and is the instrument scientist of every instrument.
        let jbotu = login(&icat, "db", "jbotu");
        let all = "SELECT i.name FROM Investigation i ORDER BY i.name";
        let seen = icat.search(&jbotu, all).unwrap();
        assert_eq!(
            strings(&seen),
            ["SIM000002", "SIM000003"],
            "the rules hide a visit"
        );
        let count = icat
            .search(&jbotu, "SELECT COUNT(df) FROM Datafile df")
            .unwrap();
        assert_eq!(count, vec![SearchItem::Value(Cell::Long(12))]);
        let jdoe = login(&icat, "db", "jdoe");
        let seen = icat.search(&jdoe, all).unwrap();
        assert_eq!(
            strings(&seen).len(),
            3,
            "instrument scientists see every visit"
        );
        let mine = icat
            .search(
                &jdoe,
                "SELECT i.name FROM Investigation i, i.investigationUsers iu WHERE iu.user.name = :user",
            )
            .unwrap();
        assert_eq!(strings(&mine), ["SIM000003"]);
        let concise = icat
            .search(&sid, "Investigation.name [name = 'SIM000001']")
            .unwrap();
        assert_eq!(
            concise,
            vec![SearchItem::Value(Cell::String("SIM000001".into()))]
        );
    }

    #[test]
    fn faults() {
        let (icat, sid) = loaded(10);
        let err = icat.search(&sid, "SELECT df FROM Datafile df").unwrap_err();
        assert_eq!(
            (err.kind, err.message.as_str()),
            (
                IcatErrorKind::Validation,
                "attempt to return more than 10 entities"
            )
        );
        let err = icat
            .search(
                &sid,
                "SELECT i FROM Investigation i INCLUDE i.datasets ds, ds.datafiles",
            )
            .unwrap_err();
        assert_eq!(
            err.kind,
            IcatErrorKind::Validation,
            "included objects count"
        );
        let err = icat
            .search(&sid, "SELECT i FROM Investigation i WHERE i.name = ")
            .unwrap_err();
        assert_eq!(err.kind, IcatErrorKind::BadParameter);
        let err = icat
            .search("nope", "SELECT i FROM Investigation i")
            .unwrap_err();
        assert_eq!(err.kind, IcatErrorKind::Session);
    }
}
