//! The contract between wharf's orchestrator and a container engine.
//!
//! The orchestrator turns a Compose project into [`ContainerSpec`]s and
//! [`NetworkSpec`]s and drives an [`Engine`]; the engine reports what exists as
//! [`ContainerInfo`] and [`NetworkInfo`], found again by the Compose labels in
//! [`labels`]. Nothing here knows about YAML or about Linux.

pub mod labels;

mod engine;
mod error;
mod observed;
mod spec;

pub use engine::{
    remove_with_anonymous_volumes, CopyToOptions, Engine, LockGuard, LogLine, LogOptions,
    LogStream, PathStat, TeardownGuard, VolumeEngine,
};
pub use error::{BoxError, EngineError};
pub use observed::{
    ContainerInfo, ContainerState, Health, ImageInfo, NetworkInfo, ProcessInfo, PublishedPort,
    StatsSample, VolumeInfo, VolumeUser,
};
pub use spec::{parse_mac_address, parse_mtu};
pub use spec::{
    ContainerSpec, DeviceMapping, ExecSpec, Healthcheck, IpcMode, Ipv6Pool, Mount, MountKind,
    NetworkAttachment, NetworkMode, NetworkSpec, PidMode, PortBinding, Protocol, Resources,
    RestartPolicy, SecuritySpec, Ulimit, UnhealthyRestart, UtsMode, VolumeSpec,
};
pub use spec::{FileKind, FileMount, Hook, Link, LogConfig, LogDriver, VolumesFrom};
pub use spec::{ThrottleDevice, WeightDevice};

/// Result type of every engine call.
pub type Result<T, E = EngineError> = std::result::Result<T, E>;
