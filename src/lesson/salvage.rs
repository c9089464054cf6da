//! Reading a progress file entry by entry, so that a damaged entry costs only itself: every
//! step record, lesson and field that loads is kept, and the raw text of each one that does
//! not is handed back, as written, to be kept beside the file.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::progress::{LearnerProgress, LessonRecord, StepRecord, VERSION};

/// One entry of the file that did not load.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lost {
    /// Where it sits: keys from the top of the file, e.g. `["lessons", "01-x", "steps", "a"]`.
    pub at: Vec<String>,
    /// Why it did not load, with the line of the file it starts on.
    pub cause: String,
    /// Its text as the file has it.
    pub raw: String,
}

impl Lost {
    /// The entry as a learner knows it: `step "a" of lesson "01-x"`.
    pub fn name(&self) -> String {
        match self.at.as_slice() {
            [l, lesson] if l == "lessons" => format!("lesson {lesson:?}"),
            [l, lesson, s, step] if l == "lessons" && s == "steps" => {
                format!("step {step:?} of lesson {lesson:?}")
            }
            [l, lesson, field] if l == "lessons" => format!("{field:?} of lesson {lesson:?}"),
            other => format!("{:?}", other.join(".")),
        }
    }
}

/// What could be read of a progress file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Salvaged {
    /// Every entry that loaded; `lost` holds the others (empty when the file is sound).
    Entries {
        progress: LearnerProgress,
        lost: Vec<Lost>,
    },
    /// Nothing could be read: the file is not a JSON object at all.
    Nothing { cause: String },
    /// The file is in a format newer than this build reads; it was not read further.
    Newer { found: u64 },
}

/// Reads `bytes` entry by entry. `learner` names progress whose own name did not load.
pub fn read(bytes: &[u8], learner: &str) -> Salvaged {
    let top: BTreeMap<String, &RawValue> = match serde_json::from_slice(bytes) {
        Ok(top) => top,
        Err(e) => {
            return Salvaged::Nothing {
                cause: e.to_string(),
            };
        }
    };
    // The version is looked at first: a newer file may not be in this one's shape.
    let found = top
        .get("version")
        .and_then(|v| serde_json::from_str::<u64>(v.get()).ok());
    if let Some(found) = found.filter(|&v| v > u64::from(VERSION)) {
        return Salvaged::Newer { found };
    }
    let mut reader = Reader {
        bytes,
        lost: Vec::new(),
    };
    let mut progress = LearnerProgress::new(learner);
    let top_field = |key: &str| vec![key.to_owned()];
    if let Some(v) = top.get("version") {
        progress.version = reader.parse(v, top_field("version")).unwrap_or(VERSION);
    }
    if let Some(v) = top.get("learner") {
        if let Some(name) = reader.parse(v, top_field("learner")) {
            progress.learner = name;
        }
    }
    if let Some(v) = top.get("current_lesson") {
        progress.current_lesson = reader.parse(v, top_field("current_lesson")).flatten();
    }
    if let Some(v) = top.get("lessons") {
        let lessons: Option<BTreeMap<String, &RawValue>> = reader.parse(v, top_field("lessons"));
        for (id, raw) in lessons.unwrap_or_default() {
            if let Some(record) = reader.lesson(&id, raw) {
                progress.lessons.insert(id, record);
            }
        }
    }
    Salvaged::Entries {
        progress,
        lost: reader.lost,
    }
}

struct Reader<'a> {
    bytes: &'a [u8],
    lost: Vec<Lost>,
}

