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
use std::time::Duration;

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
        eventually(
            &format!("{expected:?} after typing {line:?}"),
            Duration::from_secs(20),
            || {
                self.keys.write_all(format!("{line}\r").as_bytes()).unwrap();
                std::thread::sleep(Duration::from_millis(250));
                self.shown().contains(expected).then_some(())
            },
        );
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
