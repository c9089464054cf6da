use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use replica_lab::cli::{self, Cli, Next};
use replica_lab::tui;

#[tokio::main]
async fn main() -> ExitCode {
    if let Err(e) = color_eyre::install() {
        let _ = writeln!(
            std::io::stderr(),
            "warning: error reporting not installed: {e}"
        );
    }
    let result = match cli::run(Cli::parse()).await {
        Ok(Next::Done) => Ok(()),
        Ok(Next::App(settings)) => tui::run::run(settings.clone())
            .await
            .and_then(|came_up| cli::after_app(&settings, came_up)),
        Ok(Next::Instructor { settings, db }) => {
            tui::instructor::view(&settings, db.as_deref()).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader went away (`| head`): it had what it wanted.
        Err(e) if e.is_stdout_closed() => ExitCode::SUCCESS,
        Err(e) => {
            // Nobody to tell when stderr is gone too; the exit status still says it.
            let _ = writeln!(std::io::stderr(), "error: {e}");
            ExitCode::FAILURE
        }
    }
}
