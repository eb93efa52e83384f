//! Execute, up and down against the in-memory FakeEngine.

mod common;

use common::hello;
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;
use wharf_compose::{Project, ServiceDependency};
use wharf_engine_api::{labels, Engine, EngineError};
use wharf_orchestrator::{
    down, execute, observe, plan_up, project_containers, up, DownOptions, Event, OrchestratorError,
    Status, UpOptions,
};
use wharf_testkit::FakeEngine;

/// Collects events for assertions.
#[derive(Default)]
struct Events(Mutex<Vec<Event>>);

impl Events {
    fn sink(&self) -> impl Fn(Event) + Sync + '_ {
        move |event| self.0.lock().unwrap().push(event)
    }

    fn lines(&self) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|e| match e {
                Event::Network { name, status } => format!("Network {name} {status}"),
                Event::Container { name, status } => format!("Container {name} {status}"),
                Event::Volume { name, status } => format!("Volume {name} {status}"),
                Event::Warning(message) => format!("Warning {message}"),
            })
            .collect()
    }
}

fn engine_with_busybox() -> FakeEngine {
    let engine = FakeEngine::new();
    engine.add_image("busybox:latest");
    engine
}

fn up_default(engine: &FakeEngine, project: &Project) -> Result<(), OrchestratorError> {
    up(engine, project, &UpOptions::default(), &|_| {})
}

#[test]
fn up_creates_network_then_worker_then_web() {
    let engine = engine_with_busybox();
    let events = Events::default();
    up(&engine, &hello(), &UpOptions::default(), &events.sink()).unwrap();
    assert_eq!(
        engine.changes(),
        [
            "create_network hello_default",
            "create_container hello-worker-1",
            "start_container hello-worker-1",
            "create_container hello-web-1",
            "start_container hello-web-1",
        ]
    );
    assert_eq!(
        events.lines(),
        [
            "Network hello_default Creating",
            "Network hello_default Created",
            "Container hello-worker-1 Creating",
            "Container hello-worker-1 Created",
            "Container hello-worker-1 Starting",
            "Container hello-worker-1 Started",
            "Container hello-web-1 Creating",
            "Container hello-web-1 Created",
            "Container hello-web-1 Starting",
            "Container hello-web-1 Started",
        ]
    );
    assert_eq!(engine.calls()[0], "lock_project hello");
    let web = engine.container("hello-web-1").unwrap();
    assert!(web.state.is_running());
    assert_eq!(web.label(labels::SERVICE), Some("web"));
    let network = &engine.networks()[0];
    assert_eq!(network.labels[labels::PROJECT], "hello");
    assert_eq!(network.labels[labels::NETWORK], "default");
}

#[test]
fn second_up_changes_nothing_and_reports_running() {
    let engine = engine_with_busybox();
    up_default(&engine, &hello()).unwrap();
    engine.clear_calls();
    let events = Events::default();
    up(&engine, &hello(), &UpOptions::default(), &events.sink()).unwrap();
    assert!(engine.changes().is_empty(), "{:?}", engine.changes());
    assert_eq!(
        events.lines(),
        [
            "Container hello-worker-1 Running",
            "Container hello-web-1 Running"
        ]
    );
}

#[test]
fn changed_service_is_recreated_and_reported_as_recreated() {
    let engine = engine_with_busybox();
    up_default(&engine, &hello()).unwrap();
    let old_id = engine.container("hello-worker-1").unwrap().id;
    engine.clear_calls();
    let mut changed = hello();
    changed
        .services
        .get_mut("worker")
        .unwrap()
        .environment
        .insert("GREETING".into(), "hi".into());
    let events = Events::default();
    up(&engine, &changed, &UpOptions::default(), &events.sink()).unwrap();
    assert_eq!(
        engine.changes(),
        [
            "stop_container hello-worker-1",
            "rename_container hello-worker-1",
            "create_container hello-worker-1",
            "start_container hello-worker-1",
            format!("remove_container {}_hello-worker-1", &old_id[..12]).as_str(),
        ]
    );
    assert_ne!(engine.container("hello-worker-1").unwrap().id, old_id);
    assert_eq!(engine.spec("hello-worker-1").unwrap().env["GREETING"], "hi");
    assert_eq!(
        events.lines(),
        [
            "Container hello-web-1 Running",
            "Container hello-worker-1 Recreate (environment changed)",
            "Container hello-worker-1 Recreated (environment changed)",
            "Container hello-worker-1 Starting",
            "Container hello-worker-1 Started",
        ]
    );
}

