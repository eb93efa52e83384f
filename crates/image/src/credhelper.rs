//! Docker's credential-helper protocol: the program `docker-credential-NAME` on
//! `PATH`, run as `get` (server URL on stdin, `{"ServerURL","Username","Secret"}`
//! on stdout), `store` (that JSON on stdin), `erase` (server URL on stdin) or
//! `list`. A helper that answers "credentials not found" has none for the server.
//!
//! The helper is the user's own secret store (a keychain, `pass`, a cloud
//! provider's token vendor), so it is run as the user configured it. It runs in
//! a process group of its own so that a helper that hangs is killed whole when
//! its time is up.

use crate::auth::Credentials;
use crate::error::ImageError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a helper may take before it is killed.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The user name a helper answers when `Secret` is an identity (refresh) token.
pub const IDENTITY_TOKEN_USER: &str = "<token>";

/// The output helpers give when they hold nothing for a server.
const NOT_FOUND: &str = "credentials not found in native keychain";

/// A configured credential helper.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialHelper {
    /// The helper's name: the program is `docker-credential-<name>`.
    pub name: String,
    /// The config key that asked for it (`credsStore`, `credHelpers["host"]`),
    /// for error messages.
    pub config_key: String,
    /// How long one call may take.
    pub timeout: Duration,
    /// Directories searched for the program; `None`: the process's `PATH`.
    pub search_path: Option<OsString>,
}

/// What a finished helper said.
struct Outcome {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn not_found(&self) -> bool {
        !self.status.success() && self.stdout.trim() == NOT_FOUND
    }
}

impl CredentialHelper {
    /// The helper `name`, asked for by `config_key`, with the default timeout.
    pub fn new(name: &str, config_key: &str) -> Self {
        CredentialHelper {
            name: name.to_string(),
            config_key: config_key.to_string(),
            timeout: DEFAULT_TIMEOUT,
            search_path: None,
        }
    }

    /// The program's path: the first executable `docker-credential-<name>` on
    /// the search path.
    fn locate(&self) -> Option<PathBuf> {
        let dirs = self
            .search_path
            .clone()
            .or_else(|| std::env::var_os("PATH"))?;
        std::env::split_paths(&dirs)
            .filter(|d| !d.as_os_str().is_empty())
            .map(|d| d.join(self.program()))
            .find(|p| {
                p.metadata()
                    .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            })
    }

    /// The program run: `docker-credential-<name>`.
    pub fn program(&self) -> String {
        format!("docker-credential-{}", self.name)
    }

