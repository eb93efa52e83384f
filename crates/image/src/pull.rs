//! `pull`: resolve a reference in its registry (an index is narrowed to one
//! platform), fetch the config and the layers not yet present (in parallel, each
//! verified and resumable), unpack each layer into its snapshot, and only then name
//! the image in the index. A failed pull leaves no new name and no unverified blob.

use crate::auth::Credentials;
use crate::error::ImageError;
use crate::oci::{self, Descriptor, ImageConfig, Manifest, Platform};
use crate::progress::{short_id, ItemStatus, Progress, ProgressFn};
use crate::reference::Reference;
use crate::registry::{self, FetchedManifest, Registry, RegistryOptions};
use crate::store::ImageStore;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

/// Docker's media type of an image config.
pub const MEDIA_TYPE_DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// How to pull.
#[derive(Debug, Clone)]
pub struct PullOptions {
    /// Platform to pick from an index (default: linux and the host's architecture).
    pub platform: Option<Platform>,
    /// Transport policy.
    pub registry: RegistryOptions,
    /// Credentials for the reference's registry.
    pub credentials: Option<Credentials>,
    /// Layers fetched at once (Docker's default is 3).
    pub concurrency: usize,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            platform: None,
            registry: RegistryOptions::default(),
            credentials: None,
            concurrency: 3,
        }
    }
}

/// What a pull did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PullOutcome {
    /// The reference as Docker prints it (`busybox:latest`).
    pub reference: String,
    /// Image id (config digest).
    pub id: String,
    /// Digest of what the reference resolved to in the registry (the index, if any).
    pub digest: String,
    /// False when the image was already up to date.
    pub updated: bool,
}

/// Parse `os/arch[/variant]` (`linux/amd64`, `linux/arm64/v8`).
pub fn parse_platform(s: &str) -> Result<Platform, ImageError> {
    let parts: Vec<&str> = s.split('/').collect();
    let bad = || ImageError::InvalidReference {
        input: s.to_string(),
        reason: "a platform is OS/ARCH[/VARIANT], such as linux/amd64 or linux/arm64/v8".into(),
    };
    if parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let (os, arch, variant) = match parts.as_slice() {
        [os, arch] => (*os, *arch, None),
        [os, arch, v] => (*os, *arch, Some(v.to_string())),
        _ => return Err(bad()),
    };
    let arch = match arch {
        "x86_64" | "x86-64" => "amd64",
        "aarch64" => "arm64",
        a => a,
    };
    Ok(Platform {
        architecture: arch.to_string(),
        os: os.to_lowercase(),
        variant,
    })
}

/// The default platform: linux on the host's architecture.
pub fn default_platform() -> Platform {
    let (architecture, variant) = oci::host_platform();
    Platform {
        architecture,
        os: "linux".into(),
        variant,
    }
}

fn platform_matches(want: &Platform, have: &Platform) -> bool {
    if want.os != have.os || want.architecture != have.architecture {
        return false;
    }
    match (&want.variant, &have.variant) {
        (None, _) => true,
        (Some(w), Some(h)) => w == h,
        // arm64 images usually omit the default variant v8.
        (Some(w), None) => want.architecture == "arm64" && w == "v8",
    }
}

fn platform_text(p: &Platform) -> String {
    match &p.variant {
        Some(v) => format!("{}/{}/{v}", p.os, p.architecture),
        None => format!("{}/{}", p.os, p.architecture),
    }
}

/// Pick the manifest for `want` from an index document.
pub fn select_platform(
    index_bytes: &[u8],
    want: &Platform,
    what: &str,
) -> Result<Descriptor, ImageError> {
    let index: oci::Index =
        serde_json::from_slice(index_bytes).map_err(|e| ImageError::BadManifest {
            what: what.to_string(),
            reason: format!("not a valid image index: {e}"),
        })?;
    let candidates: Vec<&Descriptor> = index
        .manifests
        .iter()
        .filter(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| platform_matches(want, p))
        })
        .collect();
    // Prefer an exact variant match, then the first listed.
    let chosen = candidates
        .iter()
        .find(|d| {
            d.platform
                .as_ref()
                .is_some_and(|p| p.variant == want.variant)
        })
        .or(candidates.first());
    match chosen {
        Some(d) => {
            crate::digest::validate(&d.digest).map_err(|e| ImageError::BadManifest {
                what: what.to_string(),
                reason: e.to_string(),
            })?;
            Ok((*d).clone())
        }
        None => {
            let have: Vec<String> = index
                .manifests
                .iter()
                .filter_map(|d| d.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(platform_text)
                .collect();
            Err(ImageError::NotFound {
                reference: what.to_string(),
                hint: format!(
                    "it has no image for the platform {}; it has {}; choose one with --platform",
                    platform_text(want),
                    if have.is_empty() {
                        "none".to_string()
                    } else {
                        have.join(", ")
                    }
                ),
            })
        }
    }
}

