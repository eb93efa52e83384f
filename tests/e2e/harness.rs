//! The end-to-end harness: each test re-runs itself inside fresh mount,
//! network and pid namespaces (`wharf_testkit::sandbox`) with a temporary
//! state root and its own cgroup parent, so nothing it creates — mounts,
//! bridges, processes, cgroups — outlives it on the host, even when it fails.

pub mod docker;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// Run `body` in a sandbox. `name` is the test's full path (`module::test`).
pub fn sandboxed(name: &str, body: impl FnOnce(&Sandbox)) {
    wharf_testkit::sandbox::run_test(name, || body(&Sandbox::new()));
}

/// A state root, a project directory and the busybox image, inside the namespaces.
pub struct Sandbox {
    pub root: tempfile::TempDir,
    pub work: tempfile::TempDir,
}

impl Sandbox {
    fn new() -> Self {
        wharf_net::loopback_up().expect("setting lo up in the test namespace");
        Sandbox {
            root: tempfile::tempdir().unwrap(),
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// Run wharf in `dir` with the sandbox's root.
    pub fn wharf(&self, dir: &Path, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(args)
            .current_dir(dir)
            .env("WHARF_ROOT", self.root.path())
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_FILE")
            .output()
            .expect("running wharf")
    }

    /// Run wharf like [`Sandbox::wharf`], with `env` added (a `WHARF_ROOT` there
    /// wins over the sandbox's) and `stdin` written to its standard input.
    pub fn wharf_with(
        &self,
        dir: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        stdin: &[u8],
    ) -> Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_wharf"))
            .args(args)
            .current_dir(dir)
            .env("WHARF_ROOT", self.root.path())
            .env_remove("COMPOSE_PROJECT_NAME")
            .env_remove("COMPOSE_FILE")
            .envs(env.iter().copied())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("running wharf");
        let mut input = child.stdin.take().expect("a stdin pipe");
        // wharf may exit before reading it all: a closed pipe is no error here.
        let _ = input.write_all(stdin);
        drop(input);
        child.wait_with_output().expect("waiting for wharf")
    }

    /// Run wharf and require success; returns stdout.
    pub fn ok(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.wharf(dir, args);
        assert!(
            out.status.success(),
            "wharf {args:?} failed ({}):\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Run wharf and require exit code 1; returns stderr.
    pub fn fails(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.wharf(dir, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(1),
            "wharf {args:?} should fail with 1:\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "wharf panicked: {stderr}");
        stderr
    }

    /// Run wharf and require exit code 15, docker compose's code for a
    /// Compose file that does not load; returns stderr.
    pub fn fails_loading(&self, dir: &Path, args: &[&str]) -> String {
        let out = self.wharf(dir, args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(
            out.status.code(),
            Some(15),
            "wharf {args:?} should fail to load the project (15):\nstdout: {}\nstderr: {stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(!stderr.contains("panicked"), "wharf panicked: {stderr}");
        stderr
    }

    /// Import the busybox image made by the project's script.
    pub fn import_busybox(&self) {
        let tar = self.work.path().join("busybox.tar");
        let script =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/make-busybox-tar.sh");
        let status = Command::new("bash")
            .arg(script)
            .arg(&tar)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "make-busybox-tar.sh failed");
        let out = self.ok(
            self.work.path(),
            &[
                "image",
                "import",
                "-c",
                "CMD [\"/bin/sh\"]",
                tar.to_str().unwrap(),
                "busybox:latest",
            ],
        );
        assert!(out.trim().starts_with("sha256:"), "import printed {out:?}");
    }

    /// A project directory `name` holding `compose.yaml` with `yaml`.
    pub fn project(&self, name: &str, yaml: &str) -> PathBuf {
        let dir = self.work.path().join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
        dir
    }
}

/// The least time a wait gives its condition. A deadline here only tells a
/// hang from a slow step, and on a loaded machine (the suite beside builds,
/// an emulated guest) steps of milliseconds take seconds.
pub const LEAST_DEADLINE: Duration = Duration::from_secs(60);

/// Poll `check` until it returns Some or `timeout` (at least
/// [`LEAST_DEADLINE`]) passes.
pub fn eventually<T>(what: &str, timeout: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + timeout.max(LEAST_DEADLINE);
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// GET `path` from `addr` with a plain HTTP/1.0 request; the whole response.
pub fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    (!response.is_empty()).then_some(response)
}

/// No bridge or veth is left in the sandbox's network namespace, right after
/// the command that removed them returned: wharf deletes the veth pairs of
/// the containers it stops, not leaving them to the kernel's clean-up.
pub fn no_links_left() {
    let net_dev = std::fs::read_to_string("/proc/net/dev").unwrap();
    assert!(
        !net_dev.contains("br-") && !net_dev.contains("veth"),
        "links left: {net_dev}"
    );
}

/// Whether the host takes a block I/O weight, as docker decides it: v2 with
/// the io controller, v1 with CFQ's or BFQ's weight file.
pub fn block_io_weight_supported() -> bool {
    let root = Path::new("/sys/fs/cgroup");
    match std::fs::read_to_string(root.join("cgroup.controllers")) {
        Ok(controllers) => controllers.split_whitespace().any(|c| c == "io"),
        Err(_) => ["blkio.weight", "blkio.bfq.weight"]
            .iter()
            .any(|f| root.join("blkio").join(f).exists()),
    }
}

/// docker's warning for a block I/O weight the host cannot take.
pub const WEIGHT_DISCARDED: &str =
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
