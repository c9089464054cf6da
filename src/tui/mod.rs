//! The interactive app: The Elm Architecture — keys become messages, `update` changes the
//! state and asks for effects, actors answer with messages, rendering reads the state.

pub mod course;
pub mod editor;
pub mod effects;
pub mod highlight;
pub mod instructor;
pub mod keys;
pub mod msg;
pub mod run;
pub mod state;
pub mod theme;
pub mod ui;
pub mod update;
mod update_class;
mod update_course;
