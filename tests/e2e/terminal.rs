//! Terminals and stdin: `run` with a pseudo-terminal of the caller's size
//! (resized with it, Ctrl-C a key), piped stdin without one, and `attach` to
//! `stdin_open` services under `up -d`, with and without a terminal,
//! detaching with ctrl-p ctrl-q.

use crate::harness::docker::{collect, open_pty, stdio, text, wait_with_deadline};
use crate::harness::{eventually, sandboxed, Sandbox};
use std::io::Write;
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const YAML: &str = "services:
  box:
    image: busybox:latest
  boxinit:
    image: busybox:latest
    init: true
  shell:
    image: busybox:latest
    command: sh
    stdin_open: true
    tty: true
  reader:
    image: busybox:latest
    command: sh
    stdin_open: true
  ttybox:
    image: busybox:latest
    tty: true
";

fn wharf(s: &Sandbox, dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_wharf"));
    command
        .args(args)
        .current_dir(dir)
        .env("WHARF_ROOT", s.root.path())
        .env_remove("COMPOSE_PROJECT_NAME")
        .env_remove("COMPOSE_FILE");
    command
}

fn state_of(s: &Sandbox, dir: &Path, service: &str) -> Option<String> {
    s.ok(dir, &["ps", "-a", "--format", "json"])
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|v| v["Service"] == service)
        .map(|v| v["State"].as_str().unwrap().to_string())
}

#[test]
fn run_on_a_terminal_gives_the_container_one_of_the_same_size() {
    sandboxed(
        "terminal::run_on_a_terminal_gives_the_container_one_of_the_same_size",
        |s| {
            s.import_busybox();
            let dir = s.project("term", YAML);
            // With init: true the init holds the terminal and the command is
            // its foreground process group.
            for service in ["box", "boxinit"] {
                let (master, slave) = open_pty(33, 101);
                let mut child = wharf(
                    s,
                    &dir,
                    &["run", "--rm", service, "sh", "-c", "tty; stty size; exit 3"],
                )
                .stdin(stdio(&slave))
                .stdout(stdio(&slave))
                .stderr(stdio(&slave))
                .spawn()
                .unwrap();
                drop(slave);
                let output = collect(master);
                let status = wait_with_deadline(&mut child, Duration::from_secs(60));
                let shown = eventually("the container's output", Duration::from_secs(10), || {
                    let t = text(&output);
                    t.contains("33 101").then_some(t)
                });
                assert!(
                    shown.contains("/dev/pts/"),
                    "{service}: tty printed: {shown:?}"
                );
                assert!(
                    shown.contains("33 101\r\n"),
                    "a terminal writes \\r\\n: {shown:?}"
                );
                assert_eq!(status.code(), Some(3), "output: {shown:?}");
            }
        },
    );
}

#[test]
fn run_terminal_follows_resizes_and_takes_ctrl_c_as_a_key() {
    sandboxed(
        "terminal::run_terminal_follows_resizes_and_takes_ctrl_c_as_a_key",
        |s| {
            s.import_busybox();
            let dir = s.project("winch", YAML);
            let (master, slave) = open_pty(33, 101);
            let slave_path = nix::unistd::ttyname(slave.as_fd()).unwrap();
            // The pty is wharf's controlling terminal, so that resizing it
            // sends SIGWINCH and Ctrl-C would be a signal were it not raw.
            let mut child = Command::new("setsid");
            child
                .arg("-c")
                .arg(env!("CARGO_BIN_EXE_wharf"))
                .args([
                    "run",
                    "--rm",
                    "boxinit",
                    "sh",
                    "-c",
                    "while read line; do stty size; done",
                ])
                .current_dir(&dir)
                .env("WHARF_ROOT", s.root.path())
                .env_remove("COMPOSE_PROJECT_NAME")
                .env_remove("COMPOSE_FILE")
                .stdin(stdio(&slave))
                .stdout(stdio(&slave))
                .stderr(stdio(&slave));
            let mut child = child.spawn().unwrap();
            drop(slave);
            let mut keys = master.try_clone().unwrap();
            let settings = master.try_clone().unwrap();
            let output = collect(master);
            let mut answered = |size: &str| {
                eventually(
                    &format!("stty size {size}"),
                    Duration::from_secs(30),
                    || {
                        keys.write_all(b"\r").unwrap();
                        text(&output).contains(size).then_some(())
                    },
                )
            };
            answered("33 101\r\n");
            // Ours is raw while the container has it: Ctrl-C is a key for it.
            let local = |fd: &std::fs::File| {
                nix::sys::termios::tcgetattr(fd.as_fd())
                    .unwrap()
                    .local_flags
            };
            use nix::sys::termios::LocalFlags;
            assert!(!local(&settings).intersects(LocalFlags::ICANON | LocalFlags::ISIG));
            let resized = Command::new("stty")
                .arg("-F")
                .arg(&slave_path)
                .args(["rows", "40", "cols", "120"])
                .status()
                .unwrap();
            assert!(resized.success());
            answered("40 120\r\n");
            keys.write_all(b"\x03").unwrap();
            let status = wait_with_deadline(&mut child, Duration::from_secs(30));
            let shown = text(&output);
            // The container's terminal echoed the key and signalled its
            // foreground command (not the init, which reports its end).
            assert!(shown.contains("^C"), "{shown:?}");
            assert_eq!(status.code(), Some(130), "{shown:?}");
            assert!(
                local(&settings).contains(LocalFlags::ICANON | LocalFlags::ISIG),
                "the terminal's mode is given back"
            );
        },
    );
}

