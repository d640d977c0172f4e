//! Loading python-icat's icatdump XML format (`icatdata`): objects in `<data>` chunks, keyed by `id`,
//! referring to each other by `ref="key"` or by attribute values (`<facility name="ESNF"/>`,
//! dotted paths like `facility.name="ESNF"`), with one-to-many children nested inline.
//! The whole file loads in one transaction: on any error nothing is kept.

use std::collections::HashMap;
use std::path::Path;

use icat_soap::DateTime;
use icat_soap::dynamic::{AttrValue, DynEntity};
use icat_soap::meta::{AttrType, FieldKind};
use quick_xml::events::Event;
use rusqlite::types::Value;

use crate::icat::db::schema::{RECOMPUTE_FILE_TOTALS, Schema, quote};
use crate::icat::db::{Bulk, Db};
use crate::icat::error::IcatError;

/// Errors loading a dump.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read dump file {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The XML is not well-formed.
    #[error("dump file is not well-formed XML near byte {position}: {message}")]
    Xml {
        /// Byte offset.
        position: u64,
        /// Parser message.
        message: String,
    },
    /// The content does not fit the ICAT model.
    #[error("dump file: {0}")]
    Content(String),
    /// Creating an object failed.
    #[error("dump file: cannot create {what}: {source}")]
    Create {
        /// Which object (its key or element name).
        what: String,
        /// The ICAT error.
        source: IcatError,
    },
}

/// A parsed XML element.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: Vec<(String, String)>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn parse_xml(text: &str) -> Result<Element, LoadError> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Element> = vec![Element::default()];
    let xml_err = |reader: &quick_xml::Reader<&[u8]>, e: &dyn std::fmt::Display| LoadError::Xml {
        position: reader.buffer_position(),
        message: e.to_string(),
    };
    loop {
        let event = reader.read_event().map_err(|e| xml_err(&reader, &e))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let mut el = Element {
                    name: String::from_utf8_lossy(e.local_name().as_ref()).into_owned(),
                    ..Default::default()
                };
                for a in e.attributes() {
                    let a = a.map_err(|e| xml_err(&reader, &e))?;
                    let value = a
                        .decode_and_unescape_value(reader.decoder())
                        .map_err(|e| xml_err(&reader, &e))?;
                    el.attrs.push((
                        String::from_utf8_lossy(a.key.local_name().as_ref()).into_owned(),
                        value.into_owned(),
                    ));
                }
                if matches!(event, Event::Start(_)) {
                    stack.push(el);
                } else if let Some(parent) = stack.last_mut() {
                    parent.children.push(el);
                }
            }
            Event::End(_) => {
                let el = stack
                    .pop()
                    .ok_or_else(|| xml_err(&reader, &"unbalanced end tag"))?;
                let parent = stack
                    .last_mut()
                    .ok_or_else(|| xml_err(&reader, &"unbalanced end tag"))?;
                parent.children.push(el);
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| xml_err(&reader, &e))?;
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&s);
                }
            }
            Event::CData(t) => {
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&String::from_utf8_lossy(&t));
                }
            }
            Event::GeneralRef(r) => {
                let resolved = match r.resolve_char_ref().map_err(|e| xml_err(&reader, &e))? {
                    Some(c) => c.to_string(),
                    None => {
                        let name = r.decode().map_err(|e| xml_err(&reader, &e))?;
                        quick_xml::escape::resolve_predefined_entity(&name)
                            .ok_or_else(|| xml_err(&reader, &format!("unknown entity &{name};")))?
                            .to_string()
                    }
                };
                if let Some(cur) = stack.last_mut() {
                    cur.text.push_str(&resolved);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    let mut root = stack
        .pop()
        .ok_or_else(|| xml_err(&reader, &"empty document"))?;
    if !stack.is_empty() {
        return Err(xml_err(&reader, &"unexpected end of file"));
    }
    root.children
        .pop()
        .ok_or_else(|| LoadError::Content("the file has no root element".into()))
}

/// Loads a dump file into the database as `user`; returns the number of top-level objects created.
pub fn load_file(db: &mut Db, path: &Path, user: &str) -> Result<usize, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    load_str(db, &text, user)
}

