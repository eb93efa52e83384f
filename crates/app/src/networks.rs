//! docker's network commands as every front needs them: which networks a
//! listing or prune keeps (`label`, `label!`, `name`, `id`, `driver`), finding
//! one by name, id or id prefix, what a `network create` may ask of wharf's
//! bridge driver (subnets per address family, options, MTU), removal, prune
//! (a network any container is attached to stays), connect/disconnect, and
//! docker's `network inspect` document.

use crate::filters::{label_matches, FilterError, Filters};
use crate::AppError;
use std::collections::BTreeMap;
use wharf_engine_api::{
    ContainerInfo, Engine, EngineError, Ipv6Pool, NetworkAttachment, NetworkInfo, NetworkSpec,
};

const FILTER_KEYS: &str = "label, label!, name, id and driver";

/// The options wharf's bridge driver takes.
const BRIDGE_NAME_OPTION: &str = "com.docker.network.bridge.name";
const MTU_OPTION: &str = "com.docker.network.driver.mtu";

/// Keep the networks that pass every filter.
pub fn filter_networks(
    networks: Vec<NetworkInfo>,
    filters: &Filters,
) -> Result<Vec<NetworkInfo>, FilterError> {
    let mut out = networks;
    for filter in filters.iter() {
        let value = filter.value.as_str();
        let labelled = |n: &NetworkInfo| label_matches(&n.labels, value);
        match filter.key.as_str() {
            "label" => out.retain(labelled),
            "label!" => out.retain(|n| !labelled(n)),
            "name" => out.retain(|n| n.name.contains(value)),
            "id" => out.retain(|n| n.id.starts_with(value)),
            "driver" => out.retain(|_| value == "bridge"),
            _ => return Err(filter.unsupported(FILTER_KEYS)),
        }
    }
    Ok(out)
}

/// The networks of the engine that pass `filters`.
pub fn list(engine: &dyn Engine, filters: &Filters) -> Result<Vec<NetworkInfo>, AppError> {
    let networks = engine
        .list_networks(&[])
        .map_err(|e| AppError::engine("listing networks", e))?;
    Ok(filter_networks(networks, filters)?)
}

/// The network named or identified (id or unique id prefix) by `key`.
pub fn find<'a>(networks: &'a [NetworkInfo], key: &str) -> Option<&'a NetworkInfo> {
    networks
        .iter()
        .find(|n| n.name == key || n.id == key)
        .or_else(|| {
            let matches: Vec<_> = networks.iter().filter(|n| n.id.starts_with(key)).collect();
            (matches.len() == 1).then(|| matches[0])
        })
}

/// The network `key` names, or docker's `network KEY not found`.
pub fn lookup(engine: &dyn Engine, key: &str) -> Result<NetworkInfo, AppError> {
    let networks = list(engine, &Filters::default())?;
    find(&networks, key)
        .cloned()
        .ok_or_else(|| AppError::NoSuchObject {
            kind: "network",
            name: key.to_string(),
        })
}

/// What `network create` was asked for; `subnets`, `gateways` and
/// `ip_ranges` may mix both families (IPv6 ones contain `:`), at most one of
/// each per family.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: String,
    pub driver: String,
    pub subnets: Vec<String>,
    pub gateways: Vec<String>,
    pub ip_ranges: Vec<String>,
    pub ipv6: bool,
    /// Host name → address, never given to a container.
    pub aux_addresses: BTreeMap<String, String>,
    /// Driver options (`com.docker.network.bridge.name`, `…driver.mtu`).
    pub options: BTreeMap<String, String>,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
}

/// A `network create` wharf's bridge driver cannot make, by what was given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CreateError {
    #[error("network driver {0:?} is not supported: wharf creates bridge networks only")]
    Driver(String),
    #[error("MTU {0:?} is not a number from 68 to 65535")]
    Mtu(String),
    #[error("network option {0:?} is not supported: wharf's bridge driver takes com.docker.network.bridge.name and com.docker.network.driver.mtu")]
    Option(String),
    #[error("--subnet {0} is an IPv6 subnet: add --ipv6 to create a dual-stack network")]
    Ipv6Off(String),
    #[error("--{flag} is given twice for {family}: a network has one {family} subnet")]
    Twice {
        flag: &'static str,
        family: &'static str,
    },
    #[error("--gateway, --ip-range and --aux-address need --subnet")]
    NoSubnet,
    #[error("an IPv6 --gateway, --ip-range or --aux-address needs an IPv6 --subnet")]
    NoSubnetV6,
    #[error("network with name {0} already exists")]
    Exists(String),
}

