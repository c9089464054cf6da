//! The instructor's live screen as data: its state ([`View`]), what a key does to it
//! ([`on_key`], which asks for an [`Action`] rather than doing it), and drawing it ([`draw`],
//! a function of the state alone, so snapshots of it are stable).

use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Cell, Clear, Paragraph, Row, Table};

use crate::classroom::instructor::{DRILLS, parse_pace};
use crate::classroom::roster::{self, LessonCompletion, LessonInfo, Roster, RosterRow};
use crate::tui::state::ThemeName;
use crate::tui::theme::{Theme, theme};

/// From this width up, the lessons stand beside the roster.
pub const WIDE: u16 = 140;
/// The longest broadcast the input takes.
const MAX_MESSAGE: usize = 500;

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

// --- drawing -------------------------------------------------------------------------------------

/// Cuts `s` to `max` characters, marking the cut with `…`.
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else if max == 0 {
        String::new()
    } else {
        let mut out: String = s.chars().take(max - 1).collect();
        out.push('…');
        out
    }
}

pub fn draw(frame: &mut Frame, view: &View) {
    let t = theme(view.theme);
    let area = frame.area();
    if area.is_empty() {
        return;
    }
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(1),
    ])
    .areas(area);
    title_bar(frame, title, view, &t);
    let wide = area.width >= WIDE;
    let (people, lessons) = if wide {
        let [a, right] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(52)]).areas(body);
        let h = u16::try_from(view.lessons.len() + 2).unwrap_or(u16::MAX);
        let [b, c] = Layout::vertical([Constraint::Length(h), Constraint::Fill(1)]).areas(right);
        class_panel(frame, c, view, &t);
        (a, b)
    } else {
        let rows = u16::try_from(view.lessons.len().div_ceil(2)).unwrap_or(u16::MAX);
        let h = (rows + 2).min(body.height / 2);
        let [a, b] = Layout::vertical([Constraint::Fill(1), Constraint::Length(h)]).areas(body);
        (a, b)
    };
    roster_table(frame, people, view, wide, &t);
    lesson_bars(frame, lessons, view, if wide { 1 } else { 2 }, &t);
    status_bar(frame, status, view, &t);
    if let Input::Drill { choice, confirm } = view.input {
        drill_box(frame, area, view, choice, confirm, &t);
    }
}

fn title_bar(frame: &mut Frame, area: Rect, view: &View, t: &Theme) {
    let sep = || Span::styled(" │ ", t.title_bar.patch(t.dim));
    let (title, pace, stuck) = match &view.roster {
        Some(r) => (
            r.session.title.as_str(),
            r.session
                .pace
                .map_or_else(|| "all lessons".to_string(), |p| format!("up to {p}")),
            roster::short_duration(r.session.stuck_after),
        ),
        None => (view.title.as_str(), "…".to_string(), "…".to_string()),
    };
    let link = match &view.link {
        Link::Connecting => Span::styled("connecting…", t.title_bar.patch(t.busy)),
        Link::Live => Span::styled("● live", t.title_bar.patch(t.ok)),
        Link::Lost(why) => Span::styled(
            format!("hub lost: {why}; reconnecting"),
            t.title_bar.patch(t.error),
        ),
    };
    // The link comes first: on a narrow terminal the end of the bar is cut.
    let spans = vec![
        Span::styled(" classroom ", t.app_name),
        Span::raw(" "),
        link,
        sep(),
        Span::styled(title.to_string(), t.title_bar.patch(t.strong)),
        Span::raw(format!(" (session {})", view.session_id)),
        sep(),
        Span::raw(format!("pace: {pace}")),
        sep(),
        Span::raw(format!("stuck after {stuck}")),
        sep(),
        Span::styled(view.hub.clone(), t.title_bar.patch(t.dim)),
    ];
    frame.render_widget(Paragraph::new(Line::from(spans)).style(t.title_bar), area);
}

fn pane<'a>(title: String, t: &Theme) -> Block<'a> {
    Block::bordered()
        .border_type(BorderType::Rounded)
        .border_style(t.border)
        .title(Line::styled(format!(" {title} "), t.pane_title))
}

fn ago(now: SystemTime, then: Option<SystemTime>) -> String {
    then.map_or_else(
        || "-".into(),
        |t| roster::short_duration(now.duration_since(t).unwrap_or(Duration::ZERO)),
    )
}

