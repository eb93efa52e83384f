//! Published ports in the firewall: the DNAT rules that bring traffic from
//! other hosts straight to a container (its source address intact), next to
//! the monitor's proxy, which keeps the host port reserved and serves what the
//! kernel cannot DNAT cleanly (the host's loopback, containers on wharf
//! bridges).

use crate::store::{ContainerRecord, Endpoint, Layout, NetworkRecord};
use std::net::IpAddr;
use wharf_engine_api::{Protocol, PublishedPort};
use wharf_net::firewall::PortForward;

/// The position of the endpoint a container's ports are published through,
/// which also carries its default route: its first one on a network that is
/// not `internal`. Docker publishes through any non-internal network and
/// publishes nothing only when every network is internal, so neither the
/// order the networks are listed in nor their names matter.
pub fn publishing_endpoint(layout: &Layout, endpoints: &[Endpoint]) -> Option<usize> {
    publishing_endpoint_by(endpoints, |network_id| {
        crate::store::read_json::<NetworkRecord>(&layout.network(network_id))
            .is_ok_and(|network| network.internal)
    })
}

fn publishing_endpoint_by(
    endpoints: &[Endpoint],
    internal: impl Fn(&str) -> bool,
) -> Option<usize> {
    endpoints
        .iter()
        .position(|endpoint| !internal(&endpoint.network_id))
}

/// The DNAT forwards of `published` (host ports as bound) to `endpoint` (the
/// publishing one): IPv4 always, IPv6 where that endpoint has an address.
/// Loopback host addresses get none: packets from other hosts never carry them.
pub fn forwards(endpoint: &Endpoint, published: &[PublishedPort]) -> Vec<PortForward> {
    let v4 = IpAddr::V4(endpoint.address);
    let v6 = endpoint.ipv6.map(|v6| IpAddr::V6(v6.address));
    let mut out = Vec::new();
    for port in published {
        let targets: Vec<(Option<IpAddr>, IpAddr)> = match port.host_ip {
            None => std::iter::once((None, v4))
                .chain(v6.map(|v6| (None, v6)))
                .collect(),
            Some(ip) if ip.is_loopback() => Vec::new(),
            Some(IpAddr::V4(ip)) if ip.is_unspecified() => vec![(None, v4)],
            Some(IpAddr::V6(ip)) if ip.is_unspecified() => {
                v6.map(|v6| (None, v6)).into_iter().collect()
            }
            Some(ip @ IpAddr::V4(_)) => vec![(Some(ip), v4)],
            Some(ip @ IpAddr::V6(_)) => v6.map(|v6| (Some(ip), v6)).into_iter().collect(),
        };
        for (host_ip, target) in targets {
            out.push(PortForward {
                host_ip,
                host_port: port.host_port,
                udp: port.protocol == Protocol::Udp,
                target,
                target_port: port.container_port,
                bridge: endpoint.bridge.clone(),
            });
        }
    }
    out
}

/// The DNAT rules of a running container; dropping it removes them.
pub struct PortRules {
    container_id: Option<String>,
}

impl Drop for PortRules {
    fn drop(&mut self) {
        if let Some(id) = self.container_id.take() {
            let _ = wharf_net::firewall::detect().teardown_ports(&id);
        }
    }
}

impl PortRules {
    /// The rules `record`'s monitor gets later (through a port handover),
    /// removed as the others when it ends.
    pub fn owned_by(record: &ContainerRecord) -> PortRules {
        PortRules {
            container_id: (!record.spec.ports.is_empty()).then(|| record.id.clone()),
        }
    }
}

/// Install the DNAT rules of `published` for `record`, to `endpoint`.
pub fn publish(
    record: &ContainerRecord,
    endpoint: Option<&Endpoint>,
    published: &[PublishedPort],
) -> Result<PortRules, wharf_engine_api::EngineError> {
    let forwards = match endpoint {
        Some(endpoint) => forwards(endpoint, published),
        None => Vec::new(),
    };
    if forwards.is_empty() {
        return Ok(PortRules { container_id: None });
    }
    wharf_net::firewall::detect()
        .setup_ports(&record.id, &forwards)
        .map_err(crate::network::net_err)?;
    Ok(PortRules {
        container_id: Some(record.id.clone()),
    })
}

