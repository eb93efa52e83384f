//! Exec instances: `POST /containers/{id}/exec` creates one, `POST
//! /exec/{id}/start` runs it (detached, or attached on the hijacked
//! connection), `POST /exec/{id}/resize` and `GET /exec/{id}/json`. They live
//! in the service's memory, as long as the service runs.
//!
//! The command's stdout and stderr reach the client through one pipe (as
//! stdout frames without a TTY, raw with one); its stdin is `/dev/null`.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::hijack::{self, StreamKind, MULTIPLEXED_STREAM, RAW_STREAM};
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::fd::AsFd;
use std::sync::Mutex;
use wharf_engine_api::{Engine, ExecSpec};

/// One exec instance.
#[derive(Debug, Clone)]
struct Instance {
    container_id: String,
    spec: ExecSpec,
    attach_stdout: bool,
    attach_stderr: bool,
    running: bool,
    started: bool,
    exit_code: Option<i32>,
}

/// The exec instances of this service, by id.
#[derive(Debug, Default)]
pub struct ExecTable {
    instances: Mutex<HashMap<String, Instance>>,
}

impl ExecTable {
    /// How many instances the table holds.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instance>> {
        self.instances.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn get(&self, id: &str) -> Result<Instance, ApiError> {
        self.lock()
            .get(id)
            .cloned()
            .ok_or_else(|| ApiError::no_such("exec instance", id))
    }

    fn update(&self, id: &str, change: impl FnOnce(&mut Instance)) {
        if let Some(instance) = self.lock().get_mut(id) {
            change(instance);
        }
    }
}

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    let handler: Handler = match (method, path) {
        (&Method::POST, ["containers", _, "exec"]) => create,
        (&Method::POST, ["exec", _, "start"]) => start,
        (&Method::POST, ["exec", _, "resize"]) => resize,
        (&Method::GET, ["exec", _, "json"]) => inspect,
        _ => return None,
    };
    Some(handler)
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct CreateBody {
    attach_stdin: bool,
    attach_stdout: bool,
    attach_stderr: bool,
    detach_keys: String,
    tty: bool,
    env: Option<Vec<String>>,
    cmd: Option<Vec<String>>,
    privileged: bool,
    user: String,
    working_dir: String,
    console_size: Option<Vec<u32>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct StartBody {
    detach: bool,
    tty: bool,
    console_size: Option<Vec<u32>>,
}

fn create(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let container = request.segment(1).to_string();
    let body: CreateBody = request.json()?;
    let command = body.cmd.unwrap_or_default();
    if command.is_empty() {
        return Err(ApiError::bad_request(
            "Cmd is empty: give the command to run, like [\"sh\", \"-c\", \"…\"]",
        ));
    }
    let info = backend.engine.inspect_container(&container)?;
    if !info.state.is_running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            info.id
        )));
    }
    if info.state.is_paused() {
        return Err(ApiError::conflict(format!(
            "Container {} is paused, unpause the container before exec",
            info.id
        )));
    }
    let _ = (body.attach_stdin, body.detach_keys, body.console_size);
    let instance = Instance {
        container_id: info.id,
        spec: ExecSpec {
            command,
            env: body.env.unwrap_or_default(),
            working_dir: Some(body.working_dir).filter(|w| !w.is_empty()),
            user: Some(body.user).filter(|u| !u.is_empty()),
            tty: body.tty,
            privileged: body.privileged,
        },
        attach_stdout: body.attach_stdout,
        attach_stderr: body.attach_stderr,
        running: false,
        started: false,
        exit_code: None,
    };
    let id = new_id();
    backend.execs.lock().insert(id.clone(), instance);
    Ok(Reply::json(StatusCode::CREATED, &json!({ "Id": id })))
}

