//! Service → [`ContainerSpec`]: names, Compose labels, mounts, networks,
//! ports, limits, restart policy; and the config hash that tells `up`
//! whether an existing container still matches its service.

use crate::error::OrchestratorError;
use crate::files::{readable_files, service_files};
use crate::mounts::{
    tmpfs_entry, tmpfs_long_options, volumes_from_entry, TmpfsOptions, VolumesFromSource,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use wharf_compose::{DependencyCondition, Project, Service, ServicePort, VolumeKind};
use wharf_engine_api::{
    labels, ContainerSpec, DeviceMapping, FileKind, Healthcheck, IpcMode, Mount, MountKind,
    NetworkAttachment, NetworkMode, PidMode, PortBinding, Protocol, Resources, RestartPolicy,
    SecuritySpec, Ulimit, UtsMode, VolumeSpec, VolumesFrom,
};

/// Version tag hashed in front of the spec; bump it only when the meaning of
/// a spec changes (bumping it recreates every container).
pub const CONFIG_HASH_VERSION: &str = "wharf-spec-v1";

/// wharf's own label: short hashes of the parts of the spec (image, command,
/// environment, …), so `up` can say *what* changed when the config hash
/// differs. Not part of the config hash.
pub const CONFIG_PARTS_LABEL: &str = "io.wharf.config-parts";

/// Labels left out of the config hash: the hash itself, what differs between
/// replicas, and what changes without the container changing (wharf's
/// version, which Compose files were read).
const UNHASHED_LABELS: [&str; 5] = [
    labels::CONFIG_HASH,
    labels::CONTAINER_NUMBER,
    labels::VERSION,
    labels::CONFIG_FILES,
    CONFIG_PARTS_LABEL,
];

/// The image reference a service runs: `image`, or `<project>-<service>`
/// for a service that is only built (docker compose's default name).
pub fn service_image(project: &Project, service: &Service) -> String {
    service
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{}", project.name, service.name))
}

/// The name of replica `number` of a service.
pub fn container_name(project: &Project, service: &Service, number: u32) -> String {
    service
        .container_name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-{}", project.name, service.name, number))
}

/// The engine's network mode of a service: `service:x` becomes the first
/// replica of x (compose orders x first through the implied `depends_on`).
pub fn network_mode(project: &Project, service: &Service) -> NetworkMode {
    match service.network_mode.as_deref() {
        Some("host") => NetworkMode::Host,
        Some("none") => NetworkMode::None,
        Some(mode) => {
            if let Some(name) = mode.strip_prefix("service:") {
                match project.services.get(name) {
                    Some(other) => NetworkMode::Container(container_name(project, other, 1)),
                    None => NetworkMode::Container(format!("{}-{name}-1", project.name)),
                }
            } else if let Some(name) = mode.strip_prefix("container:") {
                NetworkMode::Container(name.to_string())
            } else {
                NetworkMode::Bridge
            }
        }
        None => NetworkMode::Bridge,
    }
}

/// The container a `service:NAME` or `container:NAME` namespace mode joins:
/// the first replica of a service, or a container by name or id; `None` for
/// any other value.
fn joined_container(project: &Project, mode: &str) -> Option<String> {
    if let Some(name) = mode.strip_prefix("service:") {
        Some(match project.services.get(name) {
            Some(other) => container_name(project, other, 1),
            None => format!("{}-{name}-1", project.name),
        })
    } else {
        mode.strip_prefix("container:").map(str::to_string)
    }
}

/// The engine's pid namespace of a service (`pid:`), or why the value is
/// not one.
pub fn pid_mode(project: &Project, service: &Service) -> Result<PidMode, String> {
    match service.pid.as_deref().map(str::trim) {
        None | Some("") | Some("private") => Ok(PidMode::Private),
        Some("host") => Ok(PidMode::Host),
        Some(mode) => joined_container(project, mode)
            .map(PidMode::Container)
            .ok_or_else(|| {
                format!("pid {mode:?} is not valid: use host, service:NAME or container:NAME")
            }),
    }
}

/// The engine's IPC namespace of a service (`ipc:`), or why the value is
/// not one.
pub fn ipc_mode(project: &Project, service: &Service) -> Result<IpcMode, String> {
    match service.ipc.as_deref().map(str::trim) {
        None | Some("") | Some("private") => Ok(IpcMode::Private),
        Some("shareable") => Ok(IpcMode::Shareable),
        Some("none") => Ok(IpcMode::None),
        Some("host") => Ok(IpcMode::Host),
        Some(mode) => joined_container(project, mode)
            .map(IpcMode::Container)
            .ok_or_else(|| {
                format!(
                    "ipc {mode:?} is not valid: use private, shareable, none, host, service:NAME or container:NAME"
                )
            }),
    }
}

/// The engine's UTS namespace of a service (`uts:`), or why the value is
/// not one.
pub fn uts_mode(service: &Service) -> Result<UtsMode, String> {
    match service.uts.as_deref().map(str::trim) {
        None | Some("") => Ok(UtsMode::Private),
        Some("host") => Ok(UtsMode::Host),
        Some(mode) => Err(format!(
            "uts {mode:?} is not valid: host is the only mode (leave uts unset for the container's own)"
        )),
    }
}

/// The services whose namespaces `service` joins (`network_mode`, `pid`
/// and `ipc` set to `service:NAME`): it is recreated when they are.
pub fn namespace_sources(service: &Service) -> Vec<&str> {
    let mut sources: Vec<&str> = [&service.network_mode, &service.pid, &service.ipc]
        .into_iter()
        .filter_map(|mode| mode.as_deref()?.trim().strip_prefix("service:"))
        .collect();
    sources.sort_unstable();
    sources.dedup();
    sources
}

/// `mem_swappiness` as the engine takes it: -1 (and unset) leave the
/// kernel's default.
fn mem_swappiness(service: &Service) -> Result<Option<u64>, String> {
    match service.mem_swappiness {
        None | Some(-1) => Ok(None),
        Some(value @ 0..=100) => Ok(Some(value as u64)),
        Some(value) => Err(format!(
            "mem_swappiness {value} is out of range: use 0 to 100, or -1 for the kernel's default"
        )),
    }
}

/// Full host name of a network key (`default` → `hello_default`).
pub fn network_name(project: &Project, key: &str) -> String {
    project
        .networks
        .get(key)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| format!("{}_{}", project.name, key))
}

