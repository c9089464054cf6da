//! Reading lesson files: TOML to [`Lesson`], with every mistake reported at its line and column.
//!
//! The document is parsed once into toml's spanned tree. The lesson's head, each step, each
//! action and each check is then deserialized on its own (serde, `deny_unknown_fields`,
//! `toml::Spanned` on the fields that semantic checks point at), so one mistake does not hide
//! the others: a file reports every syntax error, or else one structural error (wrong type,
//! unknown or missing field) per item and every semantic error.

use std::path::Path;

use super::crossfile::{self, Located};
use super::error::{LessonError, Pos};
use super::model::Lesson;
use super::read::parse_located;

/// Parses and validates one lesson file. `file` is only used to label errors. References to
/// other lessons (`requires`) are checked by [`load_files`] and [`load_dir`], which see them all.
pub fn parse(file: &str, text: &str) -> Result<Lesson, Vec<LessonError>> {
    parse_located(file, text).map(|(lesson, _)| lesson)
}

/// Reads every `*.toml` file in `path`, sorted by file name, and validates them as a set.
pub fn load_dir(path: impl AsRef<Path>) -> Result<Vec<Lesson>, Vec<LessonError>> {
    let path = path.as_ref();
    let entries = std::fs::read_dir(path).map_err(|e| {
        vec![LessonError {
            file: path.display().to_string(),
            pos: None,
            field: String::new(),
            message: format!("cannot read the lessons folder: {e}"),
        }]
    })?;
    let mut names = Vec::new();
    let mut errors = Vec::new();
    for entry in entries {
        match entry {
            Ok(e) => {
                let p = e.path();
                if p.extension().is_some_and(|x| x == "toml") && p.is_file() {
                    names.push(p);
                }
            }
            Err(e) => errors.push(LessonError {
                file: path.display().to_string(),
                pos: None,
                field: String::new(),
                message: format!("cannot list the lessons folder: {e}"),
            }),
        }
    }
    names.sort();
    let mut files = Vec::new();
    for p in names {
        match read_file(&p) {
            Ok(text) => files.push((p.display().to_string(), text)),
            Err(e) => errors.push(e),
        }
    }
    match load_files(&files) {
        Ok(lessons) if errors.is_empty() => Ok(lessons),
        Ok(_) => Err(errors),
        Err(more) => {
            errors.extend(more);
            Err(errors)
        }
    }
}

/// The text of the lesson file at `path`. One that is not UTF-8 is reported at the line and
/// column of its first byte that is not.
pub fn read_file(path: &Path) -> Result<String, LessonError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| LessonError {
        file: file.clone(),
        pos: None,
        field: String::new(),
        message: format!("cannot read it: {e}"),
    })?;
    utf8(&file, bytes)
}

/// `bytes` as text, or where they stop being UTF-8.
fn utf8(file: &str, bytes: Vec<u8>) -> Result<String, LessonError> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // Everything before `at` is UTF-8: that is what `valid_up_to` says.
        let before = std::str::from_utf8(&bytes[..at]).unwrap_or_default();
        LessonError {
            file: file.to_string(),
            pos: Some(Pos::at(before, at)),
            field: String::new(),
            message: format!(
                "byte 0x{:02X} is not UTF-8: lesson files are UTF-8 text; save the file as UTF-8",
                bytes.get(at).copied().unwrap_or_default()
            ),
        }
    })
}

/// Parses a set of lesson files, given as (file name, text), and checks them together: each
/// file is named after its lesson's id, ids are unique, and `requires` names lessons that come
/// earlier in file-name order (so requirements never form a cycle). Lessons are returned in
/// file-name order.
pub fn load_files<N: AsRef<str>, T: AsRef<str>>(
    files: &[(N, T)],
) -> Result<Vec<Lesson>, Vec<LessonError>> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| {
        crossfile::file_name(files[a].0.as_ref()).cmp(crossfile::file_name(files[b].0.as_ref()))
    });
    let mut errors = Vec::new();
    let mut parsed: Vec<(&str, Lesson, Located)> = Vec::new();
    for i in order {
        let (file, text) = (files[i].0.as_ref(), files[i].1.as_ref());
        match parse_located(file, text) {
            Ok((lesson, located)) => parsed.push((file, lesson, located)),
            Err(e) => errors.extend(e),
        }
    }
    errors.extend(crossfile::check(&parsed));
    if errors.is_empty() {
        Ok(parsed.into_iter().map(|(_, lesson, _)| lesson).collect())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_that_is_not_utf8_is_placed_at_its_first_bad_byte() {
        let good = "format = 1\ntitle = \"caf\u{e9}\"\n".as_bytes().to_vec();
        assert_eq!(
            utf8("x.toml", good).expect("UTF-8"),
            "format = 1\ntitle = \"caf\u{e9}\"\n"
        );
        // Latin-1 é on line 3, after `title = "caf` (and an é in UTF-8 on line 2).
        let mut bad = b"format = 1\n# \xC3\xA9\ntitle = \"caf".to_vec();
        bad.extend([0xE9, b'"', b'\n']);
        let e = utf8("x.toml", bad).expect_err("Latin-1");
        assert_eq!(
            e.to_string(),
            "x.toml:3:13: byte 0xE9 is not UTF-8: lesson files are UTF-8 text; save the file as UTF-8"
        );
        // A sequence cut short at the very end.
        let e = utf8("x.toml", b"ok\n\xE2\x82".to_vec()).expect_err("cut short");
        assert_eq!(e.pos, Some(Pos { line: 2, col: 1 }));
    }
}
