//! Holds on an auto-removed container's removal. A client that reads a
//! container's output from its log (the Engine API's attach) may only come
//! to read after a short command has ended; removing the container then
//! would take the log, and the output, with it. docker's clients attach
//! before they start the container, so the hold is taken then: the removal
//! of an ended `--rm` container (by its monitor, or by the API service)
//! waits for its holds to go, for [`HOLD_AT_MOST`] at most, so that a client
//! that stopped reading cannot keep a container for ever.

use crate::LinuxEngine;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use wharf_engine_api::{EngineError, Result};

/// How long a removal waits for the holds on it.
pub const HOLD_AT_MOST: Duration = Duration::from_secs(60);
const HOLD_PREFIX: &str = "removal-hold.";
const POLL: Duration = Duration::from_millis(10);

/// A hold on a container's removal, a file in its state directory; let go
/// when dropped (and gone with the directory, should the container be
/// removed by force).
#[derive(Debug)]
pub struct RemovalHold(PathBuf);

impl Drop for RemovalHold {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Whether `dir` holds no hold.
fn unheld(dir: &Path) -> bool {
    match std::fs::read_dir(dir) {
        Ok(entries) => !entries
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(HOLD_PREFIX)),
        Err(_) => true,
    }
}

/// Wait until the container whose state directory is `dir` has no hold, or
/// `at_most` has passed.
pub(crate) fn wait_for_holds(dir: &Path, at_most: Duration) {
    let deadline = Instant::now() + at_most;
    while !unheld(dir) && Instant::now() < deadline {
        std::thread::sleep(POLL);
    }
}

impl LinuxEngine {
    /// Hold off the removal of container `id` until the hold is dropped.
    pub fn hold_removal(&self, id: &str) -> Result<RemovalHold> {
        static TAKEN: AtomicU64 = AtomicU64::new(0);
        let record = self.find(id)?;
        let name = format!(
            "{HOLD_PREFIX}{}.{}",
            std::process::id(),
            TAKEN.fetch_add(1, Ordering::Relaxed)
        );
        let path = self.layout.container(&record.id).join(name);
        std::fs::write(&path, b"").map_err(|e| {
            EngineError::io(format!("holding off the removal of {}", record.name), e)
        })?;
        Ok(RemovalHold(path))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removal_waits_for_its_holds_and_no_longer() {
        let dir = tempfile::tempdir().unwrap();
        let hold = RemovalHold(dir.path().join(format!("{HOLD_PREFIX}1.0")));
        std::fs::write(&hold.0, b"").unwrap();
        assert!(!unheld(dir.path()));
        let started = Instant::now();
        wait_for_holds(dir.path(), Duration::from_millis(50));
        assert!(started.elapsed() >= Duration::from_millis(50));
        let path = hold.0.clone();
        let releaser = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            drop(hold);
        });
        wait_for_holds(dir.path(), HOLD_AT_MOST);
        assert!(!path.exists());
        assert!(unheld(dir.path()));
        releaser.join().unwrap();
    }
}
