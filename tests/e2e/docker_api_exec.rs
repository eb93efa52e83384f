//! Exec and terminals through the Engine API, driven by the real docker
//! CLI: `docker exec -it` on a pseudo-terminal (typing, the terminal's size
//! as the CLI resizes it, the exit code), `docker exec -i` with piped input,
//! stdout and stderr kept apart, the size of a `docker run -it` container's
//! terminal, and exec instances of a removed or stopped container.

use crate::docker_api::status_line;
use crate::harness::docker::{collect, docker_cli, Docker, Service};
use crate::harness::{eventually, sandboxed};
use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// A docker command running on a pseudo-terminal of the test's, as on a
/// user's terminal.
struct OnTerminal {
    child: Child,
    /// Where the test types.
    keys: std::fs::File,
    /// Everything the command printed so far.
    output: Arc<Mutex<Vec<u8>>>,
    /// Kept to resize the terminal as a user's window would be.
    slave: OwnedFd,
}

impl OnTerminal {
    fn spawn(d: &Docker, args: &[&str], rows: u16, cols: u16) -> OnTerminal {
        let size = nix::pty::Winsize {
            ws_row: rows,
            ws_col: cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
        let dup = |fd: &OwnedFd| Stdio::from(fd.as_fd().try_clone_to_owned().unwrap());
        let child = d
            .command(args)
            .stdin(dup(&pty.slave))
            .stdout(dup(&pty.slave))
            .stderr(dup(&pty.slave))
            .spawn()
            .unwrap();
        let master = std::fs::File::from(pty.master);
        OnTerminal {
            child,
            keys: master.try_clone().unwrap(),
            output: collect(master),
            slave: pty.slave,
        }
    }

    fn shown(&self) -> String {
        String::from_utf8_lossy(&self.output.lock().unwrap()).into_owned()
    }

    /// Type `line` until `expected` shows (the shell may not be reading yet,
    /// or an answer may wait on a resize on its way).
    fn type_until(&mut self, line: &str, expected: &str) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            self.keys.write_all(format!("{line}\r").as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(250));
            if self.shown().contains(expected) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {expected:?} after typing {line:?}; the terminal shows:\n{}",
                self.shown()
            );
        }
    }

    /// Resize the terminal and tell the docker CLI, as a window manager and
    /// the kernel would (the CLI is not the terminal's session leader here).
    fn resize(&self, rows: u16, cols: u16) {
        let status = Command::new("stty")
            .args(["rows", &rows.to_string(), "cols", &cols.to_string()])
            .stdin(Stdio::from(self.slave.try_clone().unwrap()))
            .status()
            .expect("running stty");
        assert!(status.success());
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGWINCH).unwrap();
    }

    /// Type `line` and wait for the command to end; its exit code.
    fn end_with(&mut self, line: &str) -> Option<i32> {
        self.keys.write_all(format!("{line}\r").as_bytes()).unwrap();
        let status = eventually("the docker command to end", Duration::from_secs(30), || {
            self.child.try_wait().unwrap()
        });
        status.code()
    }
}

#[test]
fn docker_exec_it_gives_a_shell_on_a_terminal_of_the_clients_size() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_exec::docker_exec_it_gives_a_shell_on_a_terminal_of_the_clients_size",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = service.docker(cli, s.work.path());
            d.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "300"]);
            let mut shell = OnTerminal::spawn(&d, &["exec", "-it", "box", "sh"], 24, 80);
            shell.type_until("echo typed-$((6*7))", "typed-42");
            shell.type_until("tty", "/dev/pts/");
            // The CLI sizes the exec's terminal once it started.
            shell.type_until("stty size", "24 80");
            shell.resize(40, 100);
            shell.type_until("stty size", "40 100");
            let code = shell.end_with("exit 3");
            assert_eq!(code, Some(3), "{:?}", shell.shown());

            // A client that goes away hangs up its terminal: nothing is left
            // running in the container for nobody.
            let mut left = OnTerminal::spawn(&d, &["exec", "-it", "box", "sh"], 24, 80);
            left.type_until("echo ready-$((2*3))", "ready-6");
            left.keys.write_all(b"exec sleep 1234\r").unwrap();
            eventually("the exec's sleep to run", Duration::from_secs(10), || {
                d.ok(&["exec", "box", "ps"])
                    .contains("sleep 1234")
                    .then_some(())
            });
            left.child.kill().unwrap();
            left.child.wait().unwrap();
            eventually("the hung-up sleep to end", Duration::from_secs(10), || {
                (!d.ok(&["exec", "box", "ps"]).contains("sleep 1234")).then_some(())
            });
            d.ok(&["rm", "-f", "box"]);
        },
    );
}

