//! What every command gets (the flags, the environment, the reporter) and the Ctrl-C token that
//! stops a command cleanly.

use std::collections::HashMap;

use icat_ids::CancellationToken;

use crate::progress::Reporter;

/// What every command gets: the parsed flags, a snapshot of the environment, and the reporter.
#[derive(Debug, Clone)]
pub struct Context {
    /// The connection flags.
    pub conn: crate::cli::ConnArgs,
    /// The environment variables at start.
    pub env: HashMap<String, String>,
    /// Progress and notes on stderr.
    pub reporter: Reporter,
}

/// A token cancelled by Ctrl-C, so downloads stop cleanly (raw downloads keep their partial data;
/// the command's final message says what was kept).
pub fn ctrl_c_token() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\ninterrupted: stopping");
            child.cancel();
        }
    });
    token
}
