//! Entities and search values as ICAT's REST API writes them (`ICATRest.jsonise`): an entity is
//! `{"Dataset": {...}}` with `id`, `createId`, `createTime`, `modId`, `modTime`, attributes
//! that are set, INCLUDEd many-to-one relations as nested objects, and every one-to-many relation
//! as an array (empty unless INCLUDEd: ICAT's pruned clone starts with empty lists). Dates are
//! `yyyy-MM-dd'T'HH:mm:ss.SSSXXX` (UTC here, so `Z`).

use icat_soap::DateTime;
use icat_soap::dynamic::{AttrValue, DynEntity};
use icat_soap::meta::FieldKind;
use serde_json::{Map, Value, json};

use crate::icat::search::{Cell, SearchItem};

/// The base fields every entity carries (ICAT writes them first; JSON key order carries no meaning
/// and serde_json's map sorts keys).
const BASE_FIELDS: [&str; 5] = ["id", "createId", "createTime", "modId", "modTime"];

/// A date as ICAT's `df8601` (`yyyy-MM-dd'T'HH:mm:ss.SSSXXX`) writes it in UTC.
pub fn format_date(millis: i64) -> String {
    let whole = DateTime::from_unix_millis(millis - millis.rem_euclid(1000)).to_string();
    let stem = whole.strip_suffix('Z').unwrap_or(&whole);
    format!("{stem}.{:03}Z", millis.rem_euclid(1000))
}

fn attr_json(value: &AttrValue) -> Value {
    match value {
        AttrValue::String(s) => json!(s),
        AttrValue::Long(n) => json!(n),
        AttrValue::Double(d) if d.is_finite() => json!(d),
        AttrValue::Double(_) => Value::Null,
        AttrValue::Bool(b) => json!(b),
        AttrValue::DateTime(d) => json!(format_date(d.to_unix_millis())),
    }
}

/// The fields of one entity (the inner object, without the entity-name wrapper).
pub fn entity_fields(entity: &DynEntity) -> Map<String, Value> {
    let mut out = Map::new();
    for name in BASE_FIELDS {
        if let Some(v) = entity.attrs.get(name) {
            out.insert(name.to_string(), attr_json(v));
        }
    }
    let Some(meta) = icat_soap::meta::entity(&entity.entity) else {
        return out;
    };
    for field in meta.fields {
        if BASE_FIELDS.contains(&field.name) {
            continue;
        }
        match field.kind {
            FieldKind::Attribute(_) => {
                if let Some(v) = entity.attrs.get(field.name) {
                    out.insert(field.name.to_string(), attr_json(v));
                }
            }
            FieldKind::One { .. } => {
                if let Some(one) = entity.one.get(field.name) {
                    out.insert(field.name.to_string(), Value::Object(entity_fields(one)));
                }
            }
            FieldKind::Many { .. } => {
                let items = entity
                    .many
                    .get(field.name)
                    .map(|list| {
                        list.iter()
                            .map(|e| Value::Object(entity_fields(e)))
                            .collect()
                    })
                    .unwrap_or_default();
                out.insert(field.name.to_string(), Value::Array(items));
            }
        }
    }
    out
}

/// `{"Dataset": {...}}`.
pub fn entity_json(entity: &DynEntity) -> Value {
    let mut wrapper = Map::new();
    wrapper.insert(entity.entity.clone(), Value::Object(entity_fields(entity)));
    Value::Object(wrapper)
}

fn cell_json(cell: &Cell) -> Value {
    match cell {
        Cell::Null => Value::Null,
        Cell::Entity(e) => entity_json(e),
        Cell::String(s) => json!(s),
        Cell::Long(n) | Cell::Int(n) => json!(n),
        Cell::Double(d) if d.is_finite() => json!(d),
        Cell::Double(_) => Value::Null,
        Cell::Bool(b) => json!(b),
        Cell::DateTime(d) => json!(format_date(d.to_unix_millis())),
        Cell::Enum(_, name) => json!(name),
    }
}

/// One `search` result item: a value, an entity, or an array for several select items.
pub fn item_json(item: &SearchItem) -> Value {
    match item {
        SearchItem::Value(cell) => cell_json(cell),
        SearchItem::FieldSet(cells) => Value::Array(cells.iter().map(cell_json).collect()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_always_carry_milliseconds_and_z() {
        assert_eq!(format_date(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_date(1_709_288_130_123), "2024-03-01T10:15:30.123Z");
        assert_eq!(format_date(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn unincluded_many_relations_are_empty_arrays_and_ones_are_absent() {
        let mut ds = DynEntity::new("Dataset");
        ds.attrs.insert("id".into(), AttrValue::Long(7));
        ds.attrs
            .insert("name".into(), AttrValue::String("d1".into()));
        ds.attrs.insert(
            "modTime".into(),
            AttrValue::DateTime(DateTime::from_unix_millis(5)),
        );
        let v = entity_json(&ds);
        let inner = &v["Dataset"];
        assert_eq!(inner["id"], 7);
        assert_eq!(inner["name"], "d1");
        assert_eq!(inner["modTime"], "1970-01-01T00:00:00.005Z");
        assert_eq!(inner["datafiles"], json!([]));
        assert!(inner.get("investigation").is_none());
        assert!(inner.get("description").is_none());
    }
}
