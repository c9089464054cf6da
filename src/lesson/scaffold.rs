//! `lessons new ID`: a lesson file to start from, with one step that already works, so an
//! instructor edits a lesson that passes `lessons check` and `lessons verify` instead of
//! writing the format from its documentation.

use super::validate::is_kebab;

/// Why an id cannot name a new lesson.
pub fn check_id(id: &str) -> Result<(), String> {
    if is_kebab(id) {
        Ok(())
    } else {
        Err(format!(
            "invalid lesson id {id:?}: use lowercase letters, digits and single hyphens, like \
             15-my-topic (files sort by it, so a number first puts it in order)"
        ))
    }
}

/// `15-my-topic` → `My topic`.
fn title_of(id: &str) -> String {
    let words: Vec<&str> = id
        .split('-')
        .skip_while(|w| w.chars().all(|c| c.is_ascii_digit()))
        .collect();
    let text = if words.is_empty() {
        id.to_string()
    } else {
        words.join(" ")
    };
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// The lesson's text: one step that writes a row on the primary and checks that it reached
/// every replica, each field with a comment saying what it is for.
pub fn lesson(id: &str) -> String {
    let title = title_of(id);
    let table = format!("{}_demo", id.replace('-', "_"));
    let table = if table.starts_with(|c: char| c.is_ascii_digit()) {
        format!("l{table}")
    } else {
        table
    };
    format!(
        r##"# A lesson for replica-lab; the format is documented in src/lesson/mod.rs.
# Try it: replica-lab lessons check {id}.toml, then replica-lab lessons verify {id}.toml
format = 1
id = "{id}"                      # the file's name without .toml
title = "{title}"
summary = """One or two sentences for the lesson list: what the learner will see and do."""
# requires = ["02-write-read"]   # lessons to finish first
# replicas = 3                   # the cluster size the lesson is written for (the default)
setup = [{{ sql = "CREATE TABLE IF NOT EXISTS {table} (id bigint PRIMARY KEY, note text)" }}]

[[steps]]
id = "write-and-see"
title = "Write on the primary"
target = "write"                 # where the console points: write, read, pg1…pg10
sql = "-- add a row to {table}"
text = """
# Write on the primary

The console points at `write` ({{{{write}}}}), which always reaches the primary. Add a row:

```
INSERT INTO {table} (id, note) VALUES (1, 'hello');
```

The step passes once the row has reached every replica.
"""
hints = [
  "Stay on `write`: only the primary takes writes.",
  "Run: INSERT INTO {table} (id, note) VALUES (1, 'hello');",
]

[steps.solution]                 # what `lessons verify` and F9 run
sql = "INSERT INTO {table} (id, note) VALUES (1, 'hello') ON CONFLICT (id) DO NOTHING;"

[[steps.checks]]                 # the learner ran it, on the primary
kind = "ran"
matches = "insert into {table}"
success = true
target = "write"

[[steps.checks]]                 # and every replica has the row: true however often it ran
kind = "sql"
target = "replicas"
query = "SELECT count(*) FROM {table} WHERE id = 1"
expect = 1
within = "10s"
"##
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_new_lesson_loads_as_written() {
        for id in ["15-my-topic", "failover-drill", "7"] {
            let text = lesson(id);
            let parsed = crate::lesson::load::parse(&format!("{id}.toml"), &text)
                .unwrap_or_else(|e| panic!("{id}: {e:?}\n{text}"));
            assert_eq!(parsed.id, id);
            assert_eq!(parsed.steps.len(), 1);
        }
        assert_eq!(title_of("15-my-topic"), "My topic");
        assert_eq!(title_of("failover-drill"), "Failover drill");
        assert_eq!(title_of("7"), "7");
    }

    #[test]
    fn ids_that_would_not_load_are_refused() {
        assert!(check_id("15-my-topic").is_ok());
        for bad in ["", "My-Topic", "a--b", "a b", "../x", "-a"] {
            assert!(check_id(bad).is_err(), "{bad:?}");
        }
    }
}
