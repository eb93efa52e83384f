//! The image store: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/<hex>`) plus `snapshots/<hex of diff id>/`, the unpacked layers.
//!
//! Concurrency between threads and processes uses two flocks:
//! - `content.lock`: held *shared* by anything that writes blobs or snapshots that the
//!   index does not reference yet (import, and later pull/load/build) until they are
//!   referenced; held *exclusive* by anything that deletes content (remove, gc). So a
//!   deleter never removes content that a writer is about to reference.
//! - `index.lock`: held exclusive around every read-modify-write of `index.json`.
//!   Always taken after `content.lock`, never before, so the two cannot deadlock.
//!
//! Readers need no lock: every file is replaced atomically (temp file in the same
//! directory, fsync, rename), and snapshots appear by renaming a finished directory.

use crate::changes::apply_changes;
use crate::digest::{self, Hashing};
use crate::error::{ioe, ImageError};
use crate::fsutil::{
    atomic_write, commit_temp, create_temp_in, ensure_dir, fsync_dir, lock_file, remove_tree,
    unique_suffix, LockGuard, TMP_MARK,
};
use crate::oci::{
    self, ContainerConfig, Descriptor, History, ImageConfig, Index, Manifest, OciLayout, RootFs,
    ANNOTATION_REF_NAME,
};
use crate::reference::Reference;
use crate::unpack::{self, Compression, UnpackOptions};
use crate::{Image, RuntimeConfig};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};
use wharf_engine_api::ImageInfo;

const OCI_LAYOUT_FILE: &str = "oci-layout";
const INDEX_FILE: &str = "index.json";
const INDEX_LOCK: &str = "index.lock";
const CONTENT_LOCK: &str = "content.lock";
const BLOBS_DIR: &str = "blobs/sha256";
const SNAPSHOTS_DIR: &str = "snapshots";
const IMPORT_COMMENT: &str = "Imported from -";

/// Proof that the caller holds `content.lock` shared: blobs and snapshots written
/// under it cannot be garbage-collected until it is dropped. Reference them from the
/// index (e.g. [`ImageStore::add_manifest`]) before dropping it. Do not call
/// [`ImageStore::remove`] or [`ImageStore::gc`] from a thread that holds one: they wait
/// for every lease to be dropped.
pub struct ContentLease {
    _guard: LockGuard,
}

/// What `snapshots/<hex>.json` records about a snapshot.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SnapshotMeta {
    diff_id: String,
    /// Bytes of the uncompressed layer.
    size: u64,
}

/// One image as the index describes it.
#[derive(Debug, Clone)]
struct Record {
    /// `sha256:` of the config: the image id.
    id: String,
    /// Index entry (without its ref name) of the manifest used for this image.
    manifest_desc: Descriptor,
    manifest: Manifest,
    /// All manifest digests whose config is `id` (usually one).
    manifest_digests: Vec<String>,
    /// Normalized references (`docker.io/library/busybox:latest`).
    tags: Vec<String>,
    /// Normalized digest references (`docker.io/library/busybox@sha256:…`): the
    /// digests the image had in registries it was pulled from or pushed to.
    repo_digests: Vec<String>,
}

/// A content-addressed image store in a directory.
pub struct ImageStore {
    root: PathBuf,
    unpack_opts: UnpackOptions,
}

impl std::fmt::Debug for ImageStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageStore")
            .field("root", &self.root)
            .finish()
    }
}