/// Remove the DNAT rules of `record`, whoever made them (a monitor that was
/// killed could not). Containers that publish nothing cost no `nft` run.
pub fn withdraw(record: &ContainerRecord) -> Result<(), wharf_engine_api::EngineError> {
    if record.spec.ports.is_empty() {
        return Ok(());
    }
    wharf_net::firewall::detect()
        .teardown_ports(&record.id)
        .map_err(crate::network::net_err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::EndpointIpv6;
    use std::net::Ipv4Addr;

    fn record(ipv6: bool) -> ContainerRecord {
        ContainerRecord {
            id: "c1".into(),
            name: "p-web-1".into(),
            spec: Default::default(),
            image_id: String::new(),
            created: 0,
            args: vec![],
            env: vec![],
            cwd: "/".into(),
            user: None,
            hostname: "c1".into(),
            layers: vec![],
            endpoints: vec![Endpoint {
                network_id: "n".into(),
                network: "p_default".into(),
                bridge: "br-n".into(),
                address: Ipv4Addr::new(10, 89, 0, 2),
                prefix: 24,
                gateway: Ipv4Addr::new(10, 89, 0, 1),
                host_ifname: "veth".into(),
                aliases: vec![],
                mac: None,
                mtu: None,
                ipv6: ipv6.then(|| EndpointIpv6 {
                    address: "fd00::2".parse().unwrap(),
                    prefix: 64,
                    gateway: "fd00::1".parse().unwrap(),
                }),
            }],
            cgroup_path: String::new(),
        }
    }

    fn port(host_ip: Option<&str>, protocol: Protocol) -> PublishedPort {
        PublishedPort {
            host_ip: host_ip.map(|ip| ip.parse().unwrap()),
            host_port: 8080,
            container_port: 80,
            protocol,
        }
    }

    fn targets(record: &ContainerRecord, host_ip: Option<&str>) -> Vec<(Option<IpAddr>, IpAddr)> {
        forwards(&record.endpoints[0], &[port(host_ip, Protocol::Tcp)])
            .into_iter()
            .map(|f| (f.host_ip, f.target))
            .collect()
    }

    #[test]
    fn every_family_the_container_has_is_forwarded_but_never_loopback() {
        let v4: IpAddr = "10.89.0.2".parse().unwrap();
        let v6: IpAddr = "fd00::2".parse().unwrap();
        let (plain, dual) = (record(false), record(true));
        assert_eq!(targets(&plain, None), vec![(None, v4)]);
        assert_eq!(targets(&dual, None), vec![(None, v4), (None, v6)]);
        assert_eq!(targets(&dual, Some("0.0.0.0")), vec![(None, v4)]);
        assert_eq!(targets(&dual, Some("::")), vec![(None, v6)]);
        assert_eq!(targets(&plain, Some("::")), vec![]);
        let host: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(targets(&dual, Some("192.0.2.7")), vec![(Some(host), v4)]);
        assert_eq!(targets(&dual, Some("127.0.0.1")), vec![]);
        assert_eq!(targets(&dual, Some("::1")), vec![]);
        let udp = forwards(&plain.endpoints[0], &[port(None, Protocol::Udp)]);
        assert!(udp[0].udp && udp[0].target_port == 80 && udp[0].bridge == "br-n");
    }

    #[test]
    fn ports_are_published_through_any_network_that_is_not_internal() {
        let mut record = record(false);
        let mut back = record.endpoints[0].clone();
        back.network_id = "back".into();
        back.address = Ipv4Addr::new(10, 90, 0, 2);
        let front = record.endpoints[0].clone();
        let internal = |id: &str| id == "back";
        // The internal network first, as sorting `back` before `front` lists it.
        record.endpoints = vec![back.clone(), front.clone()];
        assert_eq!(publishing_endpoint_by(&record.endpoints, internal), Some(1));
        record.endpoints = vec![front, back.clone()];
        assert_eq!(publishing_endpoint_by(&record.endpoints, internal), Some(0));
        // Only when every network is internal is nothing published.
        record.endpoints = vec![back];
        assert_eq!(publishing_endpoint_by(&record.endpoints, internal), None);
    }
}
