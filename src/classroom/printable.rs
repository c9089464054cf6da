//! Text that came from a learner's app, made safe to print on the instructor's terminal.
//!
//! A name, lesson or step could carry escape sequences (`ESC ] 0 ; … BEL` retitles the
//! window, others move the cursor or rewrite what is on screen) or marks that reorder the
//! text around them. Whatever the hub let through, the edges that print it pass it through
//! [`printable`] first.

use std::borrow::Cow;

/// `s` without control characters (C0, DEL, C1) or bidirectional formatting marks; line
/// breaks and tabs become a blank, so the pieces stay apart.
pub fn printable(s: &str) -> Cow<'_, str> {
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(
        s.chars()
            .filter_map(|c| match c {
                '\n' | '\r' | '\t' => Some(' '),
                c if unsafe_char(c) => None,
                c => Some(c),
            })
            .collect(),
    )
}

/// [`printable`] of an optional value, `-` for none.
pub fn printable_or_dash(s: Option<&str>) -> Cow<'_, str> {
    s.map_or(Cow::Borrowed("-"), printable)
}

fn unsafe_char(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_as_it_is() {
        for s in ["ann", "01-topology", "Zoë Ødegård", "名前", "a b", ""] {
            assert!(matches!(printable(s), Cow::Borrowed(_)), "{s}");
            assert_eq!(printable(s), s);
        }
    }

    #[test]
    fn escape_sequences_lose_what_makes_them_work() {
        assert_eq!(printable("\x1b]0;owned\x07lesson"), "]0;ownedlesson");
        assert_eq!(printable("\x1b[2J\x1b[Hhi"), "[2J[Hhi");
        // C1: the single-character CSI and OSC some terminals obey.
        assert_eq!(printable("a\u{9b}31mb\u{9d}c"), "a31mbc");
        assert_eq!(printable("del\x7f\x00nul"), "delnul");
    }

    #[test]
    fn line_breaks_and_tabs_become_blanks() {
        assert_eq!(printable("two\nlines\r\tend"), "two lines  end");
    }

    #[test]
    fn marks_that_reorder_text_are_dropped() {
        assert_eq!(printable("abc\u{202e}fed\u{2066}x\u{2069}"), "abcfedx");
        assert_eq!(printable("\u{200f}r\u{061c}"), "r");
    }

    #[test]
    fn none_is_a_dash() {
        assert_eq!(printable_or_dash(None), "-");
        assert_eq!(printable_or_dash(Some("x\x1b")), "x");
    }
}
