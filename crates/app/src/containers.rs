//! The container operations on a project's existing containers: `start`,
//! `stop`, `restart`, `rm` (in dependency order, through the orchestrator's
//! plans), `kill`, `pause`/`unpause`, and `exec` — which containers each
//! one works on, and what an unknown service or a missing container is.

use crate::event::{ContainerStatus, Event, Reporter};
use crate::{check_services, AppError};
use std::time::Duration;
use wharf_compose::Project;
use wharf_engine_api::{labels, ContainerInfo, Engine, ExecSpec};
use wharf_orchestrator::{Observed, Plan, Target};

/// The project a container operation works in: its name, and the project
/// itself when it loaded (to check service names and dependency order).
#[derive(Debug, Clone, Copy)]
pub struct Scope<'a> {
    pub name: &'a str,
    pub project: Option<&'a Project>,
    /// The services named (all when empty).
    pub services: &'a [String],
}

impl<'a> Scope<'a> {
    /// An unknown service name is docker compose's `no such service` error.
    pub fn check(&self) -> Result<(), AppError> {
        match self.project {
            Some(project) => check_services(project, self.services),
            None => Ok(()),
        }
    }

    fn target(&self) -> Target<'a> {
        Target {
            project_name: self.name,
            project: self.project,
            services: self.services,
        }
    }
}

/// Keep the containers of the scope's services (all when none is named).
pub fn filter_services(
    containers: Vec<ContainerInfo>,
    scope: &Scope<'_>,
) -> Result<Vec<ContainerInfo>, AppError> {
    scope.check()?;
    Ok(containers
        .into_iter()
        .filter(|c| {
            scope.services.is_empty()
                || c.label(labels::SERVICE)
                    .is_some_and(|s| scope.services.iter().any(|w| w == s))
        })
        .collect())
}

/// The scope's containers (with stopped ones when `all`).
pub fn containers(
    engine: &dyn Engine,
    scope: &Scope<'_>,
    all: bool,
) -> Result<Vec<ContainerInfo>, AppError> {
    scope.check()?;
    let found = wharf_orchestrator::project_containers(engine, scope.name, all)?;
    filter_services(found, scope)
}

/// What a lifecycle operation does to the scope's containers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lifecycle {
    Start,
    Stop {
        timeout: Option<Duration>,
    },
    Restart {
        timeout: Option<Duration>,
    },
    /// `rm`: stopped containers (running ones too with `stop`), and their
    /// anonymous volumes with `volumes`.
    Remove {
        stop: bool,
        volumes: bool,
    },
}

/// `start`, `stop`, `restart` or `rm` in dependency order.
pub fn lifecycle(
    engine: &dyn Engine,
    scope: &Scope<'_>,
    operation: Lifecycle,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    scope.check()?;
    let target = scope.target();
    let plan = |observed: &Observed| -> Plan {
        match operation {
            Lifecycle::Start => wharf_orchestrator::plan_start(&target, observed),
            Lifecycle::Stop { timeout } => {
                wharf_orchestrator::plan_stop(&target, observed, timeout)
            }
            Lifecycle::Restart { timeout } => {
                wharf_orchestrator::plan_restart(&target, observed, timeout)
            }
            Lifecycle::Remove { stop, volumes } => {
                wharf_orchestrator::plan_rm_volumes(&target, observed, stop, None, volumes)
            }
        }
    };
    wharf_orchestrator::run_lifecycle(engine, &target, plan, &|event| {
        reporter.report(Event::Resource(event))
    })?;
    Ok(())
}

/// The names of the containers `rm` would remove (stopped ones, or all with
/// `stop`), for a front to confirm.
pub fn removable(
    engine: &dyn Engine,
    scope: &Scope<'_>,
    stop: bool,
) -> Result<Vec<String>, AppError> {
    Ok(containers(engine, scope, true)?
        .into_iter()
        .filter(|c| stop || !c.state.is_running())
        .map(|c| c.name)
        .collect())
}

/// A signal or a pause for every service container (not one-off ones).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    Kill(String),
    Pause,
    Unpause,
}

/// `kill`, `pause`, `unpause`: keeps going past failures and returns them
/// together (`name: error` with `kill`, as docker compose words them).
pub fn signal(
    engine: &dyn Engine,
    scope: &Scope<'_>,
    signal: &Signal,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    let found = containers(engine, scope, false)?;
    let mut failures = Vec::new();
    for container in found
        .iter()
        .filter(|c| c.label(labels::ONEOFF) != Some("True"))
    {
        let report = |status| {
            reporter.report(Event::Container {
                name: container.name.clone(),
                status,
            })
        };
        let (result, done) = match signal {
            Signal::Kill(name) => {
                report(ContainerStatus::Killing);
                (
                    engine.kill_container(&container.id, name),
                    ContainerStatus::Killed,
                )
            }
            Signal::Pause => (
                engine.pause_container(&container.id),
                ContainerStatus::Paused,
            ),
            Signal::Unpause => (
                engine.unpause_container(&container.id),
                ContainerStatus::Unpaused,
            ),
        };
        match result {
            Ok(()) => report(done),
            Err(e) => {
                report(ContainerStatus::Failed);
                failures.push(match signal {
                    Signal::Kill(_) => format!("{}: {e}", container.name),
                    _ => e.to_string(),
                });
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(AppError::Signal(failures.join("; ")))
    }
}

/// `exec` of a command in a service's container.
#[derive(Debug, Clone, Default)]
pub struct ExecRequest {
    pub service: String,
    /// The replica's number (docker compose's `--index`, from 1).
    pub index: u32,
    pub spec: ExecSpec,
}

/// Run a command in the running container `index` of a service; returns the
/// command's exit code. An unknown service is `no such service`; a known
/// one without that container is docker compose's `service "x" is not
/// running`.
pub fn exec(
    engine: &dyn Engine,
    scope: &Scope<'_>,
    request: &ExecRequest,
) -> Result<i32, AppError> {
    let service = &request.service;
    Scope {
        services: std::slice::from_ref(service),
        ..*scope
    }
    .check()?;
    let number = request.index.to_string();
    let found = engine
        .list_containers(&[
            (labels::PROJECT, scope.name),
            (labels::SERVICE, service),
            (labels::CONTAINER_NUMBER, &number),
        ])
        .map_err(|e| AppError::engine(format!("service {service:?}"), e))?;
    let Some(container) = found
        .into_iter()
        .find(|c| c.label(labels::ONEOFF) != Some("True"))
    else {
        return Err(AppError::NotRunning {
            service: service.clone(),
            index: request.index,
            project: scope.name.to_string(),
        });
    };
    if !container.state.is_running() {
        return Err(AppError::ContainerNotRunning(container.name));
    }
    engine
        .exec(&container.id, &request.spec)
        .map_err(|e| AppError::engine(format!("container {}", container.name), e))
}

/// Stop `containers` side by side (Ctrl-C of attached `up`, an abort on
/// exit), reporting each; a failure is reported, not returned.
pub fn stop_each(engine: &dyn Engine, containers: &[ContainerInfo], reporter: &dyn Reporter) {
    use wharf_orchestrator::{Event as Step, Status};
    std::thread::scope(|scope| {
        for c in containers {
            scope.spawn(move || {
                let report = |status| {
                    reporter.report(Event::Resource(Step::Container {
                        name: c.name.clone(),
                        status,
                    }))
                };
                report(Status::Stopping);
                match engine.stop_container(&c.id, None) {
                    Ok(()) => report(Status::Stopped),
                    Err(e) => report(Status::Error(e.to_string())),
                }
            });
        }
    });
}