#[test]
fn failed_create_of_a_replacement_restores_the_old_container() {
    let engine = engine_with_busybox();
    up_default(&engine, &hello()).unwrap();
    let old_id = engine.container("hello-worker-1").unwrap().id;
    engine.clear_calls();
    let mut changed = hello();
    changed
        .services
        .get_mut("worker")
        .unwrap()
        .environment
        .insert("GREETING".into(), "hi".into());
    engine.fail_next(
        "create_container",
        "hello-worker-1",
        EngineError::Unavailable("no space left".into()),
    );
    let events = Events::default();
    let error = up(&engine, &changed, &UpOptions::default(), &events.sink()).unwrap_err();
    assert!(error.to_string().contains("no space left"), "{error}");
    assert_eq!(
        engine.changes(),
        [
            "stop_container hello-worker-1",
            "rename_container hello-worker-1",
            "create_container hello-worker-1",
            format!("rename_container {}_hello-worker-1", &old_id[..12]).as_str(),
            "start_container hello-worker-1",
        ]
    );
    // The old container is back under its name, running, with its config.
    let old = engine.container("hello-worker-1").unwrap();
    assert_eq!(old.id, old_id);
    assert!(old.state.is_running(), "{:?}", old.state);
    assert_ne!(
        engine.spec("hello-worker-1").unwrap().env.get("GREETING"),
        Some(&"hi".to_string())
    );
    assert_eq!(engine.containers().len(), 2);
}

#[test]
fn failed_start_of_a_replacement_restores_the_old_container() {
    let engine = engine_with_busybox();
    up_default(&engine, &hello()).unwrap();
    let old_id = engine.container("hello-worker-1").unwrap().id;
    let mut changed = hello();
    changed.services.get_mut("worker").unwrap().command = Some(vec!["/nope".into()]);
    engine.fail_next(
        "start_container",
        "hello-worker-1",
        EngineError::Unavailable("exec /nope: no such file".into()),
    );
    let events = Events::default();
    let error = up(&engine, &changed, &UpOptions::default(), &events.sink()).unwrap_err();
    assert!(error.to_string().contains("/nope"), "{error}");
    let old = engine.container("hello-worker-1").unwrap();
    assert_eq!(old.id, old_id);
    assert!(old.state.is_running(), "{:?}", old.state);
    assert_eq!(engine.containers().len(), 2);
}

#[test]
fn failed_rename_of_the_old_container_restarts_it() {
    let engine = engine_with_busybox();
    up_default(&engine, &hello()).unwrap();
    let old_id = engine.container("hello-worker-1").unwrap().id;
    let mut changed = hello();
    changed.services.get_mut("worker").unwrap().user = Some("nobody".into());
    engine.fail_next(
        "rename_container",
        "hello-worker-1",
        EngineError::Unavailable("disk error".into()),
    );
    let events = Events::default();
    up(&engine, &changed, &UpOptions::default(), &events.sink()).unwrap_err();
    let old = engine.container("hello-worker-1").unwrap();
    assert_eq!(old.id, old_id);
    assert!(old.state.is_running(), "{:?}", old.state);
}

fn independent_project() -> Project {
    let mut project = hello();
    project.services.get_mut("web").unwrap().depends_on.clear();
    project
}

