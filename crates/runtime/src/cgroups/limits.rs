//! Apply memory, CPU and pids limits (v1 and v2 files; block I/O in `io`). A refused value or a missing
//! controller is an error, never ignored.

use super::{fs, v1_controller_mounted, CgroupHandle, CgroupMode, HostFacts, Limits};
use crate::RuntimeError;
use std::path::{Path, PathBuf};

/// The CFS period wharf uses, as Docker does (100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;

const MEMORY_HINT: &str = "the limit must be above the memory the container uses";
const RANGE_HINT: &str = "the value is outside the range the kernel accepts";
const SWAP_HINT: &str = "the kernel does not account swap (boot it with swapaccount=1, or on cgroup v2 enable swap) or leave the memory_swap limit unset";
const CPUSET_HINT: &str =
    "the CPUs and memory nodes must exist and lie within the parent cgroup's cpuset";
/// cpu.shares when none is given, as the kernel and Docker use.
const DEFAULT_CPU_SHARES: u64 = 1024;
const CPU_HINT: &str = "the CPU limit must be at least 0.01 CPUs and fit the parent cgroup's quota";
const OOM_V2_HINT: &str = "cgroup v2 cannot keep the OOM killer away from a cgroup, so this host cannot enforce oom_kill_disable: leave it unset (the memory limit still applies)";
const SWAPPINESS_V2_HINT: &str = "cgroup v2 has no per-cgroup swappiness, so this host cannot honour mem_swappiness: leave it unset (the host's vm.swappiness applies)";

/// CFS quota in microseconds per [`CPU_PERIOD_US`] for a `nano_cpus` limit; `None`
/// for 0 (unlimited).
pub fn cpu_quota_us(nano_cpus: u64) -> Option<u64> {
    if nano_cpus == 0 {
        None
    } else {
        Some((nano_cpus as u128 * CPU_PERIOD_US as u128 / 1_000_000_000) as u64)
    }
}

/// cgroup v2 `cpu.weight` for v1 `cpu.shares`, as runc converts it: the range
/// [2, 262144] maps linearly onto [1, 10000] (1024 shares become weight 39).
pub fn cpu_weight_from_shares(shares: u64) -> u64 {
    let shares = shares.clamp(2, 262_144);
    1 + ((shares - 2) * 9999) / 262_142
}

impl CgroupHandle {
    /// Apply `limits`; `None` fields are left as they are, `Some(0)` means unlimited
    /// (Docker's convention).
    ///
    /// The static checks ([`Limits::validate`]) run again here (a container made by an older wharf was
    /// never checked at create); host state is checked by the writes themselves.
    pub fn apply(&self, limits: &Limits) -> Result<(), RuntimeError> {
        limits.validate(&HostFacts::current())?;
        match self.mode {
            CgroupMode::V1 => self.apply_v1(limits)?,
            CgroupMode::V2 => self.apply_v2(limits)?,
        }
        self.apply_extra(limits)?;
        self.apply_block_io(&limits.block_io)
    }

