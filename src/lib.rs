//! replica-lab: a PostgreSQL streaming-replication cluster to learn on, and the tools around it.

pub mod classroom;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod compose;
pub mod error;
pub mod doctor;
pub mod lesson;
pub mod lesson_commands;
pub mod runtime;
pub mod settings;
pub mod sql;
pub mod telemetry;
pub mod tui;
pub mod watch;
