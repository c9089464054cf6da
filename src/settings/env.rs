//! `REPLICA_LAB_*` environment variables as a layer of settings. A variable that names no
//! setting is left out with a warning that names the closest known variable: one stray
//! variable in a shell must not stop every command.

use std::fmt;

use super::{ENV_PREFIX, Settings};

/// `REPLICA_LAB_*` variables read elsewhere: the log filter, a test-only panic hook, the needs
/// a test run must meet, re-recording the compose snapshots, and the image builder's mirror.
const NOT_SETTINGS: [&str; 5] = ["LOG", "PANIC_HOOK", "REQUIRE", "BLESS", "APT_MIRROR"];

/// A `REPLICA_LAB_*` variable that is neither a setting nor read elsewhere: it is ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnknownVar {
    pub name: String,
    /// The known variable nearest in spelling.
    pub closest: String,
}

impl fmt::Display for UnknownVar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} is not a replica-lab setting and is ignored; the closest known variable is {}",
            self.name, self.closest
        )
    }
}

/// The settings' names, as a config file spells them (`write_port`), read off the defaults so
/// a new field is known here without another list to keep.
fn setting_names() -> Vec<String> {
    match serde_json::to_value(Settings::default()) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Splits `REPLICA_LAB_*` pairs into settings (name lower-cased, as figment reads them) and
/// unknown variables. Variables without the prefix, the ones read elsewhere and a bare
/// `REPLICA_LAB_` are left out of both.
pub(super) fn split(
    pairs: impl IntoIterator<Item = (String, String)>,
) -> (Vec<(String, String)>, Vec<UnknownVar>) {
    let names = setting_names();
    let mut settings = Vec::new();
    let mut unknown = Vec::new();
    for (key, value) in pairs {
        let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if rest.is_empty() || NOT_SETTINGS.contains(&rest) {
            continue;
        }
        let name = rest.to_lowercase();
        if names.contains(&name) {
            settings.push((name, value));
        } else {
            unknown.push(UnknownVar {
                closest: closest(rest, &names),
                name: key,
            });
        }
    }
    (settings, unknown)
}

/// The known variable (`REPLICA_LAB_` + a setting or one read elsewhere) whose name is the
/// fewest edits from `rest`; ties go to the first in alphabetical order.
fn closest(rest: &str, settings: &[String]) -> String {
    let wanted = rest.to_uppercase();
    let mut known: Vec<String> = settings
        .iter()
        .map(|s| s.to_uppercase())
        .chain(NOT_SETTINGS.iter().map(|s| s.to_string()))
        .collect();
    known.sort();
    let best = known
        .iter()
        .min_by_key(|k| edit_distance(&wanted, k))
        .cloned()
        .unwrap_or_default();
    format!("{ENV_PREFIX}{best}")
}

/// Levenshtein distance: insertions, deletions and substitutions of one character each.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

/// Like figment's `Env`, but over explicit pairs (already split) instead of the process
/// environment, so tests can check precedence without touching global state.
pub(super) struct EnvPairs {
    pub(super) pairs: Vec<(String, String)>,
}

impl figment::Provider for EnvPairs {
    fn metadata(&self) -> figment::Metadata {
        figment::Metadata::named("environment variable(s)")
    }

    fn data(
        &self,
    ) -> Result<figment::value::Map<figment::Profile, figment::value::Dict>, figment::Error> {
        let mut dict = figment::value::Dict::new();
        for (name, value) in &self.pairs {
            let parsed: figment::value::Value = value
                .parse()
                .unwrap_or_else(|_| figment::value::Value::from(value.clone()));
            dict.insert(name.clone(), parsed);
        }
        Ok(figment::Profile::Default.collect(dict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn edit_distances() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("WRITE_PORT", "WRITE_PORT"), 0);
        assert_eq!(edit_distance("WRTIE_PORT", "WRITE_PORT"), 2);
        assert_eq!(edit_distance("REPLICA", "REPLICAS"), 1);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    #[test]
    fn settings_pass_and_unknown_variables_are_named_with_the_closest_known_one() {
        let (settings, unknown) = split(pairs(&[
            ("REPLICA_LAB_WRITE_PORT", "6000"),
            ("REPLICA_LAB_write_port", "6001"),
            ("REPLICA_LAB_REPLICA", "2"),
            ("REPLICA_LAB_FOO", "1"),
            ("REPLICA_LAB_LOG", "debug"),
            ("REPLICA_LAB_REQUIRE", "all"),
            ("REPLICA_LAB_BLESS", "1"),
            ("REPLICA_LAB_", "x"),
            ("HOME", "/root"),
        ]));
        assert_eq!(
            settings,
            pairs(&[("write_port", "6000"), ("write_port", "6001")])
        );
        let named: Vec<(&str, &str)> = unknown
            .iter()
            .map(|u| (u.name.as_str(), u.closest.as_str()))
            .collect();
        assert_eq!(named[0], ("REPLICA_LAB_REPLICA", "REPLICA_LAB_REPLICAS"));
        assert_eq!(named[1].0, "REPLICA_LAB_FOO");
        assert!(named[1].1.starts_with("REPLICA_LAB_"), "{named:?}");
        assert_eq!(named.len(), 2);
        assert_eq!(
            unknown[0].to_string(),
            "REPLICA_LAB_REPLICA is not a replica-lab setting and is ignored; the closest \
             known variable is REPLICA_LAB_REPLICAS"
        );
    }

    #[test]
    fn every_setting_is_a_known_name() {
        let names = setting_names();
        for field in [
            "write_port",
            "node_ports_from",
            "keys",
            "classroom_dir",
            "theme",
        ] {
            assert!(names.iter().any(|n| n == field), "{field}: {names:?}");
        }
        assert_eq!(
            closest("NODE_PORTS_FORM", &names),
            "REPLICA_LAB_NODE_PORTS_FROM"
        );
    }
}
