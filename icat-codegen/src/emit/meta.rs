//! The `ENTITIES` and `ENUMS` tables: static metadata for every concrete entity type and every
//! string enumeration.

use proc_macro2::TokenStream;
use quote::quote;

use super::ident;
use crate::model::{FieldType, Model, Occurs, Prim};

fn opt_str(s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => quote!(Some(#s)),
        None => quote!(None),
    }
}

pub(crate) fn emit(model: &Model, rt: &TokenStream) -> TokenStream {
    let entities = model.entities().map(|s| {
        let info = model.info.get(&s.rust);
        let name = &s.rust;
        let xml = &s.xml;
        let comment = opt_str(info.and_then(|i| i.comment.as_deref()));
        let fields = s.fields.iter().filter_map(|f| {
            let kind = match (&f.ty, f.occurs) {
                (FieldType::Prim(p), Occurs::Optional | Occurs::Required) => {
                    let t = match p {
                        Prim::String => quote!(String),
                        Prim::Long => quote!(Long),
                        Prim::Int => quote!(Int),
                        Prim::Double => quote!(Double),
                        Prim::Bool => quote!(Boolean),
                        Prim::DateTime => quote!(DateTime),
                    };
                    quote!(#rt::meta::FieldKind::Attribute(#rt::meta::AttrType::#t))
                }
                (FieldType::Enum(e), Occurs::Optional | Occurs::Required) => {
                    quote!(#rt::meta::FieldKind::Attribute(#rt::meta::AttrType::Enum(#e)))
                }
                (FieldType::Entity(t), Occurs::Optional | Occurs::Required) => {
                    quote!(#rt::meta::FieldKind::One { target: #t })
                }
                (FieldType::Entity(t), Occurs::Many) => {
                    let back = opt_str(
                        info.and_then(|i| i.back_refs.get(&f.xml))
                            .map(String::as_str),
                    );
                    quote!(#rt::meta::FieldKind::Many { target: #t, back_ref: #back })
                }
                // Lists of values and non-entity structs have no place in the entity model.
                _ => return None,
            };
            let fi = info.and_then(|i| i.fields.get(&f.xml));
            let fname = &f.xml;
            let not_null = fi.is_some_and(|fi| fi.not_null);
            let len = match fi.and_then(|fi| fi.string_length) {
                Some(n) => quote!(Some(#n)),
                None => quote!(None),
            };
            let fcomment = opt_str(fi.and_then(|fi| fi.comment.as_deref()));
            Some(quote! {
                #rt::meta::FieldMeta {
                    name: #fname,
                    kind: #kind,
                    not_null: #not_null,
                    string_length: #len,
                    comment: #fcomment,
                },
            })
        });
        let constraints = info.map(|i| i.constraints.clone()).unwrap_or_default();
        let constraints = constraints.iter().map(|c| quote!(&[#(#c),*]));
        quote! {
            #rt::meta::EntityMeta {
                name: #name,
                xml_type: #xml,
                comment: #comment,
                fields: &[#(#fields)*],
                constraints: &[#(#constraints),*],
            },
        }
    });
    let enums = model.enums.iter().map(|e| {
        let name = &e.rust;
        let ty = ident(&e.rust);
        let xml = &e.xml;
        quote! {
            #rt::meta::EnumMeta {
                name: #name,
                xml_type: #xml,
                values: #ty::VALUES,
            },
        }
    });
    quote! {
        /// Every concrete entity type, sorted by name (binary-searchable; see `meta::entity`).
        pub static ENTITIES: &[#rt::meta::EntityMeta] = &[
            #(#entities)*
        ];

        /// Every string enumeration of the schema, sorted by name (see `meta::enumeration`).
        pub static ENUMS: &[#rt::meta::EnumMeta] = &[
            #(#enums)*
        ];
    }
}
