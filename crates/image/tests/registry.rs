//! Pull, push, login, save and load against a real registry on 127.0.0.1, seeded
//! with `skopeo` from OCI layouts built by hand (so pull is not only tested against
//! wharf's own push).

mod common;

use common::*;
use std::fs;
use std::path::Path;
use wharf_image::auth::Credentials;
use wharf_image::oci::Platform;
use wharf_image::progress::{ItemStatus, Progress};
use wharf_image::pull::PullOptions;
use wharf_image::push::PushOptions;
use wharf_image::registry::Registry;
use wharf_image::unpack::UnpackOptions;
use wharf_image::{ImageError, ImageStore};

fn store(dir: &Path) -> ImageStore {
    // Unprivileged unpacking works as root too; these images hold no whiteouts.
    ImageStore::open_with(&dir.join("images"), UnpackOptions { as_root: false }).unwrap()
}

fn file_in(store: &ImageStore, reference: &str, path: &str) -> Option<String> {
    let image = store.resolve(reference).unwrap()?;
    image
        .layers
        .iter()
        .rev()
        .find_map(|l| fs::read_to_string(l.join(path)).ok())
}

/// Every event of a pull/push, for assertions.
struct Recorder(std::sync::Mutex<Vec<Progress>>);

impl Recorder {
    fn new() -> Self {
        Recorder(std::sync::Mutex::new(Vec::new()))
    }
    fn sink(&self) -> impl Fn(Progress) + Sync + '_ {
        |p| self.0.lock().unwrap().push(p)
    }
    fn has(&self, status: &ItemStatus) -> bool {
        self.0
            .lock()
            .unwrap()
            .iter()
            .any(|p| matches!(p, Progress::Item { status: s, .. } if s == status))
    }
    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter_map(|p| match p {
                Progress::Line(l) => Some(l.clone()),
                _ => None,
            })
            .collect()
    }
}

/// A layout with `multi:v1` (an index of amd64 and arm64 images sharing a base
/// layer) and `single:v1` (one amd64 image).
fn seeded_layout(dir: &Path) -> (Layout, String) {
    let mut layout = Layout::new(dir);
    let base = tar_of(&[("etc/os-release", b"NAME=test\n"), ("bin/tool", b"tool")]);
    let amd = tar_of(&[("etc/arch", b"amd64\n")]);
    let arm = tar_of(&[("etc/arch", b"arm64\n")]);
    let a = layout.image(&[base.clone(), amd], "amd64", &["/bin/tool"]);
    let b = layout.image(&[base, arm], "arm64", &["/bin/tool"]);
    let index_digest = layout.tag("v1", &[&a, &b]);
    layout.tag("single", &[&a]);
    (layout, index_digest)
}

#[test]
fn pull_multi_platform_image_seeded_by_skopeo() {
    let Some(reg) = start_registry(false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, index_digest) = seeded_layout(&tmp.path().join("layout"));
    reg.seed(&layout.dir, "v1", "test/multi:v1", &[]);
    let store = store(tmp.path());
    let name = format!("{}/test/multi:v1", reg.host());

    let rec = Recorder::new();
    let out = store
        .pull(&name, &PullOptions::default(), &rec.sink())
        .unwrap();
    assert!(out.updated);
    assert_eq!(out.digest, index_digest);
    assert!(rec.has(&ItemStatus::PullComplete));
    assert!(rec.lines().iter().any(|l| l.starts_with("Digest: sha256:")));
    assert_eq!(
        file_in(&store, &name, "etc/arch").as_deref(),
        Some("amd64\n")
    );
    assert_eq!(
        file_in(&store, &name, "etc/os-release").as_deref(),
        Some("NAME=test\n")
    );
    let details = store.inspect(&name).unwrap();
    assert_eq!(details.repo_tags, std::slice::from_ref(&name));
    assert_eq!(
        details.repo_digests,
        [format!("{}/test/multi@{index_digest}", reg.host())]
    );
    assert_eq!(details.config.architecture, "amd64");

    // Again: nothing to fetch.
    let rec = Recorder::new();
    let again = store
        .pull(&name, &PullOptions::default(), &rec.sink())
        .unwrap();
    assert!(!again.updated);
    assert!(rec.has(&ItemStatus::AlreadyExists));
    assert!(!rec.has(&ItemStatus::PullComplete));
    assert!(rec
        .lines()
        .iter()
        .any(|l| l.starts_with("Status: Image is up to date")));

    // Another platform, into a fresh store: the shared base layer is the same.
    let tmp2 = tempfile::tempdir().unwrap();
    let arm_store = self::store(tmp2.path());
    let opts = PullOptions {
        platform: Some(Platform {
            architecture: "arm64".into(),
            os: "linux".into(),
            variant: None,
        }),
        ..PullOptions::default()
    };
    arm_store.pull(&name, &opts, &|_| {}).unwrap();
    assert_eq!(
        file_in(&arm_store, &name, "etc/arch").as_deref(),
        Some("arm64\n")
    );
    // A platform the index lacks: a clear error naming what it has.
    let opts = PullOptions {
        platform: Some(wharf_image::pull::parse_platform("linux/s390x").unwrap()),
        ..PullOptions::default()
    };
    let e = store.pull(&name, &opts, &|_| {}).unwrap_err();
    assert!(e.to_string().contains("linux/amd64, linux/arm64"), "{e}");

    // By digest: resolves by the repository digest.
    let by_digest = format!("{}/test/multi@{index_digest}", reg.host());
    let tmp3 = tempfile::tempdir().unwrap();
    let s3 = self::store(tmp3.path());
    s3.pull(&by_digest, &PullOptions::default(), &|_| {})
        .unwrap();
    assert_eq!(
        file_in(&s3, &by_digest, "etc/arch").as_deref(),
        Some("amd64\n")
    );
    assert!(s3.list().unwrap()[0].repo_tags.is_empty());
}

