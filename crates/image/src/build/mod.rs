//! Building images from Dockerfiles.
//!
//! - [`parse`]: the Dockerfile parser (directives, continuations, heredocs, flags,
//!   stages); [`words`]: quoting and variable substitution; [`ignore`]:
//!   `.dockerignore` and globs.
//! - [`Builder`]: resolves the stages the target needs (independent ones build in
//!   parallel), runs each step or takes it from the cache, stores each step's layer
//!   (the tar of its diff directory) and writes the image config (with history) and
//!   manifest, then tags the image.
//! - `RUN` steps go through [`RunExecutor`], which the engine implements by running a
//!   short-lived container over the layers with the step's diff as its upper
//!   directory.
//!
//! - [`mounts`]: `RUN --mount` (cache, bind, tmpfs, secret); [`remote`]: `ADD` of
//!   URLs; `inputs`: the digest of a service's build inputs that `up` compares.
//!
//! Cache key of a step: sha256 of the previous step's key (the base image id at
//! `FROM`), the instruction as written (flags, heredocs), the build arguments in
//! effect, and for `COPY`/`ADD` a hash of the sources' content and metadata (or the
//! source stage's key for `--from=stage`; for a URL its `--checksum`, else the
//! downloaded content's digest), for `RUN --mount=type=bind` the same for the
//! mounted source. Secrets never enter a key.

mod builder;
mod error;
mod fs;
pub mod ignore;
mod inputs;
mod layer;
pub mod mounts;
pub mod parse;
pub mod remote;
pub mod words;

pub use builder::{build_key, Builder, Puller};
pub use error::{BuildError, InstructionError};
pub use inputs::{inputs_digest, INPUTS_LABEL};
pub use layer::{cache_entries, BuiltLayer, CacheRecord};

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What to build.
#[derive(Debug, Clone, Default)]
pub struct BuildRequest {
    /// The build context directory.
    pub context: PathBuf,
    /// The Dockerfile, relative to the context unless absolute (default `Dockerfile`).
    pub dockerfile: Option<PathBuf>,
    /// The Dockerfile's text, instead of a file (`dockerfile_inline`).
    pub dockerfile_inline: Option<String>,
    /// Names to tag the result with (`web:latest`); none leaves it untagged.
    pub tags: Vec<String>,
    /// The stage to build (default: the last).
    pub target: Option<String>,
    /// `--build-arg` values.
    pub build_args: BTreeMap<String, String>,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
    /// Run every step, ignoring the cache.
    pub no_cache: bool,
    /// Pull base images even when present.
    pub pull: bool,
    /// Network of RUN steps without `--network`: `default`, `none` or `host`.
    pub network: Option<String>,
    /// Size of /dev/shm in RUN steps.
    pub shm_size: Option<u64>,
    /// Images in the local store whose layers may serve as cache: a `RUN` or
    /// `WORKDIR` step that misses the build cache takes the layer such an image has
    /// at the same position of its history, when the history before it (and its
    /// layers) is the stage's so far and the entry was made by the same instruction.
    pub cache_from: Vec<String>,
    /// Name shown in progress lines (`[web 2/5]`), e.g. the Compose service.
    pub name: Option<String>,
    /// Secrets `RUN --mount=type=secret,id=ID` can mount, by id.
    pub secrets: BTreeMap<String, SecretValue>,
}

/// The value of a build secret; its `Debug` form never shows it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretValue(pub Vec<u8>);

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretValue({} bytes)", self.0.len())
    }
}

/// What a build made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildOutcome {
    /// Image id (`sha256:` of the config).
    pub id: String,
    /// The tags given to it, normalized.
    pub tags: Vec<String>,
    /// Steps taken from the cache.
    pub cached: usize,
    /// Steps that produce file system changes (FROM, RUN, COPY, ADD, WORKDIR).
    pub steps: usize,
}

