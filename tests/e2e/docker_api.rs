//! The Engine API (`wharf system service`) driven by the real docker CLI: a
//! socket in the test's directory, `DOCKER_HOST` pointing at it, and the
//! single-container workflow checked command by command, with the state
//! read back through wharf's own listings. Bad requests are sent raw.
//!
//! The docker CLI comes from scripts/install-deps.sh (client only, its
//! daemon is never installed). Without it the tests are skipped, except in
//! CI, where its absence fails them.

use crate::harness::docker::{open_pty, ping, stdio};
use crate::harness::{eventually, sandboxed};
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

pub use crate::harness::docker::{collect, docker_cli, Docker, Service};

pub fn status_line(response: &str) -> &str {
    response.lines().next().unwrap_or("")
}

#[test]
fn the_docker_cli_runs_containers_through_the_socket() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api::the_docker_cli_runs_containers_through_the_socket",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = service.docker(cli, s.work.path());

            let version = d.ok(&["version"]);
            assert!(version.contains("Client:"), "{version}");
            assert!(version.contains("Server:"), "{version}");
            let server = version.split("Server:").nth(1).unwrap_or("");
            assert!(
                server
                    .lines()
                    .any(|l| l.contains("API version:") && l.contains("1.47")),
                "{version}"
            );

            // Attached runs: the output, the exit code, nothing left.
            assert_eq!(d.ok(&["run", "--rm", "busybox", "echo", "hi"]), "hi\n");
            let out = d.run(&[
                "run",
                "--rm",
                "busybox",
                "sh",
                "-c",
                "echo out; echo err >&2; exit 3",
            ]);
            assert_eq!(out.status.code(), Some(3), "{out:?}");
            assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n");
            assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
            eventually("--rm containers to go", Duration::from_secs(10), || {
                d.ok(&["ps", "-a", "-q"]).trim().is_empty().then_some(())
            });

            // A detached server, seen by docker and by wharf alike.
            let id = d
                .ok(&[
                    "run",
                    "-d",
                    "--name",
                    "web",
                    "--label",
                    "tier=front",
                    "busybox",
                    "sh",
                    "-c",
                    "hostname > /tmp/name; echo started; exec sleep 300",
                ])
                .trim()
                .to_string();
            assert_eq!(id.len(), 64, "{id}");
            let ps = d.ok(&["ps", "--format", "{{.Names}} {{.Status}}"]);
            assert!(ps.starts_with("web Up "), "{ps}");
            let wharf_ls = s.ok(
                s.work.path(),
                &["container", "ls", "--format", "{{.Names}} {{.ID}}"],
            );
            assert!(
                wharf_ls.starts_with(&format!("web {}", &id[..12])),
                "{wharf_ls}"
            );
            assert_eq!(wharf_ls.lines().count(), 1, "{wharf_ls}");
            let filtered = d.ok(&[
                "ps",
                "-a",
                "--filter",
                "label=tier=front",
                "--format",
                "{{.Names}}",
            ]);
            assert_eq!(filtered, "web\n");
            assert_eq!(d.ok(&["ps", "-a", "--filter", "label=tier=back", "-q"]), "");
            assert_eq!(
                d.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
                "running\n"
            );
            // `started` comes once /tmp/name is written, which `cp` reads.
            let logs = eventually("web's first line", Duration::from_secs(10), || {
                let logs = d.ok(&["logs", "web"]);
                (!logs.is_empty()).then_some(logs)
            });
            assert_eq!(logs, "started\n");

            // exec: output and exit code.
            let hostname = d.ok(&["exec", "web", "cat", "/etc/hostname"]);
            assert_eq!(hostname.trim(), &id[..12]);
            let out = d.run(&["exec", "web", "sh", "-c", "exit 4"]);
            assert_eq!(out.status.code(), Some(4));

            // cp both ways.
            let local = s.work.path().join("note.txt");
            std::fs::write(&local, "from the host\n").unwrap();
            d.ok(&["cp", local.to_str().unwrap(), "web:/tmp/note.txt"]);
            assert_eq!(
                d.ok(&["exec", "web", "cat", "/tmp/note.txt"]),
                "from the host\n"
            );
            let back = s.work.path().join("name.txt");
            d.ok(&["cp", "web:/tmp/name", back.to_str().unwrap()]);
            assert_eq!(std::fs::read_to_string(&back).unwrap().trim(), &id[..12]);

            let stats = d.ok(&[
                "stats",
                "--no-stream",
                "--format",
                "{{.Name}} {{.MemUsage}}",
                "web",
            ]);
            assert!(stats.starts_with("web "), "{stats}");

            // The lifecycle.
            d.ok(&["stop", "-t", "1", "web"]);
            assert_eq!(
                d.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
                "exited\n"
            );
            d.ok(&["start", "web"]);
            assert_eq!(
                d.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
                "running\n"
            );
            d.ok(&["restart", "-t", "1", "web"]);
            assert_eq!(
                d.ok(&["inspect", "-f", "{{.State.Status}}", "web"]),
                "running\n"
            );
            let refused = d.run(&["rm", "web"]);
            assert!(!refused.status.success());
            assert!(
                String::from_utf8_lossy(&refused.stderr)
                    .contains("cannot remove a running container"),
                "{refused:?}"
            );
            assert_eq!(d.ok(&["rm", "-f", "web"]), "web\n");
            assert_eq!(d.ok(&["ps", "-a", "-q"]), "");
            assert!(s
                .ok(s.work.path(), &["container", "ls", "-a", "-q"])
                .trim()
                .is_empty());

            // A missing container is docker's 404.
            let missing = d.run(&["container", "inspect", "nothing"]);
            assert!(!missing.status.success());
            assert!(
                String::from_utf8_lossy(&missing.stderr).contains("No such"),
                "{missing:?}"
            );
        },
    );
}

