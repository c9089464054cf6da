//! Who may be primary, as plain data and pure rules: the node the cluster made primary last
//! and on which timeline, the nodes kept out until they are rewound, what a promotion would
//! cost, and which of two writable nodes is the stale one.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A WAL position, as PostgreSQL prints it (`0/3000148`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Lsn(pub u64);

impl Lsn {
    pub fn parse(text: &str) -> Option<Lsn> {
        let (hi, lo) = text.trim().split_once('/')?;
        let hi = u64::from_str_radix(hi, 16).ok()?;
        let lo = u64::from_str_radix(lo, 16).ok()?;
        (hi <= u64::from(u32::MAX) && lo <= u64::from(u32::MAX)).then_some(Lsn((hi << 32) | lo))
    }

    /// Bytes from `earlier` to `self`; zero when `earlier` is not earlier.
    pub fn bytes_after(self, earlier: Lsn) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl fmt::Display for Lsn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:X}/{:X}", self.0 >> 32, self.0 & 0xFFFF_FFFF)
    }
}

impl TryFrom<String> for Lsn {
    type Error = String;
    fn try_from(text: String) -> Result<Self, Self::Error> {
        Lsn::parse(&text).ok_or_else(|| format!("{text:?} is not a WAL position like 0/3000148"))
    }
}

impl From<Lsn> for String {
    fn from(lsn: Lsn) -> String {
        lsn.to_string()
    }
}

/// Why a node is kept from running as it would on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FenceKind {
    /// It was primary on an older timeline: started as it is, it would be a second primary.
    FormerPrimary,
    /// A standby whose WAL went past the point where the current timeline forked: it cannot
    /// follow the primary and holds commits the primary never had.
    Diverged,
}

impl FenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            FenceKind::FormerPrimary => "former primary",
            FenceKind::Diverged => "diverged",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fence {
    pub node: String,
    pub kind: FenceKind,
    /// What happened, in a sentence the user can act on.
    pub why: String,
}

/// What the cluster record knows about roles. Roles are still asked of the servers; this is
/// what the app decided, so that a node cannot decide otherwise by being restarted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Authority {
    /// The node the cluster made primary last; `None` in records from before it was kept.
    pub primary: Option<String>,
    /// The timeline that primary writes on.
    pub timeline: u32,
    /// Where that timeline forked off the one before: a standby past it cannot follow.
    pub fork: Option<Lsn>,
    pub fenced: Vec<Fence>,
}

impl Authority {
    pub fn new(primary: &str) -> Authority {
        Authority {
            primary: Some(primary.to_string()),
            timeline: 1,
            fork: None,
            fenced: Vec::new(),
        }
    }

    pub fn fence_of(&self, node: &str) -> Option<&Fence> {
        self.fenced.iter().find(|f| f.node == node)
    }

    pub fn fence(&mut self, node: &str, kind: FenceKind, why: String) {
        self.fenced.retain(|f| f.node != node);
        self.fenced.push(Fence {
            node: node.to_string(),
            kind,
            why,
        });
    }

    pub fn unfence(&mut self, node: &str) {
        self.fenced.retain(|f| f.node != node);
    }

    /// Records a promotion: `node` leads `timeline`, forked at `fork`; the primary before it
    /// is fenced.
    pub fn promoted(&mut self, node: &str, timeline: u32, fork: Option<Lsn>) {
        if let Some(old) = self.primary.clone().filter(|old| old != node) {
            self.fence(
                &old,
                FenceKind::FormerPrimary,
                format!(
                    "{old} was primary on timeline {} until {node} was promoted (timeline {timeline})",
                    self.timeline
                ),
            );
        }
        self.unfence(node);
        self.primary = Some(node.to_string());
        self.timeline = timeline;
        self.fork = fork;
    }
}

/// A standby that has more WAL than the node about to be promoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ahead {
    pub node: String,
    pub bytes: u64,
}

/// The standbys that received more WAL than `target`, most ahead first: promoting `target`
/// loses what they have beyond it. `received` pairs each running standby with its position.
pub fn ahead_of(target: &str, received: &[(String, Lsn)]) -> Vec<Ahead> {
    let Some(mine) = received.iter().find(|(n, _)| n == target).map(|(_, l)| *l) else {
        return Vec::new();
    };
    let mut ahead: Vec<Ahead> = received
        .iter()
        .filter(|(n, l)| n != target && *l > mine)
        .map(|(n, l)| Ahead {
            node: n.clone(),
            bytes: l.bytes_after(mine),
        })
        .collect();
    ahead.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.node.cmp(&b.node)));
    ahead
}

/// Whether a standby at `received` on an older timeline can follow a timeline that forked at
/// `fork`: only if it has nothing past the fork.
pub fn can_follow(received: Lsn, fork: Lsn) -> bool {
    received <= fork
}

/// The fork point in a timeline history file (`pg_wal/0000000N.history`): its last line reads
/// `parentTLI<TAB>switchpoint<TAB>reason`.
pub fn history_switchpoint(history: &str) -> Option<Lsn> {
    history
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().nth(1))
        .filter_map(Lsn::parse)
        .next_back()
}

