//! Which lessons there are (the shipped ones, or an instructor's folder) and where a
//! learner's progress is kept.

use std::path::Path;

use super::load::read_file;
use super::progress::ProgressStore;
use super::{Lesson, LessonError, builtin_lessons, load_dir, load_files};
use crate::settings::Settings;

/// The lessons at `path` (a file or a folder), or the shipped ones.
pub fn load(path: Option<&Path>) -> std::result::Result<Vec<Lesson>, Vec<LessonError>> {
    match path {
        None => builtin_lessons(),
        Some(p) if p.is_dir() => load_dir(p),
        Some(p) => match read_file(p) {
            Ok(text) => load_files(&[(p.display().to_string(), text)]),
            Err(e) => Err(vec![e]),
        },
    }
}

/// The lessons the app and `list` use: the instructor's folder when set, else the shipped ones.
pub fn catalog(settings: &Settings) -> std::result::Result<Vec<Lesson>, Vec<LessonError>> {
    load(settings.lessons.as_deref())
}

pub fn progress_store(settings: &Settings) -> ProgressStore {
    let dir = settings
        .progress_dir
        .clone()
        .unwrap_or_else(ProgressStore::default_dir);
    ProgressStore::for_learner(&dir, &settings.learner_name())
}
