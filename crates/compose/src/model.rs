//! The typed Compose model: what a loaded, interpolated, merged and validated
//! project looks like. Every later stage (the orchestrator, the CLI) reads
//! only these types; nothing downstream sees YAML.
//!
//! Values are in canonical form: short syntax is already expanded to the long
//! one, relative host paths are absolute, sizes are bytes, durations are
//! `Duration`s.

use schemars::JsonSchema;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A loaded Compose project.
#[derive(Debug, Clone, PartialEq, Serialize, JsonSchema)]
pub struct Project {
    /// Normalized project name (`[a-z0-9][a-z0-9_-]*`).
    pub name: String,
    /// The project directory (absolute).
    #[schemars(skip)]
    pub working_dir: PathBuf,
    /// The Compose files that were read, in merge order (absolute; `-` for stdin).
    #[schemars(skip)]
    pub config_files: Vec<PathBuf>,
    /// Enabled services, by name (profiles already applied).
    pub services: BTreeMap<String, Service>,
    /// Top-level networks, by their key in the file. Always holds `default`
    /// when any service uses it implicitly.
    pub networks: BTreeMap<String, Network>,
    /// Top-level volumes, by their key in the file.
    pub volumes: BTreeMap<String, Volume>,
    /// Warnings found while loading (unset variables, …), each said once.
    #[serde(skip)]
    #[schemars(skip)]
    pub warnings: Vec<String>,
    /// Top-level secrets, by their key in the file.
    pub secrets: BTreeMap<String, FileObject>,
    /// Top-level configs, by their key in the file.
    pub configs: BTreeMap<String, FileObject>,
    /// Top-level models, by their key in the file (read and printed; the
    /// engine does not run them).
    pub models: BTreeMap<String, Model>,
    /// Top-level `x-*` extension fields.
    #[schemars(skip)]
    pub extensions: BTreeMap<String, AnyValue>,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Serialize, Default, JsonSchema)]
pub struct Service {
    /// The service's key in `services` (not an attribute of the file).
    #[schemars(skip)]
    pub name: String,
    pub image: Option<String>,
    pub build: Option<Build>,
    /// Exec form; the shell form of the file is split as a POSIX shell would.
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// Resolved environment: `env_file` entries, then `environment`; entries
    /// given without a value and unset in the environment are left out.
    pub environment: BTreeMap<String, String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub container_name: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub ports: Vec<ServicePort>,
    pub volumes: Vec<ServiceVolume>,
    /// Dependencies by service name.
    pub depends_on: BTreeMap<String, ServiceDependency>,
    /// Networks by their key in the top-level `networks`; `{"default": …}`
    /// when the service names none (and `network_mode` is unset).
    pub networks: BTreeMap<String, ServiceNetwork>,
    pub network_mode: Option<String>,
    /// Limits merged from `deploy.resources.limits` and the legacy keys
    /// (`mem_limit`, `cpus`, `pids_limit`); `deploy` wins when both are set.
    #[schemars(skip)]
    pub limits: ResourceLimits,
    /// From `deploy.resources.reservations` and `mem_reservation`.
    #[schemars(skip)]
    pub reservations: ResourceLimits,
    /// `deploy.replicas` or `scale`; 1 when neither is set.
    #[schemars(skip)]
    pub replicas: u32,
    /// `restart` (`no`, `always`, `on-failure[:N]`, `unless-stopped`).
    pub restart: Option<String>,
    pub stop_signal: Option<String>,
    #[schemars(with = "Option<String>")]
    pub stop_grace_period: Option<Duration>,
    pub profiles: Vec<String>,
    pub healthcheck: Option<Healthcheck>,