impl ImageStore {
    /// Open (creating) a store in `root`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        Self::open_with(root, UnpackOptions::default())
    }

    /// Open with explicit unpack options (tests use this to run the unprivileged paths).
    pub fn open_with(root: &Path, unpack_opts: UnpackOptions) -> Result<Self, ImageError> {
        let store = ImageStore {
            root: root.to_path_buf(),
            unpack_opts,
        };
        ensure_dir(&store.root.join(BLOBS_DIR))?;
        ensure_dir(&store.root.join(SNAPSHOTS_DIR))?;
        let layout = store.root.join(OCI_LAYOUT_FILE);
        match fs::read(&layout) {
            Ok(data) => {
                let l: OciLayout =
                    serde_json::from_slice(&data).map_err(|e| ImageError::Corrupt {
                        path: layout.clone(),
                        reason: format!("not an OCI layout file: {e}"),
                    })?;
                if l.image_layout_version != oci::LAYOUT_VERSION {
                    return Err(ImageError::Corrupt {
                        path: layout,
                        reason: format!(
                            "OCI layout version {:?} is not supported (expected {})",
                            l.image_layout_version,
                            oci::LAYOUT_VERSION
                        ),
                    });
                }
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let l = OciLayout {
                    image_layout_version: oci::LAYOUT_VERSION.to_string(),
                };
                atomic_write(&layout, &to_json(&l))?;
            }
            Err(e) => return Err(ImageError::io("read", &layout, e)),
        }
        if !store.root.join(INDEX_FILE).exists() {
            store.update_index(|_| Ok(()))?;
        }
        Ok(store)
    }

    /// The store's directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Path of the blob with `digest` (which need not exist).
    pub fn blob_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.root.join(BLOBS_DIR).join(digest::hex_of(digest)?))
    }

    /// Whether the blob is present.
    pub fn has_blob(&self, digest: &str) -> bool {
        self.blob_path(digest).is_ok_and(|p| p.is_file())
    }

    /// Directory of the snapshot of the layer with `diff_id` (which need not exist).
    pub fn snapshot_path(&self, diff_id: &str) -> Result<PathBuf, ImageError> {
        Ok(self.root.join(SNAPSHOTS_DIR).join(digest::hex_of(diff_id)?))
    }

    /// Take the shared content lock; see [`ContentLease`].
    pub fn lease(&self) -> Result<ContentLease, ImageError> {
        Ok(ContentLease {
            _guard: lock_file(&self.root.join(CONTENT_LOCK), true)?,
        })
    }

    /// Store `data` as a blob and return its digest and size. With `expected`, the data
    /// must hash to it or nothing is stored.
    pub fn write_blob(
        &self,
        _lease: &ContentLease,
        mut data: impl Read,
        expected: Option<&str>,
    ) -> Result<(String, u64), ImageError> {
        if let Some(d) = expected {
            digest::validate(d)?;
        }
        let dir = self.root.join(BLOBS_DIR);
        let (file, tmp) = create_temp_in(&dir, "")?;
        let mut w = Hashing::new(file);
        if let Err(e) = io::copy(&mut data, &mut w) {
            let _ = fs::remove_file(&tmp);
            return Err(ImageError::io("write blob", &tmp, e));
        }
        let (actual, size, file) = w.finish();
        if let Some(expected) = expected {
            if expected != actual {
                let _ = fs::remove_file(&tmp);
                return Err(ImageError::DigestMismatch {
                    what: format!("blob {expected}"),
                    expected: expected.to_string(),
                    actual,
                });
            }
        }
        let dest = self.blob_path(&actual)?;
        if dest.is_file() {
            let _ = fs::remove_file(&tmp);
        } else {
            commit_temp(file, &tmp, &dest)?;
        }
        Ok((actual, size))
    }

    /// Store the bytes `fill` writes as a blob; returns its digest and size.
    pub(crate) fn write_blob_with(
        &self,
        _lease: &ContentLease,
        fill: &mut dyn FnMut(&mut dyn io::Write) -> Result<(), ImageError>,
    ) -> Result<(String, u64), ImageError> {
        let dir = self.root.join(BLOBS_DIR);
        let (file, tmp) = create_temp_in(&dir, "")?;
        let mut w = Hashing::new(io::BufWriter::with_capacity(256 * 1024, file));
        if let Err(e) = fill(&mut w) {
            let _ = fs::remove_file(&tmp);
            return Err(e);
        }
        let (actual, size, buf) = w.finish();
        let file = match buf.into_inner() {
            Ok(f) => f,
            Err(e) => {
                let _ = fs::remove_file(&tmp);
                return Err(ImageError::io("write blob", &tmp, e.into_error()));
            }
        };
        let dest = self.blob_path(&actual)?;
        if dest.is_file() {
            let _ = fs::remove_file(&tmp);
        } else {
            commit_temp(file, &tmp, &dest)?;
        }
        Ok((actual, size))
    }

    /// A fresh scratch directory for a build step, on the snapshots' file system (so
    /// its diff can be renamed into a snapshot). Its name marks it temporary: `gc`
    /// removes it if the build dies.
    pub(crate) fn scratch_dir(&self, _lease: &ContentLease) -> Result<PathBuf, ImageError> {
        let dir = self
            .root
            .join(SNAPSHOTS_DIR)
            .join(format!("build{TMP_MARK}{}", unique_suffix()));
        fs::create_dir(&dir).map_err(ioe("create build directory", &dir))?;
        Ok(dir)
    }

    /// Make the finished directory `dir` (already in overlay lower-layer form) the
    /// snapshot of the layer with `diff_id`, or drop it if that snapshot exists.
    pub(crate) fn commit_snapshot(
        &self,
        _lease: &ContentLease,
        dir: &Path,
        diff_id: &str,
        size: u64,
    ) -> Result<PathBuf, ImageError> {
        let snapshots = self.root.join(SNAPSHOTS_DIR);
        let dest = self.snapshot_path(diff_id)?;
        if dest.is_dir() {
            remove_tree(dir)?;
            return Ok(dest);
        }
        let f = File::open(dir).map_err(ioe("open", dir))?;
        nix::unistd::syncfs(f.as_raw_fd())
            .map_err(|e| ImageError::io("sync filesystem of", dir, e.into()))?;
        let meta = SnapshotMeta {
            diff_id: diff_id.to_string(),
            size,
        };
        let meta_path = snapshots.join(format!("{}.json", digest::hex_of(diff_id)?));
        atomic_write(&meta_path, &to_json(&meta))?;
        match fs::rename(dir, &dest) {
            Ok(()) => fsync_dir(&snapshots)?,
            Err(_) if dest.is_dir() => remove_tree(dir)?,
            Err(e) => return Err(ImageError::io("rename snapshot into place", &dest, e)),
        }
        Ok(dest)
    }

    /// Read a whole blob, verifying its digest.
    pub fn read_blob(&self, digest: &str) -> Result<Vec<u8>, ImageError> {
        let path = self.blob_path(digest)?;
        let data = fs::read(&path).map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                ImageError::Corrupt {
                    path: path.clone(),
                    reason: format!("blob {digest} is missing"),
                }
            } else {
                ImageError::io("read blob", &path, e)
            }
        })?;
        let actual = digest::sha256_digest(&data);
        if actual != digest {
            return Err(ImageError::DigestMismatch {
                what: format!("stored blob {}", path.display()),
                expected: digest.to_string(),
                actual,
            });
        }
        Ok(data)
    }

    fn read_json_blob<T: serde::de::DeserializeOwned>(
        &self,
        digest: &str,
    ) -> Result<T, ImageError> {
        let data = self.read_blob(digest)?;
        serde_json::from_slice(&data).map_err(|e| ImageError::Corrupt {
            path: self.blob_path(digest).unwrap_or_default(),
            reason: format!("not the expected JSON document: {e}"),
        })
    }

    fn read_index(&self) -> Result<Index, ImageError> {
        let path = self.root.join(INDEX_FILE);
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data).map_err(|e| ImageError::Corrupt {
                path,
                reason: format!("not an OCI index: {e}"),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(ImageError::io("read", &path, e)),
        }
    }

    /// Read-modify-write `index.json` under the index lock.
    fn update_index<T>(
        &self,
        f: impl FnOnce(&mut Index) -> Result<T, ImageError>,
    ) -> Result<T, ImageError> {
        let _lock = lock_file(&self.root.join(INDEX_LOCK), false)?;
        let path = self.root.join(INDEX_FILE);
        let exists = path.exists();
        let before = self.read_index()?;
        let mut index = before.clone();
        let out = f(&mut index)?;
        if index != before || !exists {
            atomic_write(&path, &to_json(&index))?;
        }
        Ok(out)
    }

    /// Make sure the layer `layer` is unpacked into its snapshot, and return the
    /// snapshot's directory, diff id and size. `diff_id` is checked when given.
    pub(crate) fn ensure_snapshot(
        &self,
        _lease: &ContentLease,
        layer: &Descriptor,
        diff_id: Option<&str>,
    ) -> Result<(PathBuf, String, u64), ImageError> {
        if let Some(d) = diff_id {
            let dir = self.snapshot_path(d)?;
            if dir.is_dir() {
                let size = self.snapshot_size(d).unwrap_or(layer.size);
                return Ok((dir, d.to_string(), size));
            }
        }
        let snapshots = self.root.join(SNAPSHOTS_DIR);
        let hex = digest::hex_of(&layer.digest)?;
        let tmp = snapshots.join(format!("{hex}{TMP_MARK}{}", unique_suffix()));
        fs::create_dir(&tmp).map_err(ioe("create snapshot directory", &tmp))?;
        let result = self.unpack_into(layer, diff_id, &tmp);
        let (diff, size) = match result {
            Ok(v) => v,
            Err(e) => {
                let _ = remove_tree(&tmp);
                return Err(e);
            }
        };
        let dir = self.snapshot_path(&diff)?;
        let meta = SnapshotMeta {
            diff_id: diff.clone(),
            size,
        };
        let meta_path = snapshots.join(format!("{}.json", digest::hex_of(&diff)?));
        let committed = atomic_write(&meta_path, &to_json(&meta)).and_then(|()| {
            match fs::rename(&tmp, &dir) {
                Ok(()) => fsync_dir(&snapshots),
                // Someone else finished the same snapshot first.
                Err(_) if dir.is_dir() => remove_tree(&tmp),
                Err(e) => Err(ImageError::io("rename snapshot into place", &dir, e)),
            }
        });
        if let Err(e) = committed {
            let _ = remove_tree(&tmp);
            return Err(e);
        }
        Ok((dir, diff, size))
    }

    fn unpack_into(
        &self,
        layer: &Descriptor,
        diff_id: Option<&str>,
        tmp: &Path,
    ) -> Result<(String, u64), ImageError> {
        let blob = self.blob_path(&layer.digest)?;
        let file = File::open(&blob).map_err(ioe("open layer blob", &blob))?;
        let mut reader = Hashing::new(file);
        let what = format!("layer {}", layer.digest);
        let summary = unpack::unpack_layer(&mut reader, tmp, &layer.digest, &self.unpack_opts)?;
        io::copy(&mut reader, &mut io::sink()).map_err(ioe("read layer blob", &blob))?;
        let (actual, _, _) = reader.finish();
        if actual != layer.digest {
            return Err(ImageError::DigestMismatch {
                what: format!("layer blob {}", blob.display()),
                expected: layer.digest.clone(),
                actual,
            });
        }
        if let Some(expected) = diff_id {
            if expected != summary.diff_id {
                return Err(ImageError::DigestMismatch {
                    what: format!("the uncompressed content (diff id) of {what}"),
                    expected: expected.to_string(),
                    actual: summary.diff_id,
                });
            }
        }
        // Make the unpacked files durable before the rename makes the snapshot visible.
        let dir = File::open(tmp).map_err(ioe("open", tmp))?;
        nix::unistd::syncfs(dir.as_raw_fd())
            .map_err(|e| ImageError::io("sync filesystem of", tmp, e.into()))?;
        Ok((summary.diff_id, summary.size))
    }

    /// Size of the layer with `diff_id` (the length of its uncompressed tar), when
    /// its snapshot is recorded.
    pub fn snapshot_size(&self, diff_id: &str) -> Option<u64> {
        let hex = digest::hex_of(diff_id).ok()?;
        let data = fs::read(self.root.join(SNAPSHOTS_DIR).join(format!("{hex}.json"))).ok()?;
        serde_json::from_slice::<SnapshotMeta>(&data)
            .ok()
            .map(|m| m.size)
    }

    /// `docker import`: see the crate docs.
    pub fn import(
        &self,
        tar: impl Read,
        reference: Option<&str>,
        changes: &[String],
    ) -> Result<String, ImageError> {
        let reference = reference.map(tag_reference).transpose()?;
        let mut container_config = ContainerConfig::default();
        apply_changes(&mut container_config, changes)?;

        let lease = self.lease()?;
        let (layer_digest, layer_size) = self.write_blob(&lease, tar, None)?;
        if layer_size == 0 {
            return Err(ImageError::BadLayer {
                layer: "import stream".into(),
                reason: "it is empty; give a root filesystem as a tar archive (plain or gzip)"
                    .into(),
            });
        }
        let mut magic = [0u8; 8];
        let blob_path = self.blob_path(&layer_digest)?;
        let n = File::open(&blob_path)
            .and_then(|mut f| f.read(&mut magic))
            .map_err(ioe("read", &blob_path))?;
        let compression =
            Compression::detect(&magic[..n]).map_err(|reason| ImageError::BadLayer {
                layer: "import stream".into(),
                reason,
            })?;
        let layer = Descriptor {
            media_type: compression.layer_media_type().to_string(),
            digest: layer_digest,
            size: layer_size,
            annotations: BTreeMap::new(),
            platform: None,
        };
        let (_, diff_id, _) = self.ensure_snapshot(&lease, &layer, None)?;

        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let created = oci::format_rfc3339(now);
        let (architecture, variant) = oci::host_platform();
        let config = ImageConfig {
            created: Some(created.clone()),
            author: None,
            architecture,
            os: "linux".into(),
            variant,
            config: Some(container_config),
            rootfs: RootFs {
                kind: "layers".into(),
                diff_ids: vec![diff_id],
            },
            history: vec![History {
                created: Some(created),
                created_by: None,
                comment: Some(IMPORT_COMMENT.into()),
                empty_layer: false,
                author: None,
            }],
        };
        let config_bytes = to_json(&config);
        let (config_digest, config_size) = self.write_blob(&lease, &config_bytes[..], None)?;
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MEDIA_TYPE_MANIFEST.into()),
            config: Descriptor {
                media_type: oci::MEDIA_TYPE_CONFIG.into(),
                digest: config_digest.clone(),
                size: config_size,
                annotations: BTreeMap::new(),
                platform: None,
            },
            layers: vec![layer],
            annotations: BTreeMap::new(),
        };
        let manifest_bytes = to_json(&manifest);
        let (manifest_digest, manifest_size) =
            self.write_blob(&lease, &manifest_bytes[..], None)?;
        let desc = Descriptor {
            media_type: oci::MEDIA_TYPE_MANIFEST.into(),
            digest: manifest_digest,
            size: manifest_size,
            annotations: BTreeMap::new(),
            platform: None,
        };
        self.add_manifest(&lease, desc, reference.as_ref())?;
        Ok(config_digest)
    }

    /// Reference the manifest `desc` from the index, tagged as `reference` if given
    /// (moving the tag), or as an untagged image otherwise. Its blobs must be in the
    /// store, written under `lease`.
    pub fn add_manifest(
        &self,
        _lease: &ContentLease,
        desc: Descriptor,
        reference: Option<&Reference>,
    ) -> Result<(), ImageError> {
        self.update_index(|index| {
            match reference {
                Some(r) => set_ref(index, &r.to_string(), &desc),
                None => {
                    if !index.manifests.iter().any(|d| d.digest == desc.digest) {
                        let mut d = desc.clone();
                        d.annotations.remove(ANNOTATION_REF_NAME);
                        index.manifests.push(d);
                    }
                }
            }
            Ok(())
        })
    }

    /// Group the index's manifests into images (one per config digest).
    fn records(&self, index: &Index) -> Result<Vec<Record>, ImageError> {
        let mut out: Vec<Record> = Vec::new();
        let mut manifests: BTreeMap<String, Manifest> = BTreeMap::new();
        for entry in &index.manifests {
            if !manifests.contains_key(&entry.digest) {
                let m: Manifest = self.read_json_blob(&entry.digest)?;
                manifests.insert(entry.digest.clone(), m);
            }
            let manifest = &manifests[&entry.digest];
            let id = manifest.config.digest.clone();
            let pos = match out.iter().position(|r| r.id == id) {
                Some(p) => p,
                None => {
                    let mut desc = entry.clone();
                    desc.annotations.remove(ANNOTATION_REF_NAME);
                    out.push(Record {
                        id,
                        manifest_desc: desc,
                        manifest: manifest.clone(),
                        manifest_digests: Vec::new(),
                        tags: Vec::new(),
                        repo_digests: Vec::new(),
                    });
                    out.len() - 1
                }
            };
            let rec = &mut out[pos];
            if !rec.manifest_digests.contains(&entry.digest) {
                rec.manifest_digests.push(entry.digest.clone());
            }
            if let Some(name) = entry.ref_name() {
                let list = if name.contains('@') {
                    &mut rec.repo_digests
                } else {
                    &mut rec.tags
                };
                if !list.iter().any(|t| t == name) {
                    list.push(name.to_string());
                }
            }
        }
        Ok(out)
    }

    /// Find an image by reference or id. Returns it and, when found by tag, the
    /// normalized tag.
    fn find(
        &self,
        records: &[Record],
        query: &str,
    ) -> Result<Option<(usize, Option<String>)>, ImageError> {
        let hexpart = query.strip_prefix("sha256:");
        if let Some(h) = hexpart {
            return by_id_prefix(records, h, query).map(|o| o.map(|i| (i, None)));
        }
        if query.len() == 64 && crate::reference::is_lower_hex(query) {
            return by_id_prefix(records, query, query).map(|o| o.map(|i| (i, None)));
        }
        match Reference::parse(query) {
            Ok(r) => {
                if let Some(d) = &r.digest {
                    let repo_digest = format!("{}@{d}", r.repository());
                    let found = records.iter().position(|rec| {
                        rec.manifest_digests.iter().any(|m| m == d)
                            || rec.repo_digests.contains(&repo_digest)
                    });
                    return Ok(found.map(|i| (i, None)));
                }
                let name = r.with_default_tag().to_string();
                if let Some(i) = records.iter().position(|rec| rec.tags.contains(&name)) {
                    return Ok(Some((i, Some(name))));
                }
                if crate::reference::is_lower_hex(query) {
                    return by_id_prefix(records, query, query).map(|o| o.map(|i| (i, None)));
                }
                Ok(None)
            }
            Err(e) => {
                if !query.is_empty() && crate::reference::is_lower_hex(query) {
                    by_id_prefix(records, query, query).map(|o| o.map(|i| (i, None)))
                } else {
                    Err(e)
                }
            }
        }
    }

    fn info(&self, rec: &Record) -> Result<(ImageInfo, ImageConfig), ImageError> {
        let config: ImageConfig = self.read_json_blob(&rec.id)?;
        let created = config
            .created
            .as_deref()
            .and_then(oci::parse_rfc3339)
            .unwrap_or(0);
        let size = rec
            .manifest
            .layers
            .iter()
            .zip(config.rootfs.diff_ids.iter())
            .map(|(l, d)| self.snapshot_size(d).unwrap_or(l.size))
            .sum();
        Ok((
            ImageInfo {
                id: rec.id.clone(),
                repo_tags: rec.tags.clone(),
                created,
                size,
            },
            config,
        ))
    }

    /// All images, newest first, untagged ones included.
    pub fn list(&self) -> Result<Vec<ImageInfo>, ImageError> {
        // Shared: no remove deletes a manifest between reading the index and reading it.
        let _lease = self.lease()?;
        let index = self.read_index()?;
        let mut out = Vec::new();
        for rec in self.records(&index)? {
            out.push(self.info(&rec)?.0);
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Look up by reference or by (prefix of) id. Missing layer snapshots are
    /// unpacked from their blobs.
    pub fn resolve(&self, reference_or_id: &str) -> Result<Option<Image>, ImageError> {
        let lease = self.lease()?;
        let index = self.read_index()?;
        let records = self.records(&index)?;
        let Some((i, _)) = self.find(&records, reference_or_id)? else {
            return Ok(None);
        };
        let rec = &records[i];
        let (info, config) = self.info(rec)?;
        if config.rootfs.diff_ids.len() != rec.manifest.layers.len() {
            return Err(ImageError::Corrupt {
                path: self.blob_path(&rec.id)?,
                reason: format!(
                    "the config lists {} layer diff ids but the manifest {} layers",
                    config.rootfs.diff_ids.len(),
                    rec.manifest.layers.len()
                ),
            });
        }
        let mut layers = Vec::new();
        for (layer, diff_id) in rec.manifest.layers.iter().zip(&config.rootfs.diff_ids) {
            let (dir, _, _) = self.ensure_snapshot(&lease, layer, Some(diff_id))?;
            layers.push(dir);
        }
        Ok(Some(Image {
            info,
            config: RuntimeConfig::from_oci(config.config.as_ref()),
            layers,
            manifest_digest: rec.manifest_desc.digest.clone(),
            architecture: config.architecture.clone(),
            os: config.os.clone(),
            diff_ids: config.rootfs.diff_ids.clone(),
        }))
    }

    /// Give the image `source` (reference or id) the additional name `target`.
    pub fn tag(&self, source: &str, target: &str) -> Result<(), ImageError> {
        let target_ref = tag_reference(target)?;
        let name = target_ref.to_string();
        self.update_index(|index| {
            let records = self.records(index)?;
            let (i, _) = self
                .find(&records, source)?
                .ok_or_else(|| not_found(source))?;
            set_ref(index, &name, &records[i].manifest_desc);
            Ok(())
        })
    }

    /// Untag, and delete the image when no tag is left; see the crate docs.
    pub fn remove(&self, reference_or_id: &str) -> Result<Vec<String>, ImageError> {
        self.remove_with(reference_or_id, false)
    }

    /// [`ImageStore::remove`]; with `force`, an image given by id is deleted even when
    /// it has several tags (`docker rmi -f ID`).
    pub fn remove_with(
        &self,
        reference_or_id: &str,
        force: bool,
    ) -> Result<Vec<String>, ImageError> {
        let _exclusive = lock_file(&self.root.join(CONTENT_LOCK), false)?;
        let (mut lines, doomed) = self.update_index(|index| {
            let records = self.records(index)?;
            let (i, by_tag) = self
                .find(&records, reference_or_id)?
                .ok_or_else(|| not_found(reference_or_id))?;
            let rec = records[i].clone();
            let mut lines = Vec::new();
            if let Some(name) = by_tag {
                index.manifests.retain(|d| d.ref_name() != Some(name.as_str()));
                lines.push(format!("Untagged: {}", familiar(&name)));
                if rec.tags.len() > 1 {
                    return Ok((lines, None));
                }
            } else if rec.tags.len() > 1 && !force {
                let tags: Vec<String> = rec.tags.iter().map(|t| familiar(t)).collect();
                return Err(ImageError::Conflict(format!(
                    "cannot remove image {}: it is tagged as {}; remove it by name, one tag at a time \
                     (e.g. \"wharf image rm {}\")",
                    rec.id,
                    tags.join(", "),
                    tags[0]
                )));
            } else {
                for t in &rec.tags {
                    lines.push(format!("Untagged: {}", familiar(t)));
                }
            }
            for d in &rec.repo_digests {
                lines.push(format!("Untagged: {}", familiar(d)));
            }
            index
                .manifests
                .retain(|d| !rec.manifest_digests.contains(&d.digest));
            lines.push(format!("Deleted: {}", rec.id));
            Ok((lines, Some(rec)))
        })?;
        if let Some(rec) = doomed {
            let config: Option<ImageConfig> = self.read_json_blob(&rec.id).ok();
            let mut blobs: Vec<String> = rec.manifest_digests.clone();
            blobs.push(rec.id.clone());
            blobs.extend(rec.manifest.layers.iter().map(|l| l.digest.clone()));
            let diff_ids = config.map(|c| c.rootfs.diff_ids).unwrap_or_default();
            lines.extend(self.sweep(Some((&blobs, &diff_ids)))?);
        }
        Ok(lines)
    }

    /// Delete every blob and snapshot that no image references, and leftovers of
    /// interrupted writes. Returns a line per deleted snapshot.
    pub fn gc(&self) -> Result<Vec<String>, ImageError> {
        let _exclusive = lock_file(&self.root.join(CONTENT_LOCK), false)?;
        self.clear_ingest()?;
        self.sweep(None)
    }

    /// Under the exclusive content lock: delete unreferenced content, either only
    /// among `candidates` (blob digests, diff ids) or all of it.
    fn sweep(&self, candidates: Option<(&[String], &[String])>) -> Result<Vec<String>, ImageError> {
        let (live_blobs, live_diffs) = self.referenced()?;
        let blob_dir = self.root.join(BLOBS_DIR);
        let snap_dir = self.root.join(SNAPSHOTS_DIR);
        let mut lines = Vec::new();
        let (blobs, diffs): (Vec<String>, Vec<String>) = match candidates {
            Some((b, d)) => (b.to_vec(), d.to_vec()),
            None => {
                let mut blobs = Vec::new();
                for name in dir_names(&blob_dir)? {
                    if name.contains(TMP_MARK) {
                        remove_tree(&blob_dir.join(&name))?;
                    } else {
                        blobs.push(format!("sha256:{name}"));
                    }
                }
                let mut diffs = Vec::new();
                for name in dir_names(&snap_dir)? {
                    if name.contains(TMP_MARK) {
                        remove_tree(&snap_dir.join(&name))?;
                    } else if let Some(hex) = name.strip_suffix(".json") {
                        if !snap_dir.join(hex).exists() {
                            diffs.push(format!("sha256:{hex}"));
                        }
                    } else {
                        diffs.push(format!("sha256:{name}"));
                    }
                }
                (blobs, diffs)
            }
        };
        for b in blobs {
            if live_blobs.contains(&b) {
                continue;
            }
            if let Ok(path) = self.blob_path(&b) {
                remove_tree(&path)?;
            }
        }
        for d in diffs {
            if live_diffs.contains(&d) {
                continue;
            }
            let Ok(hex) = digest::hex_of(&d) else {
                continue;
            };
            let dir = snap_dir.join(hex);
            if dir.exists() {
                // Rename first, so a crash never leaves a half-deleted snapshot that
                // looks complete.
                let doomed = snap_dir.join(format!("{hex}{TMP_MARK}{}", unique_suffix()));
                fs::rename(&dir, &doomed).map_err(ioe("rename snapshot for removal", &dir))?;
                remove_tree(&doomed)?;
                lines.push(format!("Deleted: {d}"));
            }
            remove_tree(&snap_dir.join(format!("{hex}.json")))?;
        }
        fsync_dir(&snap_dir)?;
        fsync_dir(&blob_dir)?;
        Ok(lines)
    }

    /// Blobs and diff ids referenced by the index.
    fn referenced(&self) -> Result<(HashSet<String>, HashSet<String>), ImageError> {
        let index = self.read_index()?;
        let mut blobs = HashSet::new();
        let mut diffs = HashSet::new();
        for rec in self.records(&index)? {
            blobs.extend(rec.manifest_digests.iter().cloned());
            blobs.insert(rec.id.clone());
            for digest in &rec.manifest_digests {
                let m: Manifest = self.read_json_blob(digest)?;
                blobs.extend(m.layers.into_iter().map(|l| l.digest));
            }
            let config: ImageConfig = self.read_json_blob(&rec.id)?;
            diffs.extend(config.rootfs.diff_ids);
        }
        Ok((blobs, diffs))
    }
}

/// Parse a reference used as a tag target: no digest, `latest` filled in.
pub(crate) fn tag_reference(s: &str) -> Result<Reference, ImageError> {
    let r = Reference::parse(s)?;
    if r.digest.is_some() {
        return Err(ImageError::InvalidReference {
            input: s.to_string(),
            reason: "a tag target cannot contain a digest; give NAME[:TAG]".into(),
        });
    }
    Ok(r.with_default_tag())
}

fn familiar(normalized: &str) -> String {
    Reference::parse(normalized)
        .map(|r| r.familiar())
        .unwrap_or_else(|_| normalized.to_string())
}

fn not_found(query: &str) -> ImageError {
    let hint = match Reference::parse(query) {
        Ok(r) if r.digest.is_none() => format!(
            "import it with \"wharf image import FILE {}\" or pull it",
            r.familiar()
        ),
        _ => "list the images with \"wharf image ls\"".to_string(),
    };
    ImageError::NotFound {
        reference: query.to_string(),
        hint,
    }
}

fn by_id_prefix(records: &[Record], hex: &str, query: &str) -> Result<Option<usize>, ImageError> {
    if hex.is_empty() || !crate::reference::is_lower_hex(hex) {
        return Err(ImageError::InvalidReference {
            input: query.to_string(),
            reason: "an image id is sha256: followed by lowercase hexadecimal digits".into(),
        });
    }
    let matches: Vec<usize> = records
        .iter()
        .enumerate()
        .filter(|(_, r)| {
            r.id.strip_prefix("sha256:")
                .is_some_and(|h| h.starts_with(hex))
        })
        .map(|(i, _)| i)
        .collect();
    match matches.len() {
        0 => Ok(None),
        1 => Ok(Some(matches[0])),
        n => Err(ImageError::AmbiguousId {
            prefix: query.to_string(),
            count: n,
        }),
    }
}

/// Point `name` at the manifest `desc`. The previous target keeps an untagged entry
/// if nothing else references it, so it shows up as a dangling image.
fn set_ref(index: &mut Index, name: &str, desc: &Descriptor) {
    if let Some(pos) = index
        .manifests
        .iter()
        .position(|d| d.ref_name() == Some(name))
    {
        let old = index.manifests.remove(pos);
        if old.digest == desc.digest {
            index.manifests.insert(pos, old);
            return;
        }
        if !index.manifests.iter().any(|d| d.digest == old.digest) {
            let mut dangling = old;
            dangling.annotations.remove(ANNOTATION_REF_NAME);
            index.manifests.insert(pos, dangling);
        }
    }
    index
        .manifests
        .retain(|d| !(d.digest == desc.digest && d.ref_name().is_none()));
    let mut entry = desc.clone();
    entry
        .annotations
        .insert(ANNOTATION_REF_NAME.to_string(), name.to_string());
    index.manifests.push(entry);
}

fn dir_names(dir: &Path) -> Result<Vec<String>, ImageError> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(ioe("list", dir))? {
        let e = e.map_err(ioe("list", dir))?;
        out.push(e.file_name().to_string_lossy().into_owned());
    }
    Ok(out)
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).expect("OCI documents always serialize")
}

mod ingest;
mod query;
pub use ingest::{BlobSource, Ingested};
pub use query::{HistoryRow, ImageDetails};
#[cfg(test)]
mod tests;
