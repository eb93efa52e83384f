//! Shared harness of the registry tests: a real `docker-registry` on 127.0.0.1
//! (from wharf-testkit), and OCI layouts built by hand for `skopeo` to seed it
//! independently of wharf.

#![allow(dead_code, unused_imports)]

use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};
use wharf_testkit::registry::RegistryAuth;

pub use wharf_testkit::registry::{TestRegistry, PASSWORD, USER};

/// A registry, behind htpasswd when `auth`; `None` when `docker-registry` is missing.
pub fn start_registry(auth: bool) -> Option<TestRegistry> {
    TestRegistry::start(if auth {
        RegistryAuth::Htpasswd
    } else {
        RegistryAuth::Open
    })
}

pub fn sha(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(data)))
}

/// A tar with the given (path, content) regular files.
pub fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (path, data) in files {
        let mut h = tar::Header::new_gnu();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        h.set_mtime(1_600_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, *data).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(data).unwrap();
    gz.finish().unwrap()
}

/// An OCI layout being built by hand.
pub struct Layout {
    pub dir: PathBuf,
    pub manifests: Vec<serde_json::Value>,
}

pub struct BuiltImage {
    pub manifest: serde_json::Value,
    pub manifest_digest: String,
    pub config_digest: String,
    pub layer_digests: Vec<String>,
}

impl Layout {
    pub fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).unwrap();
        std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
        Layout {
            dir: dir.to_path_buf(),
            manifests: Vec::new(),
        }
    }

    pub fn blob(&self, data: &[u8]) -> (String, u64) {
        let d = sha(data);
        std::fs::write(
            self.dir
                .join("blobs/sha256")
                .join(d.strip_prefix("sha256:").unwrap()),
            data,
        )
        .unwrap();
        (d, data.len() as u64)
    }

    /// An image of gzip layers (each a plain tar) for `arch`.
    pub fn image(&self, layers: &[Vec<u8>], arch: &str, cmd: &[&str]) -> BuiltImage {
        let mut descs = Vec::new();
        let mut diff_ids = Vec::new();
        let mut layer_digests = Vec::new();
        for l in layers {
            diff_ids.push(sha(l));
            let gz = gzip(l);
            let (d, size) = self.blob(&gz);
            layer_digests.push(d.clone());
            descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size}));
        }
        let config = json!({
            "created": "2024-01-02T03:04:05Z",
            "architecture": arch, "os": "linux",
            "config": {"Cmd": cmd, "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": layers.iter().enumerate().map(|(i, _)| json!({"created": "2024-01-02T03:04:05Z", "created_by": format!("/bin/sh -c step {i}")})).collect::<Vec<_>>(),
        });
        let config_bytes = serde_json::to_vec(&config).unwrap();
        let (cd, cs) = self.blob(&config_bytes);
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": descs,
        });
        let mb = serde_json::to_vec(&manifest).unwrap();
        let (md, ms) = self.blob(&mb);
        BuiltImage {
            manifest: json!({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms, "platform": {"architecture": arch, "os": "linux"}}),
            manifest_digest: md,
            config_digest: cd,
            layer_digests,
        }
    }

    /// Name one manifest (or an index of several) as `tag`; returns the digest named.
    pub fn tag(&mut self, tag: &str, images: &[&BuiltImage]) -> String {
        let mut entry = if images.len() == 1 {
            images[0].manifest.clone()
        } else {
            let index = json!({
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "manifests": images.iter().map(|i| i.manifest.clone()).collect::<Vec<_>>(),
            });
            let b = serde_json::to_vec(&index).unwrap();
            let (d, s) = self.blob(&b);
            json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": d, "size": s})
        };
        entry.as_object_mut().unwrap().remove("platform");
        entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
        let digest = entry["digest"].as_str().unwrap().to_string();
        self.manifests.push(entry);
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&json!({"schemaVersion": 2, "manifests": self.manifests})).unwrap(),
        )
        .unwrap();
        digest
    }
}
