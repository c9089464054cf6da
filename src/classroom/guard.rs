//! What the hub refuses of a learner's events (`migrations/0003_guard.sql`), as the learner's
//! side needs to know it: which refusals mean the event is dropped, which mean "later", and
//! how to keep the app's own events inside the limits.

use std::borrow::Cow;
use std::time::Duration;

use tokio_postgres::error::SqlState;

/// The event's lesson is not in the class's catalogue, or it names none.
pub const UNKNOWN_LESSON: &str = "RL001";
/// The event's step is not a step of its lesson in the catalogue, or it names none.
pub const UNKNOWN_STEP: &str = "RL002";
/// The event's time is too far ahead of the hub's clock, or before the learner joined.
pub const OUT_OF_TIME: &str = "RL003";
/// The event's detail is larger than [`DETAIL_MAX_BYTES`].
pub const DETAIL_TOO_LARGE: &str = "RL004";
/// More than [`RATE_EVENTS`] events from one learner in one [`RATE_WINDOW`].
pub const TOO_FAST: &str = "RL005";

/// The largest detail the hub takes, in bytes of its JSON text as PostgreSQL writes it.
pub const DETAIL_MAX_BYTES: usize = 4096;
/// Events one learner may send in one window of [`RATE_WINDOW`].
pub const RATE_EVENTS: usize = 300;
pub const RATE_WINDOW: Duration = Duration::from_secs(10);
/// How far a learner's clock may be off: ahead of the hub's, or behind their joining.
pub const CLOCK_SLACK: Duration = Duration::from_secs(5 * 60);

/// What a failed delivery means for the events in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// The hub will never take it as it is: drop it, say so, and go on with the rest.
    Refused,
    /// Too many at once: the same events go again a little later.
    Throttled,
    /// The hub is away or unwell: try again, as for any other failure.
    Retry,
}

/// The fate of a delivery the hub answered with `code`. Besides the guard's own refusals,
/// data errors (class 22) and broken constraints (class 23, e.g. an unknown kind) would
/// fail the same way every time.
pub fn fate(code: Option<&SqlState>) -> Fate {
    let Some(code) = code.map(SqlState::code) else {
        return Fate::Retry;
    };
    match code {
        TOO_FAST => Fate::Throttled,
        UNKNOWN_LESSON | UNKNOWN_STEP | OUT_OF_TIME | DETAIL_TOO_LARGE => Fate::Refused,
        c if c.starts_with("22") || c.starts_with("23") => Fate::Refused,
        _ => Fate::Retry,
    }
}

/// The most a detail's compact JSON may take for the hub to take it: PostgreSQL's text of a
/// `jsonb` adds a blank after each `:` and `,`, so at most half as much again.
pub const DETAIL_FIT_BYTES: usize = DETAIL_MAX_BYTES / 2;
/// Strings in a detail that does not fit are cut to this many characters first.
const STRING_CUT: usize = 160;

/// `detail` made to fit [`DETAIL_FIT_BYTES`]: as it is when it does; else with long strings
/// cut; else only its top-level numbers, booleans and short strings, marked `"cut": true`.
pub fn fit_detail(detail: serde_json::Value) -> serde_json::Value {
    if json_len(&detail) <= DETAIL_FIT_BYTES {
        return detail;
    }
    let cut = cut_strings(&detail);
    if json_len(&cut) <= DETAIL_FIT_BYTES {
        return cut;
    }
    let mut kept = serde_json::Map::new();
    kept.insert("cut".into(), serde_json::Value::Bool(true));
    if let serde_json::Value::Object(fields) = cut {
        for (key, value) in fields {
            let scalar = matches!(
                value,
                serde_json::Value::Number(_)
                    | serde_json::Value::Bool(_)
                    | serde_json::Value::Null
                    | serde_json::Value::String(_)
            );
            if !scalar || key == "cut" {
                continue;
            }
            kept.insert(key.clone(), value);
            if json_len(&serde_json::Value::Object(kept.clone())) > DETAIL_FIT_BYTES {
                kept.remove(&key);
            }
        }
    }
    serde_json::Value::Object(kept)
}

