//! `events`, `--progress`, `--parallel` and `attach` through the binary.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const LOOP: &str = r#"["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]"#;

fn one_service() -> String {
    format!("services:\n  app:\n    image: busybox\n    command: {LOOP}\n")
}

/// [`LOOP`] saying `trapped` once its TERM trap is set: until then a TERM
/// to it (pid 1 of its namespace, which ignores signals it has no handler
/// for) does nothing, and a stop waits out its timeout and kills it.
const TRAPPING_LOOP: &str =
    r#"["sh", "-c", "trap 'exit 0' TERM; echo trapped; while :; do sleep 1 & wait; done"]"#;

/// Wait until `service`'s shell has set its TERM trap.
fn wait_for_trap(s: &Sandbox, dir: &Path, service: &str) {
    eventually("the service's TERM trap", Duration::from_secs(60), || {
        s.ok(dir, &["logs", "--no-log-prefix", service])
            .contains("trapped")
            .then_some(())
    });
}

fn now_secs() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap();
    format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
}

/// Start wharf with `args` in `dir`; its stdout lines arrive on the receiver.
fn spawn_lines(s: &Sandbox, dir: &Path, args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(args)
        .current_dir(dir)
        .env("WHARF_ROOT", s.root.path())
        .env_remove("COMPOSE_PROJECT_NAME")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting wharf");
    let stdout = child.stdout.take().unwrap();
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if send.send(line).is_err() {
                break;
            }
        }
    });
    (child, receive)
}

/// The actions of `--json` event lines.
fn actions(lines: &[String]) -> Vec<String> {
    lines
        .iter()
        .map(|l| {
            let v: serde_json::Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}"));
            assert_eq!(v["type"], "container", "{l}");
            assert_eq!(v["service"], "app", "{l}");
            v["action"].as_str().unwrap().to_string()
        })
        .collect()
}

#[test]
fn events_stream_and_replay_the_lifecycle() {
    sandboxed("cli::events_stream_and_replay_the_lifecycle", |s| {
        s.import_busybox();
        let yaml = format!("services:\n  app:\n    image: busybox\n    command: {TRAPPING_LOOP}\n");
        let dir = s.project("ev", &yaml);
        let since = now_secs();
        let (mut events, lines) = spawn_lines(s, &dir, &["events", "--json", "--since", &since]);
        s.ok(&dir, &["up", "-d"]);
        // The first stop's `die` must carry the trap's exit code, 0, not
        // the 137 of a TERM sent before the trap was set.
        wait_for_trap(s, &dir, "app");
        s.ok(&dir, &["stop", "app"]);
        s.ok(&dir, &["start", "app"]);
        s.ok(&dir, &["kill", "app"]);
        eventually(
            "the killed container to exit",
            Duration::from_secs(60),
            || {
                s.ok(&dir, &["ps", "-a", "--format", "json"])
                    .contains("\"exited\"")
                    .then_some(())
            },
        );
        s.ok(&dir, &["down"]);
        let expected = [
            "create", "start", "die", "stop", "start", "kill", "die", "destroy",
        ];
        let mut seen = Vec::new();
        let live = eventually("the live events", Duration::from_secs(60), || {
            while let Ok(line) = lines.try_recv() {
                seen.push(line);
            }
            (actions(&seen).last().map(String::as_str) == Some("destroy")).then(|| actions(&seen))
        });
        let _ = events.kill();
        let _ = events.wait();
        assert_eq!(live, expected, "{seen:?}");
        let die: serde_json::Value = serde_json::from_str(&seen[2]).unwrap();
        assert_eq!(die["attributes"]["exitCode"], "0", "{die}");
        assert_eq!(die["attributes"]["name"], "ev-app-1", "{die}");
        let kill: serde_json::Value = serde_json::from_str(&seen[5]).unwrap();
        assert_eq!(kill["attributes"]["signal"], "9", "{kill}");

        // Replayed from the log, bounded by --until: the same story, and done.
        let until = now_secs();
        let replay = s.ok(
            &dir,
            &["events", "--json", "--since", &since, "--until", &until],
        );
        let replayed: Vec<String> = replay.lines().map(String::from).collect();
        assert_eq!(actions(&replayed), expected, "{replay}");
        let text = s.ok(&dir, &["events", "--since", &since, "--until", &until]);
        let first = text.lines().next().unwrap_or_default();
        assert!(
            first.contains(" container create ")
                && first.ends_with("(image=busybox, name=ev-app-1)"),
            "{text}"
        );
        // Nothing before --since.
        let later = s.ok(
            &dir,
            &[
                "events",
                "--json",
                "--since",
                &until,
                "--until",
                &now_secs(),
            ],
        );
        assert!(later.trim().is_empty(), "{later}");
    });
}

