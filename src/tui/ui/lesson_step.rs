//! The open step in the lesson pane: its text, the quiz, the hints asked for, how each check
//! stands, and what to do next.

use ratatui::text::{Line, Span};

use super::lesson::{inline_owned, lines as markdown};
use crate::lesson::course::{CheckState, Course, FileNote};
use crate::lesson::model::Step;
use crate::lesson::progress::StepOutcome;
use crate::lesson::verify::describe;
use crate::tui::class_state::JoinedClass;
use crate::tui::theme::Theme;

fn owned(line: Line<'_>) -> Line<'static> {
    Line::from(
        line.spans
            .into_iter()
            .map(|s| Span::styled(s.content.into_owned(), s.style))
            .collect::<Vec<_>>(),
    )
    .style(line.style)
}

/// The step's text, its quiz and the hints asked for: the part that scrolls.
pub fn body<'a>(course: &Course, step: &'a Step, t: &Theme) -> Vec<Line<'a>> {
    let mut out = if step.text.contains("{{") {
        let filled = course.fill(&step.text);
        markdown(&filled, t).into_iter().map(owned).collect()
    } else {
        markdown(&step.text, t)
    };
    if let Some(quiz) = &step.quiz {
        out.push(Line::default());
        out.push(Line::styled("Question", t.heading));
        for l in quiz.question.lines() {
            out.push(inline_owned(l, t));
        }
        let answered = course.attempt.quiz_answer;
        for (i, choice) in quiz.choices.iter().enumerate() {
            let mark = match answered {
                Some(a) if a == i && quiz.is_right(i) => Span::styled(" ✓ ", t.ok),
                Some(a) if a == i => Span::styled(" ✗ ", t.error),
                _ => Span::raw("   "),
            };
            let mut line = inline_owned(choice, t);
            line.spans.insert(0, mark);
            line.spans
                .insert(1, Span::styled(format!("{}) ", i + 1), t.key));
            out.push(line);
        }
        match answered {
            Some(a) if quiz.is_right(a) => {
                for l in quiz.explain.lines() {
                    out.push(inline_owned(l, t).style(t.dim));
                }
            }
            // A wrong choice is marked ✗ above; the checks say to try another.
            Some(_) => {}
            None => out.push(Line::styled(
                "Answer with 1–9 in this pane (Tab moves here).",
                t.dim,
            )),
        }
    }
    if let Some(solution) = step.solution.as_ref().filter(|_| course.solution_shown) {
        out.push(Line::default());
        out.push(Line::styled("Reference solution", t.heading));
        if let Some(sql) = &solution.sql {
            for l in course.fill(sql).lines() {
                out.push(Line::styled(format!("  {l}"), t.key));
            }
        }
        for action in &solution.actions {
            out.push(Line::styled(format!("  then: {}", action.label()), t.dim));
        }
    }
    if course.hints_shown > 0 {
        out.push(Line::default());
        out.push(Line::styled("Hints", t.heading));
        for (i, hint) in step.hints.iter().take(course.hints_shown).enumerate() {
            let mut line = inline_owned(&course.fill(hint), t);
            line.spans
                .insert(0, Span::styled(format!(" {}. ", i + 1), t.dim));
            out.push(line);
        }
    }
    out
}

/// How each check stands and what to do next: always in sight at the foot of the pane.
pub fn status(
    course: &Course,
    class: Option<&JoinedClass>,
    step: &Step,
    t: &Theme,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    let done = course.step_done().is_some();
    for (check, state) in step.checks.iter().zip(&course.checks) {
        let (mark, style, detail) = match state {
            // Coming back to a finished step: its statements were run on an earlier visit.
            _ if done && !state.passed() => ("✓", t.dim, "done earlier".to_string()),
            CheckState::Pending => ("…", t.dim, "not checked yet".to_string()),
            CheckState::Judged(v) if v.pass => ("✓", t.ok, v.detail.clone()),
            CheckState::Judged(v) => ("✗", t.error, v.detail.clone()),
        };
        out.push(Line::from(vec![
            Span::styled(format!(" {mark} "), style),
            Span::styled(describe(check), t.strong),
            Span::raw(": "),
            Span::raw(detail),
        ]));
    }
    out.extend(footer(course, class, step, t));
    out
}