    // The attributes below keep the file's meaning in the specification's
    // shape (what `wharf config` prints); the fields above are the effective
    // values the orchestrator reads.
    /// Names listed in `environment` without a value and unset in the
    /// environment: the container does not get them (`config` prints `null`).
    #[schemars(skip)]
    pub environment_unset: Vec<String>,
    pub annotations: BTreeMap<String, String>,
    pub attach: Option<bool>,
    pub blkio_config: Option<BlkioConfig>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub cgroup: Option<String>,
    pub cgroup_parent: Option<String>,
    pub configs: Vec<ServiceFileRef>,
    pub cpu_count: Option<i64>,
    pub cpu_percent: Option<f32>,
    pub cpu_period: Option<i64>,
    pub cpu_quota: Option<i64>,
    pub cpu_rt_period: Option<i64>,
    pub cpu_rt_runtime: Option<i64>,
    pub cpu_shares: Option<i64>,
    /// `cpus` as written (the effective limit is in `limits`).
    pub cpus: Option<f32>,
    pub cpuset: Option<String>,
    pub credential_spec: Option<CredentialSpec>,
    pub deploy: Option<Deploy>,
    pub develop: Option<Develop>,
    pub device_cgroup_rules: Vec<String>,
    pub devices: Vec<DeviceMapping>,
    pub dns: Vec<String>,
    pub dns_opt: Vec<String>,
    pub dns_search: Vec<String>,
    pub domainname: Option<String>,
    pub expose: Vec<String>,
    pub external_links: Vec<String>,
    /// Host name → addresses.
    pub extra_hosts: BTreeMap<String, Vec<String>>,
    pub gpus: Vec<DeviceRequest>,
    pub group_add: Vec<String>,
    pub init: Option<bool>,
    pub ipc: Option<String>,
    pub isolation: Option<String>,
    /// Absolute paths of `label_file`s (already merged into `labels`).
    pub label_file: Vec<PathBuf>,
    pub links: Vec<String>,
    pub logging: Option<Logging>,
    pub mac_address: Option<String>,
    /// `mem_limit` in bytes, as written (the effective limit is in `limits`).
    pub mem_limit: Option<u64>,
    pub mem_reservation: Option<u64>,
    pub mem_swappiness: Option<i64>,
    /// The top-level models the service uses, by key, with the variables
    /// that give it each model's endpoint and name.
    pub models: BTreeMap<String, ServiceModel>,
    /// Bytes; -1 for unlimited swap.
    pub memswap_limit: Option<i64>,
    pub oom_kill_disable: bool,
    pub oom_score_adj: Option<i64>,
    pub pid: Option<String>,
    pub pids_limit: Option<i64>,
    pub platform: Option<String>,
    pub post_start: Vec<ServiceHook>,
    pub pre_stop: Vec<ServiceHook>,
    pub privileged: bool,
    pub pull_policy: Option<String>,
    pub read_only: bool,
    pub runtime: Option<String>,
    /// `scale` as written (the effective count is in `replicas`).
    pub scale: Option<u32>,
    pub secrets: Vec<ServiceFileRef>,
    pub security_opt: Vec<String>,
    /// Bytes.
    pub shm_size: Option<u64>,
    pub stdin_open: bool,
    pub storage_opt: BTreeMap<String, String>,
    pub sysctls: BTreeMap<String, String>,
    pub tmpfs: Vec<String>,
    pub tty: bool,
    pub ulimits: BTreeMap<String, Ulimit>,
    pub use_api_socket: bool,
    pub userns_mode: Option<String>,
    pub uts: Option<String>,
    pub volumes_from: Vec<String>,
    /// `x-*` extension fields of the service.
    #[schemars(skip)]
    pub extensions: BTreeMap<String, AnyValue>,
}

