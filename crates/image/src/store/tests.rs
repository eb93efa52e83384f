//! Store tests: import, list, resolve, tag, remove, digests, concurrency.

use super::*;
use crate::digest::sha256_digest;

fn rootfs_tar(marker: &str) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    let mut add = |path: &str, data: &[u8], mode: u32| {
        let mut h = tar::Header::new_gnu();
        h.set_mode(mode);
        h.set_size(data.len() as u64);
        h.set_mtime(1_600_000_000);
        h.set_entry_type(tar::EntryType::Regular);
        b.append_data(&mut h, path, data).unwrap();
    };
    add("bin/sh", b"#!not really a shell", 0o755);
    add("etc/marker", marker.as_bytes(), 0o644);
    b.into_inner().unwrap()
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    io::Write::write_all(&mut gz, data).unwrap();
    gz.finish().unwrap()
}

fn store() -> (tempfile::TempDir, ImageStore) {
    let tmp = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&tmp.path().join("images")).unwrap();
    (tmp, store)
}

fn changes(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn blob_files(store: &ImageStore) -> Vec<String> {
    let mut v = dir_names(&store.root().join(BLOBS_DIR)).unwrap();
    v.sort();
    v
}

fn snapshot_names(store: &ImageStore) -> Vec<String> {
    let mut v = dir_names(&store.root().join(SNAPSHOTS_DIR)).unwrap();
    v.sort();
    v
}

#[test]
fn import_tags_configures_and_unpacks() {
    let (_tmp, store) = store();
    let tar = rootfs_tar("one");
    let id = store
        .import(
            &tar[..],
            Some("busybox"),
            &changes(&[
                r#"CMD ["/bin/sh"]"#,
                "ENV A=1 B=\"two words\"",
                "WORKDIR /app",
                "ENTRYPOINT echo hello",
                "EXPOSE 8080",
                "LABEL org.example=yes",
                "USER nobody",
            ]),
        )
        .unwrap();

    // The id is the sha256 of the config blob as stored.
    let config_bytes = fs::read(store.blob_path(&id).unwrap()).unwrap();
    assert_eq!(id, sha256_digest(&config_bytes));
    let config: serde_json::Value = serde_json::from_slice(&config_bytes).unwrap();
    assert_eq!(config["os"], "linux");
    assert_eq!(config["architecture"], oci::host_platform().0);
    assert_eq!(config["history"][0]["comment"], "Imported from -");
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(config["rootfs"]["diff_ids"][0], sha256_digest(&tar));
    assert_eq!(config["config"]["Cmd"], serde_json::json!(["/bin/sh"]));

    let list = store.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].id, id);
    assert_eq!(list[0].repo_tags, vec!["docker.io/library/busybox:latest"]);
    assert_eq!(list[0].size, tar.len() as u64);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!(
        (now - list[0].created).abs() < 60,
        "created {}",
        list[0].created
    );

    for query in [
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox:latest",
    ] {
        let image = store
            .resolve(query)
            .unwrap()
            .unwrap_or_else(|| panic!("{query}"));
        assert_eq!(image.info.id, id);
        assert_eq!(image.config.cmd, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(
            image.config.entrypoint,
            Some(vec!["/bin/sh".into(), "-c".into(), "echo hello".into()])
        );
        assert_eq!(image.config.env, vec!["A=1", "B=two words"]);
        assert_eq!(image.config.working_dir.as_deref(), Some("/app"));
        assert_eq!(image.config.exposed_ports, vec!["8080/tcp"]);
        assert_eq!(image.config.labels["org.example"], "yes");
        assert_eq!(image.config.user.as_deref(), Some("nobody"));
        assert_eq!(image.layers.len(), 1);
        assert_eq!(
            image.layers[0],
            store.snapshot_path(&sha256_digest(&tar)).unwrap()
        );
        assert_eq!(
            fs::read(image.layers[0].join("etc/marker")).unwrap(),
            b"one"
        );
    }
    assert!(store.resolve("busybox:other").unwrap().is_none());
    assert!(store.resolve("nothere").unwrap().is_none());
}

