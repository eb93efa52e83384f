//! `wharf run`: a one-off container of a service. Its dependencies are
//! brought up first (unless `--no-deps`), the project's networks are made
//! if missing, and the container is created with the `oneoff` label and
//! the overrides of the command line; the caller starts it.

use crate::error::OrchestratorError;
use crate::execute::Event;
use crate::networks::network_name;
use crate::observe::observe;
use crate::reconcile::UpOptions;
use crate::spec::{validate_volume, volume_name, volume_spec};
use crate::validate::validate_service;
use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_compose::{
    syntax, BindOptions, Project, Service, ServiceVolume, VolumeKind, VolumeOptions,
};
use wharf_engine_api::{labels, Engine, Mount, MountKind, PortBinding, RestartPolicy};

/// What the command line changes about the service for this run.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Replaces the service's command.
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// Added to (and overriding) the service's environment.
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub working_dir: Option<String>,
    /// The container's name; `<project>-<service>-run-<12 hex>` when unset.
    pub name: Option<String>,
    /// Publish the service's ports (`--service-ports`); they are not by default.
    pub service_ports: bool,
    /// Extra published ports (`-p`).
    pub publish: Vec<PortBinding>,
    pub labels: BTreeMap<String, String>,
    /// Do not start the services it depends on.
    pub no_deps: bool,
    /// A pseudo-terminal for the container (replaces the service's `tty`).
    pub tty: bool,
    /// Keep the container's stdin open (`-i`, replaces `stdin_open`).
    pub stdin_open: bool,
    /// Extra mounts (`-v SRC:DST[:MODE]`, `-v VOLUME:DST`, `-v DST`) in the
    /// short syntax, replacing the service's mount on the same target.
    pub volumes: Vec<String>,
}

