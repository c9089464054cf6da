//! What is wrong with a lesson file, and where.

use std::fmt;

/// A 1-based line and column (in characters) in a lesson file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

impl Pos {
    /// The position of byte `offset` in `text`; an offset past the end or inside a character
    /// counts as the character it falls in.
    pub fn at(text: &str, offset: usize) -> Pos {
        let mut end = offset.min(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        let before = &text[..end];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Pos {
            line: before.matches('\n').count() + 1,
            col: before[line_start..].chars().count() + 1,
        }
    }
}

/// One mistake in a lesson file. Displays as `FILE:LINE:COL: FIELD: message`; the position
/// or field is left out when there is none (a file that cannot be read has neither).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LessonError {
    pub file: String,
    pub pos: Option<Pos>,
    /// Where in the lesson, as `steps[1].checks[0].target`; empty for syntax errors.
    pub field: String,
    pub message: String,
}

impl LessonError {
    pub fn line(&self) -> Option<usize> {
        self.pos.map(|p| p.line)
    }

    pub fn col(&self) -> Option<usize> {
        self.pos.map(|p| p.col)
    }
}

impl fmt::Display for LessonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(p) = self.pos {
            write!(f, ":{}:{}", p.line, p.col)?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LessonError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "a = 1\nbé = \"x\"\n";
        assert_eq!(Pos::at(text, 0), Pos { line: 1, col: 1 });
        assert_eq!(Pos::at(text, 6), Pos { line: 2, col: 1 });
        // `=` after the two-byte é is the fourth character of line 2.
        assert_eq!(Pos::at(text, 10), Pos { line: 2, col: 4 });
        // Inside é, and past the end.
        assert_eq!(Pos::at(text, 8), Pos { line: 2, col: 2 });
        assert_eq!(Pos::at(text, 999), Pos { line: 3, col: 1 });
    }

    #[test]
    fn display_leaves_out_what_is_missing() {
        let mut e = LessonError {
            file: "lessons/x.toml".into(),
            pos: Some(Pos { line: 3, col: 9 }),
            field: "steps[0].id".into(),
            message: "empty".into(),
        };
        assert_eq!(e.to_string(), "lessons/x.toml:3:9: steps[0].id: empty");
        e.field.clear();
        assert_eq!(e.to_string(), "lessons/x.toml:3:9: empty");
        e.pos = None;
        assert_eq!(e.to_string(), "lessons/x.toml: empty");
    }
}
