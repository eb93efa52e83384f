//! What a registry serves about an image: an index (platform selection), a
//! manifest (decoding and validation) and an image config (decoding, diff id
//! validation and the run-time defaults taken from it).

use wharf_image::oci::{self, ImageConfig, Platform};
use wharf_image::pull::{parse_manifest, select_platform};
use wharf_image::registry::FetchedManifest;
use wharf_image::RuntimeConfig;

/// Read `data` as each of the three documents.
pub fn run(data: &[u8]) {
    for (os, architecture, variant) in [("linux", "amd64", None), ("linux", "arm64", Some("v8"))] {
        let want = Platform {
            os: os.to_string(),
            architecture: architecture.to_string(),
            variant: variant.map(str::to_string),
        };
        if let Ok(chosen) = select_platform(data, &want, "index") {
            assert!(
                wharf_image::digest::validate(&chosen.digest).is_ok(),
                "an invalid digest was chosen: {:?}",
                chosen.digest
            );
        }
    }
    for media_type in [
        "",
        oci::MEDIA_TYPE_MANIFEST,
        oci::MEDIA_TYPE_DOCKER_MANIFEST,
    ] {
        let fetched = FetchedManifest {
            bytes: data.to_vec(),
            media_type: media_type.to_string(),
            digest: String::new(),
        };
        if let Ok(manifest) = parse_manifest(&fetched, "manifest") {
            for layer in &manifest.layers {
                assert!(wharf_image::digest::validate(&layer.digest).is_ok());
            }
        }
    }
    if let Ok(config) = serde_json::from_slice::<ImageConfig>(data) {
        for diff_id in &config.rootfs.diff_ids {
            let _ = wharf_image::digest::validate(diff_id);
        }
        let _ = RuntimeConfig::from_oci(config.config.as_ref());
        if let Some(created) = &config.created {
            let _ = oci::parse_rfc3339(created);
        }
    }
}