/// Progress of a build, in docker's plain-output terms.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildEvent {
    /// Step `n` starts: `#n [web 2/5] RUN make`.
    Step {
        /// Step number (build-wide).
        n: usize,
        /// `[web 2/5] RUN make`.
        label: String,
    },
    /// A line of the step's output.
    Output {
        /// Step number.
        n: usize,
        /// Time since the step started.
        elapsed: Duration,
        /// The line, without its newline.
        line: String,
    },
    /// The step was taken from the cache.
    Cached {
        /// Step number.
        n: usize,
    },
    /// The step finished.
    Done {
        /// Step number.
        n: usize,
        /// How long it took.
        elapsed: Duration,
    },
    /// The step failed.
    Failed {
        /// Step number.
        n: usize,
        /// What went wrong.
        message: String,
    },
    /// Something the user should know (unused build arguments, ignored settings).
    Warning(String),
}

/// How a RUN step reaches the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunNetwork {
    /// `--network=default`: wharf runs it like `none` (a private namespace with only
    /// loopback); give `--network=host` for downloads.
    Default,
    /// `--network=none`: a private namespace with only loopback.
    None,
    /// `--network=host`: the host's network namespace.
    Host,
}

impl RunNetwork {
    /// Parse `default`, `none` or `host`.
    pub fn parse(s: &str) -> Option<RunNetwork> {
        match s {
            "default" | "" => Some(RunNetwork::Default),
            "none" => Some(RunNetwork::None),
            "host" => Some(RunNetwork::Host),
            _ => None,
        }
    }
}

/// What a [`StepMount`] mounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepMountKind {
    /// A host directory or file, bound at the target.
    Bind,
    /// A new tmpfs.
    Tmpfs,
}

/// A mount of a RUN step (`RUN --mount`), prepared on the host by the builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepMount {
    /// Bind or tmpfs.
    pub kind: StepMountKind,
    /// Host path for a bind (unused for a tmpfs).
    pub source: PathBuf,
    /// Absolute path inside the step.
    pub target: String,
    /// Mounted read-only.
    pub read_only: bool,
    /// `mount(8)` options of a tmpfs (`exec`, `size=67108864`).
    pub options: Vec<String>,
}

/// One RUN step for a [`RunExecutor`].
pub struct RunStep<'a> {
    /// Layer snapshots of the stage so far, bottom first (never empty).
    pub layers: &'a [PathBuf],
    /// The empty directory that receives the step's changes (the overlay upper).
    pub upper_dir: &'a Path,
    /// An empty overlay work directory on the same file system.
    pub work_dir: &'a Path,
    /// An empty directory to mount the root on.
    pub merged_dir: &'a Path,
    /// argv (the shell form already wrapped in the stage's SHELL).
    pub args: &'a [String],
    /// `KEY=value` environment (image ENV and build args).
    pub env: &'a [String],
    /// USER in effect.
    pub user: Option<&'a str>,
    /// WORKDIR in effect (absolute).
    pub cwd: &'a str,
    /// Network mode.
    pub network: RunNetwork,
    /// /dev/shm size in bytes.
    pub shm_size: Option<u64>,
    /// The step's `--mount`s, in order.
    pub mounts: &'a [StepMount],
    /// Receives each line of output (stdout and stderr).
    pub output: &'a (dyn Fn(&str) + Sync),
}

impl std::fmt::Debug for RunStep<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunStep")
            .field("layers", &self.layers)
            .field("upper_dir", &self.upper_dir)
            .field("args", &self.args)
            .field("cwd", &self.cwd)
            .field("network", &self.network)
            .field("mounts", &self.mounts)
            .finish()
    }
}

/// How a RUN step ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOutcome {
    /// Exit code of the command (128 + signal when killed).
    pub exit_code: i32,
}

/// The engine could not run a step at all: what it was doing, and why.
#[derive(Debug, thiserror::Error)]
#[error("{what}: {source}")]
pub struct RunError {
    pub what: String,
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync>,
}

impl RunError {
    pub fn new(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        RunError {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// Runs RUN steps; the engine implements it with short-lived containers.
pub trait RunExecutor: Sync {
    /// Run the step to completion, filling `step.upper_dir`.
    fn run(&self, step: &RunStep<'_>) -> Result<RunOutcome, RunError>;
}

#[cfg(test)]
mod tests;
