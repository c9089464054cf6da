//! Checks across lesson files: each file is named after its lesson's id, ids are unique, and
//! `requires` names lessons whose files sort earlier.

use std::collections::HashMap;

use super::error::{LessonError, Pos};
use super::model::Lesson;

pub(super) fn file_name(file: &str) -> &str {
    file.rsplit(['/', '\\']).next().unwrap_or(file)
}

/// Where a parsed lesson's id and requirements are, for errors found across files.
pub(super) struct Located {
    pub(super) id: Pos,
    pub(super) requires: Vec<(String, Pos)>,
}

fn cross_error(file: &str, pos: Pos, field: &str, message: String) -> LessonError {
    LessonError {
        file: file.to_string(),
        pos: Some(pos),
        field: field.to_string(),
        message,
    }
}

/// The errors between files of a set, given as (file name, lesson, where) in file-name order.
pub(super) fn check(parsed: &[(&str, Lesson, Located)]) -> Vec<LessonError> {
    let mut errors = Vec::new();
    let mut first_file: HashMap<&str, (usize, &str)> = HashMap::new();
    for (index, (file, lesson, located)) in parsed.iter().enumerate() {
        let stem = file_name(file)
            .strip_suffix(".toml")
            .unwrap_or(file_name(file));
        if stem != lesson.id {
            errors.push(cross_error(
                file,
                located.id,
                "id",
                format!(
                    "id {:?} does not match the file name {:?}: name the file {}.toml",
                    lesson.id,
                    file_name(file),
                    lesson.id
                ),
            ));
        }
        match first_file.get(lesson.id.as_str()) {
            Some((_, other)) => errors.push(cross_error(
                file,
                located.id,
                "id",
                format!("duplicate lesson id {:?}: {other} has it too", lesson.id),
            )),
            None => {
                first_file.insert(&lesson.id, (index, file));
            }
        }
    }
    for (index, (file, _, located)) in parsed.iter().enumerate() {
        for (i, (req, pos)) in located.requires.iter().enumerate() {
            let field = format!("requires[{i}]");
            match first_file.get(req.as_str()) {
                None => errors.push(cross_error(
                    file,
                    *pos,
                    &field,
                    format!("requires unknown lesson {req:?}"),
                )),
                Some((at, other)) if *at > index => errors.push(cross_error(
                    file,
                    *pos,
                    &field,
                    format!(
                        "requires {req:?}, which comes later ({other}): a lesson can only \
                         require lessons whose files sort before its own"
                    ),
                )),
                Some(_) => {}
            }
        }
    }
    errors
}
