//! Names derived from the project: the image a service runs, its
//! containers' names, and the containers a `service:NAME` or
//! `container:NAME` mode joins.

use wharf_compose::{Project, Service};
use wharf_engine_api::NetworkMode;

/// The image reference a service runs: `image`, or `<project>-<service>`
/// for a service that is only built (docker compose's default name).
pub fn service_image(project: &Project, service: &Service) -> String {
    service
        .image
        .clone()
        .unwrap_or_else(|| format!("{}-{}", project.name, service.name))
}

/// The name of replica `number` of a service.
pub fn container_name(project: &Project, service: &Service, number: u32) -> String {
    service
        .container_name
        .clone()
        .unwrap_or_else(|| format!("{}-{}-{}", project.name, service.name, number))
}

/// The engine's network mode of a service: `service:x` becomes the first
/// replica of x (compose orders x first through the implied `depends_on`).
pub fn network_mode(project: &Project, service: &Service) -> NetworkMode {
    match service.network_mode.as_deref() {
        Some("host") => NetworkMode::Host,
        Some("none") => NetworkMode::None,
        Some(mode) => {
            if let Some(name) = mode.strip_prefix("service:") {
                match project.services.get(name) {
                    Some(other) => NetworkMode::Container(container_name(project, other, 1)),
                    None => NetworkMode::Container(format!("{}-{name}-1", project.name)),
                }
            } else if let Some(name) = mode.strip_prefix("container:") {
                NetworkMode::Container(name.to_string())
            } else {
                NetworkMode::Bridge
            }
        }
        None => NetworkMode::Bridge,
    }
}

/// The container a `service:NAME` or `container:NAME` namespace mode joins:
/// the first replica of a service, or a container by name or id; `None` for
/// any other value.
pub(crate) fn joined_container(project: &Project, mode: &str) -> Option<String> {
    if let Some(name) = mode.strip_prefix("service:") {
        Some(match project.services.get(name) {
            Some(other) => container_name(project, other, 1),
            None => format!("{}-{name}-1", project.name),
        })
    } else {
        mode.strip_prefix("container:").map(str::to_string)
    }
}
