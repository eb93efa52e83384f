//! Container operations of the core against the fake engine: `exec`'s
//! errors and exit code, `stop`/`start` in dependency order, `kill`.

use std::collections::BTreeMap;
use wharf_app::containers::{ExecRequest, Lifecycle, Scope, Signal};
use wharf_app::AppError;
use wharf_engine_api::ExecSpec;
use wharf_orchestrator::UpOptions;
use wharf_testkit::FakeEngine;

fn project() -> (tempfile::TempDir, wharf_compose::Project) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("compose.yaml"),
        "services:\n  db:\n    image: busybox\n  web:\n    image: busybox\n    depends_on: [db]\n",
    )
    .unwrap();
    let options = wharf_compose::LoadOptions {
        cwd: dir.path().to_path_buf(),
        files: Vec::new(),
        project_directory: None,
        project_name: Some("ops".into()),
        env: BTreeMap::new(),
        env_files: Vec::new(),
        profiles: Vec::new(),
        services: Vec::new(),
    };
    let project = wharf_compose::load(&options).unwrap();
    (dir, project)
}

fn exec_request(service: &str) -> ExecRequest {
    ExecRequest {
        service: service.into(),
        index: 1,
        spec: ExecSpec {
            command: vec!["true".into()],
            ..Default::default()
        },
    }
}

#[test]
fn exec_tells_an_unknown_service_from_one_that_is_not_running() {
    let (_dir, project) = project();
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    let scope = Scope {
        name: "ops",
        project: Some(&project),
        services: &[],
    };
    let err = wharf_app::containers::exec(&engine, &scope, &exec_request("nope")).unwrap_err();
    assert!(matches!(err, AppError::NoSuchService { .. }), "{err:?}");
    assert_eq!(err.to_string(), "no such service: nope (services: db, web)");
    let err = wharf_app::containers::exec(&engine, &scope, &exec_request("web")).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("service \"web\" is not running"),
        "{err}"
    );

    wharf_app::up::converge(&engine, &project, &UpOptions::default(), &|_| {}).unwrap();
    engine.set_exec_code(7);
    let code = wharf_app::containers::exec(&engine, &scope, &exec_request("web")).unwrap();
    assert_eq!(code, 7);
    assert_eq!(engine.execs()[0].1.command, ["true"]);
}

#[test]
fn stop_goes_dependents_first_and_start_dependencies_first() {
    let (_dir, project) = project();
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    wharf_app::up::converge(&engine, &project, &UpOptions::default(), &|_| {}).unwrap();
    engine.clear_calls();
    let scope = Scope {
        name: "ops",
        project: Some(&project),
        services: &[],
    };
    let stop = Lifecycle::Stop { timeout: None };
    wharf_app::containers::lifecycle(&engine, &scope, stop, &|_| {}).unwrap();
    wharf_app::containers::lifecycle(&engine, &scope, Lifecycle::Start, &|_| {}).unwrap();
    assert_eq!(
        engine.changes(),
        [
            "stop_container ops-web-1",
            "stop_container ops-db-1",
            "start_container ops-db-1",
            "start_container ops-web-1",
        ]
    );
    let unknown = ["nope".to_string()];
    let scope = Scope {
        services: &unknown,
        ..scope
    };
    let err = wharf_app::containers::lifecycle(&engine, &scope, Lifecycle::Start, &|_| {});
    assert!(matches!(err, Err(AppError::NoSuchService { .. })));
}

#[test]
fn kill_keeps_going_and_names_each_failure() {
    let (_dir, project) = project();
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    wharf_app::up::converge(&engine, &project, &UpOptions::default(), &|_| {}).unwrap();
    engine.fail_on("kill_container", "ops-db-1", "no such process");
    let scope = Scope {
        name: "ops",
        project: Some(&project),
        services: &[],
    };
    let signal = Signal::Kill("SIGTERM".into());
    let err = wharf_app::containers::signal(&engine, &scope, &signal, &|_| {}).unwrap_err();
    assert_eq!(err.to_string(), "ops-db-1: no such process");
    let calls = engine.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.starts_with("kill_container") && c.contains("ops-web-1")),
        "{calls:?}"
    );
}

#[test]
fn run_creates_a_one_off_and_an_unrunnable_command_gives_its_code() {
    let (_dir, project) = project();
    let engine = FakeEngine::new();
    engine.add_image("busybox");
    assert!(wharf_app::run::wants_tty(
        &project, "web", false, false, true
    ));
    assert!(!wharf_app::run::wants_tty(
        &project, "web", true, false, true
    ));
    assert!(!wharf_app::run::wants_tty(
        &project, "web", false, true, true
    ));
    let options = wharf_orchestrator::RunOptions::default();
    let one_off = wharf_app::run::create(&engine, &project, "web", &options, &|_| {}).unwrap();
    // Its dependency is up; the one-off itself is created, not started.
    assert!(engine.container("ops-db-1").unwrap().state.is_running());
    assert!(!engine.container(&one_off.name).unwrap().state.is_running());
    let not_found = wharf_engine_api::EngineError::CommandNotRunnable {
        code: 127,
        message: "nope: command not found".into(),
    };
    let exit = wharf_app::run::finish(&engine, &one_off, true, Err(not_found)).unwrap();
    assert_eq!(exit.code, 127);
    assert_eq!(exit.message.as_deref(), Some("nope: command not found"));
    assert!(engine.container(&one_off.name).is_none());
}
