//! Read-side queries of the store (inspect, history, detailed listings, the
//! manifests behind an image for push and save) and the naming operations that
//! pull, push and load use (tags and repository digests in one index update).

use super::{familiar, not_found, set_ref, to_json, ContentLease, ImageStore, Record};
use crate::error::ImageError;
use crate::oci::{Descriptor, ImageConfig, Manifest, ANNOTATION_REF_NAME};
use crate::reference::Reference;

/// Everything known about one image (`image inspect`, `image ls --digests`).
#[derive(Debug, Clone)]
pub struct ImageDetails {
    /// `sha256:` of the config.
    pub id: String,
    /// Tags as Docker prints them (`busybox:latest`).
    pub repo_tags: Vec<String>,
    /// Repository digests as Docker prints them (`busybox@sha256:…`).
    pub repo_digests: Vec<String>,
    /// The manifest the image is stored under.
    pub manifest: Descriptor,
    /// Its layers, bottom first.
    pub layers: Vec<Descriptor>,
    /// The config as stored (every field, Docker's keys).
    pub config_json: serde_json::Value,
    /// The config, typed.
    pub config: ImageConfig,
    /// Unpacked size in bytes.
    pub size: u64,
    /// Creation time, unix seconds.
    pub created: i64,
}

/// One line of `image history`, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryRow {
    /// The image id on the top row, `<missing>` below it (as Docker).
    pub id: String,
    /// Unix seconds, if known.
    pub created: Option<i64>,
    /// The instruction that made the step.
    pub created_by: String,
    /// Size of the step's layer (0 for steps without one).
    pub size: u64,
    /// Comment.
    pub comment: String,
    /// Whether the step made no layer.
    pub empty_layer: bool,
}

impl ImageStore {
    /// The manifest digest `name` (a normalized reference) points at.
    pub(crate) fn ref_target(&self, name: &str) -> Result<Option<String>, ImageError> {
        Ok(self
            .read_index()?
            .manifests
            .iter()
            .find(|d| d.ref_name() == Some(name))
            .map(|d| d.digest.clone()))
    }

    /// Name the manifest `desc` (whose blobs are stored under `lease`) with a tag
    /// and/or a repository digest, in one index update.
    pub fn add_names(
        &self,
        _lease: &ContentLease,
        desc: &Descriptor,
        tag: Option<&Reference>,
        repo_digest: Option<&Reference>,
    ) -> Result<(), ImageError> {
        self.update_index(|index| {
            let mut named = false;
            for r in [tag, repo_digest].into_iter().flatten() {
                set_ref(index, &r.to_string(), desc);
                named = true;
            }
            if !named && !index.manifests.iter().any(|d| d.digest == desc.digest) {
                let mut d = desc.clone();
                d.annotations.remove(ANNOTATION_REF_NAME);
                index.manifests.push(d);
            }
            Ok(())
        })
    }

    fn record_of(&self, query: &str) -> Result<Record, ImageError> {
        let index = self.read_index()?;
        let records = self.records(&index)?;
        let (i, _) = self
            .find(&records, query)?
            .ok_or_else(|| not_found(query))?;
        Ok(records[i].clone())
    }

    fn details(&self, rec: &Record) -> Result<ImageDetails, ImageError> {
        let (info, config) = self.info(rec)?;
        let raw = self.read_blob(&rec.id)?;
        let config_json: serde_json::Value =
            serde_json::from_slice(&raw).map_err(|e| ImageError::Corrupt {
                path: self.blob_path(&rec.id).unwrap_or_default(),
                reason: format!("not JSON: {e}"),
            })?;
        Ok(ImageDetails {
            id: rec.id.clone(),
            repo_tags: rec.tags.iter().map(|t| familiar(t)).collect(),
            repo_digests: rec.repo_digests.iter().map(|t| familiar(t)).collect(),
            manifest: rec.manifest_desc.clone(),
            layers: rec.manifest.layers.clone(),
            config_json,
            config,
            size: info.size,
            created: info.created,
        })
    }

    /// Details of one image, by reference or (prefix of) id.
    pub fn inspect(&self, reference_or_id: &str) -> Result<ImageDetails, ImageError> {
        let _lease = self.lease()?;
        let rec = self.record_of(reference_or_id)?;
        self.details(&rec)
    }

