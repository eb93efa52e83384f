//! The walking skeleton end to end: the busybox `hello` example is imported,
//! brought up, used, inspected and taken down, and nothing is left behind.

use crate::harness::{eventually, http_get, sandboxed, Sandbox};
use std::path::Path;
use std::time::Duration;

const COMPOSE: &str = include_str!("../../examples/hello/compose.yaml");
const INDEX: &str = include_str!("../../examples/hello/site/index.html");

fn v2_host() -> bool {
    Path::new("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// The project's cgroup in `controller`'s v1 hierarchy, or in the unified one.
fn cgroup_dir(controller: &str, project: &str) -> std::path::PathBuf {
    let parent = std::env::var("WHARF_CGROUP_PARENT").unwrap();
    let root = Path::new("/sys/fs/cgroup");
    if v2_host() {
        root.join(parent).join(project)
    } else {
        root.join(controller).join(parent).join(project)
    }
}

/// The trimmed content of `v1` (in `controller`'s hierarchy) or `v2`, in the
/// container's cgroup.
fn cgroup_value(project: &str, id: &str, controller: &str, v1: &str, v2: &str) -> String {
    let file = if v2_host() { v2 } else { v1 };
    let path = cgroup_dir(controller, project).join(id).join(file);
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn container_id(s: &Sandbox, dir: &Path, service: &str) -> String {
    let out = s.ok(dir, &["ps", "-q", service]);
    let id = out.trim().to_string();
    assert_eq!(id.len(), 64, "ps -q {service} printed {out:?}");
    id
}

#[test]
fn hello_stack_up_use_and_down() {
    sandboxed("hello::hello_stack_up_use_and_down", |s| {
        s.import_busybox();
        let images = s.ok(s.work.path(), &["image", "ls"]);
        assert!(
            images.starts_with("REPOSITORY   TAG       IMAGE ID"),
            "{images}"
        );
        assert!(images.contains("busybox      latest"), "{images}");

        let dir = s.project("hello", COMPOSE);
        std::fs::create_dir_all(dir.join("site")).unwrap();
        std::fs::write(dir.join("site/index.html"), INDEX).unwrap();

        // Down before up: nothing to do, not an error.
        let out = s.wharf(&dir, &["down"]);
        assert!(out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("No resource found"));

        let up = s.wharf(&dir, &["up", "-d"]);
        let up_err = String::from_utf8_lossy(&up.stderr);
        assert!(up.status.success(), "up failed: {up_err}");
        assert!(
            up_err.contains("Network hello_default  Created"),
            "{up_err}"
        );
        let worker_started = up_err
            .find("Container hello-worker-1  Started")
            .expect(&up_err);
        let web_created = up_err
            .find("Container hello-web-1  Created")
            .expect(&up_err);
        assert!(
            worker_started < web_created,
            "worker must start before web is created:\n{up_err}"
        );

        // A second `up` at the same time as a third finds everything in place.
        let (a, b) = std::thread::scope(|scope| {
            let a = scope.spawn(|| s.wharf(&dir, &["up", "-d"]));
            let b = scope.spawn(|| s.wharf(&dir, &["up", "-d"]));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
        assert!(
            String::from_utf8_lossy(&a.stderr).contains("Container hello-web-1  Running"),
            "{a:?}"
        );
        assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).lines().count(), 2);

        // The page, through the published port.
        let page = eventually(
            "the page on 127.0.0.1:18080",
            Duration::from_secs(10),
            || http_get("127.0.0.1:18080", "/").filter(|r| r.contains("Hello from wharf")),
        );
        assert!(page.starts_with("HTTP/1.1 200 OK"), "{page}");

        // ps: table, -q, json.
        let ps = s.ok(&dir, &["ps"]);
        let lines: Vec<&str> = ps.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
        );
        assert!(lines[1].starts_with("hello-web-1 "), "{ps}");
        assert!(lines[1].contains("\"httpd -f -v -p 8080…\""), "{ps}");
        assert!(lines[1].contains("Up "), "{ps}");
        assert!(lines[1].contains("127.0.0.1:18080->8080/tcp"), "{ps}");
        assert!(lines[2].starts_with("hello-worker-1 "), "{ps}");
        assert_eq!(s.ok(&dir, &["ps", "-q"]).lines().count(), 2);
        let json = s.ok(&dir, &["ps", "--format", "json"]);
        let entries: Vec<serde_json::Value> = json
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0]["Service"], "web");
        assert_eq!(entries[0]["State"], "running");
        assert_eq!(entries[0]["Publishers"][0]["PublishedPort"], 18080);

        // top, port, ls.
        let top = s.ok(&dir, &["top", "web"]);
        assert!(top.starts_with("hello-web-1\nUID "), "{top}");
        assert!(
            top.lines()
                .any(|l| l.starts_with("root ") && l.ends_with("httpd -f -v -p 8080 -h /www")),
            "{top}"
        );
        assert_eq!(
            s.ok(&dir, &["port", "web", "8080"]).trim(),
            "127.0.0.1:18080"
        );
        let ls = s.ok(&dir, &["ls"]);
        assert!(
            ls.lines()
                .any(|l| l.starts_with("hello ") && l.contains("running(2)")),
            "{ls}"
        );

        // exec: exit codes, namespaces, name resolution, hostname, environment.
        let web_id = container_id(s, &dir, "web");
        let out = s.wharf(&dir, &["exec", "web", "sh", "-c", "exit 3"]);
        assert_eq!(out.status.code(), Some(3));
        assert_eq!(
            s.ok(&dir, &["exec", "web", "hostname"]).trim(),
            &web_id[..12]
        );
        let init = s.ok(&dir, &["exec", "web", "cat", "/proc/1/cmdline"]);
        assert!(init.starts_with("httpd\0"), "pid 1 of web is {init:?}");
        let ping = s.ok(
            &dir,
            &["exec", "web", "ping", "-c", "1", "-W", "2", "worker"],
        );
        assert!(ping.contains("1 packets received"), "{ping}");
        // As on docker's user networks, other containers are found through
        // DNS, not /etc/hosts, which cannot follow them as they stop and start.
        let hosts = s.ok(&dir, &["exec", "web", "cat", "/etc/hosts"]);
        assert!(!hosts.contains("worker"), "{hosts}");
        let env = s.ok(&dir, &["exec", "worker", "env"]);
        assert!(env.lines().any(|l| l == "GREETING=hello"), "{env}");
        let out = s.wharf(&dir, &["exec", "web", "touch", "/www/x"]);
        assert_ne!(
            out.status.code(),
            Some(0),
            "the :ro bind mount must not be writable"
        );
        let out = s.wharf(&dir, &["exec", "web", "no-such-command"]);
        assert_eq!(out.status.code(), Some(127));

        // logs.
        let logs = eventually("two ticks", Duration::from_secs(10), || {
            let logs = s.ok(&dir, &["logs", "worker"]);
            logs.contains("tick 2").then_some(logs)
        });
        assert!(
            logs.lines()
                .next()
                .unwrap()
                .starts_with("worker-1  | tick 1"),
            "{logs}"
        );
        let tail = s.ok(&dir, &["logs", "--tail", "1", "--no-log-prefix", "worker"]);
        assert_eq!(tail.lines().count(), 1, "{tail}");
        assert!(tail.starts_with("tick "), "{tail}");
        let stamped = s.ok(&dir, &["logs", "-t", "--tail", "1", "worker"]);
        assert!(stamped.contains("Z tick "), "{stamped}");
        // -f follows new output as it comes.
        let mut follower = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["logs", "-f", "--tail", "0", "worker"])
            .current_dir(&dir)
            .env("WHARF_ROOT", s.root.path())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut reader = std::io::BufReader::new(follower.stdout.take().unwrap());
        let mut followed = String::new();
        std::io::BufRead::read_line(&mut reader, &mut followed).unwrap();
        follower.kill().unwrap();
        let _ = follower.wait();
        assert!(followed.starts_with("worker-1  | tick "), "{followed:?}");
        let all = s.ok(&dir, &["logs"]);
        assert!(
            all.contains("web-1     | ") || all.contains("worker-1  | "),
            "{all}"
        );

        // stats: the memory limit and the pids.
        let stats = s.ok(&dir, &["stats", "--no-stream"]);
        let web_row = stats
            .lines()
            .find(|l| l.contains("hello-web-1"))
            .expect(&stats);
        assert!(web_row.contains(" / 64MiB"), "{stats}");
        assert!(stats.starts_with("CONTAINER ID   NAME"), "{stats}");
        let total = stats.lines().last().unwrap();
        assert!(
            total.starts_with("-   ") && total.contains("TOTAL"),
            "the project's total row: {stats}"
        );

        // Limits are enforced: the cgroup files, an OOM kill, the CPU quota.
        let memory = cgroup_dir("memory", "hello").join(&web_id);
        let limit = cgroup_value(
            "hello",
            &web_id,
            "memory",
            "memory.limit_in_bytes",
            "memory.max",
        );
        assert_eq!(limit, "67108864");
        let quota = cgroup_value("hello", &web_id, "cpu", "cpu.cfs_quota_us", "cpu.max");
        assert_eq!(quota, if v2_host() { "50000 100000" } else { "50000" });
        let pids = cgroup_value("hello", &web_id, "pids", "pids.max", "pids.max");
        assert_eq!(pids, "64");
        let out = s.wharf(
            &dir,
            &[
                "exec",
                "web",
                "sh",
                "-c",
                "x=$(head -c 100000000 /dev/zero | tr '\\0' a); echo survived",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(137),
            "allocating 100 MB in 64 MiB must be OOM-killed: {out:?}"
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("survived"));
        // A busy loop is held near half a core.
        s.ok(
            &dir,
            &[
                "exec",
                "web",
                "sh",
                "-c",
                "while :; do :; done >/dev/null 2>&1 &",
            ],
        );
        // CPU time in ns: v1 cpuacct.usage, v2 cpu.stat's usage_usec.
        let usage = || -> u64 {
            if v2_host() {
                let stat = cgroup_value("hello", &web_id, "cpu", "", "cpu.stat");
                let usec = stat
                    .lines()
                    .find_map(|l| l.strip_prefix("usage_usec "))
                    .expect(&stat);
                usec.parse::<u64>().unwrap() * 1000
            } else {
                cgroup_value("hello", &web_id, "cpuacct", "cpuacct.usage", "")
                    .parse()
                    .unwrap()
            }
        };
        let before = usage();
        let started = std::time::Instant::now();
        std::thread::sleep(Duration::from_secs(2)); // the measuring window, not a wait for readiness
        let share = (usage() - before) as f64 / started.elapsed().as_nanos() as f64;
        // The quota caps the top; the floor only shows the loop ran (other
        // tests' containers share these two cores).
        assert!(
            (0.1..0.6).contains(&share),
            "busy loop used {share:.2} of a core under cpus: 0.5"
        );

        // down: everything goes.
        let down = s.wharf(&dir, &["down", "-t", "2"]);
        let down_err = String::from_utf8_lossy(&down.stderr);
        assert!(down.status.success(), "{down_err}");
        let web_stopped = down_err
            .find("Container hello-web-1  Stopped")
            .expect(&down_err);
        let worker_stopping = down_err
            .find("Container hello-worker-1  Stopping")
            .expect(&down_err);
        assert!(
            web_stopped < worker_stopping,
            "web must stop before worker:\n{down_err}"
        );
        assert!(
            down_err.contains("Network hello_default  Removed"),
            "{down_err}"
        );
        assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
        crate::harness::no_links_left();
        assert!(
            !memory.exists(),
            "the web cgroup is left: {}",
            memory.display()
        );
        assert!(
            !cgroup_dir("memory", "hello").exists(),
            "the project cgroup is left"
        );
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmdline) = std::fs::read_to_string(entry.path().join("cmdline")) {
                assert!(
                    !cmdline.contains("__monitor") && !cmdline.starts_with("httpd"),
                    "left running: {cmdline:?}"
                );
            }
        }
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        assert!(
            !mounts.contains(s.root.path().to_str().unwrap()),
            "mounts left: {mounts}"
        );
    });
}

