//! The engine's state on disk: one directory per container and one file per
//! network under the wharf root, written atomically (temp file, fsync,
//! rename) so a crash never leaves a half-written record.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::fs;
use std::io::Write;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use wharf_engine_api::{ContainerSpec, ContainerState, EngineError, PublishedPort};

/// Where everything lives under the wharf root.
#[derive(Debug, Clone)]
pub struct Layout {
    pub root: PathBuf,
}

impl Layout {
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
    pub fn container(&self, id: &str) -> PathBuf {
        self.containers().join(id)
    }
    pub fn networks(&self) -> PathBuf {
        self.root.join("networks")
    }
    pub fn network(&self, id: &str) -> PathBuf {
        self.networks().join(format!("{id}.json"))
    }
    pub fn volumes(&self) -> PathBuf {
        self.root.join("volumes")
    }
    pub fn images(&self) -> PathBuf {
        self.root.join("images")
    }
    pub fn locks(&self) -> PathBuf {
        self.root.join("locks")
    }
    /// Removed containers' directories, moved here under the global lock and
    /// deleted after it (see `LinuxEngine::remove_stopped`).
    pub fn trash(&self) -> PathBuf {
        self.root.join("trash")
    }
    /// Containers' directories being prepared before their record is made
    /// (see `LinuxEngine::create`).
    pub fn staging(&self) -> PathBuf {
        self.root.join("staging")
    }
    /// Compiled seccomp programs, by hash of what they were compiled from.
    pub fn seccomp_cache(&self) -> PathBuf {
        self.root.join("cache").join("seccomp")
    }

    pub fn create_dirs(&self) -> Result<(), EngineError> {
        for dir in [
            self.containers(),
            self.networks(),
            self.volumes(),
            self.locks(),
            self.trash(),
            self.staging(),
        ] {
            fs::create_dir_all(&dir)
                .map_err(|e| EngineError::io(format!("creating {}", dir.display()), e))?;
        }
        Ok(())
    }
}

/// A container's attachment to one network, decided at create time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network_id: String,
    pub network: String,
    pub bridge: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    /// Host end of the veth pair.
    pub host_ifname: String,
    /// Names other containers on this network reach it by.
    pub aliases: Vec<String>,
    /// MAC address of the container's interface (`mac_address`); when unset,
    /// one made from its IPv4 address (`wharf_net::mac_for_address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac: Option<[u8; 6]>,
    /// The network's MTU, for the veth pair.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The container's IPv6 side on a dual-stack network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<EndpointIpv6>,
}

/// A container's IPv6 address on a dual-stack network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointIpv6 {
    pub address: Ipv6Addr,
    pub prefix: u8,
    pub gateway: Ipv6Addr,
}

/// What a container is: fixed at create time (`config.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ContainerRecord {
    pub id: String,
    pub name: String,
    pub spec: ContainerSpec,
    pub image_id: String,
    pub created: i64,
    /// The resolved command line (entrypoint + command).
    pub args: Vec<String>,
    /// The resolved environment, `KEY=VALUE`.
    pub env: Vec<String>,
    pub cwd: String,
    pub user: Option<String>,
    pub hostname: String,
    /// Image layer snapshots, bottom first.
    pub layers: Vec<PathBuf>,
    pub endpoints: Vec<Endpoint>,
    /// Relative cgroup path (`wharf/<project>/<id>`).
    pub cgroup_path: String,
}

/// What a container is doing now (`state.json`), written by the CLI at create
/// and by the container's monitor afterwards.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeState {
    pub state: ContainerState,
    /// Pid of the monitor process while it runs.
    #[serde(default)]
    pub monitor_pid: Option<u32>,
    /// Start time (clock ticks since boot) of the container's init, so a
    /// recycled pid is never mistaken for the container.
    #[serde(default)]
    pub pid_start_ticks: Option<u64>,
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    /// The last start failure, if any.
    #[serde(default)]
    pub error: Option<String>,
    /// The container's cgroups while it runs.
    #[serde(default)]
    pub cgroup: Option<wharf_runtime::CgroupHandle>,
    #[serde(default)]
    pub restart_count: u32,
    /// Exit code and OOM kill of the last run, kept across restarts.
    #[serde(default)]
    pub last_exit_code: Option<i32>,
    #[serde(default)]
    pub last_oom_killed: bool,
    /// The health check's verdict while the container runs.
    #[serde(default)]
    pub health: Option<wharf_engine_api::Health>,
    /// Consecutive failed health checks.
    #[serde(default)]
    pub failing_streak: u32,
}

