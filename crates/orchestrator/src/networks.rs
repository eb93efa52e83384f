//! Top-level networks and services' attachments to them: what wharf's bridge
//! driver can honour (subnet, gateway, ip_range, aux_addresses, the bridge name and
//! MTU options, MAC addresses, IPv6 with `enable_ipv6`) becomes the [`NetworkSpec`]
//! and attachment fields; everything else is refused by name instead of being dropped.

use crate::error::{OrchestratorError, SettingError};
use wharf_compose::model::{IpamPool, Network, Project, Service, ServiceNetwork};
use wharf_engine_api::{labels, Ipv6Pool, NetworkSpec};

/// The `driver_opts` of the bridge driver that wharf understands.
const BRIDGE_NAME_OPT: &str = "com.docker.network.bridge.name";
const MTU_OPT: &str = "com.docker.network.driver.mtu";

/// Full host name of a network key (`default` → `hello_default`).
pub fn network_name(project: &Project, key: &str) -> String {
    project
        .networks
        .get(key)
        .map(|n| n.name.clone())
        .unwrap_or_else(|| format!("{}_{}", project.name, key))
}

/// Check network `key` of `project` before anything is created, and the
/// network to create for it (`None` for an external network).
pub fn validate_network(
    project: &Project,
    key: &str,
) -> Result<Option<NetworkSpec>, OrchestratorError> {
    let network = &project.networks[key];
    let invalid = |source: SettingError| OrchestratorError::InvalidNetwork {
        network: key.to_string(),
        source,
    };
    let refuse = |message: String| invalid(SettingError::Invalid(message));
    if network.external {
        return Ok(None);
    }
    if let Some(driver) = network.driver.as_deref().filter(|d| *d != "bridge") {
        return Err(refuse(format!(
            "driver {driver:?} is not supported: wharf networks use the bridge driver (remove `driver:`, or use network_mode: host|none on the services)"
        )));
    }
    let mut mtu = None;
    for (opt, value) in &network.driver_opts {
        match opt.as_str() {
            BRIDGE_NAME_OPT => check_ifname(value).map_err(invalid)?,
            MTU_OPT => mtu = Some(parse_mtu(value).map_err(invalid)?),
            _ => {
                return Err(refuse(format!(
                    "driver_opts {opt:?} is not supported: wharf's bridge driver takes {BRIDGE_NAME_OPT} and {MTU_OPT}"
                )))
            }
        }
    }
    if network.enable_ipv4 == Some(false) {
        return Err(refuse(
            "enable_ipv4: false is not supported: wharf networks are IPv4".into(),
        ));
    }
    if let Some(driver) = network.ipam.driver.as_deref().filter(|d| *d != "default") {
        return Err(refuse(format!(
            "ipam driver {driver:?} is not supported: remove ipam.driver (wharf has its own address management)"
        )));
    }
    if !network.ipam.options.is_empty() {
        return Err(refuse("ipam.options are not supported: remove them".into()));
    }
    let (v4, v6): (Vec<&IpamPool>, Vec<&IpamPool>) = network
        .ipam
        .config
        .iter()
        .partition(|pool| !is_ipv6_pool(pool));
    if v4.len() > 1 || v6.len() > 1 {
        return Err(refuse(format!(
            "ipam.config has {} IPv4 and {} IPv6 entries: wharf networks have one IPv4 subnet and, with enable_ipv6, one IPv6 subnet",
            v4.len(),
            v6.len()
        )));
    }
    if let Some(pool) = v6.first() {
        if network.enable_ipv6 != Some(true) {
            return Err(refuse(format!(
                "ipam.config has the IPv6 subnet {} but enable_ipv6 is not set: add enable_ipv6: true, or remove the IPv6 entry",
                pool.subnet.as_deref().unwrap_or_default()
            )));
        }
    }
    if let Some(pool) = v4.first() {
        let has_details =
            pool.gateway.is_some() || pool.ip_range.is_some() || !pool.aux_addresses.is_empty();
        if pool.subnet.is_none() && has_details {
            return Err(refuse(
                "ipam.config sets gateway, ip_range or aux_addresses without a subnet: add `subnet:`"
                    .into(),
            ));
        }
    }
    Ok(Some(network_spec(project, key, mtu)))
}