#[test]
fn bad_requests_get_clear_errors_and_leave_nothing_behind() {
    sandboxed(
        "docker_api::bad_requests_get_clear_errors_and_leave_nothing_behind",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);

            let malformed = service.post_json("/v1.41/containers/create", "{\"Image\": ");
            assert!(status_line(&malformed).contains(" 400 "), "{malformed}");
            assert!(malformed.contains("invalid JSON body"), "{malformed}");

            let unknown = service.post_json(
                "/v1.41/containers/create",
                r#"{"Image": "busybox", "HostConfig": {"CpuRealtimeRuntime": 1000}}"#,
            );
            assert!(status_line(&unknown).contains(" 400 "), "{unknown}");
            assert!(
                unknown.contains("HostConfig.CpuRealtimeRuntime"),
                "{unknown}"
            );

            let huge = format!(
                "{{\"Image\": \"busybox\", \"Labels\": {{\"a\": \"{}\"}}}}",
                "x".repeat(2 << 20)
            );
            let too_large = service.post_json("/v1.41/containers/create", &huge);
            assert!(
                status_line(&too_large).contains(" 413 "),
                "{}",
                status_line(&too_large)
            );

            let too_new = service
                .raw(b"GET /v1.99/version HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
            assert!(status_line(&too_new).contains(" 400 "), "{too_new}");
            assert!(
                too_new.contains("Maximum supported API version is 1.47"),
                "{too_new}"
            );
            assert_eq!(
                s.ok(s.work.path(), &["container", "ls", "-a", "-q"]).trim(),
                "",
                "a refused create made a container"
            );

            // Two starts of one container at once: it runs once.
            let created = service.post_json(
                "/v1.41/containers/create?name=once",
                r#"{"Image": "busybox", "Cmd": ["sh", "-c", "while :; do echo tick; sleep 0.05; done"]}"#,
            );
            assert!(status_line(&created).contains(" 201 "), "{created}");
            let starts: Vec<String> = std::thread::scope(|scope| {
                let handles: Vec<_> = (0..2)
                    .map(|_| scope.spawn(|| service.post_json("/v1.41/containers/once/start", "")))
                    .collect();
                handles
                    .into_iter()
                    .map(|h| status_line(&h.join().unwrap()).to_string())
                    .collect()
            });
            let ok = starts.iter().filter(|l| l.contains(" 204 ")).count();
            let refused = starts
                .iter()
                .filter(|l| l.contains(" 304 ") || l.contains(" 409 "))
                .count();
            assert_eq!((ok, refused), (1, 1), "{starts:?}");
            let top = s.ok(s.work.path(), &["container", "top", "once"]);
            assert_eq!(top.matches("while :").count(), 1, "{top}");

            // A hijacked client that goes away mid-stream: the service
            // keeps no descriptor or thread for it.
            let before = service.open_fds();
            {
                let mut stream = UnixStream::connect(&service.socket).unwrap();
                stream
                    .write_all(b"POST /v1.41/containers/once/attach?stream=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n")
                    .unwrap();
                let mut seen = Vec::new();
                let mut chunk = [0u8; 1024];
                while !String::from_utf8_lossy(&seen).contains("tick") {
                    let n = stream.read(&mut chunk).unwrap();
                    assert!(
                        n > 0,
                        "the attach ended early: {}",
                        String::from_utf8_lossy(&seen)
                    );
                    seen.extend_from_slice(&chunk[..n]);
                }
                assert!(String::from_utf8_lossy(&seen).starts_with("HTTP/1.1 101"));
            }
            eventually(
                "the service to drop the attach",
                Duration::from_secs(10),
                || (service.open_fds() <= before).then_some(()),
            );
            assert!(s
                .ok(
                    s.work.path(),
                    &["container", "ls", "--format", "{{.Names}}"]
                )
                .contains("once"));
            let removed = service.raw(b"DELETE /v1.41/containers/once?force=1 HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
            assert!(status_line(&removed).contains(" 204 "), "{removed}");
            assert_eq!(
                s.ok(s.work.path(), &["container", "ls", "-a", "-q"]).trim(),
                ""
            );
        },
    );
}

