//! A read-only view of any typed entity for generic output (`icat search`'s table and JSON): the
//! generated type's own serde form, split by the generated metadata into attributes, single
//! relations and lists. No field is read by a name typed here: the names come from the schema.

use std::collections::BTreeMap;

use icat_soap::meta::{self, FieldKind};
use icat_soap::model::Entity;
use serde_json::Value as J;

/// One entity as `icat search` shows it: `{"entity", "attrs", "one", "many"}` in JSON.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct EntityView {
    /// The entity type, e.g. `Dataset`.
    pub entity: String,
    /// The attributes present, by field name (strings, numbers, booleans, dateTimes as text).
    pub attrs: BTreeMap<String, J>,
    /// The included single relations, by field name.
    pub one: BTreeMap<String, EntityView>,
    /// The included lists, by field name.
    pub many: BTreeMap<String, Vec<EntityView>>,
}

impl EntityView {
    /// The view of a typed entity from a search result.
    pub fn of(entity: &Entity) -> EntityView {
        let name = entity.entity_name();
        // `Entity` serialises as `{"Dataset": {...fields...}}`.
        let fields = match serde_json::to_value(entity) {
            Ok(J::Object(mut outer)) => outer.remove(name).unwrap_or(J::Null),
            _ => J::Null,
        };
        EntityView::from_fields(name, fields)
    }

    /// The view of an entity of type `name` from its serde fields.
    fn from_fields(name: &str, fields: J) -> EntityView {
        let mut view = EntityView {
            entity: name.to_owned(),
            ..EntityView::default()
        };
        let J::Object(fields) = fields else {
            return view;
        };
        let entity_meta = meta::entity(name);
        for (field, value) in fields {
            match entity_meta.and_then(|m| m.field(&field)).map(|f| f.kind) {
                Some(FieldKind::One { target }) => {
                    view.one
                        .insert(field, EntityView::from_fields(target, value));
                }
                Some(FieldKind::Many { target, .. }) => {
                    let list = match value {
                        J::Array(items) => items
                            .into_iter()
                            .map(|v| EntityView::from_fields(target, v))
                            .collect(),
                        _ => Vec::new(),
                    };
                    view.many.insert(field, list);
                }
                _ => {
                    view.attrs.insert(field, value);
                }
            }
        }
        view
    }

    /// The entity's id, when present.
    pub fn id(&self) -> Option<i64> {
        self.attrs.get("id").and_then(J::as_i64)
    }
}

/// An attribute value as table text (strings without quotes).
pub fn attr_text(v: &J) -> String {
    match v {
        J::String(s) => s.clone(),
        J::Null => String::new(),
        // Rust's shortest form (`3`, `0.1`), as the CLI prints numbers elsewhere.
        J::Number(n) if n.is_f64() => n.as_f64().map_or_else(|| n.to_string(), |x| x.to_string()),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use icat_soap::model::{Datafile, Dataset, Investigation};

    #[test]
    fn relations_and_lists_are_split_by_the_schema() {
        let ds = Dataset {
            id: Some(7),
            name: Some("ds".into()),
            complete: true,
            investigation: Some(Box::new(Investigation {
                id: Some(3),
                name: Some("inv".into()),
                ..Default::default()
            })),
            datafiles: vec![
                Datafile {
                    id: Some(1),
                    file_size: Some(10),
                    ..Default::default()
                },
                Datafile {
                    id: Some(2),
                    ..Default::default()
                },
            ],
            ..Default::default()
        };
        let view = EntityView::of(&Entity::Dataset(Box::new(ds)));
        assert_eq!(view.entity, "Dataset");
        assert_eq!(view.id(), Some(7));
        assert_eq!(view.attrs["name"], J::from("ds"));
        assert_eq!(view.attrs["complete"], J::from(true));
        assert_eq!(view.one["investigation"].entity, "Investigation");
        assert_eq!(view.one["investigation"].id(), Some(3));
        let files = &view.many["datafiles"];
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].entity, "Datafile");
        assert_eq!(files[0].attrs["fileSize"], J::from(10));
        assert!(!view.attrs.contains_key("investigation"));
    }
}