#[test]
fn independent_services_run_in_parallel() {
    let engine = engine_with_busybox();
    engine.set_delay(Duration::from_millis(150));
    up_default(&engine, &independent_project()).unwrap();
    assert!(
        engine.max_in_flight() >= 2,
        "max in flight: {}",
        engine.max_in_flight()
    );
    assert_eq!(engine.container_names(), ["hello-web-1", "hello-worker-1"]);
}

#[test]
fn dependent_services_never_overlap() {
    let engine = engine_with_busybox();
    engine.set_delay(Duration::from_millis(30));
    up_default(&engine, &hello()).unwrap();
    assert_eq!(engine.max_in_flight(), 1);
}

#[test]
fn failed_start_rolls_back_everything_this_run_created() {
    let engine = engine_with_busybox();
    engine.fail_next(
        "start_container",
        "hello-web-1",
        EngineError::Unavailable("port 18080 is already in use".into()),
    );
    let events = Events::default();
    let err = up(&engine, &hello(), &UpOptions::default(), &events.sink()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container hello-web-1: port 18080 is already in use"
    );
    assert_eq!(
        engine.changes(),
        [
            "create_network hello_default",
            "create_container hello-worker-1",
            "start_container hello-worker-1",
            "create_container hello-web-1",
            "start_container hello-web-1",
            // rollback, newest first
            "remove_container hello-web-1",
            "stop_container hello-worker-1",
            "remove_container hello-worker-1",
            "remove_network hello_default",
        ]
    );
    assert!(engine.containers().is_empty());
    assert!(engine.networks().is_empty());
    assert!(events
        .lines()
        .contains(&"Container hello-web-1 Error port 18080 is already in use".to_string()));
}

#[test]
fn rollback_keeps_what_existed_before() {
    let engine = engine_with_busybox();
    // worker and the network exist from an earlier run; web is new.
    let mut only_worker = hello();
    only_worker.services.remove("web");
    up_default(&engine, &only_worker).unwrap();
    let worker_id = engine.container("hello-worker-1").unwrap().id;
    engine.clear_calls();

    engine.fail_on("start_container", "hello-web-1", "no such file: httpd");
    let err = up_default(&engine, &hello()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container hello-web-1: no such file: httpd"
    );
    assert_eq!(
        engine.changes(),
        [
            "create_container hello-web-1",
            "start_container hello-web-1",
            "remove_container hello-web-1",
        ]
    );
    assert_eq!(engine.container_names(), ["hello-worker-1"]);
    assert_eq!(engine.container("hello-worker-1").unwrap().id, worker_id);
    assert_eq!(engine.network_names(), ["hello_default"]);
}

#[test]
fn failure_stops_scheduling_dependents() {
    let engine = engine_with_busybox();
    engine.fail_next(
        "create_container",
        "hello-worker-1",
        EngineError::Invalid("no room for the container".into()),
    );
    let err = up_default(&engine, &hello()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container hello-worker-1: no room for the container"
    );
    assert_eq!(
        engine.changes(),
        [
            "create_network hello_default",
            "create_container hello-worker-1",
            "remove_network hello_default",
        ]
    );
}

#[test]
fn missing_image_fails_before_anything_is_created() {
    let engine = FakeEngine::new();
    let err = up_default(&engine, &hello()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service \"web\": image \"busybox:latest\" not found locally: import or pull it first"
    );
    assert!(engine.changes().is_empty(), "{:?}", engine.changes());
}

#[test]
fn down_stops_web_before_worker_then_removes_the_network() {
    let engine = engine_with_busybox();
    up_default(&engine, &hello()).unwrap();
    engine.clear_calls();
    let existed = down(
        &engine,
        "hello",
        Some(&hello()),
        &DownOptions::default(),
        &|_| {},
    )
    .unwrap();
    assert!(existed);
    let changes = engine.changes();
    let position = |call: &str| changes.iter().position(|c| c == call).unwrap();
    assert!(position("stop_container hello-web-1") < position("stop_container hello-worker-1"));
    assert!(position("stop_container hello-web-1") < position("remove_container hello-web-1"));
    assert_eq!(changes.last().unwrap(), "remove_network hello_default");
    assert_eq!(changes.len(), 5);
    assert!(engine.containers().is_empty() && engine.networks().is_empty());
}