/// Loads dump text into the database as `user`; returns the number of top-level objects created.
pub fn load_str(db: &mut Db, text: &str, user: &str) -> Result<usize, LoadError> {
    let root = parse_xml(text)?;
    if root.name != "icatdata" {
        return Err(LoadError::Content(format!(
            "the root element is <{}>, not <icatdata>",
            root.name
        )));
    }
    let bulk = db.bulk(user).map_err(|source| LoadError::Create {
        what: "the load transaction".into(),
        source,
    })?;
    let mut keys: HashMap<String, (String, i64)> = HashMap::new();
    let mut count = 0;
    for chunk in root.children.iter().filter(|c| c.name == "data") {
        for obj in &chunk.children {
            let entity = entity_of_tag(bulk.schema(), &obj.name)?;
            let bean = build(&bulk, &keys, entity, obj)?;
            let key = obj.attr("id").map(str::to_string);
            let id = bulk.create(&bean).map_err(|source| LoadError::Create {
                what: key.clone().unwrap_or_else(|| obj.name.clone()),
                source,
            })?;
            if let Some(key) = key {
                keys.insert(key, (entity.to_string(), id));
            }
            count += 1;
        }
    }
    // Dumps carry dataset and investigation totals, and the triggers added each loaded datafile
    // on top: make them the totals of the datafiles now in the catalogue.
    bulk.conn()
        .execute_batch(RECOMPUTE_FILE_TOTALS)
        .map_err(|e| LoadError::Create {
            what: "the dataset and investigation file totals".into(),
            source: e.into(),
        })?;
    bulk.commit().map_err(|source| LoadError::Create {
        what: "the load transaction".into(),
        source,
    })?;
    Ok(count)
}

fn entity_of_tag(schema: &Schema, tag: &str) -> Result<&'static str, LoadError> {
    schema
        .entities()
        .iter()
        .find(|e| e.xml_type == tag)
        .map(|e| e.name)
        .ok_or_else(|| LoadError::Content(format!("<{tag}> is not an ICAT entity type")))
}

/// Builds the bean for one object element (fields as children).
fn build(
    bulk: &Bulk<'_>,
    keys: &HashMap<String, (String, i64)>,
    entity: &str,
    el: &Element,
) -> Result<DynEntity, LoadError> {
    let schema = bulk.schema();
    let table = schema
        .table(entity)
        .ok_or_else(|| LoadError::Content(format!("{entity} is not an ICAT entity")))?;
    let mut bean = DynEntity::new(entity);
    for child in &el.children {
        let field = table
            .meta
            .field(&child.name)
            .ok_or_else(|| LoadError::Content(format!("{entity} has no field {}", child.name)))?;
        match field.kind {
            FieldKind::Attribute(ty) => {
                let v = parse_value(ty, child.text.trim()).ok_or_else(|| {
                    LoadError::Content(format!(
                        "{entity}.{}: bad value '{}'",
                        child.name, child.text
                    ))
                })?;
                bean.attrs.insert(child.name.clone(), v);
            }
            FieldKind::One { target } => {
                let id = resolve_reference(bulk, keys, target, child)?;
                bean.one.insert(child.name.clone(), reference(target, id));
            }
            FieldKind::Many { target, .. } => {
                let sub = build(bulk, keys, target, child)?;
                bean.many.entry(child.name.clone()).or_default().push(sub);
            }
        }
    }
    Ok(bean)
}

fn reference(entity: &str, id: i64) -> DynEntity {
    let mut r = DynEntity::new(entity);
    r.attrs.insert("id".into(), AttrValue::Long(id));
    r
}

fn parse_value(ty: AttrType, text: &str) -> Option<AttrValue> {
    Some(match ty {
        AttrType::String | AttrType::Enum(_) => AttrValue::String(text.to_string()),
        AttrType::Long | AttrType::Int => AttrValue::Long(text.parse().ok()?),
        AttrType::Double => AttrValue::Double(text.parse().ok()?),
        AttrType::Boolean => AttrValue::Bool(match text {
            "true" | "1" => true,
            "false" | "0" => false,
            _ => return None,
        }),
        AttrType::DateTime => AttrValue::DateTime(DateTime::parse(text).ok()?),
    })
}

