//! `getEntityInfo` answers and Java field defaults, from the checked-in `wsdl/entity-info.json`
//! (what a real ICAT 6.2.0 server reports for each entity).

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

const ENTITY_INFO_JSON: &str = include_str!("../../../wsdl/entity-info.json");

/// One entity's information, as `getEntityInfo` returns it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityInfo {
    /// The class comment.
    pub class_comment: Option<String>,
    /// Uniqueness constraints, each a list of field names.
    pub constraints: Vec<Vec<String>>,
    /// The fields, sorted by name.
    pub fields: Vec<EntityField>,
    /// Values a newly constructed Java bean has (e.g. `Dataset.complete = false`).
    #[serde(default)]
    pub java_defaults: BTreeMap<String, serde_json::Value>,
}

/// One field of [`EntityInfo`].
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityField {
    /// Field name.
    pub name: String,
    /// Java simple type name (`String`, `Date`, `Long`, an entity name, ...).
    #[serde(rename = "type")]
    pub ty: String,
    /// `ATTRIBUTE`, `ONE` or `MANY`.
    pub rel_type: String,
    /// True when the field may not be null.
    pub not_nullable: bool,
    /// Maximum string length, when there is one.
    pub string_length: Option<i32>,
    /// The field comment.
    pub comment: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntityInfoFile {
    entity_names: Vec<String>,
    entities: BTreeMap<String, EntityInfo>,
    #[serde(default)]
    r#abstract: BTreeMap<String, EntityInfo>,
}

fn file() -> &'static EntityInfoFile {
    static FILE: OnceLock<EntityInfoFile> = OnceLock::new();
    FILE.get_or_init(|| match serde_json::from_str(ENTITY_INFO_JSON) {
        Ok(file) => file,
        // The file is checked in and covered by tests; a parse failure is a build defect.
        Err(e) => unreachable!("wsdl/entity-info.json is valid: {e}"),
    })
}

/// The information for one entity, `None` for an unknown name. The abstract `Parameter` is known
/// too, as on a real server (python-icat asks for it when it starts).
pub fn entity_info(name: &str) -> Option<&'static EntityInfo> {
    file()
        .entities
        .get(name)
        .or_else(|| file().r#abstract.get(name))
}

/// All entity names, in `getEntityNames` order.
pub fn entity_names() -> &'static [String] {
    &file().entity_names
}

/// The Java default of a field, when the bean class initialises it.
pub fn java_default(entity: &str, field: &str) -> Option<&'static serde_json::Value> {
    entity_info(entity)?.java_defaults.get(field)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn investigation_matches_a_real_server() {
        let info = entity_info("Investigation").unwrap();
        assert_eq!(info.fields.len(), 30);
        assert_eq!(info.constraints, vec![vec!["facility", "name", "visitId"]]);
        assert_eq!(entity_names().len(), 53);
        assert_eq!(
            java_default("Dataset", "complete"),
            Some(&serde_json::Value::Bool(false))
        );
        assert!(entity_info("Nonsense").is_none());
        assert!(
            entity_info("Parameter")
                .is_some_and(|p| p.fields.iter().any(|f| f.name == "numericValue"))
        );
        assert!(!entity_names().iter().any(|n| n == "Parameter"));
    }
}
