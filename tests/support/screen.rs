//! What a drawn screen says, as text.

use ratatui::buffer::Buffer;
use ratatui::text::Span;

/// The buffer as text, one line per row, trailing blanks trimmed.
pub fn text(buf: &Buffer) -> String {
    let w = usize::from(buf.area.width);
    let mut out = String::new();
    if w == 0 {
        return out;
    }
    for row in buf.content.chunks(w) {
        let mut line = String::new();
        let mut skip = 0;
        for cell in row {
            // A wide character covers the cells after it; they hold no text of their own.
            if skip == 0 {
                line.push_str(cell.symbol());
            }
            let w = Span::raw(cell.symbol()).width().max(1);
            skip = skip.max(w).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
