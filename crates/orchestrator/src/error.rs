//! [`OrchestratorError`]: everything that can stop `up`, `down` or a plan,
//! phrased for the user.

use std::net::AddrParseError;
use std::num::ParseIntError;
use std::path::PathBuf;
use thiserror::Error;
use wharf_engine_api::{EngineError, FileKind};
use wharf_units::UnitError;

/// Why an orchestrator operation failed. Messages are shown to the user as
/// they are.
#[derive(Debug, Error)]
pub enum OrchestratorError {
    /// An engine call failed; `object` names what it was about
    /// (`container hello-web-1`, `network hello_default`, `project hello`).
    #[error("{object}: {source}")]
    Engine {
        object: String,
        #[source]
        source: EngineError,
    },
    /// The engine refused a setting it names by its spec field; `keys` are
    /// the Compose keys that set it (`deploy.resources.limits.memory`,
    /// `mem_limit`).
    #[error("{object}: {source} (set by {})", .keys.join(" or "))]
    EngineSetting {
        object: String,
        keys: &'static [&'static str],
        #[source]
        source: EngineError,
    },
    /// A service's image is not in the local store.
    #[error("service {service:?}: image {image:?} not found locally: {hint}")]
    ImageNotFound {
        service: String,
        image: String,
        /// What to do: `import or pull it first` / `build it first`.
        hint: String,
    },
    /// A service named on the command line is not in the project.
    #[error("no such service: {0}")]
    NoSuchService(String),
    /// `depends_on` names a service that is not in the project.
    #[error("service {service:?} depends on undefined service {dependency:?}")]
    UndefinedDependency { service: String, dependency: String },
    /// `depends_on` loops (`a → b → a`).
    #[error("dependency cycle between services: {0}: remove one of these depends_on")]
    DependencyCycle(String),
    /// A service joins a network that the top-level `networks` does not declare.
    #[error("service {service:?} refers to undefined network {network:?}")]
    UndefinedNetwork { service: String, network: String },
    /// A top-level network wharf cannot create as written.
    #[error("network {network:?}: {source}")]
    InvalidNetwork {
        network: String,
        #[source]
        source: SettingError,
    },
    /// An `external: true` network does not exist on the host.
    #[error("network {0} declared as external, but could not be found")]
    ExternalNetworkMissing(String),
    /// A service mounts a volume that the top-level `volumes` does not declare.
    #[error("service {service:?} refers to undefined volume {volume:?}: declare it under the top-level `volumes:`")]
    UndefinedVolume { service: String, volume: String },
    /// An `external: true` volume does not exist on the host.
    #[error("external volume {0:?} not found: create it first (wharf volume create {0})")]
    ExternalVolumeMissing(String),
    /// A top-level volume wharf cannot create (another driver, bad options).
    #[error("volume {volume:?}: {source}")]
    InvalidVolume {
        volume: String,
        #[source]
        source: SettingError,
    },
    /// A service setting the engine cannot be given (a bad port, restart policy, …).
    #[error("service {service:?}: {source}")]
    InvalidService {
        service: String,
        #[source]
        source: SettingError,
    },
    /// A `depends_on` condition failed (unhealthy, exited, did not complete).
    #[error("{0}")]
    Dependency(#[from] DependencyError),
    /// A hand-built plan whose steps do not form a DAG of earlier steps.
    #[error("invalid plan: {0}")]
    InvalidPlan(#[from] PlanError),
    /// A start-first replacement did not become healthy; the new container
    /// was removed and the old one keeps serving.
    #[error("container {container}: the new container did not become healthy: {reason}; it was removed and the old container keeps serving")]
    UpdateFailed { container: String, reason: NotReady },
    /// Several independent failures (from `down`, or a failure plus a failed
    /// rollback), one a line.
    #[error("{}", join_lines(.0))]
    Multiple(Vec<OrchestratorError>),
}

impl OrchestratorError {
    /// An engine failure about `object`; one that names a spec field gets
    /// the Compose keys that set it.
    pub(crate) fn engine(object: impl Into<String>, source: EngineError) -> Self {
        match crate::compose_keys::keys_for(&source) {
            Some(keys) => OrchestratorError::EngineSetting {
                object: object.into(),
                keys,
                source,
            },
            None => OrchestratorError::Engine {
                object: object.into(),
                source,
            },
        }
    }

    /// The message without the object it is about, for a progress line
    /// that names the object already.
    pub(crate) fn without_object(&self) -> String {
        match self {
            OrchestratorError::Engine { source, .. } => source.to_string(),
            OrchestratorError::UpdateFailed { reason, .. } => {
                format!("the new container did not become healthy: {reason}")
            }
            OrchestratorError::EngineSetting { source, keys, .. } => {
                format!("{source} (set by {})", keys.join(" or "))
            }
            other => other.to_string(),
        }
    }

    /// One error as itself, several as [`OrchestratorError::Multiple`].
    pub(crate) fn from_many(mut errors: Vec<OrchestratorError>) -> Option<Self> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(OrchestratorError::Multiple(errors)),
        }
    }

    /// The individual failures: the members of `Multiple`, or this error alone.
    pub fn failures(&self) -> Vec<&OrchestratorError> {
        match self {
            OrchestratorError::Multiple(all) => all.iter().flat_map(|e| e.failures()).collect(),
            other => vec![other],
        }
    }
}

