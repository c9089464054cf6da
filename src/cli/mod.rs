//! The command line: its arguments, and every headless command with its printing.
//!
//! A command either finishes here or hands the terminal over to an interactive view, which
//! `main` opens: the front-ends never import each other.

pub mod args;
pub mod classroom;
pub mod cluster;
pub mod doctor;
pub mod lessons;
pub mod out;
pub mod pull_bar;
pub mod status;

use std::io::{IsTerminal as _, Write as _};
use std::sync::Arc;

pub use args::Cli;
use args::{AppFlags, Command};

use crate::error::{Error, Result};
use crate::lifecycle::{Progress, Report};
use crate::settings::{Settings, config_file};

/// Settings as the user gave them: the config file, the process environment, then `flags`.
/// Each `REPLICA_LAB_*` variable that names no setting is a warning on stderr, not a failure.
pub fn load_settings(flags: &impl serde::Serialize) -> Result<Settings> {
    let (settings, unknown) =
        Settings::load_noting(config_file().as_deref(), std::env::vars(), flags)
            .map_err(|e| Error::new(e.to_string()))?;
    for var in unknown {
        out::errln!("warning: {var}");
    }
    Ok(settings)
}

/// What is left to do once a command has run.
pub enum Next {
    Done,
    /// Open the app on these settings.
    App(Settings),
    /// Open the instructor's live view of the class on this hub (`None`: the remembered one).
    Instructor {
        settings: Settings,
        db: Option<String>,
    },
}

/// Runs what the command line asks for, up to the point where an interactive view takes over.
pub async fn run(cli: Cli) -> Result<Next> {
    let Some(command) = cli.command else {
        return prepare_app(&cli.app).await.map(Next::App);
    };
    match command {
        Command::Up(flags) => cluster::up(&flags).await,
        Command::Down { name, keep_data } => cluster::down(&name, keep_data).await,
        Command::Reset { name } => cluster::reset(&name).await,
        Command::Status {
            name,
            json,
            watch,
            rate,
            no_repair,
        } => status::status(&name, json, watch, rate, !no_repair).await,
        Command::ServedBy {
            name,
            connections,
            json,
        } => status::served_by(&name, connections, json).await,
        Command::Scale { replicas, name } => cluster::scale(&name, replicas).await,
        Command::Node {
            op,
            node,
            force,
            name,
        } => cluster::node_op(&name, op, &node, force).await,
        Command::Doctor => doctor::run().await,
        Command::Lessons { command } => lessons::run(command).await,
        Command::Classroom { command, db } => return classroom::run(command, db).await,
    }
    .map(|()| Next::Done)
}

/// The app needs a terminal; scripts use the commands. A learner joining a class as the app
/// opens joins before the terminal is taken, so a refusal is a plain message.
async fn prepare_app(flags: &AppFlags) -> Result<Settings> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Error::new(
            "the interactive app needs a terminal: run it in one, or use the commands (replica-lab --help)",
        ));
    }
    let settings = load_settings(flags)?;
    if let (Some(code), Some(hub)) = (&flags.class.join, &flags.class.hub) {
        classroom::join_for_app(&settings, hub, code, flags.class.allow_drills).await?;
    }
    Ok(settings)
}

/// Said once the app has closed.
pub fn after_app(settings: &Settings, came_up: bool) -> Result<()> {
    if came_up {
        out::outln!(
            "cluster {} keeps running: `replica-lab status` shows it, `replica-lab down` removes it",
            settings.name
        )?;
    }
    Ok(())
}

pub fn print_progress(p: Progress) {
    let mut err = std::io::stderr().lock();
    let _ = match p {
        Progress::Phase { name, took } => {
            writeln!(err, "  {name:<40} {:>7.2} s", took.as_secs_f64())
        }
        Progress::Note(text) => writeln!(err, "  {text}"),
    };
}

/// Progress printed on stderr, where it never mixes with a command's output.
pub fn report_to_stderr() -> Report {
    Arc::new(print_progress)
}
