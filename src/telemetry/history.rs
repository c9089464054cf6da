//! Recent values per series, for sparklines: a bounded window of time, not of samples.

use std::collections::{HashMap, VecDeque};

use super::model::Snapshot;

pub const DEFAULT_WINDOW_MS: u64 = 5 * 60 * 1000;

#[derive(Clone, Debug)]
pub struct History {
    window_ms: u64,
    series: HashMap<String, VecDeque<(u64, f64)>>,
}

impl Default for History {
    fn default() -> Self {
        History::new(DEFAULT_WINDOW_MS)
    }
}

impl History {
    pub fn new(window_ms: u64) -> Self {
        History {
            window_ms,
            series: HashMap::new(),
        }
    }

    pub fn push(&mut self, key: &str, at_ms: u64, value: f64) {
        let s = self.series.entry(key.to_string()).or_default();
        s.push_back((at_ms, value));
        let oldest = at_ms.saturating_sub(self.window_ms);
        while s.front().is_some_and(|(t, _)| *t < oldest) {
            s.pop_front();
        }
    }

    /// The points of one series, oldest first.
    pub fn series(&self, key: &str) -> impl Iterator<Item = (u64, f64)> + '_ {
        self.series.get(key).into_iter().flatten().copied()
    }

    /// Records the figures a dashboard plots: bytes behind per stage, lag times, reply age.
    pub fn record(&mut self, snap: &Snapshot) {
        let at = snap.taken_at_ms;
        for n in &snap.nodes {
            let Some(lag) = &n.lag else {
                continue;
            };
            self.push(&key(&n.name, "sent_bytes"), at, lag.sent_bytes as f64);
            self.push(&key(&n.name, "flush_bytes"), at, lag.flush_bytes as f64);
            self.push(&key(&n.name, "replay_bytes"), at, lag.replay_bytes as f64);
            if let Some(ms) = lag.replay_ms {
                self.push(&key(&n.name, "replay_ms"), at, ms);
            }
            if let Some(ms) = lag.reply_age_ms {
                self.push(&key(&n.name, "reply_age_ms"), at, ms);
            }
        }
    }
}

pub fn key(node: &str, figure: &str) -> String {
    format!("{node}.{figure}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_time_not_count() {
        let mut h = History::new(1_000);
        for t in 0..=30 {
            h.push("pg2.replay_bytes", t * 100, t as f64);
        }
        let points: Vec<(u64, f64)> = h.series("pg2.replay_bytes").collect();
        assert_eq!(points.first(), Some(&(2_000, 20.0)));
        assert_eq!(points.last(), Some(&(3_000, 30.0)));
        assert_eq!(points.len(), 11);
        assert_eq!(h.series("nothing").count(), 0);
    }
}
