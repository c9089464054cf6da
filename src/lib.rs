//! replica-lab: a PostgreSQL streaming-replication cluster to learn on, and the tools around it.
//!
//! Layers, listed from the bottom: a module imports only the modules listed above it, never
//! those below, and nothing but `main` imports the front-ends `cli` and `tui`
//! (`tests/architecture.rs` holds the code to this).

pub mod error;
pub mod settings;
pub mod cluster;
pub mod runtime;
pub mod lifecycle;
pub mod sql;
pub mod telemetry;
pub mod lesson;
pub mod classroom;
pub mod compose;
pub mod cli;
pub mod tui;