/// `build:` in its long form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Build {
    /// Absolute path of the build context.
    pub context: PathBuf,
    /// Dockerfile path relative to the context.
    pub dockerfile: Option<String>,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
    pub dockerfile_inline: Option<String>,
    pub entitlements: Vec<String>,
    pub provenance: Option<String>,
    pub sbom: Option<String>,
    /// `ID=PATH` or `default`.
    pub ssh: Vec<String>,
    pub labels: BTreeMap<String, String>,
    pub cache_from: Vec<String>,
    pub cache_to: Vec<String>,
    pub no_cache: bool,
    pub additional_contexts: BTreeMap<String, String>,
    pub pull: bool,
    pub extra_hosts: BTreeMap<String, Vec<String>>,
    pub isolation: Option<String>,
    pub network: Option<String>,
    pub secrets: Vec<ServiceFileRef>,
    /// Bytes.
    pub shm_size: Option<u64>,
    pub tags: Vec<String>,
    pub ulimits: BTreeMap<String, Ulimit>,
    pub platforms: Vec<String>,
    pub privileged: bool,
}

/// A published or exposed port, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ServicePort {
    /// Port inside the container.
    pub target: u16,
    /// Host port or range (`"8080"`, `"8000-8010"`); `None` picks a free port.
    pub published: Option<String>,
    /// Host address to bind (`"127.0.0.1"`); `None` for all.
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
    /// `ingress` (the default, filled in by the loader) or `host`.
    pub mode: Option<String>,
    pub name: Option<String>,
    pub app_protocol: Option<String>,
}

/// A mount, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ServiceVolume {
    #[schemars(rename = "type")]
    pub kind: VolumeKind,
    /// Absolute host path for `bind`; volume key for `volume`; `None` for
    /// anonymous volumes and tmpfs.
    pub source: Option<String>,
    /// Absolute path inside the container.
    pub target: String,
    pub read_only: bool,
    pub consistency: Option<String>,
    pub bind: Option<BindOptions>,
    pub volume: Option<VolumeOptions>,
    pub tmpfs: Option<TmpfsOptions>,
}

/// `volumes[].bind`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct BindOptions {
    pub propagation: Option<String>,
    /// Create the host path when missing (the short syntax's behaviour).
    pub create_host_path: bool,
    /// `z` or `Z`.
    pub selinux: Option<String>,
    pub recursive: Option<String>,
}

/// `volumes[].volume`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct VolumeOptions {
    pub labels: BTreeMap<String, String>,
    pub nocopy: bool,
    pub subpath: Option<String>,
}

/// `volumes[].tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct TmpfsOptions {
    /// Bytes.
    pub size: Option<u64>,
    /// File mode bits.
    pub mode: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum VolumeKind {
    Bind,
    Volume,
    Tmpfs,
    // A Windows named pipe: loaded and printed as docker compose does (for
    // `config`); wharf's engine refuses to run it. (A plain comment: a doc
    // comment would split the enum in the generated schema.)
    Npipe,
}

/// One entry of `depends_on`, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct ServiceDependency {
    pub condition: DependencyCondition,
    /// `required: false` lets the dependent start without it.
    pub required: bool,
    /// `restart: true`: restart the dependent when this one is recreated.
    pub restart: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DependencyCondition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

/// A service's attachment to one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub priority: i32,
    pub ipv6_address: Option<String>,
    pub link_local_ips: Vec<String>,
    pub mac_address: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub gw_priority: i32,
    pub interface_name: Option<String>,
    /// Written as a mapping (`front: {}`), which `config` prints as `{}`;
    /// a list item or a null value prints as null.
    #[serde(skip)]
    #[schemars(skip)]
    pub as_mapping: bool,
}

