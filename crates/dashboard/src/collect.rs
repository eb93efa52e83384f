//! One reading of every running container on the host, for `/metrics` and
//! the dashboard's sampler: the engine's listing with readings
//! (`Engine::list_with_stats`, the same cgroup and network-namespace readers
//! as `wharf stats`), which reads each container's records once.

use crate::metrics::Reading;
use crate::DashboardError;
use wharf_engine_api::{ContainerInfo, Engine};

/// Every container (any state), and a reading of each running one, taken
/// now. A container that ends between the listing and its reading is left
/// out of the readings.
pub fn read_all(engine: &dyn Engine) -> Result<(Vec<ContainerInfo>, Vec<Reading>), DashboardError> {
    let listed = engine
        .list_with_stats(&[])
        .map_err(|e| DashboardError::Engine {
            what: "read the containers' figures".into(),
            source: e,
        })?;
    let mut all = Vec::with_capacity(listed.len());
    let mut readings = Vec::new();
    for (container, sample) in listed {
        if let Some(sample) = sample {
            readings.push(Reading {
                container: container.clone(),
                sample,
            });
        }
        all.push(container);
    }
    Ok((all, readings))
}

/// Every container (any state), without readings (the overview's figures
/// come from the history).
pub fn list_all(engine: &dyn Engine) -> Result<Vec<ContainerInfo>, DashboardError> {
    engine
        .list_containers(&[])
        .map_err(|e| DashboardError::Engine {
            what: "list containers".into(),
            source: e,
        })
}
