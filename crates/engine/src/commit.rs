//! A container's file system leaving the engine: `container export` writes the
//! file system the container sees (its image layers and its upper directory,
//! whiteouts applied; not its volumes or binds) as a tar, and `container commit`
//! makes an image of its image's layers plus one layer from its upper directory,
//! with a config made from the container's settings as docker makes it.
//!
//! A running container is frozen while its upper directory is read for a commit
//! (docker pauses it too), so the layer is one consistent picture; export reads
//! it live, as docker does. Neither follows a symlink the container made (see
//! `wharf_image::tree_tar`). The files the engine bind-mounts over `/etc`
//! (`hosts`, `hostname`, `resolv.conf`) leave empty mount points in the upper
//! directory of an image that lacks them: a commit leaves those out, as docker's
//! separate init layer does.

use crate::store::ContainerRecord;
use crate::{image_err, LinuxEngine};
use std::io::Write;
use wharf_engine_api::{ContainerState, EngineError, Result};
use wharf_image::commit::{commit_config, parse_tag, CommitRequest};
use wharf_image::oci::{ContainerConfig, HealthConfig};

/// The mount points of the engine's `/etc` files, relative to the root.
const ETC_MOUNT_POINTS: [&str; 3] = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];

/// Whether `rel` in a container's upper directory is only the empty mount point
/// the engine made for one of its `/etc` files (left out of commits and diffs,
/// as docker's init layer is).
pub(crate) fn is_etc_mount_point(rel: &str, meta: &std::fs::Metadata) -> bool {
    ETC_MOUNT_POINTS.contains(&rel) && meta.is_file() && meta.len() == 0
}

/// What `container commit` was asked for.
#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    /// `REPO[:TAG]` to name the image.
    pub reference: Option<String>,
    /// `--message`.
    pub comment: Option<String>,
    /// `--author`.
    pub author: Option<String>,
    /// `--change` instructions.
    pub changes: Vec<String>,
    /// Freeze a running container while its changes are read (`--pause`).
    pub pause: bool,
}

impl LinuxEngine {
    fn find_for(&self, what: &str, id_or_name: &str) -> Result<ContainerRecord> {
        self.find(id_or_name).map_err(|e| match e {
            EngineError::NotFound { kind, name, .. } => EngineError::NotFound {
                kind,
                name,
                hint: format!(
                    "; {what} takes a container name or id, as \"wharf ps -a\" lists them"
                ),
            },
            other => other,
        })
    }

    /// `docker export`: the container's file system as a tar, written to `out`.
    pub fn export_container(&self, id_or_name: &str, out: &mut dyn Write) -> Result<()> {
        let record = self.find_for("export", id_or_name)?;
        let mut layers = vec![self.layout.container(&record.id).join("upper")];
        layers.extend(record.layers.iter().rev().cloned());
        wharf_image::tree_tar::write_merged(&layers, out)
            .map(drop)
            .map_err(|e| EngineError::step(format!("exporting container {}", record.name), e, ""))
    }

    /// `docker commit`: a new image from the container; returns its id.
    pub fn commit_container(&self, id_or_name: &str, options: &CommitOptions) -> Result<String> {
        let record = self.find_for("commit", id_or_name)?;
        let reference = options
            .reference
            .as_deref()
            .map(parse_tag)
            .transpose()
            .map_err(image_err)?;
        let base = self.images.inspect(&record.image_id).map_err(|e| {
            EngineError::step(
                format!(
                    "container {}: its image {} cannot be read",
                    record.name, record.image_id
                ),
                e,
                "",
            )
        })?;
        let from = container_config(&record, &base.config.config.unwrap_or_default());
        let config = commit_config(&from, &options.changes).map_err(image_err)?;
        let request = CommitRequest {
            base: record.image_id.clone(),
            config,
            author: options.author.clone().filter(|a| !a.is_empty()),
            comment: options.comment.clone(),
            created_by: from.cmd.clone().unwrap_or_default().join(" "),
            reference,
        };
        let lease = self.images.lease().map_err(image_err)?;
        let upper = self.layout.container(&record.id).join("upper");
        let skip = is_etc_mount_point;
        let state = self.live_state(&record.id)?;
        let frozen = match (&state.state, &state.cgroup) {
            (ContainerState::Running { paused: false, .. }, Some(cgroup)) if options.pause => {
                cgroup.freeze().map_err(|e| {
                    EngineError::step(
                        format!("pausing container {} for the commit", record.name),
                        e,
                        "; commit with --pause=false to read it while it runs",
                    )
                })?;
                Some(cgroup)
            }
            _ => None,
        };
        let layer = self.images.diff_layer(&lease, &upper, &skip);
        if let Some(cgroup) = frozen {
            cgroup.thaw().map_err(|e| {
                EngineError::step(
                    format!("container {} stays paused after the commit", record.name),
                    e,
                    "; unpause it with \"wharf unpause\"",
                )
            })?;
        }
        let layer = layer.map_err(|e| {
            EngineError::step(
                format!("reading the changes of container {}", record.name),
                e,
                "",
            )
        })?;
        self.images
            .commit_image(&lease, &request, layer.as_ref())
            .map_err(image_err)
    }
}

