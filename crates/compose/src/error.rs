//! The loader's error type: one line, `FILE:LINE:COL: YAML.PATH: what is wrong`.
//!
//! Every stage builds its errors through the constructors here so the
//! format stays the same whichever stage found the problem.

use std::fmt;
use std::sync::Arc;

/// Where in which file something was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The file as the user gave it or as it was discovered (relative when under cwd).
    pub file: Arc<str>,
    /// 1-based line; 0 when unknown.
    pub line: u32,
    /// 1-based column; 0 when unknown.
    pub column: u32,
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (0, _) => write!(f, "{}", self.file),
            (l, 0) => write!(f, "{}:{l}", self.file),
            (l, c) => write!(f, "{}:{l}:{c}", self.file),
        }
    }
}

/// What kind of problem a [`LoadError`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LoadErrorKind {
    /// No Compose file found, or a file could not be read.
    Files,
    /// The YAML itself is malformed.
    Yaml,
    /// A `.env` or `env_file` file is malformed or missing.
    EnvFile,
    /// `${…}` syntax error or a required variable without value.
    Interpolation,
    /// Wrong type, unknown key, bad value.
    Schema,
    /// A reference to a service, network or volume that is not defined.
    Reference,
    /// `depends_on` forms a cycle.
    Cycle,
    /// The project name is not usable.
    ProjectName,
}

/// A Compose project that cannot be loaded, with where and why.
///
/// `Display` is the whole one-line message for the user:
/// `FILE:LINE:COL: YAML.PATH: what is wrong[: what to do]`; parts that are
/// unknown are left out.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct LoadError {
    pub kind: LoadErrorKind,
    /// Where the problem was written, when known.
    pub location: Option<Location>,
    /// Dotted YAML path (`services.web.ports[0]`), when known.
    pub path: Option<String>,
    /// What is wrong (and what to do), without location and path.
    pub message: String,
}

impl LoadError {
    /// An error with neither location nor path.
    pub fn new(kind: LoadErrorKind, message: impl Into<String>) -> Self {
        LoadError {
            kind,
            location: None,
            path: None,
            message: message.into(),
        }
    }

    /// An error at a place in a file, with a YAML path.
    pub fn at(
        kind: LoadErrorKind,
        location: Location,
        path: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        let path = path.into();
        LoadError {
            kind,
            location: Some(location),
            path: (!path.is_empty()).then_some(path),
            message: message.into(),
        }
    }

    fn render(&self) -> String {
        let mut out = String::new();
        if let Some(loc) = &self.location {
            out.push_str(&loc.to_string());
            out.push_str(": ");
        }
        if let Some(path) = &self.path {
            out.push_str(path);
            out.push_str(": ");
        }
        out.push_str(&self.message);
        // One line, whatever the parts held.
        out.replace('\n', " ")
    }
}