/// The instructor's latest message and the drill running or just run.
fn class_lines(class: &JoinedClass, t: &Theme) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if let Some(text) = &class.broadcast {
        out.push(Line::from(vec![
            Span::styled("✉ instructor: ", t.warning),
            Span::styled(text.clone(), t.strong),
        ]));
    }
    if let Some(d) = &class.drill {
        let (status, style) = match &d.outcome {
            None => (format!("{}…", d.what), t.busy),
            Some(Ok(text)) if text.is_empty() || text == "done" => {
                (format!("{} done", d.what), t.ok)
            }
            Some(Ok(text)) => (format!("{} done: {text}", d.what), t.ok),
            // Skipped, or the action's own failure (which names the action).
            Some(Err(why)) if d.what.is_empty() => (why.clone(), t.dim),
            Some(Err(why)) => (why.clone(), t.error),
        };
        let mut spans = vec![
            Span::styled(format!("⚡ drill: {} · ", d.action), t.warning),
            Span::styled(status, style),
        ];
        if !d.note.is_empty() {
            spans.push(Span::raw(format!(" · {}", d.note)));
        }
        out.push(Line::from(spans));
    }
    out
}

/// How the progress file stands: trouble as a warning, good news in the colour of success.
pub fn progress_line(note: &FileNote, t: &Theme) -> Line<'static> {
    let style = if note.trouble { t.warning } else { t.ok };
    Line::styled(note.text.clone(), style)
}

/// What is going on, or what to do next.
fn footer(
    course: &Course,
    class: Option<&JoinedClass>,
    step: &Step,
    t: &Theme,
) -> Vec<Line<'static>> {
    let mut out = Vec::new();
    if let Some(class) = class {
        out.extend(class_lines(class, t));
    }
    if let Some(note) = &course.progress_note {
        out.push(progress_line(note, t));
    }
    if let Some(note) = &course.notice {
        out.push(Line::styled(note.clone(), t.warning));
    }
    if let Some(busy) = &course.busy {
        out.push(Line::styled(format!("⧗ {}", busy.label()), t.busy));
        return out;
    }
    let last_step = course.at.is_some_and(|(l, s)| {
        course
            .lessons
            .get(l)
            .is_some_and(|lesson| s + 1 == lesson.steps.len())
    });
    let next = if last_step {
        "Ctrl-N: next lesson"
    } else {
        "Ctrl-N: next step"
    };
    let reference = match (&step.solution, course.solution_shown) {
        (None, _) => None,
        (Some(_), false) => Some("s in this pane: the reference solution"),
        (Some(_), true) => Some("s in this pane: hide the solution"),
    };
    let done = |text: String, out: &mut Vec<Line<'static>>| {
        out.push(Line::styled(text, t.ok));
        if let Some(r) = reference {
            out.push(Line::styled(r, t.dim));
        }
    };
    match course.step_done() {
        Some(StepOutcome::Passed) => done(format!("✓ Step done. {next}"), &mut out),
        Some(StepOutcome::SolvedWithHelp) => done(
            format!("✓ Step done with the solution's help. {next}"),
            &mut out,
        ),
        None => {
            let hints_left = step.hints.len().saturating_sub(course.hints_shown);
            let hint = if hints_left > 0 {
                format!("F4: a hint ({hints_left} left) · ")
            } else {
                String::new()
            };
            out.push(Line::styled(
                format!("Checks run after each statement. F3: check now · {hint}F9: solution"),
                t.dim,
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::class_state::DrillRun;
    use crate::tui::state::ThemeName;
    use crate::tui::theme::theme;

    fn text(lines: &[Line]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn the_instructor_s_message_and_the_drill_are_in_the_footer() {
        let t = theme(ThemeName::Mono);
        let mut class = JoinedClass::new("ann".into(), true);
        assert!(class_lines(&class, &t).is_empty());
        class.broadcast = Some("break until 11".into());
        class.drill = Some(DrillRun {
            id: 1,
            action: "kill-primary".into(),
            note: "watch the dashboard".into(),
            what: "kill pg1".into(),
            outcome: None,
        });
        assert_eq!(
            text(&class_lines(&class, &t)),
            [
                "✉ instructor: break until 11",
                "⚡ drill: kill-primary · kill pg1… · watch the dashboard"
            ]
        );
        if let Some(d) = &mut class.drill {
            d.outcome = Some(Ok("done".into()));
        }
        assert_eq!(
            text(&class_lines(&class, &t))[1],
            "⚡ drill: kill-primary · kill pg1 done · watch the dashboard"
        );
        class.drill = Some(DrillRun {
            id: 2,
            action: "stop-replica".into(),
            note: String::new(),
            what: String::new(),
            outcome: Some(Err("skipped: you did not allow drills".into())),
        });
        assert_eq!(
            text(&class_lines(&class, &t))[1],
            "⚡ drill: stop-replica · skipped: you did not allow drills"
        );
    }
}
