//! wharf-runtime: the privileged process side of wharf's embedded container engine.
//!
//! It clones container processes into fresh namespaces, builds their root filesystem
//! (overlayfs, /proc, /dev, /sys, bind and tmpfs mounts, pivot_root, masked paths),
//! places them in cgroups (v1 and v2, see [`cgroups`]), drops capabilities and switches
//! user, runs commands inside running containers ([`exec`]) and reads the raw numbers
//! that `wharf stats` shows.
//!
//! Code that runs in a freshly cloned child sticks to raw system calls on data prepared
//! by the parent (no allocation, no locks), see `child`.
#![allow(unsafe_code)]

pub mod activation;
mod caps;
pub mod cgroups;
mod child;
pub mod copy;
mod error;
mod exec;
mod init;
pub mod memory;
mod mount_options;
mod mount_spec;
mod netdev;
mod options;
mod pty;
mod rootfs;
mod seccomp;
mod signal;
mod spawn;
mod sys;
pub mod user;

pub use caps::{resolve_capabilities, DEFAULT_CAPABILITIES};
pub use cgroups::{
    detect, CgroupConfig, CgroupHandle, CgroupMode, CgroupStats, CpuQuota, HostFacts, LimitError,
    Limits,
};
pub use error::{CopyRefusal, RuntimeError};
pub use exec::{exec, exec_with, exec_with_stdio, ExecOptions, ExecStdio};
pub use mount_spec::{MountKind, MountSpec};
pub use netdev::{
    net_counters, net_io, parse_net_counters, parse_net_dev, NetCounters, NetDevError,
};
pub use options::{
    check_sysctl, check_sysctl_in, Device, Namespace, ProcessOptions, Security, Ulimit,
};
pub use pty::{copy_window_size, relay_terminal, Pty, RawMode, WindowSize};
#[doc(hidden)]
pub use seccomp::check_docker_profile;
pub use seccomp::{ProfileError, SeccompProfile};
pub use signal::{parse_signal, send_signal, wait_for_exit};
pub use spawn::{spawn, Rootfs, SpawnConfig, Spawned};
