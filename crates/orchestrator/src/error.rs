//! [`OrchestratorError`]: everything that can stop `up`, `down` or a plan,
//! phrased for the user.

use thiserror::Error;
use wharf_engine_api::EngineError;

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
    /// `depends_on` loops.
    #[error("dependency cycle between services: {0}")]
    DependencyCycle(String),
    /// A service joins a network that the top-level `networks` does not declare.
    #[error("service {service:?} refers to undefined network {network:?}")]
    UndefinedNetwork { service: String, network: String },
    /// A top-level network wharf cannot create as written.
    #[error("network {network:?}: {message}")]
    InvalidNetwork { network: String, message: String },
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
    #[error("volume {volume:?}: {message}")]
    InvalidVolume { volume: String, message: String },
    /// A service setting the engine cannot be given (a bad port, restart policy, …).
    #[error("service {service:?}: {message}")]
    InvalidService { service: String, message: String },
    /// A `depends_on` condition failed (unhealthy, exited, did not complete).
    #[error("{0}")]
    Dependency(String),
    /// A hand-built plan whose steps do not form a DAG of earlier steps.
    #[error("invalid plan: {0}")]
    InvalidPlan(String),
    /// Several independent failures (from `down`, or a failure plus a failed
    /// rollback), one a line.
    #[error("{}", join_lines(.0))]
    Multiple(Vec<OrchestratorError>),
}

impl OrchestratorError {
    pub(crate) fn engine(object: impl Into<String>, source: EngineError) -> Self {
        OrchestratorError::Engine {
            object: object.into(),
            source,
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

fn join_lines(errors: &[OrchestratorError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}
