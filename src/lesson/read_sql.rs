//! The SQL of a lesson, checked as it is read: every text must parse with PostgreSQL's own
//! parser once its placeholders hold sample values, and a console text that is a backslash
//! command must be one the console knows. An error points at the line and column of the lesson
//! file where the parser stopped.

use toml::Spanned;

use super::read::Parser;
use super::sql_syntax::{first_error, sample_vars};
use super::template::fill_traced;
use super::toml_string::offset_in_token;
use crate::sql::meta::{self, Meta};

/// Who runs a text: the server as it is, or the console, which also takes `\connect` and
/// the other backslash commands.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum RunBy {
    Server,
    Console,
}

impl Parser<'_, '_> {
    pub(super) fn sql(&mut self, s: &Spanned<String>, path: &str, by: RunBy) {
        let text = s.get_ref();
        if text.trim().is_empty() {
            // Said already, by the check for empty text.
            return;
        }
        let (filled, origin) = fill_traced(text, &sample_vars());
        if by == RunBy::Console && filled.trim_start().starts_with('\\') {
            if let Some(problem) = console_command(&filled) {
                self.error(s.span(), path, problem);
            }
            return;
        }
        let Some(e) = first_error(&filled) else {
            return;
        };
        // From the filled text back to the value, then to the file.
        let in_value = origin.get(e.at).copied().unwrap_or(text.len());
        let span = s.span();
        let in_token = self
            .source(span.clone())
            .and_then(|raw| offset_in_token(raw, text, in_value))
            .unwrap_or(0);
        let at = span.start + in_token;
        self.error(
            at..at,
            path,
            format!("PostgreSQL cannot parse this SQL: {}", e.message),
        );
    }
}

/// What is wrong with a backslash command for the console, if anything.
fn console_command(input: &str) -> Option<String> {
    match meta::parse(input) {
        Meta::Unknown(command) => Some(format!(
            "unknown console command {command}: the console takes \\dt, \\d NAME, \\x, \
             \\timing, \\conninfo and \\connect URL"
        )),
        Meta::MissingArgument { input, usage } => {
            Some(format!("{input} needs an argument: {usage}"))
        }
        Meta::Connect(target) => crate::sql::url::parse(&target)
            .err()
            .map(|e| format!("\\connect {target}: {e}")),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_commands_are_checked_as_the_console_reads_them() {
        assert_eq!(console_command("\\dt"), None);
        assert_eq!(console_command("\\d replication_test"), None);
        assert_eq!(
            console_command("\\connect postgresql://myuser@127.0.0.11:5432/mydatabase"),
            None
        );
        let unknown = console_command("\\dx").expect("unknown");
        assert!(
            unknown.starts_with("unknown console command \\dx: "),
            "{unknown}"
        );
        let bare = console_command("\\c").expect("no argument");
        assert!(bare.starts_with("\\c needs an argument: "), "{bare}");
        let bad = console_command("\\c postgresql://a b").expect("a blank in a URL");
        assert!(bad.contains("a URL has no blanks in it"), "{bad}");
    }
}
