//! Running a text's statements on a connection and streaming their results out: one
//! `Result` event per statement, a preview of long results while they arrive, the command
//! tags and transaction state rebuilt from the statements, and what a failure leaves behind.

use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio_postgres::SimpleQueryMessage;

use super::connection::Conn;
use super::{Actor, Gone, PREVIEW_ROWS, Running, Statement, command_tag, tx_step, tx_step_error};
use crate::sql::errors::run_error;
use crate::sql::{ResultSet, SqlError, SqlEvent, TxState};

/// How a run's statements went.
pub(super) struct Outcome {
    pub(super) elapsed: Duration,
    pub(super) tx: TxState,
    pub(super) error: Option<SqlError>,
    /// The connection cannot be used any more.
    pub(super) broken: bool,
}

impl Actor {
    /// Sends the text and streams its results out, one `Result` per statement.
    pub(super) async fn statements(
        &self,
        id: u64,
        conn: &Conn,
        text: &str,
        statements: &[Statement<'_>],
        tx_before: TxState,
    ) -> Result<Outcome, Gone> {
        *self.shared.running() = Some(Running {
            id,
            token: conn.client.cancel_token(),
        });
        let outcome = self.stream(id, conn, text, statements, tx_before).await;
        *self.shared.running() = None;
        outcome
    }

    async fn stream(
        &self,
        id: u64,
        conn: &Conn,
        text: &str,
        statements: &[Statement<'_>],
        mut tx: TxState,
    ) -> Result<Outcome, Gone> {
        self.send(SqlEvent::Started {
            id,
            target: conn.endpoint.target.clone(),
        })
        .await?;
        let started = Instant::now();
        let mut completed = 0usize;
        let mut failure = None;
        // Whether the protocol may be out of step after a failure that is not the server's.
        let mut streaming = false;
        match conn.client.simple_query_raw(text).await {
            Err(e) => failure = Some(e),
            Ok(stream) => {
                streaming = true;
                let mut stream = std::pin::pin!(stream);
                let mut current: Option<ResultSet> = None;
                while let Some(message) = stream.next().await {
                    match message {
                        Ok(SimpleQueryMessage::RowDescription(columns)) => {
                            current = Some(ResultSet {
                                columns: columns.iter().map(|c| c.name().to_owned()).collect(),
                                rows: Vec::new(),
                                total_rows: 0,
                                tag: None,
                            });
                        }
                        Ok(SimpleQueryMessage::Row(row)) => {
                            let result = current.get_or_insert_with(empty_result);
                            result.total_rows += 1;
                            if result.rows.len() < self.config.row_cap {
                                result.rows.push(
                                    (0..row.len())
                                        .map(|i| row.try_get(i).ok().flatten().map(str::to_owned))
                                        .collect(),
                                );
                                // A screenful, then the full cap: the learner reads while the
                                // rest of a long result streams past.
                                let kept = result.rows.len();
                                if kept == PREVIEW_ROWS.min(self.config.row_cap)
                                    || kept == self.config.row_cap
                                {
                                    let result = result.clone();
                                    self.send(SqlEvent::Preview { id, result }).await?;
                                }
                            }
                        }
                        Ok(SimpleQueryMessage::CommandComplete(rows)) => {
                            let mut result = current.take().unwrap_or_else(empty_result);
                            // Text with no statement at all (blanks, comments) gets an empty
                            // response: nothing to show, as in psql.
                            if statements.is_empty() {
                                continue;
                            }
                            let statement = statements.get(completed);
                            result.tag = statement.and_then(|s| command_tag(s, rows, tx));
                            if let Some(s) = statement {
                                tx = tx_step(tx, s);
                            }
                            completed += 1;
                            self.send(SqlEvent::Result { id, result }).await?;
                        }
                        Ok(_) => {}
                        Err(e) => {
                            failure = Some(e);
                            break;
                        }
                    }
                }
            }
        }
        let elapsed = started.elapsed();
        let Some(failure) = failure else {
            return Ok(Outcome {
                elapsed,
                tx,
                error: None,
                broken: false,
            });
        };
        let closed = conn.client.is_closed();
        let error = run_error(&conn.endpoint, conn.ended(), &failure, closed);
        // FATAL and PANIC end the session (`parsed_severity` is the untranslated one).
        let fatal = failure.as_db_error().is_some_and(|db| {
            use tokio_postgres::error::Severity;
            db.parsed_severity().map_or_else(
                || matches!(db.severity(), "FATAL" | "PANIC"),
                |s| matches!(s, Severity::Fatal | Severity::Panic),
            )
        });
        let broken = (failure.as_db_error().is_none() && streaming) || fatal || closed;
        let tx = if broken {
            TxState::Idle
        } else {
            tx_step_error(
                tx,
                statements.get(completed),
                error.sqlstate.as_deref(),
                completed == 0,
            )
        };
        Ok(Outcome {
            elapsed,
            tx,
            error: Some(error),
            broken,
        })
    }
}

fn empty_result() -> ResultSet {
    ResultSet {
        columns: Vec::new(),
        rows: Vec::new(),
        total_rows: 0,
        tag: None,
    }
}
