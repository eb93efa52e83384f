//! The [`Plan`]: a DAG of engine actions that `execute` runs. It prints as
//! stable text, one step a line — what `wharf up --dry-run` shows and what
//! the golden tests compare.

use crate::error::PlanError;
use crate::update::Replacement;
use std::fmt;
use std::time::Duration;
use wharf_compose::DependencyCondition;
use wharf_engine_api::{ContainerSpec, NetworkSpec, VolumeSpec};

/// One thing to do to the engine.
// Plans hold a handful of steps; the spec stays unboxed for easy matching.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    CreateNetwork(NetworkSpec),
    CreateVolume(VolumeSpec),
    /// Refused while a container uses it.
    RemoveVolume {
        name: String,
    },
    RemoveNetwork {
        id: String,
        name: String,
    },
    /// A new container, or (with [`Cause::Recreate`]) one that replaces
    /// an existing container.
    CreateContainer {
        service: String,
        spec: ContainerSpec,
    },
    /// `id: None` starts the container an earlier step created under `name`.
    StartContainer {
        name: String,
        id: Option<String>,
    },
    StopContainer {
        id: String,
        name: String,
        /// None: the container's own stop grace period.
        timeout: Option<Duration>,
    },
    /// Wait until every container of `service` meets `condition`
    /// (`depends_on` with `service_healthy` or `service_completed_successfully`).
    /// With `required: false` a failed wait only warns.
    WaitService {
        project: String,
        service: String,
        condition: DependencyCondition,
        required: bool,
    },
    /// Removes with force (the plan stops running containers first).
    RemoveContainer {
        id: String,
        name: String,
    },
    /// Move a container that is being replaced aside (`<short id>_<name>`,
    /// as docker compose does), so that its replacement can take the name
    /// and a failed replacement can give the name back.
    RenameContainer {
        id: String,
        name: String,
        new_name: String,
    },
    /// A start-first update of one replica (`deploy.update_config.order:
    /// start-first`): the new container starts beside the old one and takes
    /// its name once healthy.
    ReplaceStartFirst(Replacement),
}

impl Action {
    /// What the action is about, as errors name it: `container hello-web-1`.
    pub fn object(&self) -> String {
        match self {
            Action::CreateNetwork(spec) => format!("network {}", spec.name),
            Action::CreateVolume(spec) => format!("volume {}", spec.name),
            Action::RemoveVolume { name } => format!("volume {name}"),
            Action::RemoveNetwork { name, .. } => format!("network {name}"),
            Action::CreateContainer { spec, .. } => format!("container {}", spec.name),
            Action::StartContainer { name, .. }
            | Action::StopContainer { name, .. }
            | Action::RemoveContainer { name, .. }
            | Action::RenameContainer { name, .. } => format!("container {name}"),
            Action::WaitService { service, .. } => format!("service {service}"),
            Action::ReplaceStartFirst(r) => format!("container {}", r.old_name),
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Action::CreateNetwork(spec) => write!(f, "create network {}", spec.name),
            Action::CreateVolume(spec) => write!(f, "create volume {}", spec.name),
            Action::RemoveVolume { name } => write!(f, "remove volume {name}"),
            Action::RemoveNetwork { name, .. } => write!(f, "remove network {name}"),
            Action::CreateContainer { spec, .. } => write!(f, "create container {}", spec.name),
            Action::StartContainer { name, .. } => write!(f, "start container {name}"),
            Action::StopContainer { name, .. } => write!(f, "stop container {name}"),
            Action::RemoveContainer { name, .. } => write!(f, "remove container {name}"),
            Action::RenameContainer { name, new_name, .. } => {
                write!(f, "rename container {name} to {new_name}")
            }
            Action::ReplaceStartFirst(r) => {
                write!(f, "replace container {} start-first", r.old_name)?;
                if !r.delay.is_zero() {
                    write!(f, " after {}", wharf_units::format_go_duration(r.delay))?;
                }
                Ok(())
            }
            Action::WaitService {
                service, condition, ..
            } => write!(
                f,
                "wait for service {service} to be {}",
                match condition {
                    DependencyCondition::ServiceHealthy => "healthy",
                    DependencyCondition::ServiceCompletedSuccessfully => "completed successfully",
                    DependencyCondition::ServiceStarted => "started",
                }
            ),
        }
    }
}

