//! Keys → actions. The bindings tests and documentation rely on are defaults; the config
//! file's `[keys]` table can move any action to another key.

use std::collections::{BTreeMap, HashMap};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for, independent of which key it was.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    Quit,
    Help,
    FocusEditor,
    Run,
    CycleTarget,
    ToggleFresh,
    FocusNext,
    FocusPrev,
    Cancel,
    HistorySearch,
    ServedBy,
    CheckNow,
    Hint,
    Solve,
    Lessons,
    NextStep,
    PrevStep,
}

impl Action {
    pub const ALL: [Action; 17] = [
        Action::Quit,
        Action::Help,
        Action::FocusEditor,
        Action::Run,
        Action::CycleTarget,
        Action::ToggleFresh,
        Action::FocusNext,
        Action::FocusPrev,
        Action::Cancel,
        Action::HistorySearch,
        Action::ServedBy,
        Action::CheckNow,
        Action::Hint,
        Action::Solve,
        Action::Lessons,
        Action::NextStep,
        Action::PrevStep,
    ];

    /// The name used in the config file.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::FocusEditor => "focus_editor",
            Action::Run => "run",
            Action::CycleTarget => "cycle_target",
            Action::ToggleFresh => "toggle_fresh",
            Action::FocusNext => "focus_next",
            Action::FocusPrev => "focus_prev",
            Action::Cancel => "cancel",
            Action::HistorySearch => "history_search",
            Action::ServedBy => "served_by",
            Action::CheckNow => "check_now",
            Action::Hint => "hint",
            Action::Solve => "solve",
            Action::Lessons => "lessons",
            Action::NextStep => "next_step",
            Action::PrevStep => "prev_step",
        }
    }

    fn default_key(self) -> &'static str {
        match self {
            Action::Quit => "ctrl-q",
            Action::Help => "f1",
            Action::FocusEditor => "f2",
            Action::Run => "f5",
            Action::CycleTarget => "f6",
            Action::ToggleFresh => "f7",
            Action::FocusNext => "tab",
            Action::FocusPrev => "shift-tab",
            Action::Cancel => "ctrl-c",
            Action::HistorySearch => "ctrl-r",
            Action::ServedBy => "f8",
            Action::CheckNow => "f3",
            Action::Hint => "f4",
            Action::Solve => "f9",
            Action::Lessons => "f10",
            Action::NextStep => "ctrl-n",
            Action::PrevStep => "ctrl-p",
        }
    }
}

/// A key as the config file writes it: `f5`, `ctrl-q`, `shift-tab`, `alt-x`, `x`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    code: KeyCode,
    ctrl: bool,
    alt: bool,
    shift: bool,
}

impl Key {
    pub fn parse(text: &str) -> Option<Key> {
        let lower = text.trim().to_ascii_lowercase();
        let mut parts: Vec<&str> = lower.split('-').collect();
        let last = parts.pop()?;
        let mut key = Key {
            code: KeyCode::Null,
            ctrl: false,
            alt: false,
            shift: false,
        };
        for p in parts {
            match p {
                "ctrl" | "c" => key.ctrl = true,
                "alt" | "a" => key.alt = true,
                "shift" | "s" => key.shift = true,
                _ => return None,
            }
        }
        key.code = match last {
            "tab" if key.shift => {
                // Terminals report Shift-Tab as BackTab; `of` drops the redundant shift.
                key.shift = false;
                KeyCode::BackTab
            }
            "tab" => KeyCode::Tab,
            "backtab" => KeyCode::BackTab,
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            f if f.len() > 1 && f.starts_with('f') => KeyCode::F(f[1..].parse().ok()?),
            c if c.chars().count() == 1 => KeyCode::Char(c.chars().next()?),
            _ => return None,
        };
        Some(key)
    }

    pub fn of(event: &KeyEvent) -> Key {
        let code = match event.code {
            KeyCode::Char(c) => KeyCode::Char(c.to_ascii_lowercase()),
            other => other,
        };
        Key {
            code,
            ctrl: event.modifiers.contains(KeyModifiers::CONTROL),
            alt: event.modifiers.contains(KeyModifiers::ALT),
            // BackTab already says shift; letters carry case, not a modifier we match on.
            shift: event.modifiers.contains(KeyModifiers::SHIFT)
                && !matches!(event.code, KeyCode::BackTab | KeyCode::Char(_)),
        }
    }
}

#[derive(Clone, Debug)]
pub struct Keymap {
    bindings: HashMap<Key, Action>,
}

impl Keymap {
    /// Defaults with the overrides applied; returns the names it could not use, so the app
    /// can say which config entries were ignored.
    pub fn new(overrides: &BTreeMap<String, String>) -> (Keymap, Vec<String>) {
        let mut bindings = HashMap::new();
        let mut ignored = Vec::new();
        for action in Action::ALL {
            let text = overrides
                .get(action.name())
                .map(String::as_str)
                .unwrap_or(action.default_key());
            match Key::parse(text) {
                Some(k) => {
                    bindings.insert(k, action);
                }
                None => {
                    ignored.push(format!("{} = {text:?}", action.name()));
                    if let Some(k) = Key::parse(action.default_key()) {
                        bindings.insert(k, action);
                    }
                }
            }
        }
        for name in overrides.keys() {
            if !Action::ALL.iter().any(|a| a.name() == name) {
                ignored.push(format!("unknown action {name:?}"));
            }
        }
        (Keymap { bindings }, ignored)
    }

    pub fn action(&self, event: &KeyEvent) -> Option<Action> {
        self.bindings.get(&Key::of(event)).copied()
    }
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::new(&BTreeMap::new()).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn the_documented_keys_are_the_defaults() {
        let k = Keymap::default();
        assert_eq!(
            k.action(&ev(KeyCode::F(1), KeyModifiers::NONE)),
            Some(Action::Help)
        );
        assert_eq!(
            k.action(&ev(KeyCode::F(2), KeyModifiers::NONE)),
            Some(Action::FocusEditor)
        );
        assert_eq!(
            k.action(&ev(KeyCode::F(5), KeyModifiers::NONE)),
            Some(Action::Run)
        );
        assert_eq!(
            k.action(&ev(KeyCode::F(6), KeyModifiers::NONE)),
            Some(Action::CycleTarget)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Tab, KeyModifiers::NONE)),
            Some(Action::FocusNext)
        );
        assert_eq!(
            k.action(&ev(KeyCode::BackTab, KeyModifiers::SHIFT)),
            Some(Action::FocusPrev)
        );
        assert_eq!(
            k.action(&ev(KeyCode::Char('q'), KeyModifiers::CONTROL)),
            Some(Action::Quit)
        );
        assert_eq!(k.action(&ev(KeyCode::Char('q'), KeyModifiers::NONE)), None);
    }

    #[test]
    fn overrides_move_an_action_and_bad_entries_are_reported() {
        let overrides = BTreeMap::from([
            ("run".to_string(), "ctrl-e".to_string()),
            ("help".to_string(), "hyper-x".to_string()),
            ("fly".to_string(), "f9".to_string()),
        ]);
        let (k, ignored) = Keymap::new(&overrides);
        assert_eq!(
            k.action(&ev(KeyCode::Char('e'), KeyModifiers::CONTROL)),
            Some(Action::Run)
        );
        assert_eq!(k.action(&ev(KeyCode::F(5), KeyModifiers::NONE)), None);
        assert_eq!(
            k.action(&ev(KeyCode::F(1), KeyModifiers::NONE)),
            Some(Action::Help),
            "kept"
        );
        assert_eq!(ignored, ["help = \"hyper-x\"", "unknown action \"fly\""]);
    }
}
