//! What every handler works on: the engine, opened once for the life of the
//! service, and the service's own in-memory tables (exec instances, the
//! containers to remove when they exit). Cloning is cheap: a handler that
//! streams or waits on a thread of its own takes a clone along.

use crate::exec::ExecTable;
use crate::wait::AutoRemove;
use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use wharf_app::registry::RegistrySettings;
use wharf_engine::LinuxEngine;

#[derive(Clone)]
pub struct Backend {
    shared: Arc<Shared>,
}

pub struct Shared {
    pub engine: LinuxEngine,
    /// The engine's state directory (`/info`'s `DockerRootDir`).
    pub root: PathBuf,
    /// Exec instances created through the API; they live as long as the
    /// service process.
    pub execs: ExecTable,
    /// Containers created with `HostConfig.AutoRemove`.
    pub auto_remove: AutoRemove,
    /// Containers a request is starting now: a second start at the same
    /// time answers 304 instead of racing the first.
    pub starting: Mutex<HashSet<String>>,
    /// Registry settings, read from the service's environment at start.
    pub registry: RegistrySettings,
    /// Print each request's wall time (`WHARF_TIMINGS`, see [`crate::timing`]).
    pub timings: bool,
}

impl Backend {
    pub fn new(
        engine: LinuxEngine,
        root: PathBuf,
        registry: RegistrySettings,
        timings: bool,
    ) -> Self {
        Backend {
            shared: Arc::new(Shared {
                engine,
                root,
                execs: ExecTable::default(),
                auto_remove: AutoRemove::default(),
                starting: Mutex::default(),
                registry,
                timings,
            }),
        }
    }
}

impl std::ops::Deref for Backend {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.shared
    }
}
