//! Exec instances: `POST /containers/{id}/exec` creates one, `POST
//! /exec/{id}/start` runs it (detached, or attached on the hijacked
//! connection, see [`crate::exec_io`]), `POST /exec/{id}/resize` sizes its
//! terminal and `GET /exec/{id}/json` gives its exit code. They live in the
//! service's memory, as docker's do in its daemon's: those of a removed
//! container go, and a finished one is kept five minutes for its exit code.

use crate::backend::Backend;
use crate::detach_keys;
use crate::error::ApiError;
use crate::exec_io::{self, Attach, CommandProcess, ServiceEnd, Wiring};
use crate::hijack::{MULTIPLEXED_STREAM, RAW_STREAM};
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::Read;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use wharf_engine_api::{Engine, EngineError, ExecSpec};
use wharf_runtime::WindowSize;

/// How long a finished instance stays for its exit code (docker's clean-up
/// of exec instances runs every five minutes).
const KEPT_AFTER_EXIT: Duration = Duration::from_secs(5 * 60);

/// One exec instance.
#[derive(Debug, Clone)]
struct Instance {
    container_id: String,
    spec: ExecSpec,
    attach: Attach,
    /// `DetachKeys` as given, and its bytes (the default when not given).
    detach_keys: (String, Vec<u8>),
    running: bool,
    started: bool,
    exit_code: Option<i32>,
    finished_at: Option<Instant>,
    /// The terminal's master while the command runs (with a TTY).
    terminal: Weak<File>,
    /// The terminal's size, as last asked for (applied when it opens).
    size: Option<WindowSize>,
}

/// Where an instance's container stands, for the table's clean-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ContainerPresence {
    Gone,
    Stopped,
    Running,
}

impl Instance {
    /// Whether the table keeps this instance: not when its container is
    /// gone, its command ended long ago, or it never started and its
    /// container no longer runs (it cannot start any more).
    fn kept(&self, container: ContainerPresence, now: Instant) -> bool {
        if self.running {
            return true;
        }
        match (container, self.finished_at) {
            (ContainerPresence::Gone, _) => false,
            (_, Some(finished)) => now.duration_since(finished) < KEPT_AFTER_EXIT,
            (presence, None) => presence == ContainerPresence::Running,
        }
    }
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

    fn remove(&self, id: &str) {
        self.lock().remove(id);
    }

