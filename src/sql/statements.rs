//! Statements of a script: where they end, found with psql's rules (quotes, dollar quotes,
//! nested comments, parentheses, `BEGIN ATOMIC … END` bodies), and what kind of command each
//! one is.

/// One statement of a script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statement<'a> {
    /// The statement's text, trimmed, without its `;`.
    pub text: &'a str,
    /// Bare words outside parentheses, quotes and comments, upper-cased: what kind of command
    /// it is (`["CREATE", "TABLE", "T"]`).
    pub words: Vec<String>,
    /// Starts with `(`: a parenthesized query.
    pub starts_with_paren: bool,
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b >= 0x80
}

fn is_ident_char(b: u8) -> bool {
    is_ident_start(b) || b.is_ascii_digit() || b == b'$'
}

/// The length of a dollar-quote delimiter (`$$`, `$body$`) starting at `at`, if one does.
fn dollar_tag(b: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    if i < b.len() && is_ident_start(b[i]) {
        i += 1;
        while i < b.len() && is_ident_char(b[i]) && b[i] != b'$' {
            i += 1;
        }
    }
    (i < b.len() && b[i] == b'$').then_some(i + 1 - at)
}

fn find(haystack: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    haystack
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Splits a script into statements the way psql does: at `;` outside quotes, dollar quotes,
/// comments and parentheses, and outside the `BEGIN ATOMIC … END` body of a function.
/// Statements that are only blanks or comments are left out, as the server skips them.
pub fn split_statements<'a>(text: &'a str) -> Vec<Statement<'a>> {
    let b = text.as_bytes();
    let n = b.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    let mut depth = 0usize;
    let mut begin_depth = 0usize;
    let mut words: Vec<String> = Vec::new();
    let mut has_token = false;
    let mut starts_with_paren = false;

    let push = |out: &mut Vec<Statement<'a>>,
                from: usize,
                to: usize,
                words: &mut Vec<String>,
                has_token: bool,
                starts_with_paren: bool| {
        let words = std::mem::take(words);
        if has_token {
            out.push(Statement {
                text: text[from..to].trim(),
                words,
                starts_with_paren,
            });
        }
    };

    while i < n {
        let c = b[i];
        let next = b.get(i + 1).copied();
        match c {
            b'-' if next == Some(b'-') => {
                i = find(b, b"\n", i).unwrap_or(n);
            }
            b'/' if next == Some(b'*') => {
                let mut nesting = 0usize;
                while i < n {
                    if b[i] == b'/' && b.get(i + 1) == Some(&b'*') {
                        nesting += 1;
                        i += 2;
                    } else if b[i] == b'*' && b.get(i + 1) == Some(&b'/') {
                        nesting -= 1;
                        i += 2;
                        if nesting == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            b'\'' | b'"' => {
                has_token = true;
                i = skip_quoted(b, i, false);
            }
            b'$' => {
                has_token = true;
                match dollar_tag(b, i) {
                    Some(len) => {
                        let tag = &b[i..i + len];
                        i = find(b, tag, i + len).map_or(n, |end| end + len);
                    }
                    None => i += 1,
                }
            }
            b'(' => {
                if !has_token {
                    starts_with_paren = true;
                }
                has_token = true;
                depth += 1;
                i += 1;
            }
            b')' => {
                has_token = true;
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b';' if depth == 0 && begin_depth == 0 => {
                push(&mut out, start, i, &mut words, has_token, starts_with_paren);
                has_token = false;
                starts_with_paren = false;
                i += 1;
                start = i;
            }
            c if is_ident_start(c) => {
                has_token = true;
                let from = i;
                while i < n && is_ident_char(b[i]) {
                    i += 1;
                }
                let word = text[from..i].to_ascii_uppercase();
                // E'…' takes backslash escapes; B'…', X'…', N'…' are literals too, not words.
                if b.get(i) == Some(&b'\'') && matches!(word.as_str(), "E" | "B" | "X" | "N") {
                    i = skip_quoted(b, i, word == "E");
                    continue;
                }
                if depth == 0 {
                    if is_routine_definition(&words) {
                        match word.as_str() {
                            "BEGIN" => begin_depth += 1,
                            "CASE" if begin_depth > 0 => begin_depth += 1,
                            "END" => begin_depth = begin_depth.saturating_sub(1),
                            _ => {}
                        }
                    }
                    words.push(word);
                }
            }
            c if c.is_ascii_digit() => {
                has_token = true;
                while i < n && (is_ident_char(b[i]) || b[i] == b'.') {
                    i += 1;
                }
            }
            c if c.is_ascii_whitespace() => i += 1,
            _ => {
                has_token = true;
                i += 1;
            }
        }
    }
    push(&mut out, start, n, &mut words, has_token, starts_with_paren);
    out
}

/// Past the quoted string or identifier starting at `at` (`'…'` or `"…"`, the quote doubled
/// inside; with `escapes`, a backslash escapes the next character).
fn skip_quoted(b: &[u8], at: usize, escapes: bool) -> usize {
    let quote = b[at];
    let mut i = at + 1;
    while i < b.len() {
        if escapes && b[i] == b'\\' {
            i += 2;
        } else if b[i] == quote {
            if b.get(i + 1) == Some(&quote) {
                i += 2;
            } else {
                return i + 1;
            }
        } else {
            i += 1;
        }
    }
    b.len()
}

/// `CREATE [OR REPLACE] FUNCTION|PROCEDURE`, whose SQL-standard body may hold `;`.
fn is_routine_definition(words: &[String]) -> bool {
    let w = |i: usize| words.get(i).map(String::as_str);
    w(0) == Some("CREATE")
        && (matches!(w(1), Some("FUNCTION" | "PROCEDURE"))
            || (w(1) == Some("OR")
                && w(2) == Some("REPLACE")
                && matches!(w(3), Some("FUNCTION" | "PROCEDURE"))))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(script: &str) -> Vec<&str> {
        split_statements(script).iter().map(|s| s.text).collect()
    }

    #[test]
    fn splits_at_semicolons_outside_quotes_comments_and_parentheses() {
        assert_eq!(
            texts("CREATE TABLE t (a int); INSERT INTO t VALUES (1);SELECT * FROM t"),
            [
                "CREATE TABLE t (a int)",
                "INSERT INTO t VALUES (1)",
                "SELECT * FROM t"
            ]
        );
        assert_eq!(
            texts("SELECT 'a;b', \"c;d\", E'e\\';f' ; SELECT $$g;h$$, $x$ $$; $x$"),
            [
                "SELECT 'a;b', \"c;d\", E'e\\';f'",
                "SELECT $$g;h$$, $x$ $$; $x$"
            ]
        );
        assert_eq!(
            texts("SELECT 1 -- one; two\n; /* a /* nested; */ comment; */ SELECT 2"),
            [
                "SELECT 1 -- one; two",
                "/* a /* nested; */ comment; */ SELECT 2"
            ]
        );
        assert_eq!(
            texts("CREATE RULE r AS ON INSERT TO t DO ALSO (NOTIFY a; NOTIFY b); SELECT 3"),
            [
                "CREATE RULE r AS ON INSERT TO t DO ALSO (NOTIFY a; NOTIFY b)",
                "SELECT 3"
            ]
        );
        // The doubled quote stays inside the string.
        assert_eq!(texts("SELECT 'it''s; fine'; SELECT 4").len(), 2);
        // $1 is a parameter, not a dollar quote.
        assert_eq!(texts("SELECT $1; SELECT 5").len(), 2);
    }

    #[test]
    fn empty_statements_are_left_out() {
        assert!(texts("").is_empty());
        assert!(texts("  ;; -- nothing\n /* at all */ ;").is_empty());
        assert_eq!(texts("SELECT 1;;  ; SELECT 2;"), ["SELECT 1", "SELECT 2"]);
    }

    #[test]
    fn an_unterminated_quote_swallows_the_rest_without_panicking() {
        assert_eq!(texts("SELECT 'oops; SELECT 2"), ["SELECT 'oops; SELECT 2"]);
        assert_eq!(texts("SELECT $a$ x; y"), ["SELECT $a$ x; y"]);
        assert_eq!(texts("SELECT /* open"), ["SELECT /* open"]);
        assert_eq!(texts("SELECT E'\\"), ["SELECT E'\\"]);
    }

    #[test]
    fn a_standard_sql_function_body_is_one_statement() {
        let script = "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC \
                      SELECT CASE WHEN true THEN 1 END; SELECT 2; END; CALL p()";
        assert_eq!(
            texts(script),
            [
                "CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC \
                 SELECT CASE WHEN true THEN 1 END; SELECT 2; END",
                "CALL p()"
            ]
        );
        // BEGIN starting a transaction is not a body.
        assert_eq!(texts("BEGIN; SELECT 1; END"), ["BEGIN", "SELECT 1", "END"]);
    }

    #[test]
    fn words_skip_quoted_text_and_parentheses() {
        let s = &split_statements("create table \"Select\" (a int) as select 'x'")[0];
        assert_eq!(s.words, ["CREATE", "TABLE", "AS", "SELECT"]);
        let s = &split_statements("(SELECT 1) UNION (SELECT 2)")[0];
        assert!(s.starts_with_paren);
        let s = &split_statements("select ünïcode, x$y, 1e5 from t")[0];
        // Keywords are ASCII: other letters keep their case, as in the server.
        assert_eq!(s.words, ["SELECT", "üNïCODE", "X$Y", "FROM", "T"]);
    }
}
