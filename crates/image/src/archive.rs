//! `image save` and `image load`. `save` writes one tar that is both an OCI image
//! layout (`oci-layout`, `index.json`, `blobs/sha256/…`) and a docker-archive
//! (`manifest.json`, `repositories`), as Docker 25 and later do, so `docker load`,
//! `skopeo` (`docker-archive:` and `oci-archive:`) and wharf all read it.
//!
//! `load` reads such an archive, the legacy docker-archive layout
//! (`<id>/layer.tar`, `<id>.json`, symlinked layers) and a bare OCI layout, plain or
//! gzip/zstd-compressed. Blobs named by digest are verified as they arrive; layers
//! are unpacked (and their diff ids checked) before any name is given, and the blobs
//! of a failed load are swept away again.

use crate::error::ImageError;
use crate::oci::{self, Descriptor, ImageConfig, Index, Manifest, Platform, ANNOTATION_REF_NAME};
use crate::reference::Reference;
use crate::store::ImageStore;
use crate::unpack::{decompress, Compression};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};

/// Annotation with the full image name, as containerd and Docker write it.
pub const ANNOTATION_IMAGE_NAME: &str = "io.containerd.image.name";
const MAX_METADATA_FILE: u64 = 16 * 1024 * 1024;

/// One entry of a docker-archive `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ArchiveEntry {
    /// Path of the config in the archive.
    #[serde(rename = "Config")]
    pub config: String,
    /// Familiar names (`busybox:latest`).
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    /// Paths of the layers, bottom first.
    #[serde(rename = "Layers", default)]
    pub layers: Vec<String>,
}

fn tar_header(path: &str, size: u64, dir: bool) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(if dir { 0o755 } else { 0o644 });
    h.set_mtime(0);
    h.set_entry_type(if dir {
        tar::EntryType::Directory
    } else {
        tar::EntryType::Regular
    });
    let _ = h.set_path(path);
    h.set_cksum();
    h
}

fn archive_err(archive: &str, reason: impl Into<String>) -> ImageError {
    ImageError::BadArchive {
        archive: archive.to_string(),
        reason: reason.into(),
    }
}

