//! What a key does on the instructor's screen: the view changes here, and anything that
//! reaches the hub or the disk comes back as an [`Action`] for the loop.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use super::{Action, Input, View};
use crate::classroom::instructor::{DRILLS, parse_pace};

/// The longest broadcast the input takes.
const MAX_MESSAGE: usize = 500;

fn plain(key: &KeyEvent) -> Option<char> {
    match key.code {
        KeyCode::Char(c)
            if !key
                .modifiers
                .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) =>
        {
            Some(c)
        }
        _ => None,
    }
}

/// What `key` does: the view changes here; anything that reaches the hub or the disk comes
/// back as an [`Action`] for the loop.
pub fn on_key(view: &mut View, key: KeyEvent) -> Option<Action> {
    if key.kind == KeyEventKind::Release {
        return None;
    }
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return Some(Action::Quit);
    }
    // A refusal stays on screen until the next key at the input that caused it.
    if view.input != Input::None && key.code != KeyCode::Enter {
        view.notice = None;
    }
    match view.input.clone() {
        Input::None => normal_key(view, key),
        Input::Broadcast(mut text) => {
            match key.code {
                KeyCode::Esc => view.input = Input::None,
                KeyCode::Enter => {
                    let message = text.trim().to_string();
                    if message.is_empty() {
                        view.warn("type a message first (Esc to cancel)");
                    } else {
                        view.input = Input::None;
                        return Some(Action::Broadcast(message));
                    }
                }
                KeyCode::Backspace => {
                    text.pop();
                    view.input = Input::Broadcast(text);
                }
                _ => {
                    if let Some(c) = plain(&key).filter(|_| text.chars().count() < MAX_MESSAGE) {
                        text.push(c);
                        view.input = Input::Broadcast(text);
                    }
                }
            }
            None
        }
        Input::Pace(mut text) => {
            match key.code {
                KeyCode::Esc => view.input = Input::None,
                KeyCode::Enter => match parse_pace(&text, view.lessons.len()) {
                    Ok(pace) => {
                        view.input = Input::None;
                        return Some(Action::Pace(pace));
                    }
                    // The command line's wording does not fit beside the prompt.
                    Err(_) => view.warn(format!(
                        "not a lesson: give 1 to {} or all",
                        view.lessons.len()
                    )),
                },
                KeyCode::Backspace => {
                    text.pop();
                    view.input = Input::Pace(text);
                }
                _ => {
                    if let Some(c) = plain(&key).filter(|c| c.is_ascii_alphanumeric()) {
                        if text.len() < 8 {
                            text.push(c);
                        }
                        view.input = Input::Pace(text);
                    }
                }
            }
            None
        }
        Input::Drill { choice, confirm } => drill_key(view, key, choice, confirm),
    }
}

fn normal_key(view: &mut View, key: KeyEvent) -> Option<Action> {
    let last = view.learners().saturating_sub(1);
    match (key.code, plain(&key)) {
        (KeyCode::Esc, _) | (_, Some('q')) => return Some(Action::Quit),
        (_, Some('b')) => view.input = Input::Broadcast(String::new()),
        (_, Some('p')) => view.input = Input::Pace(String::new()),
        (_, Some('d')) => {
            view.input = Input::Drill {
                choice: 0,
                confirm: false,
            }
        }
        (_, Some('e')) => return Some(Action::Export),
        (KeyCode::Down, _) | (_, Some('j')) => view.scroll = (view.scroll + 1).min(last),
        (KeyCode::Up, _) | (_, Some('k')) => view.scroll = view.scroll.saturating_sub(1),
        (KeyCode::PageDown, _) => view.scroll = (view.scroll + 10).min(last),
        (KeyCode::PageUp, _) => view.scroll = view.scroll.saturating_sub(10),
        (KeyCode::Home, _) => view.scroll = 0,
        _ => {}
    }
    None
}

fn drill_key(view: &mut View, key: KeyEvent, choice: usize, confirm: bool) -> Option<Action> {
    let pick = |choice, confirm| Input::Drill { choice, confirm };
    if confirm {
        match (key.code, plain(&key)) {
            (KeyCode::Enter, _) | (_, Some('y')) => {
                view.input = Input::None;
                return DRILLS.get(choice).map(|(action, _)| Action::Drill(action));
            }
            (KeyCode::Esc, _) | (_, Some('n')) => view.input = pick(choice, false),
            _ => {}
        }
        return None;
    }
    match (key.code, plain(&key)) {
        (KeyCode::Esc, _) => view.input = Input::None,
        (KeyCode::Up, _) | (_, Some('k')) => view.input = pick(choice.saturating_sub(1), false),
        (KeyCode::Down, _) | (_, Some('j')) => {
            view.input = pick((choice + 1).min(DRILLS.len() - 1), false)
        }
        (KeyCode::Enter, _) => view.input = pick(choice, true),
        _ => {}
    }
    None
}
