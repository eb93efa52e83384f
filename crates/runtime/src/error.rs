//! The one error type of the crate: every variant names what failed and on what.

use std::io;
use std::path::PathBuf;

/// Everything that can go wrong in the runtime.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// A file system operation on a host path failed.
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    /// A system call (not tied to one path) failed.
    #[error("{op}: {source}")]
    Sys {
        op: String,
        #[source]
        source: nix::Error,
    },
    /// The kernel refused a resource limit.
    #[error("{what} {value} refused by the kernel ({file}: {source}): {hint}")]
    Limit {
        what: &'static str,
        value: String,
        file: PathBuf,
        #[source]
        source: io::Error,
        hint: &'static str,
    },
    /// A limit or operation needs a cgroup controller that the host does not offer.
    #[error("{what} requested, but the {controller} cgroup controller is not available at {path}")]
    ControllerMissing {
        what: &'static str,
        controller: &'static str,
        path: PathBuf,
    },
    /// A v2 limit needs a controller that a cgroup on the way down to the
    /// container's does not pass on (`path`); `reason` says why and what to do.
    #[error("{what} requested, but the {controller} cgroup controller does not reach the container's cgroup: {reason}")]
    ControllerNotDelegated {
        what: &'static str,
        controller: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The host lacks a kernel feature a requested setting needs.
    #[error("{what} requested, but {path} does not exist: {hint}")]
    Unsupported {
        what: &'static str,
        path: PathBuf,
        hint: &'static str,
    },
    /// The device filter of a v2 cgroup could not be installed.
    #[error("cannot {step} of cgroup {cgroup}: {source}; {hint}")]
    DeviceFilter {
        step: &'static str,
        cgroup: PathBuf,
        #[source]
        source: io::Error,
        hint: String,
    },
    /// No cgroup file system at the given root.
    #[error("no cgroup hierarchy found at {path}: expected cgroup.controllers (v2) or per-controller directories such as memory/ (v1)")]
    NoCgroupFs { path: PathBuf },
    /// A cgroup could not be emptied or removed in time.
    #[error("cgroup {path} could not be removed: {detail}")]
    CgroupBusy { path: PathBuf, detail: String },
    /// A cgroup file did not hold what the kernel writes there.
    #[error("cannot parse {file}: {detail}")]
    Parse { file: PathBuf, detail: String },
    /// A step inside the container process failed before its command started.
    #[error("container process setup failed: {step}{}", errno_suffix(*.errno))]
    Child {
        step: String,
        errno: i32,
        /// Docker's exit code when the step was executing the command itself:
        /// 127 when it was not found, 126 when it is not executable.
        command_exit_code: Option<i32>,
    },
    /// The engine's `before_start` hook refused to go on.
    #[error("before_start hook failed for container pid {pid}: {source}")]
    BeforeStart {
        pid: u32,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A signal name or number that does not exist.
    #[error(
        "invalid signal {0:?}: expected a name like SIGTERM or TERM, or a number from 1 to 64"
    )]
    InvalidSignal(String),
    /// A resource limit that can never be applied; names the spec field.
    #[error("invalid resource limit {0}")]
    InvalidLimit(#[from] crate::cgroups::LimitError),
    /// A seccomp profile file that is not a Docker profile wharf can compile.
    #[error("seccomp profile {} is not a valid Docker seccomp profile: {source}; fix the file or use seccomp=unconfined", path.display())]
    SeccompProfile {
        path: PathBuf,
        #[source]
        source: crate::seccomp::ProfileError,
    },
    /// The caller's configuration cannot be used.
    #[error("invalid configuration: {0}")]
    InvalidConfig(String),
}

impl RuntimeError {
    /// For a container whose command could not be executed: 127 when it was
    /// not found, 126 when it is not executable (docker's exit codes).
    pub fn command_exit_code(&self) -> Option<i32> {
        match self {
            RuntimeError::Child {
                command_exit_code, ..
            } => *command_exit_code,
            _ => None,
        }
    }
}

fn errno_suffix(errno: i32) -> String {
    if errno == 0 {
        String::new()
    } else {
        format!(": {}", nix::errno::Errno::from_raw(errno).desc())
    }
}

impl RuntimeError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        RuntimeError::Io {
            op,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn sys(op: impl Into<String>, source: nix::Error) -> Self {
        RuntimeError::Sys {
            op: op.into(),
            source,
        }
    }
}
