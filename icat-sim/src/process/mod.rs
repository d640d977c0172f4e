//! The simulator as a process: its command-line options ([`cli`]), its configuration file
//! ([`config`], `sim.toml`, with the duration syntax of [`duration`]) and starting, serving and
//! stopping it ([`simulator`]).

pub mod cli;
pub mod config;
pub mod duration;
pub mod simulator;
