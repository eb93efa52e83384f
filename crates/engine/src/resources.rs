//! A container's resource limits: the runtime's cgroup [`wharf_runtime::Limits`]
//! made from the spec's resources (the runtime writes them to the cgroup when
//! the monitor starts the container).

use crate::store::ContainerRecord;
use std::path::Path;

pub(crate) fn cgroup_config(
    fs_root: &Path,
    record: &ContainerRecord,
) -> wharf_runtime::CgroupConfig {
    let resources = &record.spec.resources;
    wharf_runtime::CgroupConfig {
        fs_root: fs_root.to_path_buf(),
        path: record.cgroup_path.clone(),
        limits: wharf_runtime::Limits {
            memory_bytes: resources.memory_bytes,
            nano_cpus: resources.nano_cpus,
            pids: resources.pids_limit,
            memory_swap_bytes: resources.memory_swap,
            memory_reservation_bytes: resources.memory_reservation,
            cpu_shares: resources.cpu_shares,
            cpu_quota_us: resources.cpu_quota,
            cpu_period_us: resources.cpu_period,
            cpuset_cpus: resources.cpuset_cpus.clone(),
            cpuset_mems: None,
            oom_kill_disable: resources.oom_kill_disable,
            swappiness: resources.mem_swappiness,
        },
    }
}
