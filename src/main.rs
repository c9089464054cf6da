use std::process::ExitCode;

use clap::Parser;
use replica_lab::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("warning: error reporting not installed: {e}");
    }
    let cli = Cli::parse();
    let result = match cli.command {
        Some(command) => replica_lab::commands::run(command).await,
        None => replica_lab::commands::app(&cli.app).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
