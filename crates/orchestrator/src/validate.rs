//! Check a service once, before anything is created, and keep what was
//! parsed: [`validate_service`] returns a [`ValidService`] holding the
//! parsed ports, restart policy, addresses, namespace modes, mounts, files
//! and log settings, and the spec of every replica is built from it. No
//! setting is parsed a second time, so none can be dropped silently.

use crate::error::{OrchestratorError, SettingError};
use crate::files::service_files;
use crate::mounts::{tmpfs_entry, volumes_from_entry, TmpfsOptions, VolumesFromSource};
use crate::names::{joined_container, network_mode};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use wharf_compose::{Project, Service, ServicePort, VolumeKind};
use wharf_engine_api::{
    FileMount, IpcMode, LogConfig, NetworkMode, PidMode, PortBinding, Protocol, RestartPolicy,
    Ulimit, UnhealthyRestart, UtsMode,
};

/// A service whose settings passed [`validate_service`], with the values
/// parsed from them. Build replicas with [`crate::container_spec`].
#[derive(Debug, Clone)]
pub struct ValidService<'a> {
    pub(crate) service: &'a Service,
    pub(crate) network_mode: NetworkMode,
    /// Every port's bindings, in the order of `ports`.
    pub(crate) ports: Vec<PortBinding>,
    pub(crate) restart: RestartPolicy,
    pub(crate) unhealthy_restart: Option<UnhealthyRestart>,
    /// Fixed addresses by network key.
    pub(crate) addresses: BTreeMap<String, (Option<Ipv4Addr>, Option<Ipv6Addr>)>,
    /// `tmpfs:` entries: target and options.
    pub(crate) tmpfs: Vec<(String, TmpfsOptions)>,
    /// `volumes_from:` entries: source and read-only.
    pub(crate) volumes_from: Vec<(VolumesFromSource, bool)>,
    /// Secrets and configs with their content.
    pub(crate) files: Vec<FileMount>,
    pub(crate) pid_mode: PidMode,
    pub(crate) ipc_mode: IpcMode,
    pub(crate) uts_mode: UtsMode,
    pub(crate) mem_swappiness: Option<u64>,
    pub(crate) cpu_shares: Option<u64>,
    pub(crate) cpu_period: Option<u64>,
    pub(crate) oom_score_adj: Option<i32>,
    pub(crate) ulimits: BTreeMap<String, Ulimit>,
    pub(crate) logging: LogConfig,
}

impl ValidService<'_> {
    /// The service as written.
    pub fn service(&self) -> &Service {
        self.service
    }
}

/// The engine's pid namespace of a service (`pid:`), or why the value is
/// not one.
pub fn pid_mode(project: &Project, service: &Service) -> Result<PidMode, SettingError> {
    match service.pid.as_deref().map(str::trim) {
        None | Some("") | Some("private") => Ok(PidMode::Private),
        Some("host") => Ok(PidMode::Host),
        Some(mode) => joined_container(project, mode)
            .map(PidMode::Container)
            .ok_or_else(|| {
                SettingError::invalid(format!(
                    "pid {mode:?} is not valid: use host, service:NAME or container:NAME"
                ))
            }),
    }
}

/// The engine's IPC namespace of a service (`ipc:`), or why the value is
/// not one.
pub fn ipc_mode(project: &Project, service: &Service) -> Result<IpcMode, SettingError> {
    match service.ipc.as_deref().map(str::trim) {
        None | Some("") | Some("private") => Ok(IpcMode::Private),
        Some("shareable") => Ok(IpcMode::Shareable),
        Some("none") => Ok(IpcMode::None),
        Some("host") => Ok(IpcMode::Host),
        Some(mode) => joined_container(project, mode)
            .map(IpcMode::Container)
            .ok_or_else(|| {
                SettingError::invalid(format!(
                    "ipc {mode:?} is not valid: use private, shareable, none, host, service:NAME or container:NAME"
                ))
            }),
    }
}

/// The engine's UTS namespace of a service (`uts:`), or why the value is
/// not one.
pub fn uts_mode(service: &Service) -> Result<UtsMode, SettingError> {
    match service.uts.as_deref().map(str::trim) {
        None | Some("") => Ok(UtsMode::Private),
        Some("host") => Ok(UtsMode::Host),
        Some(mode) => Err(SettingError::invalid(format!(
            "uts {mode:?} is not valid: host is the only mode (leave uts unset for the container's own)"
        ))),
    }
}

