//! What the dashboard shows beyond the `Engine` trait — a project's event
//! log, the host's disk usage and each volume's size, pruning dangling
//! images — behind a small trait the CLI implements over the Linux engine.

use std::collections::BTreeMap;

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
    /// The size of every volume, by name (`system df -v`); without it the
    /// volumes page shows none.
    fn volume_sizes(&self) -> Result<BTreeMap<String, u64>, String> {
        Ok(BTreeMap::new())
    }
}
