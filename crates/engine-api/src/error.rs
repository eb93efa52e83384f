//! The one error type every engine call returns.

use thiserror::Error;

/// What went wrong in the engine. Each variant's message is written for the
/// user: it says what failed and, where there is one, what to do.
#[derive(Debug, Error)]
pub enum EngineError {
    /// An image, container or network that was asked for does not exist.
    #[error("{kind} {name:?} not found{hint}")]
    NotFound {
        kind: &'static str,
        name: String,
        /// Either empty or starting with "; " — what the user can do.
        hint: String,
    },
    /// Something with that name exists already.
    #[error("{kind} {name:?} already exists")]
    Conflict { kind: &'static str, name: String },
    /// The request is invalid (a limit the host cannot enforce, a bad option).
    #[error("{0}")]
    Invalid(String),
    /// A host resource is taken (a port, an address, a subnet).
    #[error("{0}")]
    Unavailable(String),
    /// An operation on the host failed; `context` says which.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// The container's command could not be run: not found (`code` 127) or
    /// not executable (126), the exit codes docker gives for it.
    #[error("{message}")]
    CommandNotRunnable { code: i32, message: String },
    /// The image store failed (resolving, reading, committing an image); its
    /// error says what to do.
    #[error(transparent)]
    Image(BoxError),
    /// The container runtime failed (cgroups, namespaces, signals, exec).
    #[error(transparent)]
    Runtime(BoxError),
    /// The network side failed (netlink, nftables, a published port).
    #[error(transparent)]
    Network(BoxError),
    /// A step on a container failed: `context` names the step and the
    /// container, `hint` (empty or starting with "; ") what to do.
    #[error("{context}: {source}{hint}")]
    Step {
        context: String,
        #[source]
        source: BoxError,
        hint: String,
    },
    /// A spec field the runtime cannot honour, found at create time. `field`
    /// is the spec's name for it (`memory`, `memory_swap`, `cpu_quota`…),
    /// which the orchestrator maps back to the Compose key.
    #[error("container {container}: {source}")]
    InvalidSpec {
        container: String,
        field: String,
        #[source]
        source: BoxError,
    },
    /// A state file that cannot be read back.
    #[error("state file {path} is damaged ({source}); remove it to let wharf forget that object")]
    DamagedState {
        path: String,
        #[source]
        source: BoxError,
    },
    /// The container's monitor could not start it, or ended without
    /// recording how it ended; `message` is what the monitor reported.
    #[error("{message}")]
    Monitor { container: String, message: String },
    /// A `post_start` or `pre_stop` hook could not run; `hook` names it and
    /// its container (`container X: post_start hook ["cmd"]`).
    #[error("{hook} could not run: {source}")]
    HookNotRun {
        hook: String,
        #[source]
        source: Box<EngineError>,
    },
    /// A `post_start` or `pre_stop` hook exited non-zero; `output` is the
    /// end of what it printed.
    #[error(
        "{hook} exited with status {code}{}",
        if output.is_empty() { String::new() } else { format!(": {output}") }
    )]
    HookFailed {
        hook: String,
        code: i32,
        output: String,
    },
    /// The container's process outlived SIGKILL.
    #[error(
        "container {container} (pid {pid}) did not die after SIGKILL: it is stuck in the \
         kernel (uninterruptible sleep, often on I/O); try again once that I/O ends"
    )]
    Unkillable { container: String, pid: u32 },
    /// A teardown kept going past failures: every one of them.
    #[error("{what}: {}", failures.join("; "))]
    Teardown { what: String, failures: Vec<String> },
}

/// The source of an error from a crate the API does not depend on.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

impl EngineError {
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        EngineError::NotFound {
            kind,
            name: name.into(),
            hint: String::new(),
        }
    }

    /// A failed step on a container, with the error that failed it.
    pub fn step(
        context: impl Into<String>,
        source: impl Into<BoxError>,
        hint: impl Into<String>,
    ) -> Self {
        EngineError::Step {
            context: context.into(),
            source: source.into(),
            hint: hint.into(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        EngineError::Io {
            context: context.into(),
            source,
        }
    }
}
