//! `init`, the pid / ipc / uts namespace modes, `group_add` and the memory
//! settings of a service: how they reach the container spec, which values
//! are refused, and how sharing a namespace ties a container to its source.

mod common;

use common::{all_up, assert_plan, hello};
use wharf_compose::Project;
use wharf_engine_api::{IpcMode, PidMode, UtsMode};
use wharf_orchestrator::{container_spec, plan_up, validate_service, UpOptions};

fn with(change: impl FnOnce(&mut Project)) -> Project {
    let mut project = hello();
    change(&mut project);
    project
}

/// An edit of the `hello` project.
type Change = fn(&mut Project);

fn refusal(project: &Project, service: &str) -> String {
    validate_service(project, &project.services[service])
        .unwrap_err()
        .to_string()
}

#[test]
fn modes_init_groups_and_memory_settings_reach_the_spec() {
    let project = with(|p| {
        let worker = p.services.get_mut("worker").unwrap();
        worker.ipc = Some("shareable".into());
        worker.pid = Some("host".into());
        worker.uts = Some("host".into());
        worker.init = Some(true);
        worker.group_add = vec!["tty".into(), " 4242 ".into()];
        worker.oom_kill_disable = true;
        worker.mem_swappiness = Some(10);
        let web = p.services.get_mut("web").unwrap();
        web.ipc = Some("service:worker".into());
        web.pid = Some("container:elsewhere".into());
        web.mem_swappiness = Some(-1);
    });
    let worker = container_spec(&project, &project.services["worker"], 1).unwrap();
    assert!(worker.init);
    assert_eq!(worker.pid_mode, PidMode::Host);
    assert_eq!(worker.ipc_mode, IpcMode::Shareable);
    assert_eq!(worker.uts_mode, UtsMode::Host);
    assert_eq!(worker.group_add, ["tty", "4242"]);
    assert!(worker.resources.oom_kill_disable);
    assert_eq!(worker.resources.mem_swappiness, Some(10));
    let web = container_spec(&project, &project.services["web"], 1).unwrap();
    assert_eq!(web.ipc_mode, IpcMode::Container("hello-worker-1".into()));
    assert_eq!(web.pid_mode, PidMode::Container("elsewhere".into()));
    assert_eq!(
        web.resources.mem_swappiness, None,
        "-1 is the kernel's default"
    );
    assert!(!web.init);
    for name in ["worker", "web"] {
        validate_service(&project, &project.services[name]).unwrap();
    }
}

#[test]
fn defaults_add_nothing_to_the_hashed_spec() {
    let project = hello();
    let json =
        serde_json::to_string(&container_spec(&project, &project.services["web"], 1).unwrap())
            .unwrap();
    for key in [
        "init",
        "pid_mode",
        "ipc_mode",
        "uts_mode",
        "group_add",
        "oom_kill_disable",
        "mem_swappiness",
    ] {
        assert!(!json.contains(key), "{key} in {json}");
    }
}

#[test]
fn invalid_modes_and_values_are_refused_with_the_service() {
    let cases: [(Change, &str); 9] = [
        (
            |p| p.services.get_mut("web").unwrap().pid = Some("private-ish".into()),
            "pid \"private-ish\" is not valid: use host, service:NAME or container:NAME",
        ),
        (
            |p| p.services.get_mut("web").unwrap().ipc = Some("service:worker".into()),
            "the IPC namespace of service \"worker\" is private, so no other container may join it: set `ipc: shareable` on worker",
        ),
        (
            |p| p.services.get_mut("web").unwrap().pid = Some("service:nope".into()),
            "pid service:nope names no service of the project",
        ),
        (
            |p| p.services.get_mut("web").unwrap().uts = Some("container:x".into()),
            "uts \"container:x\" is not valid: host is the only mode",
        ),
        (
            |p| {
                let web = p.services.get_mut("web").unwrap();
                web.uts = Some("host".into());
                web.hostname = Some("box".into());
            },
            "hostname cannot be set with uts: host",
        ),
        (
            |p| p.services.get_mut("web").unwrap().mem_swappiness = Some(101),
            "mem_swappiness 101 is out of range: use 0 to 100",
        ),
        (
            |p| p.services.get_mut("web").unwrap().group_add = vec!["wheel:x".into()],
            "group_add entry \"wheel:x\" is not a group name or number",
        ),
        (
            |p| {
                let web = p.services.get_mut("web").unwrap();
                web.ipc = Some("host".into());
                web.shm_size = Some(1 << 20);
            },
            "shm_size cannot be set with ipc host",
        ),
        (
            |p| p.services.get_mut("web").unwrap().ipc = Some("everything".into()),
            "ipc \"everything\" is not valid",
        ),
    ];
    for (change, expected) in cases {
        let project = with(change);
        let err = refusal(&project, "web");
        assert!(err.contains(expected), "{expected:?} not in {err:?}");
        assert!(err.contains("\"web\""), "the service is named: {err}");
    }
}

#[test]
fn a_shareable_or_host_source_may_be_joined() {
    for mode in ["shareable", "host"] {
        let project = with(|p| {
            p.services.get_mut("worker").unwrap().ipc = Some(mode.into());
            p.services.get_mut("web").unwrap().ipc = Some("service:worker".into());
        });
        validate_service(&project, &project.services["web"]).unwrap();
    }
}

#[test]
fn recreating_a_namespace_source_recreates_the_containers_inside_it() {
    for attribute in ["pid", "ipc", "network_mode"] {
        let share = |p: &mut Project| {
            p.services.get_mut("worker").unwrap().ipc = Some("shareable".into());
            let web = p.services.get_mut("web").unwrap();
            let mode = Some("service:worker".to_string());
            match attribute {
                "pid" => web.pid = mode,
                "ipc" => web.ipc = mode,
                _ => {
                    web.network_mode = mode;
                    web.ports.clear();
                }
            }
        };
        let before = with(share);
        let observed = all_up(&before);
        let after = with(|p| {
            share(p);
            p.services.get_mut("worker").unwrap().command = Some(vec!["true".into()]);
        });
        let plan = plan_up(&after, &observed, &UpOptions::default()).unwrap();
        assert_plan(
            &plan.to_string(),
            "
            1 stop container hello-worker-1: recreate (command changed)
            2 rename container hello-worker-1 to 776f726b6572_hello-worker-1: recreate (command changed) (after 1)
            3 create container hello-worker-1: recreate (command changed) (after 2)
            4 start container hello-worker-1: recreate (command changed) (after 3)
            5 remove container 776f726b6572_hello-worker-1: recreate (command changed) (after 4)
            6 stop container hello-web-1: recreate (shares the namespaces of recreated service worker)
            7 rename container hello-web-1 to 776562310000_hello-web-1: recreate (shares the namespaces of recreated service worker) (after 6)
            8 create container hello-web-1: recreate (shares the namespaces of recreated service worker) (after 5, 7)
            9 start container hello-web-1: recreate (shares the namespaces of recreated service worker) (after 8)
            10 remove container 776562310000_hello-web-1: recreate (shares the namespaces of recreated service worker) (after 9)
            ",
        );
        let kept = plan_up(
            &after,
            &observed,
            &UpOptions {
                no_recreate: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert!(kept.is_empty(), "{attribute}: {kept}");
    }
    // Without sharing, web stays as it is.
    let observed = all_up(&hello());
    let after = with(|p| p.services.get_mut("worker").unwrap().command = Some(vec![]));
    let plan = plan_up(&after, &observed, &UpOptions::default()).unwrap();
    assert!(!plan.to_string().contains("hello-web-1"), "{plan}");
}