#[test]
fn down_without_the_project_uses_labels() {
    let engine = engine_with_busybox();
    up_default(&engine, &hello()).unwrap();
    engine.clear_calls();
    assert!(down(&engine, "hello", None, &DownOptions::default(), &|_| {}).unwrap());
    let changes = engine.changes();
    assert_eq!(changes[0], "stop_container hello-web-1");
    assert!(engine.containers().is_empty() && engine.networks().is_empty());
}

#[test]
fn down_keeps_going_after_failures_and_reports_them_all() {
    let engine = engine_with_busybox();
    up_default(&engine, &hello()).unwrap();
    engine.fail_on("stop_container", "hello-web-1", "timed out");
    engine.fail_on("stop_container", "hello-worker-1", "no such process");
    let err = down(
        &engine,
        "hello",
        Some(&hello()),
        &DownOptions::default(),
        &|_| {},
    )
    .unwrap_err();
    let OrchestratorError::Multiple(errors) = &err else {
        panic!("expected every failure, got {err}");
    };
    assert_eq!(errors.len(), 2);
    assert_eq!(
        err.to_string(),
        "container hello-web-1: timed out\ncontainer hello-worker-1: no such process"
    );
    // The remaining steps still ran: removal (with force) and the network.
    assert!(engine.containers().is_empty());
    assert!(engine.networks().is_empty());
}

#[test]
fn down_on_nothing_is_not_up() {
    let engine = FakeEngine::new();
    assert!(!down(
        &engine,
        "hello",
        Some(&hello()),
        &DownOptions::default(),
        &|_| {}
    )
    .unwrap());
    assert!(engine.changes().is_empty());
}

#[test]
fn external_network_is_used_not_created_and_not_removed() {
    let engine = engine_with_busybox();
    engine.add_network("shared", &[]);
    let mut project = hello();
    let default = project.networks.get_mut("default").unwrap();
    default.name = "shared".into();
    default.external = true;
    up_default(&engine, &project).unwrap();
    assert!(!engine.changes().iter().any(|c| c.contains("network")));
    assert_eq!(
        engine.spec("hello-web-1").unwrap().networks[0].network,
        "shared"
    );
    down(
        &engine,
        "hello",
        Some(&project),
        &DownOptions::default(),
        &|_| {},
    )
    .unwrap();
    assert_eq!(engine.network_names(), ["shared"]);
}

#[test]
fn project_containers_sorted_by_service_and_number() {
    let engine = engine_with_busybox();
    let mut project = hello();
    project.services.get_mut("web").unwrap().replicas = 2;
    up(
        &engine,
        &project,
        &UpOptions {
            no_start: true,
            ..Default::default()
        },
        &|_| {},
    )
    .unwrap();
    engine.start_container("hello-web-2").unwrap();
    let names = |all| -> Vec<String> {
        project_containers(&engine, "hello", all)
            .unwrap()
            .into_iter()
            .map(|c| c.name)
            .collect()
    };
    assert_eq!(
        names(true),
        ["hello-web-1", "hello-web-2", "hello-worker-1"]
    );
    assert_eq!(names(false), ["hello-web-2"]);
}

#[test]
fn execute_runs_a_plan_made_from_observed_state() {
    let engine = engine_with_busybox();
    let project = hello();
    let observed = observe(&engine, "hello").unwrap();
    let plan = plan_up(&project, &observed, &UpOptions::default()).unwrap();
    execute(&engine, &plan, &|_| {}).unwrap();
    let observed = observe(&engine, "hello").unwrap();
    let again = plan_up(&project, &observed, &UpOptions::default()).unwrap();
    assert!(again.is_empty(), "{again}");
    // A status the CLI renders.
    assert_eq!(Status::Error("x".into()).to_string(), "Error x");
}

