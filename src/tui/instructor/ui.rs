//! The instructor's live screen as data: its state ([`View`]), what a key does to it
//! ([`on_key`], which asks for an [`Action`] rather than doing it), and drawing it ([`draw`],
//! a function of the state alone, so snapshots of it are stable).

mod draw;
mod keys;
mod panes;

use std::time::{Duration, SystemTime};

pub use self::draw::draw;
pub use self::keys::on_key;
use crate::classroom::roster::{self, LessonCompletion, LessonInfo, Roster, RosterRow};
use crate::tui::state::ThemeName;

/// From this width up, the lessons stand beside the roster.
pub const WIDE: u16 = 140;

/// The connection to the hub, as the title bar shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Live,
    /// Lost, with the cause; the view keeps showing the last roster read.
    Lost(String),
}

/// What the bottom of the screen is taking input for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    None,
    Broadcast(String),
    Pace(String),
    /// Choosing a drill (an index into [`DRILLS`]); `confirm` once one was picked.
    Drill {
        choice: usize,
        confirm: bool,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub error: bool,
    pub text: String,
}

/// What the screen asks the loop to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    Broadcast(String),
    /// `None`: every lesson.
    Pace(Option<u32>),
    Drill(&'static str),
    Export,
    Quit,
}

#[derive(Clone, Debug, PartialEq)]
pub struct View {
    pub theme: ThemeName,
    pub session_id: i64,
    /// Until the first roster arrives: the title hub.toml remembers.
    pub title: String,
    /// The hub's address, password masked.
    pub hub: String,
    pub lessons: Vec<LessonInfo>,
    pub roster: Option<Roster>,
    /// The hub's clock now: the last read's `now()` plus the time since it was read.
    pub now: SystemTime,
    pub link: Link,
    pub input: Input,
    pub notice: Option<Notice>,
    /// The first roster row shown.
    pub scroll: usize,
    /// Something sent and not yet answered (`sending the broadcast…`).
    pub busy: Option<String>,
}

impl View {
    pub fn new(session_id: i64, title: &str, hub: &str, lessons: Vec<LessonInfo>) -> View {
        View {
            theme: ThemeName::Dark,
            session_id,
            title: title.to_string(),
            hub: hub.to_string(),
            lessons,
            roster: None,
            now: SystemTime::UNIX_EPOCH,
            link: Link::Connecting,
            input: Input::None,
            notice: None,
            scroll: 0,
            busy: None,
        }
    }

    pub fn say(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            error: false,
            text: text.into(),
        });
    }

    pub fn warn(&mut self, text: impl Into<String>) {
        self.notice = Some(Notice {
            error: true,
            text: text.into(),
        });
    }

    fn stuck_after(&self) -> Duration {
        self.roster
            .as_ref()
            .map_or(Duration::from_secs(600), |r| r.session.stuck_after)
    }

    /// The learners in the order shown: stuck ones first, longest stuck at the top, then the
    /// rest by name; each with whether it is stuck.
    pub fn rows(&self) -> Vec<(&RosterRow, bool)> {
        let Some(r) = &self.roster else {
            return Vec::new();
        };
        let threshold = self.stuck_after();
        let mut rows: Vec<(&RosterRow, bool)> = r
            .rows
            .iter()
            .map(|row| (row, roster::stuck(row, self.now, threshold, &self.lessons)))
            .collect();
        rows.sort_by(|(a, sa), (b, sb)| {
            sb.cmp(sa).then_with(|| {
                if *sa {
                    a.step_since.cmp(&b.step_since)
                } else {
                    std::cmp::Ordering::Equal
                }
            })
        });
        rows
    }

    pub fn completion(&self) -> Vec<LessonCompletion> {
        let rows = self.roster.as_ref().map_or(&[][..], |r| &r.rows[..]);
        roster::completion(rows, &self.lessons)
    }

    fn learners(&self) -> usize {
        self.roster.as_ref().map_or(0, |r| r.rows.len())
    }

    fn allowing_drills(&self) -> usize {
        self.roster
            .as_ref()
            .map_or(0, |r| r.rows.iter().filter(|r| r.allow_drills).count())
    }
}

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;
