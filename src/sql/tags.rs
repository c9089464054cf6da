//! Command tags: `SimpleQueryMessage::CommandComplete` carries only the row count, so
//! [`command_tag`] rebuilds `INSERT 0 3`, `CREATE TABLE`… from the statement and that count.

use super::TxState;
use super::statements::Statement;

/// The command tag the server sent for `statement`, rebuilt from its words and the row count
/// tokio-postgres keeps (`SELECT 3`, `INSERT 0 1`, `CREATE TABLE`, `ROLLBACK` for a COMMIT of
/// a failed transaction). `None` where the text does not tell (`EXECUTE` of a prepared
/// statement).
pub fn command_tag(statement: &Statement<'_>, rows: u64, tx_before: TxState) -> Option<String> {
    if statement.starts_with_paren {
        return Some(format!("SELECT {rows}"));
    }
    let words = &statement.words;
    let w = |i: usize| words.get(i).map(String::as_str);
    let has = |word: &str| words.iter().any(|x| x == word);
    let no_data = words.windows(2).any(|p| p[0] == "NO" && p[1] == "DATA");
    let first = w(0)?;
    let tag = match first {
        "SELECT" | "VALUES" | "TABLE" => format!("SELECT {rows}"),
        "WITH" => {
            let verb = words[1..].iter().map(String::as_str).find(|x| {
                matches!(
                    *x,
                    "SELECT" | "INSERT" | "UPDATE" | "DELETE" | "MERGE" | "VALUES" | "TABLE"
                )
            });
            match verb {
                Some("INSERT") => format!("INSERT 0 {rows}"),
                Some(v @ ("UPDATE" | "DELETE" | "MERGE")) => format!("{v} {rows}"),
                _ => format!("SELECT {rows}"),
            }
        }
        "INSERT" => format!("INSERT 0 {rows}"),
        "UPDATE" | "DELETE" | "MERGE" | "FETCH" | "MOVE" | "COPY" => format!("{first} {rows}"),
        "BEGIN" => "BEGIN".into(),
        "START" => "START TRANSACTION".into(),
        "COMMIT" | "END" if w(1) == Some("PREPARED") => "COMMIT PREPARED".into(),
        // COMMIT of a failed transaction rolls it back, and says so.
        "COMMIT" | "END" if tx_before == TxState::Failed => "ROLLBACK".into(),
        "COMMIT" | "END" => "COMMIT".into(),
        "ROLLBACK" | "ABORT" if w(1) == Some("PREPARED") => "ROLLBACK PREPARED".into(),
        "ROLLBACK" | "ABORT" => "ROLLBACK".into(),
        "PREPARE" if w(1) == Some("TRANSACTION") => "PREPARE TRANSACTION".into(),
        "CREATE" => {
            let object = object_type(&words[1..]);
            let ctas = object == "TABLE" && has("AS");
            match object.as_str() {
                "TABLE" if ctas && no_data => "CREATE TABLE AS".into(),
                "MATERIALIZED VIEW" if no_data => "CREATE MATERIALIZED VIEW".into(),
                "TABLE" if ctas => format!("SELECT {rows}"),
                "MATERIALIZED VIEW" => format!("SELECT {rows}"),
                _ => format!("CREATE {object}"),
            }
        }
        "ALTER" | "DROP" => format!("{first} {}", object_type(&words[1..])),
        "GRANT" | "REVOKE" if !has("ON") => format!("{first} ROLE"),
        "TRUNCATE" => "TRUNCATE TABLE".into(),
        "LOCK" => "LOCK TABLE".into(),
        "DECLARE" => "DECLARE CURSOR".into(),
        "CLOSE" if w(1) == Some("ALL") => "CLOSE CURSOR ALL".into(),
        "CLOSE" => "CLOSE CURSOR".into(),
        "DISCARD" => match w(1) {
            Some("TEMPORARY") => "DISCARD TEMP".into(),
            Some(what) => format!("DISCARD {what}"),
            None => "DISCARD".into(),
        },
        "DEALLOCATE" if has("ALL") => "DEALLOCATE ALL".into(),
        "SET" if w(1) == Some("CONSTRAINTS") => "SET CONSTRAINTS".into(),
        "REFRESH" => "REFRESH MATERIALIZED VIEW".into(),
        "SECURITY" => "SECURITY LABEL".into(),
        "IMPORT" => "IMPORT FOREIGN SCHEMA".into(),
        "REASSIGN" => "REASSIGN OWNED".into(),
        "ANALYSE" => "ANALYZE".into(),
        // The tag of the prepared statement it runs.
        "EXECUTE" => return None,
        _ => first.to_owned(),
    };
    Some(tag)
}

