//! Colours and emphasis, as data: every style the screen uses, for a dark terminal, a light
//! one, and `NO_COLOR` (Mono: no colour at all, only bold, dim, reverse and underline).

use ratatui::style::{Color, Modifier, Style};

use super::state::ThemeName;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    /// Ordinary text.
    pub text: Style,
    /// Secondary text: hints, units, placeholders.
    pub dim: Style,
    pub border: Style,
    pub border_focus: Style,
    pub pane_title: Style,
    /// The top line.
    pub title_bar: Style,
    /// The app's name in the title bar.
    pub app_name: Style,
    /// The bottom line.
    pub status_bar: Style,
    /// A key in the status bar or the help box (`F5`).
    pub key: Style,
    /// Lesson headings.
    pub heading: Style,
    /// `code` in lessons.
    pub code: Style,
    pub strong: Style,
    /// *emphasis* in lessons.
    pub emphasis: Style,
    pub keyword: Style,
    pub string: Style,
    pub number: Style,
    pub comment: Style,
    pub meta: Style,
    pub error: Style,
    pub warning: Style,
    pub notice: Style,
    pub ok: Style,
    /// `[served by …]`.
    pub badge: Style,
    pub table_header: Style,
    /// SQL NULL in results.
    pub null: Style,
    /// The selected row of a list.
    pub selected: Style,
    pub primary: Style,
    pub replica: Style,
    pub unknown: Style,
    pub up: Style,
    pub down: Style,
    pub maint: Style,
    pub gauge: Style,
    /// Sparkline bars with something behind.
    pub spark: Style,
    /// Sparkline bars at zero.
    pub spark_zero: Style,
    pub bar: Style,
    pub bar_value: Style,
    /// A "running…" indicator.
    pub busy: Style,
    /// The border of an overlay box.
    pub overlay_border: Style,
}

pub fn theme(name: ThemeName) -> Theme {
    match name {
        ThemeName::Dark => dark(),
        ThemeName::Light => light(),
        ThemeName::Mono => mono(),
    }
}

/// The theme the settings name (`light`, else dark), unless `NO_COLOR` asks for none.
pub fn choose(setting: &str) -> ThemeName {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    pick(setting, no_color)
}

/// [`choose`] without the environment.
pub fn pick(setting: &str, no_color: bool) -> ThemeName {
    match setting {
        _ if no_color => ThemeName::Mono,
        "light" => ThemeName::Light,
        _ => ThemeName::Dark,
    }
}

#[cfg(test)]
#[test]
fn no_color_wins_over_the_setting() {
    assert_eq!(pick("light", true), ThemeName::Mono);
    assert_eq!(pick("light", false), ThemeName::Light);
    assert_eq!(pick("dark", false), ThemeName::Dark);
    assert_eq!(pick("solarized", false), ThemeName::Dark);
}

const fn fg(c: Color) -> Style {
    Style::new().fg(c)
}

const BOLD: Modifier = Modifier::BOLD;

fn dark() -> Theme {
    Theme {
        text: Style::new(),
        dim: fg(Color::DarkGray),
        border: fg(Color::DarkGray),
        border_focus: fg(Color::Cyan).add_modifier(BOLD),
        pane_title: fg(Color::Gray).add_modifier(BOLD),
        title_bar: fg(Color::White).bg(Color::Indexed(236)),
        app_name: fg(Color::Black).bg(Color::Cyan).add_modifier(BOLD),
        status_bar: fg(Color::Gray).bg(Color::Indexed(236)),
        key: fg(Color::Cyan).add_modifier(BOLD),
        heading: fg(Color::Cyan).add_modifier(BOLD),
        code: fg(Color::Yellow),
        strong: Style::new().add_modifier(BOLD),
        emphasis: Style::new().add_modifier(Modifier::ITALIC),
        keyword: fg(Color::LightBlue).add_modifier(BOLD),
        string: fg(Color::LightGreen),
        number: fg(Color::LightMagenta),
        comment: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
        meta: fg(Color::LightYellow),
        error: fg(Color::LightRed),
        warning: fg(Color::Yellow),
        notice: fg(Color::LightCyan),
        ok: fg(Color::LightGreen),
        badge: fg(Color::Black).bg(Color::Indexed(108)),
        table_header: Style::new().add_modifier(BOLD | Modifier::UNDERLINED),
        null: fg(Color::DarkGray).add_modifier(Modifier::ITALIC),
        selected: Style::new().bg(Color::Indexed(238)).add_modifier(BOLD),
        primary: fg(Color::LightMagenta).add_modifier(BOLD),
        replica: fg(Color::LightBlue),
        unknown: fg(Color::DarkGray),
        up: fg(Color::LightGreen),
        down: fg(Color::LightRed).add_modifier(BOLD),
        maint: fg(Color::Yellow).add_modifier(BOLD),
        gauge: fg(Color::Cyan).bg(Color::Indexed(236)),
        spark: fg(Color::Yellow),
        spark_zero: fg(Color::DarkGray),
        bar: fg(Color::Cyan),
        bar_value: fg(Color::Black).bg(Color::Cyan),
        busy: fg(Color::Yellow).add_modifier(BOLD),
        overlay_border: fg(Color::Cyan).add_modifier(BOLD),
    }
}

