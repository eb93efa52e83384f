//! What an engine reports about what exists.

use crate::spec::Protocol;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Lifecycle state of a container, as `docker ps` names them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "status")]
pub enum ContainerState {
    Created,
    Running {
        /// Host pid of the container's first process.
        pid: u32,
        /// Unix seconds.
        started_at: i64,
        /// Frozen by `pause` (its processes still exist but do not run).
        #[serde(default, skip_serializing_if = "is_false")]
        paused: bool,
    },
    Restarting,
    Exited {
        exit_code: i32,
        /// Unix seconds.
        finished_at: i64,
        #[serde(default)]
        oom_killed: bool,
    },
    Dead,
}

impl ContainerState {
    /// The one-word state docker shows in `ps --format json` (`running`, `exited`, …).
    pub fn name(&self) -> &'static str {
        match self {
            ContainerState::Created => "created",
            ContainerState::Running { paused: true, .. } => "paused",
            ContainerState::Running { .. } => "running",
            ContainerState::Restarting => "restarting",
            ContainerState::Exited { .. } => "exited",
            ContainerState::Dead => "dead",
        }
    }

    /// Whether its process exists: running or paused (as docker counts a
    /// paused container as running).
    pub fn is_running(&self) -> bool {
        matches!(self, ContainerState::Running { .. })
    }

    pub fn is_paused(&self) -> bool {
        matches!(self, ContainerState::Running { paused: true, .. })
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

/// A port that is published now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishedPort {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

/// A container as an engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerInfo {
    /// 64 hex characters.
    pub id: String,
    pub name: String,
    /// The image reference it was created from.
    pub image: String,
    /// The image's id (`sha256:…`) at creation time.
    pub image_id: String,
    /// The command line it runs (entrypoint + command), for display.
    pub command: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    pub state: ContainerState,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<PublishedPort>,
    /// Addresses by network name.
    #[serde(default)]
    pub addresses: BTreeMap<String, IpAddr>,
    /// IPv6 addresses by network name, on dual-stack networks.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub addresses_v6: BTreeMap<String, IpAddr>,
    /// The health check's verdict, for containers that have one and run.
    #[serde(default)]
    pub health: Option<Health>,
}

/// What a container's health check says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    /// Within the start period, or not yet checked.
    Starting,
    Healthy,
    Unhealthy,
}

impl Health {
    /// As `docker ps --format json` names it.
    pub fn name(self) -> &'static str {
        match self {
            Health::Starting => "starting",
            Health::Healthy => "healthy",
            Health::Unhealthy => "unhealthy",
        }
    }
}

impl ContainerInfo {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}

/// A network as an engine sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkInfo {
    pub id: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// CIDR.
    pub subnet: String,
    pub gateway: IpAddr,
    /// Host interface name of the bridge.
    pub bridge: String,
    /// Where container addresses come from, when narrower than the subnet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// Reserved addresses, by host name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The IPv6 subnet, gateway, range and reserved addresses of a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<crate::Ipv6Pool>,
}

/// An image in the local store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// `sha256:` + hex of the image config.
    pub id: String,
    /// Normalized references that name it (`docker.io/library/busybox:latest`).
    pub repo_tags: Vec<String>,
    /// Unix seconds.
    pub created: i64,
    /// Bytes of the unpacked layers.
    pub size: u64,
}

/// A process running in a container, as `top` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessInfo {
    /// Host pid.
    pub pid: u32,
    pub ppid: u32,
    pub uid: u32,
    /// Unix seconds when it started.
    pub started: i64,
    /// CPU time used, in seconds.
    pub cpu_seconds: u64,
    /// Controlling terminal, `?` when none.
    pub tty: String,
    /// Its command line.
    pub command: String,
}

/// One reading of a container's resource use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct StatsSample {
    /// Monotonic time of the reading, in nanoseconds.
    pub read_at_ns: u64,
    /// Total CPU time used by the container, in nanoseconds.
    pub cpu_usage_ns: u64,
    /// Number of CPUs the host has online.
    pub online_cpus: u32,
    /// Memory in use, without the page cache (as docker shows it).
    pub memory_usage: u64,
    /// The memory limit, or the host's total memory when unlimited.
    pub memory_limit: u64,
    pub net_rx_bytes: u64,
    pub net_tx_bytes: u64,
    pub block_read_bytes: u64,
    pub block_write_bytes: u64,
    pub pids: u64,
    /// Memory in use with the page cache.
    #[serde(default)]
    pub memory_usage_total: u64,
    /// Anonymous memory.
    #[serde(default)]
    pub memory_rss: u64,
    /// Page cache.
    #[serde(default)]
    pub memory_cache: u64,
    /// The cgroup's own memory limit, `None` when unlimited (unlike
    /// `memory_limit`, which falls back to the host's memory).
    #[serde(default)]
    pub memory_limit_set: Option<u64>,
    /// Processes the OOM killer ended in the container.
    #[serde(default)]
    pub oom_kills: u64,
    /// Time the CPU quota held the container back, in nanoseconds.
    #[serde(default)]
    pub cpu_throttled_ns: u64,
    /// The CFS quota and period in microseconds, `None` when unlimited.
    #[serde(default)]
    pub cpu_quota_us: Option<(u64, u64)>,
    #[serde(default)]
    pub net_rx_packets: u64,
    #[serde(default)]
    pub net_tx_packets: u64,
    #[serde(default)]
    pub net_rx_errors: u64,
    #[serde(default)]
    pub net_tx_errors: u64,
}

/// A volume as an engine sees it (`docker volume inspect`'s fields, plus who
/// uses it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeInfo {
    pub name: String,
    /// `local`.
    pub driver: String,
    /// Where the data lives on the host.
    pub mountpoint: String,
    /// Unix seconds.
    pub created: i64,
    pub labels: BTreeMap<String, String>,
    /// The driver options it was created with.
    pub options: BTreeMap<String, String>,
    /// `local`.
    pub scope: String,
    /// Made for a container (an image `VOLUME` or a mount without a source)
    /// rather than by name.
    pub anonymous: bool,
    /// Containers that mount it now (created, running or stopped).
    pub used_by: Vec<VolumeUser>,
}

/// A container that mounts a volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumeUser {
    pub container_id: String,
    pub container_name: String,
    /// Where the volume is mounted in that container.
    pub target: String,
    pub running: bool,
}

impl VolumeInfo {
    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }
}
