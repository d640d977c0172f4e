//! Operation wrappers, the `Request` union (for servers), the `OPERATIONS` table and the
//! `if_operation!` macro that lets hand-written code use operations older schemas lack.

use proc_macro2::TokenStream;
use quote::quote;

use super::ident;
use super::structs::emit_struct;
use crate::model::{FieldType, Model, Occurs, Prim};
use crate::naming::type_name;

/// `in_runtime`: the code goes into the runtime crate itself, which exports `if_operation!` for
/// the crates built on it.
pub(crate) fn emit(model: &Model, rt: &TokenStream, in_runtime: bool) -> TokenStream {
    let derive = super::derive_with_serde(rt, quote!(Debug, Clone, PartialEq,));
    let mut items = Vec::new();
    for op in &model.operations {
        for (s, is_req) in [(&op.request, true), (&op.response, false)] {
            let mut s = s.clone();
            s.doc = Some(format!(
                "The {} of the `{}` operation (wrapper element `{}`)",
                if is_req { "request" } else { "response" },
                op.name,
                s.xml
            ));
            items.push(emit_struct(&s, model, rt));
            let name = ident(&s.rust);
            let el = &s.xml;
            items.push(quote! {
                impl #rt::xml::SoapMessage for #name {
                    const NAMESPACE: &'static str = super::model::TARGET_NAMESPACE;
                    const ELEMENT: &'static str = #el;
                }
            });
        }
        let req = ident(&op.request.rust);
        let resp = ident(&op.response.rust);
        let name = &op.name;
        let action = &op.soap_action;
        items.push(quote! {
            impl #rt::xml::SoapOperation for #req {
                type Response = #resp;
                const NAME: &'static str = #name;
                const SOAP_ACTION: &'static str = #action;
            }
        });
        // A request with an optional `sessionId` string can be sent through a session, which
        // fills the id in (`Session::call`).
        let session_field = op.request.fields.iter().find(|f| {
            f.xml == "sessionId"
                && f.ty == FieldType::Prim(Prim::String)
                && f.occurs == Occurs::Optional
        });
        if let Some(f) = session_field {
            let field = ident(&f.rust);
            items.push(quote! {
                impl #rt::client::SessionRequest for #req {
                    fn set_session_id(&mut self, id: ::std::string::String) {
                        self.#field = Some(id);
                    }
                }
            });
        }
    }
    // `if_operation!(name { present } else { absent })`: one arm per operation of this schema, so
    // hand-written code beside the bindings can use an operation that older servers lack and
    // still compile when the bindings are regenerated from such a server's WSDL.
    let op_macro = selector_macro(
        "if_operation",
        model.operations.iter().map(|op| op.name.as_str()),
        "Expands `present` when these bindings have the operation named first, `absent` otherwise: \
         `if_operation!(refresh { ... } else { ... })`, in item or statement position. Code built on \
         the bindings uses it for operations that older servers lack, so that it compiles with \
         bindings regenerated from any ICAT's WSDL.",
        in_runtime,
    );
    let variants = model.operations.iter().map(|op| {
        let v = ident(&type_name(&op.name));
        let t = ident(&op.request.rust);
        let doc = format!(" A `{}` request.", op.name);
        quote!(#[doc = #doc] #v(#t),)
    });
    let op_names = model.operations.iter().map(|op| {
        let v = ident(&type_name(&op.name));
        let n = &op.name;
        quote!(Request::#v(_) => #n,)
    });
    let decode_arms = model.operations.iter().map(|op| {
        let v = ident(&type_name(&op.name));
        let el = proc_macro2::Literal::byte_string(op.request.xml.as_bytes());
        quote!(#el => Request::#v(#rt::xml::XmlDecode::decode(r, el)?),)
    });
    let encode_arms = model.operations.iter().map(|op| {
        let v = ident(&type_name(&op.name));
        quote!(Request::#v(m) => #rt::xml::SoapBody::encode_body(m, w),)
    });
    let table = model.operations.iter().map(|op| {
        let name = &op.name;
        let action = &op.soap_action;
        let input = &op.request.xml;
        let output = &op.response.xml;
        let req = &op.request.rust;
        let resp = &op.response.rust;
        let faults = &op.faults;
        let read_only = op.read_only;
        quote! {
            #rt::meta::OperationInfo {
                name: #name,
                soap_action: #action,
                input_element: #input,
                output_element: #output,
                request_type: #req,
                response_type: #resp,
                faults: &[#(#faults),*],
                read_only: #read_only,
            },
        }
    });
    quote! {
        #(#items)*

        #op_macro

        /// Any request, for servers: decode a request envelope as `Request` and dispatch on it.
        #derive
        pub enum Request {
            #(#variants)*
        }

        impl Request {
            /// The operation name, e.g. `"search"`.
            pub fn operation(&self) -> &'static str {
                match self { #(#op_names)* }
            }
        }

        impl #rt::xml::SoapBody for Request {
            const TARGET_NAMESPACE: &'static str = super::model::TARGET_NAMESPACE;

            fn decode_body(
                r: &mut #rt::xml::XmlReader<'_>,
                el: &#rt::xml::StartEl<'_>,
            ) -> Result<Self, #rt::xml::XmlError> {
                if el.ns() != #rt::xml::NsKind::Target {
                    return Err(el.unexpected(::std::format!("an operation element in {}", super::model::TARGET_NAMESPACE)));
                }
                Ok(match el.local_name() {
                    #(#decode_arms)*
                    _ => return Err(el.unexpected("the request element of a known operation")),
                })
            }

            fn encode_body(&self, w: &mut #rt::xml::XmlWriter) {
                match self { #(#encode_arms)* }
            }
        }

        /// Every operation of the WSDL, in WSDL order.
        pub static OPERATIONS: &[#rt::meta::OperationInfo] = &[
            #(#table)*
        ];
    }
}

/// A `macro_rules!` named `name` with one arm per key (`key { present } else { absent }` expands
/// `present`) and a last arm expanding `absent`. Inside the runtime crate it is exported (under a
/// name of its own at the crate root, re-exported as `name` in the module that holds it), so that
/// crates and tests built on the runtime can use it; elsewhere it is `pub(crate)`.
/// (A key that is no Rust identifier, possible in XML, has no arm: code cannot name it anyway.)
pub(crate) fn selector_macro<'a>(
    name: &str,
    keys: impl Iterator<Item = &'a str>,
    doc: &str,
    in_runtime: bool,
) -> TokenStream {
    let is_ident = |n: &str| {
        n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && n.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let present_arms = keys.filter(|k| is_ident(k)).map(|k| {
        let k = ident(k);
        quote!((#k { $($present:tt)* } else { $($absent:tt)* }) => { $($present)* };)
    });
    let arms = quote! {
        #(#present_arms)*
        ($other:ident { $($present:tt)* } else { $($absent:tt)* }) => { $($absent)* };
    };
    let public = ident(name);
    let doc = format!(" {doc}");
    if in_runtime {
        let exported = ident(&format!("__icat_soap_{name}"));
        quote! {
            #[doc(hidden)]
            #[macro_export]
            macro_rules! #exported { #arms }
            #[doc = #doc]
            #[doc(inline)]
            pub use #exported as #public;
        }
    } else {
        quote! {
            #[doc = #doc]
            #[allow(unused_macros)]
            macro_rules! #public { #arms }
            #[allow(unused_imports)]
            pub(crate) use #public;
        }
    }
}