impl<'a> Reader<'a> {
    /// `raw` as a `T`, or `None` with it noted as lost.
    fn parse<T: serde::Deserialize<'a>>(
        &mut self,
        raw: &'a RawValue,
        at: Vec<String>,
    ) -> Option<T> {
        match serde_json::from_str(raw.get()) {
            Ok(v) => Some(v),
            Err(e) => {
                self.lost.push(Lost {
                    at,
                    cause: format!("line {}: {}", self.line_of(raw), without_position(&e)),
                    raw: raw.get().to_owned(),
                });
                None
            }
        }
    }

    fn lesson(&mut self, id: &str, raw: &'a RawValue) -> Option<LessonRecord> {
        let at = |rest: &[&str]| {
            let mut at = vec!["lessons".to_owned(), id.to_owned()];
            at.extend(rest.iter().map(|s| (*s).to_owned()));
            at
        };
        let fields: BTreeMap<String, &RawValue> = self.parse(raw, at(&[]))?;
        let mut record = LessonRecord::default();
        if let Some(v) = fields.get("current_step") {
            record.current_step = self.parse(v, at(&["current_step"])).flatten();
        }
        if let Some(v) = fields.get("steps") {
            let steps: Option<BTreeMap<String, &RawValue>> = self.parse(v, at(&["steps"]));
            for (step, raw) in steps.unwrap_or_default() {
                if let Some(r) = self.parse::<StepRecord>(raw, at(&["steps", &step])) {
                    record.steps.insert(step, r);
                }
            }
        }
        Some(record)
    }

    /// The line of the file `raw` starts on. A borrowed raw value is a slice of the file.
    fn line_of(&self, raw: &RawValue) -> usize {
        let start = raw
            .get()
            .as_ptr()
            .addr()
            .checked_sub(self.bytes.as_ptr().addr())
            .filter(|&o| o <= self.bytes.len())
            .unwrap_or(0);
        1 + self.bytes[..start].iter().filter(|&&b| b == b'\n').count()
    }
}

/// serde_json's message without its "at line 1 column 12", which counts from the entry, not
/// from the file.
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let tail = format!(" at line {} column {}", e.line(), e.column());
    text.strip_suffix(&tail).unwrap_or(&text).to_owned()
}

