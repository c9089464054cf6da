//! The interactive app: The Elm Architecture — keys become messages, `update` changes the
//! state and asks for effects, actors answer with messages, rendering reads the state.

mod class_link;
pub mod class_state;
pub mod editor;
pub mod effects;
pub mod highlight;
pub mod instructor;
pub mod keys;
pub mod msg;
pub mod run;
mod savers;
pub mod state;
pub mod terminal;
pub mod theme;
pub mod ui;
pub mod update;
mod update_class;
mod update_console;
mod update_course;
