//! What the orchestrator asks an engine to create: engine-neutral, fully
//! resolved (no relative paths, no variables, no service names where the
//! engine needs addresses), and serializable so its canonical JSON can be hashed.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// A container to create. Field order and names are part of the config hash:
/// add fields with `#[serde(default, skip_serializing_if = ...)]` so that an
/// unchanged service keeps its hash across wharf upgrades.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ContainerSpec {
    /// Container name, e.g. `hello-web-1`. Unique on the host.
    pub name: String,
    /// Image reference as the user wrote it (`busybox:latest`).
    pub image: String,
    /// Overrides the image's ENTRYPOINT when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    /// Overrides the image's CMD when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    /// Environment added to the image's, `KEY=VALUE`, sorted by key.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Host name inside the container; the engine uses the id prefix when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<Mount>,
    /// Secrets and configs, mounted read-only after `mounts`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<FileMount>,
    /// Containers whose volume and bind mounts this one mounts too
    /// (compose's `volumes_from`), looked up by name at each start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<VolumesFrom>,
    /// Networks to attach, in priority order (the first gives the default route).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub networks: Vec<NetworkAttachment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortBinding>,
    #[serde(default, skip_serializing_if = "Resources::is_empty")]
    pub resources: Resources,
    /// Signal name sent first on stop (`SIGTERM` when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_signal: Option<String>,
    /// Seconds between the stop signal and SIGKILL; the caller's default when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grace_period_secs: Option<u64>,
    #[serde(default, skip_serializing_if = "RestartPolicy::is_no")]
    pub restart: RestartPolicy,
    /// Removed by its monitor once it has ended (docker's `run -d --rm`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub auto_remove: bool,
    /// How the engine tells whether the container is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    /// Restart the container when its health check finds it unhealthy
    /// (`deploy.restart_policy` with condition `any` or `on-failure`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unhealthy_restart: Option<UnhealthyRestart>,
    /// Capabilities, seccomp, devices and the like.
    #[serde(default, skip_serializing_if = "SecuritySpec::is_default")]
    pub security: SecuritySpec,
    /// `ulimits`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub ulimits: BTreeMap<String, Ulimit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oom_score_adj: Option<i32>,
    /// Namespaced kernel parameters.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sysctls: BTreeMap<String, String>,
    /// Size of `/dev/shm` in bytes (64 MiB when unset).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    /// Name servers, search domains and options for `/etc/resolv.conf`
    /// (the host's when all are empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_search: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns_opt: Vec<String>,
    /// Extra `/etc/hosts` entries: (name, address); the address
    /// `host-gateway` means the gateway of the container's first network.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<(String, String)>,
    /// Whose network namespace the container uses (compose's `network_mode`).
    #[serde(default, skip_serializing_if = "NetworkMode::is_default")]
    pub network_mode: NetworkMode,
    /// Extra names by which this container (only) reaches others on shared
    /// networks: compose's `links` and `external_links`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Run a minimal init as the container's first process, which starts the
    /// command, forwards signals to it and reaps orphans (`init: true`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub init: bool,
    /// Whose pid namespace the container uses (compose's `pid`).
    #[serde(default, skip_serializing_if = "PidMode::is_default")]
    pub pid_mode: PidMode,
    /// Whose IPC namespace and `/dev/shm` the container uses (compose's `ipc`).
    #[serde(default, skip_serializing_if = "IpcMode::is_default")]
    pub ipc_mode: IpcMode,
    /// Whose UTS namespace (host and domain name) the container uses.
    #[serde(default, skip_serializing_if = "UtsMode::is_default")]
    pub uts_mode: UtsMode,
    /// Supplementary groups of the container's processes besides the user's
    /// own: names from the image's `/etc/group`, or numbers (`group_add`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// Where the container's output goes and how much of it is kept.
    #[serde(default, skip_serializing_if = "LogConfig::is_default")]
    pub logging: LogConfig,
    /// Commands run in the container right after each start by the engine
    /// (compose's `post_start`); a failing one fails the start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub post_start: Vec<Hook>,
    /// Commands run in the running container before the stop signal is sent
    /// (compose's `pre_stop`); not when the container ends by itself.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_stop: Vec<Hook>,
    /// A pseudo-terminal as the first process's stdin, stdout and stderr
    /// (compose's `tty`): its output is one stream, `\r\n` as a terminal writes it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub tty: bool,
    /// Keep the first process's stdin open although nothing is attached to it
    /// (compose's `stdin_open`), so `wharf attach` can write to it.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stdin_open: bool,
}