#[test]
fn layout_on_disk_is_an_oci_layout() {
    let (_tmp, store) = store();
    let tar = rootfs_tar("one");
    store
        .import(&tar[..], Some("localhost:5000/app:v1"), &[])
        .unwrap();
    let root = store.root();
    let layout: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("oci-layout")).unwrap()).unwrap();
    assert_eq!(layout["imageLayoutVersion"], "1.0.0");
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(root.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["schemaVersion"], 2);
    let m = &index["manifests"][0];
    assert_eq!(m["mediaType"], oci::MEDIA_TYPE_MANIFEST);
    assert_eq!(
        m["annotations"]["org.opencontainers.image.ref.name"],
        "localhost:5000/app:v1"
    );
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(store.blob_path(m["digest"].as_str().unwrap()).unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        manifest["layers"][0]["mediaType"],
        oci::MEDIA_TYPE_LAYER_TAR
    );
    assert_eq!(manifest["layers"][0]["digest"], sha256_digest(&tar));
    assert_eq!(manifest["config"]["mediaType"], oci::MEDIA_TYPE_CONFIG);
    // Every blob is stored under its own digest.
    for name in blob_files(&store) {
        let data = fs::read(root.join(BLOBS_DIR).join(&name)).unwrap();
        assert_eq!(sha256_digest(&data), format!("sha256:{name}"));
    }
    // No temporary files are left behind.
    assert!(snapshot_names(&store).iter().all(|n| !n.contains(TMP_MARK)));
}

#[test]
fn gzip_import_keeps_the_plain_diff_id() {
    let (_tmp, store) = store();
    let tar = rootfs_tar("gz");
    let gz = gzip(&tar);
    let id = store.import(&gz[..], Some("gz"), &[]).unwrap();
    let image = store.resolve(&id).unwrap().unwrap();
    assert_eq!(image.diff_ids, vec![sha256_digest(&tar)]);
    assert_eq!(image.info.size, tar.len() as u64);
    let manifest: Manifest = store.read_json_blob(&image.manifest_digest).unwrap();
    assert_eq!(manifest.layers[0].media_type, oci::MEDIA_TYPE_LAYER_GZIP);
    assert_eq!(manifest.layers[0].digest, sha256_digest(&gz));
    assert_eq!(fs::read(image.layers[0].join("etc/marker")).unwrap(), b"gz");
}

#[test]
fn reimport_moves_the_tag_and_leaves_the_old_image_dangling() {
    let (_tmp, store) = store();
    let old = store
        .import(&rootfs_tar("one")[..], Some("app:1"), &[])
        .unwrap();
    let new = store
        .import(&rootfs_tar("two")[..], Some("app:1"), &[])
        .unwrap();
    assert_ne!(old, new);
    let list = store.list().unwrap();
    assert_eq!(list.len(), 2);
    let get = |id: &str| list.iter().find(|i| i.id == id).unwrap().clone();
    assert_eq!(get(&new).repo_tags, vec!["docker.io/library/app:1"]);
    assert!(get(&old).repo_tags.is_empty());
    assert_eq!(store.resolve("app:1").unwrap().unwrap().info.id, new);
    // Newest first (ties broken by id, so only check ordering is by created).
    assert!(list[0].created >= list[1].created);
    // The dangling image still resolves by id.
    let dangling = store.resolve(&old).unwrap().unwrap();
    assert!(dangling.info.repo_tags.is_empty());
    assert_eq!(
        fs::read(dangling.layers[0].join("etc/marker")).unwrap(),
        b"one"
    );
}

#[test]
fn resolve_by_id_and_prefix() {
    let (_tmp, store) = store();
    let id = store.import(&rootfs_tar("one")[..], None, &[]).unwrap();
    let hex = id.strip_prefix("sha256:").unwrap();
    for q in [
        id.clone(),
        hex.to_string(),
        hex[..12].to_string(),
        format!("sha256:{}", &hex[..8]),
    ] {
        assert_eq!(store.resolve(&q).unwrap().unwrap().info.id, id, "{q}");
    }
    // Dangling: listed with no tags.
    assert_eq!(store.list().unwrap()[0].repo_tags, Vec::<String>::new());
    let other = if hex.starts_with('0') { "1" } else { "0" };
    assert!(store
        .resolve(&format!("{other}{}", &hex[1..12]))
        .unwrap()
        .is_none());
    assert!(store.resolve("sha256:xyz").is_err());
    // Resolve by manifest digest.
    let image = store.resolve(&id).unwrap().unwrap();
    let by_digest = format!("whatever@{}", image.manifest_digest);
    assert_eq!(store.resolve(&by_digest).unwrap().unwrap().info.id, id);
}

