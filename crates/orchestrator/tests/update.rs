//! Start-first updates (`deploy.update_config`) against the in-memory
//! FakeEngine: the plan's batches, the order of engine calls, and what
//! rollback, pause and continue leave when a new container is unhealthy.

mod common;

use common::hello;
use std::collections::BTreeMap;
use std::time::Duration;
use wharf_compose::{Deploy, Project, ServicePort, UpdateConfig};
use wharf_engine_api::{ContainerInfo, Health};
use wharf_orchestrator::{observe, plan_up, up, OrchestratorError, UpOptions, UpdateOrder};
use wharf_testkit::FakeEngine;

/// `hello` with `replicas` workers updated start-first as `config` says
/// (`monitor: 0s` unless set, so containers without a health check count
/// as healthy at once).
fn project(replicas: u32, config: UpdateConfig) -> Project {
    let mut project = hello();
    let worker = project.services.get_mut("worker").unwrap();
    worker.replicas = replicas;
    worker.deploy = Some(Deploy {
        update_config: Some(UpdateConfig {
            order: Some("start-first".into()),
            monitor: config.monitor.or(Some(Duration::ZERO)),
            ..config
        }),
        ..Deploy::default()
    });
    project
}

fn changed(mut project: Project) -> Project {
    project
        .services
        .get_mut("worker")
        .unwrap()
        .environment
        .insert("GREETING".into(), "hi".into());
    project
}

fn engine() -> FakeEngine {
    let engine = FakeEngine::new();
    engine.add_image("busybox:latest");
    engine
}

fn up_quiet(engine: &FakeEngine, project: &Project) -> Result<(), OrchestratorError> {
    up(engine, project, &UpOptions::default(), &|_| {})
}

fn workers(engine: &FakeEngine) -> BTreeMap<String, ContainerInfo> {
    engine
        .containers()
        .into_iter()
        .filter(|c| c.name.contains("worker"))
        .map(|c| (c.name.clone(), c))
        .collect()
}

fn ids(engine: &FakeEngine) -> BTreeMap<String, String> {
    workers(engine)
        .into_iter()
        .map(|(name, c)| (name, c.id))
        .collect()
}

/// The project's web service has a fixed host port; these tests update the
/// worker only.
fn only_worker() -> UpOptions {
    UpOptions {
        services: vec!["worker".into()],
        no_deps: true,
        ..UpOptions::default()
    }
}

#[test]
fn start_first_starts_the_new_container_before_stopping_the_old_one() {
    let engine = engine();
    let before = project(1, UpdateConfig::default());
    up_quiet(&engine, &before).unwrap();
    let old = ids(&engine)["hello-worker-1"].clone();
    engine.clear_calls();

    up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap();

    let aside = format!("{}_hello-worker-1", &old[..12]);
    assert_eq!(
        engine.changes(),
        [
            "create_container hello-worker-1_next",
            "start_container hello-worker-1_next",
            "stop_container hello-worker-1",
            "rename_container hello-worker-1",
            "rename_container hello-worker-1_next",
            &format!("remove_container {aside}"),
        ]
    );
    let now = workers(&engine);
    assert_eq!(now.keys().collect::<Vec<_>>(), ["hello-worker-1"]);
    assert_ne!(now["hello-worker-1"].id, old);
    assert!(now["hello-worker-1"].state.is_running());
}

/// The worker publishing host port 8081.
fn publishing(mut project: Project) -> Project {
    project.services.get_mut("worker").unwrap().ports = vec![ServicePort {
        target: 80,
        published: Some("8081".into()),
        host_ip: None,
        protocol: "tcp".into(),
        mode: None,
        name: None,
        app_protocol: None,
    }];
    project
}

#[test]
fn published_ports_are_handed_over_once_the_new_container_is_healthy() {
    let engine = engine();
    let before = publishing(project(1, UpdateConfig::default()));
    up_quiet(&engine, &before).unwrap();
    let old = ids(&engine)["hello-worker-1"].clone();
    engine.clear_calls();

    up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap();

    let aside = format!("{}_hello-worker-1", &old[..12]);
    assert_eq!(
        engine.changes(),
        [
            "create_container hello-worker-1_next",
            "start_container_awaiting_ports hello-worker-1_next",
            "start_container hello-worker-1_next",
            "hand_over_ports hello-worker-1 hello-worker-1_next",
            "stop_container hello-worker-1",
            "rename_container hello-worker-1",
            "rename_container hello-worker-1_next",
            &format!("remove_container {aside}"),
        ]
    );
}

