//! `Value`: the union for `xs:anyType` slots (search results, fieldSet columns).

use proc_macro2::TokenStream;
use quote::quote;

use super::ident;
use crate::model::Model;

pub(crate) fn emit(model: &Model, rt: &TokenStream) -> TokenStream {
    let derive = super::derive_with_serde(rt, quote!(Debug, Clone, PartialEq,));
    let has_entities = model.entities().next().is_some();
    let reserved = [
        "Entity", "String", "Long", "Int", "Double", "Bool", "DateTime", "FieldSet",
    ];
    let enum_variant = |rust: &str| {
        if reserved.contains(&rust) {
            format!("{rust}Enum")
        } else {
            rust.to_owned()
        }
    };
    let enum_variants = model.enums.iter().map(|e| {
        let v = ident(&enum_variant(&e.rust));
        let t = ident(&e.rust);
        let doc = format!(" A `{}` value (`xsi:type=\"tns:{}\"`).", e.rust, e.xml);
        quote!(#[doc = #doc] #v(#t),)
    });
    let enum_decode = model.enums.iter().map(|e| {
        let v = ident(&enum_variant(&e.rust));
        let xml = &e.xml;
        quote!(#xml => Value::#v(r.read_value(el)?),)
    });
    let enum_encode = model.enums.iter().map(|e| {
        let v = ident(&enum_variant(&e.rust));
        let xsi = format!("tns:{}", e.xml);
        quote!(Value::#v(v) => w.typed_value(name, #xsi, v),)
    });
    let (entity_variant, entity_decode, entity_encode) = if has_entities {
        (
            quote!(/// An entity (`xsi:type="tns:<entity>"`).
                Entity(Entity),),
            quote! {
                match Entity::decode_as(other.as_bytes(), r, el)? {
                    Some(e) => Value::Entity(e),
                    None => return Err(el.unknown_type()),
                }
            },
            quote!(Value::Entity(e) => e.encode_as(w, name),),
        )
    } else {
        (quote!(), quote!(return Err(el.unknown_type())), quote!())
    };
    // The `FieldSet` variant exists whatever the schema says, so that code reading rows compiles
    // against bindings for any ICAT version; it is decoded only when the schema has `fieldSet`
    // (servers without it, such as ICAT 4.2, never send one).
    let fs_doc = if model.has_field_set {
        " A row of several selected columns (`xsi:type=\"tns:fieldSet\"`); `None` is a null column."
    } else {
        " A row of several selected columns; `None` is a null column. This schema has no `fieldSet`, so its servers never send one."
    };
    let fs_variant = quote!(#[doc = #fs_doc] FieldSet(Vec<Option<Value>>),);
    // ICAT 4.11.1 to 6.1.0 declare `fieldSet.fields` without `nillable` (those servers drop null
    // columns), so the generated struct holds `Vec<Value>`; the variant keeps one shape.
    let fs_nillable = model
        .structs
        .iter()
        .find(|s| s.xml == "fieldSet")
        .is_some_and(|s| s.fields.iter().all(|f| f.nillable));
    let fs_decode = match (model.has_field_set, fs_nillable) {
        (false, _) => quote!(),
        (true, true) => quote!(
            "fieldSet" => Value::FieldSet(<FieldSet as #rt::xml::XmlDecode>::decode(r, el)?.fields),
        ),
        (true, false) => quote!(
            "fieldSet" => Value::FieldSet(
                <FieldSet as #rt::xml::XmlDecode>::decode(r, el)?.fields.into_iter().map(Some).collect()
            ),
        ),
    };
    let fs_encode = quote! {
        Value::FieldSet(cols) => {
            w.start_typed(name, "tns:fieldSet");
            for c in cols {
                match c {
                    Some(v) => v.encode_as(w, "fields"),
                    None => w.nil("fields"),
                }
            }
            w.end(name);
        }
    };
    quote! {
        /// One `xs:anyType` item, typed by its `xsi:type` (resolved through namespace bindings).
        #derive
        pub enum Value {
            #entity_variant
            /// `xs:string` (also other string-like XSD types, and untyped text).
            String(String),
            /// `xs:long`.
            Long(i64),
            /// `xs:int`.
            Int(i32),
            /// `xs:double`.
            Double(f64),
            /// `xs:boolean`.
            Bool(bool),
            /// `xs:dateTime`, lossless.
            DateTime(#rt::DateTime),
            #fs_variant
            #(#enum_variants)*
        }

        impl Value {
            /// Writes `<{name} xsi:type="...">` with the value.
            pub fn encode_as(&self, w: &mut #rt::xml::XmlWriter, name: &str) {
                match self {
                    #entity_encode
                    Value::String(v) => w.typed_value(name, "xs:string", v),
                    Value::Long(v) => w.typed_value(name, "xs:long", v),
                    Value::Int(v) => w.typed_value(name, "xs:int", v),
                    Value::Double(v) => w.typed_value(name, "xs:double", v),
                    Value::Bool(v) => w.typed_value(name, "xs:boolean", v),
                    Value::DateTime(v) => w.typed_value(name, "xs:dateTime", v),
                    #fs_encode
                    #(#enum_encode)*
                }
            }
        }

        impl #rt::xml::XmlDecode for Value {
            fn decode(
                r: &mut #rt::xml::XmlReader<'_>,
                el: &#rt::xml::StartEl<'_>,
            ) -> Result<Self, #rt::xml::XmlError> {
                let Some(t) = el.xsi_type() else {
                    return Ok(Value::String(r.read_string(el)?));
                };
                Ok(match t.ns {
                    #rt::xml::NsKind::Xsd => match t.local.as_ref() {
                        "long" | "integer" | "unsignedInt" | "unsignedLong" | "nonNegativeInteger"
                        | "positiveInteger" | "negativeInteger" | "nonPositiveInteger" => Value::Long(r.read_value(el)?),
                        "int" | "short" | "byte" | "unsignedShort" | "unsignedByte" => Value::Int(r.read_value(el)?),
                        "double" | "float" | "decimal" => Value::Double(r.read_value(el)?),
                        "boolean" => Value::Bool(r.read_value(el)?),
                        "dateTime" => Value::DateTime(r.read_value(el)?),
                        "anyType" => return Err(el.unknown_type()),
                        _ => Value::String(r.read_string(el)?),
                    },
                    #rt::xml::NsKind::Target => match t.local.as_ref() {
                        #fs_decode
                        #(#enum_decode)*
                        other => #entity_decode,
                    },
                    _ => return Err(el.unknown_type()),
                })
            }
        }
    }
}
