//! Dispatch of the subcommands and the mapping of any error to an exit code and one line of text.

use std::collections::HashMap;

use clap::CommandFactory;

use crate::cli::{Cli, Command, SimCommand};
use crate::failure::{ExitKind, Failure, one_line};
use crate::progress::{Mode, Reporter};

/// What every command gets: the parsed flags, a snapshot of the environment, and the reporter.
#[derive(Debug)]
pub struct Context {
    /// The connection flags.
    pub conn: crate::cli::ConnArgs,
    /// The environment variables at start.
    pub env: HashMap<String, String>,
    /// Progress and notes on stderr.
    pub reporter: Reporter,
    /// `-q` was given.
    pub quiet: bool,
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let ctx = Context {
        conn: cli.conn.clone(),
        env: std::env::vars().collect(),
        reporter: Reporter::new(Mode::detect(cli.quiet)),
        quiet: cli.quiet,
    };
    match cli.command {
        Command::Completions(args) => {
            let mut cmd = Cli::command();
            clap_complete::generate(args.shell, &mut cmd, "icat", &mut std::io::stdout());
            Ok(())
        }
        Command::Sim {
            command: SimCommand::Serve(args),
        } => icat_sim::cli::serve(&args, &mut std::io::stdout())
            .await
            .map_err(|e| {
                let kind = match e {
                    icat_sim::SimError::Config(_) | icat_sim::SimError::Bind { .. } => {
                        ExitKind::Usage
                    }
                    _ => ExitKind::Other,
                };
                anyhow::Error::new(Failure::bare(kind, format!("simulator: {e}")))
            }),
        other => {
            let _ = (&ctx, other);
            Err(Failure::bare(
                ExitKind::Other,
                "this command needs the ICAT client, which is not built yet",
            )
            .into())
        }
    }
}

/// The exit kind and the one-line message for an error.
pub fn describe_error(err: &anyhow::Error) -> (ExitKind, String) {
    let mut kind = ExitKind::Other;
    for cause in err.chain() {
        if let Some(f) = cause.downcast_ref::<Failure>() {
            kind = f.kind;
            break;
        }
    }
    // Context layers first, then the cause, on one line.
    let parts: Vec<String> = err.chain().map(|c| c.to_string()).collect();
    let mut text = String::new();
    for part in parts {
        if text.contains(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    (kind, one_line(&text))
}