#[test]
fn a_failed_port_handover_removes_the_new_container_and_the_old_one_serves_on() {
    let engine = engine();
    let before = publishing(project(1, UpdateConfig::default()));
    up_quiet(&engine, &before).unwrap();
    let old = ids(&engine);
    engine.fail_on(
        "hand_over_ports",
        "hello-worker-1 hello-worker-1_next",
        "the monitor ended",
    );

    let error = up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap_err();

    let message = error.to_string();
    assert!(
        message.contains("its published ports could not be handed over")
            && message.contains("the monitor ended"),
        "{message}"
    );
    assert_eq!(ids(&engine), old, "only the old container is left");
    assert!(workers(&engine)["hello-worker-1"].state.is_running());
}

#[test]
fn a_never_healthy_replacement_is_given_no_port() {
    let engine = engine();
    let before = publishing(project(1, UpdateConfig::default()));
    up_quiet(&engine, &before).unwrap();
    engine.set_health_on_start("hello-worker-1_next", Health::Unhealthy);
    engine.clear_calls();

    up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap_err();

    assert!(
        !engine
            .calls()
            .iter()
            .any(|c| c.starts_with("hand_over_ports")),
        "{:?}",
        engine.calls()
    );
    assert!(workers(&engine)["hello-worker-1"].state.is_running());
}

#[test]
fn plan_batches_replicas_by_parallelism_with_delay_and_removes_old_ones_last() {
    let config = UpdateConfig {
        parallelism: Some(2),
        delay: Some(Duration::from_secs(3)),
        ..UpdateConfig::default()
    };
    let engine = engine();
    let before = project(3, config);
    up_quiet(&engine, &before).unwrap();
    let observed = observe(&engine, "hello").unwrap();
    let plan = plan_up(&changed(before), &observed, &only_worker()).unwrap();
    let text = plan.to_string();
    let lines: Vec<&str> = text.lines().collect();
    let reason = "recreate (environment changed)";
    assert_eq!(
        lines[0],
        format!("1 replace container hello-worker-1 start-first: {reason}")
    );
    assert_eq!(
        lines[1],
        format!("2 replace container hello-worker-2 start-first: {reason}")
    );
    assert_eq!(
        lines[2],
        format!("3 replace container hello-worker-3 start-first after 3s: {reason} (after 1, 2)")
    );
    for line in &lines[3..6] {
        assert!(line.contains("remove container"), "{line}");
        assert!(line.ends_with("(after 1, 2, 3)"), "{line}");
    }
    assert_eq!(lines.len(), 6, "{text}");
}

#[test]
fn a_new_container_that_is_never_healthy_is_removed_and_the_old_one_keeps_serving() {
    let engine = engine();
    let before = project(1, UpdateConfig::default());
    up_quiet(&engine, &before).unwrap();
    let old = ids(&engine);
    engine.set_health_on_start("hello-worker-1_next", Health::Unhealthy);

    let error = up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap_err();

    let message = error.to_string();
    assert!(
        message.contains("container hello-worker-1: the new container did not become healthy")
            && message.contains("the old container keeps serving"),
        "{message}"
    );
    assert_eq!(ids(&engine), old, "only the old container is left");
    assert!(workers(&engine)["hello-worker-1"].state.is_running());
}

#[test]
fn rollback_gives_every_replica_its_old_container_back() {
    let config = UpdateConfig {
        parallelism: Some(1),
        failure_action: Some("rollback".into()),
        ..UpdateConfig::default()
    };
    let engine = engine();
    let before = project(2, config);
    up_quiet(&engine, &before).unwrap();
    let old = ids(&engine);
    engine.set_health_on_start("hello-worker-2_next", Health::Unhealthy);

    up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap_err();

    assert_eq!(ids(&engine), old);
    assert!(workers(&engine).values().all(|c| c.state.is_running()));
}