#[test]
fn ambiguous_prefixes_are_refused() {
    let (_tmp, store) = store();
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            store
                .import(&rootfs_tar(&i.to_string())[..], None, &[])
                .unwrap(),
        );
    }
    // 40 ids over 16 first digits: some first digit is shared.
    let first = |id: &String| id.as_bytes()[7];
    let shared = ids
        .iter()
        .find(|a| ids.iter().filter(|b| first(b) == first(a)).count() > 1)
        .unwrap();
    let prefix = (first(shared) as char).to_string();
    let e = store.resolve(&prefix).unwrap_err().to_string();
    assert!(
        e.contains("ambiguous") && e.contains(&format!("{prefix:?}")),
        "{e}"
    );
}

#[test]
fn remove_deletes_blobs_and_snapshot() {
    let (_tmp, store) = store();
    let tar = rootfs_tar("one");
    let id = store.import(&tar[..], Some("busybox"), &[]).unwrap();
    let diff = sha256_digest(&tar);
    assert!(store.snapshot_path(&diff).unwrap().is_dir());
    assert_eq!(blob_files(&store).len(), 3);
    let lines = store.remove("busybox:latest").unwrap();
    assert_eq!(
        lines,
        vec![
            "Untagged: busybox:latest".to_string(),
            format!("Deleted: {id}"),
            format!("Deleted: {diff}"),
        ]
    );
    assert!(blob_files(&store).is_empty(), "{:?}", blob_files(&store));
    assert!(
        snapshot_names(&store).is_empty(),
        "{:?}",
        snapshot_names(&store)
    );
    assert!(store.list().unwrap().is_empty());
    let e = store.remove("busybox").unwrap_err().to_string();
    assert!(
        e.contains("\"busybox\" not found") && e.contains("wharf image import FILE busybox:latest"),
        "{e}"
    );
}

#[test]
fn remove_by_tag_keeps_images_with_other_tags_and_shared_layers() {
    let (_tmp, store) = store();
    let tar = rootfs_tar("shared");
    let a = store
        .import(&tar[..], Some("a"), &changes(&["CMD [\"a\"]"]))
        .unwrap();
    let b = store
        .import(&tar[..], Some("b"), &changes(&["CMD [\"b\"]"]))
        .unwrap();
    assert_ne!(a, b);
    store.tag("a", "a:second").unwrap();

    // By id with two tags: refused, nothing changes.
    let e = store.remove(&a).unwrap_err().to_string();
    assert!(
        e.contains("a:latest") && e.contains("a:second") && e.contains("one tag at a time"),
        "{e}"
    );
    assert_eq!(store.remove("a").unwrap(), vec!["Untagged: a:latest"]);
    assert!(store.resolve(&a).unwrap().is_some());

    let lines = store.remove("a:second").unwrap();
    assert_eq!(
        lines,
        vec!["Untagged: a:second".to_string(), format!("Deleted: {a}")]
    );
    // The layer and its snapshot are still used by b.
    let image = store.resolve("b").unwrap().unwrap();
    assert_eq!(
        fs::read(image.layers[0].join("etc/marker")).unwrap(),
        b"shared"
    );
    assert!(!store.has_blob(&a));

    // By id with one tag: untag and delete.
    let lines = store.remove(&b[..20]).unwrap();
    assert_eq!(lines[0], "Untagged: b:latest");
    assert_eq!(lines[1], format!("Deleted: {b}"));
    assert!(blob_files(&store).is_empty());
    assert!(snapshot_names(&store).is_empty());
}

#[test]
fn remove_dangling_by_id() {
    let (_tmp, store) = store();
    let old = store
        .import(&rootfs_tar("one")[..], Some("x"), &[])
        .unwrap();
    store
        .import(&rootfs_tar("two")[..], Some("x"), &[])
        .unwrap();
    let lines = store.remove(&old).unwrap();
    assert_eq!(lines[0], format!("Deleted: {old}"));
    assert_eq!(store.list().unwrap().len(), 1);
    assert_eq!(blob_files(&store).len(), 3);
}

