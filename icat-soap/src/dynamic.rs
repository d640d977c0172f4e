//! A dynamic, schema-driven view of entities: field name to value, for code that works on any entity type
//! (the simulator's storage, generic printing). Generated code converts between this and the typed structs.

use std::collections::BTreeMap;

use crate::DateTime;

/// The value of one attribute.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum AttrValue {
    /// `xs:string`, and enum values by their wire name (e.g. `"NUMERIC"`).
    String(String),
    /// `xs:long` and `xs:int`.
    Long(i64),
    /// `xs:double`.
    Double(f64),
    /// `xs:boolean`.
    Bool(bool),
    /// `xs:dateTime`, lossless.
    DateTime(DateTime),
}

/// An entity of any type as a tree of field values. Absent fields are simply not in the maps.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct DynEntity {
    /// The entity name, e.g. `"Dataset"` (see [`crate::meta::EntityMeta::name`]).
    pub entity: String,
    /// Attribute values that are set, by field name (including `id` and the other base fields).
    pub attrs: BTreeMap<String, AttrValue>,
    /// Many-to-one relations that are present, by field name.
    pub one: BTreeMap<String, DynEntity>,
    /// One-to-many relations that are present, by field name.
    pub many: BTreeMap<String, Vec<DynEntity>>,
}

impl DynEntity {
    /// An empty entity of the given type.
    pub fn new(entity: impl Into<String>) -> Self {
        DynEntity {
            entity: entity.into(),
            ..Default::default()
        }
    }

    /// The `id` attribute, when set.
    pub fn id(&self) -> Option<i64> {
        match self.attrs.get("id") {
            Some(AttrValue::Long(id)) => Some(*id),
            _ => None,
        }
    }
}
