//! Block I/O weight and throttles (Compose's `blkio_config`, docker's
//! `--blkio-weight`, `--device-read-bps` …): cgroup v2 `io.bfq.weight` or
//! `io.weight` and `io.max`, cgroup v1 `blkio.weight` (or `blkio.bfq.weight`)
//! and `blkio.throttle.*`; and a device path resolved to its `MAJ:MIN`.
//! A weight the host's cgroups cannot take is discarded, as docker discards
//! it (the fronts give docker's warning, see [`block_io_weight_supported`]);
//! a throttle is always written or refused.

use super::{fs, v1_controller_mounted, CgroupHandle, CgroupMode};
use crate::RuntimeError;
use serde::{Deserialize, Serialize};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

const WEIGHT_HINT: &str = "a block I/O weight is 10 to 1000, and per-device weights need the BFQ I/O scheduler on that device";
const THROTTLE_HINT: &str =
    "a throttle needs a whole block device (a disk, not a partition on some kernels) that the kernel throttles";

/// A block device's number, as the cgroup files write it (`8:0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct DeviceNumber {
    pub major: u32,
    pub minor: u32,
}

impl std::fmt::Display for DeviceNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.major, self.minor)
    }
}

/// A relative weight for one device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceWeight {
    pub device: DeviceNumber,
    pub weight: u16,
}

/// A rate limit for one device: bytes or operations per second; 0 lifts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    pub device: DeviceNumber,
    pub rate: u64,
}

/// Block I/O settings; empty leaves the kernel's values alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockIo {
    /// The cgroup's weight, 10..=1000; 0 = the default (`blkio_weight`).
    #[serde(default)]
    pub weight: Option<u16>,
    /// Per-device weights, 10..=1000 (`blkio_weight_device`).
    #[serde(default)]
    pub weight_device: Vec<DeviceWeight>,
    /// Bytes read per second (`blkio_device_read_bps`).
    #[serde(default)]
    pub read_bps: Vec<DeviceRate>,
    /// Bytes written per second (`blkio_device_write_bps`).
    #[serde(default)]
    pub write_bps: Vec<DeviceRate>,
    /// Read operations per second (`blkio_device_read_iops`).
    #[serde(default)]
    pub read_iops: Vec<DeviceRate>,
    /// Write operations per second (`blkio_device_write_iops`).
    #[serde(default)]
    pub write_iops: Vec<DeviceRate>,
}

impl BlockIo {
    pub fn is_empty(&self) -> bool {
        self == &BlockIo::default()
    }

    /// Only weights, which are discarded where the host cannot take them.
    fn weights_only(&self) -> bool {
        self.throttles()
            .iter()
            .all(|(_, _, _, rates)| rates.is_empty())
    }

    /// The throttles by kind: the v1 file's suffix, the v2 `io.max` key and
    /// the spec field that set them.
    fn throttles(&self) -> [(&'static str, &'static str, &'static str, &[DeviceRate]); 4] {
        [
            (
                "read_bps_device",
                "rbps",
                "blkio_device_read_bps",
                &self.read_bps,
            ),
            (
                "write_bps_device",
                "wbps",
                "blkio_device_write_bps",
                &self.write_bps,
            ),
            (
                "read_iops_device",
                "riops",
                "blkio_device_read_iops",
                &self.read_iops,
            ),
            (
                "write_iops_device",
                "wiops",
                "blkio_device_write_iops",
                &self.write_iops,
            ),
        ]
    }
}

/// Why a path cannot be throttled or weighted.
#[derive(Debug, thiserror::Error)]
pub enum BlockDeviceError {
    #[error("{path}: {source}: give the path of a block device on this host, such as /dev/sda")]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a block device: give the path of a disk, such as /dev/sda")]
    NotBlock { path: PathBuf },
}

/// The device number of the block device at `path` (symlinks followed, as
/// `/dev/disk/by-id/…` are).
pub fn block_device(path: &Path) -> Result<DeviceNumber, BlockDeviceError> {
    let meta = std::fs::metadata(path).map_err(|source| BlockDeviceError::Unreadable {
        path: path.to_path_buf(),
        source,
    })?;
    if !meta.file_type().is_block_device() {
        return Err(BlockDeviceError::NotBlock {
            path: path.to_path_buf(),
        });
    }
    let rdev = meta.rdev();
    Ok(DeviceNumber {
        major: (((rdev >> 32) & 0xffff_f000) | ((rdev >> 8) & 0xfff)) as u32,
        minor: (((rdev >> 12) & 0xffff_ff00) | (rdev & 0xff)) as u32,
    })
}

/// cgroup v2 `io.weight` for a v1 block I/O weight, as runc converts it:
/// [10, 1000] maps linearly onto [1, 10000].
pub fn io_weight_from_blkio(weight: u16) -> u64 {
    let weight = u64::from(weight.clamp(10, 1000));
    1 + (weight - 10) * 9999 / 990
}

impl CgroupHandle {
    /// Write `io`'s weights and throttles to the cgroup.
    pub(super) fn apply_block_io(&self, io: &BlockIo) -> Result<(), RuntimeError> {
        if io.is_empty() {
            return Ok(());
        }
        if io.weights_only() && !block_io_weight_supported(&self.fs_root) {
            // docker's "Weight discarded": the fronts said so at create.
            return Ok(());
        }
        match self.mode {
            CgroupMode::V1 => self.apply_block_io_v1(io),
            CgroupMode::V2 => self.apply_block_io_v2(io),
        }
    }