    /// Details of every image, newest first.
    pub fn list_details(&self) -> Result<Vec<ImageDetails>, ImageError> {
        let _lease = self.lease()?;
        let index = self.read_index()?;
        let mut out = Vec::new();
        for rec in self.records(&index)? {
            out.push(self.details(&rec)?);
        }
        out.sort_by(|a, b| b.created.cmp(&a.created).then_with(|| a.id.cmp(&b.id)));
        Ok(out)
    }

    /// `image history`: the config's history, newest first, with each layer's size.
    pub fn history(&self, reference_or_id: &str) -> Result<Vec<HistoryRow>, ImageError> {
        let d = self.inspect(reference_or_id)?;
        let diff_ids = &d.config.rootfs.diff_ids;
        let mut layer = 0usize;
        let mut rows = Vec::new();
        let history = if d.config.history.is_empty() {
            // No history: one row per layer, as Docker shows.
            diff_ids
                .iter()
                .map(|_| crate::oci::History::default())
                .collect()
        } else {
            d.config.history.clone()
        };
        for h in &history {
            let size = if h.empty_layer {
                0
            } else {
                let s = diff_ids
                    .get(layer)
                    .map(|id| {
                        self.snapshot_size(id)
                            .unwrap_or_else(|| d.layers.get(layer).map_or(0, |l| l.size))
                    })
                    .unwrap_or(0);
                layer += 1;
                s
            };
            rows.push(HistoryRow {
                id: "<missing>".into(),
                created: h.created.as_deref().and_then(crate::oci::parse_rfc3339),
                created_by: h.created_by.clone().unwrap_or_default(),
                size,
                comment: h.comment.clone().unwrap_or_default(),
                empty_layer: h.empty_layer,
            });
        }
        rows.reverse();
        if let Some(top) = rows.first_mut() {
            top.id = d.id.clone();
        }
        Ok(rows)
    }

    /// The manifest (descriptor, parsed, raw bytes) and the config bytes of an image.
    pub fn manifest_of(
        &self,
        reference_or_id: &str,
    ) -> Result<(Descriptor, Manifest, Vec<u8>, Vec<u8>), ImageError> {
        let rec = self.record_of(reference_or_id)?;
        let raw = self.read_blob(&rec.manifest_desc.digest)?;
        let config = self.read_blob(&rec.id)?;
        Ok((rec.manifest_desc, rec.manifest, raw, config))
    }

    /// The image id of a reference or id.
    pub fn image_id(&self, reference_or_id: &str) -> Result<String, ImageError> {
        Ok(self.record_of(reference_or_id)?.id)
    }

    /// Remove every name of an image but keep it (dangling): `rmi -f` of an image
    /// a container still uses. Returns Docker's `Untagged:` lines.
    pub fn untag_all(&self, reference_or_id: &str) -> Result<Vec<String>, ImageError> {
        self.update_index(|index| {
            let records = self.records(index)?;
            let (i, _) = self
                .find(&records, reference_or_id)?
                .ok_or_else(|| not_found(reference_or_id))?;
            let rec = records[i].clone();
            let mut lines = Vec::new();
            for n in rec.tags.iter().chain(&rec.repo_digests) {
                lines.push(format!("Untagged: {}", familiar(n)));
            }
            index
                .manifests
                .retain(|d| !rec.manifest_digests.contains(&d.digest));
            let mut keep = rec.manifest_desc.clone();
            keep.annotations.remove(ANNOTATION_REF_NAME);
            index.manifests.push(keep);
            Ok(lines)
        })
    }

    /// Ids of images without tags (`dangling=true`).
    pub fn dangling(&self) -> Result<Vec<String>, ImageError> {
        let index = self.read_index()?;
        Ok(self
            .records(&index)?
            .into_iter()
            .filter(|r| r.tags.is_empty())
            .map(|r| r.id)
            .collect())
    }

    /// Delete those of `blobs` that no image references (the leftovers of a failed
    /// load). Takes the exclusive content lock: call it without a lease held.
    pub(crate) fn discard(&self, blobs: &[String]) -> Result<(), ImageError> {
        let _exclusive = crate::fsutil::lock_file(&self.root.join(super::CONTENT_LOCK), false)?;
        self.sweep(Some((blobs, &[]))).map(drop)
    }

    /// Write raw bytes as a blob (for manifests and configs made by callers).
    pub fn write_json_blob<T: serde::Serialize>(
        &self,
        lease: &ContentLease,
        value: &T,
    ) -> Result<(String, u64), ImageError> {
        self.write_blob(lease, &to_json(value)[..], None)
    }
}
