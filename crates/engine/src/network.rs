//! Networks: bridges with a subnet that collides with nothing on the host,
//! addresses for containers, and the `/etc/hosts` files through which
//! containers find each other by service and container name.

use crate::store::{self, ContainerRecord, Endpoint, Layout, NetworkRecord};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use wharf_engine_api::{EngineError, NetworkAttachment, NetworkSpec};
use wharf_net::ipam;

pub fn net_err(e: wharf_net::NetError) -> EngineError {
    EngineError::Other(e.to_string())
}

pub fn load_networks(layout: &Layout) -> Result<Vec<NetworkRecord>, EngineError> {
    let mut out = Vec::new();
    let dir = layout.networks();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
        Err(e) => return Err(EngineError::io(format!("reading {}", dir.display()), e)),
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().and_then(|e| e.to_str()) == Some("json") {
            out.push(store::read_json(&path)?);
        }
    }
    out.sort_by(|a: &NetworkRecord, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Create the bridge and the record. The caller holds the global lock.
pub fn create(layout: &Layout, spec: &NetworkSpec) -> Result<NetworkRecord, EngineError> {
    let existing = load_networks(layout)?;
    if existing.iter().any(|n| n.name == spec.name) {
        return Err(EngineError::Conflict {
            kind: "network",
            name: spec.name.clone(),
        });
    }
    let subnet = match &spec.subnet {
        Some(s) => {
            let subnet = ipam::parse_subnet(s).map_err(net_err)?;
            if let Some(other) = existing.iter().find(|n| {
                ipam::parse_subnet(&n.subnet)
                    .is_ok_and(|o| o.contains(&subnet.network()) || subnet.contains(&o.network()))
            }) {
                return Err(EngineError::Unavailable(format!(
                    "network {}: subnet {s} overlaps network {} ({}): choose another subnet",
                    spec.name, other.name, other.subnet
                )));
            }
            subnet
        }
        None => {
            let mut taken = wharf_net::host_ipv4_networks().map_err(net_err)?;
            taken.extend(
                existing
                    .iter()
                    .filter_map(|n| ipam::parse_subnet(&n.subnet).ok()),
            );
            ipam::pick_subnet(&ipam::default_pools(), &taken).ok_or_else(|| {
                EngineError::Unavailable(format!(
                    "network {}: every subnet of the address pools is in use on this host: remove unused networks or set ipam.config.subnet",
                    spec.name
                ))
            })?
        }
    };
    let invalid =
        |message: String| EngineError::Invalid(format!("network {}: {message}", spec.name));
    let gateway = match &spec.gateway {
        Some(text) => ipam::parse_gateway(text, subnet).map_err(invalid)?,
        None => ipam::gateway_of(subnet),
    };
    let ip_range = match &spec.ip_range {
        Some(text) => Some(ipam::parse_ip_range(text, subnet).map_err(invalid)?),
        None => None,
    };
    let mut aux_addresses = BTreeMap::new();
    for (host, text) in &spec.aux_addresses {
        let addr = ipam::parse_aux_address(host, text, subnet).map_err(invalid)?;
        aux_addresses.insert(host.clone(), addr);
    }
    let id = store::new_id()?;
    let bridge = match &spec.bridge_name {
        Some(name) => {
            let taken = existing.iter().any(|n| &n.bridge == name)
                || wharf_net::link_exists(name).map_err(net_err)?;
            if taken {
                return Err(EngineError::Unavailable(format!(
                    "network {}: interface {name} already exists on the host: choose another com.docker.network.bridge.name",
                    spec.name
                )));
            }
            name.clone()
        }
        None => format!("br-{}", &id[..12]),
    };
    wharf_net::ensure_bridge(&bridge, gateway, subnet.prefix_len()).map_err(net_err)?;
    if let Some(mtu) = spec.mtu {
        if let Err(e) = wharf_net::set_mtu(&bridge, mtu) {
            let _ = wharf_net::delete_link(&bridge);
            return Err(net_err(e));
        }
    }
    let firewall = wharf_net::firewall::detect();
    if let Err(e) = firewall.setup_network(&bridge, subnet, spec.internal) {
        let _ = wharf_net::delete_link(&bridge);
        return Err(net_err(e));
    }
    if !spec.internal {
        // Outbound traffic needs forwarding; docker turns it on the same way.
        let _ = wharf_net::enable_ip_forwarding();
    }
    let record = NetworkRecord {
        id: id.clone(),
        name: spec.name.clone(),
        labels: spec.labels.clone(),
        subnet: subnet.to_string(),
        gateway,
        bridge: bridge.clone(),
        internal: spec.internal,
        created: store::now_secs(),
        ip_range: ip_range.map(|r| r.to_string()),
        aux_addresses,
        mtu: spec.mtu,
    };
    if let Err(e) = store::write_json(&layout.network(&id), &record) {
        let _ = firewall.teardown_network(&bridge, subnet);
        let _ = wharf_net::delete_link(&bridge);
        return Err(e);
    }
    Ok(record)
}

/// Remove bridge, firewall rules and record; refuses while containers use it.
pub fn remove(
    layout: &Layout,
    record: &NetworkRecord,
    containers: &[ContainerRecord],
) -> Result<(), EngineError> {
    let users: Vec<&str> = containers
        .iter()
        .filter(|c| c.endpoints.iter().any(|e| e.network_id == record.id))
        .map(|c| c.name.as_str())
        .collect();
    if !users.is_empty() {
        return Err(EngineError::Invalid(format!(
            "network {} is in use by containers {}: remove them first",
            record.name,
            users.join(", ")
        )));
    }
    let mut failures = Vec::new();
    if let Ok(subnet) = ipam::parse_subnet(&record.subnet) {
        if let Err(e) = wharf_net::firewall::detect().teardown_network(&record.bridge, subnet) {
            failures.push(e.to_string());
        }
    }
    if let Err(e) = wharf_net::delete_link(&record.bridge) {
        failures.push(e.to_string());
    }
    if let Err(e) = std::fs::remove_file(layout.network(&record.id)) {
        if e.kind() != std::io::ErrorKind::NotFound {
            failures.push(format!("removing the record of {}: {e}", record.name));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Other(format!(
            "removing network {}: {}",
            record.name,
            failures.join("; ")
        )))
    }
}

/// Decide the endpoints of a new container. The caller holds the global lock.
pub fn allocate_endpoints(
    networks: &[NetworkRecord],
    containers: &[ContainerRecord],
    container_id: &str,
    attachments: &[NetworkAttachment],
) -> Result<Vec<Endpoint>, EngineError> {
    let mut endpoints = Vec::new();
    for (index, attachment) in attachments.iter().enumerate() {
        let network = networks
            .iter()
            .find(|n| n.name == attachment.network)
            .ok_or_else(|| EngineError::NotFound {
                kind: "network",
                name: attachment.network.clone(),
                hint: "; create it or declare it in the Compose file".into(),
            })?;
        let subnet = ipam::parse_subnet(&network.subnet).map_err(net_err)?;
        let mac = attachment
            .mac_address
            .as_deref()
            .map(|text| {
                parse_mac(text).ok_or_else(|| {
                    EngineError::Invalid(format!(
                        "mac_address {text:?} on network {} is not a unicast MAC address like 02:42:ac:11:00:02",
                        network.name
                    ))
                })
            })
            .transpose()?;
        let used: Vec<Ipv4Addr> = containers
            .iter()
            .flat_map(|c| c.endpoints.iter())
            .filter(|e| e.network_id == network.id)
            .map(|e| e.address)
            .collect();
        let address = match attachment.ipv4_address {
            Some(addr) => {
                if !subnet.contains(&addr) {
                    return Err(EngineError::Invalid(format!(
                        "address {addr} is not in the subnet {subnet} of network {}",
                        network.name
                    )));
                }
                let reserved = network.aux_addresses.values().any(|a| *a == addr);
                if used.contains(&addr) || addr == network.gateway || reserved {
                    return Err(EngineError::Unavailable(format!(
                        "address {addr} is already in use on network {}",
                        network.name
                    )));
                }
                addr
            }
            None => {
                let range = match &network.ip_range {
                    Some(r) => ipam::parse_subnet(r).map_err(net_err)?,
                    None => subnet,
                };
                let mut taken = used.clone();
                taken.extend(network.aux_addresses.values().copied());
                ipam::next_free_address_in(subnet, range, network.gateway, &taken).ok_or_else(
                    || {
                        EngineError::Unavailable(format!(
                            "network {} ({range}) has no free address left",
                            network.name
                        ))
                    },
                )?
            }
        };
        endpoints.push(Endpoint {
            network_id: network.id.clone(),
            network: network.name.clone(),
            bridge: network.bridge.clone(),
            address,
            prefix: subnet.prefix_len(),
            gateway: network.gateway,
            host_ifname: format!("veth{}{}", &container_id[..10], index),
            aliases: attachment.aliases.clone(),
            mac,
            mtu: network.mtu,
        });
    }
    Ok(endpoints)
}

/// `02:42:ac:11:00:02` → bytes, unicast and non-zero only.
fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let parts: Vec<&str> = text.trim().split([':', '-']).collect();
    let mut mac = [0u8; 6];
    if parts.len() != 6 {
        return None;
    }
    for (byte, part) in mac.iter_mut().zip(parts) {
        if part.len() != 2 {
            return None;
        }
        *byte = u8::from_str_radix(part, 16).ok()?;
    }
    (mac[0] & 1 == 0 && mac != [0; 6]).then_some(mac)
}