/// An `ipam.config` entry with an IPv6 subnet.
fn is_ipv6_pool(pool: &IpamPool) -> bool {
    pool.subnet.as_deref().is_some_and(|s| s.contains(':'))
}

fn ipv4_pool(network: &Network) -> Option<&IpamPool> {
    network.ipam.config.iter().find(|pool| !is_ipv6_pool(pool))
}

/// The IPv6 side of a network with `enable_ipv6: true`; its subnet is allocated by
/// the engine when `ipam.config` has no IPv6 entry.
fn ipv6_pool(network: &Network) -> Option<Ipv6Pool> {
    if network.enable_ipv6 != Some(true) {
        return None;
    }
    let pool = network.ipam.config.iter().find(|pool| is_ipv6_pool(pool));
    Some(Ipv6Pool {
        subnet: pool.and_then(|p| p.subnet.clone()),
        gateway: pool.and_then(|p| p.gateway.clone()),
        ip_range: pool.and_then(|p| p.ip_range.clone()),
        aux_addresses: pool.map(|p| p.aux_addresses.clone()).unwrap_or_default(),
    })
}

/// The network to create for top-level network `key` of `project`, with
/// the MTU [`validate_network`] parsed.
fn network_spec(project: &Project, key: &str, mtu: Option<u32>) -> NetworkSpec {
    let network = &project.networks[key];
    let mut net_labels = network.labels.clone();
    net_labels.insert(labels::PROJECT.into(), project.name.clone());
    net_labels.insert(labels::NETWORK.into(), key.to_string());
    net_labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
    let pool = ipv4_pool(network);
    NetworkSpec {
        name: network_name(project, key),
        labels: net_labels,
        subnet: pool.and_then(|p| p.subnet.clone()),
        gateway: pool.and_then(|p| p.gateway.clone()),
        ip_range: pool.and_then(|p| p.ip_range.clone()),
        aux_addresses: pool.map(|p| p.aux_addresses.clone()).unwrap_or_default(),
        bridge_name: network.driver_opts.get(BRIDGE_NAME_OPT).cloned(),
        mtu,
        internal: network.internal,
        ipv6: ipv6_pool(network),
    }
}

/// Check a service's attachment to network `key`.
pub fn validate_attachment(key: &str, attachment: &ServiceNetwork) -> Result<(), SettingError> {
    let refuse = |what: &str| {
        Err(SettingError::invalid(format!(
            "networks.{key}.{what} is not supported by wharf yet: remove it"
        )))
    };
    if !attachment.link_local_ips.is_empty() {
        return refuse("link_local_ips");
    }
    if !attachment.driver_opts.is_empty() {
        return refuse("driver_opts");
    }
    if attachment.interface_name.is_some() {
        return refuse("interface_name");
    }
    if attachment.gw_priority != 0 {
        return refuse("gw_priority");
    }
    if let Some(mac) = &attachment.mac_address {
        wharf_engine_api::parse_mac_address(mac)
            .map_err(|e| SettingError::invalid(format!("networks.{key}.mac_address: {e}")))?;
    }
    Ok(())
}

/// Check the service-level `mac_address` (it applies to the first network).
pub fn validate_mac_address(service: &Service) -> Result<(), SettingError> {
    match &service.mac_address {
        Some(mac) => wharf_engine_api::parse_mac_address(mac)
            .map(|_| ())
            .map_err(|e| SettingError::invalid(format!("mac_address: {e}"))),
        None => Ok(()),
    }
}

fn parse_mtu(text: &str) -> Result<u32, SettingError> {
    wharf_engine_api::parse_mtu(text).ok_or_else(|| {
        SettingError::invalid(format!(
            "{MTU_OPT} {text:?} is not an MTU: write a number from 68 to 65535"
        ))
    })
}

