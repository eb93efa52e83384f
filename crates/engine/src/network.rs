//! Networks: bridges with a subnet that collides with nothing on the host,
//! addresses for containers, and the `/etc/hosts` files through which
//! containers find each other by service and container name.

use crate::store::{
    self, ContainerRecord, Endpoint, EndpointIpv6, Layout, NetworkIpv6, NetworkRecord,
};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};
use wharf_engine_api::{EngineError, Ipv6Pool, NetworkAttachment, NetworkSpec};
use wharf_net::{ipam, Ipv6Net};

pub fn net_err(e: wharf_net::NetError) -> EngineError {
    EngineError::Network(Box::new(e))
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
    let ipv6 = match &spec.ipv6 {
        Some(pool) => Some(ipv6_of(spec, pool, &existing)?),
        None => None,
    };
    let subnet_v6 = ipv6.as_ref().map(|(net, _)| *net);
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
    if let Some((subnet_v6, v6)) = &ipv6 {
        if let Err(e) = wharf_net::ensure_bridge_ipv6(&bridge, v6.gateway, subnet_v6.prefix_len()) {
            let _ = wharf_net::delete_link(&bridge);
            return Err(net_err(e));
        }
    }
    if let Some(mtu) = spec.mtu {
        if let Err(e) = wharf_net::set_mtu(&bridge, mtu) {
            let _ = wharf_net::delete_link(&bridge);
            return Err(net_err(e));
        }
    }
    let firewall = wharf_net::firewall::detect();
    if let Err(e) = firewall.setup_network(&bridge, subnet, subnet_v6, spec.internal) {
        let _ = wharf_net::delete_link(&bridge);
        return Err(net_err(e));
    }
    if !spec.internal {
        // Outbound traffic needs forwarding; docker turns it on the same way.
        let _ = wharf_net::enable_ip_forwarding();
        if ipv6.is_some() {
            let _ = wharf_net::enable_ipv6_forwarding();
        }
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
        ipv6: ipv6.map(|(_, v6)| v6),
    };
    if let Err(e) = store::write_json(&layout.network(&id), &record) {
        let _ = firewall.teardown_network(&bridge, subnet, subnet_v6);
        let _ = wharf_net::delete_link(&bridge);
        return Err(e);
    }
    Ok(record)
}

/// The IPv6 subnet of new network `spec`: the user's, checked against the other
/// networks, or the first unique local /64 that nothing on the host uses.
fn ipv6_of(
    spec: &NetworkSpec,
    pool: &Ipv6Pool,
    existing: &[NetworkRecord],
) -> Result<(Ipv6Net, NetworkIpv6), EngineError> {
    let invalid =
        |message: String| EngineError::Invalid(format!("network {}: {message}", spec.name));
    let existing_v6 = || {
        existing.iter().filter_map(|n| {
            let v6 = n.ipv6.as_ref()?;
            Some((n, ipam::parse_subnet_v6(&v6.subnet).ok()?))
        })
    };
    let subnet = match &pool.subnet {
        Some(text) => {
            let subnet = ipam::parse_subnet_v6(text).map_err(net_err)?;
            if let Some((other, other_subnet)) =
                existing_v6().find(|(_, o)| ipam::overlaps_v6(*o, subnet))
            {
                return Err(EngineError::Unavailable(format!(
                    "network {}: IPv6 subnet {subnet} overlaps network {} ({other_subnet}): choose another subnet",
                    spec.name, other.name
                )));
            }
            subnet
        }
        None => {
            let mut taken = wharf_net::host_ipv6_networks().map_err(net_err)?;
            taken.extend(existing_v6().map(|(_, net)| net));
            ipam::pick_ipv6_subnet(ipam::ula_prefix(&host_seed()), &taken).ok_or_else(|| {
                EngineError::Unavailable(format!(
                    "network {}: every IPv6 subnet of the host's unique local prefix is in use: remove unused networks or set an IPv6 ipam.config.subnet",
                    spec.name
                ))
            })?
        }
    };
    let gateway = match &pool.gateway {
        Some(text) => ipam::parse_gateway_v6(text, subnet).map_err(invalid)?,
        None => ipam::gateway_of_v6(subnet),
    };
    let ip_range = match &pool.ip_range {
        Some(text) => Some(ipam::parse_ip_range_v6(text, subnet).map_err(invalid)?),
        None => None,
    };
    let mut aux_addresses = BTreeMap::new();
    for (host, text) in &pool.aux_addresses {
        let addr = ipam::parse_aux_address_v6(host, text, subnet).map_err(invalid)?;
        aux_addresses.insert(host.clone(), addr);
    }
    Ok((
        subnet,
        NetworkIpv6 {
            subnet: subnet.to_string(),
            gateway,
            ip_range: ip_range.map(|r| r.to_string()),
            aux_addresses,
        },
    ))
}

