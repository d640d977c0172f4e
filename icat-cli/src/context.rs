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

/// A token cancelled by Ctrl-C (SIGINT) or, on Unix, SIGTERM (what `kill`, systemd and batch
/// schedulers send), so downloads stop cleanly either way (partial raw and striped downloads and
/// the files of a bundle that arrived whole are kept; the command's final message says what was
/// kept, and the exit code is 130 for both).
pub fn ctrl_c_token() -> CancellationToken {
    let token = CancellationToken::new();
    let child = token.clone();
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    // A file size limit (`ulimit -f`) kills a process that writes past it with SIGXFSZ, without
    // a word. With the signal caught (for the rest of the process: tokio never gives a handler
    // back), the write fails with EFBIG instead, and the download says which file reached the
    // limit, its partial data kept. The handler is all that is needed: the stream is dropped.
    #[cfg(unix)]
    drop(tokio::signal::unix::signal(
        tokio::signal::unix::SignalKind::from_raw(libc::SIGXFSZ),
    ));
    tokio::spawn(async move {
        #[cfg(unix)]
        let stopped = match terminate {
            Some(mut term) => tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok().then_some("interrupted"),
                r = term.recv() => r.map(|()| "terminated (SIGTERM)"),
            },
            None => tokio::signal::ctrl_c().await.ok().map(|()| "interrupted"),
        };
        #[cfg(not(unix))]
        let stopped = tokio::signal::ctrl_c().await.ok().map(|()| "interrupted");
        if let Some(why) = stopped {
            crate::output::err_line(&format!("\n{why}: stopping"));
            child.cancel();
        }
    });
    token
}