/// The engine's spec for `options`.
pub fn create_spec(options: &CreateOptions) -> Result<NetworkSpec, CreateError> {
    if options.driver != "bridge" {
        return Err(CreateError::Driver(options.driver.clone()));
    }
    let mut driver_options = options.options.clone();
    let bridge_name = driver_options.remove(BRIDGE_NAME_OPTION);
    let mtu = match driver_options.remove(MTU_OPTION) {
        Some(text) => Some(wharf_engine_api::parse_mtu(&text).ok_or(CreateError::Mtu(text))?),
        None => None,
    };
    if let Some(key) = driver_options.into_keys().next() {
        return Err(CreateError::Option(key));
    }
    let v4 = family_values(options, false)?;
    let v6 = family_values(options, true)?;
    if let (Some(subnet), false) = (&v6.subnet, options.ipv6) {
        return Err(CreateError::Ipv6Off(subnet.clone()));
    }
    Ok(NetworkSpec {
        name: options.name.clone(),
        labels: options.labels.clone(),
        subnet: v4.subnet,
        gateway: v4.gateway,
        ip_range: v4.ip_range,
        aux_addresses: v4.aux_addresses,
        bridge_name,
        mtu,
        internal: options.internal,
        ipv6: options.ipv6.then_some(v6),
    })
}

/// The subnet, gateway, range and aux addresses of one address family.
fn family_values(options: &CreateOptions, ipv6: bool) -> Result<Ipv6Pool, CreateError> {
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    let of_family = |flag: &'static str, values: &[String]| {
        let mut values = values.iter().filter(|v| v.contains(':') == ipv6);
        let first = values.next().cloned();
        match values.next() {
            Some(_) => Err(CreateError::Twice { flag, family }),
            None => Ok(first),
        }
    };
    let pool = Ipv6Pool {
        subnet: of_family("subnet", &options.subnets)?,
        gateway: of_family("gateway", &options.gateways)?,
        ip_range: of_family("ip-range", &options.ip_ranges)?,
        aux_addresses: options
            .aux_addresses
            .iter()
            .filter(|(_, addr)| addr.contains(':') == ipv6)
            .map(|(host, addr)| (host.clone(), addr.clone()))
            .collect(),
    };
    let needs_subnet =
        pool.gateway.is_some() || pool.ip_range.is_some() || !pool.aux_addresses.is_empty();
    match (needs_subnet && pool.subnet.is_none(), ipv6) {
        (true, false) => Err(CreateError::NoSubnet),
        (true, true) => Err(CreateError::NoSubnetV6),
        (false, _) => Ok(pool),
    }
}

/// Create the network; returns its id.
pub fn create(engine: &dyn Engine, options: &CreateOptions) -> Result<String, AppError> {
    let spec = create_spec(options)?;
    match engine.create_network(&spec) {
        Ok(id) => Ok(id),
        Err(EngineError::Conflict { .. }) => Err(CreateError::Exists(options.name.clone()).into()),
        Err(e) => Err(AppError::engine(
            format!("creating network {}", options.name),
            e,
        )),
    }
}

/// Remove the network `key` names; with `force`, one that does not exist is
/// no error (`Ok(false)`).
pub fn remove(engine: &dyn Engine, key: &str, force: bool) -> Result<bool, AppError> {
    let network = match lookup(engine, key) {
        Ok(network) => network,
        Err(AppError::NoSuchObject { .. }) if force => return Ok(false),
        Err(e) => return Err(e),
    };
    match engine.remove_network(&network.id) {
        Ok(()) => Ok(true),
        Err(EngineError::NotFound { .. }) if force => Ok(false),
        Err(e) => Err(AppError::EngineRefused(e)),
    }
}

/// Remove the networks no container (running or not) is attached to that
/// pass `filters`; returns their names. The predefined networks the engine
/// refuses to remove are skipped.
pub fn prune(engine: &dyn Engine, filters: &Filters) -> Result<NetworkPruneReport, AppError> {
    let networks = list(engine, filters)?;
    let containers = engine
        .list_containers(&[])
        .map_err(|e| AppError::engine("listing containers", e))?;
    let mut report = NetworkPruneReport::default();
    for n in networks {
        if containers.iter().any(|c| c.addresses.contains_key(&n.name)) {
            continue;
        }
        match engine.remove_network(&n.id) {
            Ok(()) => report.removed.push(n.name),
            Err(EngineError::Invalid(_)) => {}
            // docker's prune goes on past a network it cannot remove.
            Err(e) => report.failures.push(e),
        }
    }
    Ok(report)
}

