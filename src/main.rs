//! The `care-hub` binary: parse the command line and run the subcommand.
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = care_hub::cli::Cli::parse();
    match Box::pin(care_hub::cli::run(cli)).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("care-hub: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