/// `mem_swappiness` as the engine takes it: -1 (and unset) leave the
/// kernel's default.
fn mem_swappiness(service: &Service) -> Result<Option<u64>, SettingError> {
    match service.mem_swappiness {
        None | Some(-1) => Ok(None),
        Some(value @ 0..=100) => Ok(Some(value as u64)),
        Some(value) => Err(SettingError::invalid(format!(
            "mem_swappiness {value} is out of range: use 0 to 100, or -1 for the kernel's default"
        ))),
    }
}

/// A setting that must not be negative (`cpu_shares`, `cpu_period`).
fn not_negative(key: &str, value: Option<i64>) -> Result<Option<u64>, SettingError> {
    value
        .map(|v| {
            u64::try_from(v).map_err(|_| {
                SettingError::invalid(format!(
                    "{key} {v} is negative: use 0 or more, or leave {key} unset"
                ))
            })
        })
        .transpose()
}

/// `ulimits`: each a single number or `soft` and `hard`.
fn ulimits(service: &Service) -> Result<BTreeMap<String, Ulimit>, SettingError> {
    service
        .ulimits
        .iter()
        .map(|(name, u)| {
            let soft = u.soft.or(u.single).ok_or_else(|| {
                SettingError::invalid(format!(
                    "ulimits.{name} has no value: write a number, or soft and hard"
                ))
            })?;
            let hard = u.hard.or(u.single).unwrap_or(soft);
            Ok((name.clone(), Ulimit { soft, hard }))
        })
        .collect()
}

/// Swarm's default `deploy.restart_policy.delay`.
const DEFAULT_RESTART_DELAY: Duration = Duration::from_secs(5);

/// `deploy.restart_policy` with condition `any` (the default) or
/// `on-failure` also restarts a container that turned unhealthy, as swarm
/// mode does; `restart:` alone never does (docker compose's behaviour).
pub(crate) fn unhealthy_restart(service: &Service) -> Option<UnhealthyRestart> {
    let policy = service.deploy.as_ref()?.restart_policy.as_ref()?;
    if !matches!(
        policy.condition.as_deref(),
        None | Some("any") | Some("on-failure")
    ) {
        return None;
    }
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    Some(UnhealthyRestart {
        delay_ms: ms(policy.delay.unwrap_or(DEFAULT_RESTART_DELAY)),
        max_attempts: policy
            .max_attempts
            .map(|n| u32::try_from(n).unwrap_or(u32::MAX)),
        window_ms: policy.window.filter(|w| !w.is_zero()).map(ms),
    })
}

/// `restart:` → [`RestartPolicy`].
pub fn parse_restart(value: Option<&str>) -> Result<RestartPolicy, SettingError> {
    match value.map(str::trim) {
        None | Some("") | Some("no") => Ok(RestartPolicy::No),
        Some("always") => Ok(RestartPolicy::Always),
        Some("unless-stopped") => Ok(RestartPolicy::UnlessStopped),
        Some("on-failure") => Ok(RestartPolicy::OnFailure { max_retries: None }),
        Some(other) => match other.strip_prefix("on-failure:") {
            Some(n) => n
                .parse()
                .map(|n| RestartPolicy::OnFailure {
                    max_retries: Some(n),
                })
                .map_err(|source| SettingError::Number {
                    key: "restart on-failure:N".into(),
                    value: n.to_string(),
                    hint: "write the most retries as a whole number, like on-failure:3",
                    source,
                }),
            None => Err(SettingError::invalid(format!(
                "invalid restart policy {other:?}: use no, always, unless-stopped or on-failure[:N]"
            ))),
        },
    }
}

fn parse_port_number(text: &str) -> Result<u16, SettingError> {
    text.trim().parse().map_err(|source| SettingError::Number {
        key: "published port".into(),
        value: text.to_string(),
        hint: "write a port from 1 to 65535, or a range like 8000-8010",
        source,
    })
}

