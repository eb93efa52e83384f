//! Read a container cgroup's usage numbers, the sources of `wharf stats`.

use super::{fs, v1_controller_mounted, CgroupHandle, CgroupMode};
use crate::RuntimeError;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The v1 controllers whose files a reading takes.
const V1_READ: [&str; 5] = ["cpuacct", "cpu", "memory", "pids", "blkio"];

/// Limits at or above this are "unlimited" (v1 writes 2^63 rounded down to a page).
const UNLIMITED_FROM: u64 = 1 << 62;

/// Usage of one container cgroup.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CgroupStats {
    /// Total CPU time consumed, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Memory in use minus inactive page cache (what `docker stats` shows).
    pub memory_usage: u64,
    /// The memory limit, `None` when unlimited.
    pub memory_limit: Option<u64>,
    pub pids: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    /// Processes killed by the OOM killer in this cgroup.
    pub oom_kills: u64,
    /// Memory in use with the page cache (cAdvisor's `usage`).
    #[serde(default)]
    pub memory_usage_total: u64,
    /// Anonymous memory (v1 `total_rss`, v2 `anon`).
    #[serde(default)]
    pub memory_rss: u64,
    /// Page cache (v1 `total_cache`, v2 `file`).
    #[serde(default)]
    pub memory_cache: u64,
    /// Time the CFS quota held the cgroup back, in nanoseconds.
    #[serde(default)]
    pub cpu_throttled_ns: u64,
    /// The CFS quota and period in microseconds; `None` when unlimited.
    #[serde(default)]
    pub cpu_quota: Option<CpuQuota>,
}

/// A CFS bandwidth limit: `quota_us` of CPU time every `period_us`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuQuota {
    pub quota_us: u64,
    pub period_us: u64,
}

impl CgroupHandle {
    /// Read the current numbers. Files of controllers that are not mounted read as 0;
    /// a cgroup that does not exist at all is an error.
    pub fn stats(&self) -> Result<CgroupStats, RuntimeError> {
        match self.mode {
            CgroupMode::V1 => self.stats_v1(),
            CgroupMode::V2 if self.v2_dir().is_dir() => self.stats_v2(),
            CgroupMode::V2 => Err(self.missing()),
        }
    }

    fn missing(&self) -> RuntimeError {
        RuntimeError::io(
            "read cgroup stats of",
            self.fs_root.join(&self.path),
            std::io::Error::from_raw_os_error(libc::ENOENT),
        )
    }

    fn stats_v1(&self) -> Result<CgroupStats, RuntimeError> {
        let mut s = CgroupStats::default();
        // Each controller's mount is looked up once a reading: every lookup is
        // a walk through sysfs, and `/metrics` reads every container at once.
        let found = V1_READ.map(|c| v1_controller_mounted(&self.fs_root, c));
        let mounted = |c: &str| V1_READ.iter().zip(found).any(|(name, m)| *name == c && m);
        let exists = V1_READ
            .iter()
            .filter(|c| mounted(c))
            .any(|c| self.v1_dir(c).is_dir())
            || self.dirs().iter().any(|d| d.is_dir());
        if !exists {
            return Err(self.missing());
        }
        if mounted("cpuacct") {
            s.cpu_usage_ns = fs::read_u64(&self.v1_dir("cpuacct").join("cpuacct.usage"))?;
        }
        if mounted("cpu") {
            let dir = self.v1_dir("cpu");
            // Without its directory, the cpu figures are missing like its files.
            match fs::OpenDir::open(dir.clone()) {
                Ok(dir) => {
                    s.cpu_throttled_ns = dir
                        .optional("cpu.stat")?
                        .and_then(|t| fs::keyed_value(&t, "throttled_time"))
                        .unwrap_or(0);
                    let quota = dir.optional("cpu.cfs_quota_us")?;
                    let period = dir.optional("cpu.cfs_period_us")?;
                    s.cpu_quota = match (quota, period) {
                        (Some(q), Some(p)) => parse_cfs_v1(&q, &p),
                        _ => None,
                    };
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RuntimeError::io("open cgroup directory", dir, e)),
            }
        }
        if mounted("memory") {
            let path = self.v1_dir("memory");
            let dir = fs::OpenDir::open(path.clone())
                .map_err(|e| RuntimeError::io("open cgroup directory", path, e))?;
            let usage = dir.read_u64("memory.usage_in_bytes")?;
            let stat = dir.read("memory.stat")?;
            let inactive = fs::keyed_value(&stat, "total_inactive_file").unwrap_or(0);
            s.memory_usage = usage.saturating_sub(inactive);
            s.memory_usage_total = usage;
            s.memory_rss = fs::keyed_value(&stat, "total_rss").unwrap_or(0);
            s.memory_cache = fs::keyed_value(&stat, "total_cache").unwrap_or(0);
            let limit = dir.read_u64("memory.limit_in_bytes")?;
            s.memory_limit = (limit < UNLIMITED_FROM).then_some(limit);
            s.oom_kills = dir
                .optional("memory.oom_control")?
                .and_then(|t| fs::keyed_value(&t, "oom_kill"))
                .unwrap_or(0);
        }
        if mounted("pids") {
            s.pids = fs::read_u64(&self.v1_dir("pids").join("pids.current"))?;
        }
        if mounted("blkio") {
            let dir = self.v1_dir("blkio");
            let mut text = optional(&dir.join("blkio.throttle.io_service_bytes_recursive"))?;
            if text.as_deref().map(parse_blkio_v1).unwrap_or((0, 0)) == (0, 0) {
                if let Some(t) = optional(&dir.join("blkio.io_service_bytes_recursive"))? {
                    text = Some(t);
                }
            }
            (s.block_read_bytes, s.block_write_bytes) =
                text.as_deref().map_or((0, 0), parse_blkio_v1);
        }
        Ok(s)
    }

