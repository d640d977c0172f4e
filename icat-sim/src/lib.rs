//! A local ICAT 6.2 + IDS 2.1 server simulator: SQLite-backed catalogue, SOAP service and IDS REST API.
//!
//! Start one with [`Simulator::builder`]; the `icat-sim` binary and `icat sim serve` take the same
//! options ([`process::cli::ServeArgs`]).
//!
//! The crate has four parts:
//! - **the service**, what a client talks to: [`icat`] (the ICAT operations over the SQLite
//!   catalogue, access rules, free-text search, and their SOAP and REST endpoints), [`ids`] (the
//!   IDS endpoints and file storage, which reach ICAT only through the [`ids::IdsCatalog`] trait),
//!   [`jpql`] (ICAT's query languages compiled to SQL; depends on nothing else in the crate) and
//!   [`network`] (the facility profile's network model both services answer through);
//! - **the process**, [`process`]: options, `sim.toml`, starting and stopping a simulator;
//! - **data loading**, [`data`]: python-icat's icatdump files and synthetic facilities;
//! - **glue**, [`glue`]: what joins the parts: the IDS's catalogue over the ICAT service, the
//!   HTTP routes of one server, and fault injection around both services.

pub mod data;
pub mod glue;
pub mod icat;
pub mod ids;
pub mod jpql;
pub mod network;
pub mod process;

pub use glue::fault_injection::FaultHandle;
pub use process::simulator::{RunningSimulator, SimError, Simulator, SimulatorBuilder};

/// The entity metadata the simulator's database schema is made from (the generated ICAT 6.2 tables).
pub fn entities() -> &'static [icat_soap::meta::EntityMeta] {
    icat_soap::meta::ENTITIES
}
