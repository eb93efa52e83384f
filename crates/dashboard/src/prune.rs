//! The volumes and networks pages' prune buttons, by the rules of `wharf
//! volume prune` and `wharf network prune`: a volume no container mounts
//! (only anonymous ones unless every unused one is asked for, docker's
//! `--all`), a network no container (running or not) is attached to; what
//! the engine refuses to remove (the default network) stays.
//!
//! Those rules still live in the CLI's commands, on their way to the core:
//! once the core has its prune functions, these call them.

use std::collections::BTreeMap;
use wharf_engine_api::{Engine, EngineError};

/// What a prune removed, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub removed: Vec<String>,
    /// Bytes the removed volumes held, as far as they were measured.
    pub reclaimed: u64,
    /// One message per object that should have gone and did not.
    pub failures: Vec<String>,
}

/// Remove the unused volumes (anonymous ones only without `all`); `sizes`
/// by name give the space reclaimed.
pub fn volumes(
    engine: &dyn Engine,
    all: bool,
    sizes: &BTreeMap<String, u64>,
) -> Result<Pruned, String> {
    let listed = engine
        .list_volumes(&[])
        .map_err(|e| format!("cannot list the volumes: {e}"))?;
    let mut pruned = Pruned::default();
    for volume in listed
        .into_iter()
        .filter(|v| v.used_by.is_empty() && (all || v.anonymous))
    {
        match engine.remove_volume(&volume.name, false) {
            Ok(()) => {
                pruned.reclaimed += sizes.get(&volume.name).copied().unwrap_or(0);
                pruned.removed.push(volume.name);
            }
            Err(e) => pruned.failures.push(e.to_string()),
        }
    }
    Ok(pruned)
}

/// Remove the networks no container is attached to.
pub fn networks(engine: &dyn Engine) -> Result<Pruned, String> {
    let listed = engine
        .list_networks(&[])
        .map_err(|e| format!("cannot list the networks: {e}"))?;
    let containers = engine
        .list_containers(&[])
        .map_err(|e| format!("cannot list the containers: {e}"))?;
    let mut pruned = Pruned::default();
    for network in listed {
        if containers
            .iter()
            .any(|c| c.addresses.contains_key(&network.name))
        {
            continue;
        }
        match engine.remove_network(&network.id) {
            Ok(()) => pruned.removed.push(network.name),
            // The engine keeps what may not be removed (the default network).
            Err(EngineError::Invalid(_)) => {}
            Err(e) => pruned
                .failures
                .push(format!("network {}: {e}", network.name)),
        }
    }
    Ok(pruned)
}