/// How a container's output is stored (compose's `logging`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    pub driver: LogDriver,
    /// Rotate the log once it would grow past this many bytes; never when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_size: Option<u64>,
    /// How many files (the current one included) to keep when rotating; at least 1.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub max_file: u32,
    /// gzip rotated files (all but the newest rotated one).
    #[serde(default, skip_serializing_if = "is_false")]
    pub compress: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            driver: LogDriver::JsonFile,
            max_size: None,
            max_file: 1,
            compress: false,
        }
    }
}

impl LogConfig {
    pub fn is_default(&self) -> bool {
        self == &LogConfig::default()
    }
}

/// The logging drivers wharf has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum LogDriver {
    /// JSON lines in `container.log`, readable by `logs`.
    #[default]
    JsonFile,
    /// Docker's `local` driver: the same JSON lines here, with its rotation
    /// defaults (20 MB, 5 files, compressed).
    Local,
    /// Nothing is stored; `logs` has nothing to read.
    None,
}

fn one() -> u32 {
    1
}

fn is_one(value: &u32) -> bool {
    *value == 1
}

/// A lifecycle hook: a command run in the container as `exec` would.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Hook {
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    /// `KEY=VALUE` pairs on top of the container's environment.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<String>,
}

/// The pid namespace of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum PidMode {
    /// Its own (the default).
    #[default]
    Private,
    /// The host's: it sees and can signal every process of the host.
    Host,
    /// That of another container (by name or id), which must be running.
    Container(String),
}

impl PidMode {
    pub fn is_default(&self) -> bool {
        self == &PidMode::Private
    }
}

/// The IPC namespace (System V IPC, POSIX message queues) and `/dev/shm` of
/// a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum IpcMode {
    /// Its own, which no other container may join (docker's default).
    #[default]
    Private,
    /// Its own, which other containers may join.
    Shareable,
    /// Its own, without a `/dev/shm`.
    None,
    /// The host's, with the host's `/dev/shm`.
    Host,
    /// That of another container (by name or id), which must be running
    /// and shareable (or use the host's).
    Container(String),
}

impl IpcMode {
    pub fn is_default(&self) -> bool {
        self == &IpcMode::Private
    }
}

/// The UTS namespace of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum UtsMode {
    /// Its own, with the container's host name (the default).
    #[default]
    Private,
    /// The host's: the host's name, which the container cannot change.
    Host,
}

impl UtsMode {
    pub fn is_default(&self) -> bool {
        self == &UtsMode::Private
    }
}

/// The network namespace of a container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum NetworkMode {
    /// Its own, attached to `networks` (compose's default).
    #[default]
    Bridge,
    /// The host's: no namespace of its own, ports are not published.
    Host,
    /// Its own, with the loopback interface only.
    None,
    /// That of another container (by name or id), which must be running.
    Container(String),
}

impl NetworkMode {
    pub fn is_default(&self) -> bool {
        self == &NetworkMode::Bridge
    }
}

fn is_false(value: &bool) -> bool {
    !value
}

/// Security settings; the default is docker's: its capability set, its
/// seccomp profile, no devices beyond the minimal `/dev`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct SecuritySpec {
    #[serde(default, skip_serializing_if = "is_false")]
    pub privileged: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_add: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cap_drop: Vec<String>,
    /// Mount the root file system read-only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// `security_opt` entries as docker writes them (`seccomp=unconfined`,
    /// `no-new-privileges:true`, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub security_opt: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub devices: Vec<DeviceMapping>,
}

impl SecuritySpec {
    pub fn is_default(&self) -> bool {
        self == &SecuritySpec::default()
    }
}