#[test]
fn a_client_killed_takes_its_exec_with_it() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_exec::a_client_killed_takes_its_exec_with_it",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = Docker {
                cli,
                service: &service,
                dir: s.work.path(),
            };
            d.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "300"]);
            let runs = |command: &str| d.ok(&["exec", "box", "ps"]).contains(command);

            // On pipes, a command that neither reads nor writes: only the
            // connection's end tells that the client is gone.
            let mut piped = d
                .command(&["exec", "-i", "box", "sleep", "1001"])
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            eventually("the piped sleep to run", Duration::from_secs(10), || {
                runs("sleep 1001").then_some(())
            });
            piped.kill().unwrap();
            piped.wait().unwrap();
            eventually(
                "the piped sleep to be killed",
                Duration::from_secs(10),
                || (!runs("sleep 1001")).then_some(()),
            );

            // On a terminal, a command that ignores the hangup: docker kills it.
            let mut terminal = OnTerminal::spawn(
                &d,
                &[
                    "exec",
                    "-it",
                    "box",
                    "sh",
                    "-c",
                    "trap '' HUP; exec sleep 1002",
                ],
                24,
                80,
            );
            eventually(
                "the terminal's sleep to run",
                Duration::from_secs(10),
                || runs("sleep 1002").then_some(()),
            );
            terminal.child.kill().unwrap();
            terminal.child.wait().unwrap();
            eventually(
                "the terminal's sleep to be killed",
                Duration::from_secs(10),
                || (!runs("sleep 1002")).then_some(()),
            );
            d.ok(&["rm", "-f", "box"]);
        },
    );
}

#[test]
fn docker_exec_takes_piped_input_and_keeps_stdout_and_stderr_apart() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_exec::docker_exec_takes_piped_input_and_keeps_stdout_and_stderr_apart",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = service.docker(cli, s.work.path());
            d.ok(&["run", "-d", "--name", "box", "busybox", "sleep", "300"]);
            let fds_before = service.open_fds();

            // `echo hi | docker exec -i box cat`: the end of the input ends cat.
            let mut cat = d
                .command(&["exec", "-i", "box", "cat"])
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            cat.stdin.take().unwrap().write_all(b"hi\n").unwrap();
            let out = cat.wait_with_output().unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "hi\n", "{out:?}");
            assert_eq!(out.status.code(), Some(0), "{out:?}");

            // Without -i the command's stdin is empty, not the client's.
            let out = d
                .command(&["exec", "box", "sh", "-c", "cat; echo done"])
                .stdin(Stdio::piped())
                .output()
                .unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "done\n", "{out:?}");

            let out = d.run(&["exec", "box", "sh", "-c", "echo out; echo err >&2; exit 5"]);
            assert_eq!(String::from_utf8_lossy(&out.stdout), "out\n", "{out:?}");
            assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n", "{out:?}");
            assert_eq!(out.status.code(), Some(5), "{out:?}");

            // A command that is not there: docker's exit code and why, on stderr.
            let out = d.run(&["exec", "box", "no-such-command"]);
            assert_eq!(out.status.code(), Some(127), "{out:?}");
            assert!(
                String::from_utf8_lossy(&out.stderr).contains("no-such-command"),
                "{out:?}"
            );
            // Every exec's pipes were closed with it.
            eventually(
                "the service's descriptors to be back",
                Duration::from_secs(10),
                || (service.open_fds() <= fds_before).then_some(()),
            );
            d.ok(&["rm", "-f", "box"]);
        },
    );
}

#[test]
fn docker_run_it_follows_the_clients_terminal_size() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_exec::docker_run_it_follows_the_clients_terminal_size",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = service.docker(cli, s.work.path());
            let mut shell = OnTerminal::spawn(
                &d,
                &["run", "-it", "--name", "shell", "busybox", "sh"],
                30,
                90,
            );
            shell.type_until("stty size", "30 90");
            shell.resize(50, 132);
            shell.type_until("stty size", "50 132");
            assert_eq!(shell.end_with("exit 7"), Some(7), "{:?}", shell.shown());
            d.ok(&["rm", "shell"]);
        },
    );
}

