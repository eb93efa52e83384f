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
    /// Any other failure, already phrased for the user.
    #[error("{0}")]
    Other(String),
}

impl EngineError {
    pub fn not_found(kind: &'static str, name: impl Into<String>) -> Self {
        EngineError::NotFound {
            kind,
            name: name.into(),
            hint: String::new(),
        }
    }

    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        EngineError::Io {
            context: context.into(),
            source,
        }
    }
}