#[test]
fn tag_validates_and_retargets() {
    let (_tmp, store) = store();
    let id = store
        .import(&rootfs_tar("one")[..], Some("src"), &[])
        .unwrap();
    store
        .tag(&id[..15], "registry.local:5000/team/app:v2")
        .unwrap();
    assert_eq!(
        store
            .resolve("registry.local:5000/team/app:v2")
            .unwrap()
            .unwrap()
            .info
            .id,
        id
    );
    // Tagging again is idempotent.
    store.tag("src", "registry.local:5000/team/app:v2").unwrap();
    assert_eq!(store.list().unwrap()[0].repo_tags.len(), 2);
    let e = store.tag("missing", "x").unwrap_err().to_string();
    assert!(e.contains("\"missing\" not found"), "{e}");
    let e = store.tag("src", "Bad/Name").unwrap_err().to_string();
    assert!(e.contains("lowercase"), "{e}");
    let digest = format!("x@sha256:{}", "a".repeat(64));
    assert!(store.tag("src", &digest).is_err());
}

#[test]
fn blob_digest_mismatch_is_refused() {
    let (_tmp, store) = store();
    let lease = store.lease().unwrap();
    let wrong = sha256_digest(b"something else");
    let e = store
        .write_blob(&lease, &b"data"[..], Some(&wrong))
        .unwrap_err();
    assert!(matches!(e, ImageError::DigestMismatch { .. }), "{e}");
    assert!(e.to_string().contains(&wrong), "{e}");
    assert!(blob_files(&store).is_empty(), "{:?}", blob_files(&store));
    let right = sha256_digest(b"data");
    assert_eq!(
        store
            .write_blob(&lease, &b"data"[..], Some(&right))
            .unwrap(),
        (right.clone(), 4)
    );
    assert_eq!(store.read_blob(&right).unwrap(), b"data");
    assert!(store
        .write_blob(&lease, &b"data"[..], Some("sha256:short"))
        .is_err());
}

#[test]
fn tampered_layer_is_detected_when_its_snapshot_is_rebuilt() {
    let (_tmp, store) = store();
    let tar = rootfs_tar("one");
    let id = store.import(&tar[..], Some("t"), &[]).unwrap();
    let diff = sha256_digest(&tar);
    // Lose the snapshot: resolve rebuilds it from the blob.
    remove_tree(&store.snapshot_path(&diff).unwrap()).unwrap();
    let image = store.resolve("t").unwrap().unwrap();
    assert_eq!(
        fs::read(image.layers[0].join("etc/marker")).unwrap(),
        b"one"
    );
    // Tamper with the blob, lose the snapshot again: refused.
    remove_tree(&store.snapshot_path(&diff).unwrap()).unwrap();
    let blob = store.blob_path(&diff).unwrap();
    let mut evil = tar.clone();
    let pos = evil.windows(3).position(|w| w == b"one").unwrap();
    evil[pos..pos + 3].copy_from_slice(b"two");
    fs::write(&blob, &evil).unwrap();
    let e = store.resolve(&id).unwrap_err();
    assert!(matches!(e, ImageError::DigestMismatch { .. }), "{e}");
    assert!(!store.snapshot_path(&diff).unwrap().exists());
    assert!(snapshot_names(&store).iter().all(|n| !n.contains(TMP_MARK)));
}

#[test]
fn a_bad_layer_is_named_by_its_digest_once() {
    let (_tmp, store) = store();
    let tar = rootfs_tar("one");
    let id = store.import(&tar[..], Some("t"), &[]).unwrap();
    let diff = sha256_digest(&tar);
    remove_tree(&store.snapshot_path(&diff).unwrap()).unwrap();
    fs::write(store.blob_path(&diff).unwrap(), b"\xfd7zXZ\0 not a tar").unwrap();
    let e = store.resolve(&id).unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("bad layer {diff}: it is xz-compressed")),
        "{e}"
    );
    assert!(!e.contains("layer layer"), "{e}");
}