#[test]
fn an_exec_of_a_removed_or_stopped_container_is_dockers_404_or_409() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_exec::an_exec_of_a_removed_or_stopped_container_is_dockers_404_or_409",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = service.docker(cli, s.work.path());
            let create_exec = |container: &str| -> String {
                let response = service.post_json(
                    &format!("/v1.41/containers/{container}/exec"),
                    r#"{"Cmd":["true"],"AttachStdout":true}"#,
                );
                assert_eq!(status_line(&response), "HTTP/1.1 201 Created", "{response}");
                let id_at = response.find("\"Id\":\"").expect("an Id") + 6;
                response[id_at..id_at + 64].to_string()
            };
            let get = |path: &str| {
                service.raw(
                    format!("GET {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
                        .as_bytes(),
                )
            };

            d.ok(&["run", "-d", "--name", "gone", "busybox", "sleep", "300"]);
            let exec = create_exec("gone");
            d.ok(&["rm", "-f", "gone"]);
            let start =
                service.post_json(&format!("/v1.41/exec/{exec}/start"), r#"{"Detach":true}"#);
            assert_eq!(status_line(&start), "HTTP/1.1 404 Not Found", "{start}");
            assert!(start.contains("No such container"), "{start}");
            let inspect = get(&format!("/v1.41/exec/{exec}/json"));
            assert_eq!(status_line(&inspect), "HTTP/1.1 404 Not Found", "{inspect}");
            assert!(inspect.contains("No such exec instance"), "{inspect}");

            d.ok(&["run", "-d", "--name", "stopped", "busybox", "sleep", "300"]);
            let exec = create_exec("stopped");
            d.ok(&["stop", "-t", "0", "stopped"]);
            let start =
                service.post_json(&format!("/v1.41/exec/{exec}/start"), r#"{"Detach":true}"#);
            assert_eq!(status_line(&start), "HTTP/1.1 409 Conflict", "{start}");
            assert!(start.contains("is not running"), "{start}");
            let resize = service.post_json(&format!("/v1.41/exec/{exec}/resize?h=10&w=20"), "");
            assert_eq!(status_line(&resize), "HTTP/1.1 409 Conflict", "{resize}");

            // A finished exec keeps its exit code for the client to read.
            d.ok(&["start", "stopped"]);
            let exec = create_exec("stopped");
            let start =
                service.post_json(&format!("/v1.41/exec/{exec}/start"), r#"{"Detach":true}"#);
            assert_eq!(status_line(&start), "HTTP/1.1 200 OK", "{start}");
            eventually("the detached exec to end", Duration::from_secs(10), || {
                let inspect = get(&format!("/v1.41/exec/{exec}/json"));
                inspect.contains("\"ExitCode\":0").then_some(())
            });
            d.ok(&["rm", "-f", "stopped"]);
        },
    );
}

/// An attach on a raw connection taken over by the service: the
/// connection, once the `101` answer was read.
fn upgraded_attach(service: &Service, container: &str) -> std::os::unix::net::UnixStream {
    use std::io::Read;
    let mut stream = std::os::unix::net::UnixStream::connect(&service.socket).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let request = format!(
        "POST /v1.41/containers/{container}/attach?stream=1&stdin=1&stdout=1&stderr=1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(stream.read(&mut byte).unwrap(), 1, "{head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    stream
}

#[test]
fn detach_keys_end_an_attach_and_leave_the_container_running() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_exec::detach_keys_end_an_attach_and_leave_the_container_running",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = Docker {
                cli,
                service: &service,
                dir: s.work.path(),
            };
            let running = || d.ok(&["inspect", "-f", "{{.State.Running}}", "shell"]);

            // ctrl-p ctrl-q, docker's default, on `docker run -it`.
            let mut shell = OnTerminal::spawn(
                &d,
                &["run", "-it", "--name", "shell", "busybox", "sh"],
                24,
                80,
            );
            shell.type_until("echo up-$((1+1))", "up-2");
            shell.keys.write_all(b"\x10\x11").unwrap();
            let status = eventually("docker run to detach", Duration::from_secs(20), || {
                shell.child.try_wait().unwrap()
            });
            assert_eq!(status.code(), Some(0), "{:?}", shell.shown());
            assert_eq!(running().trim(), "true");

            // Keys of the user's choice on `docker attach`.
            let mut attached =
                OnTerminal::spawn(&d, &["attach", "--detach-keys", "ctrl-x", "shell"], 24, 80);
            attached.type_until("echo again-$((2+2))", "again-4");
            attached.keys.write_all(b"\x18").unwrap();
            let status = eventually("docker attach to detach", Duration::from_secs(20), || {
                attached.child.try_wait().unwrap()
            });
            // docker attach's CLI says why it ended, and exits 1 for it.
            assert!(attached.shown().contains("read escape sequence"));
            assert_eq!(status.code(), Some(1), "{:?}", attached.shown());
            assert_eq!(running().trim(), "true");

            // The service itself ends the stream on the keys, whatever the
            // client does with them.
            let mut raw = upgraded_attach(&service, "shell");
            raw.write_all(b"\x10\x11").unwrap();
            let mut rest = Vec::new();
            std::io::Read::read_to_end(&mut raw, &mut rest)
                .expect("the service to end the stream on the detach keys");
            assert_eq!(running().trim(), "true");

            // A value docker cannot read is its 400.
            let bad = service.raw(
                b"POST /v1.41/containers/shell/attach?stream=1&stdin=1&detachKeys=ctrl-1 HTTP/1.1\r\nHost: docker\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n",
            );
            assert_eq!(status_line(&bad), "HTTP/1.1 400 Bad Request", "{bad}");
            assert!(
                bad.contains("Invalid detach keys (ctrl-1) provided"),
                "{bad}"
            );
            let bad = service.post_json(
                "/v1.41/containers/shell/exec",
                r#"{"Cmd":["true"],"Tty":true,"DetachKeys":"ctrl-"}"#,
            );
            assert_eq!(status_line(&bad), "HTTP/1.1 400 Bad Request", "{bad}");
            assert!(
                bad.contains("Invalid escape keys (ctrl-) provided"),
                "{bad}"
            );
            d.ok(&["rm", "-f", "shell"]);
        },
    );
}
