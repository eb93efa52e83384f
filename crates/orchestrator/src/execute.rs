//! Execute a [`Plan`]: steps run as soon as the steps they wait for are done,
//! independent ones in parallel (scoped threads), reporting [`Event`]s. `up`
//! stops at the first failure and rolls back what it created; `down` keeps
//! going and reports every failure.

use crate::error::{DependencyError, OrchestratorError, PlanError};
use crate::plan::{Action, Plan, Step};
use crate::update::Replaced;
use std::collections::{BTreeSet, HashMap};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;
use wharf_compose::DependencyCondition;
use wharf_engine_api::{labels, ContainerInfo, ContainerState, Engine, Health};

/// Most steps running at once (each runs on its own scoped thread) unless
/// [`set_parallel_limit`] says otherwise.
const MAX_PARALLEL: usize = 16;

/// The process-wide cap on concurrent steps (0: [`MAX_PARALLEL`]).
static PARALLEL_LIMIT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Cap the steps any plan execution of this process runs at once (compose's
/// `--parallel`); `None` restores the default. A process setting, as the
/// flag is one of the whole command.
pub fn set_parallel_limit(limit: Option<usize>) {
    PARALLEL_LIMIT.store(limit.unwrap_or(0), std::sync::atomic::Ordering::Relaxed);
}

fn parallel_limit() -> usize {
    match PARALLEL_LIMIT.load(std::sync::atomic::Ordering::Relaxed) {
        0 => MAX_PARALLEL,
        n => n,
    }
}

/// Progress of one network or container, as docker compose shows it
/// (its `Display` is the text of the progress line: `Started`,
/// `Recreate (environment changed)`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    Creating,
    Created,
    /// A container is replaced; `reason` says why (`environment changed`).
    Recreate {
        reason: String,
    },
    Recreated {
        reason: String,
    },
    Starting,
    Started,
    Running,
    Stopping,
    Stopped,
    Removing,
    Removed,
    /// Waiting for a dependency's condition.
    Waiting,
    Healthy,
    /// Completed (exited 0), for `service_completed_successfully`.
    Exited,
    Error(String),
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "Creating",
            Status::Created => "Created",
            Status::Recreate { reason } => return write!(f, "Recreate ({reason})"),
            Status::Recreated { reason } => return write!(f, "Recreated ({reason})"),
            Status::Starting => "Starting",
            Status::Started => "Started",
            Status::Running => "Running",
            Status::Stopping => "Stopping",
            Status::Stopped => "Stopped",
            Status::Removing => "Removing",
            Status::Removed => "Removed",
            Status::Waiting => "Waiting",
            Status::Healthy => "Healthy",
            Status::Exited => "Exited",
            Status::Error(message) => return write!(f, "Error {message}"),
        })
    }
}

/// A progress report for the CLI to render (`Container hello-web-1  Started`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Network {
        name: String,
        status: Status,
    },
    Container {
        name: String,
        status: Status,
    },
    Volume {
        name: String,
        status: Status,
    },
    /// Something the user should know that does not stop the run.
    Warning(String),
}

/// What to do when a step fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnFailure {
    /// Schedule nothing new, wait for running steps, undo what was created.
    RollBack,
    /// Run every step anyway (dependents too, once their prerequisites
    /// finished either way) and report all failures.
    KeepGoing,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StepState {
    Pending,
    Running,
    Done,
    Failed,
}

/// What a finished step made, for later steps and for rollback.
#[derive(Default)]
struct Outcome {
    created_container: Option<(String, String)>,
    created_network: Option<(String, String)>,
    started: Option<String>,
    stopped: Option<String>,
    /// (id, the name it had): a container moved aside for its replacement.
    renamed: Option<(String, String)>,
    removed: Option<String>,
    /// A failure reported once the plan ends, which stops nothing
    /// (`failure_action: continue`).
    deferred_error: Option<OrchestratorError>,
}

