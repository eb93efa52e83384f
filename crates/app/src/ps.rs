//! `ps`: which of a project's containers a listing shows (running or all,
//! the services named, the states asked for) and the services they run.
//! Fronts render the containers (docker's table, JSON).

use crate::containers::{filter_services, Scope};
use crate::AppError;
use wharf_engine_api::{labels, ContainerInfo, Engine};

/// What `ps` lists, beyond the scope's services.
#[derive(Debug, Clone, Copy, Default)]
pub struct PsOptions<'a> {
    /// Stopped containers too (one-off containers are never listed).
    pub all: bool,
    /// Only containers in one of these states (`running`, `exited`, …; all when empty).
    pub status: &'a [String],
}

/// The scope's containers `ps` shows, sorted by service then container
/// number; an unknown service name is docker compose's error.
pub fn list(
    engine: &dyn Engine,
    scope: &Scope<'_>,
    options: PsOptions<'_>,
) -> Result<Vec<ContainerInfo>, AppError> {
    let containers = wharf_orchestrator::project_containers(engine, scope.name, options.all)?;
    Ok(filter_services(containers, scope)?
        .into_iter()
        .filter(|c| options.status.is_empty() || options.status.iter().any(|s| s == c.state.name()))
        .collect())
}

/// The services of `containers` (`ps --services`), in their order, once each
/// when adjacent (the listing is sorted by service).
pub fn services(containers: &[ContainerInfo]) -> Vec<String> {
    let mut services: Vec<String> = containers
        .iter()
        .filter_map(|c| c.label(labels::SERVICE))
        .map(str::to_string)
        .collect();
    services.dedup();
    services
}
