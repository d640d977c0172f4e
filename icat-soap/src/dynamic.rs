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

/// Why a [`DynEntity`] could not be converted to a typed entity.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DynError {
    /// The entity name is not one of the generated entity types.
    #[error("unknown entity type {0:?}")]
    UnknownEntity(String),
    /// An entity of another type than expected (e.g. in a relation whose target is fixed).
    #[error("expected a {expected} entity, found a {found:?}")]
    WrongEntity {
        /// The expected entity type.
        expected: &'static str,
        /// What was found.
        found: String,
    },
    /// The entity type has no such field (in that map: attributes, one or many).
    #[error("{entity} has no {kind} field {field:?}")]
    UnknownField {
        /// The entity being converted.
        entity: &'static str,
        /// `attribute`, `many-to-one` or `one-to-many`.
        kind: &'static str,
        /// The field name.
        field: String,
    },
    /// An attribute holds a value of the wrong type.
    #[error("{entity}.{field} must be {expected}")]
    WrongType {
        /// The entity being converted.
        entity: &'static str,
        /// The field.
        field: String,
        /// The expected type.
        expected: &'static str,
    },
}

/// Conversion helpers used by the generated `from_dyn` functions.
pub mod convert {
    use super::{AttrValue, DynError};
    use crate::DateTime;

    fn wrong(entity: &'static str, field: &str, expected: &'static str) -> DynError {
        DynError::WrongType {
            entity,
            field: field.to_owned(),
            expected,
        }
    }

    /// A string attribute (also enum wire names).
    pub fn string(v: &AttrValue, entity: &'static str, field: &str) -> Result<String, DynError> {
        match v {
            AttrValue::String(s) => Ok(s.clone()),
            _ => Err(wrong(entity, field, "a string")),
        }
    }

    /// An `xs:long` attribute.
    pub fn long(v: &AttrValue, entity: &'static str, field: &str) -> Result<i64, DynError> {
        match v {
            AttrValue::Long(n) => Ok(*n),
            _ => Err(wrong(entity, field, "an integer")),
        }
    }

    /// An `xs:int` attribute (range-checked).
    pub fn int(v: &AttrValue, entity: &'static str, field: &str) -> Result<i32, DynError> {
        match v {
            AttrValue::Long(n) => {
                i32::try_from(*n).map_err(|_| wrong(entity, field, "a 32-bit integer"))
            }
            _ => Err(wrong(entity, field, "a 32-bit integer")),
        }
    }

    /// An `xs:double` attribute (integers are accepted).
    pub fn double(v: &AttrValue, entity: &'static str, field: &str) -> Result<f64, DynError> {
        match v {
            AttrValue::Double(x) => Ok(*x),
            AttrValue::Long(n) => Ok(*n as f64),
            _ => Err(wrong(entity, field, "a number")),
        }
    }

    /// An `xs:boolean` attribute.
    pub fn bool(v: &AttrValue, entity: &'static str, field: &str) -> Result<bool, DynError> {
        match v {
            AttrValue::Bool(b) => Ok(*b),
            _ => Err(wrong(entity, field, "a boolean")),
        }
    }

    /// An `xs:dateTime` attribute.
    pub fn datetime(
        v: &AttrValue,
        entity: &'static str,
        field: &str,
    ) -> Result<DateTime, DynError> {
        match v {
            AttrValue::DateTime(d) => Ok(*d),
            _ => Err(wrong(entity, field, "a dateTime")),
        }
    }
}
