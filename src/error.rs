//! The crate's error: one line that names the cause and, where one is known, the fix.
//!
//! Layers with failures worth matching on keep their own types (`AdminError`, `HubError`,
//! `LessonError`, …) and convert into this one where they meet the commands and the app.

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub message: String,
    /// Standard output went away under a command (`| head`): nothing is wrong, and the
    /// command ends quietly.
    stdout_closed: bool,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
            stdout_closed: false,
        }
    }

    /// The reader of standard output stopped reading: the command stops writing and ends
    /// with success, as when its output was read to the end.
    pub fn stdout_closed() -> Self {
        Error {
            message: "standard output is closed".into(),
            stdout_closed: true,
        }
    }

    pub fn is_stdout_closed(&self) -> bool {
        self.stdout_closed
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
