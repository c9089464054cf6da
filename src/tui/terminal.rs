//! Taking the terminal and giving it back, on every way out: both front-end screens (the
//! learner's app and the instructor's view) go through here.

use std::io::{Write, stdout};
use std::path::PathBuf;

use crossterm::event::{DisableMouseCapture, EnableMouseCapture};

/// Whether the screen asks the terminal for mouse events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mouse {
    Captured,
    Ignored,
}

/// A screen needs a terminal on both stdin and stdout (not a pipe, a cron job, `ssh` without
/// `-t`); `instead` names what prints without one.
pub fn require(instead: &str) -> crate::error::Result<()> {
    use std::io::IsTerminal as _;
    let missing = if !std::io::stdin().is_terminal() {
        "stdin"
    } else if !stdout().is_terminal() {
        "stdout"
    } else {
        return Ok(());
    };
    Err(refusal(&format!("{missing} is not one"), instead))
}

fn refusal(why: &str, instead: &str) -> crate::error::Error {
    crate::error::Error::new(format!(
        "this screen needs a terminal, and {why}: run it in one (with ssh, `ssh -t`), or use \
         {instead}, which prints"
    ))
}

/// Raw mode and the alternate screen, with mouse events when asked for; without a terminal
/// (see [`require`]) it says so and leaves everything as it was.
pub fn enter(mouse: Mouse, instead: &str) -> crate::error::Result<ratatui::DefaultTerminal> {
    require(instead)?;
    let terminal = ratatui::try_init().map_err(|e| {
        ratatui::restore();
        refusal(&format!("it could not be set up ({e})"), instead)
    })?;
    if mouse == Mouse::Captured {
        let _ = crossterm::execute!(stdout(), EnableMouseCapture);
    }
    Ok(terminal)
}

/// The terminal as it was. Turning mouse events off is harmless where they were never on,
/// so one way back serves every screen.
pub fn restore() {
    let _ = crossterm::execute!(stdout(), DisableMouseCapture);
    ratatui::restore();
    let _ = stdout().flush();
}

/// A panic anywhere, on any task, restores the terminal first and ends the program: a screen
/// half torn down by a dead task is worse than a clean exit with the cause, readable.
/// `details` is where the log with more is, when there is one.
pub fn install_panic_hook(details: Option<PathBuf>) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        tracing::error!("panic: {info}");
        previous(info);
        if let Some(path) = &details {
            eprintln!(
                "replica-lab stopped after an internal error; details in {}",
                path.display()
            );
        }
        std::process::exit(101);
    }));
}