#[test]
fn pull_docker_schema2_media_types() {
    let Some(reg) = start_registry(false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = seeded_layout(&tmp.path().join("layout"));
    // skopeo converts to Docker's v2s2 manifest, config and layer media types.
    reg.seed(
        &layout.dir,
        "single",
        "test/docker:v2",
        &["--format", "v2s2"],
    );
    let store = store(tmp.path());
    let name = format!("{}/test/docker:v2", reg.host());
    store.pull(&name, &PullOptions::default(), &|_| {}).unwrap();
    let d = store.inspect(&name).unwrap();
    assert_eq!(
        d.manifest.media_type,
        "application/vnd.docker.distribution.manifest.v2+json"
    );
    assert_eq!(
        file_in(&store, &name, "etc/arch").as_deref(),
        Some("amd64\n")
    );
}

#[test]
fn import_push_rm_pull_round_trip_with_chunks_and_mounts() {
    let Some(reg) = start_registry(false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let a = store(&tmp.path().join("a"));
    // A layer large enough to go up in several chunks.
    let big: Vec<u8> = (0..300_000u32).flat_map(|i| i.to_le_bytes()).collect();
    let rootfs = tar_of(&[("data/big.bin", &big), ("etc/hello", b"hi\n")]);
    let name = format!("{}/app/web:1.0", reg.host());
    let id = a
        .import(
            &gzip(&rootfs)[..],
            Some(&name),
            &[r#"CMD ["/bin/sh"]"#.into()],
        )
        .unwrap();

    let opts = PushOptions {
        chunk_size: 256 * 1024,
        ..PushOptions::default()
    };
    let rec = Recorder::new();
    let pushed = a.push(&name, &opts, &rec.sink()).unwrap();
    assert!(rec.has(&ItemStatus::Pushed));
    assert!(rec
        .lines()
        .iter()
        .any(|l| l.starts_with("1.0: digest: sha256:")));
    // Pushing again skips every blob.
    let rec = Recorder::new();
    a.push(&name, &PushOptions::default(), &rec.sink()).unwrap();
    assert!(rec.has(&ItemStatus::LayerExists));
    assert!(!rec.has(&ItemStatus::Pushed));
    // Pushing under another repository of the same registry mounts the layer.
    let other = format!("{}/app/other:1.0", reg.host());
    a.tag(&name, &other).unwrap();
    let rec = Recorder::new();
    a.push(&other, &PushOptions::default(), &rec.sink())
        .unwrap();
    assert!(
        rec.has(&ItemStatus::Mounted {
            from: "app/web".into()
        }),
        "{:?}",
        rec.0.lock().unwrap()
    );
    // Monolithic upload of the same image to a fresh repository.
    let mono = format!("{}/app/mono:1.0", reg.host());
    let fresh = store(&tmp.path().join("fresh"));
    fresh.import(&gzip(&rootfs)[..], Some(&mono), &[]).unwrap();
    fresh
        .push(
            &mono,
            &PushOptions {
                chunk_size: 0,
                ..PushOptions::default()
            },
            &|_| {},
        )
        .unwrap();

    // rm, pull into the same store: same image, same content.
    a.remove(&other).unwrap();
    a.remove(&name).unwrap();
    assert!(a.list().unwrap().is_empty());
    let out = a.pull(&name, &PullOptions::default(), &|_| {}).unwrap();
    assert_eq!(out.id, id);
    assert_eq!(out.digest, pushed.digest);
    assert_eq!(file_in(&a, &name, "etc/hello").as_deref(), Some("hi\n"));
    let image = a.resolve(&name).unwrap().unwrap();
    assert_eq!(image.config.cmd, Some(vec!["/bin/sh".to_string()]));
    // The registry's copy is readable by an independent tool.
    let out = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--raw"])
        .arg(format!("docker://{name}"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_registry_answers_leave_the_store_unchanged() {
    let Some(reg) = start_registry(false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = seeded_layout(&tmp.path().join("layout"));
    reg.seed(&layout.dir, "single", "test/tampered:v1", &[]);
    let store = store(tmp.path());
    let before = snapshot(store.root());

    // 404.
    let e = store
        .pull(
            &format!("{}/test/nope:v1", reg.host()),
            &PullOptions::default(),
            &|_| {},
        )
        .unwrap_err();
    assert!(matches!(e, ImageError::NotFound { .. }), "{e}");
    assert!(e.to_string().contains("check the name"), "{e}");

    // A tampered layer in the registry's storage.
    let layer = &layout.manifests[1]["digest"];
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(
            layout
                .dir
                .join("blobs/sha256")
                .join(layer.as_str().unwrap().strip_prefix("sha256:").unwrap()),
        )
        .unwrap(),
    )
    .unwrap();
    let top = manifest["layers"][1]["digest"].as_str().unwrap();
    let data = reg.blob_data(top);
    let mut bytes = fs::read(&data).unwrap();
    let n = bytes.len();
    bytes[n / 2] ^= 0xff;
    fs::write(&data, &bytes).unwrap();
    let name = format!("{}/test/tampered:v1", reg.host());
    let e = store
        .pull(&name, &PullOptions::default(), &|_| {})
        .unwrap_err();
    assert!(matches!(e, ImageError::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains(top), "{e}");
    assert!(store.list().unwrap().is_empty());
    assert!(!store.has_blob(top));
    assert_eq!(store.partial_len(top), 0, "the bad download is discarded");
    let after = snapshot(store.root());
    assert_eq!(before.0, after.0, "index.json is unchanged by failed pulls");

    // A manifest that is not a container image, and one whose config does not match.
    let reg_client = Registry::connect(&reg.host(), &Default::default(), None).unwrap();
    let layout2 = Layout::new(&tmp.path().join("l2"));
    let cfg = br#"{"foo":1}"#;
    let (cd, cs) = layout2.blob(cfg);
    upload(&reg_client, "test/odd", &cd, cfg);
    let odd = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.cncf.helm.config.v1+json", "digest": cd, "size": cs}, "layers": []});
    reg_client
        .put_manifest(
            "test/odd",
            "helm",
            "application/vnd.oci.image.manifest.v1+json",
            &serde_json::to_vec(&odd).unwrap(),
        )
        .unwrap();
    let e = store
        .pull(
            &format!("{}/test/odd:helm", reg.host()),
            &PullOptions::default(),
            &|_| {},
        )
        .unwrap_err();
    assert!(e.to_string().contains("not a container image"), "{e}");
    let bad_cfg = br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":["sha256:0000000000000000000000000000000000000000000000000000000000000000"]}}"#;
    let (bd, bs) = layout2.blob(bad_cfg);
    upload(&reg_client, "test/odd", &bd, bad_cfg);
    let mismatch = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": bd, "size": bs}, "layers": []});
    reg_client
        .put_manifest(
            "test/odd",
            "mismatch",
            "application/vnd.oci.image.manifest.v1+json",
            &serde_json::to_vec(&mismatch).unwrap(),
        )
        .unwrap();
    let e = store
        .pull(
            &format!("{}/test/odd:mismatch", reg.host()),
            &PullOptions::default(),
            &|_| {},
        )
        .unwrap_err();
    assert!(matches!(e, ImageError::BadManifest { .. }), "{e}");
    assert!(
        e.to_string()
            .contains("1 layer diff ids but the manifest 0"),
        "{e}"
    );
    assert!(store.list().unwrap().is_empty());
    assert_eq!(before.0, snapshot(store.root()).0);

    // Nothing listens: a clear connection error.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let e = store
        .pull(
            &format!("127.0.0.1:{port}/x:1"),
            &PullOptions::default(),
            &|_| {},
        )
        .unwrap_err();
    assert!(e.to_string().contains("registry is running"), "{e}");
}

fn upload(reg: &Registry, repo: &str, digest: &str, data: &[u8]) {
    match reg.start_upload(repo, digest, None).unwrap() {
        wharf_image::registry::UploadStart::Session(s) => reg
            .upload_monolithic(repo, &s, digest, &mut &data[..], data.len() as u64)
            .unwrap(),
        other => panic!("{other:?}"),
    }
}

/// index.json and the list of blob names.
fn snapshot(root: &Path) -> (String, Vec<String>) {
    let index = fs::read_to_string(root.join("index.json")).unwrap();
    let mut blobs: Vec<String> = fs::read_dir(root.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    blobs.sort();
    (index, blobs)
}

#[test]
fn interrupted_download_resumes_with_range() {
    let Some(reg) = start_registry(false) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = seeded_layout(&tmp.path().join("layout"));
    reg.seed(&layout.dir, "single", "test/resume:v1", &[]);
    let store = store(tmp.path());
    // Leave the first half of every layer as a partial download, as an
    // interrupted pull (Ctrl-C) does.
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(
            layout.dir.join("blobs/sha256").join(
                layout.manifests[1]["digest"]
                    .as_str()
                    .unwrap()
                    .strip_prefix("sha256:")
                    .unwrap(),
            ),
        )
        .unwrap(),
    )
    .unwrap();
    fs::create_dir_all(store.root().join("ingest")).unwrap();
    let mut partials = Vec::new();
    for l in manifest["layers"].as_array().unwrap() {
        let d = l["digest"].as_str().unwrap();
        let bytes = fs::read(reg.blob_data(d)).unwrap();
        let hex = d.strip_prefix("sha256:").unwrap();
        fs::write(
            store.root().join("ingest").join(format!("{hex}.partial")),
            &bytes[..bytes.len() / 2],
        )
        .unwrap();
        partials.push(d.to_string());
    }
    // The registry honours Range, so the pull continues where it stopped.
    let client = Registry::connect(&reg.host(), &Default::default(), None).unwrap();
    let src = client.fetch_blob("test/resume", &partials[0], 10).unwrap();
    assert_eq!(src.offset, 10);
    // A source that breaks off: the error says to pull again; nothing is visible.
    let desc = wharf_image::oci::Descriptor {
        media_type: String::new(),
        digest: partials[0].clone(),
        size: fs::read(reg.blob_data(&partials[0])).unwrap().len() as u64,
        annotations: Default::default(),
        platform: None,
    };
    let before = store.partial_len(&partials[0]);
    let lease = store.lease().unwrap();
    let mut offsets = Vec::new();
    let e = store
        .ingest_blob(
            &lease,
            &desc,
            &mut |off| {
                offsets.push(off);
                let mut s = client.fetch_blob("test/resume", &desc.digest, off)?;
                s.reader = Box::new(std::io::Read::take(s.reader, 3));
                Ok(s)
            },
            &mut |_| {},
            &Default::default(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("pull again to resume"), "{e}");
    assert_eq!(offsets, [before]);
    assert_eq!(store.partial_len(&partials[0]), before + 3);
    assert!(!store.has_blob(&partials[0]));
    drop(lease);

    let name = format!("{}/test/resume:v1", reg.host());
    store.pull(&name, &PullOptions::default(), &|_| {}).unwrap();
    for d in &partials {
        assert!(store.has_blob(d));
        assert_eq!(store.partial_len(d), 0);
    }
    assert_eq!(
        file_in(&store, &name, "etc/arch").as_deref(),
        Some("amd64\n")
    );
}

#[test]
fn login_and_basic_auth() {
    let Some(reg) = start_registry(true) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (layout, _) = seeded_layout(&tmp.path().join("layout"));
    reg.seed(&layout.dir, "single", "private/app:v1", &[]);
    let store = store(tmp.path());
    let name = format!("{}/private/app:v1", reg.host());

    // No credentials: 401 with what to do.
    let e = store
        .pull(&name, &PullOptions::default(), &|_| {})
        .unwrap_err();
    assert!(matches!(e, ImageError::Unauthorized { .. }), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("wharf login {}", reg.host())),
        "{e}"
    );
    // Wrong credentials: refused at login.
    let wrong = Credentials {
        username: USER.into(),
        password: "nope".into(),
    };
    let r = Registry::connect(&reg.host(), &Default::default(), Some(wrong)).unwrap();
    let e = r.check_login().unwrap_err();
    assert!(matches!(e, ImageError::Unauthorized { .. }), "{e}");

    // Right credentials, stored and read back through the docker config file.
    let right = Credentials {
        username: USER.into(),
        password: PASSWORD.into(),
    };
    Registry::connect(&reg.host(), &Default::default(), Some(right.clone()))
        .unwrap()
        .check_login()
        .unwrap();
    let config_dir = tmp.path().join("docker-config");
    let mut config = wharf_image::auth::DockerConfig::load(&config_dir).unwrap();
    config.store(&reg.host(), &right).unwrap();
    let creds = wharf_image::auth::DockerConfig::load(&config_dir)
        .unwrap()
        .credentials(&reg.host())
        .unwrap();
    assert_eq!(creds.as_ref(), Some(&right));
    let opts = PullOptions {
        credentials: creds.clone(),
        ..PullOptions::default()
    };
    store.pull(&name, &opts, &|_| {}).unwrap();
    assert_eq!(
        file_in(&store, &name, "etc/arch").as_deref(),
        Some("amd64\n")
    );
    // And push with them.
    let pushed = format!("{}/private/copy:v1", reg.host());
    store.tag(&name, &pushed).unwrap();
    store
        .push(
            &pushed,
            &PushOptions {
                credentials: creds,
                ..PushOptions::default()
            },
            &|_| {},
        )
        .unwrap();
    let e = store
        .push(&pushed, &PushOptions::default(), &|_| {})
        .unwrap_err();
    assert!(matches!(e, ImageError::Unauthorized { .. }), "{e}");
}

#[test]
fn save_load_round_trip_and_skopeo_archives() {
    let tmp = tempfile::tempdir().unwrap();
    let a = store(&tmp.path().join("a"));
    let rootfs = tar_of(&[("etc/hello", b"saved\n")]);
    let id = a
        .import(
            &rootfs[..],
            Some("example.com/saved:1"),
            &[r#"CMD ["/x"]"#.into()],
        )
        .unwrap();
    a.tag("example.com/saved:1", "saved:2").unwrap();
    let archive = tmp.path().join("out.tar");
    a.save(
        &["example.com/saved:1".into(), "saved:2".into()],
        fs::File::create(&archive).unwrap(),
    )
    .unwrap();

    let b = store(&tmp.path().join("b"));
    let lines = b
        .load(fs::File::open(&archive).unwrap(), "out.tar", None)
        .unwrap();
    assert_eq!(
        lines,
        ["Loaded image: example.com/saved:1", "Loaded image: saved:2"]
    );
    assert_eq!(b.image_id("saved:2").unwrap(), id);
    assert_eq!(
        file_in(&b, "saved:2", "etc/hello").as_deref(),
        Some("saved\n")
    );
    // Same manifest: the OCI layout in the archive was used as it is.
    assert_eq!(
        a.inspect("saved:2").unwrap().manifest.digest,
        b.inspect("saved:2").unwrap().manifest.digest
    );

    if which_skopeo() {
        // skopeo reads wharf's archive as a docker-archive and as an OCI archive …
        for src in [
            format!("docker-archive:{}:saved:2", archive.display()),
            format!("oci-archive:{}:2", archive.display()),
        ] {
            let out = std::process::Command::new("skopeo")
                .args(["inspect", "--raw"])
                .arg(&src)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "{src}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        // … and writes a docker-archive that wharf loads.
        let (layout, _) = seeded_layout(&tmp.path().join("layout"));
        let dockerarchive = tmp.path().join("skopeo.tar");
        let out = std::process::Command::new("skopeo")
            .args(["copy", "--quiet"])
            .arg(format!("oci:{}:single", layout.dir.display()))
            .arg(format!(
                "docker-archive:{}:skopeo/made:v1",
                dockerarchive.display()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let c = store(&tmp.path().join("c"));
        let lines = c
            .load(fs::File::open(&dockerarchive).unwrap(), "skopeo.tar", None)
            .unwrap();
        assert_eq!(lines, ["Loaded image: skopeo/made:v1"]);
        assert_eq!(
            file_in(&c, "skopeo/made:v1", "etc/arch").as_deref(),
            Some("amd64\n")
        );
    }

    // A damaged archive: a clear error, and nothing named.
    let mut bytes = fs::read(&archive).unwrap();
    let pos = bytes.windows(6).position(|w| w == b"saved\n").unwrap();
    bytes[pos] = b'X';
    let d = store(&tmp.path().join("d"));
    let e = d.load(&bytes[..], "damaged.tar", None).unwrap_err();
    assert!(e.to_string().contains("damaged.tar"), "{e}");
    assert!(d.list().unwrap().is_empty());
    let e = d.load(&b"not a tar at all"[..], "junk", None).unwrap_err();
    assert!(e.to_string().contains("junk"), "{e}");
}

fn which_skopeo() -> bool {
    std::process::Command::new("skopeo")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}