/// Parse and check an image manifest.
pub fn parse_manifest(m: &FetchedManifest, what: &str) -> Result<Manifest, ImageError> {
    let bad = |reason: String| ImageError::BadManifest {
        what: what.to_string(),
        reason,
    };
    if DOCKER_SCHEMA1.contains(&m.media_type.as_str()) {
        return Err(bad(
            "it is a Docker schema 1 manifest, which is deprecated and not supported; push the image again with a current tool".into(),
        ));
    }
    let manifest: Manifest = serde_json::from_slice(&m.bytes)
        .map_err(|e| bad(format!("not a valid image manifest: {e}")))?;
    if manifest.schema_version != 2 {
        return Err(bad(format!(
            "schemaVersion is {}, expected 2",
            manifest.schema_version
        )));
    }
    let config_type = manifest.config.media_type.as_str();
    if config_type != oci::MEDIA_TYPE_CONFIG && config_type != MEDIA_TYPE_DOCKER_CONFIG {
        return Err(bad(format!(
            "its config has media type {config_type:?}: it is not a container image (perhaps an artifact such as a Helm chart or a signature)"
        )));
    }
    crate::digest::validate(&manifest.config.digest).map_err(|e| bad(e.to_string()))?;
    for l in &manifest.layers {
        crate::digest::validate(&l.digest).map_err(|e| bad(e.to_string()))?;
        if l.media_type.contains("foreign") {
            return Err(bad(format!(
                "layer {} has the foreign (Windows) media type {:?}; only Linux images are supported",
                l.digest, l.media_type
            )));
        }
        if !l.media_type.contains("tar") && !l.media_type.contains("rootfs") {
            return Err(bad(format!(
                "layer {} has media type {:?}, which is not a filesystem layer",
                l.digest, l.media_type
            )));
        }
    }
    Ok(manifest)
}

/// Fill the registry name into transfer errors raised below the client.
fn with_registry(e: ImageError, domain: &str) -> ImageError {
    match e {
        ImageError::Registry {
            registry,
            action,
            reason,
        } if registry.is_empty() => ImageError::Registry {
            registry: domain.to_string(),
            action,
            reason,
        },
        other => other,
    }
}

impl ImageStore {
    /// `docker pull`: see the module docs.
    pub fn pull(
        &self,
        reference: &str,
        opts: &PullOptions,
        progress: ProgressFn<'_>,
    ) -> Result<PullOutcome, ImageError> {
        let r = Reference::parse(reference)?.with_default_tag();
        let registry = Registry::connect(&r.domain, &opts.registry, opts.credentials.clone())?;
        self.pull_from(&registry, &r, opts, progress)
            .map_err(|e| with_registry(e, &r.domain))
    }