/// Resource figures, already converted to units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct ResourceLimits {
    pub memory_bytes: Option<u64>,
    /// Billionths of a CPU (`"0.5"` → 500_000_000).
    pub nano_cpus: Option<u64>,
    pub pids: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, JsonSchema)]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    pub test: Vec<String>,
    #[schemars(with = "Option<String>")]
    pub interval: Option<Duration>,
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    #[schemars(with = "Option<String>")]
    pub start_period: Option<Duration>,
    #[schemars(with = "Option<String>")]
    pub start_interval: Option<Duration>,
    /// `disable: true` (then `test` is `["NONE"]`).
    pub disable: bool,
}

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Network {
    /// Name on the host: `name:` if set, else `<project>_<key>`.
    pub name: String,
    pub driver: Option<String>,
    pub external: bool,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// First `ipam.config[].subnet`, if any.
    #[schemars(skip)]
    pub subnet: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub ipam: Ipam,
    pub attachable: bool,
    pub enable_ipv4: Option<bool>,
    pub enable_ipv6: Option<bool>,
    /// `x-*` extension fields.
    #[schemars(skip)]
    pub extensions: BTreeMap<String, AnyValue>,
}

/// A top-level volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Volume {
    /// Name on the host: `name:` if set, else `<project>_<key>`.
    pub name: String,
    pub driver: Option<String>,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
    pub driver_opts: BTreeMap<String, String>,
    /// `x-*` extension fields.
    #[schemars(skip)]
    pub extensions: BTreeMap<String, AnyValue>,
}

/// A top-level secret or config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct FileObject {
    /// Name on the platform: `name:` if set, else `<project>_<key>`.
    pub name: String,
    /// Absolute path of the file holding the value.
    pub file: Option<PathBuf>,
    /// Environment variable holding the value.
    pub environment: Option<String>,
    /// That variable's value in the project's environment (shell over
    /// `.env`) when the project was loaded; never printed.
    #[serde(skip)]
    #[schemars(skip)]
    pub environment_value: Option<String>,
    /// The value itself (configs only in the specification; wharf accepts it for both).
    pub content: Option<String>,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
    pub driver: Option<String>,
    pub driver_opts: BTreeMap<String, String>,
    pub template_driver: Option<String>,
    /// `x-*` extension fields.
    #[schemars(skip)]
    pub extensions: BTreeMap<String, AnyValue>,
}

/// A service's use of a secret or config (long syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct ServiceFileRef {
    pub source: String,
    /// Secrets default to `/run/secrets/<source>`; configs to `/<source>`.
    pub target: Option<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    /// File mode bits (written in octal in the file: `0440`).
    pub mode: Option<u32>,
}

/// A value of an `x-*` extension field, kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AnyValue {
    Null,
    Bool(bool),
    Int(i64),
    /// A floating-point number, as written.
    Float(String),
    String(String),
    List(Vec<AnyValue>),
    Map(BTreeMap<String, AnyValue>),
}

/// `blkio_config`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct BlkioConfig {
    pub weight: Option<u16>,
    pub weight_device: Vec<WeightDevice>,
    pub device_read_bps: Vec<ThrottleDevice>,
    pub device_read_iops: Vec<ThrottleDevice>,
    pub device_write_bps: Vec<ThrottleDevice>,
    pub device_write_iops: Vec<ThrottleDevice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct WeightDevice {
    pub path: String,
    pub weight: u16,
}

/// A rate limit on a device: bytes (or operations) per second.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct ThrottleDevice {
    pub path: String,
    pub rate: u64,
}

/// `credential_spec` (Windows).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct CredentialSpec {
    pub config: Option<String>,
    pub file: Option<String>,
    pub registry: Option<String>,
}

/// `deploy`, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Default, JsonSchema)]
pub struct Deploy {
    pub mode: Option<String>,
    pub replicas: Option<u32>,
    pub labels: BTreeMap<String, String>,
    pub update_config: Option<UpdateConfig>,
    pub rollback_config: Option<UpdateConfig>,
    pub resources: Resources,
    pub restart_policy: Option<RestartPolicy>,
    pub placement: Placement,
    pub endpoint_mode: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default, JsonSchema)]
pub struct UpdateConfig {
    pub parallelism: Option<u64>,
    #[schemars(with = "Option<String>")]
    pub delay: Option<Duration>,
    pub failure_action: Option<String>,
    #[schemars(with = "Option<String>")]
    pub monitor: Option<Duration>,
    pub max_failure_ratio: Option<f32>,
    pub order: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Default, JsonSchema)]