/// Bring up what `service` needs and create its one-off container; returns
/// (id, name).
pub fn create_oneoff(
    engine: &dyn Engine,
    project: &Project,
    service_name: &str,
    options: &RunOptions,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<(String, String), OrchestratorError> {
    let service = project
        .services
        .get(service_name)
        .ok_or_else(|| OrchestratorError::NoSuchService(service_name.to_string()))?;
    let (service, undeclared) = with_run_volumes(project, service, &options.volumes)?;
    let service = &service;
    let valid = validate_service(project, service)?;
    let dependencies: Vec<String> = service.depends_on.keys().cloned().collect();
    if !options.no_deps && !dependencies.is_empty() {
        let up = UpOptions {
            services: dependencies,
            ..Default::default()
        };
        crate::up_reporting(engine, project, &up, on_event, &|warning| {
            on_event(Event::Warning(warning.to_string()))
        })?;
    }
    let _lock = engine
        .lock_project(&project.name)
        .map_err(|e| OrchestratorError::engine(format!("project {}", project.name), e))?;
    crate::check_images(engine, project, &[service_name.to_string()])?;
    let observed = observe(engine, &project.name)?;
    if service.network_mode.is_none() {
        for key in service.networks.keys() {
            let name = network_name(project, key);
            let spec = crate::networks::validate_network(project, key)?;
            if observed.network_by_name(&name).is_some() {
                continue;
            }
            let Some(spec) = spec else {
                return Err(OrchestratorError::ExternalNetworkMissing(name));
            };
            engine
                .create_network(&spec)
                .map_err(|e| OrchestratorError::engine(format!("network {name}"), e))?;
        }
    }
    for key in service
        .volumes
        .iter()
        .filter(|v| v.kind == VolumeKind::Volume)
        .filter_map(|v| v.source.as_deref())
    {
        validate_volume(project, key)?;
        let name = volume_name(project, key);
        if observed.volume_by_name(&name).is_some() {
            continue;
        }
        if project.volumes.get(key).is_some_and(|v| v.external) {
            return Err(OrchestratorError::ExternalVolumeMissing(name));
        }
        engine
            .create_volume(&volume_spec(project, key))
            .map_err(|e| OrchestratorError::engine(format!("volume {name}"), e))?;
    }

    let mut spec = valid.container_spec(project, 1);
    spec.name = options
        .name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-run-{}", project.name, service_name, random_hex(12)));
    spec.labels.insert(labels::ONEOFF.into(), "True".into());
    spec.labels.extend(options.labels.clone());
    if options.command.is_some() {
        spec.command = options.command.clone();
    }
    if options.entrypoint.is_some() {
        spec.entrypoint = options.entrypoint.clone();
        if options.command.is_none() {
            spec.command = None;
        }
    }
    spec.env.extend(options.env.clone());
    if options.user.is_some() {
        spec.user = options.user.clone();
    }
    if options.working_dir.is_some() {
        spec.working_dir = options.working_dir.clone();
    }
    if !options.service_ports {
        spec.ports.clear();
    }
    spec.ports.extend(options.publish.iter().cloned());
    for mount in undeclared {
        spec.mounts.retain(|m| m.target != mount.target);
        spec.mounts.push(mount);
    }
    spec.tty = options.tty;
    spec.stdin_open = options.stdin_open;
    // A one-off container is not restarted; `--rm` removes it afterwards.
    spec.restart = RestartPolicy::No;
    engine
        .validate_mounts(&spec)
        .map_err(|e| OrchestratorError::engine(format!("container {}", spec.name), e))?;
    let id = engine
        .create_container(&spec)
        .map_err(|e| OrchestratorError::engine(format!("container {}", spec.name), e))?;
    for warning in engine.discarded_limits(&spec.resources) {
        on_event(Event::Warning(format!("{}: {warning}", spec.name)));
    }
    Ok((id, spec.name))
}

/// The service with the `-v` mounts of `run` in place of its own on the
/// same targets, as docker compose adds them: a bind's relative source is
/// resolved against the project directory (`~` against `HOME`), a volume
/// the project declares is that volume, and any other name is passed on as
/// it is (the engine creates a volume of that very name on first use, as
/// docker does) in the returned mounts.
fn with_run_volumes(
    project: &Project,
    service: &Service,
    volumes: &[String],
) -> Result<(Service, Vec<Mount>), OrchestratorError> {
    let mut service = service.clone();
    let mut undeclared = Vec::new();
    for text in volumes {
        let invalid = |message: String| OrchestratorError::InvalidService {
            service: service.name.clone(),
            source: crate::error::SettingError::Invalid(format!("run -v {text:?}: {message}")),
        };
        let parsed = syntax::parse_volume(text).map_err(invalid)?;
        if !parsed.target.starts_with('/') {
            return Err(invalid(format!(
                "the target {:?} is not an absolute path in a Linux container: write it as /path",
                parsed.target
            )));
        }
        let target = parsed.target.trim_end_matches('/').to_string();
        let target = if target.is_empty() {
            "/".to_string()
        } else {
            target
        };
        service
            .volumes
            .retain(|v| v.target.trim_end_matches('/') != target);
        undeclared.retain(|m: &Mount| m.target != target);
        let mut volume = ServiceVolume {
            kind: VolumeKind::Volume,
            source: None,
            target: target.clone(),
            read_only: parsed.read_only,
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
        };
        if parsed.kind == "bind" {
            let source = parsed.source.unwrap_or_default();
            let path = match source.strip_prefix('~') {
                Some(rest) => {
                    let home = std::env::var("HOME").map_err(|_| {
                        invalid("~ needs HOME to be set: write the host path in full".into())
                    })?;
                    PathBuf::from(format!("{home}{rest}"))
                }
                None => project.working_dir.join(&source),
            };
            // `./data` is `<project>/data`: "." components dropped.
            let path: PathBuf = path.components().collect();
            volume.kind = VolumeKind::Bind;
            volume.source = Some(path.to_string_lossy().into_owned());
            volume.bind = Some(BindOptions {
                propagation: parsed.propagation,
                create_host_path: true,
                selinux: parsed.selinux,
                recursive: None,
            });
        } else {
            volume.kind = VolumeKind::Volume;
            volume.volume = Some(VolumeOptions {
                nocopy: parsed.nocopy,
                ..Default::default()
            });
            match parsed.source {
                Some(name) if !project.volumes.contains_key(&name) => {
                    let mut mount = Mount::new(MountKind::Volume, name, target);
                    mount.read_only = parsed.read_only;
                    mount.no_copy = parsed.nocopy;
                    undeclared.push(mount);
                    continue;
                }
                source => volume.source = source,
            }
        }
        service.volumes.push(volume);
    }
    Ok((service, undeclared))
}

/// `n` random lowercase hex characters.
fn random_hex(n: usize) -> String {
    use std::io::Read;
    let mut bytes = vec![0u8; n.div_ceil(2)];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = nanos
            .to_le_bytes()
            .iter()
            .cycle()
            .take(bytes.len())
            .copied()
            .collect();
    }
    hex::encode(bytes)[..n].to_string()
}