/// What makes this host's unique local IPv6 prefix its own: the machine id, else
/// the host name.
fn host_seed() -> Vec<u8> {
    std::fs::read("/etc/machine-id")
        .ok()
        .filter(|id| !id.trim_ascii().is_empty())
        .or_else(|| std::fs::read("/proc/sys/kernel/hostname").ok())
        .unwrap_or_default()
}

/// Remove bridge, firewall rules and record; refuses while containers use
/// it. `veths` (host ends of removed containers' pairs) are deleted in the
/// bridge's kernel batch.
pub fn remove(
    layout: &Layout,
    record: &NetworkRecord,
    containers: &[ContainerRecord],
    veths: &[String],
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
    // The firewall rules name the bridge, not its index, so the two can go at
    // once: deleting a link waits for the kernel's RCU grace periods (tens of
    // milliseconds), long enough to run `nft` meanwhile.
    let (firewall, link) = std::thread::scope(|scope| {
        let firewall = scope.spawn(|| match ipam::parse_subnet(&record.subnet) {
            Ok(subnet) => {
                let subnet_v6 = record
                    .ipv6
                    .as_ref()
                    .and_then(|v6| ipam::parse_subnet_v6(&v6.subnet).ok());
                wharf_net::firewall::detect()
                    .teardown_network(&record.bridge, subnet, subnet_v6)
                    .map_err(|e| e.to_string())
            }
            Err(_) => Ok(()),
        });
        let mut links: Vec<&str> = veths.iter().map(String::as_str).collect();
        links.push(&record.bridge);
        let link = wharf_net::delete_links_together(&links).map_err(|e| e.to_string());
        let firewall = firewall
            .join()
            .unwrap_or_else(|_| Err("the firewall teardown panicked".to_string()));
        (firewall, link)
    });
    let mut failures: Vec<String> = [firewall, link]
        .into_iter()
        .filter_map(Result::err)
        .collect();
    if let Err(e) = std::fs::remove_file(layout.network(&record.id)) {
        if e.kind() != std::io::ErrorKind::NotFound {
            failures.push(format!("removing the record of {}: {e}", record.name));
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(EngineError::Teardown {
            what: format!("removing network {}", record.name),
            failures,
        })
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
                wharf_engine_api::parse_mac_address(text).map_err(|_| {
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
        let ipv6 = match &network.ipv6 {
            Some(v6) => Some(ipv6_endpoint(network, v6, containers, attachment)?),
            None => {
                if let Some(addr) = attachment.ipv6_address {
                    return Err(EngineError::Invalid(format!(
                        "ipv6_address {addr}: network {} has no IPv6 (set enable_ipv6: true on it)",
                        network.name
                    )));
                }
                None
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
            ipv6,
        });
    }
    Ok(endpoints)
}

/// The IPv6 address of a new container on dual-stack `network`.
fn ipv6_endpoint(
    network: &NetworkRecord,
    v6: &NetworkIpv6,
    containers: &[ContainerRecord],
    attachment: &NetworkAttachment,
) -> Result<EndpointIpv6, EngineError> {
    let subnet = ipam::parse_subnet_v6(&v6.subnet).map_err(net_err)?;
    let used: Vec<Ipv6Addr> = containers
        .iter()
        .flat_map(|c| c.endpoints.iter())
        .filter(|e| e.network_id == network.id)
        .filter_map(|e| e.ipv6.map(|v6| v6.address))
        .collect();
    let address = match attachment.ipv6_address {
        Some(addr) => {
            if !subnet.contains(&addr) || addr == subnet.network() {
                return Err(EngineError::Invalid(format!(
                    "ipv6_address {addr} is not a host address of the subnet {subnet} of network {}",
                    network.name
                )));
            }
            let reserved = v6.aux_addresses.values().any(|a| *a == addr);
            if used.contains(&addr) || addr == v6.gateway || reserved {
                return Err(EngineError::Unavailable(format!(
                    "ipv6_address {addr} is already in use on network {}",
                    network.name
                )));
            }
            addr
        }
        None => {
            let range = match &v6.ip_range {
                Some(r) => ipam::parse_subnet_v6(r).map_err(net_err)?,
                None => subnet,
            };
            let mut taken = used;
            taken.extend(v6.aux_addresses.values().copied());
            ipam::next_free_address_v6_in(subnet, range, v6.gateway, &taken).ok_or_else(|| {
                EngineError::Unavailable(format!(
                    "network {} ({range}) has no free IPv6 address left",
                    network.name
                ))
            })?
        }
    };
    Ok(EndpointIpv6 {
        address,
        prefix: subnet.prefix_len(),
        gateway: v6.gateway,
    })
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
        if let Some(v6) = &own.ipv6 {
            let _ = writeln!(out, "{}\t{}", v6.address, container.hostname);
        }
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
                ipv6: None,
            }],
            cgroup_path: String::new(),
        }
    }

    fn dual_stack_network() -> NetworkRecord {
        NetworkRecord {
            id: "n6".into(),
            name: "p_dual".into(),
            labels: Default::default(),
            subnet: "10.97.0.0/24".into(),
            gateway: Ipv4Addr::new(10, 97, 0, 1),
            bridge: "br-n6".into(),
            internal: false,
            created: 0,
            ip_range: None,
            aux_addresses: Default::default(),
            mtu: None,
            ipv6: Some(NetworkIpv6 {
                subnet: "fd00:db8:1::/64".into(),
                gateway: "fd00:db8:1::1".parse().unwrap(),
                ip_range: Some("fd00:db8:1::100/120".into()),
                aux_addresses: [("router".to_string(), "fd00:db8:1::100".parse().unwrap())].into(),
            }),
        }
    }

    fn attach(network: &str, ipv6_address: Option<&str>) -> NetworkAttachment {
        NetworkAttachment {
            network: network.into(),
            ipv6_address: ipv6_address.map(|a| a.parse().unwrap()),
            ..Default::default()
        }
    }

    #[test]
    fn dual_stack_endpoints_get_ipv6_addresses_from_the_range() {
        let networks = [dual_stack_network()];
        let first =
            allocate_endpoints(&networks, &[], "aaaaaaaaaaaa", &[attach("p_dual", None)]).unwrap();
        let v6 = first[0].ipv6.expect("an IPv6 side");
        // The range's first address is an aux address: the next one.
        assert_eq!(v6.address, "fd00:db8:1::101".parse::<Ipv6Addr>().unwrap());
        assert_eq!(
            (v6.prefix, v6.gateway),
            (64, "fd00:db8:1::1".parse().unwrap())
        );
        assert_eq!(first[0].address, Ipv4Addr::new(10, 97, 0, 2));

        let mut existing = record("aaaaaaaaaaaa", "p-a-1", "n6", [10, 97, 0, 2], &[]);
        existing.endpoints = first;
        let second = allocate_endpoints(
            &networks,
            &[existing.clone()],
            "bbbbbbbbbbbb",
            &[attach("p_dual", None)],
        )
        .unwrap();
        assert_eq!(
            second[0].ipv6.unwrap().address,
            "fd00:db8:1::102".parse::<Ipv6Addr>().unwrap()
        );

        // A chosen address: honoured, unless taken or outside the subnet.
        let chosen = allocate_endpoints(
            &networks,
            &[existing.clone()],
            "cccccccccccc",
            &[attach("p_dual", Some("fd00:db8:1::10"))],
        )
        .unwrap();
        assert_eq!(
            chosen[0].ipv6.unwrap().address,
            "fd00:db8:1::10".parse::<Ipv6Addr>().unwrap()
        );
        for (taken, want) in [
            ("fd00:db8:1::101", "already in use"),
            ("fd00:db8:1::1", "already in use"),
            ("fd00:db8:2::10", "not a host address"),
        ] {
            let err = allocate_endpoints(
                &networks,
                &[existing.clone()],
                "dddddddddddd",
                &[attach("p_dual", Some(taken))],
            )
            .unwrap_err()
            .to_string();
            assert!(err.contains(want), "{taken}: {err}");
        }

        // An IPv4-only network has no IPv6 side and refuses ipv6_address.
        let mut v4_only = dual_stack_network();
        v4_only.ipv6 = None;
        let v4_only = [v4_only];
        let plain =
            allocate_endpoints(&v4_only, &[], "eeeeeeeeeeee", &[attach("p_dual", None)]).unwrap();
        assert_eq!(plain[0].ipv6, None);
        let err = allocate_endpoints(
            &v4_only,
            &[],
            "eeeeeeeeeeee",
            &[attach("p_dual", Some("fd00:db8:1::10"))],
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("enable_ipv6"), "{err}");
    }

    #[test]
    fn records_written_before_ipv6_still_load() {
        let network: NetworkRecord = serde_json::from_str(
            r#"{"id":"n","name":"p_default","labels":{},"subnet":"172.18.0.0/16",
                "gateway":"172.18.0.1","bridge":"br-n","internal":false,"created":0}"#,
        )
        .unwrap();
        assert_eq!(network.ipv6, None);
        let endpoint: Endpoint = serde_json::from_str(
            r#"{"network_id":"n","network":"p_default","bridge":"br-n","address":"172.18.0.2",
                "prefix":16,"gateway":"172.18.0.1","host_ifname":"veth","aliases":[]}"#,
        )
        .unwrap();
        assert_eq!(endpoint.ipv6, None);
        // And IPv4-only records are written as before.
        assert!(!serde_json::to_string(&network).unwrap().contains("ipv6"));
        assert!(!serde_json::to_string(&endpoint).unwrap().contains("ipv6"));
    }

    #[test]
    fn hosts_file_names_the_container_itself_only() {
        let web = record("aaaa1111", "hello-web-1", "n1", [172, 17, 0, 3], &["web"]);
        let hosts = hosts_file(&web);
        assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
        assert!(hosts.ends_with("172.17.0.3\taaaa\n"), "{hosts}");
    }
}