/// The object type a CREATE/ALTER/DROP names, as its command tag spells it
/// (`OR REPLACE TEMP VIEW v` → `VIEW`, `USER u` → `ROLE`).
fn object_type(words: &[String]) -> String {
    let mut rest: Vec<&str> = words.iter().map(String::as_str).collect();
    while let Some(first) = rest.first() {
        let modifier = matches!(
            *first,
            "OR" | "REPLACE"
                | "TEMP"
                | "TEMPORARY"
                | "UNLOGGED"
                | "UNIQUE"
                | "GLOBAL"
                | "LOCAL"
                | "RECURSIVE"
                | "TRUSTED"
                | "PROCEDURAL"
                | "CONSTRAINT"
        ) || (*first == "DEFAULT" && rest.get(1) == Some(&"CONVERSION"));
        if !modifier {
            break;
        }
        rest.remove(0);
    }
    let two = |a: &str, b: &str| rest.first() == Some(&a) && rest.get(1) == Some(&b);
    if two("FOREIGN", "DATA") {
        "FOREIGN DATA WRAPPER".to_owned()
    } else if two("TEXT", "SEARCH") {
        match rest.get(2) {
            Some(kind) => format!("TEXT SEARCH {kind}"),
            None => "TEXT SEARCH".to_owned(),
        }
    } else if [
        ("MATERIALIZED", "VIEW"),
        ("FOREIGN", "TABLE"),
        ("USER", "MAPPING"),
        ("EVENT", "TRIGGER"),
        ("OPERATOR", "CLASS"),
        ("OPERATOR", "FAMILY"),
        ("ACCESS", "METHOD"),
        ("DEFAULT", "PRIVILEGES"),
        ("LARGE", "OBJECT"),
    ]
    .iter()
    .any(|(a, b)| two(a, b))
    {
        format!("{} {}", rest[0], rest[1])
    } else {
        match rest.first() {
            Some(&("USER" | "GROUP")) => "ROLE".to_owned(),
            Some(word) => (*word).to_owned(),
            None => String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sql::statements::split_statements;

    fn tag(statement: &str, rows: u64) -> Option<String> {
        let statements = split_statements(statement);
        assert_eq!(statements.len(), 1, "{statement}");
        command_tag(&statements[0], rows, TxState::InTransaction)
    }

    #[test]
    fn command_tags_match_what_the_server_sends() {
        // Each pair checked against PostgreSQL 15 through psql.
        let cases: &[(&str, u64, &str)] = &[
            ("SELECT 1", 1, "SELECT 1"),
            ("values (1), (2)", 2, "SELECT 2"),
            ("TABLE t", 0, "SELECT 0"),
            ("(SELECT 1)", 1, "SELECT 1"),
            ("SELECT 1 INTO t4", 1, "SELECT 1"),
            ("INSERT INTO t VALUES (1),(2)", 2, "INSERT 0 2"),
            ("INSERT INTO t VALUES (1) RETURNING a", 1, "INSERT 0 1"),
            ("UPDATE t SET a = a", 0, "UPDATE 0"),
            ("DELETE FROM t WHERE a = 1", 3, "DELETE 3"),
            (
                "WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x",
                1,
                "INSERT 0 1",
            ),
            (
                "WITH x AS (UPDATE t SET a = 5 RETURNING a) SELECT * FROM x",
                2,
                "SELECT 2",
            ),
            ("WITH x AS (SELECT 1) DELETE FROM t", 2, "DELETE 2"),
            (
                "MERGE INTO t USING s ON t.a = s.a WHEN NOT MATCHED THEN DO NOTHING",
                0,
                "MERGE 0",
            ),
            ("CREATE TABLE t (a int)", 0, "CREATE TABLE"),
            (
                "CREATE TABLE wz (a int) WITH (fillfactor=50)",
                0,
                "CREATE TABLE",
            ),
            ("CREATE TABLE t2 AS SELECT 1 AS x", 1, "SELECT 1"),
            ("CREATE TABLE t3 (x) AS VALUES (1),(2)", 2, "SELECT 2"),
            (
                "CREATE TABLE nd AS SELECT 1 WITH NO DATA",
                0,
                "CREATE TABLE AS",
            ),
            ("CREATE MATERIALIZED VIEW mv AS SELECT 1", 1, "SELECT 1"),
            (
                "CREATE MATERIALIZED VIEW mv2 AS SELECT 1 WITH NO DATA",
                0,
                "CREATE MATERIALIZED VIEW",
            ),
            (
                "REFRESH MATERIALIZED VIEW mv",
                0,
                "REFRESH MATERIALIZED VIEW",
            ),
            ("CREATE UNIQUE INDEX i ON t(a)", 0, "CREATE INDEX"),
            (
                "CREATE OR REPLACE TEMP VIEW v AS SELECT 1",
                0,
                "CREATE VIEW",
            ),
            ("CREATE RECURSIVE VIEW rv(n) AS SELECT 1", 0, "CREATE VIEW"),
            ("CREATE UNLOGGED TABLE ut(a int)", 0, "CREATE TABLE"),
            (
                "CREATE OR REPLACE FUNCTION f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
                0,
                "CREATE FUNCTION",
            ),
            ("CREATE USER u", 0, "CREATE ROLE"),
            ("CREATE GROUP g", 0, "CREATE ROLE"),
            (
                "CREATE CONSTRAINT TRIGGER c AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
                0,
                "CREATE TRIGGER",
            ),
            ("CREATE TRUSTED LANGUAGE ly HANDLER h", 0, "CREATE LANGUAGE"),
            (
                "CREATE FOREIGN DATA WRAPPER w",
                0,
                "CREATE FOREIGN DATA WRAPPER",
            ),
            (
                "CREATE USER MAPPING FOR u SERVER srv",
                0,
                "CREATE USER MAPPING",
            ),
            (
                "CREATE FOREIGN TABLE ft (a int) SERVER srv",
                0,
                "CREATE FOREIGN TABLE",
            ),
            (
                "CREATE TEXT SEARCH CONFIGURATION tsc (COPY = english)",
                0,
                "CREATE TEXT SEARCH CONFIGURATION",
            ),
            (
                "CREATE OPERATOR CLASS oc FOR TYPE int USING btree AS OPERATOR 1 <",
                0,
                "CREATE OPERATOR CLASS",
            ),
            (
                "CREATE ACCESS METHOD am TYPE TABLE HANDLER h",
                0,
                "CREATE ACCESS METHOD",
            ),
            ("ALTER TABLE t ADD COLUMN b int", 0, "ALTER TABLE"),
            ("ALTER USER u NOLOGIN", 0, "ALTER ROLE"),
            ("ALTER SYSTEM SET work_mem = '4MB'", 0, "ALTER SYSTEM"),
            (
                "ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO r",
                0,
                "ALTER DEFAULT PRIVILEGES",
            ),
            (
                "ALTER MATERIALIZED VIEW mv RENAME TO mv3",
                0,
                "ALTER MATERIALIZED VIEW",
            ),
            ("DROP TABLE IF EXISTS t4", 0, "DROP TABLE"),
            ("DROP OWNED BY g", 0, "DROP OWNED"),
            ("GRANT SELECT ON t TO r", 0, "GRANT"),
            ("GRANT r TO u", 0, "GRANT ROLE"),
            ("REVOKE r FROM u", 0, "REVOKE ROLE"),
            ("TRUNCATE t", 0, "TRUNCATE TABLE"),
            ("BEGIN", 0, "BEGIN"),
            ("START TRANSACTION", 0, "START TRANSACTION"),
            ("END", 0, "COMMIT"),
            ("ABORT", 0, "ROLLBACK"),
            ("ROLLBACK TO sp2", 0, "ROLLBACK"),
            ("SAVEPOINT sp", 0, "SAVEPOINT"),
            ("RELEASE sp", 0, "RELEASE"),
            ("LOCK t", 0, "LOCK TABLE"),
            ("DECLARE c CURSOR FOR SELECT 1", 0, "DECLARE CURSOR"),
            ("FETCH 2 FROM c", 2, "FETCH 2"),
            ("MOVE c", 1, "MOVE 1"),
            ("CLOSE c", 0, "CLOSE CURSOR"),
            ("CLOSE ALL", 0, "CLOSE CURSOR ALL"),
            ("SET CONSTRAINTS ALL DEFERRED", 0, "SET CONSTRAINTS"),
            ("SET TRANSACTION ISOLATION LEVEL READ COMMITTED", 0, "SET"),
            ("set work_mem = '8MB'", 0, "SET"),
            ("RESET work_mem", 0, "RESET"),
            ("DISCARD TEMPORARY", 0, "DISCARD TEMP"),
            ("DISCARD ALL", 0, "DISCARD ALL"),
            ("PREPARE p AS SELECT 1", 0, "PREPARE"),
            ("DEALLOCATE p", 0, "DEALLOCATE"),
            ("DEALLOCATE ALL", 0, "DEALLOCATE ALL"),
            ("ANALYSE t", 0, "ANALYZE"),
            ("VACUUM t", 0, "VACUUM"),
            ("CHECKPOINT", 0, "CHECKPOINT"),
            ("NOTIFY ch", 0, "NOTIFY"),
            ("DO $$ BEGIN END $$", 0, "DO"),
            ("COMMENT ON TABLE t IS 'x'", 0, "COMMENT"),
            ("REASSIGN OWNED BY g TO postgres", 0, "REASSIGN OWNED"),
            ("COPY t TO '/tmp/x'", 1, "COPY 1"),
            ("CALL pr()", 0, "CALL"),
            ("SHOW work_mem", 1, "SHOW"),
            ("EXPLAIN SELECT 1", 1, "EXPLAIN"),
        ];
        for (statement, rows, expected) in cases {
            assert_eq!(
                tag(statement, *rows).as_deref(),
                Some(*expected),
                "{statement}"
            );
        }
        assert_eq!(tag("EXECUTE q", 1), None);
    }

    #[test]
    fn commit_of_a_failed_transaction_is_tagged_rollback() {
        let s = &split_statements("COMMIT")[0];
        assert_eq!(
            command_tag(s, 0, TxState::Failed).as_deref(),
            Some("ROLLBACK")
        );
        assert_eq!(
            command_tag(s, 0, TxState::InTransaction).as_deref(),
            Some("COMMIT")
        );
    }
}
