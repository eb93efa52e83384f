//! The core's error: what went wrong and where, carrying its source, for a
//! front to show (the CLI prints the chain and picks the exit code).

use wharf_engine_api::EngineError;
use wharf_image::ImageError;
use wharf_orchestrator::OrchestratorError;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Orchestrator(#[from] OrchestratorError),
    #[error("{context}")]
    Engine {
        context: String,
        #[source]
        source: EngineError,
    },
    #[error("{context}")]
    Image {
        context: String,
        #[source]
        source: Box<ImageError>,
    },
    #[error("no such service: {service} (services: {services})")]
    NoSuchService { service: String, services: String },
    /// A service exists but has no container to work on (`exec`): docker
    /// compose's `service "x" is not running`.
    #[error("service {service:?} is not running: it has no container {index} in project {project} (start it with `wharf up -d {service}`)")]
    NotRunning {
        service: String,
        index: u32,
        project: String,
    },
    #[error("container {0} is not running")]
    ContainerNotRunning(String),
    #[error("invalid pull policy {0:?}: use always, missing, never or build")]
    PullPolicy(String),
    /// A `SERVICE=NUM` scale argument that cannot be applied.
    #[error("--scale {arg:?}: {reason}")]
    Scale { arg: String, reason: String },
    /// Image pulls that failed, one line each.
    #[error("{}", .0.join("\n"))]
    Pull(Vec<String>),
    #[error("building service {service:?}")]
    Build {
        service: String,
        #[source]
        source: Box<AppError>,
    },
    #[error(
        "service {service:?}: build.{attribute} is not supported by wharf yet; remove it to build"
    )]
    BuildUnsupported { service: String, attribute: String },
    #[error("service {service:?}: build.secrets: {message}")]
    BuildSecret { service: String, message: String },
    /// An image store or registry operation that failed, as it says.
    #[error(transparent)]
    Store(Box<ImageError>),
    #[error(transparent)]
    Builder(Box<wharf_image::build::BuildError>),
    #[error("{context}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// Containers a signal or pause failed for, `; `-separated.
    #[error("{0}")]
    Signal(String),
    /// Attached `up` cannot follow what was asked.
    #[error("{0}")]
    Attach(String),
    /// A registry setting that cannot be used.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistrySettingsError),
    /// Image pushes that failed, one line each.
    #[error("{}", .0.join("\n"))]
    Push(Vec<String>),
    /// A copy docker's rules refuse, or a path that is not there.
    #[error("{0}")]
    Copy(String),
    /// `develop.watch` rules that cannot be watched, or a watcher that
    /// cannot start.
    #[error("{0}")]
    Watch(String),
    /// A docker flag value that cannot be used.
    #[error(transparent)]
    Flag(#[from] crate::docker::flags::FlagError),
    /// docker's message for a container name that is taken.
    #[error("Conflict. The container name \"/{name}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.")]
    NameInUse { name: String, id: String },
    /// A container name docker would refuse.
    #[error("Invalid container name ({0}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName(String),
    /// docker options wharf cannot honour, by flag.
    #[error("{} not supported by wharf: {reason}", .flags.join(", "))]
    Unsupported { flags: Vec<String>, reason: String },
    /// A listing filter that cannot be read or applied.
    #[error(transparent)]
    Filter(#[from] crate::filters::FilterError),
    /// An engine refusal whose own message says it all (a volume or network
    /// in use, one that does not exist).
    #[error(transparent)]
    EngineRefused(EngineError),
    /// No object of that kind by that name or id: docker's `network x not found`.
    #[error("{kind} {name} not found")]
    NoSuchObject { kind: &'static str, name: String },
    /// A `network create` wharf's bridge driver cannot make.
    #[error(transparent)]
    NetworkCreate(#[from] crate::networks::CreateError),
    /// A log flag that cannot be read.
    #[error(transparent)]
    LogFlag(#[from] crate::logs::LogsError),
    /// Log readers that failed, one message each.
    #[error("{}", .0.join("; "))]
    Logs(Vec<String>),
    /// A container operation docker refuses in the container's state.
    #[error("{0}")]
    Refused(String),
}

impl AppError {
    pub fn engine(context: impl Into<String>, source: EngineError) -> Self {
        AppError::Engine {
            context: context.into(),
            source,
        }
    }

    pub fn image(context: impl Into<String>, source: ImageError) -> Self {
        AppError::Image {
            context: context.into(),
            source: Box::new(source),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        AppError::Io {
            context: context.into(),
            source,
        }
    }
}

impl From<wharf_image::build::BuildError> for AppError {
    fn from(error: wharf_image::build::BuildError) -> Self {
        AppError::Builder(Box::new(error))
    }
}
