//! Waiting on a container's state: `POST /containers/{id}/wait` with
//! docker's conditions (`not-running`, `next-exit`, `removed`), the wait for
//! a container to start that attach needs, and `HostConfig.AutoRemove` (the
//! service removes such a container when it exits, and keeps its exit code
//! for the `removed` waiters).

use crate::backend::Backend;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wharf_engine_api::{ContainerInfo, ContainerState, Engine, EngineError};

/// How often a state is read again while waiting; the engine has no
/// notification to wait on, and a read is one small file.
const FIRST_POLL: Duration = Duration::from_millis(5);
const SLOWEST_POLL: Duration = Duration::from_millis(100);

/// Where a container's events are: its project's log, from the time it was
/// created on (a removed container's exit code is only found there).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLog {
    project: String,
    since_ns: i64,
}

impl EventLog {
    /// The log of the container `info` describes.
    pub fn of(info: &ContainerInfo) -> EventLog {
        EventLog::for_labels(&info.labels, info.created.saturating_mul(1_000_000_000))
    }

    /// The log of a container with `labels`, from `since_ns` on.
    fn for_labels(labels: &BTreeMap<String, String>, since_ns: i64) -> EventLog {
        EventLog {
            project: wharf_engine::events::project_of(labels).to_string(),
            since_ns,
        }
    }
}

/// Containers created with `AutoRemove` (with their event log) and the
/// exit codes of those the service removed.
#[derive(Debug, Default)]
pub struct AutoRemove {
    pending: Mutex<HashMap<String, EventLog>>,
    exit_codes: Mutex<HashMap<String, i32>>,
    /// Being restarted: its end is the restart's, so it is kept, as docker
    /// keeps a restarted `--rm` container.
    restarting: Mutex<HashSet<String>>,
}

impl AutoRemove {
    /// Run `restart` on the container with its removal held off.
    pub fn restarting<T>(&self, id: &str, restart: impl FnOnce() -> T) -> T {
        let held = || self.restarting.lock().unwrap_or_else(|p| p.into_inner());
        held().insert(id.to_string());
        let outcome = restart();
        held().remove(id);
        outcome
    }

    fn is_restarting(&self, id: &str) -> bool {
        self.restarting
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(id)
    }

    /// A container just created with `labels`: its events come from now on.
    pub fn register(&self, id: &str, labels: &BTreeMap<String, String>) {
        let log = EventLog::for_labels(labels, wharf_units::calendar::now_ns());
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id.to_string(), log);
    }

    fn log_of(&self, id: &str) -> Option<EventLog> {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .cloned()
    }

    /// The exit code of a container the service removed.
    pub fn exit_code(&self, id: &str) -> Option<i32> {
        self.exit_codes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(id)
            .copied()
    }

    /// Record the exit code of a container about to be removed, before it
    /// goes, so that a waiter never finds it gone without its code.
    fn exited(&self, id: &str, code: i32) {
        let mut codes = self.exit_codes.lock().unwrap_or_else(|p| p.into_inner());
        // Bounded: only the latest removals are still waited on.
        if codes.len() > 1024 {
            codes.clear();
        }
        codes.insert(id.to_string(), code);
    }

    fn removed(&self, id: &str) {
        self.pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(id);
    }
}

/// A container's state now; `None` once it is gone.
pub fn current(engine: &dyn Engine, id: &str) -> Result<Option<ContainerInfo>, EngineError> {
    match engine.inspect_container(id) {
        Ok(info) => Ok(Some(info)),
        Err(EngineError::NotFound { .. }) => Ok(None),
        Err(error) => Err(error),
    }
}

/// Poll `check` with a growing interval until it gives an answer.
pub fn poll<T>(mut check: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(answer) = check() {
            return answer;
        }
        let interval = if started.elapsed() < Duration::from_secs(1) {
            FIRST_POLL
        } else {
            SLOWEST_POLL
        };
        std::thread::sleep(interval);
    }
}

/// docker's wait conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Condition {
    NotRunning,
    NextExit,
    Removed,
}

impl Condition {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "" | "not-running" => Some(Condition::NotRunning),
            "next-exit" => Some(Condition::NextExit),
            "removed" => Some(Condition::Removed),
            _ => None,
        }
    }
}

/// What a wait ends with: the exit code, or the error docker reports.
pub type WaitOutcome = Result<i32, String>;

fn exit_code(info: &ContainerInfo) -> Option<i32> {
    match info.state {
        ContainerState::Exited { exit_code, .. } => Some(exit_code),
        ContainerState::Created | ContainerState::Dead => Some(0),
        _ => None,
    }
}

fn finished_at(info: &ContainerInfo) -> Option<i64> {
    match info.state {
        ContainerState::Exited { finished_at, .. } => Some(finished_at),
        _ => None,
    }
}

