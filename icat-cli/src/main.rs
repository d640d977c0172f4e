//! The `icat` command-line tool: find, browse and download facility data from ICAT and IDS.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = icat_cli::cli::Cli::parse();
    let _ = cli;
    ExitCode::SUCCESS
}
