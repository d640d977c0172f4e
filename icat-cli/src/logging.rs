//! Log setup: `tracing` to stderr, level from `-q`/`-v` (or `RUST_LOG` when set).
//!
//! Without `-v`, a warning reads like every other note for people (`warning: ...`, no timestamp,
//! no level column); with `-v` the log style (timestamps, levels) is used. Colour only when stderr
//! is a terminal and `NO_COLOR` is unset.

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// The filter directive for the verbosity flags.
///
/// Below `-vv`, the TLS libraries' own log lines are off: a refused certificate is reported
/// once, by the command's error message.
pub fn level_directive(quiet: bool, verbose: u8) -> String {
    let level = match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    };
    if verbose >= 2 {
        level.to_string()
    } else {
        format!("{level},rustls=off,rustls_platform_verifier=off")
    }
}

/// Whether to colour stderr: a terminal, and no `NO_COLOR` (any non-empty value turns colour off).
pub fn use_colour(stderr_is_terminal: bool, no_color: Option<&str>) -> bool {
    stderr_is_terminal && no_color.is_none_or(str::is_empty)
}

/// Installs the stderr subscriber. `RUST_LOG`, when set, overrides the flags. `loopback_demo`
/// silences the IDS client's plain-http warning, which the demo's loopback simulator always triggers.
pub fn init(quiet: bool, verbose: u8, loopback_demo: bool) {
    let mut directive = level_directive(quiet, verbose);
    if loopback_demo && verbose == 0 {
        directive.push_str(",icat_ids=error");
    }
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(directive));
    let colour = use_colour(
        std::io::stderr().is_terminal(),
        std::env::var("NO_COLOR").ok().as_deref(),
    );
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(colour)
        .with_target(verbose >= 2);
    let _ = if verbose == 0 {
        builder.event_format(PlainLines).try_init()
    } else {
        builder.try_init()
    };
}

/// `warning: message (key=value ...)`: one line a person reads, like the CLI's own notes.
#[derive(Debug, Clone, Copy)]
pub struct PlainLines;

impl<S, N> FormatEvent<S, N> for PlainLines
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let label = match *event.metadata().level() {
            Level::ERROR => "error",
            Level::WARN => "warning",
            Level::INFO => "note",
            Level::DEBUG => "debug",
            Level::TRACE => "trace",
        };
        write!(writer, "{label}: ")?;
        ctx.field_format().format_fields(writer.by_ref(), event)?;
        writeln!(writer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert!(level_directive(true, 0).starts_with("error,"));
        assert!(level_directive(false, 0).starts_with("warn,"));
        assert!(level_directive(false, 0).contains("rustls_platform_verifier=off"));
        assert!(level_directive(false, 1).starts_with("info,"));
        assert_eq!(level_directive(false, 5), "trace");
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(use_colour(true, None));
        assert!(use_colour(true, Some("")));
        assert!(!use_colour(true, Some("1")));
        assert!(!use_colour(false, None));
    }
}