/// A host device made available in the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceMapping {
    pub host_path: String,
    pub container_path: String,
    /// Any of `r`, `w`, `m`.
    pub permissions: String,
}

/// A resource limit: soft and hard values (-1 for unlimited).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub soft: i64,
    pub hard: i64,
}

/// A health check: `test` is `["CMD", prog, args…]` or `["CMD-SHELL", line]`.
/// Unset durations and retries take docker's defaults (30 s, 30 s, 3, 0 s, 5 s).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Healthcheck {
    pub test: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retries: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_period_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval_ms: Option<u64>,
}

/// A filesystem mount inside the container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mount {
    pub kind: MountKind,
    /// Absolute host path for binds; volume name for volumes; empty for tmpfs.
    #[serde(default)]
    pub source: String,
    /// Absolute path inside the container.
    pub target: String,
    #[serde(default)]
    pub read_only: bool,
    /// Volumes: do not copy the image's content at `target` into the volume
    /// when it is first mounted empty (`volume.nocopy`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_copy: bool,
    /// Volumes: mount this relative path inside the volume instead of its
    /// root (`volume.subpath`); it must exist and stay inside the volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subpath: Option<String>,
    /// Binds: fail when the host path is missing instead of creating it as
    /// a directory (the long syntax without `bind.create_host_path`).
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_host_path: bool,
    /// Mount options, already checked: for tmpfs docker's `--tmpfs` ones
    /// (`size=67108864`, `mode=1770`, `uid=1000`, `exec`, …) on top of its
    /// defaults `noexec,nosuid,nodev`; for binds the propagation (`rslave`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
}

impl Mount {
    /// A mount of `kind` from `source` on `target`, read-write, with no options.
    pub fn new(kind: MountKind, source: impl Into<String>, target: impl Into<String>) -> Self {
        Mount {
            kind,
            source: source.into(),
            target: target.into(),
            read_only: false,
            no_copy: false,
            subpath: None,
            require_host_path: false,
            options: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountKind {
    Bind,
    Volume,
    Tmpfs,
}

/// What a [`FileMount`] holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    Secret,
    Config,
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FileKind::Secret => "secret",
            FileKind::Config => "config",
        })
    }
}

/// A secret or config: content the engine writes at create time into the
/// container's state directory (never into its root file system) and
/// bind-mounts read-only on `target`, owned by `uid`:`gid` with `mode`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileMount {
    pub kind: FileKind,
    /// Its key in the project (`db_password`), for messages.
    pub name: String,
    /// Absolute path in the container.
    pub target: String,
    pub uid: u32,
    pub gid: u32,
    pub mode: u32,
    /// sha256 hex of the content: it is what the config hash sees, so a
    /// changed secret recreates the container.
    pub digest: String,
    /// The content itself. Never serialized (the state files and the hash
    /// input must not hold it) and never printed.
    #[serde(skip)]
    pub content: Vec<u8>,
}

impl std::fmt::Debug for FileMount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileMount")
            .field("kind", &self.kind)
            .field("name", &self.name)
            .field("target", &self.target)
            .field("uid", &self.uid)
            .field("gid", &self.gid)
            .field("mode", &format_args!("{:o}", self.mode))
            .field("digest", &self.digest)
            .field("content", &format_args!("<{} bytes>", self.content.len()))
            .finish()
    }
}

/// One `volumes_from` entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumesFrom {
    /// The container's name or id.
    pub container: String,
    /// `:ro`: every mount read-only; otherwise each keeps its own mode.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
}

/// A link: the containers of a service of the same project, or one container
/// by name, known to the linking container also as `alias`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Link {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    pub alias: String,
}

impl Link {
    /// Whether `other` (its name and labels) is a target of this link made by a
    /// container of `project`.
    pub fn targets(
        &self,
        project: Option<&str>,
        other_name: &str,
        other_labels: &BTreeMap<String, String>,
    ) -> bool {
        match (&self.service, &self.container) {
            (Some(service), _) => {
                other_labels.get(crate::labels::SERVICE) == Some(service)
                    && other_labels.get(crate::labels::PROJECT).map(String::as_str) == project
            }
            (None, Some(container)) => other_name == container,
            (None, None) => false,
        }
    }
}

