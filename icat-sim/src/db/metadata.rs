//! Entity metadata built at run time from the checked-in `wsdl/entity-info.json` (the ICAT 6.2 model),
//! used until the generated `icat_soap::meta::ENTITIES` tables are available.

use std::sync::OnceLock;

use icat_soap::meta::{AttrType, EntityMeta, FieldKind, FieldMeta};

fn leak<T>(v: T) -> &'static T {
    Box::leak(Box::new(v))
}

fn leak_str(s: &str) -> &'static str {
    Box::leak(s.to_string().into_boxed_str())
}

/// The ICAT 6.2 entities as metadata tables, sorted by name.
pub fn entities() -> &'static [EntityMeta] {
    static ENTITIES: OnceLock<&'static [EntityMeta]> = OnceLock::new();
    ENTITIES.get_or_init(|| {
        let json: serde_json::Value =
            serde_json::from_str(include_str!("../../../wsdl/entity-info.json"))
                .expect("entity-info.json");
        let mut out = Vec::new();
        for (name, e) in json["entities"].as_object().expect("entities") {
            let mut fields = Vec::new();
            for f in e["fields"].as_array().expect("fields") {
                let fname = leak_str(f["name"].as_str().expect("name"));
                let ty = f["type"].as_str().expect("type");
                let kind = match f["relType"].as_str().expect("relType") {
                    "ONE" => FieldKind::One {
                        target: leak_str(ty),
                    },
                    "MANY" => FieldKind::Many {
                        target: leak_str(ty),
                        back_ref: f["mappedBy"].as_str().map(leak_str),
                    },
                    _ => FieldKind::Attribute(match ty {
                        "String" => AttrType::String,
                        "Long" => AttrType::Long,
                        "Integer" => AttrType::Int,
                        "Double" => AttrType::Double,
                        "boolean" | "Boolean" => AttrType::Boolean,
                        "Date" => AttrType::DateTime,
                        other => AttrType::Enum(leak_str(other)),
                    }),
                };
                fields.push(FieldMeta {
                    name: fname,
                    kind,
                    not_null: f["notNullable"].as_bool().unwrap_or(false),
                    string_length: f["stringLength"].as_u64().map(|n| n as u32),
                    comment: None,
                });
            }
            let constraints: Vec<&'static [&'static str]> = e["constraints"]
                .as_array()
                .expect("constraints")
                .iter()
                .map(|c| {
                    let names: Vec<&'static str> = c
                        .as_array()
                        .expect("c")
                        .iter()
                        .map(|n| leak_str(n.as_str().expect("n")))
                        .collect();
                    &**leak(names)
                })
                .collect();
            out.push(EntityMeta {
                name: leak_str(name),
                xml_type: leak_str(&lower_first(name)),
                comment: None,
                fields: leak(fields),
                constraints: leak(constraints),
            });
        }
        out.sort_by_key(|e| e.name);
        &**leak(out)
    })
}

fn lower_first(name: &str) -> String {
    let mut c = name.chars();
    match c.next() {
        Some(f) => f.to_ascii_lowercase().to_string() + c.as_str(),
        None => String::new(),
    }
}
