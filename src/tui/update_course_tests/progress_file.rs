//! What the lesson pane says about the progress file: a warning from loading it, a save that
//! failed and the one that worked again.

use std::path::PathBuf;

use super::*;
use crate::lesson::course::FileNote;

#[test]
fn the_load_warning_stays_in_sight_while_steps_open() {
    let mut s = app(LearnerProgress::new("ann"));
    let warning = FileNote::trouble("1 entry in ann.json could not be read");
    s.course.progress_note = Some(warning.clone());
    ready(&mut s);
    prepared(&mut s);
    assert_eq!(s.course.progress_note.as_ref(), Some(&warning));
    ctrl(&mut s, 'n');
    assert_eq!(s.course.at, Some((0, 1)));
    assert_eq!(s.course.progress_note.as_ref(), Some(&warning));
}

#[test]
fn a_failed_save_is_said_until_a_save_works_and_that_is_said_once() {
    let mut s = on_first_step();
    send(
        &mut s,
        Msg::ProgressNotSaved("cannot save progress to /p/ann.json: No space left".into()),
    );
    let note = s.course.progress_note.clone().expect("a note");
    assert!(note.trouble);
    assert_eq!(
        note.text,
        "cannot save progress to /p/ann.json: No space left. Your progress is kept while the \
         app runs and saved again at your next change"
    );
    // Moving on is a change: the progress, all of it, goes to the saver again.
    let effects = ctrl(&mut s, 'n');
    assert_eq!(
        saved(&effects[0]).lessons["01-basics"]
            .current_step
            .as_deref(),
        Some("why")
    );
    assert_eq!(s.course.progress_note, Some(note), "still trouble");

    send(
        &mut s,
        Msg::ProgressSaved {
            path: PathBuf::from("/p/ann.json"),
            kept: None,
        },
    );
    assert_eq!(
        s.course.progress_note,
        Some(FileNote::news("progress saved again to /p/ann.json"))
    );
    ctrl(&mut s, 'p');
    assert_eq!(
        s.course.progress_note, None,
        "good news is shown until a step opens"
    );
}

#[test]
fn where_the_unreadable_part_was_kept_is_said() {
    let mut s = on_first_step();
    s.course.progress_note = Some(FileNote::trouble("1 entry could not be read"));
    send(
        &mut s,
        Msg::ProgressSaved {
            path: PathBuf::from("/p/ann.json"),
            kept: Some(PathBuf::from("/p/ann.json.damaged-7")),
        },
    );
    assert_eq!(
        s.course.progress_note,
        Some(FileNote::news(
            "progress saved to /p/ann.json; what could not be read of it is kept in \
             /p/ann.json.damaged-7"
        ))
    );
}
