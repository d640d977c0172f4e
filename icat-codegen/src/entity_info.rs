//! Optional `getEntityInfo` metadata (`wsdl/entity-info.json`): constraints, not-null, string lengths,
//! comments and back-references. Entries for entities the schema lacks are ignored.

use std::collections::BTreeMap;
use std::path::Path;

use crate::CodegenError;

/// Metadata about one field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldInfo {
    /// `notNullable`.
    pub not_null: bool,
    /// `stringLength`.
    pub string_length: Option<u32>,
    /// `comment`.
    pub comment: Option<String>,
}

/// Metadata about one entity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityInfoEntry {
    /// `classComment`.
    pub comment: Option<String>,
    /// Uniqueness constraints (field names).
    pub constraints: Vec<Vec<String>>,
    /// Field metadata by name.
    pub fields: BTreeMap<String, FieldInfo>,
    /// For one-to-many fields: the field on the target pointing back here.
    pub back_refs: BTreeMap<String, String>,
}

/// The whole file, by entity name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EntityInfo {
    /// Entries by entity name (e.g. `Dataset`).
    pub entities: BTreeMap<String, EntityInfoEntry>,
}

impl EntityInfo {
    /// Reads the file.
    pub fn read(path: &Path) -> Result<EntityInfo, CodegenError> {
        EntityInfo::parse(&crate::read_file(path)?, path)
    }

    /// Parses the JSON text. The file holds `{"entities": {"Name": {"classComment", "constraints",
    /// "fields": [{"name", "notNullable", "stringLength", "comment"}], "manyInverse": {...}}}}`.
    pub fn parse(text: &str, path: &Path) -> Result<EntityInfo, CodegenError> {
        let err = |message: String| CodegenError::EntityInfo {
            path: path.to_owned(),
            message,
        };
        let root: serde_json::Value = serde_json::from_str(text).map_err(|e| err(e.to_string()))?;
        let entities = root
            .get("entities")
            .and_then(|e| e.as_object())
            .ok_or_else(|| err("no \"entities\" object".into()))?;
        let mut out = EntityInfo::default();
        for (name, e) in entities {
            let mut entry = EntityInfoEntry {
                comment: e
                    .get("classComment")
                    .and_then(|c| c.as_str())
                    .map(str::to_owned),
                ..Default::default()
            };
            if let Some(cs) = e.get("constraints").and_then(|c| c.as_array()) {
                for c in cs {
                    let names = c
                        .as_array()
                        .ok_or_else(|| err(format!("{name}: a constraint is not a list")))?
                        .iter()
                        .filter_map(|n| n.as_str().map(str::to_owned))
                        .collect();
                    entry.constraints.push(names);
                }
            }
            if let Some(fs) = e.get("fields").and_then(|f| f.as_array()) {
                for f in fs {
                    let Some(fname) = f.get("name").and_then(|n| n.as_str()) else {
                        return Err(err(format!("{name}: a field has no name")));
                    };
                    entry.fields.insert(
                        fname.to_owned(),
                        FieldInfo {
                            not_null: f
                                .get("notNullable")
                                .and_then(|n| n.as_bool())
                                .unwrap_or(false),
                            string_length: f
                                .get("stringLength")
                                .and_then(|n| n.as_u64())
                                .and_then(|n| u32::try_from(n).ok()),
                            comment: f.get("comment").and_then(|c| c.as_str()).map(str::to_owned),
                        },
                    );
                }
            }
            if let Some(inv) = e.get("manyInverse").and_then(|m| m.as_object()) {
                for (field, target) in inv {
                    if let Some(back) = target
                        .as_str()
                        .and_then(|t| t.split_once('.'))
                        .map(|(_, b)| b)
                    {
                        entry.back_refs.insert(field.clone(), back.to_owned());
                    }
                }
            }
            out.entities.insert(name.clone(), entry);
        }
        Ok(out)
    }
}
