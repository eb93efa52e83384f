//! What every handler works on: the engine, opened once for the life of the
//! service, and the service's own in-memory tables (exec instances).

use crate::exec::ExecTable;
use std::path::PathBuf;
use std::time::SystemTime;
use wharf_engine::LinuxEngine;

pub struct Backend {
    pub engine: LinuxEngine,
    /// The engine's state directory (`/info`'s `DockerRootDir`).
    pub root: PathBuf,
    /// Exec instances created through the API; they live as long as the
    /// service process.
    pub execs: ExecTable,
    /// When the service started (`/info`'s `SystemTime` is the current time;
    /// this is for the logs of the service itself).
    pub started: SystemTime,
}

impl Backend {
    pub fn new(engine: LinuxEngine, root: PathBuf) -> Self {
        Backend {
            engine,
            root,
            execs: ExecTable::default(),
            started: SystemTime::now(),
        }
    }
}
