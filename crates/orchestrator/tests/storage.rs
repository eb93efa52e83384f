//! Secrets, configs, tmpfs options and `volumes_from` in container specs:
//! what reaches the engine, what the config hash sees, and the errors that
//! stop `up` before anything is created.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use wharf_compose::{LoadOptions, Project};
use wharf_engine_api::{labels, MountKind, VolumesFrom};
use wharf_orchestrator::{change_reason, container_spec, validate_service, UpOptions};
use wharf_testkit::FakeEngine;

/// Load `yaml` as the compose file of a project directory `dir`, with `env`.
fn load(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Project {
    std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
    wharf_compose::load(&LoadOptions {
        cwd: dir.to_path_buf(),
        project_name: Some("p".into()),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        ..Default::default()
    })
    .unwrap()
}

const SECRETS: &str = r#"
services:
  app:
    image: busybox
    secrets:
      - token
      - source: key
        target: keys/api
        uid: "1000"
        gid: "2000"
        mode: 0400
    configs:
      - conf
      - source: inline
        target: /etc/inline.conf
secrets:
  token:
    file: ./token.txt
  key:
    environment: API_KEY
configs:
  conf:
    file: ./app.conf
  inline:
    content: "level=debug"
"#;

fn secrets_project(dir: &Path, token: &str) -> Project {
    std::fs::write(dir.join("token.txt"), token).unwrap();
    std::fs::write(dir.join("app.conf"), "port=80\n").unwrap();
    load(dir, SECRETS, &[("API_KEY", "k-123")])
}

#[test]
fn secrets_and_configs_reach_the_spec_with_their_content() {
    let dir = tempfile::tempdir().unwrap();
    let project = secrets_project(dir.path(), "s3cret");
    let service = &project.services["app"];
    validate_service(&project, service).unwrap();
    let spec = container_spec(&project, service, 1).unwrap();
    let files: Vec<String> = spec
        .files
        .iter()
        .map(|f| {
            format!(
                "{} {} on {} {}:{} {:o} {:?}",
                f.kind,
                f.name,
                f.target,
                f.uid,
                f.gid,
                f.mode,
                String::from_utf8_lossy(&f.content)
            )
        })
        .collect();
    assert_eq!(
        files,
        [
            "secret token on /run/secrets/token 0:0 444 \"s3cret\"",
            "secret key on /run/secrets/keys/api 1000:2000 400 \"k-123\"",
            "config conf on /conf 0:0 444 \"port=80\\n\"",
            "config inline on /etc/inline.conf 0:0 444 \"level=debug\"",
        ]
    );
    // The content is in neither the serialized spec nor its debug form.
    let json = serde_json::to_string(&spec).unwrap();
    assert!(
        !json.contains("s3cret") && !json.contains("k-123"),
        "{json}"
    );
    assert!(!format!("{spec:?}").contains("s3cret"));
}

#[test]
fn a_changed_secret_changes_the_config_hash_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let before = secrets_project(dir.path(), "one");
    let old = container_spec(&before, &before.services["app"], 1).unwrap();
    let same = container_spec(&before, &before.services["app"], 1).unwrap();
    assert_eq!(
        old.labels[labels::CONFIG_HASH],
        same.labels[labels::CONFIG_HASH]
    );
    let after = secrets_project(dir.path(), "two");
    let new = container_spec(&after, &after.services["app"], 1).unwrap();
    assert_ne!(
        old.labels[labels::CONFIG_HASH],
        new.labels[labels::CONFIG_HASH]
    );
    assert_eq!(change_reason(&old.labels, &new), "secrets changed");
}

