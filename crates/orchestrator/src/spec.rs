//! Service → [`ContainerSpec`], built from what [`validate_service`]
//! parsed (Compose labels, mounts, networks, ports, limits, restart
//! policy, namespaces); top-level volumes; and the config hash that tells
//! `up` whether an existing container still matches its service.

use crate::error::{OrchestratorError, SettingError};
use crate::mounts::{tmpfs_long_options, TmpfsOptions, VolumesFromSource};
use crate::names::{container_name, service_image};
use crate::networks::network_name;
use crate::validate::{validate_service, ValidService};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use wharf_compose::{DependencyCondition, Project, Service, VolumeKind};
use wharf_engine_api::{
    labels, ContainerSpec, DeviceMapping, FileKind, Healthcheck, Mount, MountKind,
    NetworkAttachment, NetworkMode, Resources, SecuritySpec, VolumeSpec, VolumesFrom,
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
        source: SettingError::Invalid(message),
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

/// Service → the ContainerSpec for replica `number` (1-based), after
/// [`validate_service`]. To build several replicas, validate once and call
/// [`ValidService::container_spec`] for each.
pub fn container_spec(
    project: &Project,
    service: &Service,
    number: u32,
) -> Result<ContainerSpec, OrchestratorError> {
    Ok(validate_service(project, service)?.container_spec(project, number))
}

impl ValidService<'_> {
    /// The ContainerSpec of replica `number` (1-based), built from the
    /// values parsed when the service was validated.
    pub fn container_spec(&self, project: &Project, number: u32) -> ContainerSpec {
        build_spec(project, self, number)
    }
}

fn build_spec(project: &Project, valid: &ValidService, number: u32) -> ContainerSpec {
    let service = valid.service;
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
        .filter_map(|v| {
            Some(match v.kind {
                // Refused by validate_service: nothing to mount on Linux.
                VolumeKind::Npipe => return None,
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
        })
        .chain(
            valid
                .tmpfs
                .iter()
                .map(|(target, TmpfsOptions { read_only, options })| Mount {
                    read_only: *read_only,
                    options: options.clone(),
                    ..Mount::new(MountKind::Tmpfs, "", target.clone())
                }),
        )
        .collect();

    let volumes_from = valid
        .volumes_from
        .iter()
        .map(|(source, read_only)| VolumesFrom {
            container: match source {
                VolumesFromSource::Service(name) => match project.services.get(name) {
                    Some(other) => container_name(project, other, 1),
                    None => format!("{}-{name}-1", project.name),
                },
                VolumesFromSource::Container(name) => name.clone(),
            },
            read_only: *read_only,
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
                ipv4_address: valid.addresses.get(key).and_then(|(v4, _)| *v4),
                ipv6_address: valid.addresses.get(key).and_then(|(_, v6)| *v6),
                // The service-level address belongs to the first (main) network.
                mac_address: attachment
                    .mac_address
                    .clone()
                    .or_else(|| service.mac_address.clone().filter(|_| index == 0)),
            })
            .collect()
    };

    let network_mode = valid.network_mode.clone();
    // In the host's namespace ports are the container's own (docker ignores
    // them with a warning); none has nowhere to publish them from.
    let publishes = matches!(network_mode, NetworkMode::Bridge);
    let ports = if publishes {
        valid.ports.clone()
    } else {
        Vec::new()
    };

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
            cpu_shares: valid.cpu_shares.or(service
                .reservations
                .nano_cpus
                .map(|n| n * 1024 / 1_000_000_000)),
            cpu_quota: service.cpu_quota,
            cpu_period: valid.cpu_period,
            cpuset_cpus: service.cpuset.clone(),
            oom_kill_disable: service.oom_kill_disable,
            mem_swappiness: valid.mem_swappiness,
            ..block_io(service.blkio_config.as_ref())
        },
        stop_signal: service.stop_signal.clone(),
        stop_grace_period_secs: service.stop_grace_period.map(|d| d.as_secs()),
        restart: valid.restart.clone(),
        unhealthy_restart: valid.unhealthy_restart,
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
        ulimits: valid.ulimits.clone(),
        oom_score_adj: valid.oom_score_adj,
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
        files: valid.files.clone(),
        volumes_from,
        init: service.init == Some(true),
        pid_mode: valid.pid_mode.clone(),
        ipc_mode: valid.ipc_mode.clone(),
        uts_mode: valid.uts_mode.clone(),
        group_add: service
            .group_add
            .iter()
            .map(|g| g.trim().to_string())
            .collect(),
        logging: valid.logging,
        post_start: service
            .post_start
            .iter()
            .map(crate::logging::hook)
            .collect(),
        pre_stop: service.pre_stop.iter().map(crate::logging::hook).collect(),
        tty: service.tty,
        stdin_open: service.stdin_open,
        auto_remove: false,
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

/// `blkio_config` as the spec's block I/O fields; the engine resolves the
/// device paths when the container is created and started.
fn block_io(config: Option<&wharf_compose::BlkioConfig>) -> Resources {
    let Some(config) = config else {
        return Resources::default();
    };
    let rates = |list: &[wharf_compose::ThrottleDevice]| {
        list.iter()
            .map(|t| wharf_engine_api::ThrottleDevice {
                path: t.path.clone(),
                rate: t.rate,
            })
            .collect()
    };
    Resources {
        blkio_weight: config.weight,
        blkio_weight_device: config
            .weight_device
            .iter()
            .map(|w| wharf_engine_api::WeightDevice {
                path: w.path.clone(),
                weight: w.weight,
            })
            .collect(),
        blkio_device_read_bps: rates(&config.device_read_bps),
        blkio_device_write_bps: rates(&config.device_write_bps),
        blkio_device_read_iops: rates(&config.device_read_iops),
        blkio_device_write_iops: rates(&config.device_write_iops),
        ..Resources::default()
    }
}

#[cfg(test)]
mod network_mode_tests {
    use super::*;
    use crate::names::network_mode;
    use crate::validate::{unsupported, validate_service};
    use wharf_compose::ServicePort;

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
            assert!(unsupported(&p.services[name]).is_ok(), "{name}");
        }
        let odd = project(&[("x", Some("ns:/proc/1/ns/net"))]);
        assert!(unsupported(&odd.services["x"])
            .unwrap_err()
            .to_string()
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
        let spec = container_spec(&p, &p.services["h"], 1).unwrap();
        assert!(spec.ports.is_empty());
        assert_eq!(spec.network_mode, NetworkMode::Host);
        let plain = ContainerSpec::default();
        assert!(!serde_json::to_string(&plain)
            .unwrap()
            .contains("network_mode"));
    }
}
