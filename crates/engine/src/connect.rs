//! `network connect` and `network disconnect`: one more (or one less) network
//! for an existing container. The endpoint is stored in the container's
//! `config.json`, so every later start attaches it; a running container gets
//! (or loses) the interface at once, and the DNS tables of everyone on the
//! network are rewritten.

use crate::store::{self, ContainerRecord, Endpoint, NetworkRecord};
use crate::{network, LinuxEngine, CONFIG_FILE};
use wharf_engine_api::{
    labels, ContainerState, EngineError, NetworkAttachment, NetworkMode, Result,
};

/// Host interface names are `veth` + 10 characters of the id + one index
/// character: 15 bytes, the kernel's limit.
const INDEX_CHARS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";

fn find_network(networks: Vec<NetworkRecord>, key: &str) -> Option<NetworkRecord> {
    let mut by_prefix = networks
        .iter()
        .filter(|n| key.len() >= 3 && n.id.starts_with(key));
    let unique_prefix = match (by_prefix.next(), by_prefix.next()) {
        (Some(one), None) => Some(one.clone()),
        _ => None,
    };
    networks
        .iter()
        .find(|n| n.name == key || n.id == key)
        .cloned()
        .or(unique_prefix)
}

fn own_namespace(record: &ContainerRecord, network: &str) -> Result<()> {
    let mode = match &record.spec.network_mode {
        NetworkMode::Bridge => return Ok(()),
        NetworkMode::Host => "host".to_string(),
        NetworkMode::None => "none".to_string(),
        NetworkMode::Container(other) => format!("container:{other}"),
    };
    Err(EngineError::Invalid(format!(
        "container {} has network_mode {mode}: it shares no network namespace of its own, so it cannot be connected to or disconnected from network {network}",
        record.name
    )))
}

impl LinuxEngine {
    pub(crate) fn connect(
        &self,
        network: &str,
        container: &str,
        attachment: &NetworkAttachment,
    ) -> Result<()> {
        let _lock = self.global_lock()?;
        let networks = network::load_networks(&self.layout)?;
        let target =
            find_network(networks.clone(), network).ok_or_else(|| EngineError::NotFound {
                kind: "network",
                name: network.to_string(),
                hint: "; see `wharf network ls`".into(),
            })?;
        let mut record = self.find(container)?;
        own_namespace(&record, &target.name)?;
        if record.endpoints.iter().any(|e| e.network_id == target.id) {
            return Err(EngineError::Invalid(format!(
                "container {} is already connected to network {}",
                record.name, target.name
            )));
        }
        let records = self.all_records()?;
        // As compose attaches its services: the service name answers too.
        let mut wanted = NetworkAttachment {
            network: target.name.clone(),
            ..attachment.clone()
        };
        if let Some(service) = record.spec.labels.get(labels::SERVICE) {
            if !wanted.aliases.contains(service) {
                wanted.aliases.insert(0, service.clone());
            }
        }
        let mut endpoint = network::allocate_endpoints(
            &networks,
            &records,
            &record.id,
            std::slice::from_ref(&wanted),
        )?
        .pop()
        .ok_or_else(|| {
            EngineError::Unavailable(format!(
                "network {network}: no address could be allocated for container {}: try again",
                record.name
            ))
        })?;
        endpoint.host_ifname = free_host_ifname(&record)?;

        let state = self.live_state(&record.id)?;
        if let ContainerState::Running { pid, .. } = state.state {
            attach_running(pid, &endpoint)?;
        }
        record.endpoints.push(endpoint);
        let dir = self.layout.container(&record.id);
        if let Err(e) = store::write_json(&dir.join(CONFIG_FILE), &record) {
            if let Some(endpoint) = record.endpoints.last() {
                let _ = wharf_net::delete_link(&endpoint.host_ifname);
            }
            return Err(e);
        }
        self.refresh_after_change(&record, &target.id)
    }

