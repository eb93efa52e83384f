//! Restarts of containers that turned unhealthy (swarm mode's reading of
//! `deploy.restart_policy`): whether the policy still allows one, and
//! whether the container's last end was such a restart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wharf_engine_api::UnhealthyRestart;

pub(crate) struct UnhealthyRestarts {
    policy: UnhealthyRestart,
    /// When each restart was decided.
    attempts: Mutex<Vec<Instant>>,
    /// The monitor stopped the container to restart it.
    pending: AtomicBool,
}

impl UnhealthyRestarts {
    pub(crate) fn new(policy: UnhealthyRestart) -> Self {
        UnhealthyRestarts {
            policy,
            attempts: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
        }
    }

    /// The container turned unhealthy at `now`: whether to restart it (the
    /// attempt is then counted). Past `max_attempts` within `window` it is
    /// left running, unhealthy.
    pub(crate) fn begin(&self, now: Instant) -> bool {
        let mut attempts = self.attempts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(window) = self.policy.window_ms.map(Duration::from_millis) {
            attempts.retain(|&at| now.saturating_duration_since(at) < window);
        }
        if self
            .policy
            .max_attempts
            .is_some_and(|max| attempts.len() >= max as usize)
        {
            return false;
        }
        attempts.push(now);
        self.pending.store(true, Ordering::SeqCst);
        true
    }

    /// Whether the container's end was a restart [`begin`](Self::begin)
    /// decided; asking clears it.
    pub(crate) fn take_pending(&self) -> bool {
        self.pending.swap(false, Ordering::SeqCst)
    }

    /// The wait between the container's end and its new start.
    pub(crate) fn delay(&self) -> Duration {
        Duration::from_millis(self.policy.delay_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: Option<u32>, window_ms: Option<u64>) -> UnhealthyRestarts {
        UnhealthyRestarts::new(UnhealthyRestart {
            delay_ms: 0,
            max_attempts,
            window_ms,
        })
    }

    #[test]
    fn without_max_attempts_every_unhealthy_verdict_restarts() {
        let restarts = policy(None, None);
        let now = Instant::now();
        assert!((0..10).all(|_| restarts.begin(now)));
        assert!(restarts.take_pending());
        assert!(!restarts.take_pending(), "asking clears it");
    }

    #[test]
    fn max_attempts_without_window_counts_for_all_time() {
        let restarts = policy(Some(2), None);
        let now = Instant::now();
        assert!(restarts.begin(now));
        assert!(restarts.begin(now + Duration::from_secs(3600)));
        assert!(!restarts.begin(now + Duration::from_secs(7200)));
    }

    #[test]
    fn attempts_older_than_the_window_no_longer_count() {
        let restarts = policy(Some(2), Some(10_000));
        let now = Instant::now();
        assert!(restarts.begin(now));
        assert!(restarts.begin(now + Duration::from_secs(1)));
        assert!(!restarts.begin(now + Duration::from_secs(9)));
        restarts.take_pending();
        assert!(restarts.begin(now + Duration::from_secs(10)));
        assert!(restarts.take_pending());
    }
}
