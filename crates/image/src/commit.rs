//! Images from containers (`container commit`): the container's image with one
//! layer more, the container's upper directory written as an OCI layer (see
//! [`crate::tree_tar::write_diff`]), and a config made as docker makes it: the
//! container's own settings with the `--change` instructions applied, then what
//! the changes left empty taken back from the container ([`commit_config`]).

use crate::assembly::ImageAssembly;
use crate::build::BuiltLayer;
use crate::changes::apply_changes;
use crate::error::ImageError;
use crate::oci::{self, ContainerConfig, Descriptor, History};
use crate::reference::Reference;
use crate::store::{tag_reference, ContentLease, ImageStore};
use crate::tree_tar::{self, Skip};
use std::collections::BTreeMap;
use std::path::Path;

/// What a commit records besides the files.
#[derive(Debug, Clone)]
pub struct CommitRequest {
    /// Id of the container's image.
    pub base: String,
    /// The new image's run-time config (see [`commit_config`]).
    pub config: ContainerConfig,
    /// `--author`.
    pub author: Option<String>,
    /// `--message`.
    pub comment: Option<String>,
    /// The history entry's `created_by`: the container's command, as docker records it.
    pub created_by: String,
    /// The name to give the image (`REPO[:TAG]`, see [`parse_tag`]).
    pub reference: Option<Reference>,
}

/// Parse the name a commit gives its image: no digest, `latest` filled in.
pub fn parse_tag(reference: &str) -> Result<Reference, ImageError> {
    tag_reference(reference)
}

/// The config of a commit: `container` (the container's config: its image's with
/// the container's own settings) with `changes` applied, then every field the
/// changes left empty filled from `container` again, by docker's rules: the
/// environment and labels are merged key by key, exposed ports and volumes are
/// united, and an entrypoint or command is taken back only as a pair.
pub fn commit_config(
    container: &ContainerConfig,
    changes: &[String],
) -> Result<ContainerConfig, ImageError> {
    let mut config = container.clone();
    apply_changes(&mut config, changes)?;
    merge_into(&mut config, container);
    Ok(config)
}

fn env_key(entry: &str) -> &str {
    entry.split_once('=').map_or(entry, |(k, _)| k)
}

