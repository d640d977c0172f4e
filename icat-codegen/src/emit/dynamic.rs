//! `to_dyn` / `from_dyn` for every entity and for the `Entity` union.

use proc_macro2::TokenStream;
use quote::quote;

use super::ident;
use crate::model::{FieldType, Model, Occurs, Prim};

pub(crate) fn emit(model: &Model, rt: &TokenStream) -> TokenStream {
    let dy = quote!(#rt::dynamic);
    let impls = model.entities().map(|s| {
        let name = ident(&s.rust);
        let lit = &s.rust;
        let mut to = Vec::new();
        let mut attr_arms = Vec::new();
        let mut one_arms = Vec::new();
        let mut many_arms = Vec::new();
        for f in &s.fields {
            let fname = ident(&f.rust);
            let xml = &f.xml;
            let conv = |v: TokenStream| -> Option<(TokenStream, TokenStream)> {
                Some(match &f.ty {
                    FieldType::Prim(Prim::String) => (quote!(#dy::AttrValue::String(#v.clone())), quote!(#dy::convert::string(v, #lit, k)?)),
                    FieldType::Prim(Prim::Long) => (quote!(#dy::AttrValue::Long(*#v)), quote!(#dy::convert::long(v, #lit, k)?)),
                    FieldType::Prim(Prim::Int) => (quote!(#dy::AttrValue::Long(i64::from(*#v))), quote!(#dy::convert::int(v, #lit, k)?)),
                    FieldType::Prim(Prim::Double) => (quote!(#dy::AttrValue::Double(*#v)), quote!(#dy::convert::double(v, #lit, k)?)),
                    FieldType::Prim(Prim::Bool) => (quote!(#dy::AttrValue::Bool(*#v)), quote!(#dy::convert::bool(v, #lit, k)?)),
                    FieldType::Prim(Prim::DateTime) => (quote!(#dy::AttrValue::DateTime(*#v)), quote!(#dy::convert::datetime(v, #lit, k)?)),
                    FieldType::Enum(e) => {
                        let e = ident(e);
                        (quote!(#dy::AttrValue::String(#v.as_str().to_owned())), quote!(#e::from_wire(&#dy::convert::string(v, #lit, k)?)))
                    }
                    _ => return None,
                })
            };
            match (&f.ty, f.occurs) {
                (FieldType::Prim(_) | FieldType::Enum(_), Occurs::Optional) => {
                    if let Some((to_v, from_v)) = conv(quote!(v)) {
                        to.push(quote! {
                            if let Some(v) = &self.#fname {
                                d.attrs.insert(#xml.to_owned(), #to_v);
                            }
                        });
                        attr_arms.push(quote!(#xml => out.#fname = Some(#from_v),));
                    }
                }
                (FieldType::Prim(_) | FieldType::Enum(_), Occurs::Required) => {
                    if let Some((to_v, from_v)) = conv(quote!(v)) {
                        to.push(quote! {
                            let v = &self.#fname;
                            d.attrs.insert(#xml.to_owned(), #to_v);
                        });
                        attr_arms.push(quote!(#xml => out.#fname = #from_v,));
                    }
                }
                (FieldType::Entity(t), Occurs::Optional) => {
                    let t = ident(t);
                    to.push(quote! {
                        if let Some(v) = &self.#fname {
                            d.one.insert(#xml.to_owned(), v.to_dyn());
                        }
                    });
                    one_arms.push(quote!(#xml => out.#fname = Some(Box::new(#t::from_dyn(v)?)),));
                }
                (FieldType::Entity(t), Occurs::Many) => {
                    let t = ident(t);
                    to.push(quote! {
                        if !self.#fname.is_empty() {
                            d.many.insert(#xml.to_owned(), self.#fname.iter().map(#t::to_dyn).collect());
                        }
                    });
                    many_arms.push(quote!(#xml => out.#fname = v.iter().map(#t::from_dyn).collect::<Result<_, _>>()?,));
                }
                _ => {}
            }
        }
        let loop_over = |map: TokenStream, kind: &str, arms: &[TokenStream]| {
            if arms.is_empty() {
                quote! {
                    if let Some(k) = d.#map.keys().next() {
                        return Err(#dy::DynError::UnknownField { entity: #lit, kind: #kind, field: k.clone() });
                    }
                }
            } else {
                quote! {
                    for (k, v) in &d.#map {
                        match k.as_str() {
                            #(#arms)*
                            _ => return Err(#dy::DynError::UnknownField { entity: #lit, kind: #kind, field: k.clone() }),
                        }
                    }
                }
            }
        };
        let attrs = loop_over(quote!(attrs), "attribute", &attr_arms);
        let ones = loop_over(quote!(one), "many-to-one", &one_arms);
        let manys = loop_over(quote!(many), "one-to-many", &many_arms);
        quote! {
            impl #name {
                /// The schema-driven view of this entity (absent fields are left out).
                pub fn to_dyn(&self) -> #dy::DynEntity {
                    let mut d = #dy::DynEntity::new(#lit);
                    #(#to)*
                    d
                }

                /// The typed entity from its schema-driven view; checks the entity type, field names
                /// and value types.
                pub fn from_dyn(d: &#dy::DynEntity) -> Result<Self, #dy::DynError> {
                    if d.entity != #lit {
                        return Err(#dy::DynError::WrongEntity { expected: #lit, found: d.entity.clone() });
                    }
                    let mut out = Self::default();
                    #attrs
                    #ones
                    #manys
                    Ok(out)
                }
            }
        }
    });
    let entities: Vec<_> = model.entities().collect();
    if entities.is_empty() {
        return quote!(#(#impls)*);
    }
    let to_arms = entities.iter().map(|s| {
        let n = ident(&s.rust);
        quote!(Entity::#n(e) => e.to_dyn(),)
    });
    let from_arms = entities.iter().map(|s| {
        let n = ident(&s.rust);
        let lit = &s.rust;
        quote!(#lit => Entity::#n(Box::new(#n::from_dyn(d)?)),)
    });
    quote! {
        #(#impls)*

        impl Entity {
            /// The schema-driven view of this entity.
            pub fn to_dyn(&self) -> #dy::DynEntity {
                match self { #(#to_arms)* }
            }

            /// The typed entity for a schema-driven view, by its entity name.
            pub fn from_dyn(d: &#dy::DynEntity) -> Result<Entity, #dy::DynError> {
                Ok(match d.entity.as_str() {
                    #(#from_arms)*
                    other => return Err(#dy::DynError::UnknownEntity(other.to_owned())),
                })
            }
        }
    }
}
