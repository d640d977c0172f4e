//! The `icat-sim` binary: runs the simulator until killed, printing the WSDL and IDS URLs.

use clap::Parser;

/// A local ICAT 6.2 + IDS 2.1 server for tests, demos and offline development.
///
/// Its catalogue is empty unless --synthetic, --load or --db fills it: for a facility to try the
/// library or the `icat` CLI on, start it with e.g. --synthetic visits=5,datasets=3,files=4,size=64KiB
#[derive(Debug, Parser)]
#[command(name = "icat-sim", version)]
struct Cli {
    #[command(flatten)]
    serve: icat_sim::process::cli::ServeArgs,
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "icat_sim=info".into()),
        )
        .with_writer(std::io::stderr)
        // Colour only for a person at a terminal, and never with NO_COLOR set.
        .with_ansi(
            std::io::IsTerminal::is_terminal(&std::io::stderr())
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        )
        .init();
    let cli = Cli::parse();
    match icat_sim::process::cli::serve(&cli.serve, &mut std::io::stdout(), &mut std::io::stderr())
        .await
    {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("icat-sim: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
