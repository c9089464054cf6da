//! Whether a lesson's SQL parses, judged by PostgreSQL's own parser (libpg_query, through the
//! `pg_query` crate), and where the first error is. Only the grammar is checked: whether the
//! tables exist is for `lessons verify`, on a live cluster.

use super::template::{self, Vars};
use crate::settings::{MAX_NODES, Settings};

/// The first thing PostgreSQL's parser refuses in a text of SQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset in the text of the token the parser stopped at.
    pub at: usize,
    /// The parser's own message (`syntax error at or near "FORM"`).
    pub message: String,
}

/// Values for every placeholder, as on a default cluster, so SQL with `{{user}}` in it can
/// be parsed before any cluster exists.
pub fn sample_vars() -> Vars {
    let settings = Settings::default();
    let mut v = template::credentials(&settings.credentials());
    v.insert("write".into(), format!("127.0.0.1:{}", settings.write_port));
    v.insert("read".into(), format!("127.0.0.1:{}", settings.read_port));
    for n in 1..=MAX_NODES {
        let addr = std::net::Ipv4Addr::from(u32::from(settings.node_base) + u32::from(n));
        v.insert(format!("pg{n}"), format!("{addr}:{}", settings.node_port));
    }
    v.insert(
        template::REPLICAS.into(),
        super::model::DEFAULT_REPLICAS.to_string(),
    );
    v
}

/// `None` when all of `sql` parses (several statements may), else the first error.
pub fn first_error(sql: &str) -> Option<SyntaxError> {
    if let Some(at) = sql.find('\0') {
        return Some(SyntaxError {
            at,
            message: "SQL cannot hold a NUL character".into(),
        });
    }
    let message = match pg_query::parse(sql, pg_query::ParserOptions::DEFAULT) {
        Ok(_) => return None,
        Err(pg_query::Error::Parse(m)) => m,
        Err(other) => other.to_string(),
    };
    Some(SyntaxError {
        at: locate(sql, &message),
        message,
    })
}

/// Where the parser stopped. libpg_query knows the cursor position but the crate does not pass
/// it on, so it is found again: PostgreSQL's grammar fails at the first token it cannot take,
/// so every prefix of the text that ends before that token parses or merely ends too soon,
/// and every one that holds it fails otherwise. The shortest such prefix ends at the token.
fn locate(sql: &str, message: &str) -> usize {
    let ends_early = |m: &str| m.ends_with("at end of input");
    if ends_early(message) {
        return sql.trim_end().len();
    }
    let Ok(scanned) = pg_query::scan(sql) else {
        // The scanner itself refuses (an unterminated quote): its message quotes the text
        // from where the trouble starts.
        return quoted_fragment(message)
            .and_then(|f| sql.find(f))
            .unwrap_or(0);
    };
    let tokens: Vec<(usize, usize)> = scanned
        .tokens
        .iter()
        .filter_map(|t| Some((usize::try_from(t.start).ok()?, usize::try_from(t.end).ok()?)))
        .filter(|(start, end)| start < end && *end <= sql.len())
        .collect();
    let fails_within = |k: usize| {
        let end = tokens[k].1;
        sql.is_char_boundary(end)
            && match pg_query::parse(&sql[..end], pg_query::ParserOptions::DEFAULT) {
                Ok(_) => false,
                Err(e) => !ends_early(&e.to_string()),
            }
    };
    // The first token whose prefix fails on its own account; the whole text does.
    let (mut low, mut high) = (0, tokens.len());
    while low < high {
        let mid = low + (high - low) / 2;
        if fails_within(mid) {
            high = mid;
        } else {
            low = mid + 1;
        }
    }
    tokens.get(low).map_or(0, |(start, _)| *start)
}

/// `X` in a message that ends `at or near "X"`.
fn quoted_fragment(message: &str) -> Option<&str> {
    let rest = &message[message.find("at or near \"")? + "at or near \"".len()..];
    rest.strip_suffix('"').filter(|f| !f.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_at(sql: &str) -> (usize, String) {
        let e = first_error(sql).unwrap_or_else(|| panic!("{sql:?} parsed"));
        (e.at, e.message)
    }

    #[test]
    fn good_sql_parses_whatever_its_shape() {
        for sql in [
            "SELECT 1",
            "SELECT 1; SELECT 2;",
            "CREATE TABLE t (id int PRIMARY KEY, v text);\nINSERT INTO t VALUES (1, 'a')",
            "-- a comment\nSELECT pg_is_in_recovery()",
            "DO $$ BEGIN PERFORM 1; END $$",
            "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END",
            "SELECT pg_wal_replay_pause(); CHECKPOINT; VACUUM t",
            "",
        ] {
            assert_eq!(first_error(sql), None, "{sql}");
        }
    }

    #[test]
    fn the_error_points_at_the_token_the_parser_stopped_at() {
        let sql = "SELECT 1;\nSELECT count(*)\nFROM t\nWHERE id IN (1,, 2);\nSELECT 3";
        let (at, message) = error_at(sql);
        assert_eq!(message, "syntax error at or near \",\"");
        assert!(sql[at..].starts_with(", 2)"), "{}", &sql[at..]);

        let (at, message) = error_at("SELEC 1");
        assert_eq!(
            (at, message.as_str()),
            (0, "syntax error at or near \"SELEC\"")
        );

        // `t` twice: the second is the one after the missing comma.
        let sql = "SELECT t FROM t t t";
        let (at, _) = error_at(sql);
        assert_eq!(at, sql.len() - 1, "{sql}");
    }

    #[test]
    fn a_text_that_stops_short_points_at_its_end() {
        let sql = "SELECT * FROM  \n";
        let (at, message) = error_at(sql);
        assert_eq!(message, "syntax error at end of input");
        assert_eq!(at, "SELECT * FROM".len());
    }

    #[test]
    fn an_unterminated_quote_points_where_it_opens() {
        let sql = "SELECT 1;\nSELECT 'open";
        let (at, message) = error_at(sql);
        assert!(
            message.starts_with("unterminated quoted string"),
            "{message}"
        );
        assert_eq!(&sql[at..], "'open");
    }

    #[test]
    fn a_nul_character_is_named() {
        let (at, message) = error_at("SELECT 1\0");
        assert_eq!(
            (at, message.as_str()),
            (8, "SQL cannot hold a NUL character")
        );
    }

    #[test]
    fn sample_values_fill_every_placeholder() {
        let vars = sample_vars();
        for name in [
            "write", "read", "user", "password", "database", "pg1", "pg10", "replicas",
        ] {
            assert!(vars.contains_key(name), "{name}");
        }
        assert_eq!(vars["pg1"], "127.0.0.11:5432");
        assert_eq!(vars["write"], "127.0.0.1:5435");
        assert_eq!(
            template::fill("GRANT SELECT ON t TO {{user}}", &vars),
            "GRANT SELECT ON t TO myuser"
        );
    }
}