    /// Drop the instances [`Instance::kept`] does not keep; `presence`
    /// tells where a container stands (asked once a container, without
    /// the table locked).
    fn sweep(&self, now: Instant, presence: impl Fn(&str) -> ContainerPresence) {
        let containers: HashSet<String> = self
            .lock()
            .values()
            .map(|i| i.container_id.clone())
            .collect();
        let presence: HashMap<String, ContainerPresence> = containers
            .into_iter()
            .map(|id| {
                let state = presence(&id);
                (id, state)
            })
            .collect();
        self.lock().retain(|_, instance| {
            let state = presence
                .get(&instance.container_id)
                .copied()
                .unwrap_or(ContainerPresence::Running);
            instance.kept(state, now)
        });
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

/// `ConsoleSize` (`[height, width]`) as a terminal size; `field` names it
/// in the error.
fn console_size(value: Option<Vec<u32>>, field: &str) -> Result<Option<WindowSize>, ApiError> {
    let Some(value) = value else {
        return Ok(None);
    };
    match value.as_slice() {
        [] | [0, 0] => Ok(None),
        [rows, cols] => Ok(Some(WindowSize {
            rows: terminal_dimension(i64::from(*rows), &format!("{field}[0]"))?,
            cols: terminal_dimension(i64::from(*cols), &format!("{field}[1]"))?,
        })),
        _ => Err(ApiError::bad_request(format!(
            "{field} must be [height, width], not {value:?}"
        ))),
    }
}

/// One side of a terminal, which takes 0 to 65535 characters.
fn terminal_dimension(value: i64, name: &str) -> Result<u16, ApiError> {
    u16::try_from(value).map_err(|_| {
        ApiError::bad_request(format!(
            "invalid {name}: {value} is not a terminal size (0 to 65535)"
        ))
    })
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
    let size = console_size(body.console_size, "ConsoleSize")?;
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
    let detach_keys = detach_keys::from_request(Some(&body.detach_keys), |keys| {
        format!("Invalid escape keys ({keys}) provided")
    })?;
    backend
        .execs
        .sweep(Instant::now(), |id| presence(backend, id));
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
        attach: Attach {
            stdin: body.attach_stdin,
            stdout: body.attach_stdout,
            stderr: body.attach_stderr,
        },
        detach_keys: (body.detach_keys, detach_keys),
        running: false,
        started: false,
        exit_code: None,
        finished_at: None,
        terminal: Weak::new(),
        size,
    };
    let id = new_id();
    backend.execs.lock().insert(id.clone(), instance);
    Ok(Reply::json(StatusCode::CREATED, &json!({ "Id": id })))
}

fn presence(backend: &Backend, container: &str) -> ContainerPresence {
    match backend.engine.inspect_container(container) {
        Ok(info) if info.state.is_running() => ContainerPresence::Running,
        Ok(_) => ContainerPresence::Stopped,
        Err(EngineError::NotFound { .. }) => ContainerPresence::Gone,
        // Unknown for now: kept, and asked again at the next clean-up.
        Err(_) => ContainerPresence::Running,
    }
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

/// The instance `id`, whose container must run, as docker checks it before
/// a start or a resize: 404 when the container was removed (the instance
/// goes with it), 409 when it stopped or is paused.
fn runnable(backend: &Backend, id: &str) -> Result<Instance, ApiError> {
    let instance = backend.execs.get(id)?;
    let info = match backend.engine.inspect_container(&instance.container_id) {
        Ok(info) => info,
        Err(EngineError::NotFound { .. }) => {
            backend.execs.remove(id);
            return Err(ApiError::no_such("container", id));
        }
        Err(error) => return Err(error.into()),
    };
    if info.state.is_paused() {
        return Err(ApiError::conflict(format!(
            "Container {} is paused, unpause the container before exec",
            info.id
        )));
    }
    if !info.state.is_running() {
        return Err(ApiError::conflict(format!(
            "Container {} is not running",
            info.id
        )));
    }
    Ok(instance)
}

fn start(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1).to_string();
    let body: StartBody = request.json()?;
    let start_size = console_size(body.console_size, "ConsoleSize")?;
    runnable(backend, &id)?;
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
        instance.clone()
    };
    let tty = instance.spec.tty || body.tty;
    let wiring = match wire(backend, &instance, tty, start_size) {
        Ok(wiring) => wiring,
        Err(error) => {
            finish(backend, &id, 126);
            return Err(error);
        }
    };
    if let ServiceEnd::Terminal { master } = &wiring.service {
        backend
            .execs
            .update(&id, |i| i.terminal = std::sync::Arc::downgrade(master));
    }
    let backend = backend.clone();
    // The command runs once the connection is taken over: a client gone
    // before that leaves nothing running (its instance cannot start again).
    let run = move |socket| {
        let process = Arc::new(CommandProcess::default());
        let runner = spawn_command(&backend, &id, &instance, wiring.command, &process);
        exec_io::relay(
            wiring.service,
            socket,
            instance.attach,
            Some(instance.detach_keys.1.clone()),
            runner,
            &process,
            |code| finish(&backend, &id, code),
        )
    };
    if body.detach {
        std::thread::spawn(move || run(None));
        return Ok(Reply::empty(StatusCode::OK));
    }
    Ok(Reply::Hijack {
        content_type: if tty { RAW_STREAM } else { MULTIPLEXED_STREAM },
        task: Box::new(move |socket| run(Some(socket))),
    })
}

/// The instance's streams: a terminal in its container (sized as asked
/// for), or pipes.
fn wire(
    backend: &Backend,
    instance: &Instance,
    tty: bool,
    start_size: Option<WindowSize>,
) -> Result<Wiring, ApiError> {
    if !tty {
        return Wiring::pipes(instance.attach.stdin).map_err(|e| {
            ApiError::internal(format!("creating pipes for the exec's streams: {e}"))
        });
    }
    let pty = backend.engine.open_exec_terminal(&instance.container_id)?;
    if let Some(size) = start_size.or(instance.size) {
        size.apply_to(pty.master.as_raw_fd());
    }
    Ok(Wiring::terminal(pty))
}

/// Run the instance's command (marked running) on a thread of its own, connected to
/// `command`'s ends (closed when it ends) and its pid told to `process`; the
/// thread gives its exit code.
fn spawn_command(
    backend: &Backend,
    id: &str,
    instance: &Instance,
    command: exec_io::CommandEnd,
    process: &Arc<CommandProcess>,
) -> std::thread::JoinHandle<i32> {
    backend.execs.update(id, |i| i.running = true);
    let (backend, instance, process) = (backend.clone(), instance.clone(), process.clone());
    std::thread::spawn(move || {
        let spec = ExecSpec {
            tty: false,
            ..instance.spec.clone()
        };
        let result =
            backend
                .engine
                .exec_with_stdio(&instance.container_id, &spec, command.stdio, &|pid| {
                    process.started(pid)
                });
        process.ended();
        match result {
            Ok(code) => code,
            Err(error) => {
                command.report(&format!("{error}\n"));
                126
            }
        }
    })
}

fn finish(backend: &Backend, id: &str, code: i32) {
    backend.execs.update(id, |instance| {
        instance.running = false;
        instance.exit_code = Some(code);
        instance.finished_at = Some(Instant::now());
        instance.terminal = Weak::new();
    });
}

fn resize(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let size = requested_size(&request)?;
    let instance = runnable(backend, id)?;
    match instance.terminal.upgrade() {
        Some(master) => size.apply_to(master.as_raw_fd()),
        // Not open yet (a client may resize before it starts the
        // instance): the terminal gets the size when it opens.
        None => backend.execs.update(id, |i| i.size = Some(size)),
    }
    Ok(Reply::empty(StatusCode::OK))
}