    pub(crate) fn disconnect(&self, network: &str, container: &str, force: bool) -> Result<()> {
        let _lock = self.global_lock()?;
        let mut record = self.find(container)?;
        let networks = network::load_networks(&self.layout)?;
        // A network removed under the container is still named in its endpoints.
        let position = match find_network(networks, network) {
            Some(target) => {
                own_namespace(&record, &target.name)?;
                record
                    .endpoints
                    .iter()
                    .position(|e| e.network_id == target.id)
            }
            None => record
                .endpoints
                .iter()
                .position(|e| e.network == network || (force && e.network_id == network)),
        };
        let Some(position) = position else {
            if force {
                return Ok(());
            }
            return Err(EngineError::Invalid(format!(
                "container {} is not connected to network {network}",
                record.name
            )));
        };
        let endpoint = record.endpoints.remove(position);
        let dir = self.layout.container(&record.id);
        store::write_json(&dir.join(CONFIG_FILE), &record)?;
        let state = self.live_state(&record.id)?;
        if state.state.is_running() {
            // Deleting the host end removes the container's end with it.
            wharf_net::delete_link(&endpoint.host_ifname).map_err(network::net_err)?;
        }
        self.refresh_after_change(&record, &endpoint.network_id)
    }

    /// Rewrite the DNS tables of everyone on `network_id` and of `record`
    /// itself, whose set of networks changed.
    fn refresh_after_change(&self, record: &ContainerRecord, network_id: &str) -> Result<()> {
        let records = self.all_records()?;
        let mut nets: Vec<String> = record
            .endpoints
            .iter()
            .map(|e| e.network_id.clone())
            .collect();
        nets.push(network_id.to_string());
        self.refresh_dns_tables(&records, &nets);
        Ok(())
    }
}

/// The first host interface name no endpoint of `record` uses.
fn free_host_ifname(record: &ContainerRecord) -> Result<String> {
    INDEX_CHARS
        .iter()
        .map(|c| format!("veth{}{}", &record.id[..10], *c as char))
        .find(|name| !record.endpoints.iter().any(|e| &e.host_ifname == name))
        .ok_or_else(|| {
            EngineError::Unavailable(format!(
                "container {} is on {} networks, the most one container can join",
                record.name,
                INDEX_CHARS.len()
            ))
        })
}

/// Give the running container `pid` its interface on `endpoint`'s network:
/// the next free `ethN`, no default route (that stays on its first network).
fn attach_running(pid: u32, endpoint: &Endpoint) -> Result<()> {
    let ifname = wharf_net::in_netns_of_pid(pid, || {
        for index in 0..INDEX_CHARS.len() {
            let name = format!("eth{index}");
            if !wharf_net::link_exists(&name)? {
                return Ok(name);
            }
        }
        Ok("eth99".to_string())
    })
    .map_err(network::net_err)?;
    wharf_net::ensure_bridge(&endpoint.bridge, endpoint.gateway, endpoint.prefix)
        .map_err(network::net_err)?;
    if let Some(v6) = &endpoint.ipv6 {
        wharf_net::ensure_bridge_ipv6(&endpoint.bridge, v6.gateway, v6.prefix)
            .map_err(network::net_err)?;
    }
    let _ = wharf_net::delete_link(&endpoint.host_ifname);
    wharf_net::attach_container(
        pid,
        &endpoint.bridge,
        &endpoint.host_ifname,
        &ifname,
        endpoint.address,
        endpoint.prefix,
        None,
        endpoint.mac,
        endpoint.mtu,
        endpoint.ipv6.map(|v6| wharf_net::Ipv6Endpoint {
            address: v6.address,
            prefix: v6.prefix,
            gateway: None,
        }),
    )
    .map_err(network::net_err)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn network(id: &str, name: &str) -> NetworkRecord {
        serde_json::from_value(serde_json::json!({"id": id, "name": name, "labels": {},
            "subnet": "10.1.0.0/24", "gateway": "10.1.0.1", "bridge": "br-x",
            "internal": false, "created": 0}))
        .unwrap()
    }

    #[test]
    fn networks_are_found_by_name_id_or_unique_prefix() {
        let all = vec![network("abc123", "p_default"), network("abd456", "p_back")];
        let found = |key: &str| find_network(all.clone(), key).map(|n| n.name);
        assert_eq!(found("p_back").as_deref(), Some("p_back"));
        assert_eq!(found("abc123").as_deref(), Some("p_default"));
        assert_eq!(found("abd").as_deref(), Some("p_back"));
        assert_eq!(found("ab"), None, "too short a prefix");
        assert_eq!(found("nope"), None);
    }
}