/// Of the nodes that accept writes now, with their timelines, the one that should take writes:
/// the newest timeline; on a tie the one the record names, else the first by name. `None` when
/// fewer than two accept writes, which is no split brain.
pub fn split_brain_winner<'a>(
    writable: &'a [(String, Option<u32>)],
    recorded: Option<&str>,
) -> Option<&'a str> {
    if writable.len() < 2 {
        return None;
    }
    let newest = writable.iter().filter_map(|(_, t)| *t).max();
    let mut best: Vec<&(String, Option<u32>)> =
        writable.iter().filter(|(_, t)| *t == newest).collect();
    best.sort_by(|a, b| a.0.cmp(&b.0));
    best.iter()
        .find(|(n, _)| Some(n.as_str()) == recorded)
        .or(best.first())
        .map(|(n, _)| n.as_str())
}

/// Bytes as a person reads them: `184 B`, `12.5 kB`, `3.0 MB`.
pub fn human_bytes(bytes: u64) -> String {
    match bytes {
        b if b < 1000 => format!("{b} B"),
        b if b < 1_000_000 => format!("{:.1} kB", b as f64 / 1000.0),
        b => format!("{:.1} MB", b as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lsn(s: &str) -> Lsn {
        Lsn::parse(s).expect("lsn")
    }

    #[test]
    fn lsns_parse_print_and_compare_like_postgres() {
        assert_eq!(lsn("0/3000148").0, 0x300_0148);
        assert_eq!(lsn("1/0").0, 1 << 32);
        assert_eq!(lsn("16/B374D848").to_string(), "16/B374D848");
        assert!(lsn("1/0") > lsn("0/FFFFFFFF"));
        for bad in ["", "0", "x/1", "0/", "/1", "100000000/0", "0/1/2"] {
            assert_eq!(Lsn::parse(bad), None, "{bad}");
        }
        assert_eq!(lsn("0/200").bytes_after(lsn("0/100")), 256);
        assert_eq!(lsn("0/100").bytes_after(lsn("0/200")), 0);
    }

    #[test]
    fn the_replica_behind_another_is_told_what_promoting_it_loses() {
        let received = vec![
            ("pg2".to_string(), lsn("0/3000100")),
            ("pg3".to_string(), lsn("0/3000000")),
            ("pg4".to_string(), lsn("0/3000100")),
        ];
        assert_eq!(
            ahead_of("pg3", &received),
            [
                Ahead {
                    node: "pg2".into(),
                    bytes: 256
                },
                Ahead {
                    node: "pg4".into(),
                    bytes: 256
                }
            ]
        );
        assert!(ahead_of("pg2", &received).is_empty(), "a tie loses nothing");
        assert!(ahead_of("pg9", &received).is_empty());
    }

    #[test]
    fn a_standby_follows_only_when_nothing_of_it_is_past_the_fork() {
        assert!(can_follow(lsn("0/3000000"), lsn("0/3000000")));
        assert!(can_follow(lsn("0/2000000"), lsn("0/3000000")));
        assert!(!can_follow(lsn("0/3000001"), lsn("0/3000000")));
    }

    #[test]
    fn the_fork_is_the_last_line_of_the_history_file() {
        let h = "1\t0/3000148\tno recovery target specified\n\n\
                 2\t0/5000A0\tno recovery target specified\n";
        assert_eq!(history_switchpoint(h), Some(lsn("0/5000A0")));
        assert_eq!(history_switchpoint(""), None);
    }

    #[test]
    fn the_newest_timeline_takes_writes_in_a_split_brain() {
        let w = |v: &[(&str, Option<u32>)]| -> Vec<(String, Option<u32>)> {
            v.iter().map(|(n, t)| (n.to_string(), *t)).collect()
        };
        assert_eq!(split_brain_winner(&w(&[("pg1", Some(1))]), None), None);
        let two = w(&[("pg1", Some(1)), ("pg3", Some(2))]);
        assert_eq!(split_brain_winner(&two, Some("pg1")), Some("pg3"));
        let tie = w(&[("pg1", Some(2)), ("pg3", Some(2))]);
        assert_eq!(split_brain_winner(&tie, Some("pg3")), Some("pg3"));
        assert_eq!(split_brain_winner(&tie, None), Some("pg1"));
    }

    #[test]
    fn a_promotion_fences_the_primary_before_it_and_frees_the_new_one() {
        let mut a = Authority::new("pg1");
        a.fence("pg2", FenceKind::Diverged, "old".into());
        a.promoted("pg2", 2, Some(lsn("0/5000000")));
        assert_eq!(a.primary.as_deref(), Some("pg2"));
        assert_eq!(a.timeline, 2);
        assert!(a.fence_of("pg2").is_none());
        let f = a.fence_of("pg1").expect("pg1 fenced");
        assert_eq!(f.kind, FenceKind::FormerPrimary);
        assert!(
            f.why.contains("timeline 1") && f.why.contains("timeline 2"),
            "{}",
            f.why
        );
        let text = toml::to_string(&a).expect("encode");
        assert_eq!(toml::from_str::<Authority>(&text).expect("decode"), a);
    }
}