/// The `h` and `w` query parameters of a resize, both required.
pub(crate) fn requested_size(request: &Request) -> Result<WindowSize, ApiError> {
    let dimension = |name: &str| -> Result<u16, ApiError> {
        let value = request.query.int(name)?.ok_or_else(|| {
            ApiError::bad_request(format!(
                "query parameter {name:?} is missing: give the terminal's height as h and its width as w"
            ))
        })?;
        terminal_dimension(value, &format!("query parameter {name:?}"))
    };
    Ok(WindowSize {
        rows: dimension("h")?,
        cols: dimension("w")?,
    })
}

fn inspect(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let instance = backend.execs.get(id)?;
    if let Err(EngineError::NotFound { .. }) =
        backend.engine.inspect_container(&instance.container_id)
    {
        backend.execs.remove(id);
        return Err(ApiError::no_such("exec instance", id));
    }
    let (entrypoint, arguments) = instance
        .spec
        .command
        .split_first()
        .map(|(first, rest)| (first.clone(), rest.to_vec()))
        .unwrap_or_default();
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
        "OpenStdin": instance.attach.stdin,
        "OpenStderr": instance.attach.stderr,
        "OpenStdout": instance.attach.stdout,
        "CanRemove": false,
        "ContainerID": instance.container_id,
        "DetachKeys": instance.detach_keys.0,
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

    fn instance(running: bool, started: bool, finished_at: Option<Instant>) -> Instance {
        Instance {
            container_id: "c1".into(),
            spec: ExecSpec {
                command: vec!["sh".into()],
                env: Vec::new(),
                working_dir: None,
                user: None,
                tty: false,
                privileged: false,
            },
            attach: Attach {
                stdin: false,
                stdout: true,
                stderr: true,
            },
            detach_keys: (String::new(), detach_keys::DEFAULT.to_vec()),
            running,
            started,
            exit_code: finished_at.map(|_| 0),
            finished_at,
            terminal: Weak::new(),
            size: None,
        }
    }

    #[test]
    fn instances_of_a_removed_container_go_unless_they_still_run() {
        let now = Instant::now();
        let finished = instance(false, true, Some(now));
        assert!(!finished.kept(ContainerPresence::Gone, now));
        assert!(!instance(false, false, None).kept(ContainerPresence::Gone, now));
        assert!(instance(true, true, None).kept(ContainerPresence::Gone, now));
    }

    #[test]
    fn a_finished_instance_stays_five_minutes_for_its_exit_code() {
        let now = Instant::now();
        let finished = instance(false, true, Some(now));
        assert!(finished.kept(ContainerPresence::Stopped, now + Duration::from_secs(60)));
        assert!(!finished.kept(ContainerPresence::Running, now + KEPT_AFTER_EXIT));
    }

    #[test]
    fn an_unstarted_instance_stays_while_its_container_runs() {
        let now = Instant::now();
        let waiting = instance(false, false, None);
        assert!(waiting.kept(ContainerPresence::Running, now + Duration::from_secs(3600)));
        assert!(!waiting.kept(ContainerPresence::Stopped, now));
    }

    #[test]
    fn the_sweep_asks_once_a_container_and_drops_what_is_not_kept() {
        let table = ExecTable::default();
        let now = Instant::now();
        for (id, container) in [("a", "c1"), ("b", "c1"), ("c", "c2")] {
            let mut entry = instance(false, false, None);
            entry.container_id = container.into();
            table.lock().insert(id.into(), entry);
        }
        let asked = std::cell::RefCell::new(Vec::new());
        table.sweep(now, |container| {
            asked.borrow_mut().push(container.to_string());
            match container {
                "c1" => ContainerPresence::Running,
                _ => ContainerPresence::Gone,
            }
        });
        let mut asked = asked.into_inner();
        asked.sort();
        assert_eq!(asked, ["c1", "c2"]);
        let mut left: Vec<String> = table.lock().keys().cloned().collect();
        left.sort();
        assert_eq!(left, ["a", "b"]);
    }

    #[test]
    fn console_size_is_height_then_width() {
        assert_eq!(
            console_size(Some(vec![40, 120]), "ConsoleSize").unwrap(),
            Some(WindowSize {
                rows: 40,
                cols: 120
            })
        );
        assert_eq!(console_size(Some(vec![0, 0]), "ConsoleSize").unwrap(), None);
        assert_eq!(console_size(None, "ConsoleSize").unwrap(), None);
        let error = console_size(Some(vec![1, 2, 3]), "ConsoleSize").unwrap_err();
        assert!(error.to_string().contains("ConsoleSize"), "{error}");
        let error = console_size(Some(vec![70000, 2]), "ConsoleSize").unwrap_err();
        assert!(error.to_string().contains("ConsoleSize[0]"), "{error}");
    }
}