/// One Compose port → its bindings. A published range `a-b` maps host port
/// `a+i` to container port `target+i`.
pub fn port_bindings(port: &ServicePort) -> Result<Vec<PortBinding>, SettingError> {
    let host_ip = match port.host_ip.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(ip) => {
            let bare = ip.trim_start_matches('[').trim_end_matches(']');
            Some(
                bare.parse::<IpAddr>()
                    .map_err(|source| SettingError::Address {
                        key: format!("host_ip of port {}", port.target),
                        value: ip.to_string(),
                        family: "IP",
                        example: "127.0.0.1 or ::1",
                        source,
                    })?,
            )
        }
    };
    let protocol = match port.protocol.trim() {
        "" | "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => {
            return Err(SettingError::invalid(format!(
                "unsupported port protocol {other:?}: use tcp or udp"
            )))
        }
    };
    let binding = |host_port: u16, container_port: u16| PortBinding {
        host_ip,
        host_port,
        container_port,
        protocol,
    };
    let published = port.published.as_deref().map(str::trim).unwrap_or("");
    if published.is_empty() {
        return Ok(vec![binding(0, port.target)]);
    }
    let Some((start, end)) = published.split_once('-') else {
        return Ok(vec![binding(parse_port_number(published)?, port.target)]);
    };
    let (start, end) = (parse_port_number(start)?, parse_port_number(end)?);
    if end < start {
        return Err(SettingError::invalid(format!(
            "invalid published port range {published:?}: write the lower port first"
        )));
    }
    (0..=end - start)
        .map(|i| {
            let target = port.target.checked_add(i).ok_or_else(|| {
                SettingError::invalid(format!(
                    "published range {published:?} takes container port past 65535: shorten the range"
                ))
            })?;
            Ok(binding(start + i, target))
        })
        .collect()
}

fn parse_ipv4(network: &str, text: &str) -> Result<Ipv4Addr, SettingError> {
    text.trim().parse().map_err(|source| SettingError::Address {
        key: format!("networks.{network}.ipv4_address"),
        value: text.to_string(),
        family: "IPv4",
        example: "172.20.0.10",
        source,
    })
}

fn parse_ipv6(network: &str, text: &str) -> Result<Ipv6Addr, SettingError> {
    text.trim().parse().map_err(|source| SettingError::Address {
        key: format!("networks.{network}.ipv6_address"),
        value: text.to_string(),
        family: "IPv6",
        example: "fd00:db8:1::10",
        source,
    })
}

