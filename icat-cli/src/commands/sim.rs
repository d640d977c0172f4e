//! `icat sim serve`: the simulator as the `icat-sim` binary runs it, from the same options.

use std::io::Write;

use crate::failure::{ExitKind, Failure};

/// Serves a simulator until Ctrl-C or SIGTERM, printing its WSDL and IDS URLs to `out`.
pub async fn serve(
    args: &icat_sim::process::cli::ServeArgs,
    out: &mut dyn Write,
) -> Result<(), Failure> {
    icat_sim::process::cli::serve(args, out, &mut std::io::stderr())
        .await
        .map_err(|e| {
            let kind = match e {
                icat_sim::SimError::Config(_) | icat_sim::SimError::Bind { .. } => ExitKind::Usage,
                _ => ExitKind::Other,
            };
            Failure::bare(kind, format!("simulator: {e}"))
        })
}
