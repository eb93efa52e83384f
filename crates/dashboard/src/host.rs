//! What the dashboard shows beyond the `Engine` trait — a project's event
//! log, the host's disk usage, pruning dangling images — behind a small
//! trait the CLI implements over the Linux engine.

/// One recorded container event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventLine {
    /// Unix nanoseconds.
    pub time_ns: i64,
    pub action: String,
    pub service: String,
    /// The container's name.
    pub name: String,
}

/// One row of `system df`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub kind: String,
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

pub trait HostViews: Send + Sync {
    /// The project's newest `limit` events, oldest first.
    fn events(&self, project: &str, limit: usize) -> Result<Vec<EventLine>, String>;
    /// Disk usage by type, as `system df` shows it.
    fn disk_usage(&self) -> Result<Vec<UsageRow>, String>;
    /// Remove dangling images no container uses.
    fn prune_images(&self) -> Result<(), String>;
}
