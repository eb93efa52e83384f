//! The one place an image is put together from its parts: the config (its
//! `rootfs.diff_ids` taken from the layers, its history), the manifest that
//! points at the config and the layers, and the image's entry in the index.
//! The builder, `container commit`, `image import` and `load` all go through it,
//! so every image wharf writes has the same shape.

use crate::build::BuiltLayer;
use crate::error::ImageError;
use crate::oci::{self, Descriptor, History, ImageConfig, Manifest};
use crate::reference::Reference;
use crate::store::{ContentLease, ImageDetails, ImageStore};
use std::collections::BTreeMap;

/// An image about to be written: its config and its layers, bottom first.
#[derive(Debug, Clone)]
pub struct ImageAssembly {
    /// The config; its `rootfs` is filled from `layers` when written.
    pub config: ImageConfig,
    pub layers: Vec<BuiltLayer>,
}

/// An image whose config and manifest are in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssembledImage {
    /// The image id: `sha256:` of the config.
    pub id: String,
    /// The manifest, as the index refers to it.
    pub manifest: Descriptor,
}

impl ImageAssembly {
    /// An image with `config` and no layers yet.
    pub fn new(config: ImageConfig) -> Self {
        ImageAssembly {
            config,
            layers: Vec::new(),
        }
    }

    /// An image on top of `base`: its config and its layers.
    pub fn on(base: &ImageDetails) -> Self {
        let layers = base
            .layers
            .iter()
            .zip(&base.config.rootfs.diff_ids)
            .map(|(desc, diff_id)| BuiltLayer {
                desc: desc.clone(),
                diff_id: diff_id.clone(),
            })
            .collect();
        ImageAssembly {
            config: base.config.clone(),
            layers,
        }
    }

    /// Add `layer` (none for a step that changed no file) and its history entry,
    /// whose `empty_layer` follows.
    pub fn push(&mut self, layer: Option<BuiltLayer>, mut entry: History) {
        entry.empty_layer = layer.is_none();
        self.config.history.push(entry);
        self.layers.extend(layer);
    }

    /// Write the config and the manifest into the store under `lease`. The image
    /// has no name yet: see [`AssembledImage::name`].
    pub fn write(
        mut self,
        store: &ImageStore,
        lease: &ContentLease,
    ) -> Result<AssembledImage, ImageError> {
        self.config.rootfs.kind = "layers".into();
        self.config.rootfs.diff_ids = self.layers.iter().map(|l| l.diff_id.clone()).collect();
        let (digest, size) = store.write_json_blob(lease, &self.config)?;
        let config = descriptor(oci::MEDIA_TYPE_CONFIG, digest.clone(), size);
        let layers = self.layers.into_iter().map(|l| l.desc).collect();
        let manifest = store.write_manifest(lease, config, layers)?;
        Ok(AssembledImage {
            id: digest,
            manifest,
        })
    }
}

impl AssembledImage {
    /// Enter the image in the index: under `reference` (moving the tag from any
    /// other image), or untagged.
    pub fn name(
        &self,
        store: &ImageStore,
        lease: &ContentLease,
        reference: Option<&Reference>,
    ) -> Result<(), ImageError> {
        store.add_manifest(lease, self.manifest.clone(), reference)
    }
}

impl ImageStore {
    /// Write the manifest of a config already in the store and its layers; returns
    /// the manifest's descriptor. For configs that must keep their bytes (`load`);
    /// new images go through [`ImageAssembly`].
    pub fn write_manifest(
        &self,
        lease: &ContentLease,
        config: Descriptor,
        layers: Vec<Descriptor>,
    ) -> Result<Descriptor, ImageError> {
        let manifest = Manifest {
            schema_version: 2,
            media_type: Some(oci::MEDIA_TYPE_MANIFEST.into()),
            config,
            layers,
            annotations: BTreeMap::new(),
        };
        let (digest, size) = self.write_json_blob(lease, &manifest)?;
        Ok(descriptor(oci::MEDIA_TYPE_MANIFEST, digest, size))
    }
}

fn descriptor(media_type: &str, digest: String, size: u64) -> Descriptor {
    Descriptor {
        media_type: media_type.into(),
        digest,
        size,
        annotations: BTreeMap::new(),
        platform: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::RootFs;

    fn layer(n: u8) -> BuiltLayer {
        let digest = format!("sha256:{}", format!("{n:02x}").repeat(32));
        BuiltLayer {
            desc: descriptor(oci::MEDIA_TYPE_LAYER_TAR, digest.clone(), 1),
            diff_id: digest,
        }
    }

    fn entry(by: &str) -> History {
        History {
            created: None,
            created_by: Some(by.into()),
            comment: None,
            empty_layer: false,
            author: None,
        }
    }

    #[test]
    fn the_config_lists_the_layers_and_a_step_without_files_is_an_empty_layer() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ImageStore::open(&tmp.path().join("images")).unwrap();
        let lease = store.lease().unwrap();
        let mut image = ImageAssembly::new(ImageConfig {
            created: None,
            author: None,
            architecture: "amd64".into(),
            os: "linux".into(),
            variant: None,
            config: None,
            rootfs: RootFs {
                kind: String::new(),
                diff_ids: vec!["stale".into()],
            },
            history: Vec::new(),
        });
        image.push(Some(layer(1)), entry("ADD"));
        image.push(None, entry("ENV"));
        image.push(Some(layer(2)), entry("RUN"));
        let written = image.write(&store, &lease).unwrap();
        let read = |digest: &str| store.read_blob(digest).unwrap();
        let config: ImageConfig = serde_json::from_slice(&read(&written.id)).unwrap();
        assert_eq!(config.rootfs.kind, "layers");
        assert_eq!(
            config.rootfs.diff_ids,
            vec![layer(1).diff_id, layer(2).diff_id]
        );
        let empty: Vec<bool> = config.history.iter().map(|h| h.empty_layer).collect();
        assert_eq!(empty, [false, true, false]);
        let manifest: Manifest = serde_json::from_slice(&read(&written.manifest.digest)).unwrap();
        assert_eq!(manifest.config.digest, written.id);
        assert_eq!(manifest.layers, vec![layer(1).desc, layer(2).desc]);
        assert_eq!(written.manifest.media_type, oci::MEDIA_TYPE_MANIFEST);
    }
}
