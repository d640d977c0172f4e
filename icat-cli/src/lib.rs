//! The `icat` command-line tool as a library: configuration, session cache, output and commands.
//!
//! The binary in `main.rs` only parses arguments and maps failures to exit codes; everything else
//! lives here so it can be unit-tested.
//!
//! The `sim` feature (on by default) adds `icat demo` and `icat sim serve`, which run the
//! simulator in process; without it (`--no-default-features`) the simulator is not linked.

pub mod advice;
pub mod app;
pub mod bagit;
pub mod catalog;
pub mod cli;
pub mod commands;
pub mod config;
pub mod connect;
pub mod context;
pub mod credentials;
pub mod destination;
pub mod duration_text;
pub mod entity_view;
pub mod exit_code;
pub mod failure;
pub mod glob;
pub mod grammar;
pub mod idlist;
pub mod jpql_text;
pub mod logging;
pub mod output;
pub mod progress;
pub mod queries;
pub mod resolve;
pub mod session_cache;
pub mod suggest;
pub mod tree;
pub mod url_text;
pub mod wait_text;
