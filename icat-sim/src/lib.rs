//! A local ICAT 6.2 + IDS 2.1 server simulator: SQLite-backed catalogue, SOAP service and IDS REST API.
//!
//! Start one with [`Simulator::builder`]; the `icat-sim` binary and `icat sim serve` take the same
//! options ([`cli::ServeArgs`]).

pub mod access;
pub mod cli;
pub mod config;
pub mod db;
pub mod duration;
pub mod entity_info;
pub mod error;
pub mod faults;
pub mod http;
pub mod icat;
pub mod ids;
pub mod ids_catalog;
pub mod jpql;
pub mod load;
pub mod network;
pub mod rest;
pub mod simulator;
pub mod soap;
pub mod synthetic;
pub mod textsearch;

pub use faults::FaultHandle;
pub use simulator::{RunningSimulator, SimError, Simulator, SimulatorBuilder};

/// The entity metadata the simulator's database schema is made from (the generated ICAT 6.2 tables).
pub fn entities() -> &'static [icat_soap::meta::EntityMeta] {
    icat_soap::meta::ENTITIES
}
