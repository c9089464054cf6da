use std::process::ExitCode;

use clap::Parser;
use replica_lab::cli::{self, Cli, Next};
use replica_lab::tui;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        eprintln!("warning: error reporting not installed: {e}");
    }
    let result = match cli::run(Cli::parse()).await {
        Ok(Next::Done) => Ok(()),
        Ok(Next::App(settings)) => tui::run::run(settings.clone())
            .await
            .map(|came_up| cli::after_app(&settings, came_up)),
        Ok(Next::Instructor { settings, db }) => {
            tui::instructor::view(&settings, db.as_deref()).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