/// 64 random hex characters.
fn new_id() -> String {
    let mut bytes = [0u8; 32];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_err()
    {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..16].copy_from_slice(&nanos.to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn start(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1).to_string();
    let body: StartBody = request.json()?;
    let _ = body.console_size;
    // Claimed under the lock: a second start of the same instance is a 409.
    let instance = {
        let mut table = backend.execs.lock();
        let instance = table
            .get_mut(&id)
            .ok_or_else(|| ApiError::no_such("exec instance", &id))?;
        if instance.started {
            return Err(ApiError::conflict(format!(
                "exec instance {id} has already been started"
            )));
        }
        instance.started = true;
        instance.running = true;
        instance.clone()
    };
    let tty = instance.spec.tty || body.tty;
    let backend = backend.clone();
    if body.detach {
        std::thread::spawn(move || {
            let sink = std::fs::OpenOptions::new().write(true).open("/dev/null");
            let code = match sink {
                Ok(sink) => run(&backend, &instance, sink.as_fd()),
                Err(_) => -1,
            };
            finish(&backend, &id, code);
        });
        return Ok(Reply::empty(StatusCode::OK));
    }
    Ok(Reply::Hijack {
        content_type: if tty { RAW_STREAM } else { MULTIPLEXED_STREAM },
        task: Box::new(move |mut socket| {
            let (mut output, write_end) = match std::io::pipe() {
                Ok(pipe) => pipe,
                Err(_) => {
                    finish(&backend, &id, -1);
                    return;
                }
            };
            let runner = {
                let backend = backend.clone();
                let instance = instance.clone();
                std::thread::spawn(move || {
                    let code = run(&backend, &instance, write_end.as_fd());
                    // Our copy of the write end closes here: the reader sees
                    // the end once the command and its children are done.
                    drop(write_end);
                    code
                })
            };
            let forward = instance.attach_stdout || instance.attach_stderr;
            let mut chunk = [0u8; 16 * 1024];
            loop {
                let n = match output.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => n,
                };
                if !forward {
                    continue;
                }
                let sent = if tty {
                    socket.write_all(&chunk[..n])
                } else {
                    hijack::write_frame(&mut socket, StreamKind::Stdout, &chunk[..n])
                };
                // Stop reading once the client has gone: the command then
                // ends on a broken pipe instead of running on for nobody.
                if sent.is_err() {
                    break;
                }
            }
            drop(output);
            let code = runner.join().unwrap_or(-1);
            finish(&backend, &id, code);
            let _ = socket.shutdown(Shutdown::Both);
        }),
    })
}

fn run(backend: &Backend, instance: &Instance, output: std::os::fd::BorrowedFd<'_>) -> i32 {
    // A pseudo-terminal needs the caller's terminal; over the API the
    // command writes to the pipe, and the stream is raw as with a TTY.
    let spec = ExecSpec {
        tty: false,
        ..instance.spec.clone()
    };
    match backend
        .engine
        .exec_to(&instance.container_id, &spec, output)
    {
        Ok(code) => code,
        Err(error) => {
            if let Ok(fd) = output.try_clone_to_owned() {
                let _ = std::fs::File::from(fd).write_all(format!("{error}\n").as_bytes());
            }
            126
        }
    }
}

fn finish(backend: &Backend, id: &str, code: i32) {
    backend.execs.update(id, |instance| {
        instance.running = false;
        instance.exit_code = Some(code);
    });
}

fn resize(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    backend.execs.get(id)?;
    for name in ["h", "w"] {
        request.query.int(name)?;
    }
    Ok(Reply::empty(StatusCode::CREATED))
}

fn inspect(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let instance = backend.execs.get(id)?;
    let (entrypoint, arguments) = instance
        .spec
        .command
        .split_first()
        .map(|(first, rest)| (first.clone(), rest.to_vec()))
        .unwrap_or_default();
    let _ = backend.engine.inspect_container(&instance.container_id);
    Ok(Reply::ok(json!({
        "ID": id,
        "Running": instance.running,
        "ExitCode": instance.exit_code,
        "ProcessConfig": {
            "tty": instance.spec.tty,
            "entrypoint": entrypoint,
            "arguments": arguments,
            "privileged": instance.spec.privileged,
            "user": instance.spec.user.clone().unwrap_or_default(),
        },
        "OpenStdin": false,
        "OpenStderr": instance.attach_stderr,
        "OpenStdout": instance.attach_stdout,
        "CanRemove": false,
        "ContainerID": instance.container_id,
        "DetachKeys": "",
        "Pid": 0,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_paths_route_here() {
        assert!(route(&Method::POST, &["containers", "web", "exec"]).is_some());
        assert!(route(&Method::POST, &["exec", "abc", "start"]).is_some());
        assert!(route(&Method::GET, &["exec", "abc", "json"]).is_some());
        assert!(route(&Method::POST, &["exec", "abc", "resize"]).is_some());
        assert!(route(&Method::GET, &["exec", "abc", "start"]).is_none());
    }

    #[test]
    fn ids_are_64_hex_characters_and_differ() {
        let (a, b) = (new_id(), new_id());
        assert_eq!(a.len(), 64);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
