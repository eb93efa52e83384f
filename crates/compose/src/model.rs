//! The typed Compose model: what a loaded, interpolated, merged and validated
//! project looks like. Every later stage (the orchestrator, the CLI) reads
//! only these types; nothing downstream sees YAML.
//!
//! Values are in canonical form: short syntax is already expanded to the long
//! one, relative host paths are absolute, sizes are bytes, durations are
//! `Duration`s.

use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

/// A loaded Compose project.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Project {
    /// Normalized project name (`[a-z0-9][a-z0-9_-]*`).
    pub name: String,
    /// The project directory (absolute).
    pub working_dir: PathBuf,
    /// The Compose files that were read, in merge order (absolute; `-` for stdin).
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
    pub warnings: Vec<String>,
}

/// One service.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Service {
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
    pub limits: ResourceLimits,
    /// From `deploy.resources.reservations` and `mem_reservation`.
    pub reservations: ResourceLimits,
    /// `deploy.replicas` or `scale`; 1 when neither is set.
    pub replicas: u32,
    /// `restart` (`no`, `always`, `on-failure[:N]`, `unless-stopped`).
    pub restart: Option<String>,
    pub stop_signal: Option<String>,
    pub stop_grace_period: Option<Duration>,
    pub profiles: Vec<String>,
    pub healthcheck: Option<Healthcheck>,
}

/// `build:` in its long form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Build {
    /// Absolute path of the build context.
    pub context: PathBuf,
    /// Dockerfile path relative to the context.
    pub dockerfile: Option<String>,
    pub args: BTreeMap<String, String>,
    pub target: Option<String>,
}

/// A published or exposed port, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServicePort {
    /// Port inside the container.
    pub target: u16,
    /// Host port or range (`"8080"`, `"8000-8010"`); `None` picks a free port.
    pub published: Option<String>,
    /// Host address to bind (`"127.0.0.1"`); `None` for all.
    pub host_ip: Option<String>,
    /// `tcp` or `udp`.
    pub protocol: String,
}

/// A mount, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceVolume {
    pub kind: VolumeKind,
    /// Absolute host path for `bind`; volume key for `volume`; `None` for
    /// anonymous volumes and tmpfs.
    pub source: Option<String>,
    /// Absolute path inside the container.
    pub target: String,
    pub read_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum VolumeKind {
    Bind,
    Volume,
    Tmpfs,
}

/// One entry of `depends_on`, long syntax.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceDependency {
    pub condition: DependencyCondition,
    /// `required: false` lets the dependent start without it.
    pub required: bool,
    /// `restart: true`: restart the dependent when this one is recreated.
    pub restart: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DependencyCondition {
    ServiceStarted,
    ServiceHealthy,
    ServiceCompletedSuccessfully,
}

/// A service's attachment to one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct ServiceNetwork {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
    pub priority: i32,
}

/// Resource figures, already converted to units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
pub struct ResourceLimits {
    pub memory_bytes: Option<u64>,
    /// Billionths of a CPU (`"0.5"` → 500_000_000).
    pub nano_cpus: Option<u64>,
    pub pids: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Healthcheck {
    /// `["CMD", …]`, `["CMD-SHELL", "…"]` or `["NONE"]`.
    pub test: Vec<String>,
    pub interval: Option<Duration>,
    pub timeout: Option<Duration>,
    pub retries: Option<u32>,
    pub start_period: Option<Duration>,
}

/// A top-level network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Network {
    /// Name on the host: `name:` if set, else `<project>_<key>`.
    pub name: String,
    pub driver: Option<String>,
    pub external: bool,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// First `ipam.config[].subnet`, if any.
    pub subnet: Option<String>,
}

/// A top-level volume.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default)]
pub struct Volume {
    /// Name on the host: `name:` if set, else `<project>_<key>`.
    pub name: String,
    pub driver: Option<String>,
    pub external: bool,
    pub labels: BTreeMap<String, String>,
}
