//! Structs (with their decoder and encoder), the `Entity` union and string enums.

use proc_macro2::{Literal, TokenStream};
use quote::quote;

use super::{field_ty, ident, keeps_nil_items};
use crate::model::{EnumDef, Field, FieldType, Model, Occurs, Prim, StructDef};
use crate::naming::type_name;

/// `text` as a sentence: capitalised, ending in a full stop.
pub(crate) fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut out: String = match text.chars().next() {
        Some(c) => c.to_uppercase().chain(text.chars().skip(1)).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// Doc lines (each with its leading space, as `///` writes them) as `#[doc]` attributes, with an
/// empty line between paragraphs.
pub(crate) fn doc_lines(paragraphs: &[String]) -> TokenStream {
    let mut out = TokenStream::new();
    for (i, p) in paragraphs.iter().enumerate() {
        if i > 0 {
            out.extend(quote!(#[doc = ""]));
        }
        let line = format!(" {p}");
        out.extend(quote!(#[doc = #line]));
    }
    out
}

fn field_doc(f: &Field, comment: Option<&str>) -> TokenStream {
    let kind = match &f.ty {
        FieldType::Prim(p) => super::prim_xsd(*p).to_owned(),
        FieldType::Enum(n) | FieldType::Struct(n) | FieldType::Entity(n) => format!("`{n}`"),
        FieldType::Polymorphic => "any entity, named by `xsi:type`".to_owned(),
        FieldType::Any => "any value, named by `xsi:type`".to_owned(),
    };
    let occurs = match f.occurs {
        Occurs::Required => "required",
        Occurs::Optional => "optional",
        Occurs::Many => "repeated",
    };
    let wire = format!("The `{}` element ({kind}, {occurs}).", f.xml);
    match comment {
        Some(c) => doc_lines(&[sentence(c), wire]),
        None => doc_lines(&[wire]),
    }
}

/// The struct definition, its `XmlDecode` and `XmlEncode` impls.
pub(crate) fn emit_struct(s: &StructDef, model: &Model, rt: &TokenStream) -> TokenStream {
    let name = ident(&s.rust);
    let info = model.info.get(&s.rust);
    let doc = match &s.doc {
        Some(d) => doc_lines(&[sentence(d), format!("XSD type `{}`.", s.xml)]),
        None => doc_lines(&[format!("The XSD complex type `{}`.", s.xml)]),
    };
    let fields = s.fields.iter().map(|f| {
        let fname = ident(&f.rust);
        let ty = field_ty(f, rt);
        let comment = info
            .and_then(|i| i.fields.get(&f.xml))
            .and_then(|fi| fi.comment.as_deref());
        let fdoc = field_doc(f, comment);
        let xml = &f.xml;
        let skip = match f.occurs {
            Occurs::Required => quote!(),
            Occurs::Optional => quote!(, skip_serializing_if = "Option::is_none"),
            Occurs::Many => quote!(, skip_serializing_if = "Vec::is_empty"),
        };
        quote! {
            #fdoc
            #[serde(rename = #xml #skip)]
            pub #fname: #ty,
        }
    });
    let decode_arms = s.fields.iter().map(|f| {
        let fname = ident(&f.rust);
        let xml = Literal::byte_string(f.xml.as_bytes());
        let body = match (&f.ty, f.occurs) {
            (FieldType::Prim(Prim::String), Occurs::Optional) => {
                quote!(out.#fname = r.read_opt_string(&child)?)
            }
            (FieldType::Prim(_) | FieldType::Enum(_), Occurs::Optional) => {
                quote!(out.#fname = r.read_opt(&child)?)
            }
            (FieldType::Prim(_) | FieldType::Enum(_), Occurs::Required) => {
                quote!(#rt::xml::read_required(r, &child, &mut out.#fname)?)
            }
            (FieldType::Prim(_) | FieldType::Enum(_), Occurs::Many) => {
                quote!(#rt::xml::read_push(r, &child, &mut out.#fname)?)
            }
            (FieldType::Entity(_), Occurs::Optional) => {
                quote!(out.#fname = #rt::xml::decode_boxed(r, &child)?)
            }
            (_, Occurs::Optional) => quote!(out.#fname = #rt::xml::decode_opt(r, &child)?),
            (_, Occurs::Required) => quote! {
                if let Some(v) = #rt::xml::decode_opt(r, &child)? {
                    out.#fname = v;
                }
            },
            (_, Occurs::Many) if keeps_nil_items(f) => {
                quote!(out.#fname.push(#rt::xml::decode_opt(r, &child)?))
            }
            (FieldType::Entity(_) | FieldType::Struct(_), Occurs::Many) => {
                quote!(#rt::xml::decode_push_in_place(r, &child, &mut out.#fname)?)
            }
            (_, Occurs::Many) => quote!(#rt::xml::decode_push(r, &child, &mut out.#fname)?),
        };
        quote!(#xml => #body,)
    });
    let (self_arg, decode_body) = if s.fields.is_empty() {
        let body = quote! {
            while let Some(child) = r.next_child(el)? {
                r.skip(&child)?;
            }
            Ok(())
        };
        (quote!(_out), body)
    } else {
        let body = quote! {
            while let Some(child) = r.next_child(el)? {
                match child.local_name() {
                    #(#decode_arms)*
                    _ => r.skip(&child)?,
                }
            }
            Ok(())
        };
        (quote!(out), body)
    };
    let encode_stmts = s.fields.iter().map(|f| {
        let fname = ident(&f.rust);
        let xml = &f.xml;
        match (&f.ty, f.occurs) {
            (FieldType::Prim(_) | FieldType::Enum(_), Occurs::Required) => {
                quote!(w.value(#xml, &self.#fname);)
            }
            (FieldType::Prim(_) | FieldType::Enum(_), Occurs::Optional) => {
                quote!(w.opt_value(#xml, &self.#fname);)
            }
            (FieldType::Prim(_) | FieldType::Enum(_), Occurs::Many) => {
                quote!(w.values(#xml, &self.#fname);)
            }
            (FieldType::Polymorphic | FieldType::Any, Occurs::Many) if keeps_nil_items(f) => {
                quote! {
                    for v in &self.#fname {
                        match v {
                            Some(v) => v.encode_as(w, #xml),
                            None => w.nil(#xml),
                        }
                    }
                }
            }
            (FieldType::Polymorphic | FieldType::Any, Occurs::Many) => quote! {
                for v in &self.#fname {
                    v.encode_as(w, #xml);
                }
            },
            (FieldType::Polymorphic | FieldType::Any, Occurs::Optional) => quote! {
                if let Some(v) = &self.#fname {
                    v.encode_as(w, #xml);
                }
            },
            (FieldType::Polymorphic | FieldType::Any, Occurs::Required) => {
                quote!(self.#fname.encode_as(w, #xml);)
            }
            (_, Occurs::Required) => quote!(w.child(#xml, &self.#fname);),
            (FieldType::Entity(_), Occurs::Optional) => quote! {
                if let Some(v) = &self.#fname {
                    w.child(#xml, &**v);
                }
            },
            (_, Occurs::Optional) => quote! {
                if let Some(v) = &self.#fname {
                    w.child(#xml, v);
                }
            },
            (_, Occurs::Many) => quote! {
                for v in &self.#fname {
                    w.child(#xml, v);
                }
            },
        }
    });
    let w_arg = if s.fields.is_empty() {
        quote!(_w)
    } else {
        quote!(w)
    };
    let eq = if s.fields.iter().any(|f| {
        matches!(
            f.ty,
            FieldType::Prim(Prim::Double)
                | FieldType::Any
                | FieldType::Polymorphic
                | FieldType::Entity(_)
                | FieldType::Struct(_)
        )
    }) {
        quote!()
    } else {
        quote!(Eq,)
    };
    let derive = super::derive_with_serde(rt, quote!(Debug, Clone, PartialEq, #eq Default,));
    quote! {
        #doc
        #derive
        #[serde(default)]
        pub struct #name {
            #(#fields)*
        }

        impl #rt::xml::XmlDecodeFields for #name {
            fn decode_fields(
                &mut self,
                r: &mut #rt::xml::XmlReader<'_>,
                el: &#rt::xml::StartEl<'_>,
            ) -> Result<(), #rt::xml::XmlError> {
                let #self_arg = self;
                #decode_body
            }
        }

        impl #rt::xml::XmlEncode for #name {
            fn encode_children(&self, #w_arg: &mut #rt::xml::XmlWriter) {
                #(#encode_stmts)*
            }
        }
    }
}

/// Entity structs and the `Entity` union.
/// True when the entity has the optional `id: Option<i64>` of `entityBaseBean`.
fn has_optional_id(s: &StructDef) -> bool {
    s.fields.iter().any(|f| {
        f.xml == "id" && f.ty == FieldType::Prim(Prim::Long) && f.occurs == Occurs::Optional
    })
}

pub(crate) fn emit_entities(model: &Model, rt: &TokenStream) -> TokenStream {
    let structs = model.entities().map(|s| emit_struct(s, model, rt));
    let entities: Vec<&StructDef> = model.entities().collect();
    let variants = entities.iter().map(|s| {
        let n = ident(&s.rust);
        let doc = format!(
            " A `{}` (boxed, so an `Entity` stays small whatever the entity).",
            s.rust
        );
        quote!(#[doc = #doc] #n(Box<#n>),)
    });
    let names = entities.iter().map(|s| {
        let n = ident(&s.rust);
        let lit = &s.rust;
        quote!(Entity::#n(_) => #lit,)
    });
    let xml_types = entities.iter().map(|s| {
        let n = ident(&s.rust);
        let lit = &s.xml;
        quote!(Entity::#n(_) => #lit,)
    });
    let xsi_types = entities.iter().map(|s| {
        let n = ident(&s.rust);
        let lit = format!("tns:{}", s.xml);
        quote!(Entity::#n(_) => #lit,)
    });
    let ids = entities.iter().map(|s| {
        let n = ident(&s.rust);
        if has_optional_id(s) {
            quote!(Entity::#n(e) => e.id,)
        } else {
            quote!(Entity::#n(_) => None,)
        }
    });
    let decode_arms = entities.iter().map(|s| {
        let n = ident(&s.rust);
        let lit = proc_macro2::Literal::byte_string(s.xml.as_bytes());
        quote!(#lit => Entity::#n(#rt::xml::decode_box(r, el)?),)
    });
    let encode_arms = entities.iter().map(|s| {
        let n = ident(&s.rust);
        quote!(Entity::#n(e) => #rt::xml::XmlEncode::encode_children(&**e, w),)
    });
    let froms = entities.iter().map(|s| {
        let n = ident(&s.rust);
        quote! {
            impl From<#n> for Entity {
                fn from(e: #n) -> Self {
                    Entity::#n(Box::new(e))
                }
            }

            impl From<Box<#n>> for Entity {
                fn from(e: Box<#n>) -> Self {
                    Entity::#n(e)
                }
            }
        }
    });
    // Entities with an `id` (every ICAT entity: `entityBaseBean` has one) get the runtime's
    // `EntityType` trait, a reference-by-id constructor and `.into()` for related-object slots.
    let with_id: Vec<&StructDef> = entities
        .iter()
        .copied()
        .filter(|s| has_optional_id(s))
        .collect();
    // The runtime's `EntityType` trait is about the runtime's own `Entity` union, so only bindings
    // generated into the runtime itself implement it; code generated with `--out` has its own union.
    let in_runtime = rt.to_string() == "crate";
    let entity_types = with_id.iter().map(|s| {
        let n = ident(&s.rust);
        let lit = &s.rust;
        let entity_type = quote! {
            impl #rt::EntityType for #n {
                const NAME: &'static str = #lit;
                fn from_entity(entity: Entity) -> ::std::result::Result<Self, &'static str> {
                    match entity {
                        Entity::#n(e) => Ok(*e),
                        other => Err(other.entity_name()),
                    }
                }
                fn ref_from_entity(entity: &Entity) -> Option<&Self> {
                    match entity {
                        Entity::#n(e) => Some(e),
                        _ => None,
                    }
                }
                fn id(&self) -> Option<i64> {
                    self.id
                }
                fn reference(id: i64) -> Self {
                    #n::reference(id)
                }
            }
        };
        let entity_type = if in_runtime { entity_type } else { quote!() };
        quote! {
            #entity_type

            impl #n {
                /// An entity with only its id set, to refer to an existing object in a create,
                /// update or delete.
                pub fn reference(id: i64) -> Self {
                    #n {
                        id: Some(id),
                        ..::std::default::Default::default()
                    }
                }
            }

            impl From<#n> for Option<Box<#n>> {
                /// `Some(Box::new(entity))`, so related objects are set with `.into()`.
                fn from(entity: #n) -> Self {
                    Some(Box::new(entity))
                }
            }
        }
    });
    let all_names = entities.iter().map(|s| &s.rust);
    let reference_arms = with_id.iter().map(|s| {
        let n = ident(&s.rust);
        let lit = &s.rust;
        quote!(#lit => Entity::#n(Box::new(#n::reference(id))),)
    });
    let derive = super::derive_with_serde(rt, quote!(Debug, Clone, PartialEq,));
    let union = if entities.is_empty() {
        quote!()
    } else {
        quote! {
            /// Any concrete entity: what polymorphic slots (`bean`, `beans`, the `return` of `get` and
            /// entity results of `search`) hold, named on the wire by `xsi:type`.
            #derive
            pub enum Entity {
                #(#variants)*
            }

            impl Entity {
                /// Every entity name of the schema (as used in JPQL), sorted.
                pub const NAMES: &'static [&'static str] = &[#(#all_names),*];

                /// An entity of type `entity_name` (e.g. `"Dataset"`) with only its id set, to refer
                /// to an existing object; `None` when the schema has no such entity.
                pub fn reference(entity_name: &str, id: i64) -> Option<Entity> {
                    Some(match entity_name {
                        #(#reference_arms)*
                        _ => return None,
                    })
                }

                /// The entity name as used in JPQL, e.g. `"Dataset"`.
                pub fn entity_name(&self) -> &'static str {
                    match self { #(#names)* }
                }

                /// The XSD type name, e.g. `"dataset"`.
                pub fn xml_type(&self) -> &'static str {
                    match self { #(#xml_types)* }
                }

                /// The `xsi:type` value written on polymorphic slots, e.g. `"tns:dataset"`.
                pub fn xsi_type(&self) -> &'static str {
                    match self { #(#xsi_types)* }
                }

                /// The `id` of the entity, when it is set.
                pub fn id(&self) -> Option<i64> {
                    match self { #(#ids)* }
                }

                /// Decodes the content of `el` as the entity type whose XSD name is `xml_type`;
                /// `Ok(None)` when no entity has that name.
                pub fn decode_as(
                    xml_type: &[u8],
                    r: &mut #rt::xml::XmlReader<'_>,
                    el: &#rt::xml::StartEl<'_>,
                ) -> Result<Option<Entity>, #rt::xml::XmlError> {
                    Ok(Some(match xml_type {
                        #(#decode_arms)*
                        _ => return Ok(None),
                    }))
                }

                /// Writes `<{name} xsi:type="tns:...">` with the entity's fields.
                pub fn encode_as(&self, w: &mut #rt::xml::XmlWriter, name: &str) {
                    w.start_typed(name, self.xsi_type());
                    match self { #(#encode_arms)* }
                    w.end(name);
                }
            }

            impl #rt::xml::XmlDecode for Entity {
                /// Decodes a polymorphic slot: the type comes from `xsi:type` (resolved by namespace).
                fn decode(
                    r: &mut #rt::xml::XmlReader<'_>,
                    el: &#rt::xml::StartEl<'_>,
                ) -> Result<Self, #rt::xml::XmlError> {
                    let Some(t) = el.xsi_type() else {
                        return Err(el.missing_type());
                    };
                    if t.ns != #rt::xml::NsKind::Target {
                        return Err(el.unknown_type());
                    }
                    match Entity::decode_as(t.local.as_bytes(), r, el)? {
                        Some(e) => Ok(e),
                        None => Err(el.unknown_type()),
                    }
                }
            }

            #(#froms)*

            #(#entity_types)*
        }
    };
    quote! {
        #(#structs)*
        #union
    }
}

/// Helper (non-entity) structs.
pub(crate) fn emit_helpers(model: &Model, rt: &TokenStream) -> TokenStream {
    let structs = model
        .structs
        .iter()
        .filter(|s| !s.entity)
        .map(|s| emit_struct(s, model, rt));
    quote!(#(#structs)*)
}

fn emit_enum(e: &EnumDef, rt: &TokenStream) -> TokenStream {
    let name = ident(&e.rust);
    let mut variant_names: Vec<String> = Vec::new();
    for v in &e.values {
        let mut n = type_name(v);
        while n == "Unknown" || variant_names.contains(&n) {
            n.push('_');
        }
        variant_names.push(n);
    }
    let doc = format!(" The XSD enumeration `{}`.", e.xml);
    let variants = e.values.iter().zip(&variant_names).map(|(v, n)| {
        let n = ident(n);
        let d = format!(" The value `{v}`.");
        quote!(#[doc = #d] #n,)
    });
    let to_str = e.values.iter().zip(&variant_names).map(|(v, n)| {
        let n = ident(n);
        quote!(#name::#n => #v,)
    });
    let from_str = e.values.iter().zip(&variant_names).map(|(v, n)| {
        let n = ident(n);
        quote!(#v => #name::#n,)
    });
    let values = &e.values;
    let rust_name = &e.rust;
    let serde = super::serde_path(rt);
    quote! {
        #[doc = #doc]
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum #name {
            #(#variants)*
            /// A value these bindings do not know (from a newer server), kept as written. It is never
            /// one of the known values: those always become their own variant.
            Unknown(UnknownEnumValue),
        }

        impl #name {
            /// Every known value, in schema order, as written on the wire.
            pub const VALUES: &'static [&'static str] = &[#(#values),*];

            /// The value as written on the wire.
            pub fn as_str(&self) -> &str {
                match self {
                    #(#to_str)*
                    #name::Unknown(v) => v.as_str(),
                }
            }

            /// The value for a wire name; names that are not known values become `Unknown`.
            pub fn from_wire(s: &str) -> Self {
                match s {
                    #(#from_str)*
                    other => #name::Unknown(UnknownEnumValue(other.to_owned())),
                }
            }
        }

        impl ::std::str::FromStr for #name {
            type Err = #rt::meta::ParseEnumError;

            /// Parses a known value; anything else is an error that lists the known values.
            fn from_str(s: &str) -> ::std::result::Result<Self, Self::Err> {
                match #name::from_wire(s) {
                    #name::Unknown(_) => Err(#rt::meta::ParseEnumError::new(#rust_name, s, Self::VALUES)),
                    known => Ok(known),
                }
            }
        }

        impl ::std::fmt::Display for #name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl #rt::xml::XmlValue for #name {
            fn from_text(text: &str) -> ::std::result::Result<Self, &'static str> {
                Ok(#name::from_wire(text.trim()))
            }
            fn write_text(&self, w: &mut #rt::xml::XmlWriter) {
                w.text(self.as_str());
            }
        }

        impl #serde::Serialize for #name {
            fn serialize<S: #serde::Serializer>(&self, s: S) -> ::std::result::Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> #serde::Deserialize<'de> for #name {
            fn deserialize<D: #serde::Deserializer<'de>>(d: D) -> ::std::result::Result<Self, D::Error> {
                let s = <::std::string::String as #serde::Deserialize>::deserialize(d)?;
                Ok(#name::from_wire(&s))
            }
        }

        impl ::std::convert::From<#name> for #rt::query::Literal {
            /// The constant as a query value, for `Query::where_eq` and the other conditions.
            fn from(v: #name) -> Self {
                #rt::query::Literal::Enum { enum_name: #rust_name, constant: v.as_str().to_owned() }
            }
        }

        impl ::std::convert::From<&#name> for #rt::query::Literal {
            /// The constant as a query value.
            fn from(v: &#name) -> Self {
                #rt::query::Literal::Enum { enum_name: #rust_name, constant: v.as_str().to_owned() }
            }
        }
    }
}

/// All string enumerations.
pub(crate) fn emit_enums(model: &Model, rt: &TokenStream) -> TokenStream {
    let enums = model.enums.iter().map(|e| emit_enum(e, rt));
    quote! {
        /// A wire value that is none of its enumeration's known values, kept as the server wrote it.
        ///
        /// Only `from_wire` in this module makes one, after the known values did not match, so an
        /// `Unknown` variant never holds a value that has a variant of its own.
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct UnknownEnumValue(::std::string::String);

        impl UnknownEnumValue {
            /// The value as written on the wire.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl ::std::fmt::Display for UnknownEnumValue {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        #(#enums)*
    }
}
