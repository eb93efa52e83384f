//! Volumes in plans: named volumes created before their users, external ones
//! required, anonymous ones carried over a recreate (or renewed with `-V`),
//! and `down -v` / `rm -v` removing the project's volumes. Golden plan text,
//! plus a run against the fake engine.

mod common;

use common::{all_up, assert_plan, fake_id, hello};
use std::collections::BTreeMap;
use wharf_compose::{Project, ServiceVolume, Volume, VolumeKind, VolumeOptions};
use wharf_engine_api::{labels, MountKind, VolumeEngine, VolumeInfo, VolumeUser};
use wharf_orchestrator::{
    plan_down, plan_rm_volumes, plan_up, Action, DownOptions, Observed, OrchestratorError, Target,
    UpOptions,
};
use wharf_testkit::FakeEngine;

fn mount(kind: VolumeKind, source: Option<&str>, target: &str) -> ServiceVolume {
    ServiceVolume {
        kind,
        source: source.map(String::from),
        target: target.into(),
        read_only: false,
        consistency: None,
        bind: None,
        volume: None,
        tmpfs: None,
    }
}

/// hello, with the worker keeping data in the named volume `data` and an
/// anonymous volume at /cache.
fn with_volumes() -> Project {
    let mut project = hello();
    project.volumes.insert(
        "data".into(),
        Volume {
            name: "hello_data".into(),
            labels: BTreeMap::from([("tier".to_string(), "db".to_string())]),
            ..Default::default()
        },
    );
    let worker = project.services.get_mut("worker").unwrap();
    worker.volumes = vec![
        mount(VolumeKind::Volume, Some("data"), "/data"),
        mount(VolumeKind::Volume, None, "/cache"),
    ];
    project
}

fn volume(name: &str, labels: &[(&str, &str)], anonymous: bool) -> VolumeInfo {
    VolumeInfo {
        name: name.into(),
        driver: "local".into(),
        mountpoint: format!("/var/lib/wharf/volumes/{name}/_data"),
        created: 0,
        labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        options: BTreeMap::new(),
        scope: "local".into(),
        anonymous,
        used_by: Vec::new(),
    }
}

fn used_by(mut v: VolumeInfo, container: &str, id: &str, target: &str) -> VolumeInfo {
    v.used_by.push(VolumeUser {
        container_id: id.into(),
        container_name: container.into(),
        target: target.into(),
        running: true,
    });
    v
}

/// `with_volumes()` up: its named volume and the worker's anonymous one.
fn observed_up(project: &Project) -> Observed {
    let mut observed = all_up(project);
    let worker = fake_id("worker", 1);
    observed.volumes = vec![
        used_by(
            volume(
                "hello_data",
                &[(labels::PROJECT, "hello"), (labels::VOLUME, "data")],
                false,
            ),
            "hello-worker-1",
            &worker,
            "/data",
        ),
        used_by(
            volume(
                &"a".repeat(64),
                &[("com.docker.volume.anonymous", "")],
                true,
            ),
            "hello-worker-1",
            &worker,
            "/cache",
        ),
        volume("elsewhere_data", &[(labels::PROJECT, "elsewhere")], false),
    ];
    observed
}

#[test]
fn fresh_up_creates_the_volume_before_its_user() {
    let plan = plan_up(&with_volumes(), &Observed::default(), &UpOptions::default()).unwrap();
    assert_plan(
        &plan,
        "
        1 create network hello_default: missing
        2 create volume hello_data: missing
        3 create container hello-worker-1: missing (after 1, 2)
        4 start container hello-worker-1: missing (after 3)
        5 create container hello-web-1: missing (after 1, 4)
        6 start container hello-web-1: missing (after 5)
        ",
    );
    let Action::CreateVolume(spec) = &plan.steps[1].action else {
        panic!("step 2 is {:?}", plan.steps[1].action);
    };
    assert_eq!(spec.labels[labels::PROJECT], "hello");
    assert_eq!(spec.labels[labels::VOLUME], "data");
    assert_eq!(spec.labels["tier"], "db");
}

#[test]
fn an_existing_volume_is_not_created_again() {
    let project = with_volumes();
    let plan = plan_up(&project, &observed_up(&project), &UpOptions::default()).unwrap();
    assert_plan(&plan, "nothing to do");
}

#[test]
fn an_external_volume_must_exist_and_is_never_created() {
    let mut project = with_volumes();
    let data = project.volumes.get_mut("data").unwrap();
    data.external = true;
    data.name = "shared".into();
    let err = plan_up(&project, &Observed::default(), &UpOptions::default()).unwrap_err();
    assert!(matches!(err, OrchestratorError::ExternalVolumeMissing(_)));
    assert_eq!(
        err.to_string(),
        "external volume \"shared\" not found: create it first (wharf volume create shared)"
    );
    let observed = Observed {
        volumes: vec![volume("shared", &[], false)],
        ..Default::default()
    };
    let plan = plan_up(&project, &observed, &UpOptions::default()).unwrap();
    assert!(!plan.to_string().contains("volume"), "{plan}");
}