#[test]
fn progress_json_quiet_and_parallel_one() {
    sandboxed("cli::progress_json_quiet_and_parallel_one", |s| {
        s.import_busybox();
        let yaml = format!(
            "services:\n  a:\n    image: busybox\n    command: {LOOP}\n  b:\n    image: busybox\n    command: {LOOP}\n  c:\n    image: busybox\n    command: {LOOP}\n"
        );
        let dir = s.project("pj", &yaml);
        let out = s.wharf(&dir, &["--progress", "json", "--parallel", "1", "up", "-d"]);
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let objects: Vec<serde_json::Value> = stderr
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}\n{stderr}")))
            .collect();
        for service in ["a", "b", "c"] {
            let id = format!("Container pj-{service}-1");
            assert!(
                objects.iter().any(|o| o["id"] == id.as_str()
                    && o["text"] == "Started"
                    && o["status"] == "Done"),
                "{stderr}"
            );
        }
        // One step at a time: every resource finishes before another begins.
        let mut working: Option<String> = None;
        for o in &objects {
            let id = o["id"].as_str().unwrap().to_string();
            match o["status"].as_str().unwrap() {
                "Working" => {
                    assert!(
                        working.is_none(),
                        "two steps at once with --parallel 1:\n{stderr}"
                    );
                    working = Some(id);
                }
                _ => {
                    if working.as_deref() == Some(id.as_str()) {
                        working = None;
                    }
                }
            }
        }

        let out = s.wharf(&dir, &["--progress", "quiet", "down"]);
        assert!(out.status.success(), "{out:?}");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = s.wharf_with(&dir, &["up", "-d"], &[("COMPOSE_PROGRESS", "quiet")], b"");
        assert!(out.status.success(), "{out:?}");
        assert!(
            out.stderr.is_empty(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let ps = s.ok(&dir, &["ps", "-q"]);
        assert_eq!(ps.lines().count(), 3, "{ps}");
        s.fails(&dir, &["--parallel", "0", "ps"]);
        s.ok(&dir, &["--progress", "plain", "down"]);
    });
}

#[test]
fn attach_follows_the_output() {
    sandboxed("cli::attach_follows_the_output", |s| {
        s.import_busybox();
        let dir = s.project(
            "at",
            "services:\n  app:\n    image: busybox\n    command: [\"sh\", \"-c\", \"i=0; while :; do i=$$((i+1)); echo tick $$i; sleep 0.2; done\"]\n",
        );
        s.ok(&dir, &["up", "-d"]);
        let (mut attach, lines) = spawn_lines(s, &dir, &["attach", "--sig-proxy=false", "app"]);
        let mut seen = Vec::new();
        eventually("attached output", Duration::from_secs(20), || {
            while let Ok(line) = lines.try_recv() {
                seen.push(line);
            }
            (seen.iter().filter(|l| l.starts_with("tick ")).count() >= 3).then_some(())
        });
        let _ = attach.kill();
        let _ = attach.wait();
        // Only new output: not the log from the beginning.
        assert!(!seen.iter().any(|l| l == "tick 1"), "{seen:?}");
        let err = s.fails(&dir, &["attach", "nope"]);
        assert!(err.contains("no such service: nope"), "{err}");
        s.ok(&dir, &["down", "-t", "0"]);
    });
}

/// The exit code of `wharf args` in `dir`, with its stderr.
fn code_and_stderr(s: &Sandbox, dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let out = s.wharf(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!stderr.contains("panicked"), "wharf panicked: {stderr}");
    (out.status.code(), stderr)
}

#[test]
fn exit_codes_follow_docker_compose() {
    sandboxed("cli::exit_codes_follow_docker_compose", |s| {
        s.import_busybox();
        let dir = s.project(
            "codes",
            &format!(
                "services:\n  app:\n    image: busybox\n    command: {LOOP}\n  quick:\n    image: busybox\n    command: [\"sh\", \"-c\", \"sleep 1; exit 3\"]\n"
            ),
        );
        // Usage errors: docker compose's command-syntax code; help is no error.
        let (code, err) = code_and_stderr(s, &dir, &["up", "--no-such-flag"]);
        assert_eq!(code, Some(16), "{err}");
        assert!(err.contains("--no-such-flag"), "{err}");
        assert_eq!(code_and_stderr(s, &dir, &["nosuchcommand"]).0, Some(16));
        assert_eq!(s.wharf(&dir, &["up", "--help"]).status.code(), Some(0));
        // No Compose file anywhere up the tree, and one that does not load.
        let empty = s.work.path().join("empty");
        std::fs::create_dir_all(&empty).unwrap();
        let (code, err) = code_and_stderr(s, &empty, &["ps"]);
        assert_eq!(code, Some(14), "{err}");
        assert!(err.contains("no configuration file provided"), "{err}");
        let broken = s.project("broken", "services:\n  web:\n    image: [\n");
        let (code, err) = code_and_stderr(s, &broken, &["up", "-d"]);
        assert_eq!(code, Some(15), "{err}");
        // Nothing to take down is no error.
        assert_eq!(code_and_stderr(s, &dir, &["down"]).0, Some(0));
        for command in ["ps", "logs"] {
            let err = s.fails(&dir, &[command, "nope"]);
            assert!(err.contains("no such service: nope"), "{command}: {err}");
        }
        // exec: an unknown service is no such service, a known one without a
        // container is not running (docker compose's words), both exit 1.
        let (code, err) = code_and_stderr(s, &dir, &["exec", "-T", "nope", "true"]);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("no such service: nope"), "{err}");
        let (code, err) = code_and_stderr(s, &dir, &["exec", "-T", "app", "true"]);
        assert_eq!(code, Some(1), "{err}");
        assert!(err.contains("service \"app\" is not running"), "{err}");

        // Attached with --abort-on-container-exit: the code of the container
        // that exited first.
        let out = s.wharf(&dir, &["up", "--abort-on-container-exit"]);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        s.ok(&dir, &["up", "-d", "app"]);
        // exec: the command's code, 127 when not found, 126 when it cannot run.
        assert_eq!(
            s.wharf(&dir, &["exec", "-T", "app", "sh", "-c", "exit 42"])
                .status
                .code(),
            Some(42)
        );
        let (code, err) = code_and_stderr(s, &dir, &["exec", "-T", "app", "no-such-program"]);
        assert_eq!(code, Some(127), "{err}");
        let (code, err) = code_and_stderr(s, &dir, &["exec", "-T", "app", "/etc/hosts"]);
        assert_eq!(code, Some(126), "{err}");
        // run passes the command's code through.
        let out = s.wharf(&dir, &["run", "--rm", "-T", "app", "sh", "-c", "exit 9"]);
        assert_eq!(out.status.code(), Some(9), "{out:?}");
        // ... and, as docker run, 127 when its command is not found and 126
        // when it cannot be executed, the reason said once.
        let before = s.ok(&dir, &["ps", "-a", "-q"]);
        let (code, err) =
            code_and_stderr(s, &dir, &["run", "--rm", "-T", "app", "no-such-program"]);
        assert_eq!(code, Some(127), "{err}");
        assert_eq!(
            err.matches("executable file not found in $PATH").count(),
            1,
            "{err}"
        );
        let (code, err) = code_and_stderr(s, &dir, &["run", "--rm", "-T", "app", "/etc/hosts"]);
        assert_eq!(code, Some(126), "{err}");
        assert!(err.contains("permission denied"), "{err}");
        let after = s.ok(&dir, &["ps", "-a", "-q"]);
        assert_eq!(after, before, "run --rm left its container");
        s.ok(&dir, &["down", "-t", "0"]);
    });
}

