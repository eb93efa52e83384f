//! Batching file events: changes are collected until none has come for a
//! quiet period (docker compose waits 500 ms), then handed over at once.
//! A file that never stops changing still gets synced: a batch waits at most
//! [`LONGEST`] after its first change. The clock is passed in, so the logic
//! is tested without sleeping.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// docker compose's quiet period.
pub const QUIET: Duration = Duration::from_millis(500);
/// The longest a change waits while others keep coming.
pub const LONGEST: Duration = Duration::from_secs(5);

#[derive(Debug)]
pub struct Debouncer {
    quiet: Duration,
    longest: Duration,
    pending: BTreeSet<PathBuf>,
    first_change: Option<Instant>,
    last_change: Option<Instant>,
}

impl Debouncer {
    pub fn new(quiet: Duration, longest: Duration) -> Self {
        Debouncer {
            quiet,
            longest,
            pending: BTreeSet::new(),
            first_change: None,
            last_change: None,
        }
    }

    /// Record a change of `path` seen at `now`.
    pub fn add(&mut self, path: PathBuf, now: Instant) {
        self.pending.insert(path);
        self.first_change.get_or_insert(now);
        self.last_change = Some(now);
    }

    /// When the pending batch becomes due, if there is one.
    pub fn deadline(&self) -> Option<Instant> {
        let quiet = self.last_change? + self.quiet;
        Some(quiet.min(self.first_change? + self.longest))
    }

    /// The batch, once `quiet` has passed since its last change; each path once.
    pub fn take_due(&mut self, now: Instant) -> Option<Vec<PathBuf>> {
        let due = self.deadline().is_some_and(|d| now >= d);
        if !due {
            return None;
        }
        self.last_change = None;
        self.first_change = None;
        Some(std::mem::take(&mut self.pending).into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_becomes_one_batch_after_the_quiet_period() {
        let start = Instant::now();
        let ms = |n: u64| start + Duration::from_millis(n);
        let mut d = Debouncer::new(QUIET, LONGEST);
        assert_eq!(d.take_due(ms(0)), None);
        d.add("/p/a".into(), ms(0));
        d.add("/p/b".into(), ms(300));
        // Each change restarts the quiet period.
        assert_eq!(d.take_due(ms(600)), None);
        d.add("/p/a".into(), ms(700));
        assert_eq!(d.deadline(), Some(ms(1200)));
        assert_eq!(d.take_due(ms(1199)), None);
        assert_eq!(
            d.take_due(ms(1200)),
            Some(vec![PathBuf::from("/p/a"), PathBuf::from("/p/b")])
        );
        assert_eq!(d.take_due(ms(5000)), None);
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn changes_that_never_stop_still_flush() {
        let start = Instant::now();
        let mut d = Debouncer::new(QUIET, LONGEST);
        let mut now = start;
        let mut flushed = None;
        while flushed.is_none() {
            d.add("/p/busy".into(), now);
            now += Duration::from_millis(100);
            flushed = d.take_due(now).map(|batch| (batch, now));
        }
        let (batch, at) = flushed.unwrap();
        assert_eq!(batch, [PathBuf::from("/p/busy")]);
        assert_eq!(at - start, LONGEST);
    }
}