/// Full host name of a top-level volume key (`data` → `hello_data`, or its `name:`).
pub fn volume_name(project: &Project, key: &str) -> String {
    project
        .volumes
        .get(key)
        .map(|v| v.name.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| format!("{}_{}", project.name, key))
}

/// The volume to create for top-level volume `key`: its name, driver,
/// options and labels plus the project and volume labels compose sets.
pub fn volume_spec(project: &Project, key: &str) -> VolumeSpec {
    let volume = project.volumes.get(key).cloned().unwrap_or_default();
    let mut volume_labels = volume.labels.clone();
    volume_labels.insert(labels::PROJECT.into(), project.name.clone());
    volume_labels.insert(labels::VOLUME.into(), key.to_string());
    volume_labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    VolumeSpec {
        name: volume_name(project, key),
        driver: volume.driver.clone(),
        driver_opts: volume.driver_opts.clone(),
        labels: volume_labels,
    }
}

/// Check a top-level volume before anything is created: only the local
/// driver, and only its `type`, `o` and `device` options.
pub fn validate_volume(project: &Project, key: &str) -> Result<(), OrchestratorError> {
    let Some(volume) = project.volumes.get(key) else {
        return Ok(());
    };
    let invalid = |message: String| OrchestratorError::InvalidVolume {
        volume: volume_name(project, key),
        message,
    };
    if volume.external {
        return Ok(());
    }
    if let Some(driver) = volume.driver.as_deref().filter(|d| *d != "local") {
        return Err(invalid(format!(
            "driver {driver:?} is not supported: wharf has only the local driver \
             (remove `driver:`, or create the volume another way and mark it `external: true`)"
        )));
    }
    if let Some(key) = volume
        .driver_opts
        .keys()
        .find(|k| !["type", "o", "device"].contains(&k.as_str()))
    {
        return Err(invalid(format!(
            "unknown driver_opts key {key:?}: the local driver takes type, o and device"
        )));
    }
    Ok(())
}

fn condition_name(condition: DependencyCondition) -> &'static str {
    match condition {
        DependencyCondition::ServiceStarted => "service_started",
        DependencyCondition::ServiceHealthy => "service_healthy",
        DependencyCondition::ServiceCompletedSuccessfully => "service_completed_successfully",
    }
}

/// The `com.docker.compose.depends_on` label value:
/// `name:condition:restart,…`, sorted by name.
pub fn depends_on_label(service: &Service) -> String {
    service
        .depends_on
        .iter()
        .map(|(name, dep)| format!("{name}:{}:{}", condition_name(dep.condition), dep.restart))
        .collect::<Vec<_>>()
        .join(",")
}

