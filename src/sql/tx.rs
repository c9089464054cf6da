//! The transaction status `ReadyForQuery` reports, which tokio-postgres keeps to itself,
//! tracked over BEGIN/COMMIT/ROLLBACK keywords and errors (see [`tx_after`]).

use super::statements::Statement;
use super::{SqlError, TxState};

/// What a statement does to the transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxEffect {
    None,
    /// BEGIN, START TRANSACTION.
    Begin,
    /// COMMIT, END.
    Commit,
    /// ROLLBACK, ABORT.
    Rollback,
    /// COMMIT AND CHAIN, ROLLBACK AND CHAIN: ends the transaction and starts the next one.
    Chain,
    /// ROLLBACK TO [SAVEPOINT] name: undoes the error, the transaction goes on.
    RollbackToSavepoint,
    /// PREPARE TRANSACTION: the transaction leaves the session.
    PrepareTransaction,
}

pub fn tx_effect(statement: &Statement<'_>) -> TxEffect {
    let w = |i: usize| statement.words.get(i).map(String::as_str);
    let chained = statement
        .words
        .windows(2)
        .any(|p| p[0] == "AND" && p[1] == "CHAIN");
    match w(0) {
        Some("BEGIN") => TxEffect::Begin,
        Some("START") if w(1) == Some("TRANSACTION") => TxEffect::Begin,
        Some("COMMIT" | "END") if w(1) == Some("PREPARED") => TxEffect::None,
        Some("COMMIT" | "END") if chained => TxEffect::Chain,
        Some("COMMIT" | "END") => TxEffect::Commit,
        Some("ROLLBACK" | "ABORT") if w(1) == Some("PREPARED") => TxEffect::None,
        Some("ROLLBACK" | "ABORT") if w(1) == Some("TO") => TxEffect::RollbackToSavepoint,
        Some("ROLLBACK" | "ABORT") if chained => TxEffect::Chain,
        Some("ROLLBACK" | "ABORT") => TxEffect::Rollback,
        Some("PREPARE") if w(1) == Some("TRANSACTION") => TxEffect::PrepareTransaction,
        _ => TxEffect::None,
    }
}

/// The state after `statement` completed without error.
pub fn tx_step(before: TxState, statement: &Statement<'_>) -> TxState {
    match tx_effect(statement) {
        TxEffect::None => before,
        TxEffect::Begin => TxState::InTransaction,
        TxEffect::Commit | TxEffect::Rollback | TxEffect::PrepareTransaction => TxState::Idle,
        // AND CHAIN outside a transaction is an error, so this ran inside one.
        TxEffect::Chain | TxEffect::RollbackToSavepoint => TxState::InTransaction,
    }
}

/// The state after `failed` (the statement that got the error, when known) failed.
/// `nothing_ran`: no statement of the text completed, so the error may come from parsing the
/// whole text, before any statement ran.
pub fn tx_step_error(
    before: TxState,
    failed: Option<&Statement<'_>>,
    sqlstate: Option<&str>,
    nothing_ran: bool,
) -> TxState {
    // The server parses the whole text first: a syntax error means no statement ran, not even
    // a COMMIT at the start.
    let parse_error = nothing_ran && sqlstate == Some("42601");
    let ended = !parse_error
        && failed.is_some_and(|s| {
            matches!(
                tx_effect(s),
                TxEffect::Commit | TxEffect::PrepareTransaction
            )
        });
    match before {
        // A COMMIT that fails (deferred constraint, serialization failure) still ends the
        // transaction, rolled back.
        _ if ended => TxState::Idle,
        // Outside a transaction block, the failed statements roll back on their own.
        TxState::Idle => TxState::Idle,
        TxState::InTransaction | TxState::Failed => TxState::Failed,
    }
}

