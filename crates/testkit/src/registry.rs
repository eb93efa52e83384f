//! A real registry server for tests: Debian's `docker-registry` on 127.0.0.1
//! with temporary storage and configuration, open, behind htpasswd, or trusting
//! the tokens of a token service; killed when dropped. `skopeo` seeds it
//! independently of wharf.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The user htpasswd registries know.
pub const USER: &str = "tester";
/// That user's password.
pub const PASSWORD: &str = "s3cret-pw";

/// How the registry authenticates.
pub enum RegistryAuth<'a> {
    /// Anyone may pull and push.
    Open,
    /// HTTP basic authentication of [`USER`] / [`PASSWORD`].
    Htpasswd,
    /// Bearer tokens from the token service at `realm` for `service`, issued by
    /// `issuer` and signed by the key of the certificate `root_cert` (PEM).
    Token {
        realm: &'a str,
        service: &'a str,
        issuer: &'a str,
        root_cert: &'a Path,
    },
}

/// A running registry.
pub struct TestRegistry {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Its storage, configuration and log (`registry.log`).
    pub dir: tempfile::TempDir,
    /// Whether it asks for credentials.
    pub auth: bool,
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn registry_binary() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    ["/usr/bin", "/usr/sbin"]
        .into_iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|d| d.join("docker-registry"))
        .find(|f| f.is_file())
}

/// The HTTP status of `GET /v2/` on 127.0.0.1:`port`, if it answers.
fn v2_status(port: u16) -> Option<u16> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\n\r\n"
    )
    .ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// How one start of the registry went.
enum Started {
    Up(TestRegistry),
    /// Another program took the port first; the registry's log.
    PortTaken(String),
}

impl TestRegistry {
    /// Start a registry, or `None` (with the reason printed) when
    /// `docker-registry` is not installed. Returns once `/v2/` answers.
    pub fn start(auth: RegistryAuth<'_>) -> Option<TestRegistry> {
        let Some(bin) = registry_binary() else {
            eprintln!("SKIP: docker-registry is not installed (apt-get install docker-registry)");
            return None;
        };
        // The port is free when chosen, but another program on the host may take it
        // before the registry binds it: then the registry exits, and we try another.
        let mut attempts = 0;
        loop {
            attempts += 1;
            match Self::start_on_a_free_port(&bin, &auth) {
                Started::Up(registry) => return Some(registry),
                Started::PortTaken(log) => {
                    assert!(attempts < 10, "no free port for the registry: {log}");
                }
            }
        }
    }

    fn start_on_a_free_port(bin: &Path, auth: &RegistryAuth<'_>) -> Started {
        let dir = tempfile::tempdir().expect("create the registry's directory");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("find a free port")
            .port();
        let storage = dir.path().join("storage");
        std::fs::create_dir(&storage).expect("create the registry's storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        let needs_auth = !matches!(auth, RegistryAuth::Open);
        match *auth {
            RegistryAuth::Open => {}
            RegistryAuth::Htpasswd => {
                let hash = bcrypt::hash(PASSWORD, 5).expect("hash the test password");
                let htpasswd = dir.path().join("htpasswd");
                std::fs::write(&htpasswd, format!("{USER}:{hash}\n")).expect("write htpasswd");
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: wharf-test\n    path: {}\n",
                    htpasswd.display()
                ));
            }
            RegistryAuth::Token {
                realm,
                service,
                issuer,
                root_cert,
            } => config.push_str(&format!(
                "auth:\n  token:\n    realm: {realm}\n    service: {service}\n    issuer: {issuer}\n    rootcertbundle: {}\n",
                root_cert.display()
            )),
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write the registry's config");
        let log = std::fs::File::create(dir.path().join("registry.log"))
            .expect("create the registry's log");
        let child = Command::new(bin)
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("share the registry's log"))
            .stderr(log)
            .spawn()
            .expect("start docker-registry");
        let registry = TestRegistry {
            child,
            port,
            dir,
            auth: needs_auth,
        };
        let ready = if needs_auth { 401 } else { 200 };
        let deadline = Instant::now() + Duration::from_secs(30);
        let log = |r: &TestRegistry| {
            std::fs::read_to_string(r.dir.path().join("registry.log")).unwrap_or_default()
        };
        let mut registry = registry;
        while v2_status(port) != Some(ready) {
            if registry.child.try_wait().is_ok_and(|s| s.is_some()) {
                let log = log(&registry);
                assert!(
                    log.contains("address already in use"),
                    "the registry exited: {log}"
                );
                return Started::PortTaken(log);
            }
            assert!(
                Instant::now() < deadline,
                "the registry did not come up: {}",
                log(&registry)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Started::Up(registry)
    }

    /// `127.0.0.1:PORT`.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Path of a blob's data in the registry's storage.
    pub fn blob_data(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    /// `skopeo copy` (all platforms) of `layout`'s `tag` to `repo` here.
    pub fn seed(&self, layout: &Path, tag: &str, repo: &str, extra: &[&str]) {
        let mut cmd = Command::new("skopeo");
        cmd.args(["copy", "--all", "--dest-tls-verify=false", "--quiet"]);
        if self.auth {
            cmd.arg(format!("--dest-creds={USER}:{PASSWORD}"));
        }
        cmd.args(extra);
        cmd.arg(format!("oci:{}:{tag}", layout.display()));
        cmd.arg(format!("docker://{}/{repo}", self.host()));
        let out = cmd.output().expect("run skopeo");
        assert!(
            out.status.success(),
            "skopeo copy failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