#[test]
fn undefined_volumes_and_other_drivers_are_refused_before_anything() {
    let mut project = with_volumes();
    project.volumes.get_mut("data").unwrap().driver = Some("nfs-plugin".into());
    let err = plan_up(&project, &Observed::default(), &UpOptions::default()).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("volume \"hello_data\": driver \"nfs-plugin\" is not supported"),
        "{err}"
    );
    let mut project = with_volumes();
    project.volumes.clear();
    let err = plan_up(&project, &Observed::default(), &UpOptions::default()).unwrap_err();
    assert!(
        matches!(err, OrchestratorError::UndefinedVolume { .. }),
        "{err}"
    );
}

#[test]
fn a_recreate_keeps_the_anonymous_volume() {
    let before = with_volumes();
    let observed = observed_up(&before);
    let mut after = with_volumes();
    after
        .services
        .get_mut("worker")
        .unwrap()
        .environment
        .insert("GREETING".into(), "bonjour".into());
    let plan = plan_up(&after, &observed, &UpOptions::default()).unwrap();
    assert_plan(
        &plan,
        "
        1 stop container hello-worker-1: recreate (environment changed)
        2 rename container hello-worker-1 to 776f726b6572_hello-worker-1: recreate (environment changed) (after 1)
        3 create container hello-worker-1: recreate (environment changed) (after 2)
        4 start container hello-worker-1: recreate (environment changed) (after 3)
        5 remove container 776f726b6572_hello-worker-1: recreate (environment changed) (after 4)
        ",
    );
    let Action::CreateContainer { spec, .. } = &plan.steps[2].action else {
        panic!()
    };
    let cache = spec.mounts.iter().find(|m| m.target == "/cache").unwrap();
    assert_eq!(cache.kind, MountKind::Volume);
    assert_eq!(cache.source, "a".repeat(64));
    // The hash is the service's, not the carried-over volume's: no
    // recreate loop on the next `up`.
    let recreated = common::info(spec, &fake_id("worker", 1), true);
    let mut observed = observed_up(&after);
    observed.containers.retain(|c| c.name != "hello-worker-1");
    observed.containers.push(recreated);
    assert_plan(
        &plan_up(&after, &observed, &UpOptions::default()).unwrap(),
        "nothing to do",
    );
}

#[test]
fn an_image_volume_is_carried_over_too() {
    let project = with_volumes();
    let mut observed = observed_up(&project);
    observed.volumes.push(used_by(
        volume(&"b".repeat(64), &[], true),
        "hello-web-1",
        &fake_id("web", 1),
        "/var/lib/image-volume",
    ));
    let options = UpOptions {
        force_recreate: true,
        services: vec!["web".into()],
        no_deps: true,
        ..Default::default()
    };
    let plan = plan_up(&project, &observed, &options).unwrap();
    let spec = plan
        .steps
        .iter()
        .find_map(|s| match &s.action {
            Action::CreateContainer { spec, .. } => Some(spec),
            _ => None,
        })
        .unwrap();
    assert!(spec
        .mounts
        .iter()
        .any(|m| m.target == "/var/lib/image-volume" && m.source == "b".repeat(64)));
}

#[test]
fn renew_anon_volumes_replaces_them() {
    let project = with_volumes();
    let options = UpOptions {
        force_recreate: true,
        renew_anon_volumes: true,
        services: vec!["worker".into()],
        no_deps: true,
        ..Default::default()
    };
    let plan = plan_up(&project, &observed_up(&project), &options).unwrap();
    assert_plan(
        &plan,
        &format!(
            "
            1 stop container hello-worker-1: recreate (forced)
            2 rename container hello-worker-1 to 776f726b6572_hello-worker-1: recreate (forced) (after 1)
            3 create container hello-worker-1: recreate (forced) (after 2)
            4 start container hello-worker-1: recreate (forced) (after 3)
            5 remove container 776f726b6572_hello-worker-1: recreate (forced) (after 4)
            6 remove volume {}: renew anonymous volumes (after 5)
            ",
            "a".repeat(64)
        ),
    );
    let Action::CreateContainer { spec, .. } = &plan.steps[2].action else {
        panic!()
    };
    assert!(spec
        .mounts
        .iter()
        .any(|m| m.target == "/cache" && m.source.is_empty()));
}