impl ImageStore {
    /// `docker save`: write `images` (references or ids) to `out` as one archive.
    pub fn save(&self, images: &[String], out: impl Write) -> Result<(), ImageError> {
        let _lease = self.lease()?;
        let mut blobs: Vec<String> = Vec::new();
        let mut index = Index::default();
        let mut entries: Vec<ArchiveEntry> = Vec::new();
        let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
        for image in images {
            let (desc, manifest, _raw, _config) = self.manifest_of(image)?;
            for d in std::iter::once(&desc.digest)
                .chain(std::iter::once(&manifest.config.digest))
                .chain(manifest.layers.iter().map(|l| &l.digest))
            {
                if !blobs.contains(d) {
                    blobs.push(d.clone());
                }
            }
            // A name given: save that name; an id given: no name (as Docker).
            let tag = match Reference::parse(image) {
                Ok(r) if !is_id(image) && r.digest.is_none() => Some(r.with_default_tag()),
                _ => None,
            };
            let mut entry_desc = desc.clone();
            entry_desc.annotations.clear();
            if let Some(t) = &tag {
                entry_desc
                    .annotations
                    .insert(ANNOTATION_IMAGE_NAME.into(), t.to_string());
                entry_desc
                    .annotations
                    .insert(ANNOTATION_REF_NAME.into(), t.tag_or_latest().into());
                if let Some(top) = manifest.layers.last() {
                    repositories
                        .entry(t.familiar_repository())
                        .or_default()
                        .insert(t.tag_or_latest().into(), hex(&top.digest).into());
                }
            }
            index.manifests.push(entry_desc);
            let repo_tags = tag.as_ref().map(|t| vec![t.familiar()]);
            match entries
                .iter_mut()
                .find(|e| e.config == blob_name(&manifest.config.digest))
            {
                Some(e) => {
                    if let Some(mut t) = repo_tags {
                        e.repo_tags.get_or_insert_with(Vec::new).append(&mut t);
                    }
                }
                None => entries.push(ArchiveEntry {
                    config: blob_name(&manifest.config.digest),
                    repo_tags,
                    layers: manifest
                        .layers
                        .iter()
                        .map(|l| blob_name(&l.digest))
                        .collect(),
                }),
            }
        }
        let mut b = tar::Builder::new(out);
        let io_err = |e: io::Error| ImageError::io("write image archive", Path::new("-"), e);
        let add_bytes = |b: &mut tar::Builder<_>, path: &str, data: &[u8]| {
            let h = tar_header(path, data.len() as u64, false);
            b.append(&h, data).map_err(io_err)
        };
        for dir in ["blobs/", "blobs/sha256/"] {
            let h = tar_header(dir, 0, true);
            b.append(&h, io::empty()).map_err(io_err)?;
        }
        for d in &blobs {
            let (file, size) = self.open_blob(d)?;
            let h = tar_header(&blob_name(d), size, false);
            b.append(&h, file.take(size)).map_err(io_err)?;
        }
        add_bytes(&mut b, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
        add_bytes(&mut b, "index.json", &json(&index))?;
        add_bytes(&mut b, "manifest.json", &json(&entries))?;
        if !repositories.is_empty() {
            add_bytes(&mut b, "repositories", &json(&repositories))?;
        }
        b.into_inner().map_err(io_err)?.flush().map_err(io_err)?;
        Ok(())
    }

    /// `docker load`: read an archive from `input` (`name` identifies it in errors).
    /// Returns Docker's `Loaded image: …` lines.
    pub fn load(
        &self,
        input: impl Read,
        name: &str,
        platform: Option<&Platform>,
    ) -> Result<Vec<String>, ImageError> {
        let mut written: Vec<String> = Vec::new();
        let result = self.load_inner(input, name, platform, &mut written);
        if result.is_err() && !written.is_empty() {
            // Sweep whatever this load stored that no image references.
            let _ = self.discard(&written);
        }
        result
    }

    fn load_inner(
        &self,
        input: impl Read,
        name: &str,
        platform: Option<&Platform>,
        written: &mut Vec<String>,
    ) -> Result<Vec<String>, ImageError> {
        let lease = self.lease()?;
        let reader = decompress(input, name).map_err(|e| archive_err(name, e.to_string()))?;
        let mut tar = tar::Archive::new(reader);
        let bad_tar = |e: io::Error| archive_err(name, format!("not a valid tar archive: {e}"));
        // Archive path → digest of the blob stored from it.
        let mut stored: HashMap<PathBuf, String> = HashMap::new();
        let mut small: HashMap<PathBuf, Vec<u8>> = HashMap::new();
        let mut links: HashMap<PathBuf, PathBuf> = HashMap::new();
        let mut saw_anything = false;
        for entry in tar.entries().map_err(bad_tar)? {
            let mut entry = entry.map_err(bad_tar)?;
            saw_anything = true;
            let raw = entry.path_bytes().into_owned();
            let Some(path) = clean_path(&raw) else {
                return Err(archive_err(
                    name,
                    format!(
                        "entry {:?} has an absolute or '..' path; the archive is refused",
                        String::from_utf8_lossy(&raw)
                    ),
                ));
            };
            let kind = entry.header().entry_type();
            if kind.is_symlink() || kind.is_hard_link() {
                let target = entry
                    .link_name()
                    .ok()
                    .flatten()
                    .map(|t| t.into_owned())
                    .unwrap_or_default();
                let base = if kind.is_symlink() {
                    path.parent().unwrap_or(Path::new("")).join(&target)
                } else {
                    target
                };
                let resolved = normalize(&base).ok_or_else(|| {
                    archive_err(
                        name,
                        format!("link {} points outside the archive", path.display()),
                    )
                })?;
                links.insert(path, resolved);
                continue;
            }
            if !kind.is_file() {
                continue;
            }
            let size = entry.header().size().unwrap_or(0);
            let file_name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if let Some(hex) = path
                .strip_prefix("blobs/sha256")
                .ok()
                .and_then(|p| p.to_str())
                .filter(|p| !p.contains('/'))
            {
                let digest = format!("sha256:{hex}");
                crate::digest::validate(&digest).map_err(|e| archive_err(name, e.to_string()))?;
                let fresh = !self.has_blob(&digest);
                self.write_blob(&lease, &mut entry, Some(&digest))
                    .map_err(|e| match e {
                        ImageError::DigestMismatch { .. } => {
                            archive_err(name, format!("{e} (entry {})", path.display()))
                        }
                        other => other,
                    })?;
                if fresh {
                    written.push(digest.clone());
                }
                stored.insert(path, digest);
            } else if size <= MAX_METADATA_FILE
                && (file_name.ends_with(".json")
                    || ["repositories", "oci-layout", "VERSION", "json"]
                        .contains(&file_name.as_str()))
            {
                let mut data = Vec::new();
                entry
                    .read_to_end(&mut data)
                    .map_err(|e| archive_err(name, format!("reading {}: {e}", path.display())))?;
                small.insert(path, data);
            } else {
                let (digest, _) = self.write_blob(&lease, &mut entry, None)?;
                written.push(digest.clone());
                stored.insert(path, digest);
            }
        }
        if !saw_anything {
            return Err(archive_err(name, "it is empty"));
        }
        let resolve = |p: &Path| -> PathBuf {
            let mut p = p.to_path_buf();
            for _ in 0..16 {
                match links.get(&p) {
                    Some(t) => p = t.clone(),
                    None => break,
                }
            }
            p
        };

        let manifest_json: Option<Vec<ArchiveEntry>> = small
            .get(Path::new("manifest.json"))
            .map(|d| {
                serde_json::from_slice(d)
                    .map_err(|e| archive_err(name, format!("manifest.json is not valid: {e}")))
            })
            .transpose()?;
        let index: Option<Index> = small
            .get(Path::new("index.json"))
            .map(|d| {
                serde_json::from_slice(d)
                    .map_err(|e| archive_err(name, format!("index.json is not valid: {e}")))
            })
            .transpose()?;
        // (manifest descriptor, names) to record once everything is verified.
        let mut images: Vec<(Descriptor, Vec<Reference>)> = Vec::new();

        let mut index_manifests: Vec<(Descriptor, Manifest)> = Vec::new();
        if let Some(index) = &index {
            let want = platform
                .cloned()
                .unwrap_or_else(crate::pull::default_platform);
            for d in &index.manifests {
                let (desc, m) = self.archive_manifest(d, &want, name)?;
                index_manifests.push((desc, m));
            }
        }

        if let Some(entries) = manifest_json {
            for e in entries {
                let cfg_path = resolve(&clean_path(e.config.as_bytes()).unwrap_or_default());
                let config_digest = match stored.get(&cfg_path) {
                    Some(d) => d.clone(),
                    None => {
                        let data = small.get(&cfg_path).ok_or_else(|| {
                            archive_err(
                                name,
                                format!(
                                    "manifest.json names the config {:?}, which the archive lacks",
                                    e.config
                                ),
                            )
                        })?;
                        let (d, _) = self.write_blob(&lease, &data[..], None)?;
                        written.push(d.clone());
                        d
                    }
                };
                let names = parse_names(e.repo_tags.as_deref().unwrap_or(&[]), name)?;
                if let Some((desc, _)) = index_manifests
                    .iter()
                    .find(|(_, m)| m.config.digest == config_digest)
                {
                    images.push((desc.clone(), names));
                    continue;
                }
                let mut layers = Vec::new();
                for l in &e.layers {
                    let p = resolve(&clean_path(l.as_bytes()).unwrap_or_default());
                    let digest = stored.get(&p).ok_or_else(|| {
                        archive_err(
                            name,
                            format!("manifest.json names the layer {l:?}, which the archive lacks"),
                        )
                    })?;
                    let (mut f, size) = self.open_blob(digest)?;
                    let mut magic = [0u8; 8];
                    let n = f.read(&mut magic).unwrap_or(0);
                    let compression = Compression::detect(&magic[..n])
                        .map_err(|r| archive_err(name, format!("layer {l}: {r}")))?;
                    layers.push(Descriptor {
                        media_type: compression.layer_media_type().into(),
                        digest: digest.clone(),
                        size,
                        annotations: BTreeMap::new(),
                        platform: None,
                    });
                }
                let config_size = self.open_blob(&config_digest)?.1;
                let config = Descriptor {
                    media_type: oci::MEDIA_TYPE_CONFIG.into(),
                    digest: config_digest,
                    size: config_size,
                    annotations: BTreeMap::new(),
                    platform: None,
                };
                let manifest = self.write_manifest(&lease, config, layers)?;
                written.push(manifest.digest.clone());
                images.push((manifest, names));
            }
        } else if let Some(index) = &index {
            for (d, (desc, _)) in index.manifests.iter().zip(&index_manifests) {
                let full = d
                    .annotations
                    .get(ANNOTATION_IMAGE_NAME)
                    .cloned()
                    .or_else(|| {
                        d.ref_name()
                            .filter(|n| n.contains('/') || n.contains(':'))
                            .map(str::to_string)
                    });
                let names = parse_names(full.as_slice(), name)?;
                images.push((desc.clone(), names));
            }
        } else {
            return Err(archive_err(
                name,
                "it has neither manifest.json nor index.json: it is not an image archive made by docker save, wharf image save or skopeo",
            ));
        }

        // Verify every image completely (config, layers, diff ids) before naming any.
        for (desc, _) in &images {
            let m: Manifest = serde_json::from_slice(&self.read_blob(&desc.digest)?)
                .map_err(|e| archive_err(name, format!("manifest {}: {e}", desc.digest)))?;
            let config: ImageConfig = serde_json::from_slice(&self.read_blob(&m.config.digest)?)
                .map_err(|e| archive_err(name, format!("config {}: {e}", m.config.digest)))?;
            if config.rootfs.diff_ids.len() != m.layers.len() {
                return Err(archive_err(
                    name,
                    format!(
                        "image {}: the config lists {} diff ids but there are {} layers",
                        m.config.digest,
                        config.rootfs.diff_ids.len(),
                        m.layers.len()
                    ),
                ));
            }
            for (l, d) in m.layers.iter().zip(&config.rootfs.diff_ids) {
                if !self.has_blob(&l.digest) {
                    return Err(archive_err(
                        name,
                        format!("it lacks the layer blob {}", l.digest),
                    ));
                }
                self.ensure_snapshot(&lease, l, Some(d))?;
            }
        }
        let mut lines = Vec::new();
        for (desc, names) in &images {
            let m: Manifest = serde_json::from_slice(&self.read_blob(&desc.digest)?)
                .map_err(|e| archive_err(name, e.to_string()))?;
            if names.is_empty() {
                self.add_names(&lease, desc, None, None)?;
                lines.push(format!("Loaded image ID: {}", m.config.digest));
            }
            for n in names {
                self.add_names(&lease, desc, Some(n), None)?;
                lines.push(format!("Loaded image: {}", n.familiar()));
            }
        }
        Ok(lines)
    }

    /// A manifest named by an archive's `index.json` entry (an index entry is
    /// narrowed to `want`).
    fn archive_manifest(
        &self,
        d: &Descriptor,
        want: &Platform,
        name: &str,
    ) -> Result<(Descriptor, Manifest), ImageError> {
        let data = self.read_blob(&d.digest).map_err(|e| match e {
            ImageError::Corrupt { .. } => archive_err(
                name,
                format!("index.json names {}, which the archive lacks", d.digest),
            ),
            other => other,
        })?;
        if crate::registry::is_index(&d.media_type) {
            let chosen = crate::pull::select_platform(&data, want, &format!("index in {name}"))?;
            return self.archive_manifest(&chosen, want, name);
        }
        let m: Manifest = serde_json::from_slice(&data)
            .map_err(|e| archive_err(name, format!("manifest {}: {e}", d.digest)))?;
        let mut desc = d.clone();
        desc.annotations.clear();
        desc.platform = None;
        Ok((desc, m))
    }
}

fn parse_names(names: &[String], archive: &str) -> Result<Vec<Reference>, ImageError> {
    names
        .iter()
        .map(|n| {
            Reference::parse(n)
                .map(|r| r.with_default_tag())
                .map_err(|e| archive_err(archive, format!("bad image name: {e}")))
        })
        .collect()
}

/// A relative archive path with only normal components, or `None` when it is
/// absolute or climbs with `..`.
fn clean_path(raw: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let p = Path::new(std::ffi::OsStr::from_bytes(raw));
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

/// Resolve `..` inside an archive path; `None` if it climbs out.
fn normalize(p: &Path) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(out)
}

fn is_id(s: &str) -> bool {
    let h = s.strip_prefix("sha256:").unwrap_or(s);
    s.starts_with("sha256:") || (h.len() == 64 && crate::reference::is_lower_hex(h))
}

fn hex(d: &str) -> &str {
    d.strip_prefix("sha256:").unwrap_or(d)
}

fn blob_name(d: &str) -> String {
    format!("blobs/sha256/{}", hex(d))
}

fn json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}