fn roster_table(frame: &mut Frame, area: Rect, view: &View, wide: bool, t: &Theme) {
    let rows = view.rows();
    let stuck = rows.iter().filter(|(_, s)| *s).count();
    let title = match &view.roster {
        None => "Roster: reading…".to_string(),
        Some(_) if stuck > 0 => format!("Roster: {} learners, {stuck} stuck", rows.len()),
        Some(_) => format!("Roster: {} learners", rows.len()),
    };
    let block = pane(title, t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if view.roster.is_some() && rows.is_empty() {
        let text = "Nobody joined yet. Learners run the `classroom join` command \
                    `classroom host` printed.";
        frame.render_widget(
            Paragraph::new(text)
                .style(t.dim)
                .wrap(ratatui::widgets::Wrap { trim: true }),
            inner,
        );
        return;
    }
    // Numbers keep their width; names, lessons and steps share what is left.
    let mut columns: Vec<(&str, u16)> = vec![
        ("", 1),
        ("Name", 0),
        ("Lesson", 0),
        ("Step", 0),
        ("On step", 7),
        ("Pass", 4),
        ("Help", 4),
        ("Hints", 5),
    ];
    if wide {
        columns.push(("Checks", 6));
    }
    columns.push(("Seen", 6));
    if wide {
        columns.push(("Drills", 6));
    }
    let fixed: u16 = columns.iter().map(|c| c.1).sum();
    let spacing = u16::try_from(columns.len() - 1).unwrap_or(0);
    let free = inner.width.saturating_sub(fixed + spacing);
    let name_w = free * 3 / 10;
    let lesson_w = free * 37 / 100;
    let step_w = free.saturating_sub(name_w + lesson_w);
    columns[1].1 = name_w;
    columns[2].1 = lesson_w;
    columns[3].1 = step_w;
    let header: Vec<&str> = columns.iter().map(|c| c.0).collect();
    let widths: Vec<Constraint> = columns.iter().map(|c| Constraint::Length(c.1)).collect();
    let visible = usize::from(inner.height.saturating_sub(1));
    let start = view.scroll.min(rows.len().saturating_sub(visible.max(1)));
    let body: Vec<Row> = rows
        .iter()
        .skip(start)
        .take(visible)
        .map(|(r, is_stuck)| {
            let on_step = roster::time_on_step(r, view.now)
                .map_or_else(|| "-".into(), roster::short_duration);
            let mut cells = vec![
                Cell::from(if *is_stuck { "!" } else { " " }),
                Cell::from(cut(&r.name, usize::from(name_w))),
                Cell::from(cut(
                    r.lesson.as_deref().unwrap_or("-"),
                    usize::from(lesson_w),
                )),
                Cell::from(cut(r.step.as_deref().unwrap_or("-"), usize::from(step_w))),
                Cell::from(Line::from(on_step).right_aligned()),
                Cell::from(Line::from(r.steps_passed.to_string()).right_aligned()),
                Cell::from(Line::from(r.steps_helped.to_string()).right_aligned()),
                Cell::from(Line::from(r.hints.to_string()).right_aligned()),
            ];
            if wide {
                cells.push(Cell::from(Line::from(r.checks.to_string()).right_aligned()));
            }
            cells.push(Cell::from(
                Line::from(ago(view.now, r.last_seen)).right_aligned(),
            ));
            if wide {
                cells.push(Cell::from(if r.allow_drills { "yes" } else { "no" }));
            }
            let style = if *is_stuck {
                t.warning.patch(t.strong)
            } else {
                t.text
            };
            Row::new(cells).style(style)
        })
        .collect();
    let table = Table::new(body, widths)
        .header(Row::new(header).style(t.table_header))
        .column_spacing(1);
    frame.render_widget(table, inner);
}

/// `██████▒▒░░░░`: solid for learners who completed the lesson, shaded for those in it.
fn bar(c: &LessonCompletion, learners: usize, width: usize) -> (String, String, String) {
    if learners == 0 || width == 0 {
        return (String::new(), String::new(), "░".repeat(width));
    }
    let done = c.completed * width / learners;
    let doing = ((c.completed + c.in_it) * width / learners).saturating_sub(done);
    let rest = width.saturating_sub(done + doing);
    ("█".repeat(done), "▒".repeat(doing), "░".repeat(rest))
}

fn lesson_bars(frame: &mut Frame, area: Rect, view: &View, columns: usize, t: &Theme) {
    let learners = view.learners();
    let block = pane(format!("Lessons: completed of {learners} (▒ in it)"), t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if view.lessons.is_empty() {
        frame.render_widget(
            Paragraph::new("No lessons in the catalog.").style(t.dim),
            inner,
        );
        return;
    }
    let pace = view.roster.as_ref().and_then(|r| r.session.pace);
    let completion = view.completion();
    let per_column = completion.len().div_ceil(columns);
    let col_w = usize::from(inner.width) / columns;
    let counts_w = 2 * learners.to_string().len() + 5;
    let label_w = (col_w / 2).saturating_sub(4).clamp(6, 26);
    let bar_w = col_w.saturating_sub(label_w + counts_w + 5).max(3);
    let mut lines: Vec<Line> = Vec::new();
    for row in 0..per_column {
        let mut spans = Vec::new();
        for col in 0..columns {
            let i = col * per_column + row;
            let Some(c) = completion.get(i) else { continue };
            let locked = pace.is_some_and(|p| i + 1 > p as usize);
            let label_style = if locked { t.dim } else { t.text };
            let (done, doing, rest) = bar(c, learners, bar_w);
            let label = format!("{:>2} {:<label_w$}", i + 1, cut(&c.id, label_w));
            let counts = format!(
                " {:>w$}/{learners} +{:<2}",
                c.completed,
                c.in_it,
                w = learners.to_string().len()
            );
            let used = label.chars().count() + 1 + bar_w + counts.chars().count();
            spans.push(Span::styled(label, label_style));
            spans.push(Span::raw(" "));
            spans.push(Span::styled(done, if locked { t.dim } else { t.ok }));
            spans.push(Span::styled(doing, if locked { t.dim } else { t.warning }));
            spans.push(Span::styled(rest, t.dim));
            spans.push(Span::styled(counts, label_style));
            if col + 1 < columns {
                spans.push(Span::raw(" ".repeat(col_w.saturating_sub(used))));
            }
        }
        lines.push(Line::from(spans));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// The class in numbers, and who is stuck where, for a terminal with room to spare.
fn class_panel(frame: &mut Frame, area: Rect, view: &View, t: &Theme) {
    if area.height < 3 {
        return;
    }
    let block = pane("Class".to_string(), t);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let Some(r) = &view.roster else {
        return;
    };
    let sum = |f: fn(&RosterRow) -> u32| r.rows.iter().map(f).sum::<u32>();
    let rows = view.rows();
    let stuck: Vec<&(&RosterRow, bool)> = rows.iter().filter(|(_, s)| *s).collect();
    let seen_lately = r
        .rows
        .iter()
        .filter(|row| {
            row.last_seen.is_some_and(|t| {
                view.now.duration_since(t).unwrap_or(Duration::ZERO) < Duration::from_secs(300)
            })
        })
        .count();
    let stat = |label: &str, value: String| {
        Line::from(vec![
            Span::styled(format!("{label:<26}"), t.dim),
            Span::styled(value, t.strong),
        ])
    };
    let mut lines = vec![
        stat("learners", r.rows.len().to_string()),
        stat("active in the last 5 min", seen_lately.to_string()),
        stat("allow drills", view.allowing_drills().to_string()),
        stat("steps passed", sum(|r| r.steps_passed).to_string()),
        stat("  of which with help", sum(|r| r.steps_helped).to_string()),
        stat("hints used", sum(|r| r.hints).to_string()),
        stat("checks run", sum(|r| r.checks).to_string()),
        Line::raw(""),
    ];
    if stuck.is_empty() {
        lines.push(Line::styled("Nobody is stuck.", t.ok));
    } else {
        lines.push(Line::styled(
            format!("Stuck ({})", stuck.len()),
            t.warning.patch(t.strong),
        ));
        let w = usize::from(inner.width);
        for (row, _) in stuck {
            let time = roster::time_on_step(row, view.now)
                .map_or_else(String::new, roster::short_duration);
            let place = format!(
                "{} / {}",
                row.lesson.as_deref().unwrap_or("-"),
                row.step.as_deref().unwrap_or("-")
            );
            let text = format!("{:<14} {time:>6}  {place}", cut(&row.name, 14));
            lines.push(Line::styled(cut(&text, w), t.warning));
        }
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

const KEYS: &[(&str, &str)] = &[
    ("b", "broadcast"),
    ("p", "pace"),
    ("d", "drill"),
    ("e", "export"),
    ("↑↓", "scroll"),
    ("q", "quit"),
];

fn status_bar(frame: &mut Frame, area: Rect, view: &View, t: &Theme) {
    let key = |k: &str| Span::styled(k.to_string(), t.status_bar.patch(t.key));
    let mut spans: Vec<Span> = Vec::new();
    match &view.input {
        Input::Broadcast(text) => {
            spans.push(Span::raw(" "));
            spans.push(key("Enter"));
            spans.push(Span::raw(" send  "));
            spans.push(key("Esc"));
            spans.push(Span::raw(" cancel │ Message to the class: "));
            // The end of a long message stays in sight: that is where the typing is.
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let room = usize::from(area.width).saturating_sub(used + 2);
            let count = text.chars().count();
            let shown: String = if count > room {
                let tail: String = text.chars().skip(count - room.saturating_sub(1)).collect();
                format!("…{tail}")
            } else {
                text.clone()
            };
            spans.push(Span::styled(
                format!("{shown}▏"),
                t.status_bar.patch(t.strong),
            ));
            if let Some(n) = view.notice.as_ref().filter(|n| n.error) {
                spans.push(Span::styled(" │ ", t.status_bar.patch(t.dim)));
                spans.push(Span::styled(n.text.clone(), t.status_bar.patch(t.error)));
            }
        }
        Input::Pace(text) => {
            spans.push(Span::raw(format!(
                " Unlock lessons up to (1-{} or all): ",
                view.lessons.len()
            )));
            spans.push(Span::styled(
                format!("{text}▏"),
                t.status_bar.patch(t.strong),
            ));
            // The refusal takes the place of the keys: they were on screen a moment ago.
            if let Some(n) = view.notice.as_ref().filter(|n| n.error) {
                spans.push(Span::styled(" │ ", t.status_bar.patch(t.dim)));
                spans.push(Span::styled(n.text.clone(), t.status_bar.patch(t.error)));
            } else {
                spans.push(Span::raw("  "));
                spans.push(key("Enter"));
                spans.push(Span::raw(" set  "));
                spans.push(key("Esc"));
                spans.push(Span::raw(" cancel"));
            }
        }
        Input::None | Input::Drill { .. } => {
            if let Some(busy) = &view.busy {
                spans.push(Span::styled(
                    format!(" {busy} "),
                    t.status_bar.patch(t.busy),
                ));
            } else if let Some(n) = &view.notice {
                let style = if n.error { t.error } else { t.ok };
                spans.push(Span::styled(
                    format!(" {} ", n.text),
                    t.status_bar.patch(style),
                ));
                spans.push(Span::styled("│", t.status_bar.patch(t.dim)));
            }
            for (k, what) in KEYS {
                spans.push(Span::raw(" "));
                spans.push(key(k));
                spans.push(Span::raw(format!(" {what}")));
            }
        }
    }
    // An error that does not fit on the line would lose its end, where the fix is: show the
    // notice alone on the line then.
    if let (Input::None, Some(n)) = (&view.input, &view.notice) {
        if n.error && n.text.chars().count() + 2 > usize::from(area.width) / 2 {
            spans = vec![Span::styled(
                format!(" {} ", n.text),
                t.status_bar.patch(t.error),
            )];
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(t.status_bar), area);
}

fn drill_box(frame: &mut Frame, area: Rect, view: &View, choice: usize, confirm: bool, t: &Theme) {
    let w = 60.min(area.width);
    let h = (u16::try_from(DRILLS.len()).unwrap_or(3) + 6).min(area.height);
    let r = Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    );
    frame.render_widget(Clear, r);
    let block = Block::bordered()
        .border_type(BorderType::Thick)
        .border_style(t.overlay_border)
        .title(Line::styled(
            " Drill on every learner's own cluster ",
            t.overlay_border,
        ));
    let inner = block.inner(r);
    frame.render_widget(block, r);
    let mut lines: Vec<Line> = DRILLS
        .iter()
        .enumerate()
        .map(|(i, (action, what))| {
            let style = if i == choice { t.selected } else { t.text };
            let mark = if i == choice { "›" } else { " " };
            Line::styled(format!("{mark} {action:<13} {what}"), style)
        })
        .collect();
    lines.push(Line::raw(""));
    let allowed = view.allowing_drills();
    let learners = view.learners();
    if confirm {
        let action = DRILLS.get(choice).map_or("", |d| d.0);
        lines.push(Line::styled(
            format!("Run {action} now on {allowed} of {learners} learners' clusters?"),
            t.warning.patch(t.strong),
        ));
        lines.push(Line::from(vec![
            Span::styled("y", t.key),
            Span::raw(" run   "),
            Span::styled("n", t.key),
            Span::raw(" back"),
        ]));
    } else {
        lines.push(Line::styled(
            format!("{allowed} of {learners} learners allow drills."),
            t.dim,
        ));
        lines.push(Line::from(vec![
            Span::styled("↑↓", t.key),
            Span::raw(" choose  "),
            Span::styled("Enter", t.key),
            Span::raw(" pick  "),
            Span::styled("Esc", t.key),
            Span::raw(" cancel"),
        ]));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
#[path = "ui_tests.rs"]
mod tests;