/// One network a container joins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NetworkAttachment {
    /// The network's full name (`hello_default`).
    pub network: String,
    /// Extra names the container answers to on this network (the service name first).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv4_address: Option<std::net::Ipv4Addr>,
    /// The address on an IPv6 network (`ipv6_address`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address: Option<std::net::Ipv6Addr>,
    /// MAC address of the container's interface on this network (`02:42:ac:11:00:02`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
}

/// A published port: `host_ip:host_port:container_port/protocol`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortBinding {
    /// Address to listen on; all addresses when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    /// Host port; 0 lets the engine pick a free one.
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default)]
    pub protocol: Protocol,
}

impl PortBinding {
    /// The host address and port to listen on: all IPv4 addresses when no
    /// host address is given.
    pub fn listen_addr(&self) -> std::net::SocketAddr {
        let host_ip = self
            .host_ip
            .unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
        std::net::SocketAddr::new(host_ip, self.host_port)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    #[default]
    Tcp,
    Udp,
}

impl std::fmt::Display for Protocol {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// Resource limits, already merged from `deploy.resources` and the legacy keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Resources {
    /// Hard memory limit in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_bytes: Option<u64>,
    /// CPU limit in billionths of a CPU (`cpus: 0.5` → 500_000_000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nano_cpus: Option<u64>,
    /// Maximum number of processes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pids_limit: Option<u64>,
    /// Memory plus swap in bytes (`memswap_limit`); -1 for unlimited swap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_swap: Option<i64>,
    /// Soft memory limit in bytes (`mem_reservation`, `reservations.memory`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_reservation: Option<u64>,
    /// Relative CPU weight (`cpu_shares`, or 1024 × `reservations.cpus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_shares: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_quota: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_period: Option<u64>,
    /// CPUs the container may run on (`cpuset`: `0-1`, `0,2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpuset_cpus: Option<String>,
    /// Never OOM-kill the container's processes; they wait for memory instead
    /// (`oom_kill_disable`, cgroup v1 only).
    #[serde(default, skip_serializing_if = "is_false")]
    pub oom_kill_disable: bool,
    /// How eagerly the kernel swaps the container's memory, 0 to 100
    /// (`mem_swappiness`, cgroup v1 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_swappiness: Option<u64>,
    /// Relative block I/O weight, 10 to 1000; 0 = the default
    /// (`blkio_config.weight`, `--blkio-weight`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blkio_weight: Option<u16>,
    /// Per-device block I/O weights (`blkio_config.weight_device`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_weight_device: Vec<WeightDevice>,
    /// Bytes read per second from a device (`blkio_config.device_read_bps`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_device_read_bps: Vec<ThrottleDevice>,
    /// Bytes written per second to a device (`blkio_config.device_write_bps`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_device_write_bps: Vec<ThrottleDevice>,
    /// Reads per second from a device (`blkio_config.device_read_iops`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_device_read_iops: Vec<ThrottleDevice>,
    /// Writes per second to a device (`blkio_config.device_write_iops`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blkio_device_write_iops: Vec<ThrottleDevice>,
}

/// A block device, by its host path, and its I/O weight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// A block device, by its host path, and a rate: bytes or operations per
/// second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

impl Resources {
    pub fn is_empty(&self) -> bool {
        self == &Resources::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    No,
    Always,
    UnlessStopped,
    OnFailure {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_retries: Option<u32>,
    },
}

/// How a container that turned unhealthy is restarted, as swarm mode's
/// `deploy.restart_policy` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct UnhealthyRestart {
    /// Wait between the stop and the new start.
    #[serde(default)]
    pub delay_ms: u64,
    /// Most restarts within `window_ms` (all time when unset); none: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_ms: Option<u64>,
}

impl RestartPolicy {
    pub fn is_no(&self) -> bool {
        matches!(self, RestartPolicy::No)
    }

