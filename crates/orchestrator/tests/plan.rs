//! Plan golden tests: given a project and observed state, the plan reads
//! exactly so. No engine involved.

mod common;

use common::{all_up, assert_plan, container, hello};
use wharf_compose::Network;
use wharf_orchestrator::{plan_down, plan_up, DownOptions, Observed, OrchestratorError, UpOptions};

fn up(project: &wharf_compose::Project, observed: &Observed, options: &UpOptions) -> String {
    plan_up(project, observed, options).unwrap().to_string()
}

#[test]
fn fresh_up_creates_network_then_worker_then_web() {
    let plan = up(&hello(), &Observed::default(), &UpOptions::default());
    assert_plan(
        &plan,
        "
        1 create network hello_default: missing
        2 create container hello-worker-1: missing (after 1)
        3 start container hello-worker-1: missing (after 2)
        4 create container hello-web-1: missing (after 1, 3)
        5 start container hello-web-1: missing (after 4)
        ",
    );
}

#[test]
fn up_again_with_nothing_changed_does_nothing() {
    let project = hello();
    let plan = plan_up(&project, &all_up(&project), &UpOptions::default()).unwrap();
    assert_plan(&plan, "nothing to do");
    assert_eq!(plan.running, ["hello-worker-1", "hello-web-1"]);
}

#[test]
fn environment_change_recreates_only_worker() {
    let before = hello();
    let observed = all_up(&before);
    let mut after = hello();
    after
        .services
        .get_mut("worker")
        .unwrap()
        .environment
        .insert("GREETING".into(), "bonjour".into());
    assert_plan(
        &up(&after, &observed, &UpOptions::default()),
        "
        1 stop container hello-worker-1: recreate (environment changed)
        2 rename container hello-worker-1 to 776f726b6572_hello-worker-1: recreate (environment changed) (after 1)
        3 create container hello-worker-1: recreate (environment changed) (after 2)
        4 start container hello-worker-1: recreate (environment changed) (after 3)
        5 remove container 776f726b6572_hello-worker-1: recreate (environment changed) (after 4)
        ",
    );
}

#[test]
fn several_changes_are_all_named() {
    let observed = all_up(&hello());
    let mut after = hello();
    let web = after.services.get_mut("web").unwrap();
    web.image = Some("busybox:1.36".into());
    web.ports[0].published = Some("18081".into());
    web.limits.memory_bytes = Some(128 << 20);
    assert_plan(
        &up(&after, &observed, &UpOptions::default()),
        "
        1 stop container hello-web-1: recreate (image changed, ports changed, resources changed)
        2 rename container hello-web-1 to 776562310000_hello-web-1: recreate (image changed, ports changed, resources changed) (after 1)
        3 create container hello-web-1: recreate (image changed, ports changed, resources changed) (after 2)
        4 start container hello-web-1: recreate (image changed, ports changed, resources changed) (after 3)
        5 remove container 776562310000_hello-web-1: recreate (image changed, ports changed, resources changed) (after 4)
        ",
    );
}

#[test]
fn a_change_outside_the_named_parts_is_a_config_change() {
    let observed = all_up(&hello());
    let mut after = hello();
    after.services.get_mut("worker").unwrap().user = Some("nobody".into());
    assert_plan(
        &up(&after, &observed, &UpOptions::default()),
        "
        1 stop container hello-worker-1: recreate (config changed)
        2 rename container hello-worker-1 to 776f726b6572_hello-worker-1: recreate (config changed) (after 1)
        3 create container hello-worker-1: recreate (config changed) (after 2)
        4 start container hello-worker-1: recreate (config changed) (after 3)
        5 remove container 776f726b6572_hello-worker-1: recreate (config changed) (after 4)
        ",
    );
}

#[test]
fn no_recreate_keeps_a_changed_container() {
    let observed = all_up(&hello());
    let mut after = hello();
    after.services.get_mut("worker").unwrap().command = Some(vec!["true".into()]);
    let options = UpOptions {
        no_recreate: true,
        ..Default::default()
    };
    assert_plan(&up(&after, &observed, &options), "nothing to do");
}