#[test]
fn down_keeps_volumes_and_down_v_removes_the_projects() {
    let project = with_volumes();
    let observed = observed_up(&project);
    let plain = plan_down("hello", Some(&project), &observed, &DownOptions::default());
    assert!(!plain.to_string().contains("volume"), "{plain}");
    let options = DownOptions {
        volumes: true,
        ..Default::default()
    };
    assert_plan(
        &plan_down("hello", Some(&project), &observed, &options),
        &format!(
            "
            1 stop container hello-web-1
            2 remove container hello-web-1 (after 1)
            3 stop container hello-worker-1 (after 1)
            4 remove container hello-worker-1 (after 3)
            5 remove volume {} (after 2, 4)
            6 remove volume hello_data (after 2, 4)
            7 remove network hello_default (after 2, 4)
            ",
            "a".repeat(64)
        ),
    );
}

#[test]
fn down_v_never_removes_an_external_volume() {
    let mut project = with_volumes();
    project.volumes.get_mut("data").unwrap().external = true;
    let options = DownOptions {
        volumes: true,
        ..Default::default()
    };
    let plan = plan_down("hello", Some(&project), &observed_up(&project), &options);
    assert!(!plan.to_string().contains("hello_data"), "{plan}");
}

#[test]
fn rm_v_removes_the_anonymous_volumes_of_the_removed_containers() {
    let project = with_volumes();
    let mut observed = observed_up(&project);
    for c in &mut observed.containers {
        c.state = wharf_testkit::exited();
    }
    let target = Target {
        project_name: "hello",
        project: Some(&project),
        services: &[],
    };
    assert_plan(
        &plan_rm_volumes(&target, &observed, false, None, true),
        &format!(
            "
            1 remove container hello-web-1
            2 remove container hello-worker-1
            3 remove volume {} (after 2)
            ",
            "a".repeat(64)
        ),
    );
}

#[test]
fn up_and_down_v_against_the_fake_engine() {
    let engine = FakeEngine::new();
    engine.add_image("busybox:latest");
    let project = with_volumes();
    wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {}).unwrap();
    let volumes = engine.volumes();
    assert_eq!(volumes.len(), 2, "{volumes:?}");
    assert!(volumes.iter().any(|v| v.name == "hello_data"));
    assert!(volumes.iter().any(|v| v.anonymous));
    // A volume in use cannot be removed.
    assert!(engine.remove_volume("hello_data", false).is_err());

    // down keeps them; down -v removes them and says so.
    wharf_orchestrator::down(
        &engine,
        "hello",
        Some(&project),
        &Default::default(),
        &|_| {},
    )
    .unwrap();
    assert_eq!(engine.volumes().len(), 2);
    wharf_orchestrator::up(&engine, &project, &UpOptions::default(), &|_| {}).unwrap();
    let events = std::sync::Mutex::new(Vec::new());
    let options = DownOptions {
        volumes: true,
        ..Default::default()
    };
    wharf_orchestrator::down(&engine, "hello", Some(&project), &options, &|e| {
        events.lock().unwrap().push(e)
    })
    .unwrap();
    let removed: Vec<String> = events
        .into_inner()
        .unwrap()
        .into_iter()
        .filter_map(|e| match e {
            wharf_orchestrator::Event::Volume { name, status } => Some(format!("{name} {status}")),
            _ => None,
        })
        .filter(|line| line.ends_with("Removed"))
        .collect();
    assert!(
        removed.contains(&"hello_data Removed".to_string()),
        "{removed:?}"
    );
    // The second up made a fresh anonymous volume; the first one's is
    // dangling (as with docker) and stays.
    assert_eq!(engine.volumes().len(), 1, "{:?}", engine.volume_names());
}

#[test]
fn nocopy_and_subpath_reach_the_spec() {
    let mut project = with_volumes();
    let worker = project.services.get_mut("worker").unwrap();
    worker.volumes[0].volume = Some(VolumeOptions {
        nocopy: true,
        subpath: Some("pg".into()),
        ..Default::default()
    });
    let spec =
        wharf_orchestrator::container_spec(&project, &project.services["worker"], 1).unwrap();
    assert!(spec.mounts[0].no_copy);
    assert_eq!(spec.mounts[0].subpath.as_deref(), Some("pg"));
    wharf_orchestrator::validate_service(&project, &project.services["worker"]).unwrap();
}

#[test]
fn the_engine_checks_mounts_before_anything_is_created() {
    let engine = FakeEngine::new();
    engine.add_image("busybox:latest");
    engine.fail_next(
        "validate_mounts",
        "hello-worker-1",
        wharf_engine_api::EngineError::Invalid("bind source path /nope does not exist".into()),
    );
    let err = wharf_orchestrator::up(&engine, &with_volumes(), &UpOptions::default(), &|_| {})
        .unwrap_err();
    assert!(err.to_string().contains("/nope"), "{err}");
    assert!(engine.changes().is_empty(), "{:?}", engine.changes());
}
