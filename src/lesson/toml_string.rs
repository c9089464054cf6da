//! Where each byte of a TOML string's value was written in the file, so a position inside the
//! value (where a SQL text fails to parse) becomes a line and column of the lesson file, through
//! escapes, line-ending backslashes and the newline a `"""` string drops.

/// For the string token `raw` (delimiters included) whose value is `value`: the offset in
/// `raw` where byte `at` of the value was written. `None` when `raw` does not decode to
/// `value` (a form this reader does not know): the caller then points at the token.
pub(super) fn offset_in_token(raw: &str, value: &str, at: usize) -> Option<usize> {
    let (decoded, origin) = decode(raw)?;
    if decoded != value {
        return None;
    }
    match origin.get(at) {
        Some(o) => Some(*o),
        // Just past the value: the closing delimiter.
        None if at == value.len() => Some(raw.len() - delimiter(raw)?.len()),
        None => None,
    }
}

fn delimiter(raw: &str) -> Option<&'static str> {
    ["\"\"\"", "'''", "\"", "'"]
        .into_iter()
        .find(|d| raw.len() >= 2 * d.len() && raw.starts_with(d) && raw.ends_with(d))
}

/// The value of a string token, and for each of its bytes the offset in `raw` it came from.
fn decode(raw: &str) -> Option<(String, Vec<usize>)> {
    let quote = delimiter(raw)?;
    let multi = quote.len() == 3;
    let literal = quote.starts_with('\'');
    let end = raw.len() - quote.len();
    let mut i = quote.len();
    // A newline right after the opening `"""` or `'''` is not part of the value.
    if multi {
        if raw[i..end].starts_with("\r\n") {
            i += 2;
        } else if raw[i..end].starts_with('\n') {
            i += 1;
        }
    }
    let mut value = Decoded::default();
    while i < end {
        let c = raw[i..end].chars().next()?;
        if literal || c != '\\' {
            value.written(c, i);
            i += c.len_utf8();
            continue;
        }
        let next = raw[i + 1..end].chars().next()?;
        let simple = match next {
            'b' => Some('\u{8}'),
            't' => Some('\t'),
            'n' => Some('\n'),
            'f' => Some('\u{c}'),
            'r' => Some('\r'),
            'e' => Some('\u{1b}'),
            '"' => Some('"'),
            '\\' => Some('\\'),
            _ => None,
        };
        if let Some(ch) = simple {
            value.escaped(ch, i);
            i += 2;
            continue;
        }
        let digits = match next {
            'x' => 2,
            'u' => 4,
            'U' => 8,
            _ => 0,
        };
        if digits > 0 {
            let hex = raw.get(i + 2..i + 2 + digits)?;
            value.escaped(char::from_u32(u32::from_str_radix(hex, 16).ok()?)?, i);
            i += 2 + digits;
            continue;
        }
        // A line-ending backslash in a `"""` string: the newline and the blanks after it go.
        let rest = &raw[i + 1..end];
        let after = rest.trim_start_matches([' ', '\t']);
        if multi && (after.starts_with('\n') || after.starts_with("\r\n")) {
            let kept = rest.trim_start_matches([' ', '\t', '\n', '\r']);
            i = end - kept.len();
            continue;
        }
        return None;
    }
    Some((value.text, value.origin))
}

/// A value being decoded: its text, and where each byte of it came from.
#[derive(Default)]
struct Decoded {
    text: String,
    origin: Vec<usize>,
}

impl Decoded {
    /// `c`, written as it is at `at`: each of its bytes comes from its own byte.
    fn written(&mut self, c: char, at: usize) {
        self.text.push(c);
        self.origin.extend(at..at + c.len_utf8());
    }

    /// `c`, written as an escape at `at`: all of its bytes come from the backslash.
    fn escaped(&mut self, c: char, at: usize) {
        self.text.push(c);
        self.origin.extend(std::iter::repeat_n(at, c.len_utf8()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The offsets in `raw` of every byte of `value`, checked against a decode by toml itself.
    fn traced(raw: &str) -> (String, Vec<usize>) {
        let parsed: toml::Table = toml::from_str(&format!("v = {raw}")).expect("a TOML string");
        let value = parsed["v"].as_str().expect("a string").to_string();
        let origin = (0..value.len())
            .map(|at| offset_in_token(raw, &value, at).expect("traced"))
            .collect();
        (value, origin)
    }

    #[test]
    fn every_kind_of_string_is_traced_back_to_its_bytes() {
        assert_eq!(traced("'a\\b'"), ("a\\b".into(), vec![1, 2, 3]));
        assert_eq!(traced("\"a\\nb\""), ("a\nb".into(), vec![1, 2, 4]));
        assert_eq!(traced("\"\\u00e9!\""), ("é!".into(), vec![1, 1, 7]));
        // The newline after the opening quotes is dropped; a CRLF one too.
        assert_eq!(traced("\"\"\"\nab\"\"\""), ("ab".into(), vec![4, 5]));
        assert_eq!(traced("'''\r\nab'''"), ("ab".into(), vec![5, 6]));
        // A line-ending backslash takes the newline and the indentation after it.
        assert_eq!(
            traced("\"\"\"a \\\n    b\"\"\""),
            ("a b".into(), vec![3, 4, 11])
        );
        // Quotes just before the closing delimiter belong to the value.
        assert_eq!(traced("\"\"\"x\"\"\"\"\""), ("x\"\"".into(), vec![3, 4, 5]));
    }

    #[test]
    fn past_the_end_is_the_closing_delimiter_and_a_mismatch_is_none() {
        assert_eq!(offset_in_token("\"ab\"", "ab", 2), Some(3));
        assert_eq!(offset_in_token("\"\"\"ab\"\"\"", "ab", 2), Some(5));
        assert_eq!(offset_in_token("\"ab\"", "ab", 3), None);
        assert_eq!(offset_in_token("\"ab\"", "xy", 0), None);
        assert_eq!(offset_in_token("ab", "ab", 0), None);
        assert_eq!(offset_in_token("\"\\q\"", "q", 0), None);
    }
}
