//! Observe: what exists now, found through the Compose labels.

use crate::error::OrchestratorError;
use wharf_engine_api::{labels, ContainerInfo, Engine, NetworkInfo, VolumeInfo};

/// What exists for a project.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Observed {
    /// Containers labelled with the project (one-off ones included).
    pub containers: Vec<ContainerInfo>,
    /// Every network on the host: the project's own are recognised by their
    /// labels, external ones by their name.
    pub networks: Vec<NetworkInfo>,
    /// Every volume on the host, with the containers that use it: the
    /// project's own are recognised by their labels, external ones by name,
    /// anonymous ones by their users.
    pub volumes: Vec<VolumeInfo>,
}

impl Observed {
    /// The project's own networks (labelled with it).
    pub fn project_networks<'a>(
        &'a self,
        project_name: &'a str,
    ) -> impl Iterator<Item = &'a NetworkInfo> + 'a {
        self.networks.iter().filter(move |n| {
            n.labels.get(labels::PROJECT).map(String::as_str) == Some(project_name)
        })
    }

    pub fn network_by_name(&self, name: &str) -> Option<&NetworkInfo> {
        self.networks.iter().find(|n| n.name == name)
    }

    pub fn volume_by_name(&self, name: &str) -> Option<&VolumeInfo> {
        self.volumes.iter().find(|v| v.name == name)
    }

    /// The anonymous volumes a container mounts: (target, volume name).
    pub fn anonymous_volumes_of<'a>(
        &'a self,
        container_id: &'a str,
    ) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.volumes
            .iter()
            .filter(|v| v.anonymous)
            .flat_map(move |v| {
                v.used_by
                    .iter()
                    .filter(move |u| u.container_id == container_id)
                    .map(move |u| (u.target.as_str(), v.name.as_str()))
            })
    }
}

/// Whether a container was made by `run` rather than `up`.
pub fn is_oneoff(container: &ContainerInfo) -> bool {
    container
        .label(labels::ONEOFF)
        .is_some_and(|v| v.eq_ignore_ascii_case("true"))
}

/// The replica number from the container-number label.
pub fn container_number(container: &ContainerInfo) -> Option<u32> {
    container.label(labels::CONTAINER_NUMBER)?.parse().ok()
}

/// List the project's containers (by the project label) and the host's networks.
pub fn observe(engine: &dyn Engine, project_name: &str) -> Result<Observed, OrchestratorError> {
    let containers = engine
        .list_containers(&[(labels::PROJECT, project_name)])
        .map_err(|e| OrchestratorError::engine(format!("project {project_name}"), e))?;
    let networks = engine
        .list_networks(&[])
        .map_err(|e| OrchestratorError::engine(format!("project {project_name}"), e))?;
    let volumes = engine
        .list_volumes(&[])
        .map_err(|e| OrchestratorError::engine(format!("project {project_name}"), e))?;
    Ok(Observed {
        containers,
        networks,
        volumes,
    })
}

/// The project's containers for `ps`: sorted by service then container
/// number; `all` includes stopped ones; one-off containers are left out.
pub fn project_containers(
    engine: &dyn Engine,
    project_name: &str,
    all: bool,
) -> Result<Vec<ContainerInfo>, OrchestratorError> {
    let mut containers: Vec<ContainerInfo> = engine
        .list_containers(&[(labels::PROJECT, project_name)])
        .map_err(|e| OrchestratorError::engine(format!("project {project_name}"), e))?
        .into_iter()
        .filter(|c| !is_oneoff(c) && (all || c.state.is_running()))
        .collect();
    containers.sort_by(|a, b| {
        let service = |c: &ContainerInfo| c.label(labels::SERVICE).unwrap_or_default().to_string();
        service(a)
            .cmp(&service(b))
            .then(container_number(a).cmp(&container_number(b)))
            .then(a.name.cmp(&b.name))
    });
    Ok(containers)
}