#[test]
fn limits_example_is_enforced() {
    sandboxed("hello::limits_example_is_enforced", |s| {
        s.import_busybox();
        let dir = s.project("limits", include_str!("../../examples/limits/compose.yaml"));
        s.ok(&dir, &["up", "-d"]);
        let stats = s.ok(&dir, &["stats", "--no-stream"]);
        let api_rows: Vec<&str> = stats
            .lines()
            .filter(|l| l.contains("limits-api-"))
            .collect();
        assert_eq!(api_rows.len(), 3, "{stats}");
        assert!(api_rows.iter().all(|r| r.contains(" / 32MiB")), "{stats}");
        // hog is OOM-killed, restarted three times, then stays exited.
        let ps = eventually("hog to give up", Duration::from_secs(180), || {
            let ps = s.ok(&dir, &["ps", "-a", "--format", "json", "hog"]);
            ps.contains("\"State\":\"exited\"").then_some(ps)
        });
        assert!(ps.contains("\"ExitCode\":137"), "{ps}");
        let logs = s.ok(&dir, &["logs", "--no-log-prefix", "hog"]);
        assert_eq!(logs.matches("allocating 200 MB").count(), 4, "{logs}");
        assert!(!logs.contains("survived"), "{logs}");
        let api = s.ok(&dir, &["ps", "-q", "api"]);
        let id = api.lines().next().unwrap();
        let soft = cgroup_value(
            "limits",
            id,
            "memory",
            "memory.soft_limit_in_bytes",
            "memory.low",
        );
        assert_eq!(soft, (16u64 << 20).to_string());
        // 102 shares; cgroup v2's cpu.weight converted from them as runc does.
        let shares = cgroup_value("limits", id, "cpu", "cpu.shares", "cpu.weight");
        assert_eq!(shares, if v2_host() { "4" } else { "102" });
        s.ok(&dir, &["down", "-t", "0"]);
    });
}