#[test]
fn events_record_execs_as_docker_does() {
    sandboxed("cli::events_record_execs_as_docker_does", |s| {
        s.import_busybox();
        let dir = s.project("evx", &one_service());
        s.ok(&dir, &["up", "-d"]);
        let since = now_secs();
        let out = s.wharf(&dir, &["exec", "-T", "app", "sh", "-c", "exit 3"]);
        assert_eq!(out.status.code(), Some(3), "{out:?}");
        let until = now_secs();
        let replay = s.ok(
            &dir,
            &["events", "--json", "--since", &since, "--until", &until],
        );
        let lines: Vec<String> = replay.lines().map(String::from).collect();
        assert_eq!(
            actions(&lines),
            [
                "exec_create: sh -c exit 3",
                "exec_start: sh -c exit 3",
                "exec_die"
            ],
            "{replay}"
        );
        let events: Vec<serde_json::Value> = lines
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(events[2]["attributes"]["exitCode"], "3", "{replay}");
        let exec_id = events[0]["attributes"]["execID"]
            .as_str()
            .unwrap_or_default();
        assert_eq!(exec_id.len(), 64, "{replay}");
        assert!(
            events.iter().all(|e| e["attributes"]["execID"] == exec_id),
            "{replay}"
        );
        let text = s.ok(&dir, &["events", "--since", &since, "--until", &until]);
        assert!(
            text.lines()
                .last()
                .is_some_and(|l| l.contains(" container exec_die ") && l.contains("exitCode=3")),
            "{text}"
        );
        s.ok(&dir, &["down", "-t", "0"]);
    });
}

