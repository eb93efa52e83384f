//! Crash safety: a `wharf up -d` killed with SIGKILL half-way through a
//! 20-service project leaves a state that the next `up -d` completes and the
//! next `down` removes entirely — no processes, mounts, interfaces, cgroups or
//! state directories left.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SERVICES: usize = 20;

fn compose() -> String {
    let mut yaml = String::from("services:\n");
    for i in 0..SERVICES {
        yaml.push_str(&format!(
            "  s{i:02}:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 60 & wait; done\"]\n"
        ));
    }
    yaml
}

/// Container directories under the state root, finished or not.
fn container_dirs(root: &Path) -> usize {
    std::fs::read_dir(root.join("containers"))
        .map(|entries| entries.count())
        .unwrap_or(0)
}

/// What one attempt to kill `up -d` half-way saw.
struct Attempt {
    /// Container directories present just before SIGKILL was sent.
    dirs_at_kill: usize,
    /// Whether the kill, not `up` finishing, ended the process.
    killed: bool,
}

/// Start `up -d` and SIGKILL it as soon as at least `threshold` (but not all)
/// container directories exist. None when `up` finished before that.
fn kill_up_midway(s: &Sandbox, dir: &Path, threshold: usize) -> Option<Attempt> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["up", "-d"])
        .current_dir(dir)
        .env("WHARF_ROOT", s.root.path())
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting wharf up -d");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if child.try_wait().expect("polling wharf up").is_some() {
            return None;
        }
        let dirs = container_dirs(s.root.path());
        if (threshold..SERVICES).contains(&dirs) {
            child.kill().expect("sending SIGKILL to wharf up");
            let status = child.wait().expect("reaping wharf up");
            return Some(Attempt {
                dirs_at_kill: dirs,
                killed: status.signal() == Some(libc::SIGKILL),
            });
        }
        assert!(Instant::now() < deadline, "wharf up -d made no progress");
        std::thread::sleep(Duration::from_micros(200));
    }
}

/// Collect the exit status of processes that were re-parented to us (this
/// test is the init of its pid namespace) so they do not linger as zombies.
fn reap_orphans() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    while let Ok(status) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if status == WaitStatus::StillAlive {
            break;
        }
    }
}

/// Processes in the sandbox's pid namespace other than this test.
fn other_processes() -> Vec<String> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.chars().all(|c| c.is_ascii_digit()) && name != me
        })
        .map(|e| {
            let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
            format!(
                "{}: {}",
                e.file_name().to_string_lossy(),
                String::from_utf8_lossy(&cmdline).replace('\0', " ")
            )
        })
        .collect()
}

fn monitor_count() -> usize {
    other_processes()
        .iter()
        .filter(|p| p.contains("__monitor"))
        .count()
}

/// Cgroups below the sandbox's cgroup parent, in every hierarchy.
fn leftover_cgroups() -> Vec<String> {
    let parent = std::env::var("WHARF_CGROUP_PARENT").unwrap();
    let mut left = Vec::new();
    // Each v1 hierarchy, or the unified one (the parent sits at its root).
    let tops = std::fs::read_dir("/sys/fs/cgroup")
        .unwrap()
        .flatten()
        .map(|h| h.path().join(&parent))
        .chain([std::path::Path::new("/sys/fs/cgroup").join(&parent)]);
    for top in tops {
        for entry in std::fs::read_dir(&top).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                left.push(entry.path().display().to_string());
            }
        }
    }
    left
}

/// Interfaces in the sandbox's network namespace other than loopback.
fn interfaces() -> Vec<String> {
    std::fs::read_to_string("/proc/net/dev")
        .unwrap()
        .lines()
        .skip(2)
        .filter_map(|l| l.split(':').next())
        .map(|name| name.trim().to_string())
        .filter(|name| name != "lo")
        .collect()
}

/// `up -d` completes the project: every service once, running, one monitor
/// each, no unfinished container directory.
fn assert_converged(s: &Sandbox, dir: &Path) {
    s.ok(dir, &["up", "-d"]);
    let ps = s.ok(dir, &["ps", "--format", "json"]);
    let mut running: Vec<String> = ps
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["State"] == "running")
        .map(|v| v["Name"].as_str().unwrap().to_string())
        .collect();
    running.sort();
    let expected: Vec<String> = (0..SERVICES).map(|i| format!("crash-s{i:02}-1")).collect();
    assert_eq!(running, expected, "{ps}");
    assert_eq!(
        s.ok(dir, &["ps", "-a", "-q"]).lines().count(),
        SERVICES,
        "one container a service"
    );
    let table = s.ok(dir, &["ps"]);
    assert_eq!(
        table.lines().filter(|l| l.contains(" Up ")).count(),
        SERVICES,
        "{table}"
    );
    assert_eq!(monitor_count(), SERVICES, "{:#?}", other_processes());
    // Nothing left to do the second time.
    let again = s.wharf(dir, &["up", "-d"]);
    let again_err = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{again_err}");
    assert_eq!(
        again_err.matches("  Running").count(),
        SERVICES,
        "{again_err}"
    );
}

/// `down` leaves nothing: no process, mount, interface, cgroup, container
/// directory or network record.
fn assert_removed(s: &Sandbox, dir: &Path) {
    s.ok(dir, &["down", "-t", "1"]);
    assert_eq!(s.ok(dir, &["ps", "-a", "-q"]).trim(), "");
    // Everything is gone when `down` returns; what ended is only reaped here
    // (the test is the init of its pid namespace).
    reap_orphans();
    let left = other_processes();
    assert!(left.is_empty(), "processes left: {left:#?}");
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let root = s.root.path().to_str().unwrap();
    assert!(!mounts.contains(root), "mounts left: {mounts}");
    assert_eq!(interfaces(), Vec::<String>::new(), "interfaces left");
    assert_eq!(leftover_cgroups(), Vec::<String>::new(), "cgroups left");
    for sub in ["containers", "networks"] {
        let left: Vec<_> = std::fs::read_dir(s.root.path().join(sub))
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        assert!(left.is_empty(), "state left: {left:?}");
    }
}

