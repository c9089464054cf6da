//! replica-lab: a PostgreSQL streaming-replication cluster to learn on, and the tools around it.
//!
//! Layers, listed from the bottom: a module imports only the modules listed above it, never
//! those below, and nothing but `main` imports the front-ends `cli` and `tui`
//! (`tests/architecture.rs` holds the code to this).

pub mod classroom;
pub mod cli;
pub mod cluster;
pub mod compose;
pub mod error;
pub mod lesson;
pub mod lifecycle;
pub mod runtime;
pub mod settings;
pub mod sql;
pub mod telemetry;
pub mod tui;