    /// The credentials the helper holds for `server_url`, if any.
    pub fn get(&self, server_url: &str) -> Result<Option<Credentials>, ImageError> {
        let out = self.run("get", server_url.as_bytes())?;
        if out.not_found() {
            return Ok(None);
        }
        if !out.status.success() {
            return Err(self.failed("get", server_url, &out));
        }
        let answer: Value = serde_json::from_str(&out.stdout).map_err(|e| {
            self.error(
                "get",
                format!("its answer for {server_url} is not JSON: {e}"),
            )
        })?;
        let field = |name: &str| answer.get(name).and_then(Value::as_str).unwrap_or_default();
        let (username, secret) = (field("Username"), field("Secret"));
        if username.is_empty() && secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(Credentials {
            username: username.to_string(),
            password: secret.to_string(),
        }))
    }

    /// Store `credentials` for `server_url` in the helper.
    pub fn store(&self, server_url: &str, credentials: &Credentials) -> Result<(), ImageError> {
        let input = serde_json::json!({
            "ServerURL": server_url,
            "Username": credentials.username,
            "Secret": credentials.password,
        });
        let out = self.run("store", input.to_string().as_bytes())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(self.failed("store", server_url, &out))
        }
    }

    /// Erase what the helper holds for `server_url`; returns whether it held anything.
    pub fn erase(&self, server_url: &str) -> Result<bool, ImageError> {
        let out = self.run("erase", server_url.as_bytes())?;
        if out.not_found() {
            return Ok(false);
        }
        if out.status.success() {
            Ok(true)
        } else {
            Err(self.failed("erase", server_url, &out))
        }
    }

    /// Server URL → user name of everything the helper holds.
    pub fn list(&self) -> Result<BTreeMap<String, String>, ImageError> {
        let out = self.run("list", b"")?;
        if !out.status.success() {
            return Err(self.failed("list", "", &out));
        }
        serde_json::from_str(&out.stdout).map_err(|e| {
            self.error(
                "list",
                format!("its answer is not a JSON object of strings: {e}"),
            )
        })
    }

    fn error(&self, action: &str, reason: String) -> ImageError {
        ImageError::CredentialHelper {
            program: self.program(),
            config_key: self.config_key.clone(),
            action: action.to_string(),
            reason,
        }
    }

    fn failed(&self, action: &str, server_url: &str, out: &Outcome) -> ImageError {
        let said = [out.stderr.trim(), out.stdout.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        let said = if said.is_empty() {
            "nothing".to_string()
        } else {
            said
        };
        let server = if server_url.is_empty() {
            String::new()
        } else {
            format!(" for {server_url}")
        };
        self.error(
            action,
            format!("it failed{server} ({}) and said: {said}", out.status),
        )
    }

    /// Run the helper with `input` on stdin, within the timeout.
    fn run(&self, action: &str, input: &[u8]) -> Result<Outcome, ImageError> {
        let program = self.locate().ok_or_else(|| {
            self.error(
                action,
                format!(
                    "it is not on PATH; install it, or remove {}",
                    self.config_key
                ),
            )
        })?;
        let mut child = Command::new(program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .spawn()
            .map_err(|e| self.error(action, format!("it cannot be started: {e}")))?;
        // Feed stdin and drain stdout/stderr in threads, so that a helper that
        // neither reads nor exits cannot block us past the deadline.
        let stdin = child.stdin.take();
        let input = input.to_vec();
        std::thread::spawn(move || {
            if let Some(mut s) = stdin {
                let _ = s.write_all(&input);
            }
        });
        let drain = |pipe: Option<Box<dyn Read + Send>>| {
            let (sender, receiver) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut text = Vec::new();
                if let Some(p) = pipe {
                    let _ = p.take(1 << 20).read_to_end(&mut text);
                }
                let _ = sender.send(String::from_utf8_lossy(&text).into_owned());
            });
            receiver
        };
        let stdout = drain(child.stdout.take().map(|p| Box::new(p) as _));
        let stderr = drain(child.stderr.take().map(|p| Box::new(p) as _));
        let deadline = Instant::now() + self.timeout;
        let mut pause = Duration::from_millis(1);
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() >= deadline => {
                    self.kill(&mut child);
                    return Err(self.error(
                        action,
                        format!(
                            "it did not finish within {} s and was stopped; check that the secret store it uses is reachable and unlocked",
                            self.timeout.as_secs_f32()
                        ),
                    ));
                }
                Ok(None) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_millis(50));
                }
                Err(e) => {
                    self.kill(&mut child);
                    return Err(self.error(action, format!("cannot wait for it: {e}")));
                }
            }
        };
        // A process the helper left behind may keep its output open: read what
        // came until the deadline, no longer.
        let rest = |deadline: Instant| deadline.saturating_duration_since(Instant::now());
        let stdout = stdout.recv_timeout(rest(deadline)).unwrap_or_default();
        let stderr = stderr.recv_timeout(rest(deadline)).unwrap_or_default();
        Ok(Outcome {
            status,
            stdout,
            stderr,
        })
    }

    /// Kill the helper's whole process group and reap the helper.
    fn kill(&self, child: &mut std::process::Child) {
        if let Ok(pid) = i32::try_from(child.id()) {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        let _ = child.kill();
        let _ = child.wait();
    }
}
