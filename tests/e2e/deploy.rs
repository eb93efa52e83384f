//! Deploying on one host: restarts of containers that stay unhealthy
//! (`deploy.restart_policy`) and start-first updates
//! (`deploy.update_config`).

use crate::harness::{eventually, sandboxed, Sandbox};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Healthy for about a second after each start, unhealthy after.
const FLAKY: &str = r#"["sh", "-c", "touch /tmp/ok; (sleep 1; rm /tmp/ok) & trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]"#;

fn events(s: &Sandbox, dir: &Path) -> String {
    let until = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1
    );
    s.ok(dir, &["events", "--since", "0", "--until", &until])
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn an_unhealthy_container_is_restarted_up_to_max_attempts() {
    sandboxed(
        "deploy::an_unhealthy_container_is_restarted_up_to_max_attempts",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "heal",
                &format!(
                    r#"
services:
  app:
    image: busybox
    command: {FLAKY}
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 200ms
      retries: 2
    deploy:
      restart_policy:
        condition: any
        delay: 300ms
        max_attempts: 2
        window: 120s
"#
                ),
            );
            s.ok(&dir, &["up", "-d"]);
            // interval × retries + delay, plus a second of health and slack.
            let first = eventually("the first restart", Duration::from_secs(10), || {
                let events = events(s, &dir);
                (count(&events, "container restart") >= 1).then_some(events)
            });
            let unhealthy = first.find("health_status: unhealthy").expect(&first);
            let restart = first.find("container restart").expect(&first);
            assert!(unhealthy < restart, "unhealthy, then restart:\n{first}");

            // The third unhealthy verdict is beyond max_attempts: it stays.
            let events = eventually("a third unhealthy verdict", Duration::from_secs(30), || {
                let events = events(s, &dir);
                (count(&events, "health_status: unhealthy") >= 3).then_some(events)
            });
            assert_eq!(count(&events, "container restart"), 2, "{events}");
            let ps = eventually("ps to show it unhealthy", Duration::from_secs(5), || {
                let ps = s.ok(&dir, &["ps"]);
                ps.contains("(unhealthy)").then_some(ps)
            });
            assert!(ps.contains("heal-app-1"), "{ps}");
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

#[test]
fn without_a_deploy_restart_policy_an_unhealthy_container_is_left_alone() {
    sandboxed(
        "deploy::without_a_deploy_restart_policy_an_unhealthy_container_is_left_alone",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "alone",
                &format!(
                    r#"
services:
  app:
    image: busybox
    command: {FLAKY}
    restart: always
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 200ms
      retries: 2
"#
                ),
            );
            s.ok(&dir, &["up", "-d"]);
            let events = eventually("an unhealthy verdict", Duration::from_secs(10), || {
                let events = events(s, &dir);
                (count(&events, "health_status: unhealthy") >= 1).then_some(events)
            });
            assert_eq!(count(&events, "container restart"), 0, "{events}");
            assert_eq!(count(&events, "container die"), 0, "{events}");
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

/// A web service answering `version` with start-first updates; its health
/// check passes once the new container has served a request.
fn web(s: &Sandbox, version: &str, check: &str, order: &str) -> std::path::PathBuf {
    s.project(
        "roll",
        &format!(
            r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo {version} > /www/index.html && exec httpd -f -p 8080 -h /www"]
    environment:
      VERSION: "{version}"
    healthcheck:
      test: {check}
      interval: 200ms
      retries: 3
    deploy:
      update_config:
        order: {order}
"#
        ),
    )
}

const SERVES: &str = r#"["CMD", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]"#;

/// (action, container name) of the project's events, in order.
fn actions(s: &Sandbox, dir: &Path) -> Vec<(String, String)> {
    events(s, dir)
        .lines()
        .filter_map(|line| {
            let action = line.split(" container ").nth(1)?.split(' ').next()?;
            let name = line.split("name=").nth(1)?.split([',', ')']).next()?;
            Some((action.to_string(), name.to_string()))
        })
        .collect()
}

fn id_of(s: &Sandbox, dir: &Path) -> String {
    s.ok(dir, &["ps", "-q", "web"]).trim().to_string()
}

#[test]
fn start_first_starts_the_new_container_before_the_old_one_stops() {
    sandboxed(
        "deploy::start_first_starts_the_new_container_before_the_old_one_stops",
        |s| {
            s.import_busybox();
            let dir = web(s, "v1", SERVES, "start-first");
            s.ok(&dir, &["up", "-d", "--wait"]);
            let old = id_of(s, &dir);
            web(s, "v2", SERVES, "start-first");
            let out = s.wharf(&dir, &["up", "-d"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            assert!(err.contains("Container roll-web-1  Recreated"), "{err}");
            let new = id_of(s, &dir);
            assert_ne!(new, old);
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).lines().count(), 1);

            let actions = actions(s, &dir);
            let at = |action: &str, name: &str| {
                actions
                    .iter()
                    .position(|(a, n)| a == action && n == name)
                    .unwrap_or_else(|| panic!("no {action} of {name} in {actions:?}"))
            };
            let healthy = at("health_status:", "roll-web-1_next");
            let old_dies = actions
                .iter()
                .rposition(|(a, n)| a == "die" && n == "roll-web-1")
                .expect("the old container died");
            assert!(
                healthy < old_dies,
                "the new container was healthy before the old one stopped: {actions:?}"
            );
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

#[test]
fn a_new_version_that_never_gets_healthy_is_rolled_back() {
    sandboxed(
        "deploy::a_new_version_that_never_gets_healthy_is_rolled_back",
        |s| {
            s.import_busybox();
            let dir = web(s, "v1", SERVES, "start-first");
            s.ok(&dir, &["up", "-d", "--wait"]);
            let old = id_of(s, &dir);
            web(s, "v2", r#"["CMD", "false"]"#, "start-first");
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(
                err.contains("container roll-web-1: the new container did not become healthy")
                    && err.contains("the old container keeps serving"),
                "{err}"
            );
            assert_eq!(id_of(s, &dir), old, "the old container serves on");
            let ps = s.ok(&dir, &["ps", "-a", "--format", "json"]);
            assert_eq!(ps.trim().lines().count(), 1, "nothing else is left: {ps}");
            assert!(
                ps.contains("\"Name\":\"roll-web-1\"") && ps.contains("\"State\":\"running\""),
                "{ps}"
            );
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

#[test]
fn stop_first_stops_the_old_container_before_the_new_one_starts() {
    sandboxed(
        "deploy::stop_first_stops_the_old_container_before_the_new_one_starts",
        |s| {
            s.import_busybox();
            let dir = web(s, "v1", SERVES, "stop-first");
            s.ok(&dir, &["up", "-d", "--wait"]);
            web(s, "v2", SERVES, "stop-first");
            s.ok(&dir, &["up", "-d"]);
            let actions = actions(s, &dir);
            let old_dies = actions
                .iter()
                .position(|(a, _)| a == "die")
                .expect("the old container died");
            let starts: Vec<usize> = actions
                .iter()
                .enumerate()
                .filter(|(_, (a, _))| a == "start")
                .map(|(i, _)| i)
                .collect();
            assert_eq!(starts.len(), 2, "{actions:?}");
            assert!(
                old_dies < starts[1],
                "the gap docker compose has: no container serves between {old_dies} and {}: {actions:?}",
                starts[1]
            );
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

/// A web service publishing host port 18090 and answering its version. On
/// its stop signal it keeps serving for a second, as a server that finishes
/// the requests in flight does.
fn published_web(s: &Sandbox, version: &str, check: &str, order: &str) -> std::path::PathBuf {
    s.project(
        "roll",
        &format!(
            r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo {version} > /www/index.html && {{ httpd -f -p 8080 -h /www & }} ; trap 'sleep 1; exit 0' TERM; while :; do sleep 1 & wait; done"]
    ports: ["18090:8080"]
    healthcheck:
      test: {check}
      interval: 200ms
      retries: 3
    deploy:
      update_config:
        order: {order}
"#
        ),
    )
}

/// What a client loop saw: each answer's body (`v1`, `v2`) or `failed`.
#[derive(Default)]
struct Seen {
    answers: Vec<String>,
}

impl Seen {
    fn failures(&self) -> usize {
        self.answers.iter().filter(|a| *a == "failed").count()
    }
    fn count(&self, version: &str) -> usize {
        self.answers.iter().filter(|a| *a == version).count()
    }
}

/// Requests sent one after another to `addr` until `stop` (or a bound of
/// requests or time), each answer recorded in `seen`.
fn load(addr: &str, stop: &AtomicBool, seen: &Mutex<Seen>) {
    let deadline = Instant::now() + Duration::from_secs(120);
    for _ in 0..20_000 {
        if stop.load(Ordering::SeqCst) || Instant::now() > deadline {
            return;
        }
        let answer = get(addr)
            .filter(|(status, _)| status == "200")
            .map(|(_, body)| body)
            .unwrap_or_else(|| "failed".to_string());
        seen.lock().unwrap().answers.push(answer);
    }
}

/// Load on the published port through the host's loopback (the proxy) and
/// from another network namespace (DNAT) while `during` runs; waits for
/// answers `from` before it and `until` after it. What each client saw.
fn under_load(
    client: &crate::ports::ClientHost,
    from: &str,
    during: impl FnOnce(),
    until: &str,
) -> (Seen, Seen) {
    let stop = AtomicBool::new(false);
    let (local, remote) = (Mutex::new(Seen::default()), Mutex::new(Seen::default()));
    let remote_addr = format!("{}:18090", crate::ports::HOST_ADDR);
    std::thread::scope(|scope| {
        scope.spawn(|| load("127.0.0.1:18090", &stop, &local));
        scope.spawn(|| client.run(|| load(&remote_addr, &stop, &remote)));
        let answered =
            |seen: &Mutex<Seen>, version: &str| seen.lock().unwrap().count(version) >= 20;
        // Both clients' answers `version`; on a timeout the load stops and
        // what each client saw is printed before the failure.
        let wait_for = |what: &str, version: &str| {
            let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                eventually(what, Duration::from_secs(20), || {
                    (answered(&local, version) && answered(&remote, version)).then_some(())
                })
            }));
            if let Err(panic) = waited {
                stop.store(true, Ordering::SeqCst);
                eprintln!(
                    "loopback: {}; other namespace: {}",
                    summary(&local.lock().unwrap()),
                    summary(&remote.lock().unwrap())
                );
                std::panic::resume_unwind(panic);
            }
        };
        wait_for("answers before the update", from);
        during();
        wait_for("answers after the update", until);
        stop.store(true, Ordering::SeqCst);
    });
    (local.into_inner().unwrap(), remote.into_inner().unwrap())
}

fn summary(seen: &Seen) -> String {
    let mut versions: Vec<&String> = Vec::new();
    for answer in seen.answers.iter().filter(|a| *a != "failed") {
        if !versions.contains(&answer) {
            versions.push(answer);
        }
    }
    let counts: Vec<String> = versions
        .iter()
        .map(|v| format!("{} {v}", seen.count(v)))
        .collect();
    format!(
        "{} requests: {}, {} failed",
        seen.answers.len(),
        counts.join(", "),
        seen.failures()
    )
}

fn nft_missing() -> bool {
    let missing = wharf_net::firewall::find_nft().is_none();
    if missing {
        eprintln!("skipped: nft is not installed");
    }
    missing
}

#[test]
fn start_first_hands_the_published_port_over_without_a_failed_request() {
    sandboxed(
        "deploy::start_first_hands_the_published_port_over_without_a_failed_request",
        |s| {
            if nft_missing() {
                return;
            }
            s.import_busybox();
            let client = crate::ports::ClientHost::start();
            let dir = published_web(s, "v1", SERVES, "stop-first");
            s.ok(&dir, &["up", "-d", "--wait"]);
            // Three in a row: the third new container gets the address the
            // first update freed.
            for (old, new) in [("v1", "v2"), ("v2", "v3"), ("v3", "v4")] {
                published_web(s, new, SERVES, "stop-first");
                let (local, remote) = under_load(
                    &client,
                    old,
                    || {
                        s.ok(&dir, &["up", "-d", "--no-downtime"]);
                    },
                    new,
                );
                for (path, seen) in [("loopback", &local), ("other namespace", &remote)] {
                    assert_eq!(seen.failures(), 0, "{path}: {}", summary(seen));
                    assert_eq!(seen.answers.first().map(String::as_str), Some(old));
                    assert_eq!(seen.answers.last().map(String::as_str), Some(new));
                    eprintln!("start-first {old} to {new}, {path}: {}", summary(seen));
                }
            }
            // The new container holds the port in its record.
            assert_eq!(s.ok(&dir, &["port", "web", "8080"]).trim(), "0.0.0.0:18090");
            let ps = s.ok(&dir, &["ps", "--format", "{{.Name}} {{.Ports}}"]);
            assert!(
                ps.contains("roll-web-1 ") && ps.contains("18090->8080/tcp"),
                "{ps}"
            );
            assert_eq!(ps.trim().lines().count(), 1, "{ps}");
            s.ok(&dir, &["down", "-t", "0"]);
            let table = crate::ports::wharf_table();
            assert!(!table.contains("wharf container"), "rules left: {table}");
        },
    );
}

#[test]
fn stop_first_leaves_the_published_port_closed_for_a_while() {
    sandboxed(
        "deploy::stop_first_leaves_the_published_port_closed_for_a_while",
        |s| {
            if nft_missing() {
                return;
            }
            s.import_busybox();
            let client = crate::ports::ClientHost::start();
            let dir = published_web(s, "v1", SERVES, "stop-first");
            s.ok(&dir, &["up", "-d", "--wait"]);
            published_web(s, "v2", SERVES, "stop-first");
            let (local, remote) = under_load(
                &client,
                "v1",
                || {
                    s.ok(&dir, &["up", "-d"]);
                },
                "v2",
            );
            // The gap docker compose has: the port is closed between the old
            // container's stop and the new one's start.
            for (path, seen) in [("loopback", &local), ("other namespace", &remote)] {
                assert!(seen.failures() > 0, "{path}: {}", summary(seen));
                eprintln!("stop-first, {path}: {}", summary(seen));
            }
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

#[test]
fn a_never_healthy_version_leaves_the_port_to_the_old_one() {
    sandboxed(
        "deploy::a_never_healthy_version_leaves_the_port_to_the_old_one",
        |s| {
            if nft_missing() {
                return;
            }
            s.import_busybox();
            let client = crate::ports::ClientHost::start();
            let dir = published_web(s, "v1", SERVES, "start-first");
            s.ok(&dir, &["up", "-d", "--wait"]);
            let old = id_of(s, &dir);
            published_web(s, "v2", r#"["CMD", "false"]"#, "start-first");
            let mut error = String::new();
            let (local, remote) =
                under_load(&client, "v1", || error = s.fails(&dir, &["up", "-d"]), "v1");
            assert!(
                error.contains("the new container did not become healthy"),
                "{error}"
            );
            for (path, seen) in [("loopback", &local), ("other namespace", &remote)] {
                assert_eq!(seen.failures(), 0, "{path}: {}", summary(seen));
                assert_eq!(seen.count("v2"), 0, "{path}: {}", summary(seen));
            }
            assert_eq!(id_of(s, &dir), old, "the old container serves on");
            assert_eq!(s.ok(&dir, &["port", "web", "8080"]).trim(), "0.0.0.0:18090");
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

/// The monitor pid of the container named `name`, from the state root.
fn monitor_pid(s: &Sandbox, name: &str) -> Option<i32> {
    for entry in std::fs::read_dir(s.root.path().join("containers"))
        .ok()?
        .flatten()
    {
        let config = std::fs::read_to_string(entry.path().join("config.json")).unwrap_or_default();
        let config: serde_json::Value = serde_json::from_str(&config).unwrap_or_default();
        if config["name"].as_str() != Some(name) {
            continue;
        }
        let state: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(entry.path().join("state.json")).ok()?)
                .ok()?;
        return state["monitor_pid"].as_i64().map(|pid| pid as i32);
    }
    None
}

/// The status code and the trimmed body of `GET /` on `addr`.
fn get(addr: &str) -> Option<(String, String)> {
    let response = crate::harness::http_get(addr, "/")?;
    let (head, body) = response.split_once("\r\n\r\n")?;
    let status = head.split(' ').nth(1)?;
    Some((status.to_string(), body.trim().to_string()))
}

fn body(addr: &str) -> Option<String> {
    get(addr).map(|(_, body)| body)
}

/// `wharf up` killed once the new container serves the port, then the new
/// container's monitor killed too: the old container, still in its stop
/// grace period, serves the port again (proxy and DNAT), and the next `up`
/// finishes the update.
#[test]
fn the_old_container_serves_again_when_its_successor_dies_after_the_handover() {
    sandboxed(
        "deploy::the_old_container_serves_again_when_its_successor_dies_after_the_handover",
        |s| {
            if nft_missing() {
                return;
            }
            s.import_busybox();
            let client = crate::ports::ClientHost::start();
            // Keeps serving for 10 s after its stop signal.
            let slow_stop = |version: &str| {
                s.project(
                    "roll",
                    &format!(
                        r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www && echo {version} > /www/index.html && {{ httpd -f -p 8080 -h /www & }} ; trap 'sleep 10; exit 0' TERM; while :; do sleep 1 & wait; done"]
    ports: ["18090:8080"]
    stop_grace_period: 10s
    healthcheck:
      test: {SERVES}
      interval: 200ms
      retries: 3
"#
                    ),
                )
            };
            let dir = slow_stop("v1");
            s.ok(&dir, &["up", "-d", "--wait"]);
            slow_stop("v2");
            let mut up = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
                .args(["up", "-d", "--no-downtime"])
                .current_dir(&dir)
                .env("WHARF_ROOT", s.root.path())
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap();
            let local = "127.0.0.1:18090";
            let remote = format!("{}:18090", crate::ports::HOST_ADDR);
            eventually(
                "the new container serving the port",
                Duration::from_secs(60),
                || (body(local).as_deref() == Some("v2")).then_some(()),
            );
            up.kill().unwrap();
            up.wait().unwrap();
            let next = monitor_pid(s, "roll-web-1_next").expect("the new container's monitor");
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(next),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            let last = Mutex::new((None, None));
            let served = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                eventually(
                    "the old container serving again",
                    Duration::from_secs(5),
                    || {
                        let answers = (body(local), client.run(|| body(&remote)));
                        let v1 = Some("v1".to_string());
                        let served = answers.0 == v1 && answers.1 == v1;
                        *last.lock().unwrap() = answers;
                        served.then_some(())
                    },
                )
            }));
            if let Err(panic) = served {
                eprintln!(
                    "loopback and other namespace answered {:?}; {}",
                    last.lock().unwrap(),
                    crate::ports::wharf_table()
                );
                std::panic::resume_unwind(panic);
            }
            s.ok(&dir, &["up", "-d", "--no-downtime"]);
            assert_eq!(body(local).as_deref(), Some("v2"));
            let ps = s.ok(&dir, &["ps", "-a", "--format", "{{.Name}}"]);
            assert_eq!(ps.trim(), "roll-web-1", "{ps}");
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

/// docker/compose#10596: `up --wait` fails there when a one-shot dependency
/// has exited 0; a completed job is what its dependents wait for.
#[test]
fn up_wait_succeeds_when_a_one_shot_dependency_exited_0() {
    sandboxed(
        "deploy::up_wait_succeeds_when_a_one_shot_dependency_exited_0",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "oneshot",
                r#"
services:
  migrate:
    image: busybox
    command: ["echo", "migrated"]
  app:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    depends_on:
      migrate: {condition: service_completed_successfully}
"#,
            );
            let out = s.wharf(&dir, &["up", "-d", "--wait"]);
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{err}");
            let ps = s.ok(&dir, &["ps", "-a", "--format", "json"]);
            let line = |name: &str| {
                ps.lines()
                    .find(|l| l.contains(&format!("\"Name\":\"{name}\"")))
                    .unwrap_or_else(|| panic!("no {name} in {ps}"))
                    .to_string()
            };
            assert!(line("oneshot-migrate-1").contains("\"ExitCode\":0"), "{ps}");
            assert!(
                line("oneshot-app-1").contains("\"State\":\"running\""),
                "{ps}"
            );
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

/// docker/compose#10331: `logs -f` stops there when the container restarts;
/// here it follows the service across its restarts.
#[test]
fn logs_follow_keeps_following_across_restarts() {
    sandboxed("deploy::logs_follow_keeps_following_across_restarts", |s| {
        use std::io::{BufRead, BufReader};
        use std::process::{Command, Stdio};
        s.import_busybox();
        let dir = s.project(
            "again",
            r#"
services:
  app:
    image: busybox
    restart: always
    command: ["sh", "-c", "echo run; sleep 0.3; exit 1"]
"#,
        );
        s.ok(&dir, &["up", "-d"]);
        let mut follower = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["logs", "-f", "--no-log-prefix", "app"])
            .current_dir(&dir)
            .env("WHARF_ROOT", s.root.path())
            .env_remove("COMPOSE_PROJECT_NAME")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting wharf logs -f");
        let stdout = follower.stdout.take().unwrap();
        let (send, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        let mut runs = 0;
        eventually(
            "logs -f to show three runs",
            Duration::from_secs(30),
            || {
                while let Ok(line) = lines.try_recv() {
                    runs += usize::from(line.trim() == "run");
                }
                (runs >= 3).then_some(())
            },
        );
        let still_following = follower.try_wait().unwrap().is_none();
        let _ = follower.kill();
        let _ = follower.wait();
        assert!(
            still_following,
            "logs -f ended although the service restarts"
        );
        s.ok(&dir, &["down", "-t", "0"]);
    });
}
