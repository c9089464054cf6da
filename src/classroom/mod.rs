//! The classroom: an instructor's hub on an ordinary PostgreSQL database, learners whose apps
//! report their progress to it, and a live roster.
//!
//! - [`connect`]: connections to the hub, with TLS when the URL asks for it;
//! - [`migrate`]: the hub's schema, versioned migrations applied in order;
//! - [`catalogue`], [`guard`]: the lessons the hub takes events about, and what it refuses;
//! - [`host`]: `classroom host` and `classroom down`: a hub started through the runtime, or one given;
//! - [`membership`], [`queue`], [`reporter`]: the learner's side (join, events on disk, delivery,
//!   broadcasts, pace and drills coming back);
//! - [`roster`], [`export`], [`instructor`]: the instructor's side; [`printable`] keeps what
//!   learners' apps sent from driving the instructor's terminal.

pub mod catalogue;
pub mod connect;
pub mod export;
pub mod guard;
pub mod host;
pub mod instructor;
pub mod membership;
pub mod migrate;
pub mod printable;
pub mod queue;
pub mod reporter;
pub mod roster;

use std::path::PathBuf;

use crate::settings::Settings;

/// Where the classroom's files live: the `classroom_dir` setting, else the user's data folder.
pub fn classroom_dir(settings: &Settings) -> PathBuf {
    settings.classroom_dir.clone().unwrap_or_else(|| {
        directories::ProjectDirs::from("", "", "replica-lab")
            .map(|d| d.data_dir().join("classroom"))
            .unwrap_or_else(|| PathBuf::from(".replica-lab/classroom"))
    })
}
