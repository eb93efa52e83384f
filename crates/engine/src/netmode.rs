//! Compose's `network_mode` in the engine: which network namespace a container
//! is cloned into (its own, the host's, or a running container's) and the
//! `/etc` files that go with it.

use crate::store::{self, ContainerRecord, Layout, RuntimeState};
use crate::{CONFIG_FILE, STATE_FILE};
use wharf_engine_api::{ContainerState, EngineError, NetworkMode};

/// The record of the container `name_or_id` (full name or id, or an id prefix of
/// 12 or more characters).
pub fn find(layout: &Layout, name_or_id: &str) -> Result<ContainerRecord, EngineError> {
    let dir = layout.containers();
    let entries = std::fs::read_dir(&dir)
        .map_err(|e| EngineError::io(format!("reading {}", dir.display()), e))?;
    for entry in entries.flatten() {
        let path = entry.path().join(CONFIG_FILE);
        let Ok(record) = store::read_json::<ContainerRecord>(&path) else {
            continue;
        };
        if record.name == name_or_id
            || record.id == name_or_id
            || (name_or_id.len() >= 12 && record.id.starts_with(name_or_id))
        {
            return Ok(record);
        }
    }
    Err(EngineError::NotFound {
        kind: "container",
        name: name_or_id.to_string(),
        hint: "; network_mode service:/container: needs that container created and running".into(),
    })
}

/// The pid of the running init of the container whose network namespace
/// `record` joins, if it joins one.
pub fn joined_pid(layout: &Layout, record: &ContainerRecord) -> Result<Option<u32>, EngineError> {
    let NetworkMode::Container(target) = &record.spec.network_mode else {
        return Ok(None);
    };
    let other = find(layout, target)?;
    let state: RuntimeState = store::read_json(&layout.container(&other.id).join(STATE_FILE))?;
    match state.state {
        ContainerState::Running { pid, .. }
            if state.pid_start_ticks.is_none()
                || crate::monitor::process_start_ticks(pid) == state.pid_start_ticks =>
        {
            Ok(Some(pid))
        }
        _ => Err(EngineError::Invalid(format!(
            "container {} uses the network of {}, which is not running: start it first",
            record.name, other.name
        ))),
    }
}

/// Whether the container gets a network namespace of its own at clone time.
pub fn new_netns(mode: &NetworkMode) -> bool {
    matches!(mode, NetworkMode::Bridge | NetworkMode::None)
}
