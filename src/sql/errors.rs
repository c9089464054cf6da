//! The errors a run reports: the server's own as psql would show them, and those the client
//! finds (a failed connection, a lost one, text it refuses to send).

use std::error::Error as _;

use super::statements::Statement;
use super::{Endpoint, SqlError};

impl SqlError {
    /// An error the client found, with no SQLSTATE.
    pub(super) fn client(message: String) -> SqlError {
        SqlError {
            sqlstate: None,
            severity: None,
            message,
            detail: None,
            hint: None,
            position: None,
        }
    }
}

/// The error and its causes, as one line.
pub fn chain(error: &tokio_postgres::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The causes of an error, as one line, or the error itself when it has none
/// (`Connection refused (os error 111)` rather than `error connecting to server: …`).
fn causes(error: &tokio_postgres::Error) -> String {
    let Some(first) = error.source() else {
        return error.to_string();
    };
    let mut text = first.to_string();
    let mut source = first.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn from_db(db: &tokio_postgres::error::DbError, message: String) -> SqlError {
    SqlError {
        sqlstate: Some(db.code().code().to_owned()),
        severity: Some(db.severity().to_owned()),
        message,
        detail: db.detail().map(str::to_owned),
        hint: db.hint().map(str::to_owned),
        position: match db.position() {
            Some(tokio_postgres::error::ErrorPosition::Original(p)) => Some(*p),
            _ => None,
        },
    }
}

/// A failure while connecting: the server's own error when it refused us (bad password,
/// starting up…), otherwise what went wrong on the way; both name the endpoint.
pub(super) fn connect_error(endpoint: &Endpoint, error: &tokio_postgres::Error) -> SqlError {
    let prefix = format!("could not connect to {}", endpoint.describe());
    match error.as_db_error() {
        Some(db) => from_db(db, format!("{prefix}: {}", db.message())),
        None => SqlError::client(format!("{prefix}: {}", causes(error))),
    }
}

/// A failure during a run on `endpoint`: the server's error as it is, a lost connection (with
/// `ended`, why it ended when it ended on its own), or what the client could not do.
pub(super) fn run_error(
    endpoint: &Endpoint,
    ended: Option<String>,
    error: &tokio_postgres::Error,
    closed: bool,
) -> SqlError {
    match error.as_db_error() {
        Some(db) => from_db(db, db.message().to_owned()),
        None if closed => SqlError::client(format!(
            "lost the connection to {}: {}",
            endpoint.describe(),
            ended.unwrap_or_else(|| chain(error))
        )),
        None => SqlError::client(format!("{} ({})", chain(error), endpoint.describe())),
    }
}

/// What cannot be sent, refused before anything is: a NUL character (the protocol cannot
/// carry it), and COPY to or from the client, which needs a data stream the console does not
/// have (the server would wait for it forever).
pub(super) fn unsupported(text: &str, statements: &[Statement<'_>]) -> Option<SqlError> {
    if text.contains('\0') {
        return Some(SqlError::client(
            "the text contains a NUL character, which PostgreSQL does not accept".into(),
        ));
    }
    statements.iter().find_map(|s| {
        let copy = s.words.first().is_some_and(|w| w == "COPY")
            && s.words.iter().any(|w| w == "STDIN" || w == "STDOUT");
        copy.then(|| {
            SqlError::client(
                "COPY … FROM STDIN / TO STDOUT needs a client-side data stream, which this console \
                 does not have: copy to or from a file on the server, or use psql's \\copy"
                    .into(),
            )
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::statements::split_statements;

    #[test]
    fn copy_through_the_client_and_nul_are_refused() {
        let refused = |text: &str| unsupported(text, &split_statements(text)).is_some();
        assert!(refused("COPY t FROM STDIN"));
        assert!(refused("SELECT 1; copy t to stdout"));
        assert!(refused("SELECT 'a\0b'"));
        assert!(!refused("COPY t TO '/tmp/t.csv'"));
        assert!(!refused("SELECT 'COPY t FROM STDIN'"));
    }
}
