//! One reading of every running container on the host, for `/metrics` and
//! the dashboard's sampler: the same engine call (`Engine::stats`, the cgroup
//! and network-namespace readers) that `wharf stats` makes.

use crate::metrics::Reading;
use crate::DashboardError;
use wharf_engine_api::{ContainerInfo, Engine};

/// Threads that read the containers' figures at once.
const READERS: usize = 4;

/// Every container (any state), and a reading of each running one. A
/// container that ends between the listing and its reading is left out.
pub fn read_all(engine: &dyn Engine) -> Result<(Vec<ContainerInfo>, Vec<Reading>), DashboardError> {
    let all = engine
        .list_containers(&[])
        .map_err(|e| DashboardError::Engine {
            what: "list containers".into(),
            source: e,
        })?;
    let running: Vec<&ContainerInfo> = all.iter().filter(|c| c.state.is_running()).collect();
    // Each reading is a few dozen small file reads; spread over a few
    // threads, a scrape of 50 containers takes a fraction of the time.
    let chunk = running.len().div_ceil(READERS).max(1);
    let readings = std::thread::scope(|scope| {
        let workers: Vec<_> = running
            .chunks(chunk)
            .map(|part| {
                scope.spawn(move || {
                    part.iter()
                        .filter_map(|c| {
                            let sample = engine.stats(&c.id).ok()?;
                            Some(Reading {
                                container: (*c).clone(),
                                sample,
                            })
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_default())
            .collect()
    });
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
