//! `stop`, `start`, `restart`, `kill` and `rm` on a running project, and the
//! restart policy applied by the container's monitor.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::path::Path;
use std::time::Duration;

const COMPOSE: &str = r#"
services:
  app:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    depends_on: [db]
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
  flaky:
    image: busybox
    command: ["sh", "-c", "echo run; exit 3"]
    restart: on-failure:2
"#;

/// service → state of its container, from `ps -a --format json`.
fn states(s: &Sandbox, dir: &Path) -> Vec<(String, String, i64)> {
    s.ok(dir, &["ps", "-a", "--format", "json"])
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            (
                v["Service"].as_str().unwrap().to_string(),
                v["State"].as_str().unwrap().to_string(),
                v["ExitCode"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn state_of(s: &Sandbox, dir: &Path, service: &str) -> Option<(String, i64)> {
    states(s, dir)
        .into_iter()
        .find(|(name, _, _)| name == service)
        .map(|(_, state, code)| (state, code))
}

#[test]
fn stop_start_restart_kill_rm() {
    sandboxed("lifecycle::stop_start_restart_kill_rm", |s| {
        s.import_busybox();
        let dir = s.project("life", COMPOSE);
        s.ok(&dir, &["up", "-d"]);

        // The restart policy: two restarts, then the exit code stays.
        let flaky = eventually("flaky to give up", Duration::from_secs(20), || {
            state_of(s, &dir, "flaky").filter(|(state, _)| state == "exited")
        });
        assert_eq!(flaky.1, 3);
        let runs = s.ok(&dir, &["logs", "--no-log-prefix", "flaky"]);
        assert_eq!(runs.lines().filter(|l| *l == "run").count(), 3, "{runs}");

        let out = s.wharf(&dir, &["stop", "app", "db"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let app_stopped = err.find("Container life-app-1  Stopped").expect(&err);
        let db_stopping = err.find("Container life-db-1  Stopping").expect(&err);
        assert!(app_stopped < db_stopping, "dependents stop first:\n{err}");
        assert_eq!(state_of(s, &dir, "app"), Some(("exited".into(), 0)));
        assert_eq!(state_of(s, &dir, "db"), Some(("exited".into(), 0)));

        let out = s.wharf(&dir, &["start", "app", "db"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let db_started = err.find("Container life-db-1  Started").expect(&err);
        let app_starting = err.find("Container life-app-1  Starting").expect(&err);
        assert!(
            db_started < app_starting,
            "dependencies start first:\n{err}"
        );
        assert_eq!(state_of(s, &dir, "app").unwrap().0, "running");

        let before = s.ok(&dir, &["exec", "app", "cat", "/proc/uptime"]);
        s.ok(&dir, &["restart", "app"]);
        assert_eq!(state_of(s, &dir, "app").unwrap().0, "running");
        let after = s.ok(&dir, &["exec", "app", "cat", "/proc/uptime"]);
        assert_ne!(before, after);

        s.ok(&dir, &["kill", "app"]);
        let killed = eventually("app to be killed", Duration::from_secs(10), || {
            state_of(s, &dir, "app").filter(|(state, _)| state == "exited")
        });
        assert_eq!(killed.1, 137);

        // rm without -f asks, and without a terminal refuses.
        let err = s.fails(&dir, &["rm", "app"]);
        assert!(err.contains("-f"), "{err}");
        s.ok(&dir, &["rm", "-f", "app"]);
        assert!(state_of(s, &dir, "app").is_none());
        assert_eq!(state_of(s, &dir, "db").unwrap().0, "running");
        s.ok(&dir, &["rm", "-f", "-s"]);
        assert!(states(s, &dir).is_empty());
        s.ok(&dir, &["down"]);
    });
}

#[test]
fn up_scale_wait_and_exit_code_from() {
    sandboxed("lifecycle::up_scale_wait_and_exit_code_from", |s| {
        s.import_busybox();
        let dir = s.project(
            "flags",
            r#"
services:
  web:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
  job:
    image: busybox
    command: ["sh", "-c", "echo working; exit 7"]
"#,
        );
        // --scale and --wait: three web containers, all running when up returns.
        s.ok(&dir, &["up", "--wait", "--scale", "web=3", "web"]);
        let ps = s.ok(&dir, &["ps", "--format", "json"]);
        let running = ps
            .lines()
            .filter(|l| l.contains("\"State\":\"running\""))
            .count();
        assert_eq!(running, 3, "{ps}");
        // Scaling down removes the highest numbers first.
        s.ok(&dir, &["up", "-d", "--scale", "web=1", "web"]);
        let names = s.ok(&dir, &["ps", "-a", "--format", "json"]);
        assert!(
            names.contains("flags-web-1") && !names.contains("flags-web-2"),
            "{names}"
        );
        let err = s.fails(&dir, &["up", "-d", "--scale", "web=x"]);
        assert!(err.contains("not a number"), "{err}");

        // scale: to two, keeping the existing container; create: not started.
        s.ok(&dir, &["scale", "web=2"]);
        let ps = s.ok(&dir, &["ps", "--format", "json", "web"]);
        assert_eq!(ps.lines().count(), 2, "{ps}");
        s.ok(&dir, &["create", "job"]);
        let job = s.ok(&dir, &["ps", "-a", "--format", "json", "job"]);
        assert!(job.contains("\"State\":\"created\""), "{job}");

        // wait returns the exit code of the job.
        s.ok(&dir, &["up", "-d", "job"]);
        let out = s.wharf(&dir, &["wait", "job"]);
        assert_eq!(out.status.code(), Some(7));
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "7");

        // Attached, --exit-code-from returns the job's code and stops the rest.
        let out = s.wharf(&dir, &["up", "--exit-code-from", "job"]);
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(7), "{stdout}\n{stderr}");
        assert!(stdout.contains("job-1  | working"), "{stdout}");
        assert!(stdout.contains("job-1 exited with code 7"), "{stdout}");
        let web = s.ok(&dir, &["ps", "-a", "--format", "json", "web"]);
        assert!(
            web.contains("\"State\":\"exited\""),
            "web stopped on abort: {web}"
        );
        s.ok(&dir, &["down"]);
    });
}

#[test]
fn run_one_off_commands() {
    sandboxed("lifecycle::run_one_off_commands", |s| {
        s.import_busybox();
        let dir = s.project(
            "oneoff",
            r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
  app:
    image: busybox
    command: ["echo", "default"]
    environment: {GREETING: hello}
    depends_on: [db]
"#,
        );
        let containers = || {
            std::fs::read_dir(s.root.path().join("containers"))
                .unwrap()
                .count()
        };
        // Attached: output, exit code, environment, dependencies up, --rm.
        let out = s.wharf(
            &dir,
            &[
                "run",
                "--rm",
                "-e",
                "EXTRA=1",
                "app",
                "sh",
                "-c",
                "echo $GREETING $EXTRA; exit 3",
            ],
        );
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "hello 1\n");
        assert_eq!(
            state_of(s, &dir, "db").unwrap().0,
            "running",
            "the dependency was started"
        );
        assert_eq!(containers(), 1, "--rm removed the one-off container");
        // stdin reaches the command.
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["run", "--rm", "-T", "--no-deps", "app", "cat"])
            .current_dir(&dir)
            .env("WHARF_ROOT", s.root.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"piped data\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success());
        assert_eq!(String::from_utf8_lossy(&out.stdout), "piped data\n");
        // Detached: the name is printed and the container runs until down.
        let name = s.ok(
            &dir,
            &[
                "run",
                "-d",
                "--name",
                "oneoff-sleeper",
                "app",
                "sleep",
                "300",
            ],
        );
        assert_eq!(name.trim(), "oneoff-sleeper");
        assert!(
            s.ok(&dir, &["ps"])
                .lines()
                .all(|l| !l.contains("oneoff-sleeper")),
            "ps hides one-offs"
        );
        let err = s.fails(&dir, &["run", "nosuch"]);
        assert!(err.contains("nosuch"), "{err}");
        s.ok(&dir, &["down", "-t", "1"]);
        assert_eq!(containers(), 0);
    });
}
