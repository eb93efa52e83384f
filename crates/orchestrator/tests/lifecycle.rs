//! Plan golden tests of `start`, `stop`, `restart` and `rm`.

mod common;

use common::{all_up, assert_plan, hello};
use wharf_engine_api::ContainerState;
use wharf_orchestrator::{plan_restart, plan_rm, plan_start, plan_stop, Observed, Target};

fn target<'a>(project: &'a wharf_compose::Project, services: &'a [String]) -> Target<'a> {
    Target {
        project_name: "hello",
        project: Some(project),
        services,
    }
}

fn stopped(mut observed: Observed) -> Observed {
    for c in &mut observed.containers {
        c.state = ContainerState::Exited {
            exit_code: 0,
            finished_at: 1_700_000_100,
            oom_killed: false,
        };
    }
    observed
}

#[test]
fn stop_goes_dependents_first() {
    let project = hello();
    let plan = plan_stop(&target(&project, &[]), &all_up(&project), None);
    assert_plan(
        &plan.to_string(),
        "
        1 stop container hello-web-1
        2 stop container hello-worker-1 (after 1)
        ",
    );
}

#[test]
fn stop_of_one_service_touches_only_it() {
    let project = hello();
    let services = ["worker".to_string()];
    let plan = plan_stop(&target(&project, &services), &all_up(&project), None);
    assert_plan(&plan.to_string(), "1 stop container hello-worker-1");
}

#[test]
fn stop_of_stopped_containers_does_nothing() {
    let project = hello();
    let plan = plan_stop(&target(&project, &[]), &stopped(all_up(&project)), None);
    assert_plan(&plan.to_string(), "nothing to do");
}

#[test]
fn start_goes_dependencies_first() {
    let project = hello();
    let plan = plan_start(&target(&project, &[]), &stopped(all_up(&project)));
    assert_plan(
        &plan.to_string(),
        "
        1 start container hello-worker-1
        2 start container hello-web-1 (after 1)
        ",
    );
}

#[test]
fn start_of_running_containers_does_nothing() {
    let project = hello();
    let plan = plan_start(&target(&project, &[]), &all_up(&project));
    assert_plan(&plan.to_string(), "nothing to do");
    assert_eq!(plan.running, ["hello-worker-1", "hello-web-1"]);
}

#[test]
fn restart_stops_all_then_starts_all() {
    let project = hello();
    let plan = plan_restart(&target(&project, &[]), &all_up(&project), None);
    assert_plan(
        &plan.to_string(),
        "
        1 stop container hello-web-1
        2 stop container hello-worker-1 (after 1)
        3 start container hello-worker-1 (after 1, 2)
        4 start container hello-web-1 (after 1, 2, 3)
        ",
    );
}

#[test]
fn rm_leaves_running_containers_unless_asked_to_stop_them() {
    let project = hello();
    let observed = all_up(&project);
    assert_plan(
        &plan_rm(&target(&project, &[]), &observed, false, None).to_string(),
        "nothing to do",
    );
    assert_plan(
        &plan_rm(&target(&project, &[]), &observed, true, None).to_string(),
        "
        1 stop container hello-web-1
        2 remove container hello-web-1 (after 1)
        3 stop container hello-worker-1 (after 1)
        4 remove container hello-worker-1 (after 3)
        ",
    );
    assert_plan(
        &plan_rm(&target(&project, &[]), &stopped(observed), false, None).to_string(),
        "
        1 remove container hello-web-1
        2 remove container hello-worker-1
        ",
    );
}
