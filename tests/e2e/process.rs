//! The container's process tree and what it shares: `init: true`, the pid,
//! ipc and uts namespace modes, `group_add`, `oom_kill_disable` and
//! `mem_swappiness`, and `pause` / `unpause`.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// `ps -a --format json` of one service: (State, ExitCode, Status).
fn state_of(s: &Sandbox, dir: &Path, service: &str) -> Option<(String, i64, String)> {
    s.ok(dir, &["ps", "-a", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["Service"] == service)
        .map(|v| {
            (
                v["State"].as_str().unwrap().to_string(),
                v["ExitCode"].as_i64().unwrap(),
                v["Status"].as_str().unwrap().to_string(),
            )
        })
}

/// (pid, command) of every process busybox `ps` lists in the container.
fn processes(s: &Sandbox, dir: &Path, service: &str) -> Vec<(u32, String)> {
    s.ok(dir, &["exec", "-T", service, "ps"])
        .lines()
        .skip(1)
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let pid = words.next()?.parse().ok()?;
            // PID USER COMMAND
            let command: Vec<&str> = words.skip(1).collect();
            Some((pid, command.join(" ")))
        })
        .collect()
}

/// The state letters (`S`, `Z`, …) of the container's processes, from their
/// /proc/<pid>/stat as the container sees it.
fn process_states(s: &Sandbox, dir: &Path, service: &str) -> Vec<String> {
    let out = s.wharf(
        dir,
        &["exec", "-T", service, "sh", "-c", "cat /proc/[0-9]*/stat"],
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| Some(l[l.rfind(')')? + 2..].split(' ').next()?.to_string()))
        .collect()
}

fn exec(s: &Sandbox, dir: &Path, service: &str, script: &str) -> String {
    s.ok(dir, &["exec", "-T", service, "sh", "-c", script])
        .trim()
        .to_string()
}

/// The directory of a container's cgroup in a v1 controller (this host's
/// hierarchy; a hybrid host counts as v1).
fn cgroup_dir(s: &Sandbox, dir: &Path, project: &str, service: &str, controller: &str) -> PathBuf {
    let id = s.ok(dir, &["ps", "-q", service]).trim().to_string();
    assert_eq!(id.len(), 64, "ps -q {service}: {id:?}");
    let parent = std::env::var("WHARF_CGROUP_PARENT").unwrap();
    Path::new("/sys/fs/cgroup")
        .join(controller)
        .join(parent)
        .join(project)
        .join(id)
}