/// Resolves `<x ref="key"/>` or `<x name="..." facility.name="..."/>` to an id.
fn resolve_reference(
    bulk: &Bulk<'_>,
    keys: &HashMap<String, (String, i64)>,
    target: &str,
    el: &Element,
) -> Result<i64, LoadError> {
    if let Some(key) = el.attr("ref") {
        return match keys.get(key) {
            Some((_, id)) => Ok(*id),
            None => Err(LoadError::Content(format!(
                "reference to unknown object '{key}'"
            ))),
        };
    }
    if el.attrs.is_empty() {
        return Err(LoadError::Content(format!(
            "<{}> refers to a {target} without ref or attributes",
            el.name
        )));
    }
    let mut conds = Vec::new();
    let mut params = Vec::new();
    for (path, value) in &el.attrs {
        let steps: Vec<&str> = path.split('.').collect();
        conds.push(condition(
            bulk.schema(),
            target,
            &steps,
            value,
            &mut params,
        )?);
    }
    let sql = format!(
        "SELECT \"id\" FROM {} WHERE {}",
        quote(target),
        conds.join(" AND ")
    );
    let mut stmt = bulk
        .conn()
        .prepare(&sql)
        .map_err(|e| LoadError::Content(e.to_string()))?;
    let ids: Vec<i64> = stmt
        .query_map(rusqlite::params_from_iter(params.iter()), |r| r.get(0))
        .and_then(|rows| rows.collect())
        .map_err(|e| LoadError::Content(e.to_string()))?;
    match ids.as_slice() {
        [id] => Ok(*id),
        [] => Err(LoadError::Content(format!(
            "no {target} matches {:?}",
            el.attrs
        ))),
        _ => Err(LoadError::Content(format!(
            "more than one {target} matches {:?}",
            el.attrs
        ))),
    }
}

