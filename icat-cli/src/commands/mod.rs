//! The subcommands; each writes its results to the given writer (stdout, or the demo's narration).

pub mod archive;
pub mod browse;
pub mod browse_output;
pub mod cite;
pub mod download;
pub mod dry_run;
pub mod find;
pub mod find_facets;
pub mod session;
pub mod upload;
