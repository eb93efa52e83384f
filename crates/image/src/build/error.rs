//! `BuildError`: what can go wrong in a build, with the Dockerfile line when a line
//! is to blame, and what to do about it.

use super::fs::OwnerError;
use super::mounts::MountError;
use super::remote::{ChecksumError, FetchError};
use super::words::WordError;
use crate::error::ImageError;
use std::path::PathBuf;
use wharf_units::UnitError;

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

    /// An instruction's value is wrong or its work failed, at a line; the source
    /// says what and what to do.
    #[error("{file}:{line}: {source}")]
    Instruction {
        /// The Dockerfile's name.
        file: String,
        /// 1-based line of the instruction.
        line: usize,
        #[source]
        source: InstructionError,
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
    #[error("{file}:{line}: cannot run {command:?}: {source}")]
    RunStart {
        /// The Dockerfile's name.
        file: String,
        /// 1-based line of the RUN.
        line: usize,
        /// The command as written.
        command: String,
        /// What the engine reported.
        #[source]
        source: super::RunError,
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
            | BuildError::StoreAt { line, .. }
            | BuildError::Instruction { line, .. } => Some(*line),
            _ => None,
        }
    }
}

/// What went wrong in one instruction, from the part that failed.
#[derive(Debug, thiserror::Error)]
pub enum InstructionError {
    /// Quoting or a variable reference.
    #[error(transparent)]
    Word(#[from] WordError),
    /// A `RUN --mount` value.
    #[error(transparent)]
    Mount(#[from] MountError),
    /// An `ADD --checksum` value.
    #[error(transparent)]
    Checksum(#[from] ChecksumError),
    /// A `--chown` user or group.
    #[error(transparent)]
    Owner(#[from] OwnerError),
    /// An `ADD` download.
    #[error("ADD {url}: {source}")]
    Fetch {
        url: String,
        #[source]
        source: FetchError,
    },
    /// An `ADD` archive that cannot be extracted.
    #[error("ADD {path}: {source}")]
    Extract {
        path: String,
        #[source]
        source: Box<ImageError>,
    },
    /// A `HEALTHCHECK` duration flag.
    #[error("HEALTHCHECK --{flag}: {source}")]
    Duration {
        flag: String,
        #[source]
        source: UnitError,
    },
}
