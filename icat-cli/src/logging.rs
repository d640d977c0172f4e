//! Log setup: `tracing` to stderr, level from `-q`/`-v` (or `RUST_LOG` when set).

use tracing_subscriber::EnvFilter;

/// The filter directive for the verbosity flags.
pub fn level_directive(quiet: bool, verbose: u8) -> &'static str {
    match (quiet, verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        (false, 1) => "info",
        (false, 2) => "debug",
        (false, _) => "trace",
    }
}

/// Installs the stderr subscriber. `RUST_LOG`, when set, overrides the flags. `loopback_demo`
/// silences the IDS client's plain-http warning, which the demo's loopback simulator always triggers.
pub fn init(quiet: bool, verbose: u8, loopback_demo: bool) {
    let mut directive = level_directive(quiet, verbose).to_string();
    if loopback_demo && verbose == 0 {
        directive.push_str(",icat_ids=error");
    }
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| EnvFilter::try_new(v).ok())
        .unwrap_or_else(|| EnvFilter::new(directive));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(verbose >= 2)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(level_directive(true, 0), "error");
        assert_eq!(level_directive(false, 0), "warn");
        assert_eq!(level_directive(false, 1), "info");
        assert_eq!(level_directive(false, 5), "trace");
    }
}