#[test]
fn force_recreate_recreates_everything_in_dependency_order() {
    let project = hello();
    let options = UpOptions {
        force_recreate: true,
        ..Default::default()
    };
    assert_plan(
        &up(&project, &all_up(&project), &options),
        "
        1 stop container hello-worker-1: recreate (forced)
        2 rename container hello-worker-1 to 776f726b6572_hello-worker-1: recreate (forced) (after 1)
        3 create container hello-worker-1: recreate (forced) (after 2)
        4 start container hello-worker-1: recreate (forced) (after 3)
        5 remove container 776f726b6572_hello-worker-1: recreate (forced) (after 4)
        6 stop container hello-web-1: recreate (forced)
        7 rename container hello-web-1 to 776562310000_hello-web-1: recreate (forced) (after 6)
        8 create container hello-web-1: recreate (forced) (after 5, 7)
        9 start container hello-web-1: recreate (forced) (after 8)
        10 remove container 776562310000_hello-web-1: recreate (forced) (after 9)
        ",
    );
}

#[test]
fn recreated_dependency_restarts_dependents_that_ask_for_it() {
    let mut before = hello();
    before
        .services
        .get_mut("web")
        .unwrap()
        .depends_on
        .get_mut("worker")
        .unwrap()
        .restart = true;
    let observed = all_up(&before);
    let mut after = before.clone();
    after.services.get_mut("worker").unwrap().command = Some(vec!["true".into()]);
    assert_plan(
        &up(&after, &observed, &UpOptions::default()),
        "
        1 stop container hello-worker-1: recreate (command changed)
        2 rename container hello-worker-1 to 776f726b6572_hello-worker-1: recreate (command changed) (after 1)
        3 create container hello-worker-1: recreate (command changed) (after 2)
        4 start container hello-worker-1: recreate (command changed) (after 3)
        5 remove container 776f726b6572_hello-worker-1: recreate (command changed) (after 4)
        6 stop container hello-web-1: dependency worker recreated (after 5)
        7 start container hello-web-1: dependency worker recreated (after 6)
        ",
    );
}

#[test]
fn stopped_containers_are_started() {
    let project = hello();
    let mut observed = all_up(&project);
    observed.containers = vec![
        container(&project, "web", 1, false),
        container(&project, "worker", 1, false),
    ];
    assert_plan(
        &up(&project, &observed, &UpOptions::default()),
        "
        1 start container hello-worker-1: not running
        2 start container hello-web-1: not running (after 1)
        ",
    );
}

#[test]
fn scale_down_from_three_to_two_removes_the_third() {
    let mut three = hello();
    three.services.get_mut("web").unwrap().replicas = 3;
    let observed = all_up(&three);
    let mut two = three.clone();
    two.services.get_mut("web").unwrap().replicas = 2;
    let plan = plan_up(&two, &observed, &UpOptions::default()).unwrap();
    assert_plan(
        &plan,
        "
        1 stop container hello-web-3: beyond 2 replicas
        2 remove container hello-web-3: beyond 2 replicas (after 1)
        ",
    );
    assert_eq!(
        plan.running,
        ["hello-worker-1", "hello-web-1", "hello-web-2"]
    );
}

#[test]
fn scale_up_creates_the_missing_replicas() {
    let project = hello();
    let observed = all_up(&project);
    let mut three = project.clone();
    three.services.get_mut("web").unwrap().replicas = 3;
    assert_plan(
        &up(&three, &observed, &UpOptions::default()),
        "
        1 create container hello-web-2: missing
        2 start container hello-web-2: missing (after 1)
        3 create container hello-web-3: missing
        4 start container hello-web-3: missing (after 3)
        ",
    );
}

fn with_orphan() -> (wharf_compose::Project, Observed) {
    let mut old = hello();
    let mut old_service = common::worker();
    old_service.name = "old".into();
    old.services.insert("old".into(), old_service);
    let mut observed = all_up(&hello());
    observed.containers.push(container(&old, "old", 1, true));
    (hello(), observed)
}

#[test]
fn orphans_are_reported_but_kept_without_remove_orphans() {
    let (project, observed) = with_orphan();
    assert_plan(
        &up(&project, &observed, &UpOptions::default()),
        "
        nothing to do
        warning: Found orphan containers ([hello-old-1]) for this project. If you removed or renamed this service in your compose file, you can run this command with the --remove-orphans flag to clean it up.
        ",
    );
}