fn check_ifname(name: &str) -> Result<(), SettingError> {
    let valid = !name.is_empty()
        && name.len() <= 15
        && name != "."
        && name != ".."
        && !name.contains(['/', ' ', ':', '\0']);
    if valid {
        Ok(())
    } else {
        Err(SettingError::invalid(format!(
            "{BRIDGE_NAME_OPT} {name:?} is not a valid interface name: write 1 to 15 characters, no '/', ':' or spaces"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_addresses() {
        assert_eq!(
            wharf_engine_api::parse_mac_address("02:42:ac:11:00:02").unwrap(),
            [2, 0x42, 0xac, 0x11, 0, 2]
        );
        assert_eq!(
            wharf_engine_api::parse_mac_address("02-42-AC-11-00-FF").unwrap()[5],
            0xff
        );
        for bad in [
            "02:42:ac:11:00",
            "zz:42:ac:11:00:02",
            "2:42:ac:11:00:02",
            "",
        ] {
            assert!(
                wharf_engine_api::parse_mac_address(bad)
                    .unwrap_err()
                    .contains("not a MAC address"),
                "{bad}"
            );
        }
        assert!(wharf_engine_api::parse_mac_address("01:00:5e:00:00:01")
            .unwrap_err()
            .contains("multicast"));
        assert!(wharf_engine_api::parse_mac_address("00:00:00:00:00:00")
            .unwrap_err()
            .contains("zero"));
    }

    fn project_with(network: Network) -> Project {
        Project {
            name: "p".into(),
            working_dir: "/p".into(),
            config_files: vec![],
            services: Default::default(),
            networks: [("dual".to_string(), network)].into(),
            volumes: Default::default(),
            warnings: vec![],
            secrets: Default::default(),
            configs: Default::default(),
            models: Default::default(),
            extensions: Default::default(),
        }
    }

    fn pool(subnet: &str) -> IpamPool {
        IpamPool {
            subnet: Some(subnet.into()),
            ..Default::default()
        }
    }

    #[test]
    fn enable_ipv6_splits_the_ipam_config_by_family() {
        let mut network = Network {
            name: "p_dual".into(),
            enable_ipv6: Some(true),
            ..Default::default()
        };
        network.ipam.config = vec![
            IpamPool {
                gateway: Some("fd00:db8:1::fe".into()),
                ..pool("fd00:db8:1::/64")
            },
            pool("10.97.0.0/24"),
        ];
        let project = project_with(network.clone());
        let spec = validate_network(&project, "dual").unwrap().unwrap();
        assert_eq!(spec.subnet.as_deref(), Some("10.97.0.0/24"));
        let v6 = spec.ipv6.expect("an IPv6 side");
        assert_eq!(v6.subnet.as_deref(), Some("fd00:db8:1::/64"));
        assert_eq!(v6.gateway.as_deref(), Some("fd00:db8:1::fe"));

        // enable_ipv6 alone: the engine picks the IPv6 subnet.
        let bare = project_with(Network {
            enable_ipv6: Some(true),
            ..Default::default()
        });
        let spec = validate_network(&bare, "dual").unwrap().unwrap();
        assert_eq!(spec.ipv6, Some(Ipv6Pool::default()));

        // An IPv6 subnet without enable_ipv6, or two of one family, is refused.
        network.enable_ipv6 = None;
        let err = validate_network(&project_with(network.clone()), "dual").unwrap_err();
        assert!(err.to_string().contains("enable_ipv6"), "{err}");
        network.enable_ipv6 = Some(true);
        network.ipam.config.push(pool("fd00:db8:2::/64"));
        let err = validate_network(&project_with(network), "dual").unwrap_err();
        assert!(err.to_string().contains("1 IPv4 and 2 IPv6"), "{err}");
    }

    #[test]
    fn mtu_and_interface_names() {
        assert_eq!(parse_mtu("1400").unwrap(), 1400);
        assert!(parse_mtu("20").is_err());
        assert!(parse_mtu("big").is_err());
        assert!(check_ifname("wharf-test0").is_ok());
        assert!(check_ifname("a-name-that-is-too-long").is_err());
        assert!(check_ifname("a/b").is_err());
    }
}