#[test]
fn up_killed_midway_is_completed_by_up_and_removed_by_down() {
    sandboxed(
        "crash::up_killed_midway_is_completed_by_up_and_removed_by_down",
        |s| {
            s.import_busybox();
            let dir = s.project("crash", &compose());
            // Kill early (while the first containers are created), half-way,
            // and late (while the last ones start); the later retries cover an
            // `up` that outran the poll.
            let mut killed_at = Vec::new();
            for threshold in [1, SERVICES / 2, SERVICES - 2, 1, SERVICES / 2] {
                if killed_at.len() == 3 {
                    break;
                }
                let attempt = kill_up_midway(s, &dir, threshold);
                if let Some(attempt) = attempt.filter(|a| a.killed) {
                    assert!(
                        (1..SERVICES).contains(&attempt.dirs_at_kill),
                        "killed with {} container directories",
                        attempt.dirs_at_kill
                    );
                    killed_at.push(attempt.dirs_at_kill);
                    if killed_at.len() == 1 {
                        // What a create killed before it wrote its config leaves.
                        let unfinished = s.root.path().join("containers").join("0".repeat(64));
                        std::fs::create_dir_all(unfinished.join("upper")).unwrap();
                    }
                }
                assert_converged(s, &dir);
                assert_removed(s, &dir);
            }
            eprintln!(
                "killed wharf up -d with {killed_at:?} of {SERVICES} container directories present"
            );
            assert!(
                !killed_at.is_empty(),
                "no try killed wharf up -d before it finished"
            );
        },
    );
}

const SMALL: &str = r#"
services:
  a:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 60 & wait; done"]
    volumes: [data:/data]
    ports: ["8181:80"]
  b:
    image: busybox:latest
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 60 & wait; done"]
volumes:
  data:
"#;

/// What a reboot takes away: every process, the bridges, wharf's firewall
/// table and the cgroups. The state root stays.
pub(crate) fn simulate_reboot() {
    for process in other_processes() {
        let pid: i32 = process.split(':').next().unwrap().parse().unwrap();
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while !other_processes().is_empty() {
        reap_orphans();
        assert!(Instant::now() < deadline, "{:#?}", other_processes());
        std::thread::sleep(Duration::from_millis(10));
    }
    // The veth pairs go with the containers' namespaces; the bridges stay
    // until deleted.
    let bridges = interfaces()
        .into_iter()
        .filter(|l| l.starts_with("br-") || l == "wharf0");
    for bridge in bridges {
        let status = Command::new("busybox")
            .args(["ip", "link", "del", &bridge])
            .status()
            .unwrap();
        assert!(status.success(), "deleting {bridge}");
    }
    eventually("the interfaces to go", Duration::from_secs(10), || {
        interfaces().is_empty().then_some(())
    });
    let _ = Command::new("nft")
        .args(["delete", "table", "inet", "wharf"])
        .stderr(Stdio::null())
        .status();
    let mut cgroups = leftover_cgroups();
    // Below the project's cgroup, the containers' own.
    for project in cgroups.clone() {
        for entry in std::fs::read_dir(&project).unwrap().flatten() {
            if entry.path().is_dir() {
                cgroups.push(entry.path().display().to_string());
            }
        }
    }
    cgroups.sort_by_key(|c| std::cmp::Reverse(c.len()));
    for cgroup in cgroups {
        std::fs::remove_dir(&cgroup).unwrap_or_else(|e| panic!("rmdir {cgroup}: {e}"));
    }
}

#[test]
fn down_after_a_reboot_or_with_state_deleted_by_hand_leaves_nothing() {
    sandboxed(
        "crash::down_after_a_reboot_or_with_state_deleted_by_hand_leaves_nothing",
        |s| {
            s.import_busybox();
            let dir = s.project("reboot", SMALL);
            s.ok(&dir, &["up", "-d"]);

            // After a reboot: ps tells the containers ended, up starts them
            // again (network, firewall and cgroups made anew), down removes it all.
            simulate_reboot();
            let ps = s.ok(&dir, &["ps", "-a", "--format", "json"]);
            assert_eq!(ps.matches("\"exited\"").count(), 2, "{ps}");
            s.ok(&dir, &["up", "-d"]);
            let ps = s.ok(&dir, &["ps", "--format", "json"]);
            assert_eq!(ps.matches("\"running\"").count(), 2, "{ps}");
            simulate_reboot();
            s.ok(&dir, &["up", "-d"]);

            // A container directory deleted by hand while it runs: down still
            // ends its processes and removes its cgroup, and says so.
            let a = s.ok(&dir, &["ps", "-q", "a"]).trim().to_string();
            assert_eq!(a.len(), 64, "{a}");
            std::fs::remove_dir_all(s.root.path().join("containers").join(&a)).unwrap();
            let out = s.wharf(&dir, &["down", "-v", "-t", "1"]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert!(
                stderr.contains(&format!("{} (its state was gone)", &a[..12])),
                "{stderr}"
            );
            assert_removed(s, &dir);
            let ruleset = Command::new("nft")
                .args(["list", "ruleset"])
                .output()
                .unwrap();
            let ruleset = String::from_utf8_lossy(&ruleset.stdout);
            assert!(
                !ruleset.contains(&a),
                "rules of the removed container left: {ruleset}"
            );
            let volumes = s.ok(&dir, &["volume", "ls", "-q"]);
            assert_eq!(volumes.trim(), "", "volumes left");
        },
    );
}