#[test]
fn orphans_are_removed_with_remove_orphans() {
    let (project, observed) = with_orphan();
    let options = UpOptions {
        remove_orphans: true,
        ..Default::default()
    };
    assert_plan(
        &up(&project, &observed, &options),
        "
        1 stop container hello-old-1: orphan
        2 remove container hello-old-1: orphan (after 1)
        ",
    );
}

#[test]
fn no_start_only_creates() {
    let options = UpOptions {
        no_start: true,
        ..Default::default()
    };
    assert_plan(
        &up(&hello(), &Observed::default(), &options),
        "
        1 create network hello_default: missing
        2 create container hello-worker-1: missing (after 1)
        3 create container hello-web-1: missing (after 1, 2)
        ",
    );
}

#[test]
fn services_filter_pulls_in_dependencies() {
    let mut project = hello();
    let mut other = common::worker();
    other.name = "other".into();
    project.services.insert("other".into(), other);
    let options = UpOptions {
        services: vec!["web".into()],
        ..Default::default()
    };
    assert_plan(
        &up(&project, &Observed::default(), &options),
        "
        1 create network hello_default: missing
        2 create container hello-worker-1: missing (after 1)
        3 start container hello-worker-1: missing (after 2)
        4 create container hello-web-1: missing (after 1, 3)
        5 start container hello-web-1: missing (after 4)
        ",
    );
    let options = UpOptions {
        services: vec!["worker".into()],
        ..Default::default()
    };
    assert_plan(
        &up(&project, &Observed::default(), &options),
        "
        1 create network hello_default: missing
        2 create container hello-worker-1: missing (after 1)
        3 start container hello-worker-1: missing (after 2)
        ",
    );
}

#[test]
fn unknown_service_is_an_error() {
    let options = UpOptions {
        services: vec!["nope".into()],
        ..Default::default()
    };
    let err = plan_up(&hello(), &Observed::default(), &options).unwrap_err();
    assert_eq!(err.to_string(), "no such service: nope");
}

#[test]
fn missing_external_network_is_an_error_and_never_created() {
    let mut project = hello();
    project.networks.insert(
        "default".into(),
        Network {
            name: "shared".into(),
            external: true,
            ..Default::default()
        },
    );
    let err = plan_up(&project, &Observed::default(), &UpOptions::default()).unwrap_err();
    assert!(matches!(err, OrchestratorError::ExternalNetworkMissing(_)));
    assert_eq!(
        err.to_string(),
        "network shared declared as external, but could not be found"
    );

    let observed = Observed {
        containers: vec![],
        networks: vec![wharf_testkit::network_info(
            &"a".repeat(64),
            "shared",
            "elsewhere",
            "x",
        )],
        volumes: Vec::new(),
    };
    let plan = plan_up(&project, &observed, &UpOptions::default()).unwrap();
    assert!(!plan.to_string().contains("create network"), "{plan}");
}

#[test]
fn dependency_cycle_is_an_error() {
    let mut project = hello();
    let web_dep = project.services["web"].depends_on["worker"].clone();
    project
        .services
        .get_mut("worker")
        .unwrap()
        .depends_on
        .insert("web".into(), web_dep);
    let err = plan_up(&project, &Observed::default(), &UpOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dependency cycle between services: web → worker → web: remove one of these depends_on"
    );
}

#[test]
fn invalid_port_is_reported_with_the_service() {
    let mut project = hello();
    project.services.get_mut("web").unwrap().ports[0].published = Some("http".into());
    let err = plan_up(&project, &Observed::default(), &UpOptions::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "service \"web\": published port \"http\" is not a number: write a port from 1 to \
         65535, or a range like 8000-8010"
    );
}