struct Shared {
    states: Vec<StepState>,
    running: usize,
    errors: Vec<OrchestratorError>,
    /// Containers created by this execution, by name → id.
    created_ids: HashMap<String, String>,
    /// In creation order: (name, id).
    created_containers: Vec<(String, String)>,
    created_networks: Vec<(String, String)>,
    /// Ids of containers this execution started.
    started: BTreeSet<String>,
    /// Ids of containers this execution stopped.
    stopped: BTreeSet<String>,
    /// Containers moved aside by this execution: (id, the name they had).
    renamed: Vec<(String, String)>,
    /// Ids of containers this execution removed.
    removed: BTreeSet<String>,
    /// Failures that stopped nothing, reported at the end.
    deferred_errors: Vec<OrchestratorError>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Execute in dependency order, independent steps in parallel; on the first
/// failure stop scheduling, wait for running steps, then roll back what this
/// execution created and return the error (`container hello-web-1: …`).
/// The plan's warnings are not reported here; show [`Plan::warnings`] yourself.
pub fn execute(
    engine: &dyn Engine,
    plan: &Plan,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<(), OrchestratorError> {
    run(engine, plan, on_event, OnFailure::RollBack)
}

pub(crate) fn run(
    engine: &dyn Engine,
    plan: &Plan,
    on_event: &(dyn Fn(Event) + Sync),
    on_failure: OnFailure,
) -> Result<(), OrchestratorError> {
    plan.validate()?;
    for name in &plan.running {
        on_event(Event::Container {
            name: name.clone(),
            status: Status::Running,
        });
    }
    // Containers replaced by this plan report Recreate/Recreated only (the
    // old one is stopped under its name and removed under its aside name).
    let recreated: BTreeSet<&str> = plan
        .steps
        .iter()
        .filter_map(|s| match &s.action {
            Action::CreateContainer { spec, .. } if s.cause.recreate_reason().is_some() => {
                Some(spec.name.as_str())
            }
            Action::RenameContainer { new_name, .. } => Some(new_name.as_str()),
            Action::ReplaceStartFirst(r) => Some(r.aside_name.as_str()),
            _ => None,
        })
        .collect();

    let shared = Mutex::new(Shared {
        states: vec![StepState::Pending; plan.steps.len()],
        running: 0,
        errors: Vec::new(),
        created_ids: HashMap::new(),
        created_containers: Vec::new(),
        created_networks: Vec::new(),
        started: BTreeSet::new(),
        stopped: BTreeSet::new(),
        renamed: Vec::new(),
        removed: BTreeSet::new(),
        deferred_errors: Vec::new(),
    });
    let finished = Condvar::new();

    let max_parallel = parallel_limit();
    std::thread::scope(|scope| {
        let mut guard = lock(&shared);
        loop {
            let stop_scheduling = on_failure == OnFailure::RollBack && !guard.errors.is_empty();
            if !stop_scheduling {
                for (position, step) in plan.steps.iter().enumerate() {
                    if guard.running >= max_parallel {
                        break;
                    }
                    if guard.states[position] != StepState::Pending {
                        continue;
                    }
                    let runnable = step.after.iter().all(|&a| match guard.states[a - 1] {
                        StepState::Done => true,
                        StepState::Failed => on_failure == OnFailure::KeepGoing,
                        StepState::Pending | StepState::Running => false,
                    });
                    if !runnable {
                        continue;
                    }
                    guard.states[position] = StepState::Running;
                    guard.running += 1;
                    let created_id = match &step.action {
                        Action::StartContainer { name, id: None } => {
                            guard.created_ids.get(name).cloned()
                        }
                        _ => None,
                    };
                    let (shared, finished, recreated) = (&shared, &finished, &recreated);
                    scope.spawn(move || {
                        let result = run_action(engine, step, created_id, recreated, on_event);
                        let mut guard = lock(shared);
                        guard.running -= 1;
                        match result {
                            Ok(outcome) => {
                                guard.states[position] = StepState::Done;
                                if let Some((name, id)) = outcome.created_container {
                                    guard.created_ids.insert(name.clone(), id.clone());
                                    guard.created_containers.push((name, id));
                                }
                                if let Some(network) = outcome.created_network {
                                    guard.created_networks.push(network);
                                }
                                if let Some(id) = outcome.started {
                                    guard.started.insert(id);
                                }
                                if let Some(id) = outcome.stopped {
                                    guard.stopped.insert(id);
                                }
                                if let Some(renamed) = outcome.renamed {
                                    guard.renamed.push(renamed);
                                }
                                if let Some(id) = outcome.removed {
                                    guard.removed.insert(id);
                                }
                                if let Some(error) = outcome.deferred_error {
                                    guard.deferred_errors.push(error);
                                }
                            }
                            Err(error) => {
                                guard.states[position] = StepState::Failed;
                                guard.errors.push(error);
                            }
                        }
                        finished.notify_all();
                    });
                }
            }
            if guard.running == 0 {
                break;
            }
            guard = finished
                .wait(guard)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
    });

    let mut shared = shared
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut errors = std::mem::take(&mut shared.errors);
    if errors.is_empty() {
        return match OrchestratorError::from_many(std::mem::take(&mut shared.deferred_errors)) {
            Some(error) => Err(error),
            None => Ok(()),
        };
    }
    errors.append(&mut shared.deferred_errors);
    if on_failure == OnFailure::RollBack {
        errors.extend(roll_back(engine, plan, &shared, on_event));
    }
    Err(OrchestratorError::from_many(errors).unwrap_or(OrchestratorError::Multiple(Vec::new())))
}

fn container_event(on_event: &(dyn Fn(Event) + Sync), name: &str, status: Status) {
    on_event(Event::Container {
        name: name.to_string(),
        status,
    });
}

fn volume_event(on_event: &(dyn Fn(Event) + Sync), name: &str, status: Status) {
    on_event(Event::Volume {
        name: name.to_string(),
        status,
    });
}

fn network_event(on_event: &(dyn Fn(Event) + Sync), name: &str, status: Status) {
    on_event(Event::Network {
        name: name.to_string(),
        status,
    });
}

/// How often a wait looks at the dependency's state again.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// Wait until every container of `service` meets `condition`; the error says
/// which container failed it and how.
fn wait_for_service(
    engine: &dyn Engine,
    project: &str,
    service: &str,
    condition: DependencyCondition,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<(), DependencyError> {
    let mut announced = false;
    loop {
        let containers: Vec<ContainerInfo> = engine
            .list_containers(&[(labels::PROJECT, project), (labels::SERVICE, service)])
            .map_err(|source| DependencyError::Engine {
                service: service.to_string(),
                source,
            })?
            .into_iter()
            .filter(|c| !crate::observe::is_oneoff(c))
            .collect();
        if containers.is_empty() {
            return Err(DependencyError::NoContainer {
                service: service.to_string(),
            });
        }
        if !announced {
            for c in &containers {
                container_event(on_event, &c.name, Status::Waiting);
            }
            announced = true;
        }
        let mut ready = true;
        for c in &containers {
            match condition {
                DependencyCondition::ServiceHealthy => match (&c.state, c.health) {
                    (_, Some(Health::Unhealthy)) => {
                        return Err(DependencyError::Unhealthy {
                            container: c.name.clone(),
                        })
                    }
                    (ContainerState::Exited { exit_code, .. }, _) => {
                        return Err(DependencyError::Exited {
                            container: c.name.clone(),
                            exit_code: *exit_code,
                        })
                    }
                    (ContainerState::Running { .. }, None) => {
                        return Err(DependencyError::NoHealthcheck {
                            container: c.name.clone(),
                        })
                    }
                    (_, Some(Health::Healthy)) => {}
                    _ => ready = false,
                },
                DependencyCondition::ServiceCompletedSuccessfully => match &c.state {
                    ContainerState::Exited { exit_code: 0, .. } => {}
                    ContainerState::Exited { exit_code, .. } => {
                        return Err(DependencyError::NotCompleted {
                            service: service.to_string(),
                            exit_code: *exit_code,
                        })
                    }
                    _ => ready = false,
                },
                DependencyCondition::ServiceStarted => {}
            }
        }
        if ready {
            let status = match condition {
                DependencyCondition::ServiceCompletedSuccessfully => Status::Exited,
                _ => Status::Healthy,
            };
            for c in &containers {
                container_event(on_event, &c.name, status.clone());
            }
            return Ok(());
        }
        std::thread::sleep(WAIT_POLL);
    }
}

/// Run one action, reporting its progress; the error names the object.
fn run_action(
    engine: &dyn Engine,
    step: &Step,
    created_id: Option<String>,
    recreated: &BTreeSet<&str>,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Outcome, OrchestratorError> {
    let action = &step.action;
    let fail = |error| {
        let error = OrchestratorError::engine(action.object(), error);
        let status = Status::Error(error.without_object());
        match action {
            Action::CreateNetwork(spec) => network_event(on_event, &spec.name, status),
            Action::RemoveNetwork { name, .. } => network_event(on_event, name, status),
            Action::CreateVolume(spec) => volume_event(on_event, &spec.name, status),
            Action::RemoveVolume { name } => volume_event(on_event, name, status),
            Action::CreateContainer { spec, .. } => container_event(on_event, &spec.name, status),
            Action::StartContainer { name, .. }
            | Action::StopContainer { name, .. }
            | Action::RemoveContainer { name, .. }
            | Action::RenameContainer { name, .. } => container_event(on_event, name, status),
            // A replacement reports its own progress and errors.
            Action::ReplaceStartFirst(_) => {}
            // A wait makes no engine call that could fail this way.
            Action::WaitService { .. } => {}
        }
        error
    };
    let mut outcome = Outcome::default();
    match action {
        Action::CreateNetwork(spec) => {
            network_event(on_event, &spec.name, Status::Creating);
            let id = engine.create_network(spec).map_err(fail)?;
            network_event(on_event, &spec.name, Status::Created);
            outcome.created_network = Some((spec.name.clone(), id));
        }
        Action::RemoveNetwork { id, name } => {
            network_event(on_event, name, Status::Removing);
            engine.remove_network(id).map_err(fail)?;
            network_event(on_event, name, Status::Removed);
        }
        // Volumes are never rolled back: a failed `up` must not lose data.
        Action::CreateVolume(spec) => {
            volume_event(on_event, &spec.name, Status::Creating);
            engine.create_volume(spec).map_err(fail)?;
            volume_event(on_event, &spec.name, Status::Created);
        }
        Action::RemoveVolume { name } => {
            volume_event(on_event, name, Status::Removing);
            engine.remove_volume(name, false).map_err(fail)?;
            volume_event(on_event, name, Status::Removed);
        }
        Action::CreateContainer { spec, .. } => {
            let (before, after) = match step.cause.recreate_reason() {
                Some(reason) => (
                    Status::Recreate {
                        reason: reason.to_string(),
                    },
                    Status::Recreated {
                        reason: reason.to_string(),
                    },
                ),
                None => (Status::Creating, Status::Created),
            };
            container_event(on_event, &spec.name, before);
            let id = engine.create_container(spec).map_err(fail)?;
            // docker compose shows the engine's create warnings, as here a
            // `blkio_config.weight` the host's schedulers cannot take.
            for warning in engine.discarded_limits(&spec.resources) {
                on_event(Event::Warning(format!("{}: {warning}", spec.name)));
            }
            container_event(on_event, &spec.name, after);
            outcome.created_container = Some((spec.name.clone(), id));
        }
        Action::WaitService {
            project,
            service,
            condition,
            required,
        } => {
            if let Err(message) = wait_for_service(engine, project, service, *condition, on_event) {
                if *required {
                    return Err(message.into());
                }
                on_event(Event::Warning(format!(
                    "optional dependency {service} is not ready: {message}"
                )));
            }
        }
        Action::StartContainer { name, id } => {
            let Some(id) = id.clone().or(created_id) else {
                return Err(PlanError::StartBeforeCreate { name: name.clone() }.into());
            };
            container_event(on_event, name, Status::Starting);
            engine.start_container(&id).map_err(fail)?;
            container_event(on_event, name, Status::Started);
            outcome.started = Some(id);
        }
        Action::StopContainer { id, name, timeout } => {
            let quiet = recreated.contains(name.as_str());
            if !quiet {
                container_event(on_event, name, Status::Stopping);
            }
            engine.stop_container(id, *timeout).map_err(fail)?;
            if !quiet {
                container_event(on_event, name, Status::Stopped);
            }
            outcome.stopped = Some(id.clone());
        }
        Action::RenameContainer { id, name, new_name } => {
            engine.rename_container(id, new_name).map_err(fail)?;
            outcome.renamed = Some((id.clone(), name.clone()));
        }
        Action::RemoveContainer { id, name } => {
            let quiet = recreated.contains(name.as_str());
            if !quiet {
                container_event(on_event, name, Status::Removing);
            }
            engine.remove_container(id, true).map_err(fail)?;
            if !quiet {
                container_event(on_event, name, Status::Removed);
            }
            outcome.removed = Some(id.clone());
        }
        Action::ReplaceStartFirst(replacement) => {
            match crate::update::replace_start_first(engine, replacement, on_event)? {
                Replaced::Done { new_id, removed } if !removed => {
                    // Kept undoable until the update ends: a rollback
                    // removes the new container and restores the old one.
                    outcome.created_container =
                        Some((replacement.spec.name.clone(), new_id.clone()));
                    outcome.started = Some(new_id);
                    outcome.stopped = Some(replacement.old_id.clone());
                    outcome.renamed =
                        Some((replacement.old_id.clone(), replacement.old_name.clone()));
                }
                Replaced::Done { .. } => {}
                Replaced::Abandoned(error) => outcome.deferred_error = Some(error),
            }
        }
    }
    Ok(outcome)
}

/// Undo what one execution created: stop and remove its containers (newest
/// first), give the containers it was replacing (and did not remove) their
/// names back and start again those it stopped, then remove its networks.
/// Returns what could not be undone.
fn roll_back(
    engine: &dyn Engine,
    plan: &Plan,
    done: &Shared,
    on_event: &(dyn Fn(Event) + Sync),
) -> Vec<OrchestratorError> {
    let (containers, started, networks) = (
        &done.created_containers,
        &done.started,
        &done.created_networks,
    );
    let mut errors = Vec::new();
    let mut undo = |object: String, result: wharf_engine_api::Result<()>| match result {
        Ok(()) => true,
        Err(error) => {
            errors.push(OrchestratorError::engine(
                format!("rolling back {object}"),
                error,
            ));
            false
        }
    };
    for (name, id) in containers.iter().rev() {
        if started.contains(id) {
            container_event(on_event, name, Status::Stopping);
            if undo(format!("container {name}"), engine.stop_container(id, None)) {
                container_event(on_event, name, Status::Stopped);
            }
        }
        container_event(on_event, name, Status::Removing);
        if undo(
            format!("container {name}"),
            engine.remove_container(id, true),
        ) {
            container_event(on_event, name, Status::Removed);
        }
    }
    let replaced = plan
        .steps
        .iter()
        .rev()
        .filter_map(|step| match &step.action {
            Action::RenameContainer { id, name, .. } => Some((id, name)),
            Action::ReplaceStartFirst(r) => Some((&r.old_id, &r.old_name)),
            _ => None,
        });
    for (id, name) in replaced {
        if done.removed.contains(id) {
            continue;
        }
        let moved_aside = done.renamed.iter().any(|(renamed, _)| renamed == id);
        if moved_aside
            && !undo(
                format!("container {name}"),
                engine.rename_container(id, name),
            )
        {
            continue;
        }
        if done.stopped.contains(id) {
            container_event(on_event, name, Status::Starting);
            if undo(format!("container {name}"), engine.start_container(id)) {
                container_event(on_event, name, Status::Started);
            }
        }
    }
    for (name, id) in networks.iter().rev() {
        network_event(on_event, name, Status::Removing);
        if undo(format!("network {name}"), engine.remove_network(id)) {
            network_event(on_event, name, Status::Removed);
        }
    }
    errors
}
