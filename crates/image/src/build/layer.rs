//! A step's diff directory becomes a layer: an uncompressed tar written by
//! [`crate::tree_tar::write_diff`] (sorted, with OCI whiteouts). The directory itself
//! then becomes the layer's snapshot, so nothing is unpacked again.
//!
//! The build cache: `build-cache/<hex of the step's cache key>.json` records when the
//! step was made and its layer (if it made one). A record whose blob or snapshot has
//! been garbage-collected is a miss.

use crate::digest;
use crate::error::ImageError;
use crate::fsutil::{atomic_write, ensure_dir};
use crate::oci::Descriptor;
use crate::store::ImageStore;
use serde::{Deserialize, Serialize};
use std::fs;
use std::path::{Path, PathBuf};

const CACHE_DIR: &str = "build-cache";

/// A layer of an image being built.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltLayer {
    /// The layer blob.
    pub desc: Descriptor,
    /// `sha256:` of the uncompressed tar.
    pub diff_id: String,
}

/// What the cache knows about one step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheRecord {
    /// RFC 3339 time the step was first made (its history entry's `created`).
    pub created: String,
    /// The layer it made, if any.
    pub layer: Option<BuiltLayer>,
}

/// Look up the cache record of `key`; `None` when absent or its content is gone.
pub fn cache_get(store: &ImageStore, key: &str) -> Option<CacheRecord> {
    let hex = digest::hex_of(key).ok()?;
    let data = fs::read(store.root().join(CACHE_DIR).join(format!("{hex}.json"))).ok()?;
    let rec: CacheRecord = serde_json::from_slice(&data).ok()?;
    if let Some(l) = &rec.layer {
        if !store.has_blob(&l.desc.digest) || !store.snapshot_path(&l.diff_id).ok()?.is_dir() {
            return None;
        }
    }
    Some(rec)
}

/// Every live cache record (its content still stored), by the hex of its key.
pub fn cache_entries(store: &ImageStore) -> Result<Vec<(String, CacheRecord)>, ImageError> {
    let dir = store.root().join(CACHE_DIR);
    let names = match fs::read_dir(&dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect::<Vec<_>>(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(ImageError::io("list", &dir, e)),
    };
    let mut out = Vec::new();
    for name in names {
        let Some(hex) = name.strip_suffix(".json") else {
            continue;
        };
        if let Some(rec) = cache_get(store, &format!("sha256:{hex}")) {
            out.push((hex.to_string(), rec));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

/// Record the result of the step with cache key `key`.
pub fn cache_put(store: &ImageStore, key: &str, rec: &CacheRecord) -> Result<(), ImageError> {
    let dir = store.root().join(CACHE_DIR);
    ensure_dir(&dir)?;
    let hex = digest::hex_of(key)?;
    let data = serde_json::to_vec(rec).expect("cache records serialize");
    atomic_write(&dir.join(format!("{hex}.json")), &data)
}

/// Turn the finished diff directory `diff` into a layer of `store`: its tar becomes
/// a blob and the directory the layer's snapshot. Returns the layer and the
/// snapshot's path.
pub fn commit_diff(
    store: &ImageStore,
    lease: &crate::ContentLease,
    diff: &Path,
) -> Result<(BuiltLayer, PathBuf), ImageError> {
    let (digest, size) = store.write_blob_with(lease, &mut |w| {
        crate::tree_tar::write_diff(diff, w, &crate::tree_tar::keep_all).map(drop)
    })?;
    let dir = store.commit_snapshot(lease, diff, &digest, size)?;
    Ok((
        BuiltLayer {
            desc: Descriptor {
                media_type: crate::oci::MEDIA_TYPE_LAYER_TAR.to_string(),
                digest: digest.clone(),
                size,
                annotations: Default::default(),
                platform: None,
            },
            diff_id: digest,
        },
        dir,
    ))
}
