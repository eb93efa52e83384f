//! Shared harness of the registry tests: a real `docker-registry` on 127.0.0.1
//! (temporary storage and config, optional htpasswd auth, killed on drop), OCI
//! layouts built by hand, and `skopeo` to seed the registry independently of wharf.

#![allow(dead_code)]

use serde_json::json;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "tester";
pub const PASSWORD: &str = "s3cret-pw";

/// A running registry.
pub struct TestRegistry {
    child: Child,
    pub port: u16,
    pub dir: tempfile::TempDir,
    pub auth: bool,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `None` (with the reason printed) when `docker-registry` is not installed.
pub fn start_registry(auth: bool) -> Option<TestRegistry> {
    let bin = ["/usr/bin/docker-registry", "/usr/sbin/docker-registry"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .map(PathBuf::from)
        .or_else(|| which("docker-registry"));
    let Some(bin) = bin else {
        eprintln!("SKIP: docker-registry is not installed (apt-get install docker-registry)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let storage = dir.path().join("storage");
    std::fs::create_dir(&storage).unwrap();
    let mut config = format!(
        "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
        storage.display()
    );
    if auth {
        let hash = bcrypt::hash(PASSWORD, 5).unwrap();
        let htpasswd = dir.path().join("htpasswd");
        std::fs::write(&htpasswd, format!("{USER}:{hash}\n")).unwrap();
        config.push_str(&format!(
            "auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
            htpasswd.display()
        ));
    }
    let config_path = dir.path().join("config.yml");
    std::fs::write(&config_path, config).unwrap();
    let log = std::fs::File::create(dir.path().join("registry.log")).unwrap();
    let child = Command::new(bin)
        .arg("serve")
        .arg(&config_path)
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("starting docker-registry");
    let reg = TestRegistry {
        child,
        port,
        dir,
        auth,
    };
    // Ready when /v2/ answers (200, or 401 with auth), within a deadline.
    let deadline = Instant::now() + Duration::from_secs(30);
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent();
    loop {
        if let Ok(r) = agent.get(format!("http://127.0.0.1:{port}/v2/")).call() {
            let s = r.status().as_u16();
            if s == 200 || s == 401 {
                break;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the registry did not come up: {}",
            std::fs::read_to_string(reg.dir.path().join("registry.log")).unwrap_or_default()
        );
        std::thread::yield_now();
        std::thread::sleep(Duration::from_millis(20));
    }
    Some(reg)
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(name))
            .find(|f| f.is_file())
    })
}

impl TestRegistry {
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Path of a blob's data in the registry's storage.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap();
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `skopeo copy` from an OCI layout to this registry (all platforms).
    pub fn seed(&self, layout: &Path, tag: &str, repo: &str, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "--all", "--dest-tls-verify=false", "--quiet"]);
        if self.auth {
            cmd.arg(format!("--dest-creds={USER}:{PASSWORD}"));
        }
        cmd.args(extra);
        cmd.arg(format!("oci:{}:{tag}", layout.display()));
        cmd.arg(format!("docker://{}/{repo}", self.host()));
        let out = cmd.output().expect("running skopeo");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
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