/// What is wrong with one setting of a service, network or volume. Each
/// message names the setting (its Compose key) and says what to write.
#[derive(Debug, Error)]
pub enum SettingError {
    /// A value wharf does not take, or settings that do not go together.
    #[error("{0}")]
    Invalid(String),
    /// A byte size that does not parse.
    #[error("{key}: {source}")]
    Size {
        key: String,
        #[source]
        source: UnitError,
    },
    /// A whole number that does not parse.
    #[error("{key} {value:?} is not a number: {hint}")]
    Number {
        key: String,
        value: String,
        /// What to write instead.
        hint: &'static str,
        #[source]
        source: ParseIntError,
    },
    /// An IP address that does not parse.
    #[error("{key} {value:?} is not an {family} address: write one like {example}")]
    Address {
        key: String,
        value: String,
        family: &'static str,
        example: &'static str,
        #[source]
        source: AddrParseError,
    },
    /// The file a secret or config takes its value from cannot be read.
    #[error("{kind} {name:?}: cannot read its file {}: {source}: create the file or correct {kind}s.{name}.file", path.display())]
    File {
        kind: FileKind,
        name: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl SettingError {
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        SettingError::Invalid(message.into())
    }
}

/// Why a `depends_on` condition (or `up --wait`) was not met.
#[derive(Debug, Error)]
pub enum DependencyError {
    #[error("service {service:?} has no container: bring it up first")]
    NoContainer { service: String },
    #[error("dependency failed to start: container {container} is unhealthy")]
    Unhealthy { container: String },
    #[error("dependency failed to start: container {container} exited ({exit_code})")]
    Exited { container: String, exit_code: i32 },
    #[error("dependency failed to start: container {container} has no healthcheck configured: give its service a healthcheck, or depend on it with condition service_started")]
    NoHealthcheck { container: String },
    #[error("service {service:?} didn't complete successfully: exit {exit_code}")]
    NotCompleted { service: String, exit_code: i32 },
    /// `up --wait`: a container went unhealthy.
    #[error("container {container} is unhealthy: see why with wharf ps and wharf logs")]
    NotHealthy { container: String },
    /// `up --wait`: a container exited with a failure.
    #[error("container {container} exited ({exit_code}): see why with wharf logs")]
    Failed { container: String, exit_code: i32 },
    /// `up --wait`: the timeout passed first.
    #[error("timed out waiting for {} to be ready", .containers.join(", "))]
    TimedOut { containers: Vec<String> },
    #[error("service {service:?}: {source}")]
    Engine {
        service: String,
        #[source]
        source: EngineError,
    },
}

/// A plan whose steps do not form a DAG of earlier steps (a plan built by
/// hand, never one [`crate::plan_up`] made).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("step {index} is at position {position}")]
    Misplaced { index: usize, position: usize },
    #[error("step {index} waits for step {after}, which is not an earlier step")]
    WaitsForLater { index: usize, after: usize },
    #[error("container {name} is started before any step created it")]
    StartBeforeCreate { name: String },
}

fn join_lines(errors: &[OrchestratorError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Why a rolling update's new container was not taken into service.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    /// It could not be started (or its state read).
    #[error("{0}")]
    Engine(EngineError),
    #[error("it exited ({exit_code}): see why with wharf logs")]
    Exited { exit_code: i32 },
    #[error("its health check failed: see why with wharf inspect")]
    Unhealthy,
    #[error("it was not healthy within {within}")]
    TimedOut { within: String },
    #[error("its published ports could not be handed over: {0}")]
    Handover(EngineError),
}

/// `deploy.update_config.order` (or `up --update-order`) names no order.
#[derive(Debug, thiserror::Error)]
#[error("unknown update order {0:?}: use start-first or stop-first")]
pub struct UnknownUpdateOrder(pub String);