#[test]
fn a_failed_recreate_keeps_the_old_container() {
    sandboxed("cli::a_failed_recreate_keeps_the_old_container", |s| {
        s.import_busybox();
        let dir = s.project("keep", &one_service());
        s.ok(&dir, &["up", "-d"]);
        let id_of_app = || {
            let ps = s.ok(&dir, &["ps", "--format", "json"]);
            let row: serde_json::Value = serde_json::from_str(ps.trim()).unwrap();
            row["ID"].as_str().unwrap().to_string()
        };
        let before = id_of_app();
        let since = now_secs();
        // A changed config the engine refuses at create: below the
        // memory a container needs.
        std::fs::write(
            dir.join("compose.yaml"),
            format!("{}    mem_limit: 4k\n", one_service()),
        )
        .unwrap();
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(err.contains("memory"), "{err}");
        let after = s.ok(&dir, &["ps", "--format", "json"]);
        let rows: Vec<serde_json::Value> = after
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(rows.len(), 1, "{after}");
        assert_eq!(rows[0]["Name"], "keep-app-1", "{after}");
        assert_eq!(rows[0]["State"], "running", "{after}");
        assert_eq!(rows[0]["ID"], before.as_str(), "not the old container");
        // It was moved aside and given its name back.
        let until = now_secs();
        let replay = s.ok(
            &dir,
            &["events", "--json", "--since", &since, "--until", &until],
        );
        let lines: Vec<String> = replay.lines().map(String::from).collect();
        assert_eq!(
            actions(&lines),
            ["die", "stop", "rename", "rename", "start"],
            "{replay}"
        );
        // A replacement that is created but cannot start.
        std::fs::write(
            dir.join("compose.yaml"),
            "services:\n  app:\n    image: busybox\n    command: [\"/no/such/binary\"]\n",
        )
        .unwrap();
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(err.contains("/no/such/binary"), "{err}");
        assert_eq!(id_of_app(), before, "the old container is not back");
        let all = s.ok(&dir, &["ps", "-a", "-q"]);
        assert_eq!(all.lines().count(), 1, "{all}");
        // The next good `up` replaces it.
        std::fs::write(
            dir.join("compose.yaml"),
            one_service() + "    mem_limit: 64m\n",
        )
        .unwrap();
        s.ok(&dir, &["up", "-d"]);
        assert_ne!(id_of_app(), before);
        s.ok(&dir, &["down", "-t", "0"]);
    });
}

#[test]
fn recreate_progress_says_why() {
    sandboxed("cli::recreate_progress_says_why", |s| {
        s.import_busybox();
        let yaml = |greeting: &str| {
            format!(
                "services:\n  a:\n    image: busybox\n    command: {LOOP}\n    environment:\n      GREETING: {greeting}\n"
            )
        };
        let dir = s.project("p", &yaml("hello"));
        s.ok(&dir, &["up", "-d", "-t", "1"]);

        // Plain: one line a change, the reason after the word docker prints.
        std::fs::write(dir.join("compose.yaml"), yaml("bonjour")).unwrap();
        let out = s.wharf(&dir, &["--progress", "plain", "up", "-d", "-t", "1"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains("Container p-a-1  Recreate (environment changed)\n"),
            "{err}"
        );
        assert!(
            err.contains("Container p-a-1  Recreated (environment changed)\n"),
            "{err}"
        );

        // A terminal's block keeps the reason on the finished line.
        std::fs::write(dir.join("compose.yaml"), yaml("hallo")).unwrap();
        let tty = [
            "--progress",
            "tty",
            "--ansi",
            "never",
            "up",
            "-d",
            "-t",
            "1",
        ];
        let out = s.wharf(&dir, &tty);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.contains("Container p-a-1  Recreated (environment changed)"),
            "{err}"
        );

        // JSON carries it in the text.
        std::fs::write(dir.join("compose.yaml"), yaml("ciao")).unwrap();
        let out = s.wharf(&dir, &["--progress", "json", "up", "-d", "-t", "1"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(
            err.lines().any(|l| {
                let o: serde_json::Value = serde_json::from_str(l).unwrap();
                o["id"] == "Container p-a-1" && o["text"] == "Recreated (environment changed)"
            }),
            "{err}"
        );

        // Unchanged: running, nothing recreated.
        let out = s.wharf(&dir, &["--progress", "plain", "up", "-d"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Container p-a-1  Running"), "{err}");
        assert!(!err.contains("Recreate"), "{err}");
        s.ok(&dir, &["down", "-t", "0"]);
        assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
    });
}