fn v1_host() -> bool {
    !Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

const INIT: &str = r#"
services:
  box:
    image: busybox
    init: true
    command: ["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 1 & wait; done"]
  reaped:
    image: busybox
    init: true
    command: ["sleep", "3600"]
  plain:
    image: busybox
    command: ["sleep", "3600"]
  exits:
    image: busybox
    init: true
    command: ["sh", "-c", "exit 7"]
"#;

#[test]
fn init_reaps_forwards_the_stop_signal_and_keeps_the_exit_code() {
    sandboxed(
        "process::init_reaps_forwards_the_stop_signal_and_keeps_the_exit_code",
        |s| {
            s.import_busybox();
            let dir = s.project("ini", INIT);
            s.ok(&dir, &["up", "-d"]);

            // pid 1 is the init; the command is its child.
            let ps = processes(s, &dir, "box");
            let first = ps.iter().find(|(pid, _)| *pid == 1).expect("pid 1");
            assert!(first.1.starts_with("wharf-init -- sh -c"), "{ps:?}");
            assert!(
                ps.iter()
                    .any(|(pid, cmd)| *pid != 1 && cmd.starts_with("sh -c trap")),
                "{ps:?}"
            );
            let plain = processes(s, &dir, "plain");
            assert!(plain
                .iter()
                .any(|(pid, cmd)| *pid == 1 && cmd == "sleep 3600"));

            // The init is a copy of the host binary: root with the default
            // capabilities can neither write it, nor read it, nor run it.
            for script in [
                "echo x >> /proc/1/exe",
                "cat /proc/1/exe > /dev/null",
                "/proc/1/exe --version",
                "ls /proc/1/root/",
                // (busybox ls reports the unreadable link but exits 0)
                "ls -l /proc/1/exe || true",
            ] {
                let out = s.wharf(&dir, &["exec", "-T", "box", "sh", "-c", script]);
                let err = String::from_utf8_lossy(&out.stderr);
                assert!(err.contains("ermission denied"), "{script}: {err}");
                assert!(
                    !out.status.success() || script.ends_with("true"),
                    "{script}: {out:?}"
                );
            }
            assert_eq!(exec(s, &dir, "box", "id -u"), "0");

            // An orphan goes to pid 1: the init reaps it, a plain `sleep` as
            // pid 1 leaves a zombie.
            for service in ["reaped", "plain"] {
                exec(s, &dir, service, "sleep 0.2 & exit 0");
            }
            eventually(
                "a zombie under the plain sleep",
                Duration::from_secs(20),
                || {
                    process_states(s, &dir, "plain")
                        .contains(&"Z".to_string())
                        .then_some(())
                },
            );
            eventually("the orphan reaped by init", Duration::from_secs(20), || {
                let states = process_states(s, &dir, "reaped");
                // init, its sleep, and the shell reading /proc.
                (states.len() == 3 && !states.contains(&"Z".to_string())).then_some(())
            });

            // stop: SIGTERM reaches the shell's trap through the init, and the
            // container exits with the shell's code, long before the 10 s grace.
            let started = Instant::now();
            s.ok(&dir, &["stop", "box"]);
            assert!(
                started.elapsed() < Duration::from_secs(8),
                "{:?}",
                started.elapsed()
            );
            let (state, code, _) = state_of(s, &dir, "box").unwrap();
            assert_eq!((state.as_str(), code), ("exited", 3));
            let (state, code, _) = eventually("exits to exit", Duration::from_secs(20), || {
                state_of(s, &dir, "exits").filter(|(state, _, _)| state == "exited")
            });
            assert_eq!((state.as_str(), code), ("exited", 7));
            s.ok(&dir, &["kill", "reaped"]);
            let (_, code, _) = eventually("reaped to die", Duration::from_secs(20), || {
                state_of(s, &dir, "reaped").filter(|(state, _, _)| state == "exited")
            });
            assert_eq!(code, 137, "SIGKILL");

            // A one-off container of an init service: the command's code.
            let out = s.wharf(&dir, &["run", "--rm", "-T", "exits", "sh", "-c", "exit 5"]);
            assert_eq!(out.status.code(), Some(5), "{out:?}");

            s.ok(&dir, &["down", "-t", "1"]);
        },
    );
}

const MODES: &str = r#"
services:
  web:
    image: busybox
    command: ["sleep", "3600"]
    ipc: shareable
    environment: {GENERATION: "GEN"}
  side:
    image: busybox
    command: ["sleep", "3601"]
    pid: "service:web"
    ipc: "service:web"
  lone:
    image: busybox
    command: ["sleep", "3602"]
  hosted:
    image: busybox
    command: ["sleep", "3603"]
    pid: host
    ipc: host
    uts: host
"#;

fn ns(s: &Sandbox, dir: &Path, service: &str, kind: &str) -> String {
    exec(s, dir, service, &format!("readlink /proc/self/ns/{kind}"))
}

#[test]
fn pid_ipc_and_uts_modes_share_namespaces_and_follow_their_source() {
    sandboxed(
        "process::pid_ipc_and_uts_modes_share_namespaces_and_follow_their_source",
        |s| {
            s.import_busybox();
            let dir = s.project("modes", &MODES.replace("GEN", "1"));
            let out = s.wharf(&dir, &["up", "-d"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            let web_started = err.find("Container modes-web-1  Started").expect(&err);
            let side_starting = err.find("Container modes-side-1  Starting").expect(&err);
            assert!(
                web_started < side_starting,
                "the source starts first:\n{err}"
            );

            for kind in ["pid", "ipc"] {
                assert_eq!(
                    ns(s, &dir, "side", kind),
                    ns(s, &dir, "web", kind),
                    "{kind}"
                );
                assert_ne!(
                    ns(s, &dir, "lone", kind),
                    ns(s, &dir, "web", kind),
                    "{kind}"
                );
            }
            assert_ne!(ns(s, &dir, "side", "uts"), ns(s, &dir, "web", "uts"));
            // side sees web's processes; POSIX shared memory and message queues
            // are shared too.
            let ps = processes(s, &dir, "side");
            assert!(
                ps.iter().any(|(pid, cmd)| *pid == 1 && cmd == "sleep 3600"),
                "{ps:?}"
            );
            exec(
                s,
                &dir,
                "web",
                "echo hi > /dev/shm/note && touch /dev/mqueue/queue",
            );
            assert_eq!(exec(s, &dir, "side", "cat /dev/shm/note"), "hi");
            assert_eq!(exec(s, &dir, "side", "ls /dev/mqueue"), "queue");
            assert_eq!(exec(s, &dir, "lone", "ls /dev/shm"), "");
            assert_eq!(exec(s, &dir, "lone", "ls /dev/mqueue"), "");

            // The host's pid, IPC and UTS namespaces (this sandbox's pid
            // namespace; the host's name).
            let own = |kind: &str| {
                std::fs::read_link(format!("/proc/self/ns/{kind}"))
                    .unwrap()
                    .display()
                    .to_string()
            };
            for kind in ["pid", "ipc", "uts"] {
                assert_eq!(ns(s, &dir, "hosted", kind), own(kind), "{kind}");
            }
            let host_name = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
            assert_eq!(exec(s, &dir, "hosted", "hostname"), host_name.trim());
            assert_eq!(
                exec(s, &dir, "hosted", "cat /etc/hostname"),
                host_name.trim()
            );

            // Recreating web recreates side, which joins the new namespaces.
            std::fs::write(dir.join("compose.yaml"), MODES.replace("GEN", "2")).unwrap();
            // (sleep, web's pid 1, ignores SIGTERM: a short grace period.)
            let out = s.wharf(&dir, &["up", "-d", "-t", "1"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            assert!(err.contains(
                    "Container modes-side-1  Recreated (shares the namespaces of recreated service web)"
                ), "{err}");
            assert!(err.contains("Container modes-lone-1  Running"), "{err}");
            for kind in ["pid", "ipc"] {
                assert_eq!(
                    ns(s, &dir, "side", kind),
                    ns(s, &dir, "web", kind),
                    "{kind}"
                );
            }
            s.ok(&dir, &["down", "-t", "0"]);

            // Refused up front: joining a private IPC namespace, a host name
            // with the host's UTS namespace, a mode that does not exist.
            for (name, yaml, message) in [
                (
                    "private",
                    "services:\n  a:\n    image: busybox\n  b:\n    image: busybox\n    ipc: service:a\n",
                    "the IPC namespace of service \"a\" is private",
                ),
                (
                    "utsname",
                    "services:\n  a:\n    image: busybox\n    uts: host\n    hostname: box\n",
                    "hostname cannot be set with uts: host",
                ),
                (
                    "badpid",
                    "services:\n  a:\n    image: busybox\n    pid: sibling\n",
                    "pid \"sibling\" is not valid",
                ),
            ] {
                let dir = s.project(name, yaml);
                let err = s.fails(&dir, &["up", "-d"]);
                assert!(err.contains(message), "{name}: {err}");
                assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "", "{name}");
            }
        },
    );
}

const GROUPS: &str = r#"
services:
  box:
    image: busybox
    command: ["sleep", "3600"]
    user: "33"
    group_add: [tty, "4242"]
    mem_limit: 64m
    oom_kill_disable: true
    mem_swappiness: 10
"#;

#[test]
fn group_add_and_memory_settings_reach_the_container() {
    sandboxed(
        "process::group_add_and_memory_settings_reach_the_container",
        |s| {
            s.import_busybox();
            let dir = s.project("grp", GROUPS);
            if !v1_host() {
                // cgroup v2 cannot honour them: refused before anything exists.
                let err = s.fails(&dir, &["up", "-d"]);
                assert!(err.contains("oom_kill_disable cannot be enforced"), "{err}");
                return;
            }
            s.ok(&dir, &["up", "-d"]);
            // The command and exec'd processes both get the groups.
            assert_eq!(exec(s, &dir, "box", "id -G"), "33 5 4242");
            assert_eq!(
                exec(s, &dir, "box", "grep Groups: /proc/1/status"),
                "Groups:\t5 4242"
            );
            let memory = cgroup_dir(s, &dir, "grp", "box", "memory");
            let oom = std::fs::read_to_string(memory.join("memory.oom_control")).unwrap();
            assert!(oom.contains("oom_kill_disable 1"), "{oom}");
            let swappiness = std::fs::read_to_string(memory.join("memory.swappiness")).unwrap();
            assert_eq!(swappiness.trim(), "10");
            s.ok(&dir, &["down", "-t", "0"]);

            let dir = s.project(
                "nogrp",
                "services:\n  a:\n    image: busybox\n    command: [sleep, '60']\n    group_add: [wizards]\n",
            );
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(err.contains("unable to find group wizards"), "{err}");
            let dir = s.project(
                "badswap",
                "services:\n  a:\n    image: busybox\n    mem_swappiness: 150\n",
            );
            let err = s.fails_loading(&dir, &["up", "-d"]);
            assert!(
                err.contains("services.a.mem_swappiness: must be a number from 0 to 100"),
                "{err}"
            );
        },
    );
}

const PAUSE: &str = r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 1 & wait; done"]
  worker:
    image: busybox
    command: ["sh", "-c", "trap 'exit 3' TERM; while :; do sleep 1 & wait; done"]
"#;

#[test]
fn pause_and_unpause_freeze_the_cgroup_and_stop_kill_and_down_still_work() {
    sandboxed(
        "process::pause_and_unpause_freeze_the_cgroup_and_stop_kill_and_down_still_work",
        |s| {
            s.import_busybox();
            let dir = s.project("pz", PAUSE);
            s.ok(&dir, &["up", "-d"]);
            let freezer = |service: &str| {
                let dir = cgroup_dir(s, &dir, "pz", service, "freezer");
                std::fs::read_to_string(dir.join("freezer.state"))
                    .unwrap()
                    .trim()
                    .to_string()
            };

            let out = s.wharf(&dir, &["pause", "web"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            assert_eq!(err, " Container pz-web-1  Paused\n");
            if v1_host() {
                assert_eq!(freezer("web"), "FROZEN");
                assert_eq!(freezer("worker"), "THAWED");
            }
            let (state, _, status) = state_of(s, &dir, "web").unwrap();
            assert_eq!(state, "paused");
            assert!(
                status.starts_with("Up ") && status.ends_with(" (Paused)"),
                "{status}"
            );
            let table = s.ok(&dir, &["ps"]);
            let web_row = table.lines().find(|l| l.starts_with("pz-web-1")).unwrap();
            assert!(web_row.contains("(Paused)"), "{table}");
            assert!(!table
                .lines()
                .any(|l| l.starts_with("pz-worker-1") && l.contains("Paused")));
            assert_eq!(
                s.ok(&dir, &["ps", "-q", "--status", "paused"])
                    .lines()
                    .count(),
                1
            );
            let ls = s.ok(&dir, &["ls"]);
            assert!(ls.contains("paused(1), running(1)"), "{ls}");
            let err = s.fails(&dir, &["exec", "-T", "web", "true"]);
            assert!(
                err.contains("container pz-web-1 is paused: unpause it first"),
                "{err}"
            );
            let err = s.fails(&dir, &["pause", "web"]);
            assert!(
                err.contains("container pz-web-1 is already paused"),
                "{err}"
            );

            let out = s.wharf(&dir, &["unpause", "web"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            assert_eq!(err, " Container pz-web-1  Unpaused\n");
            assert_eq!(state_of(s, &dir, "web").unwrap().0, "running");
            if v1_host() {
                assert_eq!(freezer("web"), "THAWED");
            }
            exec(s, &dir, "web", "true");
            let err = s.fails(&dir, &["unpause", "web"]);
            assert!(err.contains("container pz-web-1 is not paused"), "{err}");

            // Paused containers are thawed to stop (the trap runs) or be killed.
            s.ok(&dir, &["pause"]);
            assert_eq!(state_of(s, &dir, "worker").unwrap().0, "paused");
            let started = Instant::now();
            s.ok(&dir, &["stop", "web"]);
            assert!(started.elapsed() < Duration::from_secs(8));
            let (state, code, _) = state_of(s, &dir, "web").unwrap();
            assert_eq!((state.as_str(), code), ("exited", 3));
            s.ok(&dir, &["kill", "worker"]);
            let (_, code, _) = eventually("worker to die", Duration::from_secs(20), || {
                state_of(s, &dir, "worker").filter(|(state, _, _)| state == "exited")
            });
            assert_eq!(code, 137);

            // down of a paused project.
            s.ok(&dir, &["start"]);
            s.ok(&dir, &["pause"]);
            s.ok(&dir, &["down", "-t", "5"]);
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
        },
    );
}
