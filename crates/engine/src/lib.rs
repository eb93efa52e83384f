//! wharf-engine: the Linux [`Engine`](wharf_engine_api::Engine). It keeps
//! state under the wharf root, serializes changes with file locks, and wires
//! the image store, the runtime and the network together. There is no
//! daemon: each running container has a monitor process (see [`monitor`])
//! and every CLI call reads the state anew.

mod api;
pub mod attach;
mod build;
mod commit;
mod connect;
pub mod copy;
mod details;
mod diff;
mod dns_data;
mod etc_files;
pub mod events;
mod exec;
mod files;
mod images;
mod leftovers;
mod lifecycle;
mod lock;
mod logs;
pub mod monitor;
mod mounts;
mod netmode;
mod network;
mod paths;
mod ports;
mod procfs;
pub mod removal_hold;
mod resources;
mod security;
mod spawn;
mod state;
mod stats;
mod store;
mod teardown;
mod timing;
mod unhealthy;
mod usage;
mod volumes;

use lock::FileLock;
use std::path::PathBuf;
use std::time::Duration;
use store::Layout;
use wharf_engine_api::{EngineError, Result};
use wharf_image::ImageStore;
/// The caller's terminal in raw mode, for the CLI's `run` and `attach`.
pub use wharf_runtime::RawMode;

pub use commit::CommitOptions;
pub use details::{ContainerDetails, EndpointDetails, ResourceUpdate};
pub use diff::ChangeKind;
pub use usage::{CacheUsage, ContainerUsage, DiskUsage, ImageUsage, UsageSummary, VolumeUsage};

pub(crate) const CONFIG_FILE: &str = "config.json";
pub(crate) const STATE_FILE: &str = "state.json";
/// Taken while a container's DNS table is written (see `write_etc_files_locked`).
pub(crate) const DNS_TABLE_LOCK: &str = "dns.lock";
pub(crate) const LOG_FILE: &str = "container.log";
pub(crate) const MONITOR_LOG: &str = "monitor.log";
/// Present while a stop was asked for: the monitor must not restart.
pub(crate) const STOP_MARKER: &str = "stop-requested";
/// Present while a `restart` stops the container: its monitor keeps a `--rm`
/// container for the start that follows. The next start removes it.
pub(crate) const RESTART_MARKER: &str = "restart-requested";
/// How long a stop waits for the container before SIGKILL, unless told.
pub(crate) const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long start, stop and remove wait for a monitor that is still starting
/// a container (or recording its end) before giving up.
pub(crate) const MONITOR_SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Docker's smallest memory limit; below it a container cannot even start.
pub(crate) const MIN_MEMORY: u64 = 6 * 1024 * 1024;
pub(crate) const DEFAULT_PATH: &str =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the engine keeps things and how it starts monitors. The CLI fills it
/// from flags and the environment; nothing below reads the environment.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// State root (`/var/lib/wharf`).
    pub root: PathBuf,
    /// The cgroup filesystem (`/sys/fs/cgroup`).
    pub cgroup_fs_root: PathBuf,
    /// First component of every wharf cgroup path (`wharf`).
    pub cgroup_parent: String,
    /// The program started as a container's monitor, with the arguments
    /// `__monitor --root ROOT --cgroup-parent P ID` appended.
    pub monitor_program: PathBuf,
    /// Print how long each lifecycle phase takes to standard error (see
    /// the `timing` module); the CLI sets it from `WHARF_TIMINGS=1`.
    pub timings: bool,
}

/// The Linux engine.
#[derive(Debug)]
pub struct LinuxEngine {
    pub(crate) config: EngineConfig,
    pub(crate) layout: Layout,
    pub(crate) images: ImageStore,
    /// What a teardown in progress finishes before it ends.
    pub(crate) gathered: std::sync::Mutex<teardown::Gathered>,
}

pub(crate) fn runtime_err(e: wharf_runtime::RuntimeError) -> EngineError {
    EngineError::Runtime(Box::new(e))
}

pub(crate) fn image_err(e: wharf_image::ImageError) -> EngineError {
    EngineError::Image(Box::new(e))
}

impl LinuxEngine {
    pub fn open(config: EngineConfig) -> Result<Self> {
        let layout = Layout {
            root: config.root.clone(),
        };
        layout.create_dirs()?;
        let images = ImageStore::open(&layout.images()).map_err(image_err)?;
        Ok(LinuxEngine {
            config,
            layout,
            images,
            gathered: Default::default(),
        })
    }

    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    /// The state root (what docker calls its root directory).
    pub fn root(&self) -> &std::path::Path {
        &self.layout.root
    }

    /// The cgroup version containers are put under (1 on hybrid hosts), or
    /// none when no cgroup file system is mounted.
    pub fn cgroup_version(&self) -> Option<u8> {
        match wharf_runtime::detect(&self.config.cgroup_fs_root) {
            Ok(wharf_runtime::CgroupMode::V1) => Some(1),
            Ok(wharf_runtime::CgroupMode::V2) => Some(2),
            Err(_) => None,
        }
    }

    /// Connect to the stdin and output of container `id` through its
    /// monitor (see [`attach`]); `None` when the container keeps neither (it
    /// has no `tty` and no `stdin_open`) or is not running.
    pub fn attach_stream(&self, id: &str) -> Result<Option<attach::Attached>> {
        let record = self.find(id)?;
        if !(record.spec.tty || record.spec.stdin_open) {
            return Ok(None);
        }
        if !self.live_state(&record.id)?.state.is_running() {
            return Ok(None);
        }
        attach::connect_for_output(&self.layout.container(&record.id))
            .map(|stream| {
                Some(attach::Attached::new(
                    stream,
                    record.spec.tty,
                    record.spec.stdin_open,
                ))
            })
            .map_err(|e| {
                EngineError::io(
                    format!("connecting to the monitor of {} to attach", record.name),
                    e,
                )
            })
    }

    /// Give the terminal of container `id` (a `tty` container's, through its
    /// monitor) the size `size`; nothing for a container without one or not
    /// running. Unlike [`Self::attach_stream`], takes none of its output.
    pub fn resize_terminal(&self, id: &str, size: wharf_runtime::WindowSize) -> Result<()> {
        let record = self.find(id)?;
        if !record.spec.tty || !self.live_state(&record.id)?.state.is_running() {
            return Ok(());
        }
        attach::connect(&self.layout.container(&record.id))
            .map(|stream| attach::Attached::new(stream, true, record.spec.stdin_open))
            .and_then(|sizer| sizer.send_window_size(size))
            .map_err(|e| {
                EngineError::io(
                    format!(
                        "sending the terminal's size to the monitor of {}",
                        record.name
                    ),
                    e,
                )
            })
    }

    /// The container events of `project` (see [`events`]).
    pub fn events(
        &self,
        project: &str,
        filter: &events::EventFilter,
        sink: &mut dyn FnMut(events::ContainerEvent) -> bool,
    ) -> Result<()> {
        events::read_events(&self.layout, project, filter, sink)
    }

    pub(crate) fn global_lock(&self) -> Result<FileLock> {
        FileLock::acquire(&self.layout.locks().join("engine.lock"))
    }
}