    /// Swap, reservation, shares, explicit quota/period and cpuset (both versions).
    fn apply_extra(&self, limits: &Limits) -> Result<(), RuntimeError> {
        let v2 = self.mode == CgroupMode::V2;
        if let Some(swap) = limits.memory_swap_bytes.filter(|s| *s != 0) {
            let mem = limits.memory_bytes.unwrap_or(0);
            if v2 {
                let dir = self.v2_dir();
                let file = dir.join("memory.swap.max");
                if !file.exists() {
                    return Err(RuntimeError::Unsupported {
                        what: "memory_swap",
                        path: file,
                        hint: SWAP_HINT,
                    });
                }
                // v2 limits swap alone: total minus memory.
                let swap_only = (swap.max(0) as u64).saturating_sub(mem);
                let value = if swap < 0 {
                    "max".to_string()
                } else {
                    swap_only.to_string()
                };
                write_limit(&file, &value, "swap limit", swap_only, RANGE_HINT)?;
            } else {
                // Written by apply_v1 together with the memory limit; check it exists.
                let dir =
                    self.v1_controller_dir("memory", "memory_swap", "memory.limit_in_bytes")?;
                let file = dir.join("memory.memsw.limit_in_bytes");
                if !file.exists() {
                    return Err(RuntimeError::Unsupported {
                        what: "memory_swap",
                        path: file,
                        hint: SWAP_HINT,
                    });
                }
            }
        }
        if let Some(bytes) = limits.memory_reservation_bytes {
            let (dir, file) = if v2 {
                let dir = self.v2_dir();
                require_v2(self, "memory", "memory reservation", "memory.low")?;
                (dir, "memory.low")
            } else {
                let f = "memory.soft_limit_in_bytes";
                (
                    self.v1_controller_dir("memory", "memory reservation", f)?,
                    f,
                )
            };
            let raw = match (bytes, v2) {
                (0, true) => "0".to_string(),
                (0, false) => "-1".to_string(),
                (b, _) => b.to_string(),
            };
            write_limit(
                &dir.join(file),
                &raw,
                "memory reservation",
                bytes,
                RANGE_HINT,
            )?;
        }
        if let Some(shares) = limits.cpu_shares {
            let shares = if shares == 0 {
                DEFAULT_CPU_SHARES
            } else {
                shares
            };
            if v2 {
                let dir = self.v2_dir();
                require_v2(self, "cpu", "CPU shares", "cpu.weight")?;
                let weight = cpu_weight_from_shares(shares);
                write_limit(
                    &dir.join("cpu.weight"),
                    &weight.to_string(),
                    "CPU weight",
                    weight,
                    RANGE_HINT,
                )?;
            } else {
                let dir = self.v1_controller_dir("cpu", "CPU shares", "cpu.shares")?;
                write_limit(
                    &dir.join("cpu.shares"),
                    &shares.to_string(),
                    "CPU shares",
                    shares,
                    RANGE_HINT,
                )?;
            }
        }
        if limits.cpu_quota_us.is_some() || limits.cpu_period_us.is_some() {
            let period = match limits.cpu_period_us {
                None | Some(0) => CPU_PERIOD_US,
                Some(p) => p,
            };
            let quota = limits.cpu_quota_us.filter(|q| *q > 0);
            if v2 {
                let dir = self.v2_dir();
                require_v2(self, "cpu", "CPU quota/period", "cpu.max")?;
                let value = match quota {
                    Some(q) => format!("{q} {period}"),
                    None => format!("max {period}"),
                };
                write_limit(
                    &dir.join("cpu.max"),
                    &value,
                    "CPU quota/period (µs)",
                    quota.unwrap_or(0) as u64,
                    CPU_HINT,
                )?;
            } else {
                let dir = self.v1_controller_dir("cpu", "CPU quota/period", "cpu.cfs_quota_us")?;
                // A quota above the new period is fine; write the period first, as
                // runc does, after lifting the quota so the pair is never invalid.
                write_limit(
                    &dir.join("cpu.cfs_quota_us"),
                    "-1",
                    "CPU quota (µs)",
                    0,
                    CPU_HINT,
                )?;
                write_limit(
                    &dir.join("cpu.cfs_period_us"),
                    &period.to_string(),
                    "CPU period (µs)",
                    period,
                    RANGE_HINT,
                )?;
                if let Some(q) = quota {
                    write_limit(
                        &dir.join("cpu.cfs_quota_us"),
                        &q.to_string(),
                        "CPU quota (µs)",
                        q as u64,
                        CPU_HINT,
                    )?;
                }
            }
        }
        self.apply_oom_and_swappiness(limits)?;
        for (value, file, what) in [
            (&limits.cpuset_cpus, "cpuset.cpus", "cpuset CPUs"),
            (&limits.cpuset_mems, "cpuset.mems", "cpuset memory nodes"),
        ] {
            let Some(value) = value else { continue };
            let dir = if v2 {
                let dir = self.v2_dir();
                require_v2(self, "cpuset", what, file)?;
                dir
            } else {
                self.v1_controller_dir("cpuset", what, file)?
            };
            fs::write_raw(&dir.join(file), value).map_err(|source| RuntimeError::Limit {
                what,
                value: value.clone(),
                file: dir.join(file),
                source,
                hint: CPUSET_HINT,
            })?;
        }
        Ok(())
    }

