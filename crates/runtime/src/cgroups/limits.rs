//! Apply memory, CPU and pids limits (v1 and v2 files). A refused value or a missing
//! controller is an error, never ignored.

use super::{fs, v1_controller_mounted, CgroupHandle, CgroupMode, Limits};
use crate::RuntimeError;
use std::path::{Path, PathBuf};

/// The CFS period wharf uses, as Docker does (100 ms).
pub const CPU_PERIOD_US: u64 = 100_000;

const MEMORY_HINT: &str = "the limit must be above the memory the container uses";
const RANGE_HINT: &str = "the value is outside the range the kernel accepts";
const CPU_HINT: &str = "the CPU limit must be at least 0.01 CPUs and fit the parent cgroup's quota";

/// CFS quota in microseconds per [`CPU_PERIOD_US`] for a `nano_cpus` limit; `None`
/// for 0 (unlimited).
pub fn cpu_quota_us(nano_cpus: u64) -> Option<u64> {
    if nano_cpus == 0 {
        None
    } else {
        Some((nano_cpus as u128 * CPU_PERIOD_US as u128 / 1_000_000_000) as u64)
    }
}

impl CgroupHandle {
    /// Apply `limits`; `None` fields are left as they are, `Some(0)` means unlimited
    /// (Docker's convention).
    pub fn apply(&self, limits: &Limits) -> Result<(), RuntimeError> {
        match self.mode {
            CgroupMode::V1 => self.apply_v1(limits),
            CgroupMode::V2 => self.apply_v2(limits),
        }
    }

    fn apply_v1(&self, limits: &Limits) -> Result<(), RuntimeError> {
        if let Some(bytes) = limits.memory_bytes {
            let dir = self.v1_controller_dir("memory", "memory limit", "memory.limit_in_bytes")?;
            let limit_file = dir.join("memory.limit_in_bytes");
            let memsw_file = dir.join("memory.memsw.limit_in_bytes");
            let (mem, memsw) = if bytes == 0 {
                ("-1".to_string(), "-1".to_string())
            } else {
                (bytes.to_string(), bytes.saturating_mul(2).to_string())
            };
            let write_mem = || write_limit(&limit_file, &mem, "memory limit", bytes, MEMORY_HINT);
            let write_memsw = || {
                write_limit(
                    &memsw_file,
                    &memsw,
                    "memory+swap limit",
                    bytes.saturating_mul(2),
                    MEMORY_HINT,
                )
            };
            if memsw_file.exists() {
                // memsw must never fall below memory: grow memsw first, shrink it last.
                let current = fs::read_u64(&limit_file).unwrap_or(u64::MAX);
                if bytes == 0 || bytes > current {
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
            require_v2(&dir, "memory", "memory limit", "memory.max")?;
            write_limit(
                &dir.join("memory.max"),
                &max_or(bytes),
                "memory limit",
                bytes,
                MEMORY_HINT,
            )?;
            let swap = dir.join("memory.swap.max");
            if swap.exists() {
                // Docker's default: as much swap as memory (memory+swap = 2 × memory).
                write_limit(&swap, &max_or(bytes), "swap limit", bytes, RANGE_HINT)?;
            }
        }
        if let Some(nano) = limits.nano_cpus {
            require_v2(&dir, "cpu", "CPU limit", "cpu.max")?;
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
            require_v2(&dir, "pids", "pids limit", "pids.max")?;
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

fn require_v2(
    dir: &Path,
    controller: &'static str,
    what: &'static str,
    file: &str,
) -> Result<(), RuntimeError> {
    if dir.join(file).exists() {
        Ok(())
    } else {
        Err(RuntimeError::ControllerMissing {
            what,
            controller,
            path: dir.to_path_buf(),
        })
    }
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
