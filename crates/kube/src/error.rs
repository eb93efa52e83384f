//! Why a project cannot be converted: a value Kubernetes would reject, or a
//! file the conversion must read, named by its Compose key.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum KubeError {
    /// A Compose value with no valid Kubernetes form.
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    /// A file the project refers to (a config, a secret, a bind-mounted file).
    #[error("{path}: cannot read {file}: {source}")]
    Read {
        path: String,
        file: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A conversion option (a flag) that cannot be used.
    #[error("{option}: {message}")]
    Option {
        option: &'static str,
        message: String,
    },
}

impl KubeError {
    pub fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        KubeError::Invalid {
            path: path.into(),
            message: message.into(),
        }
    }
}
