//! What joins the simulator's parts: the IDS's catalogue implemented over the ICAT service
//! ([`sim_catalog`]), the routes of one HTTP server for both services ([`routes`]), and fault
//! injection around them ([`fault_injection`]).

pub mod fault_injection;
pub mod routes;
pub mod sim_catalog;
