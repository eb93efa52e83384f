//! `logging` drivers and rotation through the binary, and the `post_start` /
//! `pre_stop` lifecycle hooks.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The state directories of every container under the sandbox's root.
fn container_dirs(s: &Sandbox) -> Vec<PathBuf> {
    match std::fs::read_dir(s.root.path().join("containers")) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The log files (current and rotated) in a container's directory.
fn log_files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("container.log") && !n.ends_with(".lock"))
        .collect();
    names.sort();
    names
}

/// The numbers printed by the chatty service, checked to be consecutive.
fn consecutive(lines: &[String]) -> (u32, u32) {
    let numbers: Vec<u32> = lines
        .iter()
        .filter(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()))
        .map(|l| l.parse().unwrap())
        .collect();
    assert!(!numbers.is_empty(), "no numbered lines");
    for pair in numbers.windows(2) {
        assert_eq!(pair[1], pair[0] + 1, "line {} follows {}", pair[1], pair[0]);
    }
    (numbers[0], *numbers.last().unwrap())
}

const LINES: u32 = 20_000;

const CHATTY: &str = r#"
services:
  chatty:
    image: busybox
    logging:
      driver: json-file
      options:
        max-size: 100k
        max-file: "3"
    command:
      - sh
      - -c
      - |
        echo ready
        while [ ! -e /tmp/go ]; do usleep 10000; done
        for b in $(seq 0 99); do seq $((b*200+1)) $((b*200+200)); usleep 20000; done
"#;

#[test]
fn rotation_keeps_max_file_and_follow_loses_nothing() {
    sandboxed(
        "logging::rotation_keeps_max_file_and_follow_loses_nothing",
        |s| {
            s.import_busybox();
            let dir = s.project("rot", CHATTY);
            s.ok(&dir, &["up", "-d"]);
            let mut follower = Command::new(env!("CARGO_BIN_EXE_wharf"))
                .args(["logs", "-f", "--no-log-prefix", "chatty"])
                .current_dir(&dir)
                .env("WHARF_ROOT", s.root.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let seen = Arc::new(Mutex::new(Vec::<String>::new()));
            let reader = {
                let seen = seen.clone();
                let stdout = follower.stdout.take().unwrap();
                std::thread::spawn(move || {
                    for line in BufReader::new(stdout).lines() {
                        seen.lock().unwrap().push(line.unwrap());
                    }
                })
            };
            eventually("the follower to see ready", Duration::from_secs(10), || {
                seen.lock()
                    .unwrap()
                    .iter()
                    .any(|l| l == "ready")
                    .then_some(())
            });
            s.ok(&dir, &["exec", "-T", "chatty", "touch", "/tmp/go"]);
            // The follower ends when the container does.
            let status = follower.wait().unwrap();
            reader.join().unwrap();
            assert!(status.success());
            let followed = seen.lock().unwrap().clone();
            assert_eq!(consecutive(&followed), (1, LINES), "logs -f saw every line");

            let dirs = container_dirs(s);
            assert_eq!(dirs.len(), 1);
            let files = log_files(&dirs[0]);
            assert!(
                files.len() <= 3 && files.contains(&"container.log.2".to_string()),
                "{files:?}"
            );
            let kept: Vec<String> = s
                .ok(&dir, &["logs", "--no-log-prefix", "chatty"])
                .lines()
                .map(str::to_string)
                .collect();
            let (first, last) = consecutive(&kept);
            assert_eq!(last, LINES, "the newest lines are kept");
            assert!(first > 1, "the oldest lines were rotated away");
            let tail = s.ok(&dir, &["logs", "--no-log-prefix", "--tail", "2", "chatty"]);
            assert_eq!(tail, format!("{}\n{LINES}\n", LINES - 1));
            s.ok(&dir, &["down"]);
        },
    );
}

#[test]
fn none_driver_stores_nothing_and_logs_says_so() {
    sandboxed(
        "logging::none_driver_stores_nothing_and_logs_says_so",
        |s| {
            s.import_busybox();
            let dir = s.project(
            "quiet",
            "services:\n  quiet:\n    image: busybox\n    logging:\n      driver: none\n    command: [\"sh\", \"-c\", \"echo hello; sleep 30\"]\n",
        );
            s.ok(&dir, &["up", "-d"]);
            let err = s.fails(&dir, &["logs", "quiet"]);
            assert!(
                err.contains("configured logging driver does not support reading"),
                "{err}"
            );
            let dirs = container_dirs(s);
            assert_eq!(dirs.len(), 1);
            assert!(log_files(&dirs[0]).is_empty());
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

#[test]
fn an_unsupported_driver_fails_up_and_creates_nothing() {
    sandboxed(
        "logging::an_unsupported_driver_fails_up_and_creates_nothing",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "sys",
                "services:\n  web:\n    image: busybox\n    logging:\n      driver: syslog\n",
            );
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(err.contains("\"syslog\" is not supported"), "{err}");
            assert!(err.contains("web"), "names the service: {err}");
            assert!(container_dirs(s).is_empty());
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
        },
    );
}

const HOOKS: &str = r#"
services:
  app:
    image: busybox
    volumes: ["./data:/data"]
    command:
      - sh
      - -c
      - |
        trap 'test -e /data/pre_stop && echo hook-ran-first > /data/term; exit 0' TERM
        while [ ! -e /tmp/post_start ]; do usleep 10000; done
        echo "container saw $(cat /tmp/post_start)"
        while :; do sleep 1 & wait; done
    post_start:
      - command: ["sh", "-c", "echo $$GREETING > /tmp/post_start"]
        environment:
          GREETING: hooked
    pre_stop:
      - command: ["sh", "-c", "echo stopping > /data/pre_stop"]
"#;

#[test]
fn post_start_and_pre_stop_hooks_run() {
    sandboxed("logging::post_start_and_pre_stop_hooks_run", |s| {
        s.import_busybox();
        let dir = s.project("hooks", HOOKS);
        s.ok(&dir, &["up", "-d"]);
        eventually(
            "the container to see the hook's file",
            Duration::from_secs(10),
            || {
                s.ok(&dir, &["logs", "--no-log-prefix", "app"])
                    .contains("container saw hooked")
                    .then_some(())
            },
        );
        assert!(!dir.join("data/pre_stop").exists());
        s.ok(&dir, &["stop", "app"]);
        assert_eq!(
            std::fs::read_to_string(dir.join("data/pre_stop")).unwrap(),
            "stopping\n"
        );
        assert_eq!(
            std::fs::read_to_string(dir.join("data/term")).unwrap(),
            "hook-ran-first\n",
            "pre_stop runs before the stop signal"
        );
        s.ok(&dir, &["down"]);
    });
}

#[test]
fn a_failing_post_start_hook_fails_up() {
    sandboxed("logging::a_failing_post_start_hook_fails_up", |s| {
        s.import_busybox();
        let dir = s.project(
            "badhook",
            "services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"30\"]\n    post_start:\n      - command: [\"sh\", \"-c\", \"echo broken >&2; exit 3\"]\n",
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(err.contains("post_start hook"), "{err}");
        assert!(err.contains("status 3"), "{err}");
        assert!(err.contains("broken"), "{err}");
        s.ok(&dir, &["down", "-t", "0"]);
    });
}