    fn apply_block_io_v1(&self, io: &BlockIo) -> Result<(), RuntimeError> {
        let dir = self.v1_dir("blkio");
        if !v1_controller_mounted(&self.fs_root, "blkio") || !dir.is_dir() {
            return Err(RuntimeError::ControllerMissing {
                what: "block I/O limit",
                controller: "blkio",
                path: self.fs_root.join("blkio"),
            });
        }
        // CFQ kernels have blkio.weight; BFQ ones blkio.bfq.weight; with
        // neither the weights are discarded.
        let prefix = ["blkio.", "blkio.bfq."]
            .into_iter()
            .find(|p| dir.join(format!("{p}weight")).exists());
        if let Some(prefix) = prefix {
            if let Some(weight) = io.weight.filter(|w| *w != 0) {
                write(
                    &dir.join(format!("{prefix}weight")),
                    &weight.to_string(),
                    "block I/O weight",
                    weight.to_string(),
                    WEIGHT_HINT,
                )?;
            }
            for d in &io.weight_device {
                let line = format!("{} {}", d.device, d.weight);
                write(
                    &dir.join(format!("{prefix}weight_device")),
                    &line,
                    "block I/O device weight",
                    line.clone(),
                    WEIGHT_HINT,
                )?;
            }
        }
        for (suffix, _, _, rates) in io.throttles() {
            let file = dir.join(format!("blkio.throttle.{suffix}"));
            for r in rates {
                let line = format!("{} {}", r.device, r.rate);
                write(
                    &file,
                    &line,
                    "block I/O throttle",
                    line.clone(),
                    THROTTLE_HINT,
                )?;
            }
        }
        Ok(())
    }

    fn apply_block_io_v2(&self, io: &BlockIo) -> Result<(), RuntimeError> {
        let dir = self.v2_dir();
        super::limits::require_v2(self, "io", "block I/O limit", "io.max")?;
        let bfq = dir.join("io.bfq.weight");
        if let Some(weight) = io.weight.filter(|w| *w != 0) {
            // runc's choice: BFQ's own weight when the scheduler is there, else
            // io.weight converted to its range.
            let (file, value) = if bfq.exists() {
                (bfq.clone(), weight.to_string())
            } else {
                (
                    dir.join("io.weight"),
                    format!("default {}", io_weight_from_blkio(weight)),
                )
            };
            // Neither the BFQ scheduler nor io.cost's weight: discarded.
            if file.exists() {
                write(
                    &file,
                    &value,
                    "block I/O weight",
                    weight.to_string(),
                    WEIGHT_HINT,
                )?;
            }
        }
        for d in &io.weight_device {
            let (file, line) = if bfq.exists() {
                (bfq.clone(), format!("{} {}", d.device, d.weight))
            } else {
                let w = io_weight_from_blkio(d.weight);
                (dir.join("io.weight"), format!("{} {w}", d.device))
            };
            if !file.exists() {
                continue;
            }
            write(
                &file,
                &line,
                "block I/O device weight",
                format!("{} {}", d.device, d.weight),
                WEIGHT_HINT,
            )?;
        }
        // One io.max line per device, with every key set for it.
        let mut lines: std::collections::BTreeMap<DeviceNumber, String> = Default::default();
        for (_, key, _, rates) in io.throttles() {
            for r in rates {
                let value = if r.rate == 0 {
                    "max".to_string()
                } else {
                    r.rate.to_string()
                };
                let line = lines
                    .entry(r.device)
                    .or_insert_with(|| r.device.to_string());
                line.push_str(&format!(" {key}={value}"));
            }
        }
        for line in lines.values() {
            write(
                &dir.join("io.max"),
                line,
                "block I/O throttle",
                line.clone(),
                THROTTLE_HINT,
            )?;
        }
        Ok(())
    }
}

/// Whether the host's cgroups take a block I/O weight, as docker decides it
/// for `docker info`'s `BlkioWeight`: cgroup v1 when the blkio hierarchy
/// has `blkio.weight` (CFQ) or `blkio.bfq.weight` (BFQ), v2 when the io
/// controller is there. Without it a weight is discarded with docker's
/// warning.
pub fn block_io_weight_supported(fs_root: &Path) -> bool {
    match super::detect(fs_root) {
        Ok(CgroupMode::V1) => ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .any(|f| fs_root.join("blkio").join(f).exists()),
        Ok(CgroupMode::V2) => fs::read_raw(&fs_root.join("cgroup.controllers"))
            .is_ok_and(|text| text.split_whitespace().any(|c| c == "io")),
        Err(_) => false,
    }
}

/// The range checks docker makes: weights 10..=1000; the field named is the
/// spec's.
pub(super) fn validate(io: &BlockIo) -> Result<(), super::LimitError> {
    let in_range = |w: u16| (10..=1000).contains(&w);
    if let Some(w) = io.weight.filter(|w| *w != 0 && !in_range(*w)) {
        return Err(super::LimitError {
            field: "blkio_weight",
            reason: format!("{w} is outside 10..=1000"),
        });
    }
    if let Some(d) = io.weight_device.iter().find(|d| !in_range(d.weight)) {
        return Err(super::LimitError {
            field: "blkio_weight_device",
            reason: format!("{} for device {} is outside 10..=1000", d.weight, d.device),
        });
    }
    Ok(())
}

fn write(
    file: &Path,
    raw: &str,
    what: &'static str,
    value: String,
    hint: &'static str,
) -> Result<(), RuntimeError> {
    fs::write_raw(file, raw).map_err(|source| RuntimeError::Limit {
        what,
        value,
        file: file.to_path_buf(),
        source,
        hint,
    })
}

#[cfg(test)]
#[path = "io_tests.rs"]
mod tests;