    fn stats_v2(&self) -> Result<CgroupStats, RuntimeError> {
        let dir = self.v2_dir();
        let mut s = CgroupStats::default();
        if let Some(t) = optional(&dir.join("cpu.stat"))? {
            let usec = |key| fs::keyed_value(&t, key).unwrap_or(0).saturating_mul(1000);
            s.cpu_usage_ns = usec("usage_usec");
            s.cpu_throttled_ns = usec("throttled_usec");
        }
        if let Some(t) = optional(&dir.join("cpu.max"))? {
            s.cpu_quota = parse_cpu_max_v2(&t);
        }
        if dir.join("memory.current").exists() {
            let usage = fs::read_u64(&dir.join("memory.current"))?;
            let stat = optional(&dir.join("memory.stat"))?.unwrap_or_default();
            let inactive = fs::keyed_value(&stat, "inactive_file").unwrap_or(0);
            s.memory_usage = usage.saturating_sub(inactive);
            s.memory_usage_total = usage;
            s.memory_rss = fs::keyed_value(&stat, "anon").unwrap_or(0);
            s.memory_cache = fs::keyed_value(&stat, "file").unwrap_or(0);
            let limit = fs::read_u64(&dir.join("memory.max"))?;
            s.memory_limit = (limit < UNLIMITED_FROM).then_some(limit);
            s.oom_kills = optional(&dir.join("memory.events"))?
                .and_then(|t| fs::keyed_value(&t, "oom_kill"))
                .unwrap_or(0);
        }
        if dir.join("pids.current").exists() {
            s.pids = fs::read_u64(&dir.join("pids.current"))?;
        }
        if let Some(t) = optional(&dir.join("io.stat"))? {
            (s.block_read_bytes, s.block_write_bytes) = parse_io_stat_v2(&t);
        }
        Ok(s)
    }
}

/// Contents of a file that may be missing (its controller may not be there).
fn optional(path: &Path) -> Result<Option<String>, RuntimeError> {
    match fs::read_raw(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(RuntimeError::io("read cgroup file", path, e)),
    }
}

/// The v1 `cpu.cfs_quota_us` and `cpu.cfs_period_us` files (`-1`: unlimited).
fn parse_cfs_v1(quota: &str, period: &str) -> Option<CpuQuota> {
    let quota_us = quota.trim().parse::<i64>().ok().filter(|q| *q > 0)?;
    Some(CpuQuota {
        quota_us: quota_us as u64,
        period_us: period.trim().parse().ok()?,
    })
}

/// The v2 `cpu.max` file: `max 100000` (unlimited) or `50000 100000`.
pub fn parse_cpu_max_v2(text: &str) -> Option<CpuQuota> {
    let mut fields = text.split_whitespace();
    let quota_us = fields.next()?.parse().ok()?;
    let period_us = fields.next().map_or(Some(100_000), |p| p.parse().ok())?;
    Some(CpuQuota {
        quota_us,
        period_us,
    })
}

/// Sum of the `Read` and `Write` lines of a v1 blkio `io_service_bytes` file
/// ("8:0 Read 4096" …; the "Total" lines are skipped).
pub fn parse_blkio_v1(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() != 3 {
            continue;
        }
        let n: u64 = f[2].parse().unwrap_or(0);
        match f[1] {
            "Read" => read = read.saturating_add(n),
            "Write" => write = write.saturating_add(n),
            _ => {}
        }
    }
    (read, write)
}

/// Sum of `rbytes=` and `wbytes=` over the devices of a v2 `io.stat`.
pub fn parse_io_stat_v2(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            read = read.saturating_add(v.parse().unwrap_or(0));
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            write = write.saturating_add(v.parse().unwrap_or(0));
        }
    }
    (read, write)
}