#[test]
fn secret_sources_that_cannot_be_had_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let project = secrets_project(dir.path(), "x");
    std::fs::remove_file(dir.path().join("token.txt")).unwrap();
    let err = validate_service(&project, &project.services["app"])
        .unwrap_err()
        .to_string();
    let path = dir.path().join("token.txt");
    assert!(
        err.starts_with("service \"app\": secret \"token\": cannot read its file")
            && err.contains(&path.display().to_string())
            && err.contains("create the file"),
        "{err}"
    );
    // Nothing is created when up meets it.
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    let up = wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {});
    assert!(up.unwrap_err().to_string().contains("secret \"token\""));
    assert!(engine.changes().is_empty(), "{:?}", engine.changes());

    std::fs::write(dir.path().join("token.txt"), "x").unwrap();
    let unset = load(dir.path(), SECRETS, &[]);
    let err = validate_service(&unset, &unset.services["app"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("secret \"key\": the environment variable API_KEY")
            && err.contains("is not set"),
        "{err}"
    );

    let external = load(
        dir.path(),
        "services:\n  app:\n    image: busybox\n    secrets: [vault]\nsecrets:\n  vault:\n    external: true\n",
        &[],
    );
    let err = validate_service(&external, &external.services["app"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("secret \"vault\" is external") && err.contains("no swarm secret store"),
        "{err}"
    );

    let bad_uid = load(
        dir.path(),
        "services:\n  app:\n    image: busybox\n    secrets: [{source: t, uid: bob}]\nsecrets:\n  t:\n    content: x\n",
        &[],
    );
    let err = validate_service(&bad_uid, &bad_uid.services["app"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("uid \"bob\" is not a number"), "{err}");

    let clash = load(
        dir.path(),
        "services:\n  app:\n    image: busybox\n    secrets: [{source: a, target: /x}, {source: b, target: /x}]\nsecrets:\n  a:\n    content: x\n  b:\n    content: y\n",
        &[],
    );
    let err = validate_service(&clash, &clash.services["app"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("are both mounted on /x"), "{err}");
}

#[test]
fn tmpfs_options_reach_the_spec() {
    let dir = tempfile::tempdir().unwrap();
    let project = load(
        dir.path(),
        r#"
services:
  app:
    image: busybox
    tmpfs:
      - /run:size=64m,mode=1770
      - /scratch:ro,exec
      - /plain
    volumes:
      - type: tmpfs
        target: /cache
        tmpfs:
          size: 1m
          mode: 0o700
"#,
        &[],
    );
    let service = &project.services["app"];
    validate_service(&project, service).unwrap();
    let spec = container_spec(&project, service, 1).unwrap();
    let tmpfs: Vec<(&str, bool, Vec<&str>)> = spec
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Tmpfs)
        .map(|m| {
            (
                m.target.as_str(),
                m.read_only,
                m.options.iter().map(String::as_str).collect(),
            )
        })
        .collect();
    assert_eq!(
        tmpfs,
        [
            ("/cache", false, vec!["size=1048576", "mode=700"]),
            ("/run", false, vec!["size=67108864", "mode=1770"]),
            ("/scratch", true, vec!["exec"]),
            ("/plain", false, vec![]),
        ]
    );
    let bad = load(
        dir.path(),
        "services:\n  app:\n    image: busybox\n    tmpfs: [\"/run:size=huge\"]\n",
        &[],
    );
    let err = validate_service(&bad, &bad.services["app"])
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("service \"app\": tmpfs \"/run:size=huge\": size: invalid size \"huge\""),
        "{err}"
    );
}

#[test]
fn bind_propagation_reaches_the_spec_and_shared_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = |propagation: &str| {
        format!(
            "services:\n  app:\n    image: busybox\n    volumes:\n      - type: bind\n        source: .\n        target: /src\n        bind:\n          propagation: {propagation}\n"
        )
    };
    let project = load(dir.path(), &yaml("rslave"), &[]);
    validate_service(&project, &project.services["app"]).unwrap();
    let spec = container_spec(&project, &project.services["app"], 1).unwrap();
    assert_eq!(spec.mounts[0].options, ["rslave"]);
    let private = load(dir.path(), &yaml("rprivate"), &[]);
    let spec = container_spec(&private, &private.services["app"], 1).unwrap();
    assert!(spec.mounts[0].options.is_empty());
    let shared = load(dir.path(), &yaml("rshared"), &[]);
    let err = validate_service(&shared, &shared.services["app"])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("bind propagation shared and rshared is not supported"),
        "{err}"
    );
}

const VOLUMES_FROM: &str = r#"
services:
  data:
    image: busybox
    volumes: [/shared]
  reader:
    image: busybox
    volumes_from: ["data:ro"]
"#;

#[test]
fn volumes_from_names_the_first_container_and_orders_it_first() {
    let dir = tempfile::tempdir().unwrap();
    let project = load(dir.path(), VOLUMES_FROM, &[]);
    let spec = container_spec(&project, &project.services["reader"], 1).unwrap();
    assert_eq!(
        spec.volumes_from,
        [VolumesFrom {
            container: "p-data-1".into(),
            read_only: true,
        }]
    );
    // The source is a dependency: created and started first.
    let plan = wharf_orchestrator::plan_up(
        &project,
        &wharf_orchestrator::Observed::default(),
        &UpOptions::default(),
    )
    .unwrap();
    common::assert_plan(
        &plan,
        "
        1 create network p_default: missing
        2 create container p-data-1: missing (after 1)
        3 start container p-data-1: missing (after 2)
        4 create container p-reader-1: missing (after 1, 3)
        5 start container p-reader-1: missing (after 4)
        ",
    );
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {}).unwrap();
    assert_eq!(
        engine.spec("p-reader-1").unwrap().volumes_from[0].container,
        "p-data-1"
    );
}

#[test]
fn volumes_from_a_missing_container_fails_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let project = load(
        dir.path(),
        "services:\n  app:\n    image: busybox\n    volumes_from: [\"container:elsewhere\"]\n",
        &[],
    );
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    let err = wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("volumes_from names container elsewhere, which does not exist"),
        "{err}"
    );
    assert!(engine.changes().is_empty(), "{:?}", engine.changes());

    let bad_mode = load(
        dir.path(),
        "services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n    volumes_from: [\"a:rx\"]\n",
        &[],
    );
    let err = validate_service(&bad_mode, &bad_mode.services["b"])
        .unwrap_err()
        .to_string();
    assert!(err.contains("invalid volumes_from mode \"rx\""), "{err}");
}

