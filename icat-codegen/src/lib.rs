//! Generates typed Rust bindings for the ICAT SOAP API from a WSDL and its XSD.
