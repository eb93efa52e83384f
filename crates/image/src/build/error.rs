//! `BuildError`: what can go wrong in a build, with the Dockerfile line when a line
//! is to blame, and what to do about it.

use crate::error::ImageError;
use std::path::PathBuf;

/// An error of `wharf build`.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The Dockerfile is wrong at a line (syntax, flags, stages, arguments, sources).
    #[error("{file}:{line}: {message}")]
    Dockerfile {
        /// The Dockerfile's name.
        file: String,
        /// 1-based line of the instruction.
        line: usize,
        /// What is wrong and what to do.
        message: String,
    },

    /// A `RUN` step exited with a non-zero code; its layer was discarded.
    #[error(
        "{file}:{line}: RUN {command} failed with exit code {code}{}",
        tail(last_lines)
    )]
    RunFailed {
        /// The Dockerfile's name.
        file: String,
        /// 1-based line of the RUN.
        line: usize,
        /// The command as written.
        command: String,
        /// Its exit code (128 + signal when killed).
        code: i32,
        /// The last lines of its output.
        last_lines: Vec<String>,
    },

    /// A `RUN` step could not be started or waited for.
    #[error("{file}:{line}: cannot run {command:?}: {message}")]
    RunStart {
        /// The Dockerfile's name.
        file: String,
        /// 1-based line of the RUN.
        line: usize,
        /// The command as written.
        command: String,
        /// What the engine reported.
        message: String,
    },

    /// The build context or the Dockerfile cannot be read.
    #[error("build context {path}: {message}")]
    Context {
        /// The file or directory at fault.
        path: PathBuf,
        /// What is wrong and what to do.
        message: String,
    },

    /// The build request itself is wrong (unknown target, bad build argument).
    #[error("{0}")]
    Invalid(String),

    /// The image store failed, at a Dockerfile line.
    #[error("{file}:{line}: {source}")]
    StoreAt {
        /// The Dockerfile's name.
        file: String,
        /// 1-based line.
        line: usize,
        /// The store's error.
        #[source]
        source: Box<ImageError>,
    },

    /// The image store failed.
    #[error(transparent)]
    Store(Box<ImageError>),
}

impl From<ImageError> for BuildError {
    fn from(e: ImageError) -> Self {
        BuildError::Store(Box::new(e))
    }
}

fn tail(lines: &[String]) -> String {
    if lines.is_empty() {
        return "; it printed nothing".to_string();
    }
    let mut s = String::from("; its last output lines:");
    for l in lines {
        s.push_str("\n  ");
        s.push_str(l);
    }
    s
}

impl BuildError {
    /// The Dockerfile line the error is about, if any.
    pub fn line(&self) -> Option<usize> {
        match self {
            BuildError::Dockerfile { line, .. }
            | BuildError::RunFailed { line, .. }
            | BuildError::RunStart { line, .. }
            | BuildError::StoreAt { line, .. } => Some(*line),
            _ => None,
        }
    }
}
