//! `up --wait`: block until the project's containers are ready — running
//! (and healthy, when they have a health check), or for one-shot jobs
//! exited with 0 — or fail on the first one that cannot become ready.

use crate::error::{DependencyError, OrchestratorError};
use crate::execute::{Event, Status};
use crate::observe::is_oneoff;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use wharf_engine_api::{labels, ContainerState, Engine, Health};

const POLL: Duration = Duration::from_millis(100);

/// Wait for the containers of `services` (all when empty) of project
/// `project_name`; `timeout` None waits as long as it takes.
pub fn wait_ready(
    engine: &dyn Engine,
    project_name: &str,
    services: &[String],
    timeout: Option<Duration>,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<(), OrchestratorError> {
    let deadline = timeout.map(|t| Instant::now() + t);
    let mut reported = BTreeSet::new();
    loop {
        let containers = engine
            .list_containers(&[(labels::PROJECT, project_name)])
            .map_err(|e| OrchestratorError::engine(format!("project {project_name}"), e))?;
        let mut waiting = Vec::new();
        for c in containers.iter().filter(|c| !is_oneoff(c)) {
            let service = c.label(labels::SERVICE).unwrap_or_default();
            if !services.is_empty() && !services.iter().any(|s| s == service) {
                continue;
            }
            let ready = match (&c.state, c.health) {
                (_, Some(Health::Unhealthy)) => {
                    return Err(DependencyError::NotHealthy {
                        container: c.name.clone(),
                    }
                    .into())
                }
                (ContainerState::Exited { exit_code: 0, .. }, _) => true,
                (ContainerState::Exited { exit_code, .. }, _) => {
                    return Err(DependencyError::Failed {
                        container: c.name.clone(),
                        exit_code: *exit_code,
                    }
                    .into())
                }
                (ContainerState::Running { .. }, None | Some(Health::Healthy)) => true,
                _ => false,
            };
            if ready {
                if reported.insert(c.name.clone()) {
                    let status = if c.health == Some(Health::Healthy) {
                        Status::Healthy
                    } else if c.state.is_running() {
                        Status::Running
                    } else {
                        Status::Exited
                    };
                    on_event(Event::Container {
                        name: c.name.clone(),
                        status,
                    });
                }
            } else {
                waiting.push(c.name.clone());
            }
        }
        if waiting.is_empty() {
            return Ok(());
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            return Err(DependencyError::TimedOut {
                containers: waiting,
            }
            .into());
        }
        std::thread::sleep(POLL);
    }
}
