//! The subcommands; each writes its results to the given writer (stdout, or the demo's narration).
//!
//! `demo` and `sim` run the simulator in process: they are built with the `sim` feature (on by
//! default) only.

pub mod archive;
pub mod browse;
pub mod browse_output;
pub mod cite;
#[cfg(feature = "sim")]
pub mod demo;
pub mod download;
pub mod dry_run;
pub mod find;
pub mod find_facets;
pub mod rest_failure;
pub mod session;
#[cfg(feature = "sim")]
pub mod sim;
pub mod upload;
