//! What the engine asks to mount into a container: bind mounts and tmpfs mounts
//! with their options. Shared by `spawn` (which checks and prepares them) and
//! `rootfs` (which mounts them in the child), so neither depends on the other.

use std::path::PathBuf;

/// Whether a mount is a bind of a host path or a fresh tmpfs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MountKind {
    Bind,
    Tmpfs,
}

/// One mount of a container, applied after /proc, /dev and /sys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountSpec {
    pub kind: MountKind,
    /// Host path for binds (ignored for tmpfs).
    pub source: PathBuf,
    /// Absolute path inside the container.
    pub target: String,
    pub read_only: bool,
    /// Options as `mount(8)` writes them. A tmpfs is mounted `nosuid`,
    /// `nodev` and `noexec` (docker's defaults) unless they say `suid`,
    /// `dev` or `exec`, and takes other flags and its data (`size=65536`,
    /// `mode=1770`, `uid=1000`). A bind takes a propagation only: `private`
    /// and `rprivate` (the default), `slave` and `rslave` (then the host
    /// source's mount must be shared or a slave for events to arrive).
    pub options: Vec<String>,
}
