//! Tell cgroup v1 (including hybrid hosts) from v2 by looking at the cgroupfs root.

use super::{CgroupMode, V1_CONTROLLERS};
use crate::RuntimeError;
use std::path::Path;

/// Detect the hierarchy under `fs_root`.
///
/// `cgroup.controllers` at the root means the unified hierarchy (v2). Otherwise any
/// per-controller directory with `cgroup.procs` means v1; a hybrid host (v1 controllers
/// plus a cgroup2 mount at `unified/` that has no controllers) is v1 too.
pub fn detect(fs_root: &Path) -> Result<CgroupMode, RuntimeError> {
    if fs_root.join("cgroup.controllers").is_file() {
        return Ok(CgroupMode::V2);
    }
    if V1_CONTROLLERS
        .iter()
        .chain(["cpuset", "cpu,cpuacct"].iter())
        .any(|c| fs_root.join(c).join("cgroup.procs").exists())
    {
        return Ok(CgroupMode::V1);
    }
    Err(RuntimeError::NoCgroupFs {
        path: fs_root.to_path_buf(),
    })
}