#[test]
fn down_stops_dependents_first_then_removes_networks() {
    let project = hello();
    let observed = all_up(&project);
    let expected = "
        1 stop container hello-web-1
        2 remove container hello-web-1 (after 1)
        3 stop container hello-worker-1 (after 1)
        4 remove container hello-worker-1 (after 3)
        5 remove network hello_default (after 2, 4)
        ";
    assert_plan(
        &plan_down("hello", Some(&project), &observed, &DownOptions::default()),
        expected,
    );
    // Without the project, the depends_on labels give the same order.
    assert_plan(
        &plan_down("hello", None, &observed, &DownOptions::default()),
        expected,
    );
}

#[test]
fn down_leaves_orphans_unless_asked() {
    let (project, observed) = with_orphan();
    let plan = plan_down("hello", Some(&project), &observed, &DownOptions::default());
    assert!(!plan.to_string().contains("hello-old-1\n"));
    assert!(plan.warnings[0].contains("([hello-old-1])"));
    let options = DownOptions {
        remove_orphans: true,
        ..Default::default()
    };
    let plan = plan_down("hello", Some(&project), &observed, &options);
    // What down itself does carries no shown cause; the orphans say why.
    let text = plan.to_string();
    assert!(
        text.contains("remove container hello-old-1: orphan"),
        "{plan}"
    );
    assert!(
        text.contains("remove container hello-web-1 (after"),
        "{plan}"
    );
    assert!(plan.warnings.is_empty());
}

#[test]
fn healthy_and_completed_conditions_add_a_wait_before_the_dependent() {
    let mut project = hello();
    let web = project.services.get_mut("web").unwrap();
    web.depends_on.get_mut("worker").unwrap().condition =
        wharf_compose::DependencyCondition::ServiceHealthy;
    let plan = up(&project, &Observed::default(), &UpOptions::default());
    assert_plan(
        &plan,
        "
        1 create network hello_default: missing
        2 create container hello-worker-1: missing (after 1)
        3 start container hello-worker-1: missing (after 2)
        4 wait for service worker to be healthy: web depends on it (after 3)
        5 create container hello-web-1: missing (after 1, 4)
        6 start container hello-web-1: missing (after 5)
        ",
    );
    // With --no-start nothing runs, so nothing can be waited for.
    let options = UpOptions {
        no_start: true,
        ..Default::default()
    };
    assert!(!up(&project, &Observed::default(), &options).contains("wait"));
}

#[test]
fn always_recreate_deps_recreates_the_dependencies_of_named_services_only() {
    let project = hello();
    let options = UpOptions {
        services: vec!["web".into()],
        always_recreate_deps: true,
        ..Default::default()
    };
    assert_plan(
        &up(&project, &all_up(&project), &options),
        "
        1 stop container hello-worker-1: recreate (forced)
        2 rename container hello-worker-1 to 776f726b6572_hello-worker-1: recreate (forced) (after 1)
        3 create container hello-worker-1: recreate (forced) (after 2)
        4 start container hello-worker-1: recreate (forced) (after 3)
        5 remove container 776f726b6572_hello-worker-1: recreate (forced) (after 4)
        ",
    );
    // With every service named there is no dependency-only service.
    let options = UpOptions {
        always_recreate_deps: true,
        ..Default::default()
    };
    assert_plan(&up(&project, &all_up(&project), &options), "nothing to do");
}

#[test]
fn a_container_left_aside_by_an_interrupted_recreate_is_cleaned_up() {
    let project = hello();
    let mut aside = container(&project, "worker", 1, false);
    aside.id = "f".repeat(64);
    aside.name = "ffffffffffff_hello-worker-1".into();
    // Interrupted after the create: the new container has the name.
    let mut observed = all_up(&project);
    observed.containers.push(aside.clone());
    assert_plan(
        &up(&project, &observed, &UpOptions::default()),
        "1 remove container ffffffffffff_hello-worker-1: left aside by an interrupted recreate",
    );
    // Interrupted before it: the old container is still aside.
    observed.containers.retain(|c| c.name != "hello-worker-1");
    assert_plan(
        &up(&project, &observed, &UpOptions::default()),
        "
        1 create container hello-worker-1: recreate (left aside by an interrupted recreate)
        2 start container hello-worker-1: recreate (left aside by an interrupted recreate) (after 1)
        3 remove container ffffffffffff_hello-worker-1: recreate (left aside by an interrupted recreate) (after 2)
        ",
    );
}
