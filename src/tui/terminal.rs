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

/// Raw mode and the alternate screen, with mouse events when asked for.
pub fn enter(mouse: Mouse) -> ratatui::DefaultTerminal {
    let terminal = ratatui::init();
    if mouse == Mouse::Captured {
        let _ = crossterm::execute!(stdout(), EnableMouseCapture);
    }
    terminal
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