/// The lost entries in the file's own shape, each as it was written, so a learner can mend
/// one and put it back.
pub fn kept_text(lost: &[Lost]) -> String {
    #[derive(Default)]
    struct Node {
        raw: Option<String>,
        children: BTreeMap<String, Node>,
    }
    fn render(node: &Node, indent: usize, out: &mut String) {
        if let Some(raw) = &node.raw {
            out.push_str(raw);
            return;
        }
        out.push_str("{\n");
        let n = node.children.len();
        for (i, (key, child)) in node.children.iter().enumerate() {
            out.push_str(&"  ".repeat(indent + 1));
            out.push_str(&serde_json::to_string(key).unwrap_or_else(|_| "\"?\"".into()));
            out.push_str(": ");
            render(child, indent + 1, out);
            out.push_str(if i + 1 < n { ",\n" } else { "\n" });
        }
        out.push_str(&"  ".repeat(indent));
        out.push('}');
    }
    let mut root = Node::default();
    for l in lost {
        let mut node = &mut root;
        for key in &l.at {
            node = node.children.entry(key.clone()).or_default();
        }
        node.raw = Some(l.raw.clone());
    }
    let mut out = String::new();
    render(&root, 0, &mut out);
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lesson::progress::StepOutcome;

    fn entries(text: &str) -> (LearnerProgress, Vec<Lost>) {
        match read(text.as_bytes(), "fallback") {
            Salvaged::Entries { progress, lost } => (progress, lost),
            other => panic!("expected entries, got {other:?}"),
        }
    }

    const ONE_BAD_STEP: &str = r#"{
  "version": 1,
  "learner": "ada",
  "current_lesson": "01-t",
  "lessons": {
    "01-t": {
      "current_step": "c",
      "steps": {
        "a": { "outcome": "passed" },
        "b": {"outcome":"aced", "hints_used": 2},
        "c": { "outcome": "solved-with-help", "seconds": 9 }
      }
    },
    "02-u": { "steps": { "x": { "outcome": "passed" } } }
  }
}"#;

    #[test]
    fn a_bad_step_costs_only_that_step() {
        let (p, lost) = entries(ONE_BAD_STEP);
        assert_eq!(p.learner, "ada");
        assert_eq!(p.current_lesson.as_deref(), Some("01-t"));
        let outcome = |l: &str, s: &str| p.step(l, s).and_then(|r| r.outcome);
        assert_eq!(outcome("01-t", "a"), Some(StepOutcome::Passed));
        assert_eq!(outcome("01-t", "c"), Some(StepOutcome::SolvedWithHelp));
        assert_eq!(outcome("02-u", "x"), Some(StepOutcome::Passed));
        assert_eq!(p.step("01-t", "b"), None);
        assert_eq!(p.lessons["01-t"].current_step.as_deref(), Some("c"));
        assert_eq!(lost.len(), 1, "{lost:?}");
        assert_eq!(lost[0].at, ["lessons", "01-t", "steps", "b"]);
        assert_eq!(lost[0].name(), "step \"b\" of lesson \"01-t\"");
        assert_eq!(lost[0].raw, r#"{"outcome":"aced", "hints_used": 2}"#);
        assert!(
            lost[0].cause.starts_with("line 10: unknown variant `aced`"),
            "{}",
            lost[0].cause
        );
    }

    #[test]
    fn bad_fields_and_lessons_are_lost_alone() {
        let text = r#"{"version": 1, "learner": 7, "current_lesson": ["x"],
            "lessons": {"01": [1], "02": {"current_step": 3, "steps": {"s": {"hints_used": 1}}},
                        "03": {"steps": "none"}}, "extra": true}"#;
        let (p, lost) = entries(text);
        let names: Vec<String> = lost.iter().map(Lost::name).collect();
        assert_eq!(
            names,
            [
                "\"learner\"",
                "\"current_lesson\"",
                "lesson \"01\"",
                "\"current_step\" of lesson \"02\"",
                "\"steps\" of lesson \"03\"",
            ]
        );
        assert_eq!(
            (p.learner.as_str(), p.current_lesson.as_deref()),
            ("fallback", None)
        );
        assert_eq!(p.step("02", "s").map(|r| r.hints_used), Some(1));
        assert!(!p.lessons.contains_key("01"));
        assert!(p.lessons["03"].steps.is_empty());
        assert!(lost[1].cause.starts_with("line 1: "), "{}", lost[1].cause);
        assert!(lost[2].cause.starts_with("line 2: "), "{}", lost[2].cause);
    }

    #[test]
    fn a_sound_file_loses_nothing_and_missing_fields_default() {
        let (p, lost) = entries(r#"{"lessons": {"l": {"steps": {"s": {}}}}}"#);
        assert!(lost.is_empty());
        assert_eq!((p.version, p.learner.as_str()), (VERSION, "fallback"));
        assert_eq!(p.step("l", "s"), Some(&StepRecord::default()));
    }

    #[test]
    fn not_an_object_and_newer_files_are_told_apart() {
        for text in ["", "{\"lessons\": {", "[]", "\"text\"", "\u{0}\u{ff}"] {
            assert!(
                matches!(read(text.as_bytes(), "x"), Salvaged::Nothing { .. }),
                "{text:?}"
            );
        }
        assert_eq!(
            read(br#"{"version": 2, "lessons": ["a new shape"]}"#, "x"),
            Salvaged::Newer { found: 2 }
        );
    }

    #[test]
    fn kept_text_has_the_file_s_shape_and_the_raw_entries() {
        let (_, lost) = entries(
            r#"{"learner": 7, "lessons": {"01": {"steps": {"a": {"outcome": "x"}, "b": 1.50}}}}"#,
        );
        let kept = kept_text(&lost);
        assert_eq!(
            kept,
            "{\n  \"learner\": 7,\n  \"lessons\": {\n    \"01\": {\n      \"steps\": {\n        \
             \"a\": {\"outcome\": \"x\"},\n        \"b\": 1.50\n      }\n    }\n  }\n}\n"
        );
        let back: serde_json::Value = serde_json::from_str(&kept).expect("kept text is JSON");
        assert_eq!(back["lessons"]["01"]["steps"]["a"]["outcome"], "x");
    }
}