/// The `/etc/hosts` of `container`: localhost, itself and its `extra_hosts`.
/// Other containers are found through the embedded DNS server, as on docker's
/// user networks: a hosts file cannot follow containers that stop and start.
pub fn hosts_file(container: &ContainerRecord) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n",
    );
    if let Some(own) = container.endpoints.first() {
        let _ = writeln!(out, "{}\t{}", own.address, container.hostname);
    }
    for (name, address) in &container.spec.extra_hosts {
        let address = match (address.as_str(), container.endpoints.first()) {
            ("host-gateway", Some(own)) => own.gateway.to_string(),
            _ => address.clone(),
        };
        let _ = writeln!(out, "{address}\t{name}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, name: &str, net: &str, addr: [u8; 4], aliases: &[&str]) -> ContainerRecord {
        ContainerRecord {
            id: id.into(),
            name: name.into(),
            spec: Default::default(),
            image_id: String::new(),
            created: 0,
            args: vec![],
            env: vec![],
            cwd: "/".into(),
            user: None,
            hostname: id[..4].into(),
            layers: vec![],
            endpoints: vec![Endpoint {
                network_id: net.into(),
                network: net.into(),
                bridge: "br".into(),
                address: Ipv4Addr::from(addr),
                prefix: 16,
                gateway: Ipv4Addr::new(172, 17, 0, 1),
                host_ifname: "veth".into(),
                aliases: aliases.iter().map(|s| s.to_string()).collect(),
                mac: None,
                mtu: None,
            }],
            cgroup_path: String::new(),
        }
    }

    #[test]
    fn hosts_file_names_the_container_itself_only() {
        let web = record("aaaa1111", "hello-web-1", "n1", [172, 17, 0, 3], &["web"]);
        let hosts = hosts_file(&web);
        assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
        assert!(hosts.ends_with("172.17.0.3\taaaa\n"), "{hosts}");
    }
}