/// Check a service before anything is created and parse its settings once:
/// ports, addresses, the restart policy, namespace modes, mounts, secrets
/// and configs, logging, and the rules between settings (`container_name`
/// with several replicas, `shm_size` with a joined IPC namespace, …).
pub fn validate_service<'a>(
    project: &Project,
    service: &'a Service,
) -> Result<ValidService<'a>, OrchestratorError> {
    let invalid = |source: SettingError| OrchestratorError::InvalidService {
        service: service.name.clone(),
        source,
    };
    let refuse = |message: String| invalid(SettingError::Invalid(message));
    let mut ports = Vec::new();
    for port in &service.ports {
        ports.extend(port_bindings(port).map_err(invalid)?);
    }
    if !service.models.is_empty() {
        let used: Vec<String> = service
            .models
            .keys()
            .map(|key| match project.models.get(key) {
                Some(model) => format!("{key:?} ({})", model.model),
                None => format!("{key:?}"),
            })
            .collect();
        return Err(refuse(format!(
            "models are not supported by wharf's engine: the service uses {} {}; remove `models` from it to run it with wharf",
            if used.len() == 1 { "model" } else { "models" },
            used.join(", ")
        )));
    }
    for (i, mount) in service.volumes.iter().enumerate() {
        if mount.kind == VolumeKind::Npipe {
            return Err(refuse(format!(
                "volumes[{i}] (target {:?}): npipe mounts are Windows named pipes, which wharf's engine cannot mount on Linux: bind-mount a Unix socket instead",
                mount.target
            )));
        }
        if !mount.target.starts_with('/') {
            return Err(refuse(format!(
                "volumes[{i}]: the target {:?} is not an absolute path in a Linux container: write it as /path",
                mount.target
            )));
        }
        let kind = match mount.kind {
            VolumeKind::Bind => "bind",
            VolumeKind::Volume => "volume",
            VolumeKind::Tmpfs => "tmpfs",
            VolumeKind::Npipe => "npipe",
        };
        // `z`/`Z` on a named volume (`data:/d:z`) is what docker accepts and
        // wharf ignores on any mount (it does no SELinux labelling); private
        // propagation is every mount's default.
        let bind_options_matter = mount.bind.as_ref().is_some_and(|b| {
            mount.kind == VolumeKind::Bind
                || b.create_host_path
                || b.recursive.is_some()
                || b.propagation
                    .as_deref()
                    .is_some_and(|p| p != "private" && p != "rprivate")
        });
        let foreign = [
            ("bind", bind_options_matter),
            ("volume", mount.volume.is_some()),
            ("tmpfs", mount.tmpfs.is_some()),
        ]
        .into_iter()
        .find(|(options, set)| *set && *options != kind);
        if let Some((options, _)) = foreign {
            return Err(refuse(format!(
                "volumes[{i}] (target {:?}): `{options}` options apply to {options} mounts, not to a {kind} mount: remove them or change the mount's type",
                mount.target
            )));
        }
    }
    let restart = parse_restart(service.restart.as_deref()).map_err(invalid)?;
    let mut addresses = BTreeMap::new();
    for (key, attachment) in &service.networks {
        if service.network_mode.is_none() && !project.networks.contains_key(key) {
            return Err(OrchestratorError::UndefinedNetwork {
                service: service.name.clone(),
                network: key.clone(),
            });
        }
        let ipv4 = attachment
            .ipv4_address
            .as_deref()
            .map(|ip| parse_ipv4(key, ip))
            .transpose()
            .map_err(invalid)?;
        let ipv6 = attachment
            .ipv6_address
            .as_deref()
            .map(|ip| parse_ipv6(key, ip))
            .transpose()
            .map_err(invalid)?;
        if let Some(ip) = &attachment.ipv6_address {
            let network = project.networks.get(key);
            if network.is_some_and(|n| !n.external && n.enable_ipv6 != Some(true)) {
                return Err(refuse(format!(
                    "networks.{key}.ipv6_address {ip}: network {key:?} has no IPv6: set enable_ipv6: true (and an IPv6 ipam.config subnet if you want to choose it) on the network"
                )));
            }
        }
        crate::networks::validate_attachment(key, attachment).map_err(invalid)?;
        addresses.insert(key.clone(), (ipv4, ipv6));
    }
    crate::networks::validate_mac_address(service).map_err(invalid)?;
    unsupported(service).map_err(invalid)?;
    let logging = crate::logging::log_config(service).map_err(invalid)?;
    crate::logging::validate_hooks(service).map_err(invalid)?;
    let tmpfs = service
        .tmpfs
        .iter()
        .map(|entry| tmpfs_entry(entry))
        .collect::<Result<Vec<_>, _>>()
        .map_err(invalid)?;
    let mut volumes_from = Vec::new();
    for entry in &service.volumes_from {
        let (source, read_only) = volumes_from_entry(entry).map_err(invalid)?;
        if let VolumesFromSource::Service(name) = &source {
            if !project.services.contains_key(name) {
                return Err(refuse(format!(
                    "volumes_from {entry:?} names no service of the project: use a service \
                     name, or container:NAME for a container of another project"
                )));
            }
        }
        volumes_from.push((source, read_only));
    }
    let files = service_files(project, service).map_err(invalid)?;
    if let Some(mode) = service.network_mode.as_deref() {
        let joined = mode.starts_with("service:") || mode.starts_with("container:");
        if joined && !service.ports.is_empty() {
            return Err(refuse(format!(
                "ports cannot be published with network_mode {mode}: publish them on the container whose network it shares"
            )));
        }
        if let Some(other) = mode.strip_prefix("service:") {
            if !project.services.contains_key(other) {
                return Err(refuse(format!(
                    "network_mode {mode} names no service of the project"
                )));
            }
        }
    }
    let pid_mode = pid_mode(project, service).map_err(invalid)?;
    let ipc = ipc_mode(project, service).map_err(invalid)?;
    let uts_mode = uts_mode(service).map_err(invalid)?;
    for (attribute, mode) in [("pid", &service.pid), ("ipc", &service.ipc)] {
        let Some(mode) = mode.as_deref().map(str::trim) else {
            continue;
        };
        if let Some(other) = mode.strip_prefix("service:") {
            let Some(source) = project.services.get(other) else {
                return Err(refuse(format!(
                    "{attribute} {mode} names no service of the project"
                )));
            };
            if attribute == "ipc"
                && !matches!(
                    ipc_mode(project, source),
                    Ok(IpcMode::Shareable | IpcMode::Host)
                )
            {
                return Err(refuse(format!(
                    "ipc {mode}: the IPC namespace of service {other:?} is private, so no other container may join it: set `ipc: shareable` on {other}"
                )));
            }
        }
    }
    if service.shm_size.is_some()
        && matches!(ipc, IpcMode::Container(_) | IpcMode::Host | IpcMode::None)
    {
        return Err(refuse(format!(
            "shm_size cannot be set with ipc {}: only a container with a /dev/shm of its own (ipc private or shareable) has one to size",
            service.ipc.as_deref().unwrap_or_default()
        )));
    }
    if uts_mode == UtsMode::Host {
        for (attribute, set) in [
            ("hostname", service.hostname.is_some()),
            ("domainname", service.domainname.is_some()),
        ] {
            if set {
                return Err(refuse(format!(
                    "{attribute} cannot be set with uts: host, which keeps the host's names: remove one of them"
                )));
            }
        }
    }
    let mem_swappiness = mem_swappiness(service).map_err(invalid)?;
    if let Some(group) = service.group_add.iter().find(|g| {
        let g = g.trim();
        g.is_empty() || g.contains([':', ',', '\n']) || g.chars().any(char::is_whitespace)
    }) {
        return Err(refuse(format!(
            "group_add entry {group:?} is not a group name or number: write one, like audio or 29"
        )));
    }
    let oom_score_adj = match service.oom_score_adj {
        None => None,
        Some(adj @ -1000..=1000) => Some(adj as i32),
        Some(adj) => {
            return Err(refuse(format!(
                "oom_score_adj {adj} is out of range: use a value from -1000 to 1000"
            )))
        }
    };
    if service.container_name.is_some() && service.replicas > 1 {
        return Err(refuse(format!(
            "container_name {:?} can only be used with one replica, not {}: remove container_name or scale to 1",
            service.container_name.as_deref().unwrap_or_default(),
            service.replicas
        )));
    }
    Ok(ValidService {
        service,
        network_mode: network_mode(project, service),
        ports,
        restart,
        unhealthy_restart: unhealthy_restart(service),
        addresses,
        tmpfs,
        volumes_from,
        files,
        pid_mode,
        ipc_mode: ipc,
        uts_mode,
        mem_swappiness,
        cpu_shares: not_negative("cpu_shares", service.cpu_shares).map_err(invalid)?,
        cpu_period: not_negative("cpu_period", service.cpu_period).map_err(invalid)?,
        oom_score_adj,
        ulimits: ulimits(service).map_err(invalid)?,
        logging,
    })
}