    /// `oom_kill_disable` and `mem_swappiness`: v1 memory controller files that
    /// cgroup v2 has no equivalent of, so asking for them there is an error.
    fn apply_oom_and_swappiness(&self, limits: &Limits) -> Result<(), RuntimeError> {
        let settings = [
            (
                limits.oom_kill_disable.then_some(1),
                "oom_kill_disable",
                "memory.oom_control",
                OOM_V2_HINT,
            ),
            (
                limits.swappiness,
                "mem_swappiness",
                "memory.swappiness",
                SWAPPINESS_V2_HINT,
            ),
        ];
        for (value, what, file, v2_hint) in settings {
            let Some(value) = value else { continue };
            if self.mode == CgroupMode::V2 {
                return Err(RuntimeError::Unsupported {
                    what,
                    path: self.v2_dir().join(file),
                    hint: v2_hint,
                });
            }
            let dir = self.v1_controller_dir("memory", what, file)?;
            write_limit(&dir.join(file), &value.to_string(), what, value, RANGE_HINT)?;
        }
        Ok(())
    }

    fn apply_v1(&self, limits: &Limits) -> Result<(), RuntimeError> {
        if let Some(bytes) = limits.memory_bytes {
            let dir = self.v1_controller_dir("memory", "memory limit", "memory.limit_in_bytes")?;
            let limit_file = dir.join("memory.limit_in_bytes");
            let memsw_file = dir.join("memory.memsw.limit_in_bytes");
            let memsw_total = match limits.memory_swap_bytes {
                Some(s) if s < 0 => 0,
                Some(s) if s > 0 => s as u64,
                _ => bytes.saturating_mul(2),
            };
            let (mem, memsw) = if bytes == 0 {
                ("-1".to_string(), "-1".to_string())
            } else if memsw_total == 0 {
                (bytes.to_string(), "-1".to_string())
            } else {
                (bytes.to_string(), memsw_total.to_string())
            };
            let write_mem = || write_limit(&limit_file, &mem, "memory limit", bytes, MEMORY_HINT);
            let write_memsw = || {
                write_limit(
                    &memsw_file,
                    &memsw,
                    "memory+swap limit",
                    memsw_total,
                    MEMORY_HINT,
                )
            };
            if memsw_file.exists() {
                // memsw must never fall below memory: grow memsw first, shrink it last.
                let current = fs::read_u64(&limit_file).unwrap_or(u64::MAX);
                if bytes == 0 || memsw_total == 0 || bytes > current {
                    write_memsw()?;
                    write_mem()?;
                } else {
                    write_mem()?;
                    write_memsw()?;
                }
            } else {
                write_mem()?;
            }
        }
        if let Some(nano) = limits.nano_cpus {
            let dir = self.v1_controller_dir("cpu", "CPU limit", "cpu.cfs_quota_us")?;
            let quota = cpu_quota_us(nano).map_or("-1".to_string(), |q| q.to_string());
            write_limit(
                &dir.join("cpu.cfs_period_us"),
                &CPU_PERIOD_US.to_string(),
                "CPU period",
                CPU_PERIOD_US,
                RANGE_HINT,
            )?;
            write_limit(
                &dir.join("cpu.cfs_quota_us"),
                &quota,
                "CPU quota (µs per 100 ms)",
                cpu_quota_us(nano).unwrap_or(0),
                CPU_HINT,
            )?;
        }
        if let Some(pids) = limits.pids {
            let dir = self.v1_controller_dir("pids", "pids limit", "pids.max")?;
            write_limit(
                &dir.join("pids.max"),
                &max_or(pids),
                "pids limit",
                pids,
                RANGE_HINT,
            )?;
        }
        Ok(())
    }