#[test]
fn pids_limit_contains_a_fork_bomb() {
    sandboxed("hello::pids_limit_contains_a_fork_bomb", |s| {
        s.import_busybox();
        // The container's first process forks the bomb once and becomes
        // `sleep` without forking again: a shell whose fork is refused
        // exits, and the container with it, which on a slow (emulated) CPU
        // happened before `ps` saw it running.
        let dir = s.project(
            "bomb",
            "services:
  bomb:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"(bomb() { bomb | bomb & }; bomb) & exec sleep 3600\"]
    deploy:
      resources:
        limits: {cpus: \"0.5\", pids: 20}
",
        );
        s.ok(&dir, &["up", "-d"]);
        let id = container_id(s, &dir, "bomb");
        let pids = cgroup_dir("pids", "bomb").join(&id);
        let read = |file: &str| -> u64 {
            std::fs::read_to_string(pids.join(file))
                .map(|t| t.trim().parse().unwrap_or(0))
                .unwrap_or(0)
        };
        // The bomb reaches the limit and the kernel refuses it more processes...
        eventually("the bomb to hit its limit", Duration::from_secs(20), || {
            let events = std::fs::read_to_string(pids.join("pids.events")).unwrap_or_default();
            let refused = events
                .split_whitespace()
                .nth(1)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            (refused > 0).then_some(())
        });
        assert!(read("pids.current") <= 20, "pids.current above pids.max");
        // ...while the host (this namespace) still starts processes...
        let started = std::process::Command::new("true").status();
        assert!(started.is_ok_and(|s| s.success()));
        // ...and down removes every one of them.
        s.ok(&dir, &["down", "-t", "0"]);
        assert!(!pids.exists(), "the bomb's cgroup is left");
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            if let Ok(cmdline) = std::fs::read_to_string(entry.path().join("cmdline")) {
                assert!(
                    !cmdline.starts_with("sh\0-c\0(bomb"),
                    "left running: {cmdline:?}"
                );
            }
        }
    });
}