fn light() -> Theme {
    let grey = Color::Indexed(244);
    let brown = Color::Indexed(130);
    let green = Color::Indexed(28);
    let red = Color::Indexed(160);
    let blue = Color::Indexed(25);
    let purple = Color::Indexed(90);
    Theme {
        text: Style::new(),
        dim: fg(grey),
        border: fg(Color::Indexed(248)),
        border_focus: fg(blue).add_modifier(BOLD),
        pane_title: fg(Color::Indexed(238)).add_modifier(BOLD),
        title_bar: fg(Color::Black).bg(Color::Indexed(253)),
        app_name: fg(Color::White).bg(blue).add_modifier(BOLD),
        status_bar: fg(Color::Indexed(238)).bg(Color::Indexed(253)),
        key: fg(blue).add_modifier(BOLD),
        heading: fg(blue).add_modifier(BOLD),
        code: fg(brown),
        strong: Style::new().add_modifier(BOLD),
        emphasis: Style::new().add_modifier(Modifier::ITALIC),
        keyword: fg(blue).add_modifier(BOLD),
        string: fg(green),
        number: fg(purple),
        comment: fg(grey).add_modifier(Modifier::ITALIC),
        meta: fg(brown),
        error: fg(red),
        warning: fg(brown),
        notice: fg(Color::Indexed(30)),
        ok: fg(green),
        badge: fg(Color::Black).bg(Color::Indexed(151)),
        table_header: Style::new().add_modifier(BOLD | Modifier::UNDERLINED),
        null: fg(grey).add_modifier(Modifier::ITALIC),
        selected: Style::new().bg(Color::Indexed(153)).add_modifier(BOLD),
        primary: fg(purple).add_modifier(BOLD),
        replica: fg(blue),
        unknown: fg(grey),
        up: fg(green),
        down: fg(red).add_modifier(BOLD),
        maint: fg(brown).add_modifier(BOLD),
        gauge: fg(blue).bg(Color::Indexed(253)),
        spark: fg(brown),
        spark_zero: fg(Color::Indexed(250)),
        bar: fg(blue),
        bar_value: fg(Color::White).bg(blue),
        busy: fg(brown).add_modifier(BOLD),
        overlay_border: fg(blue).add_modifier(BOLD),
    }
}

fn mono() -> Theme {
    let m = |m: Modifier| Style::new().add_modifier(m);
    let plain = Style::new();
    Theme {
        text: plain,
        dim: m(Modifier::DIM),
        border: plain,
        border_focus: m(BOLD),
        pane_title: m(BOLD),
        title_bar: m(Modifier::REVERSED),
        app_name: m(Modifier::REVERSED | BOLD),
        status_bar: plain,
        key: m(Modifier::REVERSED),
        heading: m(BOLD | Modifier::UNDERLINED),
        code: m(Modifier::UNDERLINED),
        strong: m(BOLD),
        emphasis: m(Modifier::ITALIC),
        keyword: m(BOLD),
        string: plain,
        number: plain,
        comment: m(Modifier::DIM),
        meta: m(BOLD),
        error: m(BOLD),
        warning: m(BOLD),
        notice: plain,
        ok: plain,
        badge: m(Modifier::REVERSED),
        table_header: m(BOLD | Modifier::UNDERLINED),
        null: m(Modifier::DIM),
        selected: m(Modifier::REVERSED),
        primary: m(BOLD),
        replica: plain,
        unknown: m(Modifier::DIM),
        up: plain,
        down: m(BOLD | Modifier::UNDERLINED),
        maint: m(BOLD),
        gauge: plain,
        spark: plain,
        spark_zero: m(Modifier::DIM),
        bar: plain,
        bar_value: m(Modifier::REVERSED),
        busy: m(BOLD),
        overlay_border: m(BOLD),
    }
}