    fn apply_v2(&self, limits: &Limits) -> Result<(), RuntimeError> {
        let dir = self.v2_dir();
        if let Some(bytes) = limits.memory_bytes {
            require_v2(self, "memory", "memory limit", "memory.max")?;
            write_limit(
                &dir.join("memory.max"),
                &max_or(bytes),
                "memory limit",
                bytes,
                MEMORY_HINT,
            )?;
            let swap = dir.join("memory.swap.max");
            if swap.exists() && limits.memory_swap_bytes.unwrap_or(0) == 0 {
                // Docker's default: as much swap as memory (memory+swap = 2 × memory).
                write_limit(&swap, &max_or(bytes), "swap limit", bytes, RANGE_HINT)?;
            }
        }
        if let Some(nano) = limits.nano_cpus {
            require_v2(self, "cpu", "CPU limit", "cpu.max")?;
            let value = match cpu_quota_us(nano) {
                Some(q) => format!("{q} {CPU_PERIOD_US}"),
                None => format!("max {CPU_PERIOD_US}"),
            };
            write_limit(
                &dir.join("cpu.max"),
                &value,
                "CPU limit (quota period in µs)",
                nano,
                CPU_HINT,
            )?;
        }
        if let Some(pids) = limits.pids {
            require_v2(self, "pids", "pids limit", "pids.max")?;
            write_limit(
                &dir.join("pids.max"),
                &max_or(pids),
                "pids limit",
                pids,
                RANGE_HINT,
            )?;
        }
        Ok(())
    }

    /// The v1 directory of `controller`, or an error saying the controller is missing.
    fn v1_controller_dir(
        &self,
        controller: &'static str,
        what: &'static str,
        file: &str,
    ) -> Result<PathBuf, RuntimeError> {
        let dir = self.v1_dir(controller);
        if !v1_controller_mounted(&self.fs_root, controller) || !dir.join(file).exists() {
            return Err(RuntimeError::ControllerMissing {
                what,
                controller,
                path: self.fs_root.join(controller),
            });
        }
        Ok(dir)
    }
}

/// The controller's `file` must exist in the container's v2 cgroup; if not, the
/// error names the cgroup that does not pass the controller on, and why.
pub(super) fn require_v2(
    handle: &CgroupHandle,
    controller: &'static str,
    what: &'static str,
    file: &str,
) -> Result<(), RuntimeError> {
    if handle.v2_dir().join(file).exists() {
        return Ok(());
    }
    let (path, reason) =
        super::delegation::missing_controller(&handle.fs_root, &handle.path, controller);
    Err(RuntimeError::ControllerNotDelegated {
        what,
        controller,
        path,
        reason,
    })
}

fn max_or(value: u64) -> String {
    if value == 0 {
        "max".to_string()
    } else {
        value.to_string()
    }
}

fn write_limit(
    file: &Path,
    raw: &str,
    what: &'static str,
    shown: u64,
    hint: &'static str,
) -> Result<(), RuntimeError> {
    fs::write_raw(file, raw).map_err(|source| RuntimeError::Limit {
        what,
        value: if raw == "-1" || raw.starts_with("max") {
            "unlimited".to_string()
        } else {
            shown.to_string() + unit(what)
        },
        file: file.to_path_buf(),
        hint,
        source,
    })
}

fn unit(what: &str) -> &'static str {
    if what.contains("memory") || what.contains("swap") {
        " bytes"
    } else {
        ""
    }
}
