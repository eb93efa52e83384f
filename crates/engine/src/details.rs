//! What `container inspect` shows beyond [`wharf_engine_api::ContainerInfo`]
//! (the spec a container was created with and what create resolved from its
//! image), and `container update`: new limits written to the record and, for
//! a running container, to its cgroup at once.

use crate::store::{self, ContainerRecord};
use crate::{LinuxEngine, CONFIG_FILE, STOP_MARKER};
use std::net::{Ipv4Addr, Ipv6Addr};
use wharf_engine_api::{ContainerSpec, EngineError, Resources, RestartPolicy, Result};

/// A container's configuration as create resolved it.
#[derive(Debug, Clone)]
pub struct ContainerDetails {
    pub id: String,
    pub name: String,
    /// The spec, with the image's health check and stop signal filled in.
    pub spec: ContainerSpec,
    /// Entrypoint and command as they run.
    pub args: Vec<String>,
    /// The whole environment, `KEY=VALUE`.
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: Option<String>,
    pub hostname: String,
    pub endpoints: Vec<EndpointDetails>,
    /// Times the restart policy started it again.
    pub restart_count: u32,
    /// Why the last start failed, if it did.
    pub error: Option<String>,
    /// Whether its last end was asked for (`stop`), which docker's
    /// `unless-stopped` policy remembers across a reboot.
    pub stopped_by_user: bool,
    /// The directory holding its state (`LogPath` sits in it).
    pub state_dir: std::path::PathBuf,
}

/// The container's interface on one network.
#[derive(Debug, Clone)]
pub struct EndpointDetails {
    pub network: String,
    pub network_id: String,
    pub address: Ipv4Addr,
    pub prefix: u8,
    pub gateway: Ipv4Addr,
    pub mac: Option<String>,
    pub aliases: Vec<String>,
    pub ipv6: Option<(Ipv6Addr, u8, Ipv6Addr)>,
}

/// New limits for a container (`docker update`): each field set replaces the
/// container's; unset ones stay.
#[derive(Debug, Clone, Default)]
pub struct ResourceUpdate {
    pub resources: Resources,
    pub restart: Option<RestartPolicy>,
}

impl LinuxEngine {
    /// The configuration of a container, by name, id or unique id prefix.
    pub fn container_details(&self, id_or_name: &str) -> Result<ContainerDetails> {
        let record = self.find(id_or_name)?;
        let state = self.live_state(&record.id)?;
        let state_dir = self.layout.container(&record.id);
        let mut details = details(&record, state.restart_count, state.error, state_dir);
        details.stopped_by_user = details.state_dir.join(STOP_MARKER).exists();
        Ok(details)
    }

    /// Change a container's limits and restart policy. A running container
    /// gets the limits in its cgroup before the record changes, so a value
    /// the kernel refuses (a memory limit below what it uses) leaves both as
    /// they were.
    pub fn update_container(&self, id_or_name: &str, update: &ResourceUpdate) -> Result<()> {
        let _lock = self.global_lock()?;
        let mut record = self.find(id_or_name)?;
        merge(&mut record.spec.resources, &update.resources);
        if let Some(restart) = &update.restart {
            record.spec.restart = restart.clone();
        }
        crate::resources::validate(&record.spec, &self.config.cgroup_fs_root)?;
        let state = self.live_state(&record.id)?;
        if let (true, Some(cgroup)) = (state.state.is_running(), &state.cgroup) {
            cgroup
                .apply(&crate::resources::limits(&record.spec)?)
                .map_err(|e| {
                    EngineError::step(format!("updating container {}", record.name), e, "")
                })?;
        }
        store::write_json(
            &self.layout.container(&record.id).join(CONFIG_FILE),
            &record,
        )
    }
}

fn merge(into: &mut Resources, from: &Resources) {
    macro_rules! take {
        ($($field:ident),*) => {$(
            if from.$field.is_some() {
                into.$field = from.$field.clone();
            }
        )*};
    }
    take!(
        memory_bytes,
        nano_cpus,
        pids_limit,
        memory_swap,
        memory_reservation,
        cpu_shares,
        cpu_quota,
        cpu_period,
        cpuset_cpus,
        blkio_weight
    );
    // A memory limit raised above the recorded swap limit would be refused
    // (swap below memory): docker moves the swap limit along when only
    // memory is given, doubling it.
    if let (Some(memory), None, Some(swap)) =
        (from.memory_bytes, from.memory_swap, into.memory_swap)
    {
        if swap >= 0 && (swap as u64) < memory {
            into.memory_swap = Some((memory * 2) as i64);
        }
    }
}

fn details(
    record: &ContainerRecord,
    restart_count: u32,
    error: Option<String>,
    state_dir: std::path::PathBuf,
) -> ContainerDetails {
    ContainerDetails {
        id: record.id.clone(),
        name: record.name.clone(),
        spec: record.spec.clone(),
        args: record.args.clone(),
        env: record.env.clone(),
        working_dir: record.cwd.clone(),
        user: record.user.clone(),
        hostname: record.hostname.clone(),
        endpoints: record
            .endpoints
            .iter()
            .map(|e| EndpointDetails {
                network: e.network.clone(),
                network_id: e.network_id.clone(),
                address: e.address,
                prefix: e.prefix,
                gateway: e.gateway,
                mac: e.mac.map(|m| {
                    m.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":")
                }),
                aliases: e.aliases.clone(),
                ipv6: e.ipv6.map(|v6| (v6.address, v6.prefix, v6.gateway)),
            })
            .collect(),
        restart_count,
        error,
        stopped_by_user: false,
        state_dir,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_replaces_only_what_it_sets() {
        let mut have = Resources {
            memory_bytes: Some(64 << 20),
            pids_limit: Some(10),
            ..Default::default()
        };
        merge(
            &mut have,
            &Resources {
                memory_bytes: Some(128 << 20),
                ..Default::default()
            },
        );
        assert_eq!(have.memory_bytes, Some(128 << 20));
        assert_eq!(have.pids_limit, Some(10));
    }

    #[test]
    fn a_swap_limit_below_new_memory_follows_it() {
        let mut have = Resources {
            memory_bytes: Some(64 << 20),
            memory_swap: Some(128 << 20),
            ..Default::default()
        };
        merge(
            &mut have,
            &Resources {
                memory_bytes: Some(256 << 20),
                ..Default::default()
            },
        );
        assert_eq!(have.memory_swap, Some(512 << 20));
    }
}