/// docker's config of a container, which a commit starts from: the image's
/// config with the container's own command, environment, working directory,
/// user, labels, stop signal and health check.
fn container_config(record: &ContainerRecord, image: &ContainerConfig) -> ContainerConfig {
    let spec = &record.spec;
    let entrypoint = spec.entrypoint.clone().or_else(|| image.entrypoint.clone());
    let cmd = match (&spec.command, &spec.entrypoint) {
        (Some(command), _) => Some(command.clone()),
        (None, Some(_)) => None,
        (None, None) => image.cmd.clone(),
    };
    // The engine adds HOSTNAME for the process; it is not a setting of the container.
    let env: Vec<String> = record
        .env
        .iter()
        .filter(|e| !e.starts_with("HOSTNAME=") || spec.env.contains_key("HOSTNAME"))
        .cloned()
        .collect();
    let mut labels = image.labels.clone().unwrap_or_default();
    labels.extend(spec.labels.clone());
    let mut exposed_ports = image.exposed_ports.clone().unwrap_or_default();
    for port in &spec.ports {
        let protocol = serde_json::to_value(port.protocol)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_else(|| "tcp".into());
        exposed_ports.insert(
            format!("{}/{protocol}", port.container_port),
            serde_json::json!({}),
        );
    }
    let ms = |v: Option<u64>| v.unwrap_or(0) * 1_000_000;
    ContainerConfig {
        user: record.user.clone(),
        exposed_ports: (!exposed_ports.is_empty()).then_some(exposed_ports),
        env: Some(env),
        entrypoint,
        cmd,
        volumes: image.volumes.clone(),
        working_dir: spec
            .working_dir
            .clone()
            .or_else(|| image.working_dir.clone())
            .filter(|w| !w.is_empty()),
        labels: (!labels.is_empty()).then_some(labels),
        stop_signal: spec
            .stop_signal
            .clone()
            .or_else(|| image.stop_signal.clone()),
        healthcheck: spec.healthcheck.as_ref().map(|h| HealthConfig {
            test: h.test.clone(),
            interval: ms(h.interval_ms),
            timeout: ms(h.timeout_ms),
            start_period: ms(h.start_period_ms),
            start_interval: ms(h.start_interval_ms),
            retries: h.retries.unwrap_or(0).into(),
        }),
        on_build: None,
        shell: image.shell.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use wharf_engine_api::{ContainerSpec, PortBinding};

    fn record(spec: ContainerSpec, env: &[&str]) -> ContainerRecord {
        ContainerRecord {
            id: "c".repeat(64),
            name: "proj-web-1".into(),
            spec,
            image_id: "sha256:abc".into(),
            created: 0,
            args: Vec::new(),
            env: env.iter().map(|s| s.to_string()).collect(),
            cwd: "/".into(),
            user: None,
            hostname: "cccccccccccc".into(),
            layers: Vec::new(),
            endpoints: Vec::new(),
            cgroup_path: "wharf/proj/c".into(),
        }
    }

    fn image() -> ContainerConfig {
        ContainerConfig {
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["default".into()]),
            labels: Some(BTreeMap::from([("from".into(), "image".into())])),
            working_dir: Some("/app".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_container_command_environment_and_labels_are_its_own() {
        let mut spec = ContainerSpec {
            command: Some(vec!["serve".into()]),
            ports: vec![PortBinding {
                host_ip: None,
                host_port: 8080,
                container_port: 80,
                protocol: Default::default(),
            }],
            ..Default::default()
        };
        spec.labels
            .insert("com.docker.compose.service".into(), "web".into());
        let c = container_config(
            &record(spec, &["PATH=/bin", "HOSTNAME=cccccccccccc", "A=1"]),
            &image(),
        );
        assert_eq!(c.entrypoint, Some(vec!["/entry".to_string()]));
        assert_eq!(c.cmd, Some(vec!["serve".to_string()]));
        assert_eq!(
            c.env,
            Some(vec!["PATH=/bin".to_string(), "A=1".to_string()])
        );
        let labels = c.labels.unwrap();
        assert_eq!(labels["from"], "image");
        assert_eq!(labels["com.docker.compose.service"], "web");
        assert_eq!(c.working_dir.as_deref(), Some("/app"));
        assert!(c.exposed_ports.unwrap().contains_key("80/tcp"));
    }

    #[test]
    fn an_entrypoint_of_the_container_drops_the_image_command() {
        let spec = ContainerSpec {
            entrypoint: Some(vec!["/mine".into()]),
            ..Default::default()
        };
        let c = container_config(&record(spec, &[]), &image());
        assert_eq!(
            (c.entrypoint, c.cmd),
            (Some(vec!["/mine".to_string()]), None)
        );
        let c = container_config(&record(ContainerSpec::default(), &[]), &image());
        assert_eq!(c.cmd, Some(vec!["default".to_string()]));
    }
}
