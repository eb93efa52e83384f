//! What the service does between requests: it counts the open connections
//! (the API's and those of a dashboard served by the same process), ends
//! after the idle timeout with none open, and gives its memory back each
//! time the last one closes.
//!
//! The memory: a request runs code and reads data of the wharf binary that
//! an idle service does not need (clap's parser at start-up, the engine's
//! create and start, serde), and frees heap memory the allocator would keep.
//! Once no connection is open the service drops the clean file-backed pages
//! from its page tables and trims the heap, as each container's monitor
//! does after its start (`wharf_runtime::memory`); the pages stay in the
//! page cache, shared, and the next request faults back in what it runs.
//! Which mappings are clean is found once, at start-up: a release then
//! costs a tenth of a millisecond, not the milliseconds of reading smaps.

use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use wharf_runtime::memory::CleanMappings;

/// How many connections are open and since when none is; any thread may
/// open one.
#[derive(Debug)]
pub struct Activity {
    state: Mutex<(usize, Instant)>,
    changed: Notify,
}

/// One open connection; dropping it closes it in the count.
#[derive(Debug)]
pub struct OpenConnection(Arc<Activity>);

impl Default for Activity {
    fn default() -> Self {
        Self::new()
    }
}

impl Activity {
    pub fn new() -> Self {
        Activity {
            state: Mutex::new((0, Instant::now())),
            changed: Notify::new(),
        }
    }

    pub fn open(self: &Arc<Self>) -> Arc<OpenConnection> {
        self.update(|count| *count += 1);
        Arc::new(OpenConnection(self.clone()))
    }

    fn update(&self, change: impl FnOnce(&mut usize)) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        change(&mut state.0);
        state.1 = Instant::now();
        drop(state);
        self.changed.notify_waiters();
    }

    fn snapshot(&self) -> (usize, Instant) {
        *self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Resolves once no connection has been open for `timeout`; never
    /// without one.
    pub(crate) async fn idle_for(self: Arc<Self>, timeout: Option<Duration>) {
        let Some(timeout) = timeout.filter(|t| !t.is_zero()) else {
            return std::future::pending().await;
        };
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            // Registered before the snapshot, so no change is missed.
            changed.as_mut().enable();
            let (open, since) = self.snapshot();
            if open > 0 {
                changed.await;
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep_until(since + timeout) => return,
                () = changed => continue,
            }
        }
    }

    /// Resolves once the number of open connections satisfies `wanted`.
    async fn until(&self, wanted: impl Fn(usize) -> bool) {
        loop {
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if wanted(self.snapshot().0) {
                return;
            }
            changed.await;
        }
    }
}

/// Give memory back whenever no connection is open: at start (what parsing
/// the command line and opening the engine touched) and after each burst
/// of requests. Runs for the life of the service.
pub(crate) async fn release_memory_when_idle(activity: Arc<Activity>, timings: bool) {
    let mut clean: Option<CleanMappings> = None;
    loop {
        activity.until(|open| open == 0).await;
        let started = std::time::Instant::now();
        let released = clean.get_or_insert_with(CleanMappings::find).release();
        if timings {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            eprintln!(
                "wharf-timing {ms:8.2} ms  API idle: memory given back ({released} mappings)"
            );
        }
        activity.until(|open| open > 0).await;
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.update(|count| *count = count.saturating_sub(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idle_ends_only_after_the_last_connection_closed_for_the_timeout() {
        let activity = Arc::new(Activity::new());
        let connection = activity.open();
        let idle = activity.clone().idle_for(Some(Duration::from_secs(5)));
        tokio::pin!(idle);
        let early = tokio::time::timeout(Duration::from_secs(30), &mut idle).await;
        assert!(early.is_err(), "idle while a connection is open");
        let closed_at = Instant::now();
        drop(connection);
        idle.await;
        assert!(closed_at.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn the_count_is_waited_on_both_ways() {
        let activity = Arc::new(Activity::new());
        let connection = activity.open();
        let closed = activity.until(|open| open == 0);
        tokio::pin!(closed);
        let early = tokio::time::timeout(Duration::from_secs(30), &mut closed).await;
        assert!(early.is_err(), "no connection open while one is");
        drop(connection);
        closed.await;
        let opened = activity.until(|open| open > 0);
        tokio::pin!(opened);
        assert!(tokio::time::timeout(Duration::from_secs(30), &mut opened)
            .await
            .is_err());
        let _connection = activity.open();
        opened.await;
    }

    #[tokio::test(start_paused = true)]
    async fn no_timeout_is_never_idle() {
        let activity = Arc::new(Activity::new());
        let idle = activity.idle_for(Some(Duration::ZERO));
        assert!(tokio::time::timeout(Duration::from_secs(3600), idle)
            .await
            .is_err());
    }
}