#[test]
fn docker_run_it_gives_a_shell_on_a_terminal() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api::docker_run_it_gives_a_shell_on_a_terminal",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = service.docker(cli, s.work.path());
            let (mut master, slave) = open_pty(24, 80);
            let mut child = d
                .command(&["run", "-it", "--name", "shell", "busybox", "sh"])
                .stdin(stdio(&slave))
                .stdout(stdio(&slave))
                .stderr(stdio(&slave))
                .spawn()
                .unwrap();
            drop(slave);
            let mut keys = master.try_clone().unwrap();
            let output = collect(master.try_clone().unwrap());
            let typed = eventually("the shell to answer", Duration::from_secs(20), || {
                keys.write_all(b"echo typed-$((6*7))\r").unwrap();
                std::thread::sleep(Duration::from_millis(200));
                let t = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
                t.contains("typed-42").then_some(t)
            });
            assert!(typed.contains("typed-42"), "{typed:?}");
            master.write_all(b"tty; exit 6\r").unwrap();
            let status = eventually("docker run -it to end", Duration::from_secs(30), || {
                child.try_wait().unwrap()
            });
            let shown = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
            assert_eq!(status.code(), Some(6), "{shown:?}");
            assert!(shown.contains("/dev/pts/"), "{shown:?}");
            assert_eq!(
                d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "shell"]),
                "6\n"
            );
            d.ok(&["rm", "shell"]);
        },
    );
}

#[test]
fn the_service_ends_when_idle_and_removes_its_socket() {
    sandboxed(
        "docker_api::the_service_ends_when_idle_and_removes_its_socket",
        |s| {
            let mut service = Service::start(s, &["--timeout", "1"]);
            // A connection held open keeps it serving past the timeout.
            let held = UnixStream::connect(&service.socket).unwrap();
            std::thread::sleep(Duration::from_millis(1500));
            assert!(
                service.child.try_wait().unwrap().is_none(),
                "ended with a connection open"
            );
            drop(held);
            let status = eventually("the idle service to end", Duration::from_secs(10), || {
                service.child.try_wait().unwrap()
            });
            assert!(status.success(), "{status}");
            assert!(!service.socket.exists(), "the socket file is left");

            // A non-loopback TCP address is refused with the reason.
            let out = s.wharf(s.work.path(), &["system", "service", "tcp://0.0.0.0:2375"]);
            assert_eq!(out.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("not a loopback address") && stderr.contains("TLS"),
                "{stderr}"
            );
        },
    );
}

#[test]
fn a_socket_passed_by_the_service_manager_is_served() {
    let activate = Path::new("/usr/bin/systemd-socket-activate");
    if !activate.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-socket-activate is missing (package systemd)"
        );
        eprintln!("skipped: systemd-socket-activate is not installed (package systemd)");
        return;
    }
    sandboxed(
        "docker_api::a_socket_passed_by_the_service_manager_is_served",
        |s| {
            // systemd's own tool binds the socket and starts the service on
            // the first connection with it as fd 3 (LISTEN_FDS, LISTEN_PID).
            let socket = s.work.path().join("activated.sock");
            let ignored = s.work.path().join("ignored.sock");
            let mut child = Command::new(activate)
                .arg("-l")
                .arg(&socket)
                .arg(env!("CARGO_BIN_EXE_wharf"))
                .args(["system", "service", "--timeout", "1"])
                .arg(format!("unix://{}", ignored.display()))
                .env("WHARF_ROOT", s.root.path())
                .stderr(Stdio::null())
                .spawn()
                .expect("running systemd-socket-activate");
            let response = eventually("the activated service", Duration::from_secs(10), || {
                ping(&socket)
            });
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
            assert!(
                response.to_ascii_lowercase().contains("api-version: 1.47"),
                "{response}"
            );
            let status = eventually("the idle service to end", Duration::from_secs(10), || {
                child.try_wait().unwrap()
            });
            assert!(status.success(), "{status}");
            assert!(
                !ignored.exists(),
                "the URI was bound despite the passed socket"
            );
        },
    );
}
