//! Reading lesson files: TOML to [`Lesson`], with every mistake reported at its line and column.
//!
//! The document is parsed once into toml's spanned tree. The lesson's head, each step, each
//! action and each check is then deserialized on its own (serde, `deny_unknown_fields`,
//! `toml::Spanned` on the fields that semantic checks point at), so one mistake does not hide
//! the others: a file reports every syntax error, or else one structural error (wrong type,
//! unknown or missing field) per item and every semantic error.

use std::path::Path;

use super::crossfile::{self, Located};
use super::error::LessonError;
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
        let file = p.display().to_string();
        match std::fs::read_to_string(&p) {
            Ok(text) => files.push((file, text)),
            Err(e) => errors.push(LessonError {
                file,
                pos: None,
                field: String::new(),
                message: format!("cannot read the file: {e}"),
            }),
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
