//! The one device for telling a wanted answer from a stale one: a counter that tags each
//! request, so the answer carries the tag back and `update` compares it with the newest.
//!
//! Tags are plain `u64`s: they travel in messages and effects (and as the SQL session's run
//! ids) without those layers knowing this type.

/// A counter of requests of one kind; only an answer tagged with [`Generation::current`]
/// is still wanted.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Generation(u64);

impl Generation {
    /// A counter whose first request gets `first`.
    pub fn starting_at(first: u64) -> Generation {
        Generation(first.saturating_sub(1))
    }

    /// The tag of the newest request.
    pub fn current(self) -> u64 {
        self.0
    }

    /// A new request: answers to every earlier one are stale from now on.
    pub fn advance(&mut self) -> u64 {
        self.0 += 1;
        self.0
    }

    /// Whether an answer tagged `tag` answers the newest request.
    pub fn is_current(self, tag: u64) -> bool {
        tag == self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_newest_tag_is_current() {
        let mut g = Generation::default();
        assert!(g.is_current(0));
        let first = g.advance();
        let second = g.advance();
        assert_eq!((first, second), (1, 2));
        assert!(!g.is_current(first));
        assert!(g.is_current(second));
        assert_eq!(g.current(), second);
    }

    #[test]
    fn a_counter_can_start_anywhere() {
        let mut g = Generation::starting_at(1);
        assert_eq!(g.advance(), 1);
        assert_eq!(g.advance(), 2);
    }
}