/// Wait for `condition` on the container `initial` describes (read when
/// the request arrived); given up once `abandoned` says the client left.
pub fn wait(
    backend: &Backend,
    initial: &ContainerInfo,
    condition: Condition,
    abandoned: &dyn Fn() -> bool,
) -> WaitOutcome {
    let engine = &backend.engine;
    let id = initial.id.clone();
    let mut last_code = exit_code(initial).unwrap_or(0);
    let mut seen_running = initial.state.is_running();
    poll(|| {
        if abandoned() {
            return Some(Err("the client went away".into()));
        }
        let info = match current(engine, &id) {
            Ok(Some(info)) => info,
            Ok(None) => {
                let code = backend
                    .auto_remove
                    .exit_code(&id)
                    .or_else(|| recorded_exit_code(backend, &id, &EventLog::of(initial)))
                    .unwrap_or(last_code);
                return Some(Ok(code));
            }
            Err(error) => return Some(Err(error.to_string())),
        };
        seen_running |= info.state.is_running();
        let code = exit_code(&info);
        if let Some(code) = code {
            last_code = code;
        }
        match condition {
            Condition::NotRunning => code.map(Ok),
            Condition::NextExit => {
                let exited_since = finished_at(&info).is_some()
                    && (seen_running
                        || matches!(initial.state, ContainerState::Created)
                        || finished_at(&info) != finished_at(initial));
                exited_since.then_some(Ok(last_code))
            }
            // Polled until the container is gone (above).
            Condition::Removed => None,
        }
    })
}

/// Wait until the container of `initial` has started since then (it runs,
/// or it ran and ended already); false when it was removed first.
pub fn started(engine: &dyn Engine, initial: &ContainerInfo) -> bool {
    if initial.state.is_running() {
        return true;
    }
    poll(|| match current(engine, &initial.id) {
        Ok(Some(info)) if info.state.is_running() => Some(true),
        Ok(Some(info))
            if finished_at(&info).is_some()
                && (matches!(initial.state, ContainerState::Created)
                    || finished_at(&info) != finished_at(initial)) =>
        {
            Some(true)
        }
        Ok(Some(_)) => None,
        Ok(None) | Err(_) => Some(false),
    })
}

/// After a start: remove an `AutoRemove` container once it exits, on a
/// thread of its own.
pub fn reap_when_exited(backend: &Backend, id: &str) {
    let Some(log) = backend.auto_remove.log_of(id) else {
        return;
    };
    let backend = backend.clone();
    let id = id.to_string();
    std::thread::spawn(move || {
        let code = poll(|| match current(&backend.engine, &id) {
            Ok(Some(info)) if info.state.is_running() => None,
            Ok(Some(_)) if backend.auto_remove.is_restarting(&id) => None,
            Ok(Some(info)) => Some(exit_code(&info).unwrap_or(0)),
            Ok(None) | Err(_) => Some(recorded_exit_code(&backend, &id, &log).unwrap_or(0)),
        });
        backend.auto_remove.exited(&id, code);
        backend.engine.wait_for_removal_holds(&id);
        if let Err(error) = backend
            .engine
            .remove_container_and_anonymous_volumes(&id, true)
        {
            // Its monitor may have removed it first: only a container still
            // there is a failure to report.
            let still_there = !matches!(current(&backend.engine, &id), Ok(None));
            if still_there && !matches!(error, EngineError::NotFound { .. }) {
                eprintln!("wharf system service: removing container {id} (AutoRemove): {error}");
            }
        }
        backend.auto_remove.removed(&id);
    });
}

/// The exit code of the container's last `die` event in `log`: all that is
/// left of an `AutoRemove` container that its monitor removed as soon as it
/// ended.
fn recorded_exit_code(backend: &Backend, id: &str, log: &EventLog) -> Option<i32> {
    let filter = wharf_engine::events::EventFilter {
        since_ns: Some(log.since_ns),
        ..Default::default()
    };
    let mut code = None;
    let _ = backend.engine.events(&log.project, &filter, &mut |event| {
        if event.id == id && event.action == "die" {
            code = event
                .attributes
                .get("exitCode")
                .and_then(|c| c.parse().ok());
        }
        true
    });
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_containers_events_are_in_its_projects_log() {
        let mut labels = BTreeMap::new();
        assert_eq!(EventLog::for_labels(&labels, 7).project, "default");
        labels.insert("com.docker.compose.project".into(), "shop".into());
        assert_eq!(
            EventLog::for_labels(&labels, 7),
            EventLog {
                project: "shop".into(),
                since_ns: 7
            }
        );
    }

    #[test]
    fn an_auto_remove_container_is_found_in_its_projects_log_from_now() {
        let table = AutoRemove::default();
        let before = wharf_units::calendar::now_ns();
        let labels = BTreeMap::from([("com.docker.compose.project".into(), "shop".into())]);
        table.register("c1", &labels);
        let log = table.log_of("c1").unwrap();
        assert_eq!(log.project, "shop");
        assert!(log.since_ns >= before);
        table.removed("c1");
        assert!(table.log_of("c1").is_none());
    }
}
