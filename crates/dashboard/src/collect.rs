//! One reading of every running container on the host, for `/metrics` and
//! the dashboard's sampler: the same engine call (`Engine::stats`, the cgroup
//! and network-namespace readers) that `wharf stats` makes.

use crate::metrics::Reading;
use crate::DashboardError;
use wharf_engine_api::{ContainerInfo, Engine};

/// Every container (any state), and a reading of each running one. A
/// container that ends between the listing and its reading is left out.
pub fn read_all(engine: &dyn Engine) -> Result<(Vec<ContainerInfo>, Vec<Reading>), DashboardError> {
    let all = engine
        .list_containers(&[])
        .map_err(|e| DashboardError::Engine {
            what: "list containers".into(),
            source: e,
        })?;
    let readings = all
        .iter()
        .filter(|c| c.state.is_running())
        .filter_map(|c| {
            let sample = engine.stats(&c.id).ok()?;
            Some(Reading {
                container: c.clone(),
                sample,
            })
        })
        .collect();
    Ok((all, readings))
}