/// Settings wharf cannot honour yet: an error naming them, never a silent
/// no-op.
pub(crate) fn unsupported(service: &Service) -> Result<(), SettingError> {
    let mut set: Vec<&str> = Vec::new();
    let mut check = |name: &'static str, is_set: bool| {
        if is_set {
            set.push(name);
        }
    };
    check("cgroup", service.cgroup.is_some());
    check("cgroup_parent", service.cgroup_parent.is_some());
    check("cpu_count", service.cpu_count.is_some());
    check("cpu_percent", service.cpu_percent.is_some());
    check("cpu_rt_period", service.cpu_rt_period.is_some());
    check("cpu_rt_runtime", service.cpu_rt_runtime.is_some());
    check("credential_spec", service.credential_spec.is_some());
    check(
        "device_cgroup_rules",
        !service.device_cgroup_rules.is_empty(),
    );
    check("gpus", !service.gpus.is_empty());
    check("isolation", service.isolation.is_some());
    check("runtime", service.runtime.is_some());
    check("storage_opt", !service.storage_opt.is_empty());
    check("userns_mode", service.userns_mode.is_some());
    check(
        "bind propagation shared and rshared",
        service.volumes.iter().any(|v| {
            v.bind
                .as_ref()
                .and_then(|b| b.propagation.as_deref())
                .is_some_and(|p| p == "shared" || p == "rshared")
        }),
    );
    check(
        "network_mode (other than bridge, host, none, service:NAME, container:NAME)",
        service.network_mode.as_deref().is_some_and(|m| {
            !matches!(m, "bridge" | "default" | "host" | "none")
                && !m.starts_with("service:")
                && !m.starts_with("container:")
        }),
    );
    if set.is_empty() {
        Ok(())
    } else {
        Err(SettingError::invalid(format!(
            "{} {} not supported by wharf yet: remove {} or run this service elsewhere",
            set.join(", "),
            if set.len() == 1 { "is" } else { "are" },
            if set.len() == 1 { "it" } else { "them" }
        )))
    }
}
