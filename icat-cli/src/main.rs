//! The `icat` command-line tool: find, browse and download facility data from ICAT and IDS.

use std::process::ExitCode;

use icat_cli::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse_args();
    #[cfg(feature = "sim")]
    let demo = matches!(cli.command, icat_cli::cli::Command::Demo(_));
    #[cfg(not(feature = "sim"))]
    let demo = false;
    icat_cli::logging::init(cli.quiet, cli.verbose, demo);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            icat_cli::output::err_line(&format!("error: cannot start the async runtime: {e}"));
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(icat_cli::app::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let (kind, line) = icat_cli::exit_code::describe_error(&err);
            icat_cli::output::err_line(&format!("error: {line}"));
            ExitCode::from(kind.code())
        }
    }
}
