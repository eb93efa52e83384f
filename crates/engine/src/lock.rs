//! Cross-process locks on files under `<root>/locks`: one per project (held
//! for a whole `up` or `down`) and one global (held briefly while names,
//! subnets and addresses are allocated). Each container's monitor also holds
//! `containers/<id>/monitor.lock` for its whole life (see [`MonitorLock`]),
//! so "is a monitor at work on this container" is answered without trusting
//! a recorded pid.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
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

/// The file in a container's directory that its monitor holds locked.
pub const MONITOR_LOCK: &str = "monitor.lock";

/// A write lock on the whole of `containers/<id>/monitor.lock`, taken with
/// open file description locks (`F_OFD_SETLK`): unlike `flock` guards these
/// need no unlock on drop, so the CLI can take the lock, hand a copy of the
/// open file to the monitor it spawns (as its stdin) and close its own copy,
/// leaving no moment when a monitor is on its way and the lock is free. The
/// lock goes when the last copy is closed, so with the monitor's death.
#[derive(Debug)]
pub struct MonitorLock {
    file: File,
}

fn whole_file(kind: libc::c_int) -> libc::flock {
    libc::flock {
        l_type: kind as libc::c_short,
        l_whence: libc::SEEK_SET as libc::c_short,
        l_start: 0,
        l_len: 0,
        l_pid: 0,
    }
}

fn lock_whole(file: &File) -> nix::Result<libc::c_int> {
    nix::fcntl::fcntl(
        file.as_raw_fd(),
        nix::fcntl::FcntlArg::F_OFD_SETLK(&whole_file(libc::F_WRLCK)),
    )
}

impl MonitorLock {
    /// The lock, if no other process holds it now.
    pub fn try_acquire(path: &Path) -> Result<Option<Self>, EngineError> {
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|e| EngineError::io(format!("opening lock {}", path.display()), e))?;
        match lock_whole(&file) {
            Ok(_) => Ok(Some(MonitorLock { file })),
            Err(nix::errno::Errno::EAGAIN | nix::errno::Errno::EACCES) => Ok(None),
            Err(errno) => Err(EngineError::io(
                format!("locking {}", path.display()),
                errno.into(),
            )),
        }
    }

    /// Take over the lock a parent process passed down as the open `file`.
    /// None when `file` is not the lock file at `path` or does not hold it.
    pub fn adopt(file: File, path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let held = file.metadata().ok()?;
        let expected = std::fs::metadata(path).ok()?;
        if (held.dev(), held.ino()) != (expected.dev(), expected.ino()) {
            return None;
        }
        // Through the open file description that holds it, this succeeds.
        lock_whole(&file).ok()?;
        Some(MonitorLock { file })
    }

    /// A copy of the locked open file, to hand down to a child process.
    pub fn handover(&self) -> std::io::Result<File> {
        self.file.try_clone()
    }
}

/// Whether some process holds the monitor lock at `path`. A pure query: it
/// takes no lock, so it never gets in a monitor's way.
pub fn monitor_lock_held(path: &Path) -> bool {
    let Ok(file) = File::open(path) else {
        return false;
    };
    let mut query = whole_file(libc::F_WRLCK);
    nix::fcntl::fcntl(
        file.as_raw_fd(),
        nix::fcntl::FcntlArg::F_OFD_GETLK(&mut query),
    )
    .is_ok_and(|_| query.l_type != libc::F_UNLCK as libc::c_short)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_monitor_lock_is_seen_and_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MONITOR_LOCK);
        assert!(!monitor_lock_held(&path), "a missing file is not held");
        let lock = MonitorLock::try_acquire(&path)
            .unwrap()
            .expect("a free lock");
        // Open file description locks conflict within one process too.
        assert!(monitor_lock_held(&path));
        assert!(MonitorLock::try_acquire(&path).unwrap().is_none());
        drop(lock);
        assert!(!monitor_lock_held(&path));
        assert!(MonitorLock::try_acquire(&path).unwrap().is_some());
    }

    #[test]
    fn a_handed_over_lock_outlives_the_original() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(MONITOR_LOCK);
        let lock = MonitorLock::try_acquire(&path).unwrap().unwrap();
        let passed = lock.handover().unwrap();
        drop(lock);
        assert!(monitor_lock_held(&path), "the copy still holds it");
        let adopted = MonitorLock::adopt(passed, &path).expect("the same file");
        assert!(monitor_lock_held(&path));
        drop(adopted);
        assert!(!monitor_lock_held(&path));
        let other = dir.path().join("other");
        std::fs::write(&other, b"").unwrap();
        assert!(MonitorLock::adopt(File::open(&other).unwrap(), &path).is_none());
    }
}
