//! Cgroups v1 and v2: create a container's cgroup, apply limits, add processes, read
//! stats, kill everything inside and remove it.
//!
//! Every operation takes the cgroupfs root (normally `/sys/fs/cgroup`) as an input, so
//! the whole module is unit-tested on a fake tree in a tempdir. One file a concern:
//! [`detect`](detect()) the hierarchy, `create`, `limits`, `procs`, `stats`, `freezer`
//! (pause), `destroy`, `delegation` (why a v2 controller is missing), `io`
//! (block I/O weights and throttles); `devices` (the
//! device rules) and `bpf` (their v2 program); `validate`, the static checks of
//! [`Limits`] the engine also runs at create.

mod bpf;
mod create;
mod delegation;
mod destroy;
mod detect;
pub mod devices;
mod freezer;
mod fs;
mod io;
mod limits;
mod procs;
mod stats;
mod validate;

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub use detect::detect;
pub use devices::{DeviceRule, DeviceType, DEFAULT_DEVICE_RULES};
pub(crate) use fs::read_raw as read_kernel_text;
pub use io::{
    block_device, block_io_weight_supported, io_weight_from_blkio, BlockDeviceError, BlockIo,
    DeviceNumber, DeviceRate, DeviceWeight,
};
pub use stats::{CgroupStats, CpuQuota};
pub use validate::{HostFacts, LimitError};

/// The v1 controllers a container cgroup is created in besides cpuset (see
/// [`V1_ALL_CONTROLLERS`]).
pub const V1_CONTROLLERS: [&str; 7] = [
    "memory", "cpu", "cpuacct", "pids", "blkio", "devices", "freezer",
];

/// Every v1 controller a container cgroup lives in: [`V1_CONTROLLERS`] plus cpuset,
/// whose new cgroups get `cpuset.cpus`/`cpuset.mems` copied down from the parent
/// chain when empty (an empty cpuset would refuse every process with ENOSPC).
pub const V1_ALL_CONTROLLERS: [&str; 8] = [
    "memory", "cpu", "cpuacct", "pids", "blkio", "devices", "freezer", "cpuset",
];

/// The v2 controllers enabled for a container cgroup.
pub const V2_CONTROLLERS: [&str; 4] = ["memory", "cpu", "pids", "io"];

/// What the engine asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupConfig {
    /// Root of the cgroup file systems, normally `/sys/fs/cgroup`.
    pub fs_root: PathBuf,
    /// Relative path of the container's cgroup, e.g. `wharf/hello/<id>`.
    pub path: String,
    pub limits: Limits,
}

/// Resource limits; `None` leaves the kernel's current value alone.
///
/// Every `Some` is enforced or `apply` fails saying why (a missing controller, a
/// kernel without swap accounting, a value the kernel refuses): never ignored.
/// [`Limits::validate`] checks them without a cgroup file system; its errors
/// name the container spec's field given after each field here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// The hard memory limit in bytes (`memory`).
    pub memory_bytes: Option<u64>,
    /// CPU time in billionths of a CPU (Docker's `NanoCpus`: 1.5 CPUs =
    /// 1_500_000_000; `nano_cpus`).
    pub nano_cpus: Option<u64>,
    /// The most processes (`pids_limit`).
    pub pids: Option<u64>,
    /// Memory plus swap in bytes (`memory_swap`); -1 = unlimited swap, 0 = Docker's
    /// default (as much swap as memory). Needs `memory_bytes`.
    #[serde(default)]
    pub memory_swap_bytes: Option<i64>,
    /// The soft memory limit (`memory_reservation`; v1 `memory.soft_limit_in_bytes`, v2
    /// `memory.low`); 0 = none. Must not exceed `memory_bytes`.
    #[serde(default)]
    pub memory_reservation_bytes: Option<u64>,
    /// Relative CPU weight (`cpu_shares`), 2..=262144 (v1 `cpu.shares`; v2 `cpu.weight`
    /// converted as runc does); 0 = the default (1024).
    #[serde(default)]
    pub cpu_shares: Option<u64>,
    /// CPU quota in µs per period (`cpu_quota`); -1 or 0 = unlimited. Not with `nano_cpus`.
    #[serde(default)]
    pub cpu_quota_us: Option<i64>,
    /// CFS period in µs, 1000..=1000000 (`cpu_period`); 0 = the default (100000). Not with
    /// `nano_cpus`.
    #[serde(default)]
    pub cpu_period_us: Option<u64>,
    /// The CPUs the container may run on (`cpuset_cpus`), e.g. `0-2,4`.
    #[serde(default)]
    pub cpuset_cpus: Option<String>,
    /// The memory nodes (`cpuset_mems`), e.g. `0`.
    #[serde(default)]
    pub cpuset_mems: Option<String>,
    /// (`oom_kill_disable`) Processes that exceed the memory limit wait instead of
    /// being killed (v1 `memory.oom_control`; v2 has no such switch: an error).
    #[serde(default)]
    pub oom_kill_disable: bool,
    /// Swappiness, 0..=100 (`mem_swappiness`; v1 `memory.swappiness`; v2 has no per-cgroup
    /// swappiness: an error).
    #[serde(default)]
    pub swappiness: Option<u64>,
    /// Block I/O weights and throttles (`blkio_*`), devices already resolved to
    /// their numbers.
    #[serde(default, skip_serializing_if = "BlockIo::is_empty")]
    pub block_io: BlockIo,
}

/// Which cgroup hierarchy the host runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CgroupMode {
    /// One hierarchy per controller (`/sys/fs/cgroup/memory`, …), also hybrid hosts.
    V1,
    /// The unified hierarchy mounted at the root.
    V2,
}

/// A container's cgroup; serializable so the engine can store it with the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupHandle {
    pub mode: CgroupMode,
    pub fs_root: PathBuf,
    pub path: String,
}

impl CgroupHandle {
    /// Directory of this cgroup in a v1 controller hierarchy.
    pub fn v1_dir(&self, controller: &str) -> PathBuf {
        self.fs_root.join(controller).join(rel(&self.path))
    }

    /// Directory of this cgroup in the v2 hierarchy.
    pub fn v2_dir(&self) -> PathBuf {
        self.fs_root.join(rel(&self.path))
    }

    /// The directories that hold this cgroup: one for each mounted v1 controller we
    /// use, or the single v2 directory. Directories that do not exist are included.
    pub fn dirs(&self) -> Vec<PathBuf> {
        match self.mode {
            CgroupMode::V2 => vec![self.v2_dir()],
            CgroupMode::V1 => V1_ALL_CONTROLLERS
                .iter()
                .filter(|c| v1_controller_mounted(&self.fs_root, c))
                .map(|c| self.v1_dir(c))
                .collect(),
        }
    }
}

/// The path relative to a hierarchy root, without leading slashes.
pub(crate) fn rel(path: &str) -> &str {
    path.trim_start_matches('/')
}

/// Whether the v1 controller hierarchy is mounted (a directory with cgroup.procs).
pub(crate) fn v1_controller_mounted(fs_root: &Path, controller: &str) -> bool {
    fs_root.join(controller).join("cgroup.procs").exists()
}

#[cfg(test)]
mod tests;