pub struct Resources {
    pub limits: Option<Resource>,
    pub reservations: Option<Resource>,
}

/// `deploy.resources.limits` or `.reservations`, as written.
#[derive(Debug, Clone, PartialEq, Serialize, Default, JsonSchema)]
pub struct Resource {
    pub cpus: Option<f32>,
    /// Bytes.
    pub memory: Option<u64>,
    pub pids: Option<i64>,
    pub devices: Vec<DeviceRequest>,
    pub generic_resources: Vec<GenericResource>,
}

/// A device request (`deploy.resources.reservations.devices`, `gpus`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct DeviceRequest {
    pub capabilities: Vec<String>,
    pub driver: Option<String>,
    /// Number of devices; -1 for `all`.
    pub count: Option<i64>,
    pub device_ids: Vec<String>,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct GenericResource {
    pub kind: String,
    pub value: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct RestartPolicy {
    /// `none`, `on-failure` or `any`.
    pub condition: Option<String>,
    #[schemars(with = "Option<String>")]
    pub delay: Option<Duration>,
    pub max_attempts: Option<u64>,
    #[schemars(with = "Option<String>")]
    pub window: Option<Duration>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Placement {
    pub constraints: Vec<String>,
    /// `spread` values of `preferences`.
    pub preferences: Vec<String>,
    pub max_replicas_per_node: Option<u64>,
}

/// `develop`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Develop {
    pub watch: Vec<WatchRule>,
}

/// One `develop.watch` rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct WatchRule {
    /// Absolute host path.
    pub path: PathBuf,
    /// `sync`, `rebuild`, `restart`, `sync+restart` or `sync+exec`.
    pub action: String,
    pub target: Option<String>,
    pub ignore: Vec<String>,
    pub include: Vec<String>,
    pub exec: Option<ServiceHook>,
    /// Copy the whole path into the containers when watching starts
    /// (sync and sync+restart rules).
    pub initial_sync: bool,
}

/// `devices` entry, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct DeviceMapping {
    pub source: String,
    pub target: String,
    pub permissions: String,
}

/// A top-level `models` entry: an AI model that services can use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Model {
    /// The model's name for the model runner, when not the key.
    pub name: Option<String>,
    /// The model to run (an OCI reference such as `ai/smollm2`).
    pub model: String,
    pub context_size: Option<u64>,
    pub runtime_flags: Vec<String>,
    /// `x-*` extension fields.
    #[schemars(skip)]
    pub extensions: BTreeMap<String, AnyValue>,
}

/// How a service uses a model (`services.*.models.NAME`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct ServiceModel {
    /// The variable that holds the model's URL in the container.
    pub endpoint_var: Option<String>,
    /// The variable that holds the model's name in the container.
    pub model_var: Option<String>,
    /// Written as a mapping (`llm: {}`), which `config` prints as `{}`; a
    /// list item or a null value prints as null.
    #[serde(skip)]
    #[schemars(skip)]
    pub as_mapping: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Logging {
    pub driver: Option<String>,
    pub options: BTreeMap<String, String>,
}

/// A `post_start` / `pre_stop` hook (also `develop.watch[].exec`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct ServiceHook {
    pub command: Vec<String>,
    pub user: Option<String>,
    pub privileged: bool,
    pub working_dir: Option<String>,
    pub environment: BTreeMap<String, String>,
}

/// A `ulimits` entry: one value for both limits, or soft and hard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Ulimit {
    pub single: Option<i64>,
    pub soft: Option<i64>,
    pub hard: Option<i64>,
}

/// A network's `ipam`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct Ipam {
    pub driver: Option<String>,
    pub config: Vec<IpamPool>,
    pub options: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, JsonSchema)]
pub struct IpamPool {
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    pub aux_addresses: BTreeMap<String, String>,
}