/// What a network prune removed, and what it could not remove with why.
#[derive(Debug, Default)]
pub struct NetworkPruneReport {
    pub removed: Vec<String>,
    pub failures: Vec<EngineError>,
}

/// What `network connect` asks for one container.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<std::net::Ipv4Addr>,
    pub ipv6_address: Option<std::net::Ipv6Addr>,
}

pub fn connect(
    engine: &dyn Engine,
    network: &str,
    container: &str,
    options: ConnectOptions,
) -> Result<(), AppError> {
    let attachment = NetworkAttachment {
        network: network.to_string(),
        aliases: options.aliases,
        ipv4_address: options.ipv4_address,
        ipv6_address: options.ipv6_address,
        mac_address: None,
    };
    engine
        .connect_network(network, container, &attachment)
        .map_err(|e| {
            AppError::engine(
                format!("connecting container {container} to network {network}"),
                e,
            )
        })
}

pub fn disconnect(
    engine: &dyn Engine,
    network: &str,
    container: &str,
    force: bool,
) -> Result<(), AppError> {
    engine
        .disconnect_network(network, container, force)
        .map_err(|e| {
            AppError::engine(
                format!("disconnecting container {container} from network {network}"),
                e,
            )
        })
}

fn ipam_config(n: &NetworkInfo) -> serde_json::Value {
    let mut config = serde_json::json!({ "Subnet": n.subnet, "Gateway": n.gateway.to_string() });
    if let Some(range) = &n.ip_range {
        config["IPRange"] = range.clone().into();
    }
    if !n.aux_addresses.is_empty() {
        config["AuxiliaryAddresses"] = serde_json::json!(n.aux_addresses);
    }
    config
}

fn ipam_config_v6(v6: &Ipv6Pool) -> serde_json::Value {
    let mut config = serde_json::json!({
        "Subnet": v6.subnet.clone().unwrap_or_default(),
        "Gateway": v6.gateway.clone().unwrap_or_default(),
    });
    if let Some(range) = &v6.ip_range {
        config["IPRange"] = range.clone().into();
    }
    if !v6.aux_addresses.is_empty() {
        config["AuxiliaryAddresses"] = serde_json::json!(v6.aux_addresses);
    }
    config
}

fn network_options(n: &NetworkInfo) -> serde_json::Value {
    let mut options = serde_json::json!({ BRIDGE_NAME_OPTION: n.bridge });
    if let Some(mtu) = n.mtu {
        options[MTU_OPTION] = mtu.to_string().into();
    }
    options
}