/// Service names in a `com.docker.compose.depends_on` label value.
pub fn parse_depends_on_label(value: &str) -> Vec<String> {
    value
        .split(',')
        .filter_map(|entry| entry.split(':').next())
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .collect()
}

/// The engine's health check for a service's: none for `["NONE"]`, and none
/// for an empty test (the image's own check, which images do not carry yet).
fn healthcheck(check: &wharf_compose::Healthcheck) -> Option<Healthcheck> {
    let millis = |d: Option<std::time::Duration>| d.map(|d| d.as_millis() as u64);
    match check.test.first().map(String::as_str) {
        // Empty: the image's own check applies (the engine knows it).
        None => None,
        // Disabled, the image's check included.
        Some("NONE") => Some(Healthcheck {
            test: vec!["NONE".into()],
            ..Default::default()
        }),
        Some(_) => Some(Healthcheck {
            test: check.test.clone(),
            interval_ms: millis(check.interval),
            timeout_ms: millis(check.timeout),
            retries: check.retries,
            start_period_ms: millis(check.start_period),
            start_interval_ms: None,
        }),
    }
}

/// `restart:` → [`RestartPolicy`].
pub fn parse_restart(value: Option<&str>) -> Result<RestartPolicy, String> {
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
                .map_err(|_| {
                    format!("invalid restart policy {other:?}: the retry count must be a number")
                }),
            None => Err(format!(
                "invalid restart policy {other:?}: use no, always, unless-stopped or on-failure[:N]"
            )),
        },
    }
}

fn parse_port_number(text: &str) -> Result<u16, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("invalid published port {text:?}"))
}

/// One Compose port → its bindings. A published range `a-b` maps host port
/// `a+i` to container port `target+i`.
pub fn port_bindings(port: &ServicePort) -> Result<Vec<PortBinding>, String> {
    let host_ip = match port.host_ip.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(ip) => {
            let bare = ip.trim_start_matches('[').trim_end_matches(']');
            Some(
                bare.parse::<IpAddr>()
                    .map_err(|_| format!("invalid host_ip {ip:?} for port {}", port.target))?,
            )
        }
    };
    let protocol = match port.protocol.trim() {
        "" | "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => return Err(format!("unsupported port protocol {other:?}")),
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
        return Err(format!("invalid published port range {published:?}"));
    }
    (0..=end - start)
        .map(|i| {
            let target = port.target.checked_add(i).ok_or_else(|| {
                format!("published range {published:?} takes container port past 65535")
            })?;
            Ok(binding(start + i, target))
        })
        .collect()
}

fn parse_ipv4(service: &str, network: &str, text: &str) -> Result<Ipv4Addr, String> {
    text.trim().parse().map_err(|_| {
        format!("invalid ipv4_address {text:?} on network {network:?} of service {service:?}")
    })
}

fn parse_ipv6(service: &str, network: &str, text: &str) -> Result<std::net::Ipv6Addr, String> {
    text.trim().parse().map_err(|_| {
        format!(
            "invalid ipv6_address {text:?} on network {network:?} of service {service:?}: write an IPv6 address like fd00:db8:1::10"
        )
    })
}

