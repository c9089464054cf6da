//! The time as the app's loop read it. The tutorial's logic never reads a clock itself: the
//! loop stamps the time into a message, so tests can say what time it is.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// One reading of both clocks: the monotonic one for durations, the wall clock for records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    pub at: Instant,
    /// Seconds since the Unix epoch.
    pub unix: u64,
}

impl Now {
    /// Reads the clocks: for the loop that stamps messages, not for the logic they reach.
    pub fn read() -> Now {
        Now {
            at: Instant::now(),
            unix: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        }
    }

    /// The same clocks `d` later.
    pub fn later(self, d: Duration) -> Now {
        Now {
            at: self.at + d,
            unix: self.unix + d.as_secs(),
        }
    }

    /// How long after `earlier` this is (zero for a time that is not earlier).
    pub fn since(self, earlier: Instant) -> Duration {
        self.at.saturating_duration_since(earlier)
    }
}