    /// docker's restart manager (`ShouldRestart`): whether a container that
    /// ended with `exit_code`, after `restart_count` restarts by its policy
    /// since it was last started by hand, starts again. `always` does,
    /// `unless-stopped` unless the user stopped it, `on-failure[:N]` after a
    /// non-zero code while fewer than N restarts were made (N = 0 or none: no
    /// maximum), whether or not the user stopped it. A stop asked for at run
    /// time cancels any restart before this rule is asked.
    pub fn restarts_after(
        &self,
        exit_code: i32,
        restart_count: u32,
        stopped_by_user: bool,
    ) -> bool {
        match self {
            RestartPolicy::No => false,
            RestartPolicy::Always => true,
            RestartPolicy::UnlessStopped => !stopped_by_user,
            RestartPolicy::OnFailure { max_retries } => {
                let below_maximum = match max_retries {
                    None | Some(0) => true,
                    Some(max) => restart_count < *max,
                };
                exit_code != 0 && below_maximum
            }
        }
    }
}

/// `02:42:ac:11:00:02` (or with `-`) → bytes; a unicast, non-zero address is
/// required. The error says what is wrong with `text`.
pub fn parse_mac_address(text: &str) -> std::result::Result<[u8; 6], String> {
    let bad = || {
        format!(
            "{text:?} is not a MAC address: write six hexadecimal pairs, e.g. 02:42:ac:11:00:02"
        )
    };
    let parts: Vec<&str> = text.trim().split([':', '-']).collect();
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut mac = [0u8; 6];
    for (byte, part) in mac.iter_mut().zip(parts) {
        if part.len() != 2 {
            return Err(bad());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| bad())?;
    }
    if mac[0] & 1 == 1 {
        return Err(format!(
            "{text:?} is a multicast address: the first byte must be even (e.g. 02:…)"
        ));
    }
    if mac == [0; 6] {
        return Err(format!("{text:?} is the zero address"));
    }
    Ok(mac)
}

/// A network MTU (`com.docker.network.driver.mtu`): a number from 68 to 65535.
pub fn parse_mtu(text: &str) -> Option<u32> {
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|m| (68..=65535).contains(m))
}

/// A network to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NetworkSpec {
    /// Full name (`hello_default`).
    pub name: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Subnet in CIDR notation; the engine allocates one when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// The bridge's address; the subnet's first host address when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    /// The part of the subnet container addresses are allocated from (CIDR).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    /// Addresses of the subnet never given to containers, by host name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, String>,
    /// The bridge's interface name (`com.docker.network.bridge.name`); `br-<id>` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_name: Option<String>,
    /// MTU of the bridge and of the containers' interfaces (`com.docker.network.driver.mtu`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default)]
    pub internal: bool,
    /// The IPv6 side of a dual-stack network (`enable_ipv6: true`); IPv4 only when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Pool>,
}

/// The IPv6 addresses of a dual-stack network: given by the user (`ipam.config`) in a
/// [`NetworkSpec`], as allocated in a [`crate::NetworkInfo`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Ipv6Pool {
    /// Subnet in CIDR notation; the engine allocates a unique local /64 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// The bridge's IPv6 address; the subnet's first address when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub aux_addresses: BTreeMap<String, String>,
}

/// A command to run in a running container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ExecSpec {
    pub command: Vec<String>,
    /// Extra `KEY=VALUE` pairs on top of the container's environment.
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    /// Give the command a pseudo-terminal relayed to the caller's terminal.
    #[serde(default)]
    pub tty: bool,
    /// Every capability, no seccomp filter (`exec --privileged`).
    #[serde(default)]
    pub privileged: bool,
}

/// A volume to create.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct VolumeSpec {
    /// Full name (`hello_data`): letters, digits, `_`, `.`, `-`, starting
    /// with a letter or digit.
    pub name: String,
    /// `local` when unset; the only driver wharf has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    /// Options of the local driver: `type`, `o`, `device` (as `mount -t
    /// TYPE -o O DEVICE`), e.g. `type: none, o: bind, device: /srv/data`
    /// or `type: tmpfs, o: size=100m`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub driver_opts: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}