/// Check what [`container_spec`] would otherwise have to drop silently:
/// ports, host addresses, the restart policy and `container_name` with
/// several replicas.
pub fn validate_service(project: &Project, service: &Service) -> Result<(), OrchestratorError> {
    let invalid = |message: String| OrchestratorError::InvalidService {
        service: service.name.clone(),
        message,
    };
    for port in &service.ports {
        port_bindings(port).map_err(invalid)?;
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
        return Err(invalid(format!(
            "models are not supported by wharf's engine: the service uses {} {}; remove `models` from it to run it with wharf",
            if used.len() == 1 { "model" } else { "models" },
            used.join(", ")
        )));
    }
    for (i, mount) in service.volumes.iter().enumerate() {
        if mount.kind == VolumeKind::Npipe {
            return Err(invalid(format!(
                "volumes[{i}] (target {:?}): npipe mounts are Windows named pipes, which wharf's engine cannot mount on Linux: bind-mount a Unix socket instead",
                mount.target
            )));
        }
    }
    parse_restart(service.restart.as_deref()).map_err(invalid)?;
    for (key, attachment) in &service.networks {
        if service.network_mode.is_none() && !project.networks.contains_key(key) {
            return Err(OrchestratorError::UndefinedNetwork {
                service: service.name.clone(),
                network: key.clone(),
            });
        }
        if let Some(ip) = &attachment.ipv4_address {
            parse_ipv4(&service.name, key, ip).map_err(invalid)?;
        }
        if let Some(ip) = &attachment.ipv6_address {
            parse_ipv6(&service.name, key, ip).map_err(invalid)?;
            let network = project.networks.get(key);
            if network.is_some_and(|n| !n.external && n.enable_ipv6 != Some(true)) {
                return Err(invalid(format!(
                    "networks.{key}.ipv6_address {ip}: network {key:?} has no IPv6: set enable_ipv6: true (and an IPv6 ipam.config subnet if you want to choose it) on the network"
                )));
            }
        }
        crate::networks::validate_attachment(service, key, attachment).map_err(invalid)?;
    }
    crate::networks::validate_mac_address(service).map_err(invalid)?;
    unsupported(service).map_err(invalid)?;
    crate::logging::log_config(service).map_err(invalid)?;
    crate::logging::validate_hooks(service).map_err(invalid)?;
    for entry in &service.tmpfs {
        tmpfs_entry(entry).map_err(invalid)?;
    }
    for entry in &service.volumes_from {
        let (source, _) = volumes_from_entry(entry).map_err(invalid)?;
        if let VolumesFromSource::Service(name) = source {
            if !project.services.contains_key(&name) {
                return Err(invalid(format!(
                    "volumes_from {entry:?} names no service of the project: use a service \
                     name, or container:NAME for a container of another project"
                )));
            }
        }
    }
    service_files(project, service).map_err(invalid)?;
    if let Some(mode) = service.network_mode.as_deref() {
        let joined = mode.starts_with("service:") || mode.starts_with("container:");
        if joined && !service.ports.is_empty() {
            return Err(invalid(format!(
                "ports cannot be published with network_mode {mode}: publish them on the container whose network it shares"
            )));
        }
        if let Some(other) = mode.strip_prefix("service:") {
            if !project.services.contains_key(other) {
                return Err(invalid(format!(
                    "network_mode {mode} names no service of the project"
                )));
            }
        }
    }
    pid_mode(project, service).map_err(invalid)?;
    let ipc = ipc_mode(project, service).map_err(invalid)?;
    uts_mode(service).map_err(invalid)?;
    for (attribute, mode) in [("pid", &service.pid), ("ipc", &service.ipc)] {
        let Some(mode) = mode.as_deref().map(str::trim) else {
            continue;
        };
        if let Some(other) = mode.strip_prefix("service:") {
            let Some(source) = project.services.get(other) else {
                return Err(invalid(format!(
                    "{attribute} {mode} names no service of the project"
                )));
            };
            if attribute == "ipc"
                && !matches!(
                    ipc_mode(project, source),
                    Ok(IpcMode::Shareable | IpcMode::Host)
                )
            {
                return Err(invalid(format!(
                    "ipc {mode}: the IPC namespace of service {other:?} is private, so no other container may join it: set `ipc: shareable` on {other}"
                )));
            }
        }
    }
    if service.shm_size.is_some()
        && matches!(ipc, IpcMode::Container(_) | IpcMode::Host | IpcMode::None)
    {
        return Err(invalid(format!(
            "shm_size cannot be set with ipc {}: only a container with a /dev/shm of its own (ipc private or shareable) has one to size",
            service.ipc.as_deref().unwrap_or_default()
        )));
    }
    if service.uts.as_deref().map(str::trim) == Some("host") {
        for (attribute, set) in [
            ("hostname", service.hostname.is_some()),
            ("domainname", service.domainname.is_some()),
        ] {
            if set {
                return Err(invalid(format!(
                    "{attribute} cannot be set with uts: host, which keeps the host's names: remove one of them"
                )));
            }
        }
    }
    mem_swappiness(service).map_err(invalid)?;
    if let Some(group) = service.group_add.iter().find(|g| {
        let g = g.trim();
        g.is_empty() || g.contains([':', ',', '\n']) || g.chars().any(char::is_whitespace)
    }) {
        return Err(invalid(format!(
            "group_add entry {group:?} is not a group name or number"
        )));
    }
    if let Some(adj) = service.oom_score_adj {
        if !(-1000..=1000).contains(&adj) {
            return Err(invalid(format!(
                "oom_score_adj {adj} is out of range: use a value from -1000 to 1000"
            )));
        }
    }
    if service.container_name.is_some() && service.replicas > 1 {
        return Err(invalid(format!(
            "container_name {:?} can only be used with one replica, not {}",
            service.container_name.as_deref().unwrap_or_default(),
            service.replicas
        )));
    }
    Ok(())
}