#[test]
fn pause_keeps_the_replicas_already_updated_and_updates_no_more() {
    let config = UpdateConfig {
        parallelism: Some(1),
        failure_action: Some("pause".into()),
        ..UpdateConfig::default()
    };
    let engine = engine();
    let before = project(3, config);
    up_quiet(&engine, &before).unwrap();
    let old = ids(&engine);
    engine.set_health_on_start("hello-worker-2_next", Health::Unhealthy);

    up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap_err();

    let now = ids(&engine);
    assert_eq!(now.len(), 3, "{now:?}");
    assert_ne!(now["hello-worker-1"], old["hello-worker-1"], "updated");
    assert_eq!(now["hello-worker-2"], old["hello-worker-2"], "failed, kept");
    assert_eq!(now["hello-worker-3"], old["hello-worker-3"], "not reached");
    assert!(workers(&engine).values().all(|c| c.state.is_running()));
}

#[test]
fn continue_updates_the_other_replicas_and_still_fails_the_command() {
    let config = UpdateConfig {
        parallelism: Some(1),
        failure_action: Some("continue".into()),
        ..UpdateConfig::default()
    };
    let engine = engine();
    let before = project(3, config);
    up_quiet(&engine, &before).unwrap();
    let old = ids(&engine);
    engine.set_health_on_start("hello-worker-2_next", Health::Unhealthy);
    let warnings = std::sync::Mutex::new(Vec::new());

    let error = up(&engine, &changed(before), &only_worker(), &|e| {
        if let wharf_orchestrator::Event::Warning(w) = e {
            warnings.lock().unwrap().push(w)
        }
    })
    .unwrap_err();

    assert!(error.to_string().contains("hello-worker-2"), "{error}");
    assert_eq!(warnings.lock().unwrap().len(), 1);
    let now = ids(&engine);
    assert_eq!(now.len(), 3, "{now:?}");
    assert_ne!(now["hello-worker-1"], old["hello-worker-1"]);
    assert_eq!(now["hello-worker-2"], old["hello-worker-2"]);
    assert_ne!(now["hello-worker-3"], old["hello-worker-3"]);
}