/// SQL for `path = value` evaluated on rows of `entity` (nested many-to-one steps become subqueries).
fn condition(
    schema: &Schema,
    entity: &str,
    steps: &[&str],
    value: &str,
    params: &mut Vec<Value>,
) -> Result<String, LoadError> {
    let table = schema
        .table(entity)
        .ok_or_else(|| LoadError::Content(format!("{entity} is not an ICAT entity")))?;
    let (first, rest) = steps
        .split_first()
        .ok_or_else(|| LoadError::Content("empty attribute path".into()))?;
    let field = table
        .meta
        .field(first)
        .ok_or_else(|| LoadError::Content(format!("{entity} has no field {first}")))?;
    match (field.kind, rest.is_empty()) {
        (FieldKind::Attribute(ty), true) => {
            let v = parse_value(ty, value).ok_or_else(|| {
                LoadError::Content(format!("{entity}.{first}: bad value '{value}'"))
            })?;
            params.push(
                crate::icat::db::values::to_sql(entity, first, ty, &v)
                    .map_err(|e| LoadError::Content(e.message))?,
            );
            Ok(format!("{} = ?", quote(first)))
        }
        (FieldKind::One { target }, false) => {
            let inner = condition(schema, target, rest, value, params)?;
            Ok(format!(
                "{} IN (SELECT \"id\" FROM {} WHERE {inner})",
                quote(&format!("{first}_id")),
                quote(target)
            ))
        }
        _ => Err(LoadError::Content(format!(
            "cannot match {entity} by {}",
            steps.join(".")
        ))),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::icat::db::{Clock, Include};

    fn db() -> Db {
        Db::open(None, crate::entities(), Clock::default()).unwrap()
    }

    fn count(db: &Db, table: &str) -> i64 {
        db.conn()
            .query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| {
                r.get(0)
            })
            .unwrap()
    }

    #[test]
    fn loads_the_python_icat_reference_dump_completely() {
        // ICAT_RS_SHARED overrides the location of the shared reference folder (e.g. in a git worktree).
        let shared = std::env::var_os("ICAT_RS_SHARED")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
        let path = shared.join("data/python-icat-6.2/icatdump-6.2.xml");
        let summary = path.with_file_name("summary-6.2");
        if !path.exists() || !summary.exists() {
            eprintln!(
                "skipping: {} not found (shared reference data absent)",
                path.display()
            );
            return;
        }
        let mut db = db();
        load_file(&mut db, &path, "simple/root").unwrap();
        // summary-6.2 lists "Entity : count" as root sees it after loading the dump.
        let text = std::fs::read_to_string(&summary).unwrap();
        let mut checked = 0;
        for line in text.lines() {
            let Some((name, n)) = line.split_once(':') else {
                continue;
            };
            let (name, n) = (name.trim(), n.trim());
            let Ok(n) = n.parse::<i64>() else { continue };
            if db.schema().table(name).is_none() {
                continue;
            }
            assert_eq!(count(&db, name), n, "count of {name}");
            checked += 1;
        }
        assert!(checked >= 40, "summary lines checked: {checked}");
        assert_totals_match_datafiles(&db);
    }

    /// Every dataset's and investigation's fileSize/fileCount are the totals of its datafiles.
    pub(crate) fn assert_totals_match_datafiles(db: &Db) {
        for (table, join) in [
            ("Dataset", "df.\"dataset_id\" = t.\"id\""),
            (
                "Investigation",
                "df.\"dataset_id\" IN (SELECT \"id\" FROM \"Dataset\" WHERE \"investigation_id\" = t.\"id\")",
            ),
        ] {
            let sql = format!(
                "SELECT COUNT(*) FROM \"{table}\" t WHERE t.\"fileSize\" IS NOT \
                 (SELECT COALESCE(SUM(df.\"fileSize\"), 0) FROM \"Datafile\" df WHERE {join}) \
                 OR t.\"fileCount\" IS NOT (SELECT COUNT(*) FROM \"Datafile\" df WHERE {join})"
            );
            let wrong: i64 = db.conn().query_row(&sql, [], |r| r.get(0)).unwrap();
            assert_eq!(wrong, 0, "{table} rows with wrong file totals");
        }
        let files: i64 = db
            .conn()
            .query_row("SELECT COUNT(*) FROM \"Datafile\"", [], |r| r.get(0))
            .unwrap();
        let counted: i64 = db
            .conn()
            .query_row(
                "SELECT COALESCE(SUM(\"fileCount\"), 0) FROM \"Investigation\"",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(files, counted);
    }

    #[test]
    fn references_by_attributes_and_nested_children() {
        let mut db = db();
        let xml = r#"<?xml version="1.0"?>
<icatdata><data>
  <facility id="f"><name>ESNF</name></facility>
  <investigationType id="t"><name>E&amp;P</name><facility ref="f"/></investigationType>
  <investigation id="i">
    <name>inv</name><title>Caf&#233;</title><visitId>1</visitId><startDate>2008-03-13T10:39:42+00:00</startDate>
    <facility name="ESNF"/><type name="E&amp;P" facility.name="ESNF"/>
    <keywords><name>k1</name></keywords><keywords><name>k2</name></keywords>
  </investigation>
</data></icatdata>"#;
        assert_eq!(load_str(&mut db, xml, "simple/root").unwrap(), 3);
        let mut inc = Include::all_ones(db.table("Investigation").unwrap());
        inc.add_path(["keywords"]);
        let inv = db.get("Investigation", 1, &inc, 100).unwrap();
        assert_eq!(inv.attrs["title"], AttrValue::String("Café".into()));
        assert_eq!(
            inv.one["type"].attrs["name"],
            AttrValue::String("E&P".into())
        );
        assert_eq!(inv.many["keywords"].len(), 2);
    }

    #[test]
    fn a_failing_load_leaves_nothing_behind() {
        let mut db = db();
        let xml = r#"<icatdata><data><facility id="f"><name>A</name></facility>
            <datasetType><name>raw</name><facility ref="nope"/></datasetType></data></icatdata>"#;
        let err = load_str(&mut db, xml, "simple/root").unwrap_err();
        assert!(err.to_string().contains("unknown object 'nope'"), "{err}");
        assert_eq!(count(&db, "Facility"), 0);
        assert!(matches!(
            load_str(&mut db, "<icatdata><data>", "u"),
            Err(LoadError::Xml { .. })
        ));
        assert!(matches!(
            load_str(&mut db, "<other/>", "u"),
            Err(LoadError::Content(_))
        ));
    }
}
