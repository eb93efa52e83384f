//! `start`, `stop`, `restart` and `rm` of a project's existing containers:
//! pure plans in dependency order (dependencies start first, dependents stop
//! first), executed like `down`, keeping going past failures.

use crate::error::OrchestratorError;
use crate::execute::{self, Event, OnFailure};
use crate::observe::{is_oneoff, observe, Observed};
use crate::plan::{Action, Cause, Plan};
use crate::reconcile::{push_in_dependency_order, Order};
use std::time::Duration;
use wharf_compose::Project;
use wharf_engine_api::{labels, ContainerInfo, ContainerState, Engine};

/// Which of a project's containers a command acts on.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub project_name: &'a str,
    /// For dependency order; the containers' labels are used without it.
    pub project: Option<&'a Project>,
    /// Service names; empty means all.
    pub services: &'a [String],
}

impl Target<'_> {
    fn containers<'o>(&self, observed: &'o Observed) -> Vec<&'o ContainerInfo> {
        observed
            .containers
            .iter()
            .filter(|c| c.label(labels::PROJECT) == Some(self.project_name) && !is_oneoff(c))
            .filter(|c| {
                self.services.is_empty()
                    || c.label(labels::SERVICE)
                        .is_some_and(|s| self.services.iter().any(|w| w == s))
            })
            .collect()
    }
}

fn stop_step(
    plan: &mut Plan,
    c: &ContainerInfo,
    timeout: Option<Duration>,
    after: &[usize],
    command: &'static str,
) -> usize {
    plan.push(
        Action::StopContainer {
            id: c.id.clone(),
            name: c.name.clone(),
            timeout,
        },
        Cause::Requested(command),
        after.iter().copied(),
    )
}

fn start_step(plan: &mut Plan, c: &ContainerInfo, after: &[usize], command: &'static str) -> usize {
    plan.push(
        Action::StartContainer {
            name: c.name.clone(),
            id: Some(c.id.clone()),
        },
        Cause::Requested(command),
        after.iter().copied(),
    )
}

/// Pure: stop the running containers of `target`, dependents first.
pub fn plan_stop(target: &Target, observed: &Observed, timeout: Option<Duration>) -> Plan {
    let mut plan = Plan::default();
    let running: Vec<&ContainerInfo> = target
        .containers(observed)
        .into_iter()
        .filter(|c| c.state.is_running() || c.state == ContainerState::Restarting)
        .collect();
    push_in_dependency_order(
        &mut plan,
        &running,
        target.project,
        Order::DependentsFirst,
        |plan, c, after| {
            let stop = stop_step(plan, c, timeout, after, "stop");
            (Some(stop), Some(stop))
        },
    );
    plan
}

/// Pure: start the stopped containers of `target`, dependencies first.
pub fn plan_start(target: &Target, observed: &Observed) -> Plan {
    let mut plan = Plan::default();
    let containers = target.containers(observed);
    push_in_dependency_order(
        &mut plan,
        &containers,
        target.project,
        Order::DependenciesFirst,
        |plan, c, after| {
            if c.state.is_running() {
                plan.running.push(c.name.clone());
                // Nothing to wait for: a running dependency is ready.
                return (None, None);
            }
            let start = start_step(plan, c, after, "start");
            (Some(start), Some(start))
        },
    );
    plan
}

/// Pure: stop every container of `target` (dependents first), then start
/// them all again (dependencies first).
pub fn plan_restart(target: &Target, observed: &Observed, timeout: Option<Duration>) -> Plan {
    let mut plan = Plan::default();
    let containers = target.containers(observed);
    let stops = push_in_dependency_order(
        &mut plan,
        &containers,
        target.project,
        Order::DependentsFirst,
        |plan, c, after| {
            if !c.state.is_running() {
                return (None, None);
            }
            let stop = stop_step(plan, c, timeout, after, "restart");
            (Some(stop), Some(stop))
        },
    );
    push_in_dependency_order(
        &mut plan,
        &containers,
        target.project,
        Order::DependenciesFirst,
        |plan, c, after| {
            let mut after = after.to_vec();
            after.extend(&stops);
            let start = start_step(plan, c, &after, "restart");
            (Some(start), Some(start))
        },
    );
    plan
}

/// Pure: remove the stopped containers of `target`; with `stop`, stop the
/// running ones first (dependents first), else leave them.
pub fn plan_rm(
    target: &Target,
    observed: &Observed,
    stop: bool,
    timeout: Option<Duration>,
) -> Plan {
    plan_rm_volumes(target, observed, stop, timeout, false)
}

/// [`plan_rm`]; with `volumes` (`rm -v`) each removed container's anonymous
/// volumes go after it.
pub fn plan_rm_volumes(
    target: &Target,
    observed: &Observed,
    stop: bool,
    timeout: Option<Duration>,
    volumes: bool,
) -> Plan {
    let mut plan = Plan::default();
    let containers: Vec<&ContainerInfo> = target
        .containers(observed)
        .into_iter()
        .filter(|c| stop || !c.state.is_running())
        .collect();
    push_in_dependency_order(
        &mut plan,
        &containers,
        target.project,
        Order::DependentsFirst,
        |plan, c, after| {
            let stopped = c
                .state
                .is_running()
                .then(|| stop_step(plan, c, timeout, after, "rm"));
            let remove = plan.push(
                Action::RemoveContainer {
                    id: c.id.clone(),
                    name: c.name.clone(),
                },
                Cause::Requested("rm"),
                stopped.map(|s| vec![s]).unwrap_or_else(|| after.to_vec()),
            );
            if volumes {
                for (_, volume) in observed.anonymous_volumes_of(&c.id) {
                    plan.push(
                        Action::RemoveVolume {
                            name: volume.to_string(),
                        },
                        Cause::Requested("rm -v"),
                        [remove],
                    );
                }
            }
            (stopped, Some(remove))
        },
    );
    plan
}

/// Lock the project, observe it, make a plan with `plan` and run it,
/// keeping going past failures.
pub fn run_lifecycle(
    engine: &dyn Engine,
    target: &Target,
    plan: impl FnOnce(&Observed) -> Plan,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<(), OrchestratorError> {
    let _lock = engine
        .lock_project(target.project_name)
        .map_err(|e| OrchestratorError::engine(format!("project {}", target.project_name), e))?;
    let observed = observe(engine, target.project_name)?;
    let plan = plan(&observed);
    execute::run(engine, &plan, on_event, OnFailure::KeepGoing)
}