#[test]
fn required_dependency_missing_is_an_error() {
    let engine = engine_with_busybox();
    let mut project = hello();
    project.services.remove("worker");
    let err = up_default(&engine, &project).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service \"web\" depends on undefined service \"worker\""
    );
    // An optional one is skipped.
    let web = project.services.get_mut("web").unwrap();
    web.depends_on = BTreeMap::from([(
        "worker".to_string(),
        ServiceDependency {
            required: false,
            ..web.depends_on["worker"].clone()
        },
    )]);
    up_default(&engine, &project).unwrap();
    assert_eq!(engine.container_names(), ["hello-web-1"]);
}

#[test]
fn many_replicas_all_come_up() {
    let engine = engine_with_busybox();
    let mut project = independent_project();
    project.services.get_mut("web").unwrap().replicas = 40;
    project.services.get_mut("web").unwrap().ports.clear();
    up_default(&engine, &project).unwrap();
    assert_eq!(engine.containers().len(), 41);
    assert!(engine.containers().iter().all(|c| c.state.is_running()));
    assert!(plan_up(
        &project,
        &observe(&engine, "hello").unwrap(),
        &UpOptions::default()
    )
    .unwrap()
    .is_empty());
}

#[test]
fn a_plan_that_waits_for_a_later_step_is_refused() {
    let engine = engine_with_busybox();
    let mut plan = plan_up(
        &hello(),
        &observe(&engine, "hello").unwrap(),
        &UpOptions::default(),
    )
    .unwrap();
    plan.steps[0].after = vec![3];
    let err = execute(&engine, &plan, &|_| {}).unwrap_err();
    assert!(matches!(err, OrchestratorError::InvalidPlan(_)), "{err}");
    assert!(engine.changes().is_empty());
}

#[test]
fn orphan_warning_reaches_the_caller_and_the_orphan_stays() {
    let engine = engine_with_busybox();
    let mut with_old = hello();
    let mut old = common::worker();
    old.name = "old".into();
    with_old.services.insert("old".into(), old);
    up_default(&engine, &with_old).unwrap();
    engine.clear_calls();
    let warnings = Mutex::new(Vec::new());
    wharf_orchestrator::up_reporting(
        &engine,
        &hello(),
        &UpOptions::default(),
        &|_| {},
        &|w: &str| warnings.lock().unwrap().push(w.to_string()),
    )
    .unwrap();
    let warnings = warnings.into_inner().unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].starts_with("Found orphan containers ([hello-old-1])"));
    assert!(engine.changes().is_empty());
    let options = UpOptions {
        remove_orphans: true,
        ..Default::default()
    };
    up(&engine, &hello(), &options, &|_| {}).unwrap();
    assert_eq!(engine.container_names(), ["hello-web-1", "hello-worker-1"]);
}

#[test]
fn a_limit_the_engine_refuses_is_reported_with_its_compose_keys() {
    let engine = engine_with_busybox();
    let mut project = hello();
    project
        .services
        .get_mut("worker")
        .unwrap()
        .limits
        .memory_bytes = Some(4096);
    engine.fail_next(
        "create_container",
        "hello-worker-1",
        EngineError::Invalid("memory 4096 is below the 6 MiB a container needs".into()),
    );
    let events = Events::default();
    let err = up(&engine, &project, &UpOptions::default(), &events.sink()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "container hello-worker-1: memory 4096 is below the 6 MiB a container needs \
         (set by deploy.resources.limits.memory or mem_limit)"
    );
    assert!(
        events.lines().contains(
            &"Container hello-worker-1 Error memory 4096 is below the 6 MiB a container \
              needs (set by deploy.resources.limits.memory or mem_limit)"
                .to_string()
        ),
        "{:?}",
        events.lines()
    );
}