/// Why a step is in the plan, as docker compose's reconciler keeps it. The
/// plan's text shows it after the action (`create container p-a-1: recreate
/// (environment changed)`), except for what the command itself asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// The project needs it and it does not exist.
    Missing,
    /// The existing container no longer matches its service; why
    /// (`environment changed`, `forced`, …). Every step of the replacement
    /// carries it, and the progress lines show it.
    Recreate(String),
    /// `-V`: the anonymous volumes of a recreated container are renewed.
    RenewAnonymousVolumes,
    /// The container exists but is not running.
    NotRunning,
    /// A service this one depends on with `restart: true` is recreated.
    DependencyRecreated(String),
    /// A service depends on this one's condition (`service_healthy`, …).
    DependedOn(String),
    /// More containers than the service's `replicas`.
    Surplus { replicas: u32 },
    /// A second container with the number of a replica.
    Duplicate { number: u32 },
    /// A container a recreate moved aside and did not remove (it was
    /// interrupted).
    LeftAside,
    /// Its service is no longer in the project (`--remove-orphans`).
    Orphan,
    /// What the command does (`down`, `stop`, `rm`, …); not shown.
    Requested(&'static str),
}

impl Cause {
    /// Why a container is replaced, when this is a recreate.
    pub fn recreate_reason(&self) -> Option<&str> {
        match self {
            Cause::Recreate(reason) => Some(reason),
            _ => None,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Missing => f.write_str("missing"),
            Cause::Recreate(reason) => write!(f, "recreate ({reason})"),
            Cause::RenewAnonymousVolumes => f.write_str("renew anonymous volumes"),
            Cause::NotRunning => f.write_str("not running"),
            Cause::DependencyRecreated(service) => write!(f, "dependency {service} recreated"),
            Cause::DependedOn(service) => write!(f, "{service} depends on it"),
            Cause::Surplus { replicas } => write!(
                f,
                "beyond {replicas} replica{}",
                if *replicas == 1 { "" } else { "s" }
            ),
            Cause::Duplicate { number } => write!(f, "another container is replica {number}"),
            Cause::LeftAside => f.write_str("left aside by an interrupted recreate"),
            Cause::Orphan => f.write_str("orphan"),
            Cause::Requested(command) => f.write_str(command),
        }
    }
}

/// One node of the plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// 1-based; equals the step's position in [`Plan::steps`] plus one.
    pub index: usize,
    pub action: Action,
    /// Why the step is there.
    pub cause: Cause,
    /// Indices of earlier steps that must finish first (sorted, unique).
    pub after: Vec<usize>,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.index, self.action)?;
        if !matches!(self.cause, Cause::Requested(_)) {
            write!(f, ": {}", self.cause)?;
        }
        if !self.after.is_empty() {
            let after: Vec<String> = self.after.iter().map(ToString::to_string).collect();
            write!(f, " (after {})", after.join(", "))?;
        }
        Ok(())
    }
}

/// What `up` or `down` will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Things the user should know that change nothing (orphans left alone).
    pub warnings: Vec<String>,
    /// Containers that stay running as they are (reported as `Running`).
    pub running: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// Append a step with its cause; returns its index.
    pub fn push(
        &mut self,
        action: Action,
        cause: Cause,
        after: impl IntoIterator<Item = usize>,
    ) -> usize {
        let index = self.steps.len() + 1;
        let mut after: Vec<usize> = after.into_iter().collect();
        after.sort_unstable();
        after.dedup();
        self.steps.push(Step {
            index,
            action,
            cause,
            after,
        });
        index
    }

    /// Each step's `index` is its position + 1 and it only waits for
    /// earlier steps, so the plan is a DAG.
    pub fn validate(&self) -> Result<(), PlanError> {
        for (position, step) in self.steps.iter().enumerate() {
            if step.index != position + 1 {
                return Err(PlanError::Misplaced {
                    index: step.index,
                    position: position + 1,
                });
            }
            if let Some(&after) = step.after.iter().find(|&&a| a == 0 || a >= step.index) {
                return Err(PlanError::WaitsForLater {
                    index: step.index,
                    after,
                });
            }
        }
        Ok(())
    }
}

/// One step a line, each line ending in a newline (print it with `print!`);
/// `nothing to do` when empty; warnings last, each on a line of its own
/// starting with `warning: `.
impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.steps.is_empty() {
            writeln!(f, "nothing to do")?;
        }
        for step in &self.steps {
            writeln!(f, "{step}")?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}
