//! The crate's error: one line that names the cause and, where one is known, the fix.
//!
//! Layers with failures worth matching on keep their own types (`AdminError`, `HubError`,
//! `LessonError`, …) and convert into this one where they meet the commands and the app.

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub message: String,
}

impl Error {
    pub fn new(message: impl Into<String>) -> Self {
        Error {
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