/// docker's `network inspect` document (the fields wharf knows), with the
/// attached ones of `containers`.
pub fn inspect_document(n: &NetworkInfo, containers: &[ContainerInfo]) -> serde_json::Value {
    let attached: serde_json::Map<String, serde_json::Value> = containers
        .iter()
        .filter_map(|c| {
            let address = c.addresses.get(&n.name)?;
            let prefix = n.subnet.split_once('/').map_or("", |(_, p)| p);
            Some((
                c.id.clone(),
                serde_json::json!({
                    "Name": c.name,
                    "IPv4Address": format!("{address}/{prefix}"),
                    "IPv6Address": match (c.addresses_v6.get(&n.name), &n.ipv6) {
                        (Some(v6), Some(pool)) => {
                            let subnet = pool.subnet.as_deref().unwrap_or_default();
                            let prefix = subnet.split_once('/').map_or("", |(_, p)| p);
                            format!("{v6}/{prefix}")
                        }
                        _ => String::new(),
                    },
                }),
            ))
        })
        .collect();
    serde_json::json!({
        "Name": n.name,
        "Id": n.id,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": n.ipv6.is_some(),
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": std::iter::once(ipam_config(n))
                .chain(n.ipv6.iter().map(ipam_config_v6))
                .collect::<Vec<_>>(),
        },
        "Attachable": false,
        "Ingress": false,
        "Containers": attached,
        "Options": network_options(n),
        "Labels": n.labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(id: &str, name: &str, labels: &[(&str, &str)]) -> NetworkInfo {
        NetworkInfo {
            id: id.into(),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            subnet: "172.18.0.0/16".into(),
            gateway: "172.18.0.1".parse().unwrap(),
            bridge: "br-x".into(),
            ip_range: None,
            aux_addresses: Default::default(),
            mtu: None,
            ipv6: None,
        }
    }

    #[test]
    fn inspect_shows_both_ipam_configs_of_a_dual_stack_network() {
        let mut n = net("abc", "v6net", &[]);
        let v4 = inspect_document(&n, &[]);
        assert_eq!(v4["EnableIPv6"], false);
        assert_eq!(v4["IPAM"]["Config"].as_array().unwrap().len(), 1);
        n.ipv6 = Some(Ipv6Pool {
            subnet: Some("fd00:db8:1::/64".into()),
            gateway: Some("fd00:db8:1::1".into()),
            ip_range: None,
            aux_addresses: Default::default(),
        });
        let dual = inspect_document(&n, &[]);
        assert_eq!(dual["EnableIPv6"], true);
        assert_eq!(
            dual["IPAM"]["Config"],
            serde_json::json!([
                {"Subnet": "172.18.0.0/16", "Gateway": "172.18.0.1"},
                {"Subnet": "fd00:db8:1::/64", "Gateway": "fd00:db8:1::1"}
            ])
        );
    }

    #[test]
    fn filters_and_lookup_follow_docker() {
        let all = vec![
            net(
                "aaaa1111",
                "hello_default",
                &[("com.docker.compose.project", "hello")],
            ),
            net("bbbb2222", "mine", &[]),
        ];
        let names = |f: &[&str]| -> Vec<String> {
            let f: Vec<String> = f.iter().map(|s| s.to_string()).collect();
            let f = Filters::from_flags(&f, "label=x").unwrap();
            filter_networks(all.clone(), &f)
                .unwrap()
                .into_iter()
                .map(|n| n.name)
                .collect()
        };
        assert_eq!(
            names(&["label=com.docker.compose.project=hello"]),
            ["hello_default"]
        );
        assert_eq!(names(&["label!=com.docker.compose.project"]), ["mine"]);
        assert_eq!(names(&["name=mi"]), ["mine"]);
        assert_eq!(names(&["id=bbbb"]), ["mine"]);
        let bogus = Filters::from_flags(&["bogus=1".into()], "label=x").unwrap();
        assert!(filter_networks(all.clone(), &bogus).is_err());
        assert_eq!(find(&all, "mine").unwrap().id, "bbbb2222");
        assert_eq!(find(&all, "aaaa").unwrap().name, "hello_default");
        assert!(find(&all, "zzz").is_none());
    }

    #[test]
    fn create_splits_families_and_refuses_what_the_bridge_cannot_do() {
        let base = CreateOptions {
            name: "n".into(),
            driver: "bridge".into(),
            ..CreateOptions::default()
        };
        let dual = CreateOptions {
            subnets: vec!["10.9.0.0/24".into(), "fd00:9::/64".into()],
            ipv6: true,
            options: [(MTU_OPTION.to_string(), "1400".to_string())].into(),
            ..base.clone()
        };
        let spec = create_spec(&dual).unwrap();
        assert_eq!(spec.subnet.as_deref(), Some("10.9.0.0/24"));
        assert_eq!(spec.ipv6.unwrap().subnet.as_deref(), Some("fd00:9::/64"));
        assert_eq!(spec.mtu, Some(1400));
        let refused = |options: CreateOptions| create_spec(&options).unwrap_err();
        assert_eq!(
            refused(CreateOptions {
                driver: "overlay".into(),
                ..base.clone()
            }),
            CreateError::Driver("overlay".into())
        );
        assert_eq!(
            refused(CreateOptions {
                ipv6: false,
                ..dual.clone()
            }),
            CreateError::Ipv6Off("fd00:9::/64".into())
        );
        assert_eq!(
            refused(CreateOptions {
                gateways: vec!["10.0.0.1".into()],
                ..base.clone()
            }),
            CreateError::NoSubnet
        );
        assert_eq!(
            refused(CreateOptions {
                subnets: vec!["10.0.0.0/24".into(), "10.1.0.0/24".into()],
                ..base.clone()
            }),
            CreateError::Twice {
                flag: "subnet",
                family: "IPv4"
            }
        );
        assert!(matches!(
            refused(CreateOptions {
                options: [("x".to_string(), "y".to_string())].into(),
                ..base
            }),
            CreateError::Option(_)
        ));
    }

    #[test]
    fn prune_goes_on_past_a_network_it_cannot_remove() {
        let engine = wharf_testkit::FakeEngine::new();
        for name in ["stuck", "unused"] {
            engine
                .create_network(&wharf_engine_api::NetworkSpec {
                    name: name.into(),
                    ..Default::default()
                })
                .unwrap();
        }
        engine.fail_on("remove_network", "stuck", "device or resource busy");
        let report = prune(&engine, &Filters::default()).unwrap();
        assert_eq!(report.removed, ["unused"]);
        assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
        assert!(report.failures[0].to_string().contains("busy"));
    }
}
