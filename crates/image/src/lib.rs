//! wharf-image: image references, the OCI content store, `image import` of a root
//! filesystem tarball, and unpacking layers into snapshots that overlayfs stacks.
//!
//! On disk (`<wharf root>/images`):
//!
//! ```text
//! oci-layout                      {"imageLayoutVersion":"1.0.0"}
//! index.json                      OCI index: one entry per (manifest, tag); tags in the
//!                                 org.opencontainers.image.ref.name annotation as the
//!                                 normalized reference; untagged images have no annotation;
//!                                 names with `@sha256:` are repository digests (where the
//!                                 image was pulled from or pushed to), not tags
//! blobs/sha256/<hex>              manifests, configs, layers (content-addressed)
//! snapshots/<hex of diff id>/     a layer, unpacked, overlayfs whiteouts included
//! snapshots/<hex of diff id>.json the snapshot's uncompressed size
//! build-cache/<hex of key>.json  a build step's cache record (see `build`)
//! ingest/<hex>.partial            a blob being downloaded (resumable; never under blobs/)
//! index.lock, content.lock        flock files (see `store`)
//! ```

pub mod archive;
pub mod assembly;
pub mod auth;
pub mod build;
pub mod catalog;
pub mod changes;
pub mod commit;
pub mod credhelper;
pub mod digest;
mod error;
mod fsutil;
pub mod oci;
pub mod progress;
pub mod pull;
pub mod push;
pub mod reference;
pub mod registry;
mod store;
pub mod tree_tar;
pub mod unpack;

pub use error::ImageError;
pub use reference::Reference;
pub use store::{BlobSource, ContentLease, HistoryRow, ImageDetails, ImageStore, Ingested};

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// An image resolved from the store, ready to run.
#[derive(Debug, Clone)]
pub struct Image {
    /// Id, tags, creation time, size.
    pub info: wharf_engine_api::ImageInfo,
    /// Run-time defaults from the image config.
    pub config: RuntimeConfig,
    /// Snapshot directories of the layers, BOTTOM layer first, each fully unpacked.
    pub layers: Vec<PathBuf>,
    /// Digest of the manifest the image was resolved through.
    pub manifest_digest: String,
    /// CPU architecture of the image (`amd64`).
    pub architecture: String,
    /// Operating system of the image (`linux`).
    pub os: String,
    /// Diff ids of the layers, bottom first (parallel to `layers`).
    pub diff_ids: Vec<String>,
}

/// The run-time defaults an image gives its containers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeConfig {
    /// `KEY=value` entries.
    pub env: Vec<String>,
    /// Default command.
    pub cmd: Option<Vec<String>>,
    /// Entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Working directory.
    pub working_dir: Option<String>,
    /// User (`name`, `uid`, `uid:gid`).
    pub user: Option<String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// Exposed ports (`80/tcp`), sorted.
    pub exposed_ports: Vec<String>,
    /// Anonymous volume paths, sorted.
    pub volumes: Vec<String>,
    /// Stop signal (`SIGTERM`).
    pub stop_signal: Option<String>,
    /// HEALTHCHECK, when the image has one.
    pub healthcheck: Option<oci::HealthConfig>,
}

impl RuntimeConfig {
    /// From the `config` object of an OCI image config.
    pub fn from_oci(c: Option<&oci::ContainerConfig>) -> Self {
        let Some(c) = c else {
            return RuntimeConfig::default();
        };
        RuntimeConfig {
            env: c.env.clone().unwrap_or_default(),
            cmd: c.cmd.clone(),
            entrypoint: c.entrypoint.clone(),
            working_dir: c.working_dir.clone().filter(|w| !w.is_empty()),
            user: c.user.clone().filter(|u| !u.is_empty()),
            labels: c.labels.clone().unwrap_or_default(),
            exposed_ports: c
                .exposed_ports
                .as_ref()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default(),
            volumes: c
                .volumes
                .as_ref()
                .map(|v| v.keys().cloned().collect())
                .unwrap_or_default(),
            stop_signal: c.stop_signal.clone().filter(|s| !s.is_empty()),
            healthcheck: c.healthcheck.clone().filter(|h| !h.test.is_empty()),
        }
    }
}