/// Settings wharf cannot honour yet: an error naming them, never a silent
/// no-op.
fn unsupported(service: &Service) -> Result<(), String> {
    let mut set: Vec<&str> = Vec::new();
    let mut check = |name: &'static str, is_set: bool| {
        if is_set {
            set.push(name);
        }
    };
    check("blkio_config", service.blkio_config.is_some());
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
        Err(format!(
            "{} {} not supported by wharf yet: remove {} or run this service elsewhere",
            set.join(", "),
            if set.len() == 1 { "is" } else { "are" },
            if set.len() == 1 { "it" } else { "them" }
        ))
    }
}

/// `links` (`SERVICE[:ALIAS]`) and `external_links` (`CONTAINER[:ALIAS]`).
fn links(service: &Service) -> Vec<wharf_engine_api::Link> {
    let split = |text: &str| -> (String, String) {
        match text.split_once(':') {
            Some((target, alias)) if !alias.is_empty() => (target.to_string(), alias.to_string()),
            _ => {
                let target = text.trim_end_matches(':').to_string();
                (target.clone(), target)
            }
        }
    };
    let internal = service.links.iter().map(|l| {
        let (target, alias) = split(l);
        wharf_engine_api::Link {
            service: Some(target),
            container: None,
            alias,
        }
    });
    let external = service.external_links.iter().map(|l| {
        let (target, alias) = split(l);
        wharf_engine_api::Link {
            service: None,
            container: Some(target),
            alias,
        }
    });
    internal.chain(external).collect()
}

