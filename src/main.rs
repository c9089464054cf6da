use std::process::ExitCode;

use clap::Parser;
use replica_lab::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("warning: error reporting not installed: {e}");
    }
    let cli = Cli::parse();
    let Some(command) = cli.command else {
        // The interactive app comes later; until then, point at the commands.
        println!(
            "replica-lab: learn PostgreSQL streaming replication on a real cluster.\n\n\
             Start one:   replica-lab up\n\
             Look at it:  replica-lab status\n\
             Remove it:   replica-lab down\n\n\
             Run `replica-lab --help` for every command."
        );
        return ExitCode::SUCCESS;
    };
    match replica_lab::commands::run(command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
