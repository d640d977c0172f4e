//! Typed async client for the ICAT SOAP API (ICAT 6.2), with bindings generated from the WSDL.
//!
//! Hand-written runtime: [`meta`] (entity metadata types), [`dynamic`] (schema-driven entity view),
//! and the XML, envelope, fault and dateTime support the generated code in [`generated`] needs.

// `dynamic` joins once `DateTime` exists (codegen work).
pub mod meta;