    /// Pull `r` through an already connected `registry`.
    pub fn pull_from(
        &self,
        registry: &Registry,
        r: &Reference,
        opts: &PullOptions,
        progress: ProgressFn<'_>,
    ) -> Result<PullOutcome, ImageError> {
        let repo = r.path.as_str();
        let wanted = r
            .digest
            .clone()
            .unwrap_or_else(|| r.tag_or_latest().to_string());
        let shown = r.familiar();
        progress(Progress::Line(match &r.digest {
            Some(d) => format!("{d}: Pulling from {}", r.familiar_repository()),
            None => format!("{}: Pulling from {}", r.tag_or_latest(), familiar_path(r)),
        }));
        let what = format!("manifest of {shown}");
        let top = registry.get_manifest(repo, &wanted)?;
        let platform = opts.platform.clone().unwrap_or_else(default_platform);
        let (fetched, manifest_media_type) = if registry::is_index(&top.media_type)
            || (top.media_type.is_empty() && looks_like_index(&top.bytes))
        {
            let desc = select_platform(&top.bytes, &platform, &format!("index of {shown}"))?;
            let m = registry.get_manifest(repo, &desc.digest)?;
            let mt = if m.media_type.is_empty() {
                desc.media_type.clone()
            } else {
                m.media_type.clone()
            };
            (m, mt)
        } else {
            let mt = if top.media_type.is_empty() {
                oci::MEDIA_TYPE_MANIFEST.to_string()
            } else {
                top.media_type.clone()
            };
            (top.clone(), mt)
        };
        let manifest = parse_manifest(&fetched, &what)?;

        let lease = self.lease()?;
        let cancel = AtomicBool::new(false);
        // The config.
        self.ingest_blob(
            &lease,
            &manifest.config,
            &mut |off| registry.fetch_blob(repo, &manifest.config.digest, off),
            &mut |_| {},
            &cancel,
        )?;
        let config_bytes = self.read_blob(&manifest.config.digest)?;
        let config: ImageConfig =
            serde_json::from_slice(&config_bytes).map_err(|e| ImageError::BadManifest {
                what: format!("image config {} of {shown}", manifest.config.digest),
                reason: format!("not a valid image config: {e}"),
            })?;
        if config.rootfs.diff_ids.len() != manifest.layers.len() {
            return Err(ImageError::BadManifest {
                what: format!("image {shown}"),
                reason: format!(
                    "the config lists {} layer diff ids but the manifest {} layers",
                    config.rootfs.diff_ids.len(),
                    manifest.layers.len()
                ),
            });
        }
        for d in &config.rootfs.diff_ids {
            crate::digest::validate(d).map_err(|e| ImageError::BadManifest {
                what: format!("image config of {shown}"),
                reason: e.to_string(),
            })?;
        }
        if !config.os.is_empty()
            && (config.os != platform.os || config.architecture != platform.architecture)
        {
            progress(Progress::Line(format!(
                "WARNING: The requested image's platform ({}/{}) does not match the wanted platform ({})",
                config.os,
                config.architecture,
                platform_text(&platform)
            )));
        }

        // The layers.
        let mut queue = VecDeque::new();
        for (i, (layer, diff_id)) in manifest
            .layers
            .iter()
            .zip(&config.rootfs.diff_ids)
            .enumerate()
        {
            let id = short_id(&layer.digest);
            let present = self.has_blob(&layer.digest)
                && self.snapshot_path(diff_id).is_ok_and(|p| p.is_dir());
            if present {
                progress(Progress::Item {
                    id,
                    status: ItemStatus::AlreadyExists,
                });
            } else {
                progress(Progress::Item {
                    id,
                    status: ItemStatus::Waiting,
                });
                queue.push_back(i);
            }
        }
        let queue = Mutex::new(queue);
        let first_error: Mutex<Option<ImageError>> = Mutex::new(None);
        let workers = opts
            .concurrency
            .clamp(1, 16)
            .min(manifest.layers.len().max(1));
        std::thread::scope(|s| {
            for _ in 0..workers {
                s.spawn(|| loop {
                    if cancel.load(Ordering::Relaxed) {
                        return;
                    }
                    let Some(i) = queue.lock().unwrap_or_else(|e| e.into_inner()).pop_front()
                    else {
                        return;
                    };
                    let layer = &manifest.layers[i];
                    let diff_id = &config.rootfs.diff_ids[i];
                    let id = short_id(&layer.digest);
                    let result =
                        self.pull_layer(registry, repo, layer, diff_id, &lease, &cancel, progress);
                    if let Err(e) = result {
                        progress(Progress::Item {
                            id,
                            status: ItemStatus::Failed(e.to_string()),
                        });
                        cancel.store(true, Ordering::Relaxed);
                        let mut slot = first_error.lock().unwrap_or_else(|e| e.into_inner());
                        if slot.is_none() {
                            *slot = Some(e);
                        }
                        return;
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
            return Err(e);
        }

        // The manifest, then the names.
        self.write_blob(&lease, &fetched.bytes[..], Some(&fetched.digest))?;
        let desc = Descriptor {
            media_type: manifest_media_type,
            digest: fetched.digest.clone(),
            size: fetched.bytes.len() as u64,
            annotations: Default::default(),
            platform: None,
        };
        let before = self.ref_target(&r.to_string())?;
        let repo_digest = Reference {
            domain: r.domain.clone(),
            path: r.path.clone(),
            tag: None,
            digest: Some(top.digest.clone()),
        };
        let tag_ref = r.tag.as_ref().map(|_| Reference {
            digest: None,
            ..r.clone()
        });
        self.add_names(&lease, &desc, tag_ref.as_ref(), Some(&repo_digest))?;
        let updated = before.as_deref() != Some(fetched.digest.as_str());
        progress(Progress::Line(format!("Digest: {}", top.digest)));
        progress(Progress::Line(if updated {
            format!("Status: Downloaded newer image for {shown}")
        } else {
            format!("Status: Image is up to date for {shown}")
        }));
        Ok(PullOutcome {
            reference: shown,
            id: manifest.config.digest.clone(),
            digest: top.digest,
            updated,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn pull_layer(
        &self,
        registry: &Registry,
        repo: &str,
        layer: &Descriptor,
        diff_id: &str,
        lease: &crate::ContentLease,
        cancel: &AtomicBool,
        progress: ProgressFn<'_>,
    ) -> Result<(), ImageError> {
        let id = short_id(&layer.digest);
        let total = layer.size;
        self.ingest_blob(
            lease,
            layer,
            &mut |off| registry.fetch_blob(repo, &layer.digest, off),
            &mut |done| {
                progress(Progress::Item {
                    id: id.clone(),
                    status: ItemStatus::Downloading { done, total },
                })
            },
            cancel,
        )?;
        progress(Progress::Item {
            id: id.clone(),
            status: ItemStatus::DownloadComplete,
        });
        progress(Progress::Item {
            id: id.clone(),
            status: ItemStatus::Extracting,
        });
        self.ensure_snapshot(lease, layer, Some(diff_id))?;
        progress(Progress::Item {
            id,
            status: ItemStatus::PullComplete,
        });
        Ok(())
    }
}

/// `library/busybox` as Docker prints it in "Pulling from": the path only.
fn familiar_path(r: &Reference) -> String {
    r.path.clone()
}

fn looks_like_index(bytes: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .is_some_and(|v| v.get("manifests").is_some() && v.get("layers").is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(platforms: &[(&str, &str, Option<&str>)]) -> Vec<u8> {
        let manifests: Vec<serde_json::Value> = platforms
            .iter()
            .enumerate()
            .map(|(i, (os, arch, v))| {
                let mut p = serde_json::json!({"os": os, "architecture": arch});
                if let Some(v) = v {
                    p["variant"] = serde_json::json!(v);
                }
                serde_json::json!({
                    "mediaType": oci::MEDIA_TYPE_MANIFEST,
                    "digest": format!("sha256:{}", format!("{i}").repeat(64)),
                    "size": 1, "platform": p})
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": manifests}))
            .unwrap()
    }

    #[test]
    fn picks_the_platform() {
        let idx = index(&[
            ("linux", "arm", Some("v7")),
            ("linux", "arm64", None),
            ("linux", "amd64", None),
            ("unknown", "unknown", None),
        ]);
        let d = select_platform(&idx, &parse_platform("linux/amd64").unwrap(), "x").unwrap();
        assert!(d.digest.starts_with("sha256:2222"));
        let d = select_platform(&idx, &parse_platform("linux/arm64/v8").unwrap(), "x").unwrap();
        assert!(d.digest.starts_with("sha256:1111"));
        let e = select_platform(&idx, &parse_platform("linux/s390x").unwrap(), "x").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("linux/arm/v7, linux/arm64, linux/amd64"),
            "{msg}"
        );
        assert!(msg.contains("--platform"), "{msg}");
    }

    #[test]
    fn parses_platforms() {
        assert_eq!(
            parse_platform("linux/x86_64").unwrap().architecture,
            "amd64"
        );
        assert_eq!(
            parse_platform("linux/arm/v6").unwrap().variant.as_deref(),
            Some("v6")
        );
        assert!(parse_platform("linux").is_err());
        assert!(parse_platform("linux//").is_err());
    }

    #[test]
    fn refuses_odd_manifests() {
        let fm = |mt: &str, body: &str| FetchedManifest {
            bytes: body.as_bytes().to_vec(),
            media_type: mt.into(),
            digest: crate::digest::sha256_digest(body.as_bytes()),
        };
        let e = parse_manifest(&fm(DOCKER_SCHEMA1[1], "{}"), "m").unwrap_err();
        assert!(e.to_string().contains("schema 1"), "{e}");
        let e = parse_manifest(&fm(oci::MEDIA_TYPE_MANIFEST, "{not json"), "m").unwrap_err();
        assert!(e.to_string().contains("malformed m"), "{e}");
        let helm = format!(
            r#"{{"schemaVersion":2,"config":{{"mediaType":"application/vnd.cncf.helm.config.v1+json","digest":"sha256:{}","size":1}},"layers":[]}}"#,
            "a".repeat(64)
        );
        let e = parse_manifest(&fm(oci::MEDIA_TYPE_MANIFEST, &helm), "m").unwrap_err();
        assert!(e.to_string().contains("not a container image"), "{e}");
    }
}