#[test]
fn run_without_terminal_pipes_stdin_to_the_container() {
    sandboxed(
        "terminal::run_without_terminal_pipes_stdin_to_the_container",
        |s| {
            s.import_busybox();
            let dir = s.project("pipe", YAML);
            for args in [
                &["run", "--rm", "-T", "box", "cat"][..],
                &["run", "--rm", "box", "cat"][..],
                &["run", "--rm", "-T", "ttybox", "cat"][..],
            ] {
                let out = s.wharf_with(&dir, args, &[], b"hi\n");
                assert_eq!(
                    (
                        out.status.code(),
                        String::from_utf8_lossy(&out.stdout).as_ref()
                    ),
                    (Some(0), "hi\n"),
                    "{args:?}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            // The service asks for a terminal: the end of our input is typed
            // into it as the end-of-file key, and it echoes what it gets.
            let out = s.wharf_with(&dir, &["run", "--rm", "ttybox", "cat"], &[], b"hi\n");
            let shown = String::from_utf8_lossy(&out.stdout);
            assert_eq!(out.status.code(), Some(0), "{shown:?}");
            assert!(shown.starts_with("hi\r\nhi\r\n"), "{shown:?}");
        },
    );
}

#[test]
fn attach_types_into_a_stdin_open_terminal_and_detaches() {
    sandboxed(
        "terminal::attach_types_into_a_stdin_open_terminal_and_detaches",
        |s| {
            s.import_busybox();
            let dir = s.project("att", YAML);
            s.ok(&dir, &["up", "-d", "shell"]);
            // sh on a terminal that stays open reads on instead of ending
            // at EOF: it still runs once a command has gone through it.
            let ran = s.ok(&dir, &["exec", "-T", "shell", "echo", "probe"]);
            assert_eq!(ran.trim(), "probe");
            assert_eq!(state_of(s, &dir, "shell").as_deref(), Some("running"));

            let mut child = wharf(s, &dir, &["attach", "shell"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut input = child.stdin.take().unwrap();
            let output = collect(child.stdout.take().unwrap());
            let errors = collect(child.stderr.take().unwrap());
            // Kept in the pipe until attach has connected and reads it.
            input.write_all(b"echo attached-$((40+2))\n").unwrap();
            eventually(
                "the shell's answer through attach",
                Duration::from_secs(20),
                || {
                    text(&output)
                        .lines()
                        .any(|l| l.trim_end_matches('\r') == "attached-42")
                        .then_some(())
                },
            );
            input.write_all(b"\x10\x11").unwrap();
            let status = wait_with_deadline(&mut child, Duration::from_secs(20));
            assert_eq!(status.code(), Some(0), "stderr: {}", text(&errors));
            assert_eq!(state_of(s, &dir, "shell").as_deref(), Some("running"));

            let logs = s.ok(&dir, &["logs", "--no-log-prefix", "shell"]);
            assert!(logs.contains("attached-42\r\n"), "logs: {logs:?}");

            // From a terminal: the container's takes its size, follows it
            // and gets the keys as typed until the detach keys.
            let (master, slave) = open_pty(25, 90);
            let slave_path = nix::unistd::ttyname(slave.as_fd()).unwrap();
            let mut child = Command::new("setsid")
                .arg("-c")
                .arg(env!("CARGO_BIN_EXE_wharf"))
                .args(["attach", "shell"])
                .current_dir(&dir)
                .env("WHARF_ROOT", s.root.path())
                .env_remove("COMPOSE_PROJECT_NAME")
                .env_remove("COMPOSE_FILE")
                .stdin(stdio(&slave))
                .stdout(stdio(&slave))
                .stderr(stdio(&slave))
                .spawn()
                .unwrap();
            drop(slave);
            let mut keys = master.try_clone().unwrap();
            let output = collect(master);
            let mut answered = |size: &str| {
                eventually(
                    &format!("stty size {size}"),
                    Duration::from_secs(30),
                    || {
                        keys.write_all(b"stty size\r").unwrap();
                        text(&output).contains(size).then_some(())
                    },
                )
            };
            answered("\n25 90\r\n");
            let resized = Command::new("stty")
                .arg("-F")
                .arg(&slave_path)
                .args(["rows", "30", "cols", "70"])
                .status()
                .unwrap();
            assert!(resized.success());
            answered("\n30 70\r\n");
            keys.write_all(b"\x10\x11").unwrap();
            let status = wait_with_deadline(&mut child, Duration::from_secs(20));
            assert_eq!(status.code(), Some(0), "{}", text(&output));
            assert_eq!(state_of(s, &dir, "shell").as_deref(), Some("running"));
            s.ok(&dir, &["down", "-t", "1"]);
            assert_eq!(state_of(s, &dir, "shell"), None);
        },
    );
}

#[test]
fn attach_writes_to_an_open_stdin_without_terminal() {
    sandboxed(
        "terminal::attach_writes_to_an_open_stdin_without_terminal",
        |s| {
            s.import_busybox();
            let dir = s.project("rd", YAML);
            s.ok(&dir, &["up", "-d", "reader"]);
            // The monitor holds the pipe open: sh waits for input, no EOF.
            assert_eq!(
                s.ok(&dir, &["exec", "-T", "reader", "echo", "up"]).trim(),
                "up"
            );
            assert_eq!(state_of(s, &dir, "reader").as_deref(), Some("running"));

            let mut follower = wharf(s, &dir, &["attach", "--no-stdin", "reader"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            let mut ignored = follower.stdin.take().unwrap();
            ignored.write_all(b"echo not-$((0+7))\n").unwrap();
            let followed = collect(follower.stdout.take().unwrap());

            let mut child = wharf(s, &dir, &["attach", "reader"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            let mut input = child.stdin.take().unwrap();
            let output = collect(child.stdout.take().unwrap());
            let errors = collect(child.stderr.take().unwrap());
            input
                .write_all(b"echo piped-$((1+1)); echo oops-$((2+3)) >&2\n")
                .unwrap();
            eventually("the answer through attach", Duration::from_secs(20), || {
                (text(&output).contains("piped-2\n") && text(&errors).contains("oops-5\n"))
                    .then_some(())
            });
            input.write_all(b"\x10\x11").unwrap();
            let status = wait_with_deadline(&mut child, Duration::from_secs(20));
            assert_eq!(status.code(), Some(0), "stderr: {}", text(&errors));
            assert!(!text(&output).contains("oops"), "stderr stays stderr");
            assert_eq!(state_of(s, &dir, "reader").as_deref(), Some("running"));

            // The follower sees the output (it may have connected late, so
            // it is given more until it does) but sent nothing.
            eventually("the follower's copy", Duration::from_secs(20), || {
                let _ = child_write(&dir, s);
                text(&followed).contains("again-3").then_some(())
            });
            assert!(!text(&followed).contains("not-7"), "{}", text(&followed));
            let logs = s.ok(&dir, &["logs", "--no-log-prefix", "reader"]);
            assert!(
                logs.contains("piped-2") && !logs.contains("not-7"),
                "{logs}"
            );
            let _ = follower.kill();
            let _ = follower.wait();
            s.ok(&dir, &["down", "-t", "1"]);
        },
    );
}

/// One more line into the reader through a short attach.
fn child_write(dir: &Path, s: &Sandbox) -> std::process::ExitStatus {
    let mut child = wharf(s, dir, &["attach", "reader"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(b"echo again-$((1+2))\n\x10\x11").unwrap();
    drop(input);
    wait_with_deadline(&mut child, Duration::from_secs(20))
}
