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
    /// A string the kernel takes as a C string (a path, a name, mount
    /// options) holds a NUL byte.
    #[error("{what} {value:?} contains a NUL byte: remove it")]
    NulByte { what: &'static str, value: String },
    /// A container process needs a command.
    #[error("the command (args) is empty: give the container a command or an image with an entrypoint or cmd")]
    EmptyCommand,
    /// A supplementary group that is neither a name in the container's
    /// /etc/group nor a number.
    #[error(
        "group_add entry {group:?} is not a group name or number: write one, like audio or 29"
    )]
    UnknownGroup { group: String },
    /// A pid kill(2) would read as a process group or every process (0, or
    /// above i32::MAX).
    #[error("cannot signal pid {pid}: give the pid of one process")]
    InvalidPid { pid: u32 },
    /// The root file system's overlay cannot be assembled.
    #[error("the root file system has no lower layer: the image has no layers")]
    NoLowerLayer,
    /// An overlay directory overlayfs cannot take in its options.
    #[error("overlay directory {} must be absolute and contain no ',' or ':'", path.display())]
    InvalidOverlayDir { path: PathBuf },
    /// A mount that cannot be made as asked.
    #[error("mount on {target}: {reason}")]
    InvalidMount { target: String, reason: String },
    /// A mount option wharf does not know.
    #[error("unknown mount option {option:?}")]
    UnknownMountOption { option: String },
    /// Namespace settings that contradict each other; `setting` names the
    /// one refused and `reason` says why.
    #[error("{reason}")]
    NamespaceConflict {
        setting: &'static str,
        reason: &'static str,
    },
    /// The host architecture has no seccomp filter.
    #[error("seccomp filters are built for x86_64 and aarch64 only, not {arch}: use security_opt seccomp=unconfined on this architecture")]
    SeccompArchitecture { arch: String },
    /// A seccomp rule with more argument conditions than a filter holds.
    #[error("seccomp rule for syscall {syscall} has too many conditions: split the rule")]
    SeccompRuleTooLarge { syscall: u32 },
    /// A seccomp profile whose filter is longer than the kernel accepts.
    #[error("the seccomp profile compiles to {instructions} BPF instructions, more than the kernel's limit of {limit}: allow or deny fewer syscalls one by one")]
    SeccompTooLarge { instructions: usize, limit: u32 },
    /// Capability names capabilities(7) does not know.
    #[error("unknown capabilit{} {}: use names such as NET_ADMIN or CAP_SYS_TIME (see capabilities(7)), or ALL", if names.len() == 1 { "y" } else { "ies" }, names.join(", "))]
    UnknownCapability { names: Vec<String> },
    /// A cgroup path that would leave the hierarchy it belongs in.
    #[error("cgroup path {path:?} {reason}")]
    InvalidCgroupPath { path: String, reason: &'static str },
    /// A ulimit the kernel does not have.
    #[error("unknown ulimit {name:?}: expected one of {known}")]
    UnknownUlimit { name: String, known: String },
    /// A ulimit whose values cannot be applied.
    #[error("ulimit {name}: {reason}")]
    InvalidUlimit { name: String, reason: String },
    /// A sysctl a container may not set; `reason` says why.
    #[error("sysctl {key} {reason}")]
    SysctlNotAllowed { key: String, reason: &'static str },
    /// A device that cannot be given to the container.
    #[error("device {device}: {reason}")]
    InvalidDevice { device: String, reason: String },
    /// A /dev/shm size of zero.
    #[error("shm_size must be above 0 bytes")]
    InvalidShmSize,
    /// A copy into or out of a container that would escape its target or
    /// replace what it must not.
    #[error(transparent)]
    CopyRefused(#[from] CopyRefusal),
}

/// Why a copy (`cp`, an archive extraction) was refused.
#[derive(Debug, thiserror::Error)]
pub enum CopyRefusal {
    #[error("refusing to remove the root directory")]
    RemoveRoot,
    #[error("{path} is not a directory (a symlink or a file is in the way): remove it first")]
    NotADirectory { path: String },
    #[error("archive entry {entry:?} would be outside {root}")]
    EntryOutside { entry: String, root: String },
    #[error("archive hard link {entry:?} points outside {root}")]
    HardLinkOutside { entry: String, root: String },
    #[error("cannot overwrite directory {directory} with non-directory {entry}")]
    OverwriteDirectory { directory: String, entry: String },
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