/// `config` prints models and npipe mounts (the loader keeps them); `up`
/// refuses them by name before anything is created.
#[test]
fn models_and_npipe_mounts_are_refused_by_up_with_the_service() {
    let dir = tempfile::tempdir().unwrap();
    let project = load(
        dir.path(),
        "services:\n  db:\n    image: busybox\n  chat:\n    image: busybox\n    depends_on: [db]\n    models: [llm]\nmodels:\n  llm:\n    model: ai/smollm2\n",
        &[],
    );
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    let err = wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {})
        .unwrap_err()
        .to_string();
    assert_eq!(
        err,
        "service \"chat\": models are not supported by wharf's engine: the service uses model \"llm\" (ai/smollm2); remove `models` from it to run it with wharf"
    );
    assert!(engine.changes().is_empty(), "{:?}", engine.changes());
    // A service that uses none still comes up alone.
    let db_only = UpOptions {
        services: vec!["db".into()],
        ..Default::default()
    };
    wharf_orchestrator::up(&engine, &project, &db_only, &|_| {}).unwrap();

    let project = load(
        dir.path(),
        "services:\n  app:\n    image: busybox\n    volumes:\n      - ./src:/src\n      - type: npipe\n        source: \\\\.\\pipe\\docker_engine\n        target: \\\\.\\pipe\\docker_engine\n",
        &[],
    );
    let app = &project.services["app"];
    let err = validate_service(&project, app).unwrap_err().to_string();
    assert_eq!(
        err,
        "service \"app\": volumes[1] (target \"\\\\\\\\.\\\\pipe\\\\docker_engine\"): npipe mounts are Windows named pipes, which wharf's engine cannot mount on Linux: bind-mount a Unix socket instead"
    );
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    let up = wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {});
    assert!(up.unwrap_err().to_string().contains("npipe mounts"));
    assert!(engine.changes().is_empty(), "{:?}", engine.changes());
    // No spec is built from it.
    assert!(container_spec(&project, app, 1)
        .unwrap_err()
        .to_string()
        .contains("npipe mounts"));
}

/// Options written for another mount type load (docker compose's `config`
/// prints them), and `up` refuses them before creating anything, as the
/// Docker engine refuses such a mount.
#[test]
fn options_of_another_mount_type_are_refused_at_up() {
    let dir = tempfile::tempdir().unwrap();
    let project = load(
        dir.path(),
        "services:\n  app:\n    image: busybox\n    volumes:\n      - type: volume\n        source: data\n        target: /data\n        bind: {propagation: rshared}\nvolumes:\n  data:\n",
        &[],
    );
    let app = &project.services["app"];
    let err = validate_service(&project, app).unwrap_err().to_string();
    assert_eq!(
        err,
        "service \"app\": volumes[0] (target \"/data\"): `bind` options apply to bind mounts, not to a volume mount: remove them or change the mount's type"
    );
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    let up = wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {});
    assert!(up.unwrap_err().to_string().contains("`bind` options"));
    assert!(engine.changes().is_empty(), "{:?}", engine.changes());
}

/// `data:/d:z` (an SELinux label on a named volume, which docker accepts)
/// keeps `bind.selinux` as docker compose prints it, and `up` takes it: wharf
/// does no labelling on any mount.
#[test]
fn a_selinux_mode_on_a_named_volume_is_accepted_at_up() {
    let dir = tempfile::tempdir().unwrap();
    let project = load(
        dir.path(),
        "services:\n  app:\n    image: busybox\n    volumes: ['data:/data:z', 'data:/private:rprivate']\nvolumes:\n  data:\n",
        &[],
    );
    let app = &project.services["app"];
    assert_eq!(
        app.volumes[0]
            .bind
            .as_ref()
            .and_then(|b| b.selinux.as_deref()),
        Some("z")
    );
    validate_service(&project, app).unwrap();
    let mounts = container_spec(&project, app, 1).unwrap().mounts;
    assert_eq!(mounts.len(), 2);
    assert!(
        mounts.iter().all(|m| m.kind == MountKind::Volume),
        "{mounts:?}"
    );
}

/// A target that is not an absolute Linux path loads (docker compose prints
/// it) and is refused by `up` before anything is created.
#[test]
fn a_relative_or_windows_target_is_refused_at_up() {
    let dir = tempfile::tempdir().unwrap();
    for (volume, target) in [("./src:rel", "rel"), ("./src:C:\\data", "C:\\data")] {
        let project = load(
            dir.path(),
            &format!("services:\n  app:\n    image: busybox\n    volumes: ['{volume}']\n"),
            &[],
        );
        let err = validate_service(&project, &project.services["app"])
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("service \"app\": volumes[0]: the target {target:?} is not an absolute path in a Linux container: write it as /path")
        );
        let engine = FakeEngine::new();
        engine.add_image("busybox");
        assert!(wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {}).is_err());
        assert!(engine.changes().is_empty(), "{:?}", engine.changes());
    }
}
