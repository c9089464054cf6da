//! The cluster as a whole: its shape, its configuration files, and the operations on it that
//! do not depend on where nodes run.

pub mod admin;
pub mod certs;
pub mod fencing;
pub mod haproxy;
pub mod node_op;
pub mod pgconf;
pub mod state;
pub mod status;
pub mod topology;
