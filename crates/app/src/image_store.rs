//! docker's image commands over the local store as every front needs them:
//! which images a listing keeps (`dangling`, `reference`, `label`), the
//! images of a project's containers, docker's `image inspect` document,
//! removal and prune (whose in-use rules the engine applies), and how a
//! stored name splits into repository and tag.

use crate::filters::{label_matches, FilterError, Filters};
use crate::AppError;
use serde_json::json;
use wharf_engine::LinuxEngine;
use wharf_engine_api::Engine;
use wharf_image::ImageDetails;

const FILTER_KEYS: &str = "dangling, reference and label";

/// (`busybox`, `latest`) from `docker.io/library/busybox:latest`; a name
/// that does not parse stays whole with an empty tag.
pub fn split_reference(reference: &str) -> (String, String) {
    match wharf_image::reference::Reference::parse(reference) {
        Ok(r) => (r.familiar_repository(), r.tag_or_latest().to_string()),
        Err(_) => (reference.to_string(), String::new()),
    }
}

/// `*` matches any run of characters except `/`; `?` one character.
fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
}

/// Whether the stored name `tag` passes docker's `reference=PATTERN` filter
/// (the pattern against the whole name or its repository).
pub fn reference_matches(pattern: &str, tag: &str) -> bool {
    glob_match(pattern, tag) || glob_match(pattern, &split_reference(tag).0)
}

fn image_labels(image: &ImageDetails) -> std::collections::BTreeMap<String, String> {
    image
        .config
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .collect()
}

/// Keep the images that pass every filter.
pub fn filter_images(
    images: Vec<ImageDetails>,
    filters: &Filters,
) -> Result<Vec<ImageDetails>, FilterError> {
    let mut out = images;
    for filter in filters.iter() {
        let value = filter.value.as_str();
        match filter.key.as_str() {
            "dangling" => {
                let want = filter.bool_value()?;
                out.retain(|i| i.repo_tags.is_empty() == want);
            }
            "reference" => out.retain(|i| i.repo_tags.iter().any(|t| reference_matches(value, t))),
            "label" => out.retain(|i| label_matches(&image_labels(i), value)),
            _ => return Err(filter.unsupported(FILTER_KEYS)),
        }
    }
    Ok(out)
}

/// The local images that pass `filters`.
pub fn list(engine: &LinuxEngine, filters: &Filters) -> Result<Vec<ImageDetails>, AppError> {
    let images = engine
        .images()
        .list_details()
        .map_err(|e| AppError::image("listing images", e))?;
    Ok(filter_images(images, filters)?)
}

/// The local images the containers of `project` use (`wharf images`).
pub fn project_images(
    engine: &LinuxEngine,
    project: &str,
    filters: &Filters,
) -> Result<Vec<ImageDetails>, AppError> {
    let containers = engine
        .list_containers(&[(wharf_engine_api::labels::PROJECT, project)])
        .map_err(|e| AppError::engine(format!("listing the containers of {project}"), e))?;
    let mut images = list(engine, filters)?;
    images.retain(|i| containers.iter().any(|c| c.image_id == i.id));
    Ok(images)
}

/// One line of a removal, as docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Removed {
    Untagged(String),
    Deleted(String),
}

impl Removed {
    /// `Untagged: busybox:latest` / `Deleted: sha256:…` as the engine words
    /// them; `None` for any other line.
    fn parse(line: &str) -> Option<Removed> {
        if let Some(name) = line.strip_prefix("Untagged: ") {
            Some(Removed::Untagged(name.to_string()))
        } else {
            line.strip_prefix("Deleted: ")
                .map(|id| Removed::Deleted(id.to_string()))
        }
    }

    /// docker's `{"Untagged": …}` / `{"Deleted": …}` entry.
    pub fn document(&self) -> serde_json::Value {
        match self {
            Removed::Untagged(name) => json!({ "Untagged": name }),
            Removed::Deleted(id) => json!({ "Deleted": id }),
        }
    }
}

/// Remove (or, while containers use it, with `force` untag) the image;
/// returns the lines docker prints, `Untagged: …` and `Deleted: …`.
pub fn remove(engine: &LinuxEngine, reference: &str, force: bool) -> Result<Vec<String>, AppError> {
    engine
        .remove_image(reference, force)
        .map_err(AppError::EngineRefused)
}

/// The lines of a removal as typed entries.
pub fn removed_entries(lines: &[String]) -> Vec<Removed> {
    lines.iter().filter_map(|l| Removed::parse(l)).collect()
}

/// What an image prune removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    /// docker's `Untagged: …` / `Deleted: …` lines (and an error line for an
    /// image that could not go).
    pub lines: Vec<String>,
    pub reclaimed_bytes: u64,
}

/// Remove the images no container uses: dangling ones, or all with `all`.
pub fn prune(engine: &LinuxEngine, all: bool) -> Result<PruneReport, AppError> {
    let (lines, reclaimed_bytes) = engine
        .prune_images(all)
        .map_err(|e| AppError::engine("pruning images", e))?;
    Ok(PruneReport {
        lines,
        reclaimed_bytes,
    })
}

/// docker's `image inspect` document.
pub fn inspect_document(d: &ImageDetails) -> serde_json::Value {
    let c = &d.config_json;
    let field = |k: &str| c.get(k).cloned().unwrap_or(serde_json::Value::Null);
    json!({
        "Id": d.id,
        "RepoTags": d.repo_tags,
        "RepoDigests": d.repo_digests,
        "Parent": "",
        "Comment": d.config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": field("created"),
        "DockerVersion": c.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": c.get("author").cloned().unwrap_or(json!("")),
        "Config": field("config"),
        "Architecture": field("architecture"),
        "Variant": c.get("variant").cloned(),
        "Os": field("os"),
        "Size": d.size,
        "GraphDriver": {"Name": "overlay2", "Data": null},
        "RootFS": {"Type": "layers", "Layers": d.config.rootfs.diff_ids},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": {"mediaType": d.manifest.media_type, "digest": d.manifest.digest, "size": d.manifest.size},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_split_and_glob_as_docker_matches_them() {
        assert_eq!(
            split_reference("docker.io/library/busybox:latest"),
            ("busybox".into(), "latest".into())
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/app:v1"),
            ("127.0.0.1:5000/app".into(), "v1".into())
        );
        assert!(glob_match("busy*", "busybox"));
        assert!(!glob_match("*", "library/busybox"));
        assert!(glob_match("b?sybox:*", "busybox:latest"));
    }

    #[test]
    fn removal_lines_become_docker_entries() {
        let lines = vec![
            "Untagged: busybox:latest".to_string(),
            "Deleted: sha256:abc".to_string(),
            "something else".to_string(),
        ];
        let entries = removed_entries(&lines);
        assert_eq!(
            entries,
            [
                Removed::Untagged("busybox:latest".into()),
                Removed::Deleted("sha256:abc".into())
            ]
        );
        assert_eq!(entries[1].document(), json!({"Deleted": "sha256:abc"}));
    }

    #[test]
    fn unknown_image_filters_are_refused_by_name() {
        let bad = Filters::from_flags(&["before=x".into()], "dangling=true").unwrap();
        assert_eq!(
            filter_images(Vec::new(), &bad).unwrap_err().to_string(),
            "unsupported filter \"before\": wharf supports dangling, reference and label"
        );
    }
}