/// The state after a run over `statements` in which the first `completed` succeeded and, with
/// `error`, the next one failed.
pub fn tx_after(
    before: TxState,
    statements: &[Statement<'_>],
    completed: usize,
    error: Option<&SqlError>,
) -> TxState {
    let after = statements
        .iter()
        .take(completed)
        .fold(before, |tx, s| tx_step(tx, s));
    match error {
        None => after,
        Some(e) => tx_step_error(
            after,
            statements.get(completed),
            e.sqlstate.as_deref(),
            completed == 0,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::statements::split_statements;

    fn after(before: TxState, script: &str, completed: usize, sqlstate: Option<&str>) -> TxState {
        let statements = split_statements(script);
        let error = sqlstate.map(|code| SqlError {
            sqlstate: Some(code.into()),
            severity: Some("ERROR".into()),
            message: "boom".into(),
            detail: None,
            hint: None,
            position: None,
        });
        tx_after(before, &statements, completed, error.as_ref())
    }

    #[test]
    fn transaction_keywords_move_the_state() {
        use TxState::*;
        assert_eq!(after(Idle, "BEGIN", 1, None), InTransaction);
        assert_eq!(
            after(Idle, "start transaction read only", 1, None),
            InTransaction
        );
        assert_eq!(after(InTransaction, "SELECT 1", 1, None), InTransaction);
        assert_eq!(after(InTransaction, "COMMIT", 1, None), Idle);
        assert_eq!(after(InTransaction, "end", 1, None), Idle);
        assert_eq!(after(InTransaction, "ABORT", 1, None), Idle);
        assert_eq!(
            after(InTransaction, "COMMIT AND CHAIN", 1, None),
            InTransaction
        );
        assert_eq!(after(InTransaction, "COMMIT AND NO CHAIN", 1, None), Idle);
        assert_eq!(
            after(InTransaction, "PREPARE TRANSACTION 'x'", 1, None),
            Idle
        );
        assert_eq!(after(Idle, "COMMIT PREPARED 'x'", 1, None), Idle);
        assert_eq!(
            after(Idle, "BEGIN; INSERT INTO t VALUES (1); COMMIT", 3, None),
            Idle
        );
        assert_eq!(
            after(Idle, "BEGIN; INSERT INTO t VALUES (1)", 2, None),
            InTransaction
        );
        // An identifier that looks like a keyword is not one.
        assert_eq!(after(Idle, "SELECT 1 AS \"BEGIN\"", 1, None), Idle);
    }

    #[test]
    fn errors_fail_a_transaction_until_rollback() {
        use TxState::*;
        assert_eq!(after(InTransaction, "SELECT 1/0", 0, Some("22012")), Failed);
        assert_eq!(after(Idle, "BEGIN; SELECT 1/0", 1, Some("22012")), Failed);
        assert_eq!(after(Failed, "SELECT 1", 0, Some("25P02")), Failed);
        assert_eq!(after(Failed, "ROLLBACK", 1, None), Idle);
        assert_eq!(after(Failed, "COMMIT", 1, None), Idle);
        assert_eq!(
            after(Failed, "ROLLBACK TO SAVEPOINT s", 1, None),
            InTransaction
        );
        assert_eq!(after(Failed, "rollback to s", 1, None), InTransaction);
        // Outside a transaction block the failed statements roll back on their own.
        assert_eq!(after(Idle, "SELECT 1/0", 0, Some("22012")), Idle);
        assert_eq!(
            after(
                Idle,
                "INSERT INTO t VALUES (1); SELECT 1/0; BEGIN",
                1,
                Some("22012")
            ),
            Idle
        );
        // A failing COMMIT still ends the transaction.
        assert_eq!(after(InTransaction, "COMMIT", 0, Some("23505")), Idle);
        // A syntax error anywhere means nothing ran, not even the COMMIT before it.
        assert_eq!(
            after(InTransaction, "COMMIT; SELEC", 0, Some("42601")),
            Failed
        );
        assert_eq!(after(Idle, "BEGIN; SELEC", 0, Some("42601")), Idle);
    }
}
