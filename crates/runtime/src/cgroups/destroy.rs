//! Tear a container's cgroup down: SIGKILL everything in it, wait until it is empty,
//! remove the leaf; and remove empty parents such as `wharf/<project>`.

use super::{detect, fs, rel, v1_controller_mounted, CgroupHandle, CgroupMode, V1_ALL_CONTROLLERS};
use crate::RuntimeError;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use std::io::ErrorKind;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How long processes get to die and the cgroup to become removable.
const DESTROY_TIMEOUT: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(10);

impl CgroupHandle {
    /// SIGKILL every process of the cgroup, wait (bounded) until none is left, and
    /// remove the cgroup directories. Idempotent: a cgroup that is already gone is Ok.
    pub fn kill_all_and_destroy(&self) -> Result<(), RuntimeError> {
        let deadline = Instant::now() + DESTROY_TIMEOUT;
        // Frozen processes cannot act on SIGKILL: thaw first (best effort).
        let _ = self.thaw();
        if self.mode == CgroupMode::V2 {
            // Kernel 5.14+: kills the whole subtree at once, racing forks included.
            let _ = fs::write_raw(&self.v2_dir().join("cgroup.kill"), "1");
        }
        let me = std::process::id();
        loop {
            let pids: Vec<u32> = self
                .pids()?
                .into_iter()
                .filter(|p| *p > 1 && *p != me)
                .collect();
            if pids.is_empty() {
                break;
            }
            for pid in &pids {
                match kill(Pid::from_raw(*pid as i32), Signal::SIGKILL) {
                    Ok(()) | Err(nix::errno::Errno::ESRCH) => {}
                    Err(e) => {
                        return Err(RuntimeError::sys(
                            format!("kill -9 {pid} (in cgroup {})", self.path),
                            e,
                        ))
                    }
                }
            }
            if Instant::now() > deadline {
                return Err(RuntimeError::CgroupBusy {
                    path: PathBuf::from(&self.path),
                    detail: format!(
                        "processes {pids:?} still alive {DESTROY_TIMEOUT:?} after SIGKILL"
                    ),
                });
            }
            std::thread::sleep(POLL);
        }
        for dir in self.dirs() {
            rmdir_until(&dir, deadline)?;
        }
        Ok(())
    }

    /// Remove `path_prefix` and each of its parents (deepest first) from every
    /// hierarchy under `fs_root` when they are empty; busy or non-empty ones stay.
    /// Best effort: see [`CgroupHandle::try_remove_empty_parents`] for the errors.
    pub fn remove_empty_parents(fs_root: &Path, path_prefix: &str) {
        let _ = Self::try_remove_empty_parents(fs_root, path_prefix);
    }

    /// [`CgroupHandle::remove_empty_parents`], reporting unexpected failures (busy
    /// and non-empty directories are not failures).
    pub fn try_remove_empty_parents(fs_root: &Path, path_prefix: &str) -> Result<(), RuntimeError> {
        let roots: Vec<PathBuf> = match detect(fs_root)? {
            CgroupMode::V2 => vec![fs_root.to_path_buf()],
            CgroupMode::V1 => V1_ALL_CONTROLLERS
                .iter()
                .filter(|c| v1_controller_mounted(fs_root, c))
                .map(|c| fs_root.join(c))
                .collect(),
        };
        let parts: Vec<&str> = rel(path_prefix)
            .split('/')
            .filter(|c| !c.is_empty())
            .collect();
        if parts.iter().any(|p| *p == ".." || *p == ".") {
            return Err(RuntimeError::InvalidCgroupPath {
                path: path_prefix.to_string(),
                reason: "contains '.' or '..'",
            });
        }
        for depth in (1..=parts.len()).rev() {
            let sub = parts[..depth].join("/");
            for root in &roots {
                let dir = root.join(&sub);
                match std::fs::remove_dir(&dir) {
                    Ok(()) => {}
                    Err(e)
                        if e.kind() == ErrorKind::NotFound
                            || matches!(
                                e.raw_os_error(),
                                Some(libc::EBUSY) | Some(libc::ENOTEMPTY) | Some(libc::EEXIST)
                            ) => {}
                    Err(e) => return Err(RuntimeError::io("remove cgroup directory", dir, e)),
                }
            }
        }
        Ok(())
    }
}

fn rmdir_until(dir: &Path, deadline: Instant) -> Result<(), RuntimeError> {
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && Instant::now() < deadline => {
                std::thread::sleep(POLL);
            }
            Err(e) => return Err(RuntimeError::io("remove cgroup directory", dir, e)),
        }
    }
}
