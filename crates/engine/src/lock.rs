//! Cross-process locks on files under `<root>/locks`: one per project (held
//! for a whole `up` or `down`) and one global (held briefly while names,
//! subnets and addresses are allocated).

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::path::Path;
use wharf_engine_api::EngineError;

/// An exclusive lock, released when dropped (or when the process dies).
#[derive(Debug)]
pub struct FileLock {
    _lock: Flock<File>,
}

impl FileLock {
    pub fn acquire(path: &Path) -> Result<Self, EngineError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(path)
            .map_err(|e| EngineError::io(format!("opening lock {}", path.display()), e))?;
        let lock = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, errno)| {
            EngineError::io(format!("locking {}", path.display()), errno.into())
        })?;
        Ok(FileLock { _lock: lock })
    }
}