/// Service → the ContainerSpec for replica `number` (1-based). Settings that
/// do not parse are left out here; [`validate_service`] reports them (and
/// `plan_up` calls it first).
pub fn container_spec(project: &Project, service: &Service, number: u32) -> ContainerSpec {
    let image = service_image(project, service);

    let mut spec_labels = service.labels.clone();
    let mut set = |key: &str, value: String| {
        spec_labels.insert(key.to_string(), value);
    };
    set(labels::PROJECT, project.name.clone());
    set(labels::SERVICE, service.name.clone());
    set(labels::CONTAINER_NUMBER, number.to_string());
    set(labels::ONEOFF, "False".into());
    set(labels::IMAGE, image.clone());
    set(labels::DEPENDS_ON, depends_on_label(service));
    set(
        labels::WORKING_DIR,
        project.working_dir.display().to_string(),
    );
    set(
        labels::CONFIG_FILES,
        project
            .config_files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(","),
    );
    set(labels::VERSION, env!("CARGO_PKG_VERSION").into());

    let mounts = service
        .volumes
        .iter()
        // Refused by validate_service; there is nothing to mount on Linux.
        .filter(|v| v.kind != VolumeKind::Npipe)
        .map(|v| match v.kind {
            VolumeKind::Npipe => unreachable!("npipe mounts are filtered out above"),
            VolumeKind::Bind => Mount {
                read_only: v.read_only,
                // The short syntax (and `bind.create_host_path`) creates a
                // missing host directory; the long syntax requires it.
                require_host_path: !v.bind.as_ref().is_some_and(|b| b.create_host_path),
                options: v
                    .bind
                    .as_ref()
                    .and_then(|b| b.propagation.clone())
                    .filter(|p| p != "private" && p != "rprivate")
                    .into_iter()
                    .collect(),
                ..Mount::new(
                    MountKind::Bind,
                    v.source.clone().unwrap_or_default(),
                    v.target.clone(),
                )
            },
            VolumeKind::Volume => Mount {
                read_only: v.read_only,
                no_copy: v.volume.as_ref().is_some_and(|o| o.nocopy),
                subpath: v.volume.as_ref().and_then(|o| o.subpath.clone()),
                ..Mount::new(
                    MountKind::Volume,
                    v.source
                        .as_deref()
                        .map(|key| volume_name(project, key))
                        .unwrap_or_default(),
                    v.target.clone(),
                )
            },
            VolumeKind::Tmpfs => Mount {
                read_only: v.read_only,
                options: v
                    .tmpfs
                    .as_ref()
                    .map(|t| tmpfs_long_options(t.size, t.mode))
                    .unwrap_or_default(),
                ..Mount::new(MountKind::Tmpfs, "", v.target.clone())
            },
        })
        .chain(service.tmpfs.iter().filter_map(|entry| {
            let (target, TmpfsOptions { read_only, options }) = tmpfs_entry(entry).ok()?;
            Some(Mount {
                read_only,
                options,
                ..Mount::new(MountKind::Tmpfs, "", target)
            })
        }))
        .collect();

    let volumes_from = service
        .volumes_from
        .iter()
        .filter_map(|entry| volumes_from_entry(entry).ok())
        .map(|(source, read_only)| VolumesFrom {
            container: match source {
                VolumesFromSource::Service(name) => match project.services.get(&name) {
                    Some(other) => container_name(project, other, 1),
                    None => format!("{}-{name}-1", project.name),
                },
                VolumesFromSource::Container(name) => name,
            },
            read_only,
        })
        .collect();

    let networks = if service.network_mode.is_some() {
        Vec::new()
    } else {
        let mut keys: Vec<_> = service.networks.iter().collect();
        keys.sort_by(|(a_key, a), (b_key, b)| b.priority.cmp(&a.priority).then(a_key.cmp(b_key)));
        keys.into_iter()
            .enumerate()
            .map(|(index, (key, attachment))| NetworkAttachment {
                network: network_name(project, key),
                aliases: std::iter::once(service.name.clone())
                    .chain(attachment.aliases.iter().cloned())
                    .collect(),
                ipv4_address: attachment
                    .ipv4_address
                    .as_deref()
                    .and_then(|ip| parse_ipv4(&service.name, key, ip).ok()),
                ipv6_address: attachment
                    .ipv6_address
                    .as_deref()
                    .and_then(|ip| parse_ipv6(&service.name, key, ip).ok()),
                // The service-level address belongs to the first (main) network.
                mac_address: attachment
                    .mac_address
                    .clone()
                    .or_else(|| service.mac_address.clone().filter(|_| index == 0)),
            })
            .collect()
    };

    let network_mode = network_mode(project, service);
    // In the host's namespace ports are the container's own (docker ignores
    // them with a warning); none has nowhere to publish them from.
    let publishes = matches!(network_mode, NetworkMode::Bridge);
    let ports = service
        .ports
        .iter()
        .filter(|_| publishes)
        .filter_map(|p| port_bindings(p).ok())
        .flatten()
        .collect();

    let mut spec = ContainerSpec {
        name: container_name(project, service, number),
        image,
        entrypoint: service.entrypoint.clone(),
        command: service.command.clone(),
        env: service.environment.clone(),
        working_dir: service.working_dir.clone(),
        user: service.user.clone(),
        hostname: service.hostname.clone(),
        labels: spec_labels,
        mounts,
        networks,
        ports,
        resources: Resources {
            memory_bytes: service.limits.memory_bytes,
            nano_cpus: service.limits.nano_cpus,
            pids_limit: service.limits.pids,
            memory_swap: service.memswap_limit,
            memory_reservation: service.reservations.memory_bytes,
            // docker compose drops reservations.cpus (a swarm option); wharf
            // honours it as a relative weight, 1024 per CPU.
            cpu_shares: service
                .cpu_shares
                .and_then(|s| u64::try_from(s).ok())
                .or(service
                    .reservations
                    .nano_cpus
                    .map(|n| n * 1024 / 1_000_000_000)),
            cpu_quota: service.cpu_quota,
            cpu_period: service.cpu_period.and_then(|p| u64::try_from(p).ok()),
            cpuset_cpus: service.cpuset.clone(),
            oom_kill_disable: service.oom_kill_disable,
            mem_swappiness: mem_swappiness(service).unwrap_or_default(),
        },
        stop_signal: service.stop_signal.clone(),
        stop_grace_period_secs: service.stop_grace_period.map(|d| d.as_secs()),
        restart: parse_restart(service.restart.as_deref()).unwrap_or_default(),
        healthcheck: service.healthcheck.as_ref().and_then(healthcheck),
        security: SecuritySpec {
            privileged: service.privileged,
            cap_add: service.cap_add.clone(),
            cap_drop: service.cap_drop.clone(),
            read_only: service.read_only,
            security_opt: service.security_opt.clone(),
            devices: service
                .devices
                .iter()
                .map(|d| DeviceMapping {
                    host_path: d.source.clone(),
                    container_path: if d.target.is_empty() {
                        d.source.clone()
                    } else {
                        d.target.clone()
                    },
                    permissions: if d.permissions.is_empty() {
                        "rwm".into()
                    } else {
                        d.permissions.clone()
                    },
                })
                .collect(),
        },
        ulimits: service
            .ulimits
            .iter()
            .filter_map(|(name, u)| {
                let soft = u.soft.or(u.single)?;
                Some((
                    name.clone(),
                    Ulimit {
                        soft,
                        hard: u.hard.or(u.single).unwrap_or(soft),
                    },
                ))
            })
            .collect(),
        oom_score_adj: service.oom_score_adj.and_then(|v| i32::try_from(v).ok()),
        sysctls: service.sysctls.clone(),
        shm_size: service.shm_size,
        domainname: service.domainname.clone(),
        dns: service.dns.clone(),
        dns_search: service.dns_search.clone(),
        dns_opt: service.dns_opt.clone(),
        extra_hosts: service
            .extra_hosts
            .iter()
            .flat_map(|(name, addresses)| addresses.iter().map(move |a| (name.clone(), a.clone())))
            .collect(),
        network_mode,
        links: links(service),
        files: readable_files(project, service),
        volumes_from,
        init: service.init == Some(true),
        pid_mode: pid_mode(project, service).unwrap_or_default(),
        ipc_mode: ipc_mode(project, service).unwrap_or_default(),
        uts_mode: uts_mode(service).unwrap_or_default(),
        group_add: service
            .group_add
            .iter()
            .map(|g| g.trim().to_string())
            .collect(),
        logging: crate::logging::log_config(service).unwrap_or_default(),
        post_start: service
            .post_start
            .iter()
            .map(crate::logging::hook)
            .collect(),
        pre_stop: service.pre_stop.iter().map(crate::logging::hook).collect(),
        tty: service.tty,
        stdin_open: service.stdin_open,
    };
    let parts = config_parts(&spec);
    spec.labels
        .insert(labels::CONFIG_HASH.to_string(), config_hash(&spec));
    spec.labels.insert(CONFIG_PARTS_LABEL.to_string(), parts);
    spec
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part);
    }
    hex::encode(hasher.finalize())
}

