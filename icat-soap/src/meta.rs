//! Static metadata about ICAT entity types (fields, relations, constraints), as the generator emits it.
//!
//! The generated tables ([`ENTITIES`], [`ENUMS`], [`OPERATIONS`]) are re-exported here beside the types they are
//! made of and the lookups that the query builder, the simulator and the CLI share. Part of the
//! runtime of the generated code (which names these types by path).

pub use crate::generated::meta::{ENTITIES, ENUMS};
pub use crate::generated::ops::OPERATIONS;

/// Everything known offline about one concrete ICAT entity type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntityMeta {
    /// The entity name used in JPQL and `getEntityInfo`, e.g. `"Investigation"`.
    pub name: &'static str,
    /// The XSD type name, e.g. `"investigation"`.
    pub xml_type: &'static str,
    /// The class comment from `getEntityInfo`, when known.
    pub comment: Option<&'static str>,
    /// Every field, base fields (`createId`, `createTime`, `id`, `modId`, `modTime`) first, then the
    /// entity's own fields in XSD order.
    pub fields: &'static [FieldMeta],
    /// Uniqueness constraints: each is a list of field names whose values together are unique.
    pub constraints: &'static [&'static [&'static str]],
}

/// One field of an entity: an attribute or a relation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldMeta {
    /// The field name as used in JPQL and on the wire, e.g. `"visitId"`.
    pub name: &'static str,
    /// What kind of value the field holds.
    pub kind: FieldKind,
    /// True when the server rejects an entity without this field (`notNullable` in `getEntityInfo`).
    pub not_null: bool,
    /// Maximum length of a string attribute, when known.
    pub string_length: Option<u32>,
    /// The field comment from `getEntityInfo`, when known.
    pub comment: Option<&'static str>,
}

/// The kind of an entity field.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// A plain value.
    Attribute(AttrType),
    /// A many-to-one relation to one entity of type `target`.
    One {
        /// Target entity name, e.g. `"Facility"`.
        target: &'static str,
    },
    /// A one-to-many relation (cascaded on create and delete) to entities of type `target`.
    Many {
        /// Target entity name, e.g. `"Dataset"`.
        target: &'static str,
        /// The `One` field on the target that points back here, when known (`mappedBy`).
        back_ref: Option<&'static str>,
    },
}

/// The value type of an attribute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    /// `xs:string`.
    String,
    /// `xs:long`.
    Long,
    /// `xs:int`.
    Int,
    /// `xs:double`.
    Double,
    /// `xs:boolean`.
    Boolean,
    /// `xs:dateTime`.
    DateTime,
    /// A string enumeration; the payload is the ICAT enum name, e.g. `"ParameterValueType"`.
    Enum(&'static str),
}

impl EntityMeta {
    /// Looks up a field by its exact name.
    pub fn field(&self, name: &str) -> Option<&'static FieldMeta> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// The attribute fields, in order.
    pub fn attributes(&self) -> impl Iterator<Item = &'static FieldMeta> {
        self.fields
            .iter()
            .filter(|f| matches!(f.kind, FieldKind::Attribute(_)))
    }

    /// The relation fields (`One` and `Many`), in order.
    pub fn relations(&self) -> impl Iterator<Item = &'static FieldMeta> {
        self.fields
            .iter()
            .filter(|f| !matches!(f.kind, FieldKind::Attribute(_)))
    }
}

impl FieldKind {
    /// The target entity name of a relation, `None` for attributes.
    pub fn target(&self) -> Option<&'static str> {
        match self {
            FieldKind::Attribute(_) => None,
            FieldKind::One { target } | FieldKind::Many { target, .. } => Some(target),
        }
    }
}

/// One WSDL operation, as listed in the generated `OPERATIONS` table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OperationInfo {
    /// The operation name, e.g. `"search"`.
    pub name: &'static str,
    /// The `soapAction` of the binding (empty for ICAT).
    pub soap_action: &'static str,
    /// The request wrapper element, e.g. `"search"`.
    pub input_element: &'static str,
    /// The response wrapper element, e.g. `"searchResponse"`.
    pub output_element: &'static str,
    /// The generated request type, e.g. `"SearchRequest"`.
    pub request_type: &'static str,
    /// The generated response type, e.g. `"SearchResponse"`.
    pub response_type: &'static str,
    /// Names of the faults the operation declares, e.g. `["IcatException"]`.
    pub faults: &'static [&'static str],
    /// True when the operation only reads, so repeating it after a lost answer is harmless (from
    /// `wsdl/read-only-operations.txt`: the WSDL cannot say it).
    pub read_only: bool,
}

/// Looks up an entity by its JPQL name (e.g. `"Dataset"`); exact, case-sensitive.
pub fn entity(name: &str) -> Option<&'static EntityMeta> {
    let all = ENTITIES;
    all.binary_search_by(|e| e.name.cmp(name))
        .ok()
        .map(|i| &all[i])
}

/// Looks up an entity by its XSD type name (e.g. `"dataset"`).
pub fn entity_by_xml_type(xml_type: &str) -> Option<&'static EntityMeta> {
    ENTITIES.iter().find(|e| e.xml_type == xml_type)
}

/// One string enumeration of the schema, as listed in the generated [`ENUMS`] table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EnumMeta {
    /// The Rust (and ICAT) name, e.g. `"ParameterValueType"`.
    pub name: &'static str,
    /// The XSD type name, e.g. `"parameterValueType"`.
    pub xml_type: &'static str,
    /// Every known value, in schema order, as written on the wire.
    pub values: &'static [&'static str],
}

/// Looks up an enumeration by its Rust name (e.g. `"ParameterValueType"`); exact.
pub fn enumeration(name: &str) -> Option<&'static EnumMeta> {
    ENUMS.iter().find(|e| e.name == name)
}

/// Looks up an operation by name (e.g. `"search"`).
pub fn operation(name: &str) -> Option<&'static OperationInfo> {
    OPERATIONS.iter().find(|o| o.name == name)
}

/// A string that is not one of a generated enumeration's known values (`str::parse` of an enum).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{value:?} is not a known {enum_name} value; use one of: {}", .expected.join(", "))]
pub struct ParseEnumError {
    /// The enumeration's Rust name, e.g. `"AccessType"`.
    pub enum_name: &'static str,
    /// The text that did not parse.
    pub value: String,
    /// Every known value.
    pub expected: &'static [&'static str],
}

impl ParseEnumError {
    /// The error for `value`, which is none of `expected` (used by generated `FromStr` impls).
    pub fn new(enum_name: &'static str, value: &str, expected: &'static [&'static str]) -> Self {
        ParseEnumError {
            enum_name,
            value: value.to_owned(),
            expected,
        }
    }
}
