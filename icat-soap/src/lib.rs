//! Typed async client for the ICAT SOAP API (ICAT 6.2), with bindings generated from the WSDL.
//!
//! Hand-written runtime: [`meta`] (entity metadata types), [`dynamic`] (schema-driven entity view),
//! [`DateTime`] (lossless `xs:dateTime`), and the XML, envelope and fault support the generated code needs.

pub mod client;
pub mod datetime;
pub mod dynamic;
pub mod error;
pub mod meta;
pub mod query;

pub use client::Client;
pub use datetime::{DateTime, DateTimeError};
pub use error::IcatError;
pub use query::Query;