fn canonical_json<T: Serialize>(value: &T) -> String {
    // Struct fields serialize in declaration order and maps are BTreeMaps,
    // so the JSON is canonical; serializing plain data cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

/// Hash of the spec: sha256 hex of [`CONFIG_HASH_VERSION`] and the canonical
/// JSON of the spec without its name and without the labels that differ
/// between replicas or releases, so replicas share the hash and upgrading
/// wharf does not recreate containers.
pub fn config_hash(spec: &ContainerSpec) -> String {
    let mut hashed = spec.clone();
    hashed.name.clear();
    // Whether a missing bind source is an error changes nothing about the
    // container; leaving it out keeps the hashes of wharf before it.
    for mount in &mut hashed.mounts {
        mount.require_host_path = false;
    }
    for key in UNHASHED_LABELS {
        hashed.labels.remove(key);
    }
    let json = canonical_json(&hashed);
    sha256_hex(&[CONFIG_HASH_VERSION.as_bytes(), b"\n", json.as_bytes()])
}

/// The parts of a spec whose change gets its own reason, in reporting order.
const PART_NAMES: [&str; 8] = [
    "image",
    "command",
    "environment",
    "ports",
    "volumes",
    "resources",
    "secrets",
    "configs",
];

fn part_hashes(spec: &ContainerSpec) -> [String; 8] {
    let short = |json: String| sha256_hex(&[json.as_bytes()])[..12].to_string();
    let mounts: Vec<Mount> = spec
        .mounts
        .iter()
        .map(|m| Mount {
            require_host_path: false,
            ..m.clone()
        })
        .collect();
    // Without volumes_from the part hashes as it did before volumes_from
    // existed, so older containers do not read as changed.
    let volumes = if spec.volumes_from.is_empty() {
        canonical_json(&mounts)
    } else {
        canonical_json(&(&mounts, &spec.volumes_from))
    };
    let files = |kind: FileKind| {
        canonical_json(
            &spec
                .files
                .iter()
                .filter(|f| f.kind == kind)
                .collect::<Vec<_>>(),
        )
    };
    [
        short(canonical_json(&spec.image)),
        short(canonical_json(&(&spec.entrypoint, &spec.command))),
        short(canonical_json(&spec.env)),
        short(canonical_json(&spec.ports)),
        short(volumes),
        short(canonical_json(&spec.resources)),
        short(files(FileKind::Secret)),
        short(files(FileKind::Config)),
    ]
}

/// The [`CONFIG_PARTS_LABEL`] value: `image=<hash>,command=<hash>,…`.
fn config_parts(spec: &ContainerSpec) -> String {
    PART_NAMES
        .iter()
        .zip(part_hashes(spec))
        .map(|(name, hash)| format!("{name}={hash}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Why a container with these labels no longer matches `spec`:
/// `"image changed"`, `"environment changed, ports changed"`, … or
/// `"config changed"` when no named part differs (or the container predates
/// the parts label).
pub fn change_reason(old_labels: &BTreeMap<String, String>, spec: &ContainerSpec) -> String {
    let old: BTreeMap<&str, &str> = old_labels
        .get(CONFIG_PARTS_LABEL)
        .map(|value| {
            value
                .split(',')
                .filter_map(|pair| pair.split_once('='))
                .collect()
        })
        .unwrap_or_default();
    let changed: Vec<String> = if old.is_empty() {
        Vec::new()
    } else {
        PART_NAMES
            .iter()
            .zip(part_hashes(spec))
            // A part the old label lacks predates it: not a reason.
            .filter(|(name, hash)| old.get(**name).is_some_and(|old| *old != hash.as_str()))
            .map(|(name, _)| format!("{name} changed"))
            .collect()
    };
    if changed.is_empty() {
        "config changed".to_string()
    } else {
        changed.join(", ")
    }
}

#[cfg(test)]
mod network_mode_tests {
    use super::*;

    fn project(modes: &[(&str, Option<&str>)]) -> Project {
        Project {
            name: "p".into(),
            working_dir: "/p".into(),
            config_files: vec![],
            services: modes
                .iter()
                .map(|(name, mode)| {
                    let service = Service {
                        name: name.to_string(),
                        image: Some("busybox".into()),
                        network_mode: mode.map(str::to_string),
                        ..Default::default()
                    };
                    (name.to_string(), service)
                })
                .collect(),
            networks: BTreeMap::new(),
            volumes: BTreeMap::new(),
            warnings: vec![],
            secrets: BTreeMap::new(),
            configs: BTreeMap::new(),
            models: BTreeMap::new(),
            extensions: BTreeMap::new(),
        }
    }

    fn port(published: Option<&str>) -> ServicePort {
        ServicePort {
            target: 80,
            published: published.map(str::to_string),
            host_ip: None,
            protocol: "tcp".into(),
            mode: None,
            name: None,
            app_protocol: None,
        }
    }

    #[test]
    fn modes_map_to_the_engine_and_service_names_its_first_replica() {
        let p = project(&[
            ("web", None),
            ("side", Some("service:web")),
            ("h", Some("host")),
            ("n", Some("none")),
            ("c", Some("container:abc")),
            ("b", Some("bridge")),
        ]);
        let mode = |name: &str| network_mode(&p, &p.services[name]);
        assert_eq!(mode("web"), NetworkMode::Bridge);
        assert_eq!(mode("side"), NetworkMode::Container("p-web-1".into()));
        assert_eq!(mode("h"), NetworkMode::Host);
        assert_eq!(mode("n"), NetworkMode::None);
        assert_eq!(mode("c"), NetworkMode::Container("abc".into()));
        assert_eq!(mode("b"), NetworkMode::Bridge);
        for name in ["web", "side", "h", "n", "c", "b"] {
            assert_eq!(unsupported(&p.services[name]), Ok(()), "{name}");
        }
        let odd = project(&[("x", Some("ns:/proc/1/ns/net"))]);
        assert!(unsupported(&odd.services["x"])
            .unwrap_err()
            .contains("network_mode"));
    }

    #[test]
    fn joined_modes_refuse_ports_and_unknown_services() {
        let mut p = project(&[("web", None), ("side", Some("service:web"))]);
        p.services.get_mut("side").unwrap().ports = vec![port(None)];
        let err = validate_service(&p, &p.services["side"]).unwrap_err();
        assert!(err.to_string().contains("cannot be published"), "{err}");
        let q = project(&[("side", Some("service:nope"))]);
        let err = validate_service(&q, &q.services["side"]).unwrap_err();
        assert!(err.to_string().contains("names no service"), "{err}");
    }

    #[test]
    fn host_mode_drops_ports_and_default_mode_keeps_the_hash_input() {
        let mut p = project(&[("h", Some("host"))]);
        p.services.get_mut("h").unwrap().ports = vec![port(Some("8080"))];
        let spec = container_spec(&p, &p.services["h"], 1);
        assert!(spec.ports.is_empty());
        assert_eq!(spec.network_mode, NetworkMode::Host);
        let plain = ContainerSpec::default();
        assert!(!serde_json::to_string(&plain)
            .unwrap()
            .contains("network_mode"));
    }
}
