//! SQL syntax highlighting as data: a line split into classified spans.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Token {
    Keyword,
    String,
    Number,
    Comment,
    /// `\dt`, `\x` and friends.
    Meta,
    Plain,
}

const KEYWORDS: &[&str] = &[
    "ABORT",
    "ALL",
    "ALTER",
    "AND",
    "AS",
    "ASC",
    "BEGIN",
    "BETWEEN",
    "BY",
    "CASE",
    "CHECKPOINT",
    "COMMIT",
    "CREATE",
    "DEFAULT",
    "DELETE",
    "DESC",
    "DISTINCT",
    "DO",
    "DROP",
    "ELSE",
    "END",
    "EXISTS",
    "EXPLAIN",
    "FALSE",
    "FROM",
    "FUNCTION",
    "GRANT",
    "GROUP",
    "HAVING",
    "IF",
    "IN",
    "INDEX",
    "INSERT",
    "INTO",
    "IS",
    "JOIN",
    "KEY",
    "LEFT",
    "LIKE",
    "LIMIT",
    "NOT",
    "NULL",
    "OFFSET",
    "ON",
    "OR",
    "ORDER",
    "PRIMARY",
    "REFERENCES",
    "RETURNING",
    "ROLLBACK",
    "SELECT",
    "SET",
    "SHOW",
    "START",
    "TABLE",
    "THEN",
    "TO",
    "TRANSACTION",
    "TRUE",
    "TRUNCATE",
    "UNION",
    "UPDATE",
    "USING",
    "VACUUM",
    "VALUES",
    "VIEW",
    "WHEN",
    "WHERE",
    "WITH",
];

pub fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

/// Classifies one line. A string or comment that spans lines is only coloured on its first
/// line: good enough for a console, and it never mis-colours what follows.
pub fn highlight(line: &str) -> Vec<(Token, String)> {
    let mut out: Vec<(Token, String)> = Vec::new();
    let chars: Vec<char> = line.chars().collect();
    let mut i = 0;
    let push = |out: &mut Vec<(Token, String)>, t: Token, s: String| match out.last_mut() {
        Some((last, text)) if *last == t => text.push_str(&s),
        _ => out.push((t, s)),
    };
    if line.trim_start().starts_with('\\') {
        return vec![(Token::Meta, line.to_string())];
    }
    while i < chars.len() {
        let c = chars[i];
        if c == '-' && chars.get(i + 1) == Some(&'-') {
            push(&mut out, Token::Comment, chars[i..].iter().collect());
            break;
        }
        if c == '\'' {
            let mut j = i + 1;
            while j < chars.len() {
                if chars[j] == '\'' {
                    if chars.get(j + 1) == Some(&'\'') {
                        j += 2;
                        continue;
                    }
                    break;
                }
                j += 1;
            }
            let end = (j + 1).min(chars.len());
            push(&mut out, Token::String, chars[i..end].iter().collect());
            i = end;
            continue;
        }
        if c.is_ascii_digit() {
            let mut j = i;
            while j < chars.len() && (chars[j].is_ascii_digit() || chars[j] == '.') {
                j += 1;
            }
            push(&mut out, Token::Number, chars[i..j].iter().collect());
            i = j;
            continue;
        }
        if c.is_alphabetic() || c == '_' {
            let mut j = i;
            while j < chars.len() && (chars[j].is_alphanumeric() || chars[j] == '_') {
                j += 1;
            }
            let word: String = chars[i..j].iter().collect();
            let t = if is_keyword(&word) {
                Token::Keyword
            } else {
                Token::Plain
            };
            push(&mut out, t, word);
            i = j;
            continue;
        }
        push(&mut out, Token::Plain, c.to_string());
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_strings_numbers_and_comments() {
        let spans = highlight("select x, 'it''s', 42 from t -- done");
        assert_eq!(
            spans,
            vec![
                (Token::Keyword, "select".into()),
                (Token::Plain, " x, ".into()),
                (Token::String, "'it''s'".into()),
                (Token::Plain, ", ".into()),
                (Token::Number, "42".into()),
                (Token::Plain, " ".into()),
                (Token::Keyword, "from".into()),
                (Token::Plain, " t ".into()),
                (Token::Comment, "-- done".into()),
            ]
        );
        assert_eq!(highlight("\\dt"), vec![(Token::Meta, "\\dt".into())]);
        assert_eq!(highlight("'open"), vec![(Token::String, "'open".into())]);
        let joined: String = highlight("selected_rows")
            .into_iter()
            .map(|(_, s)| s)
            .collect();
        assert_eq!(joined, "selected_rows");
        assert_eq!(highlight("selected_rows")[0].0, Token::Plain);
    }
}
