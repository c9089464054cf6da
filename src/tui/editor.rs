//! The SQL editor's text and cursor: a small multi-line buffer (the console needs its own
//! rendering for syntax highlighting, so the text lives here rather than in a widget).

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Editor {
    lines: Vec<String>,
    row: usize,
    /// Cursor column in characters, not bytes.
    col: usize,
}

impl Default for Editor {
    fn default() -> Self {
        Editor {
            lines: vec![String::new()],
            row: 0,
            col: 0,
        }
    }
}

fn byte_at(line: &str, col: usize) -> usize {
    line.char_indices().nth(col).map_or(line.len(), |(i, _)| i)
}

fn width(line: &str) -> usize {
    line.chars().count()
}

impl Editor {
    pub fn from_text(text: &str) -> Editor {
        let mut e = Editor::default();
        e.insert_str(text);
        e
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub fn lines(&self) -> &[String] {
        &self.lines
    }

    /// (row, column in characters).
    pub fn cursor(&self) -> (usize, usize) {
        (self.row, self.col)
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.trim().is_empty())
    }

    pub fn clear(&mut self) {
        *self = Editor::default();
    }

    pub fn insert_char(&mut self, c: char) {
        if c == '\n' {
            return self.newline();
        }
        let line = &mut self.lines[self.row];
        let at = byte_at(line, self.col);
        line.insert(at, c);
        self.col += 1;
    }

    pub fn insert_str(&mut self, s: &str) {
        for c in s.chars().filter(|c| *c != '\r') {
            self.insert_char(if c == '\t' { ' ' } else { c });
        }
    }

    pub fn newline(&mut self) {
        let line = &mut self.lines[self.row];
        let at = byte_at(line, self.col);
        let rest = line.split_off(at);
        self.lines.insert(self.row + 1, rest);
        self.row += 1;
        self.col = 0;
    }

    pub fn backspace(&mut self) {
        if self.col > 0 {
            let line = &mut self.lines[self.row];
            let at = byte_at(line, self.col - 1);
            line.remove(at);
            self.col -= 1;
        } else if self.row > 0 {
            let line = self.lines.remove(self.row);
            self.row -= 1;
            self.col = width(&self.lines[self.row]);
            self.lines[self.row].push_str(&line);
        }
    }

    pub fn delete(&mut self) {
        let len = width(&self.lines[self.row]);
        if self.col < len {
            let line = &mut self.lines[self.row];
            let at = byte_at(line, self.col);
            line.remove(at);
        } else if self.row + 1 < self.lines.len() {
            let next = self.lines.remove(self.row + 1);
            self.lines[self.row].push_str(&next);
        }
    }

    pub fn left(&mut self) {
        if self.col > 0 {
            self.col -= 1;
        } else if self.row > 0 {
            self.row -= 1;
            self.col = width(&self.lines[self.row]);
        }
    }

    pub fn right(&mut self) {
        if self.col < width(&self.lines[self.row]) {
            self.col += 1;
        } else if self.row + 1 < self.lines.len() {
            self.row += 1;
            self.col = 0;
        }
    }

    /// Moves up a line; returns false on the first line (so Up can browse history there).
    pub fn up(&mut self) -> bool {
        if self.row == 0 {
            return false;
        }
        self.row -= 1;
        self.col = self.col.min(width(&self.lines[self.row]));
        true
    }

    /// Moves down a line; returns false on the last line.
    pub fn down(&mut self) -> bool {
        if self.row + 1 >= self.lines.len() {
            return false;
        }
        self.row += 1;
        self.col = self.col.min(width(&self.lines[self.row]));
        true
    }

    pub fn home(&mut self) {
        self.col = 0;
    }

    pub fn end(&mut self) {
        self.col = width(&self.lines[self.row]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_editing_and_joining_lines() {
        let mut e = Editor::default();
        e.insert_str("SELECT 1;\nSELECT 2;");
        assert_eq!(e.lines(), ["SELECT 1;", "SELECT 2;"]);
        assert_eq!(e.cursor(), (1, 9));
        e.home();
        e.backspace();
        assert_eq!(e.text(), "SELECT 1;SELECT 2;");
        assert_eq!(e.cursor(), (0, 9));
        e.newline();
        e.end();
        e.backspace();
        assert_eq!(e.text(), "SELECT 1;\nSELECT 2");
        assert!(e.up());
        assert!(!e.up(), "the first line reports it cannot go up");
        e.end();
        e.delete();
        assert_eq!(e.text(), "SELECT 1;SELECT 2");
    }

    #[test]
    fn columns_count_characters_not_bytes() {
        let mut e = Editor::from_text("SELECT 'héllo'");
        e.left();
        e.left();
        e.backspace();
        assert_eq!(e.text(), "SELECT 'hélo'");
        e.home();
        e.right();
        e.insert_char('x');
        assert_eq!(e.text(), "SxELECT 'hélo'");
    }

    #[test]
    fn arrows_stop_at_the_edges_and_wrap_between_lines() {
        let mut e = Editor::from_text("ab\ncd");
        e.right();
        assert_eq!(e.cursor(), (1, 2));
        e.home();
        e.left();
        assert_eq!(e.cursor(), (0, 2));
        assert!(!e.down() || e.cursor().0 == 1);
        e.clear();
        assert!(e.is_empty());
        e.backspace();
        e.delete();
        e.left();
        assert_eq!(e.cursor(), (0, 0));
    }
}