#[test]
fn a_new_container_without_health_check_must_keep_running_for_monitor() {
    let config = UpdateConfig {
        monitor: Some(Duration::from_millis(300)),
        ..UpdateConfig::default()
    };
    let engine = engine();
    let before = project(1, config);
    up_quiet(&engine, &before).unwrap();
    let started = std::time::Instant::now();
    up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn start_first_is_refused_with_a_fixed_container_name() {
    let engine = engine();
    let mut before = project(1, UpdateConfig::default());
    before.services.get_mut("worker").unwrap().container_name = Some("w".into());
    up_quiet(&engine, &before).unwrap();
    let error = up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap_err();
    let message = error.to_string();
    assert!(
        message.starts_with("service \"worker\": a start-first update")
            && message.contains("container_name \"w\"")
            && message.contains("order: stop-first"),
        "{message}"
    );
    assert_eq!(
        workers(&engine).len(),
        0,
        "nothing named worker: {:?}",
        ids(&engine)
    );
    assert!(engine.container("w").unwrap().state.is_running());
}

#[test]
fn no_downtime_on_the_command_line_overrides_the_file() {
    let engine = engine();
    let mut before = project(1, UpdateConfig::default());
    before.services.get_mut("worker").unwrap().deploy = None;
    up_quiet(&engine, &before).unwrap();
    let observed = observe(&engine, "hello").unwrap();
    let options = UpOptions {
        update_order: Some(UpdateOrder::StartFirst),
        ..only_worker()
    };
    let plan = plan_up(&changed(before.clone()), &observed, &options).unwrap();
    assert!(plan
        .to_string()
        .starts_with("1 replace container hello-worker-1 start-first"));
    let stop_first = plan_up(&changed(before), &observed, &only_worker()).unwrap();
    assert!(stop_first
        .to_string()
        .starts_with("1 stop container hello-worker-1"));
}

#[test]
fn an_unknown_order_names_the_key_and_the_choices() {
    let engine = engine();
    let mut before = project(1, UpdateConfig::default());
    up_quiet(&engine, &before).unwrap();
    let worker = before.services.get_mut("worker").unwrap();
    worker
        .deploy
        .as_mut()
        .unwrap()
        .update_config
        .as_mut()
        .unwrap()
        .order = Some("first".into());
    let observed = observe(&engine, "hello").unwrap();
    let error = plan_up(&before, &observed, &only_worker()).unwrap_err();
    assert_eq!(
        error.to_string(),
        "service \"worker\": deploy.update_config.order: unknown update order \"first\": \
         use start-first or stop-first"
    );
}

#[test]
fn a_replacement_left_by_an_interrupted_update_is_removed_by_the_next_up() {
    let engine = engine();
    let before = project(1, UpdateConfig::default());
    up_quiet(&engine, &before).unwrap();
    let old = ids(&engine)["hello-worker-1"].clone();
    // `up` was killed after starting the replacement.
    let mut next = engine.spec("hello-worker-1").unwrap();
    next.name = "hello-worker-1_next".into();
    engine.add_container(&next, true);

    up(&engine, &before, &only_worker(), &|_| {}).unwrap();

    let now = ids(&engine);
    assert_eq!(now.keys().collect::<Vec<_>>(), ["hello-worker-1"]);
    assert_eq!(now["hello-worker-1"], old);
}

#[test]
fn start_first_is_refused_for_host_network_ports_and_warns_for_named_volumes() {
    let engine = engine();
    let before = project(1, UpdateConfig::default());
    up_quiet(&engine, &before).unwrap();
    let observed = observe(&engine, "hello").unwrap();

    let mut host = changed(before.clone());
    let worker = host.services.get_mut("worker").unwrap();
    worker.network_mode = Some("host".into());
    worker.ports = hello().services["web"].ports.clone();
    let message = plan_up(&host, &observed, &only_worker())
        .unwrap_err()
        .to_string();
    assert!(message.contains("network_mode: host"), "{message}");

    // Published host ports are handed over, not refused.
    let mut published = changed(before.clone());
    published.services.get_mut("worker").unwrap().ports = hello().services["web"].ports.clone();
    let plan = plan_up(&published, &observed, &only_worker()).unwrap();
    assert!(
        plan.to_string()
            .starts_with("1 replace container hello-worker-1 start-first"),
        "{plan}"
    );

    let mut with_volume = changed(before);
    with_volume
        .volumes
        .insert("data".into(), Default::default());
    with_volume
        .services
        .get_mut("worker")
        .unwrap()
        .volumes
        .push(wharf_compose::ServiceVolume {
            kind: wharf_compose::VolumeKind::Volume,
            source: Some("data".into()),
            target: "/data".into(),
            read_only: false,
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
        });
    let plan = plan_up(&with_volume, &observed, &only_worker()).unwrap();
    assert!(
        plan.warnings
            .iter()
            .any(|w| w.contains("both mount volume \"data\" at /data")),
        "{:?}",
        plan.warnings
    );
}

#[test]
fn a_container_name_ending_like_a_replacement_is_left_alone() {
    let engine = engine();
    let mut before = project(1, UpdateConfig::default());
    before.services.get_mut("worker").unwrap().container_name = Some("worker_next".into());
    up_quiet(&engine, &before).unwrap();
    let observed = observe(&engine, "hello").unwrap();
    let plan = plan_up(&before, &observed, &only_worker()).unwrap();
    assert!(plan.is_empty(), "{plan}");
}

#[test]
fn a_replacement_waits_for_the_removal_of_a_left_over_under_its_name() {
    let engine = engine();
    let before = project(1, UpdateConfig::default());
    up_quiet(&engine, &before).unwrap();
    let mut next = engine.spec("hello-worker-1").unwrap();
    next.name = "hello-worker-1_next".into();
    engine.add_container(&next, true);
    let old = ids(&engine)["hello-worker-1"].clone();

    up(&engine, &changed(before), &only_worker(), &|_| {}).unwrap();

    let now = ids(&engine);
    assert_eq!(now.keys().collect::<Vec<_>>(), ["hello-worker-1"]);
    assert_ne!(now["hello-worker-1"], old);
}