#[test]
fn bad_imports_leave_nothing_tagged() {
    let (_tmp, store) = store();
    let e = store
        .import(&rootfs_tar("x")[..], Some("x"), &changes(&["FROB it"]))
        .unwrap_err()
        .to_string();
    assert!(e.contains("FROB"), "{e}");
    let e = store
        .import(&b""[..], Some("x"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("empty"), "{e}");
    let e = store
        .import(&rootfs_tar("x")[..], Some("X"), &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("lowercase"), "{e}");
    assert!(store.list().unwrap().is_empty());
    // The rejected empty import left a blob behind at most; gc cleans it.
    store.gc().unwrap();
    assert!(blob_files(&store).is_empty());
}

#[test]
fn gc_removes_orphans_and_leftovers() {
    let (_tmp, store) = store();
    store
        .import(&rootfs_tar("keep")[..], Some("keep"), &[])
        .unwrap();
    let lease = store.lease().unwrap();
    let (orphan, _) = store.write_blob(&lease, &b"orphan"[..], None).unwrap();
    drop(lease);
    let snaps = store.root().join(SNAPSHOTS_DIR);
    fs::create_dir(snaps.join(format!("{}{TMP_MARK}dead", "ab".repeat(32)))).unwrap();
    fs::create_dir(snaps.join("cd".repeat(32))).unwrap();
    fs::write(store.root().join(BLOBS_DIR).join(".x.tmp-dead"), b"").unwrap();
    let lines = store.gc().unwrap();
    assert_eq!(lines, vec![format!("Deleted: sha256:{}", "cd".repeat(32))]);
    assert!(!store.has_blob(&orphan));
    assert_eq!(blob_files(&store).len(), 3);
    assert_eq!(snapshot_names(&store).len(), 2); // the dir and its .json
    assert!(store.resolve("keep").unwrap().is_some());
}

#[test]
fn reopening_keeps_images() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().join("images");
    let id = ImageStore::open(&root)
        .unwrap()
        .import(&rootfs_tar("one")[..], Some("p"), &[])
        .unwrap();
    let again = ImageStore::open(&root).unwrap();
    assert_eq!(again.resolve("p").unwrap().unwrap().info.id, id);
    fs::write(root.join("oci-layout"), br#"{"imageLayoutVersion":"9"}"#).unwrap();
    let e = ImageStore::open(&root).unwrap_err().to_string();
    assert!(e.contains("not supported"), "{e}");
}

#[test]
fn concurrent_tagging_loses_no_tag() {
    let (tmp, store) = store();
    store
        .import(&rootfs_tar("one")[..], Some("base"), &[])
        .unwrap();
    let root = store.root().to_path_buf();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let root = root.clone();
            std::thread::spawn(move || {
                // A store per thread, as two processes would have.
                let store = ImageStore::open(&root).unwrap();
                for i in 0..25 {
                    store.tag("base", &format!("t{t}:n{i}")).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let tags = &store.list().unwrap()[0].repo_tags;
    assert_eq!(tags.len(), 51, "{tags:?}");
    for t in 0..2 {
        for i in 0..25 {
            assert!(tags.contains(&format!("docker.io/library/t{t}:n{i}")));
        }
    }
    drop(tmp);
}

#[test]
fn concurrent_imports_and_removes_stay_consistent() {
    let (_tmp, store) = store();
    let root = store.root().to_path_buf();
    let threads: Vec<_> = (0..2)
        .map(|t| {
            let root = root.clone();
            std::thread::spawn(move || {
                let store = ImageStore::open(&root).unwrap();
                for i in 0..5 {
                    // Same layer in every image: removes must not delete it under an import.
                    store
                        .import(
                            &rootfs_tar("same")[..],
                            Some(&format!("i{t}:{i}")),
                            &changes(&[&format!("ENV N={t}{i}")]),
                        )
                        .unwrap();
                    if i % 2 == 0 {
                        store.remove(&format!("i{t}:{i}")).unwrap();
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let list = store.list().unwrap();
    assert_eq!(list.len(), 4);
    for info in list {
        let image = store.resolve(&info.id).unwrap().unwrap();
        assert_eq!(
            fs::read(image.layers[0].join("etc/marker")).unwrap(),
            b"same"
        );
    }
}
