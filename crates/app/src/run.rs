//! `run`: a one-off container of a service — whether it gets a terminal,
//! creating it (with its dependencies up, unless `no_deps`), starting it
//! detached, and after an attached run its removal and exit code. Relaying
//! the caller's terminal and signals is the front's part.

use crate::event::{Event, Reporter};
use crate::AppError;
use wharf_compose::Project;
use wharf_engine_api::{Engine, EngineError};
use wharf_orchestrator::RunOptions;

/// docker compose run's terminal: one when the caller's stdin is a terminal
/// or the service has `tty: true`; never with `-T` or detached.
pub fn wants_tty(
    project: &Project,
    service: &str,
    no_tty: bool,
    detach: bool,
    stdin_is_terminal: bool,
) -> bool {
    let service_tty = project.services.get(service).is_some_and(|s| s.tty);
    !no_tty && !detach && (stdin_is_terminal || service_tty)
}

/// A one-off container, created and not started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OneOff {
    pub id: String,
    pub name: String,
}

/// Create the one-off container of `service` (bringing up what it depends
/// on first, unless `options.no_deps`).
pub fn create(
    engine: &dyn Engine,
    project: &Project,
    service: &str,
    options: &RunOptions,
    reporter: &dyn Reporter,
) -> Result<OneOff, AppError> {
    let (id, name) =
        wharf_orchestrator::create_oneoff(engine, project, service, options, &|event| {
            reporter.report(Event::Resource(event))
        })?;
    Ok(OneOff { id, name })
}

/// `run -d`: start it and leave it running.
pub fn start_detached(engine: &dyn Engine, one_off: &OneOff) -> Result<(), AppError> {
    engine
        .start_container(&one_off.id)
        .map_err(|e| AppError::engine(format!("starting {}", one_off.name), e))
}

/// How an attached run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunExit {
    /// The exit code to give back: the command's, or as `docker run` 127 for
    /// a command not found and 126 for one that cannot be executed.
    pub code: i32,
    /// Why the command could not run, for the user.
    pub message: Option<String>,
}

/// After an attached run ended with `result` (the engine's
/// `start_attached`): remove the container when asked (`--rm`, with its
/// anonymous volumes, as docker's daemon removes them), and say what exit
/// code to give back.
pub fn finish(
    engine: &dyn Engine,
    one_off: &OneOff,
    remove: bool,
    result: Result<i32, EngineError>,
) -> Result<RunExit, AppError> {
    if remove {
        engine
            .remove_container_and_anonymous_volumes(&one_off.id, true)
            .map_err(|e| AppError::engine(format!("removing {}", one_off.name), e))?;
    }
    match result {
        Ok(code) => Ok(RunExit {
            code,
            message: None,
        }),
        Err(EngineError::CommandNotRunnable { code, message }) => Ok(RunExit {
            code,
            message: Some(message),
        }),
        Err(e) => Err(AppError::engine(format!("container {}", one_off.name), e)),
    }
}
