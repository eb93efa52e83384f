//! Compose's `network_mode`, `pid` and `ipc` in the engine: which network, pid
//! and IPC namespaces a container is cloned into (its own, the host's, or a
//! running container's) and the `/etc` files that go with them.

use crate::store::{self, ContainerRecord, Layout, RuntimeState};
use crate::{CONFIG_FILE, STATE_FILE};
use wharf_engine_api::{ContainerState, EngineError, IpcMode, NetworkMode, PidMode};
use wharf_runtime::Namespace;

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
        hint: "; network_mode, pid and ipc set to service:/container: need that container created and running".into(),
    })
}

/// The container `target` whose `what` (network, pid or IPC namespace)
/// `record` shares, and the pid of its running first process.
fn running(
    layout: &Layout,
    record: &ContainerRecord,
    target: &str,
    what: &str,
) -> Result<(ContainerRecord, u32), EngineError> {
    let other = find(layout, target)?;
    let state: RuntimeState = store::read_json(&layout.container(&other.id).join(STATE_FILE))?;
    match state.state {
        ContainerState::Running { pid, .. }
            if state.pid_start_ticks.is_none()
                || crate::procfs::process_start_ticks(pid) == state.pid_start_ticks =>
        {
            Ok((other, pid))
        }
        _ => Err(EngineError::Invalid(format!(
            "container {} uses the {what} of {}, which is not running: start it first",
            record.name, other.name
        ))),
    }
}

/// The pid of the running init of the container whose network namespace
/// `record` joins, if it joins one.
pub fn joined_pid(layout: &Layout, record: &ContainerRecord) -> Result<Option<u32>, EngineError> {
    let NetworkMode::Container(target) = &record.spec.network_mode else {
        return Ok(None);
    };
    Ok(Some(running(layout, record, target, "network")?.1))
}

/// The runtime's pid namespace for `record`.
pub fn pid_namespace(layout: &Layout, record: &ContainerRecord) -> Result<Namespace, EngineError> {
    Ok(match &record.spec.pid_mode {
        PidMode::Private => Namespace::New,
        PidMode::Host => Namespace::Host,
        PidMode::Container(target) => {
            Namespace::Join(running(layout, record, target, "pid namespace")?.1)
        }
    })
}

/// The runtime's IPC namespace for `record`; joining one needs a container
/// that lets others in (`ipc: shareable`, or the host's).
pub fn ipc_namespace(layout: &Layout, record: &ContainerRecord) -> Result<Namespace, EngineError> {
    Ok(match &record.spec.ipc_mode {
        IpcMode::Private | IpcMode::Shareable | IpcMode::None => Namespace::New,
        IpcMode::Host => Namespace::Host,
        IpcMode::Container(target) => {
            let (other, pid) = running(layout, record, target, "IPC namespace")?;
            if !matches!(other.spec.ipc_mode, IpcMode::Shareable | IpcMode::Host) {
                return Err(EngineError::Invalid(format!(
                    "container {} cannot join the IPC namespace of {}: it is private; give {} `ipc: shareable`",
                    record.name, other.name, other.name
                )));
            }
            Namespace::Join(pid)
        }
    })
}

/// Whether the container gets a network namespace of its own at clone time.
pub fn new_netns(mode: &NetworkMode) -> bool {
    matches!(mode, NetworkMode::Bridge | NetworkMode::None)
}