impl RuntimeState {
    pub fn created() -> Self {
        RuntimeState {
            state: ContainerState::Created,
            monitor_pid: None,
            pid_start_ticks: None,
            ports: Vec::new(),
            error: None,
            cgroup: None,
            restart_count: 0,
            last_exit_code: None,
            last_oom_killed: false,
            health: None,
            failing_streak: 0,
        }
    }
}

/// A network wharf created (`networks/<id>.json`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct NetworkRecord {
    pub id: String,
    pub name: String,
    pub labels: std::collections::BTreeMap<String, String>,
    pub subnet: String,
    pub gateway: Ipv4Addr,
    pub bridge: String,
    pub internal: bool,
    pub created: i64,
    /// Where container addresses are allocated from (`ipam.config.ip_range`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// Addresses never given to containers (`aux_addresses`), by host name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub aux_addresses: std::collections::BTreeMap<String, Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    /// The IPv6 side of a dual-stack network (`enable_ipv6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<NetworkIpv6>,
}

/// The IPv6 subnet of a dual-stack network and what is reserved in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkIpv6 {
    pub subnet: String,
    pub gateway: Ipv6Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub aux_addresses: std::collections::BTreeMap<String, Ipv6Addr>,
}

/// Write `value` as JSON to `path` atomically.
pub fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), EngineError> {
    let data = serde_json::to_vec_pretty(value)
        .map_err(|e| EngineError::step(format!("encoding {}", path.display()), e, ""))?;
    write_atomic(path, &data)
}

pub fn write_atomic(path: &Path, data: &[u8]) -> Result<(), EngineError> {
    write_replacing(path, data, true)
}

/// Write `value` as JSON to `path` atomically but without flushing it to the
/// disk: for a container's runtime state, rewritten at every start and exit.
/// A crash of wharf leaves the old or the new file, never a mix (the rename
/// is atomic); only a power loss can lose the last write, and after one every
/// container is stopped anyway, which is what wharf then reports. The flush
/// cost a few milliseconds on every `run` and `stop`.
pub fn write_json_unflushed<T: Serialize>(path: &Path, value: &T) -> Result<(), EngineError> {
    let data = serde_json::to_vec_pretty(value)
        .map_err(|e| EngineError::step(format!("encoding {}", path.display()), e, ""))?;
    write_replacing(path, &data, false)
}

fn write_replacing(path: &Path, data: &[u8], flush: bool) -> Result<(), EngineError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    // Unique per process and call: two threads may write the same file.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let tmp = dir.join(format!(
        ".{}.tmp-{}-{}",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state"),
        std::process::id(),
        COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let io = |e| EngineError::io(format!("writing {}", path.display()), e);
    let mut file = fs::File::create(&tmp).map_err(io)?;
    file.write_all(data).map_err(io)?;
    if flush {
        file.sync_all().map_err(io)?;
    }
    fs::rename(&tmp, path).map_err(io)?;
    Ok(())
}

pub fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, EngineError> {
    let data =
        fs::read(path).map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
    serde_json::from_slice(&data).map_err(|e| EngineError::DamagedState {
        path: path.display().to_string(),
        source: Box::new(e),
    })
}

/// Unix time in seconds.
pub fn now_secs() -> i64 {
    now_nanos() / 1_000_000_000
}

pub fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A new random 64-hex id.
pub fn new_id() -> Result<String, EngineError> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| EngineError::io("reading /dev/urandom", e))?;
    Ok(hex::encode(bytes))
}