/// Fill what `config` lacks from `from` (docker's `merge` of a commit).
fn merge_into(config: &mut ContainerConfig, from: &ContainerConfig) {
    let empty = |s: &Option<String>| s.as_deref().is_none_or(str::is_empty);
    if empty(&config.user) {
        config.user = from.user.clone();
    }
    if let Some(ports) = &from.exposed_ports {
        let mine = config.exposed_ports.get_or_insert_with(BTreeMap::new);
        for (port, value) in ports {
            mine.entry(port.clone()).or_insert_with(|| value.clone());
        }
    }
    if let Some(env) = &from.env {
        let mine = config.env.get_or_insert_with(Vec::new);
        for entry in env {
            if !mine.iter().any(|m| env_key(m) == env_key(entry)) {
                mine.push(entry.clone());
            }
        }
    }
    if let Some(labels) = &from.labels {
        let mine = config.labels.get_or_insert_with(BTreeMap::new);
        for (k, v) in labels {
            mine.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if config.entrypoint.as_ref().is_none_or(Vec::is_empty) {
        if config.cmd.as_ref().is_none_or(Vec::is_empty) {
            config.cmd = from.cmd.clone();
        }
        if config.entrypoint.is_none() {
            config.entrypoint = from.entrypoint.clone();
        }
    }
    if config.healthcheck.is_none() {
        config.healthcheck = from.healthcheck.clone();
    }
    if empty(&config.working_dir) {
        config.working_dir = from.working_dir.clone();
    }
    if let Some(volumes) = &from.volumes {
        let mine = config.volumes.get_or_insert_with(BTreeMap::new);
        for (k, v) in volumes {
            mine.entry(k.clone()).or_insert_with(|| v.clone());
        }
    }
    if empty(&config.stop_signal) {
        config.stop_signal = from.stop_signal.clone();
    }
}

impl ImageStore {
    /// Write the upper directory `upper` (overlay form) as an uncompressed layer
    /// blob, leaving out what `skip` says; `None` when it holds no change. This is
    /// the part of a commit that reads the container: its snapshot is made by
    /// [`ImageStore::commit_image`] from the blob.
    pub fn diff_layer(
        &self,
        lease: &ContentLease,
        upper: &Path,
        skip: Skip<'_>,
    ) -> Result<Option<BuiltLayer>, ImageError> {
        if tree_tar::diff_is_empty(upper, skip)? {
            return Ok(None);
        }
        let (digest, size) = self.write_blob_with(lease, &mut |w| {
            tree_tar::write_diff(upper, w, skip).map(drop)
        })?;
        Ok(Some(BuiltLayer {
            desc: Descriptor {
                media_type: oci::MEDIA_TYPE_LAYER_TAR.to_string(),
                digest: digest.clone(),
                size,
                annotations: BTreeMap::new(),
                platform: None,
            },
            diff_id: digest,
        }))
    }

    /// Make the image of a commit: the base image's layers plus `layer` (from
    /// [`ImageStore::diff_layer`], unpacked here into its snapshot), with the
    /// request's config and a history entry, named as asked. Returns its id.
    pub fn commit_image(
        &self,
        lease: &ContentLease,
        request: &CommitRequest,
        layer: Option<&BuiltLayer>,
    ) -> Result<String, ImageError> {
        let base = self.inspect(&request.base)?;
        if let Some(layer) = layer {
            self.ensure_snapshot(lease, &layer.desc, Some(&layer.diff_id))?;
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let created = oci::format_rfc3339(now);
        let mut image = ImageAssembly::on(&base);
        image.config.created = Some(created.clone());
        image.config.author = request.author.clone();
        image.config.config = Some(request.config.clone());
        image.push(
            layer.cloned(),
            History {
                created: Some(created),
                created_by: Some(request.created_by.clone()),
                author: request.author.clone(),
                comment: request.comment.clone().filter(|c| !c.is_empty()),
                empty_layer: false,
            },
        );
        let image = image.write(self, lease)?;
        image.name(self, lease, request.reference.as_ref())?;
        Ok(image.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Option<Vec<String>> {
        Some(items.iter().map(|s| s.to_string()).collect())
    }

    fn container() -> ContainerConfig {
        ContainerConfig {
            user: Some("app".into()),
            env: strings(&["PATH=/bin", "MODE=dev"]),
            entrypoint: strings(&["/entry"]),
            cmd: strings(&["serve"]),
            working_dir: Some("/srv".into()),
            labels: Some(BTreeMap::from([("a".into(), "1".into())])),
            exposed_ports: Some(BTreeMap::from([("80/tcp".into(), serde_json::json!({}))])),
            ..Default::default()
        }
    }

    #[test]
    fn without_changes_the_container_config_is_kept() {
        assert_eq!(commit_config(&container(), &[]).unwrap(), container());
    }

    #[test]
    fn changes_override_and_the_rest_is_merged_back() {
        let changes = [
            "ENV MODE=prod EXTRA=$MODE".to_string(),
            "LABEL b=2".to_string(),
            "EXPOSE 443".to_string(),
            "WORKDIR data".to_string(),
        ];
        let c = commit_config(&container(), &changes).unwrap();
        assert_eq!(c.env, strings(&["PATH=/bin", "MODE=prod", "EXTRA=dev"]));
        let labels = c.labels.unwrap();
        assert_eq!((labels["a"].as_str(), labels["b"].as_str()), ("1", "2"));
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["443/tcp", "80/tcp"]);
        assert_eq!(c.working_dir.as_deref(), Some("/srv/data"));
        assert_eq!(c.user.as_deref(), Some("app"));
        assert_eq!(c.entrypoint, strings(&["/entry"]));
        assert_eq!(c.cmd, strings(&["serve"]));
    }

    #[test]
    fn a_new_entrypoint_drops_the_old_command_and_a_new_command_keeps_the_entrypoint() {
        let c = commit_config(&container(), &[r#"ENTRYPOINT ["/other"]"#.into()]).unwrap();
        assert_eq!((c.entrypoint, c.cmd), (strings(&["/other"]), None));
        let c = commit_config(&container(), &[r#"CMD ["once"]"#.into()]).unwrap();
        assert_eq!(
            (c.entrypoint, c.cmd),
            (strings(&["/entry"]), strings(&["once"]))
        );
    }

    #[test]
    fn a_bad_change_is_named() {
        let e = commit_config(&container(), &["RUN make".into()]).unwrap_err();
        assert!(e.to_string().contains("\"RUN make\""), "{e}");
        assert!(parse_tag("app@sha256:abc").is_err());
        assert_eq!(
            parse_tag("snap").unwrap().to_string(),
            "docker.io/library/snap:latest"
        );
    }
}
