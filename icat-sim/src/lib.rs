//! A local ICAT 6.2 + IDS 2.1 server simulator: SQLite-backed catalogue, SOAP service and IDS REST API.

pub mod config;
pub mod db;
pub mod entity_info;
pub mod error;
pub mod icat;
