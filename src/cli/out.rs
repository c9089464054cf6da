//! Everything the commands print goes through here. A reader that stops reading (`| head`)
//! closes the pipe: a write to stdout then fails with [`Error::stdout_closed`], which ends the
//! command quietly with success (`main` reports nothing for it), instead of the panic `println!`
//! gives. Messages for people on stderr are best effort: when stderr is gone there is nobody
//! to tell.

use std::fmt;
use std::io::{self, Write};

use crate::error::{Error, Result};

/// One line on stdout: `outln!("{n} lessons")?`.
macro_rules! outln {
    ($($arg:tt)*) => {
        $crate::cli::out::line(format_args!($($arg)*))
    };
}

/// One line on stderr, never failing: `errln!("warning: {e}")`.
macro_rules! errln {
    ($($arg:tt)*) => {
        $crate::cli::out::err_line(format_args!($($arg)*))
    };
}

pub(crate) use {errln, outln};

/// Writes `args` and a newline to stdout, and flushes, so a closed pipe is seen at once.
pub fn line(args: fmt::Arguments<'_>) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_fmt(args)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
        .map_err(write_error)
}

/// Writes `text` as it is to stdout, and flushes.
pub fn text(text: &str) -> Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(write_error)
}

/// Writes `args` and a newline to stderr; a failure is dropped.
pub fn err_line(args: fmt::Arguments<'_>) {
    let mut err = io::stderr().lock();
    let _ = err.write_fmt(args).and_then(|()| err.write_all(b"\n"));
}

/// Writes `text` as it is to stderr (a progress bar redrawn in place); a failure is dropped.
pub fn err_text(text: &str) {
    let mut err = io::stderr().lock();
    let _ = err.write_all(text.as_bytes()).and_then(|()| err.flush());
}

/// A closed pipe is the reader's choice; anything else (a full disk) is reported.
pub fn write_error(e: io::Error) -> Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        Error::stdout_closed()
    } else {
        Error::new(format!("cannot write to standard output: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_broken_pipe_is_quiet_and_other_failures_are_not() {
        let closed = write_error(io::Error::from(io::ErrorKind::BrokenPipe));
        assert!(closed.is_stdout_closed());
        let full = write_error(io::Error::other("no space left on device"));
        assert!(!full.is_stdout_closed());
        assert_eq!(
            full.to_string(),
            "cannot write to standard output: no space left on device"
        );
    }
}