fn json_len(v: &serde_json::Value) -> usize {
    serde_json::to_vec(v).map_or(usize::MAX, |b| b.len())
}

fn cut_strings(v: &serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match v {
        Value::String(s) => Value::String(cut(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(cut_strings).collect()),
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (cut(k).into_owned(), cut_strings(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn cut(s: &str) -> Cow<'_, str> {
    if s.chars().count() <= STRING_CUT {
        return Cow::Borrowed(s);
    }
    let mut out: String = s.chars().take(STRING_CUT - 1).collect();
    out.push('…');
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The numbers and codes here are the migration's: a change to one side shows here.
    #[test]
    fn the_rust_side_says_what_the_migration_does() {
        let sql = include_str!("migrations/0003_guard.sql");
        for code in [
            UNKNOWN_LESSON,
            UNKNOWN_STEP,
            OUT_OF_TIME,
            DETAIL_TOO_LARGE,
            TOO_FAST,
        ] {
            assert!(sql.contains(&format!("ERRCODE = '{code}'")), "{code}");
        }
        assert!(sql.contains(&format!("bytes > {DETAIL_MAX_BYTES}")));
        assert!(sql.contains(&format!("spent > {RATE_EVENTS}")));
        let window = format!("interval '{} seconds'", RATE_WINDOW.as_secs());
        assert_eq!(sql.matches(&window).count(), 2, "{window}");
        let slack = format!("interval '{} minutes'", CLOCK_SLACK.as_secs() / 60);
        assert_eq!(sql.matches(&slack).count(), 2, "{slack}");
    }

    #[test]
    fn refusals_drop_the_event_and_the_rate_limit_waits() {
        let code = |c: &str| SqlState::from_code(c);
        for c in [
            UNKNOWN_LESSON,
            UNKNOWN_STEP,
            OUT_OF_TIME,
            DETAIL_TOO_LARGE,
            "23514",
            "22008",
        ] {
            assert_eq!(fate(Some(&code(c))), Fate::Refused, "{c}");
        }
        assert_eq!(fate(Some(&code(TOO_FAST))), Fate::Throttled);
        for c in ["42501", "42P01", "57P01", "08006", "53300"] {
            assert_eq!(fate(Some(&code(c))), Fate::Retry, "{c}");
        }
        assert_eq!(fate(None), Fate::Retry, "no answer at all");
    }

    #[test]
    fn a_small_detail_is_kept_as_it_is() {
        let d = json!({ "passing": 2, "total": 3, "verdicts": [{ "detail": "ok" }] });
        assert_eq!(fit_detail(d.clone()), d);
    }

    #[test]
    fn long_strings_are_cut_before_anything_is_left_out() {
        let long = "x".repeat(1000);
        let d = json!({ "passing": 1, "verdicts": [
            { "check": "a", "detail": long }, { "check": "b", "detail": long },
            { "check": "c", "detail": long },
        ] });
        let fit = fit_detail(d);
        assert!(json_len(&fit) <= DETAIL_FIT_BYTES);
        assert_eq!(fit["passing"], 1);
        assert_eq!(fit["verdicts"].as_array().map(Vec::len), Some(3));
        let cut = fit["verdicts"][0]["detail"].as_str().unwrap_or_default();
        assert_eq!(cut.chars().count(), STRING_CUT);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn a_detail_too_large_keeps_its_numbers_and_says_it_was_cut() {
        let many: Vec<String> = (0..500).map(|i| format!("verdict {i}")).collect();
        let d = json!({ "passing": 4, "total": 9, "ok": true, "verdicts": many });
        let fit = fit_detail(d);
        assert!(json_len(&fit) <= DETAIL_FIT_BYTES);
        assert_eq!(
            fit,
            json!({ "cut": true, "passing": 4, "total": 9, "ok": true })
        );
        let fit = fit_detail(json!(vec![1; 5000]));
        assert_eq!(fit, json!({ "cut": true }));
        let keys: serde_json::Map<String, serde_json::Value> =
            (0..400).map(|i| (format!("k{i}"), json!(i))).collect();
        assert!(json_len(&fit_detail(serde_json::Value::Object(keys))) <= DETAIL_FIT_BYTES);
    }
}
