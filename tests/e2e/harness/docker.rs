//! Set-up shared by the tests that drive wharf as docker: wharf started as
//! `docker` (a symlink to its binary), the real docker CLI against `wharf
//! system service` on a socket in the sandbox, and the pseudo-terminals that
//! `-it` and `attach` need.

use super::{eventually, Sandbox, LEAST_DEADLINE};
use std::io::{Read, Write};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

// ---- wharf as `docker` -------------------------------------------------

/// A `docker` symlink to the wharf binary in the sandbox's work directory.
pub fn docker_link(s: &Sandbox) -> PathBuf {
    let link = s.work.path().join("bin/docker");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wharf"), &link).unwrap();
    link
}

/// `docker ARGS` through the symlink, in the sandbox's work directory.
pub fn docker_command(s: &Sandbox, link: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(link);
    command
        .args(args)
        .current_dir(s.work.path())
        .env("WHARF_ROOT", s.root.path());
    command
}

pub fn docker(s: &Sandbox, link: &Path, args: &[&str]) -> Output {
    docker_command(s, link, args)
        .output()
        .expect("running docker")
}

/// The standard output of a command that must succeed.
pub fn ok(s: &Sandbox, link: &Path, args: &[&str]) -> String {
    let out = docker(s, link, args);
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The exit code and stderr of a command that must fail.
pub fn fails(s: &Sandbox, link: &Path, args: &[&str]) -> (i32, String) {
    let out = docker(s, link, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "docker {args:?} should fail");
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

// ---- the real docker CLI through the Engine API ---------------------------

const DOCKER_CLI: &str = "/var/cache/wharf-dev/docker-cli/docker";

/// The docker CLI, or None (after saying so) when it is not installed; in
/// CI its absence fails the test.
pub fn docker_cli() -> Option<PathBuf> {
    let path = PathBuf::from(DOCKER_CLI);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "the docker CLI is missing at {DOCKER_CLI}: run scripts/install-deps.sh"
    );
    eprintln!("skipped: the docker CLI is not installed at {DOCKER_CLI} (scripts/install-deps.sh)");
    None
}

/// Where the sandbox's `wharf system service` listens.
pub fn api_socket(s: &Sandbox) -> PathBuf {
    s.work.path().join("run/docker.sock")
}

/// `wharf system service` on a socket in the sandbox; ended when dropped.
pub struct Service {
    pub child: Child,
    pub socket: PathBuf,
}

impl Service {
    /// Started on [`api_socket`] with `extra` arguments; returns once the
    /// socket takes connections.
    pub fn start(s: &Sandbox, extra: &[&str]) -> Service {
        let service = Service::spawn(s, &api_socket(s), extra);
        eventually("the API socket", Duration::from_secs(10), || {
            UnixStream::connect(&service.socket).ok()
        });
        service
    }

    /// Started on `socket` with `extra` arguments, not waited for.
    pub fn spawn(s: &Sandbox, socket: &Path, extra: &[&str]) -> Service {
        let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(["system", "service"])
            .args(extra)
            .arg(format!("unix://{}", socket.display()))
            .env("WHARF_ROOT", s.root.path())
            .stdout(Stdio::null())
            .spawn()
            .expect("starting wharf system service");
        Service {
            child,
            socket: socket.to_path_buf(),
        }
    }

    /// The docker CLI `cli` on this service, run in `dir`.
    pub fn docker<'a>(&'a self, cli: PathBuf, dir: &'a Path) -> Docker<'a> {
        Docker {
            cli,
            service: self,
            dir,
        }
    }

    /// Its exit status, once it has ended.
    pub fn ended(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().unwrap()
    }

    /// Wait for it to end on its own (its idle timeout).
    pub fn wait_for_idle_exit(&mut self) -> ExitStatus {
        eventually("the idle service to end", Duration::from_secs(10), || {
            self.ended()
        })
    }

    /// A raw HTTP/1.1 exchange; the whole response as text.
    pub fn raw(&self, request: &[u8]) -> String {
        let mut stream = UnixStream::connect(&self.socket).unwrap();
        stream.set_read_timeout(Some(LEAST_DEADLINE)).unwrap();
        // A server that refuses a body answers before reading it all.
        let _ = stream.write_all(request);
        let mut response = Vec::new();
        let _ = stream.read_to_end(&mut response);
        String::from_utf8_lossy(&response).into_owned()
    }

    /// A request with a JSON body; the response.
    pub fn post_json(&self, path: &str, body: &str) -> String {
        self.raw(
            format!(
                "POST {path} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        )
    }

    pub fn open_fds(&self) -> usize {
        std::fs::read_dir(format!("/proc/{}/fd", self.child.id()))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The docker CLI talking to a [`Service`].
pub struct Docker<'a> {
    pub cli: PathBuf,
    pub service: &'a Service,
    pub dir: &'a Path,
}

/// The docker CLI `cli` in `dir`, its daemon the API on `socket`, its
/// configuration in `dir` (none of the host's is read).
pub fn docker_cli_command(cli: &Path, socket: &Path, dir: &Path) -> Command {
    let mut command = Command::new(cli);
    command
        .current_dir(dir)
        .env("DOCKER_HOST", format!("unix://{}", socket.display()))
        .env("DOCKER_CONFIG", dir.join(".docker"))
        .env_remove("DOCKER_CONTEXT");
    command
}

/// `GET /_ping` on the API's `socket`; the whole response.
pub fn ping(socket: &Path) -> Option<String> {
    let mut stream = UnixStream::connect(socket).ok()?;
    stream
        .write_all(b"GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    (!text.is_empty()).then_some(text)
}

impl Docker<'_> {
    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = docker_cli_command(&self.cli, &self.service.socket, self.dir);
        command.args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().expect("running docker")
    }

    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

// ---- pseudo-terminals -----------------------------------------------------

/// A pseudo-terminal of `rows` by `cols`: its master, and its slave for a
/// child's standard streams (drop it once the child has it).
pub fn open_pty(rows: u16, cols: u16) -> (std::fs::File, OwnedFd) {
    let size = nix::pty::Winsize {
        ws_row: rows,
        ws_col: cols,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    let pty = nix::pty::openpty(Some(&size), None).expect("openpty");
    (std::fs::File::from(pty.master), pty.slave)
}

/// A child's standard stream on a duplicate of `fd`.
pub fn stdio(fd: &OwnedFd) -> Stdio {
    Stdio::from(fd.as_fd().try_clone_to_owned().unwrap())
}

/// Everything `reader` yields, collected by a thread as it comes.
pub fn collect(mut reader: impl Read + Send + 'static) -> Arc<Mutex<Vec<u8>>> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        // A pty master reads EIO once the last slave is closed: the end.
        while let Ok(n) = reader.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock().unwrap().extend_from_slice(&buf[..n]);
        }
    });
    seen
}

/// What [`collect`] has gathered so far, as text.
pub fn text(seen: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&seen.lock().unwrap()).into_owned()
}

/// Wait for `child` to exit, killing it after `timeout` (at least
/// [`LEAST_DEADLINE`]).
pub fn wait_with_deadline(child: &mut Child, timeout: Duration) -> ExitStatus {
    let timeout = timeout.max(LEAST_DEADLINE);
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("wharf did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
