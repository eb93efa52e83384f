//! Move a process into a container's cgroup (every v1 controller, or the v2 leaf).

use super::{fs, CgroupHandle};
use crate::RuntimeError;

impl CgroupHandle {
    /// Write `pid` into `cgroup.procs` of every directory of this cgroup.
    pub fn add_process(&self, pid: u32) -> Result<(), RuntimeError> {
        let dirs = self.dirs();
        if dirs.is_empty() {
            return Err(RuntimeError::NoCgroupFs {
                path: self.fs_root.clone(),
            });
        }
        for dir in dirs {
            fs::write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The pids listed in `cgroup.procs` of every directory of this cgroup (missing
    /// directories list nothing).
    pub fn pids(&self) -> Result<Vec<u32>, RuntimeError> {
        let mut pids = Vec::new();
        for dir in self.dirs() {
            let file = dir.join("cgroup.procs");
            let text = match std::fs::read_to_string(&file) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(RuntimeError::io("read cgroup file", &file, e)),
            };
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let pid = fs::parse_u64(&file, line.trim())? as u32;
                if !pids.contains(&pid) {
                    pids.push(pid);
                }
            }
        }
        Ok(pids)
    }
}
