//! `wharf network ls|create|rm|inspect|prune|connect|disconnect`: docker's
//! network commands over the engine's networks (Linux bridges), with docker's
//! output.

use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::table;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use wharf_engine_api::{ContainerInfo, Engine, EngineError, NetworkInfo, NetworkSpec};

#[derive(Subcommand, Debug)]
pub enum NetworkCommand {
    /// List networks
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Create a network
    Create(CreateArgs),
    /// Remove one or more networks
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more networks
    Inspect(InspectArgs),
    /// Remove all unused networks
    Prune(PruneArgs),
    /// Connect a container to a network
    Connect(ConnectArgs),
    /// Disconnect a container from a network
    Disconnect(DisconnectArgs),
}

#[derive(Args, Debug)]
pub struct ConnectArgs {
    /// Add a network-scoped alias for the container
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    /// IPv4 address (e.g. "172.30.100.104")
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,
    /// IPv6 address (e.g. "2001:db8::33")
    #[arg(long)]
    pub ip6: Option<std::net::Ipv6Addr>,
    pub network: String,
    /// Container name or id
    pub container: String,
}

#[derive(Args, Debug)]
pub struct DisconnectArgs {
    /// Force the container to disconnect from a network
    #[arg(short = 'f', long)]
    pub force: bool,
    pub network: String,
    /// Container name or id
    pub container: String,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display network IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Do not truncate the output
    #[arg(long)]
    pub no_trunc: bool,
    /// Provide filter values (e.g. "label=KEY[=VALUE]", "name=TEXT", "id=PREFIX", "driver=bridge")
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    /// Driver to manage the network (only bridge)
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format (one is picked when not given); give an IPv4 and an
    /// IPv6 one for a dual-stack network
    #[arg(long)]
    pub subnet: Vec<String>,
    /// Gateway of a subnet (its first address when not given)
    #[arg(long)]
    pub gateway: Vec<String>,
    /// Allocate container addresses from this part of a subnet (CIDR)
    #[arg(long)]
    pub ip_range: Vec<String>,
    /// Enable IPv6 (an IPv6 subnet is picked when no --subnet is IPv6)
    #[arg(long)]
    pub ipv6: bool,
    /// Addresses containers never get (HOST=IP)
    #[arg(long = "aux-address")]
    pub aux_addresses: Vec<String>,
    /// Driver options: com.docker.network.bridge.name=NAME, com.docker.network.driver.mtu=N
    #[arg(short = 'o', long = "opt")]
    pub opts: Vec<String>,
    /// Restrict external access to the network
    #[arg(long)]
    pub internal: bool,
    /// Set metadata on a network (KEY=VALUE)
    #[arg(long = "label")]
    pub labels: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Do not error if the network does not exist
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "NETWORK", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output: json (the default) or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(value_name = "NETWORK", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=KEY[=VALUE]")
    #[arg(long = "filter")]
    pub filters: Vec<String>,
}

pub fn network(global: &GlobalOptions, command: NetworkCommand) -> Result<i32> {
    let engine = global.engine()?;
    match command {
        NetworkCommand::Ls(args) => ls(&engine, args),
        NetworkCommand::Create(args) => create(&engine, args),
        NetworkCommand::Rm(args) => rm(&engine, args),
        NetworkCommand::Inspect(args) => inspect(&engine, args),
        NetworkCommand::Prune(args) => prune(&engine, args),
        NetworkCommand::Connect(args) => connect(&engine, args),
        NetworkCommand::Disconnect(args) => disconnect(&engine, args),
    }
}

fn connect(engine: &dyn Engine, args: ConnectArgs) -> Result<i32> {
    let attachment = wharf_engine_api::NetworkAttachment {
        network: args.network.clone(),
        aliases: args.aliases,
        ipv4_address: args.ip,
        ipv6_address: args.ip6,
        mac_address: None,
    };
    engine
        .connect_network(&args.network, &args.container, &attachment)
        .with_context(|| {
            format!(
                "connecting container {} to network {}",
                args.container, args.network
            )
        })?;
    Ok(0)
}

fn disconnect(engine: &dyn Engine, args: DisconnectArgs) -> Result<i32> {
    engine
        .disconnect_network(&args.network, &args.container, args.force)
        .with_context(|| {
            format!(
                "disconnecting container {} from network {}",
                args.container, args.network
            )
        })?;
    Ok(0)
}

/// Keep the networks that pass every filter (docker's `label`, `label!`,
/// `name`, `id`, `driver`).
pub fn filter_networks(networks: Vec<NetworkInfo>, filters: &[String]) -> Result<Vec<NetworkInfo>> {
    let mut out = networks;
    for filter in filters {
        let (key, value) = filter.split_once('=').with_context(|| {
            format!("bad filter {filter:?}: expected KEY=VALUE such as label=com.example")
        })?;
        let label_matches = |n: &NetworkInfo| super::label_filter_matches(&n.labels, value);
        match key {
            "label" => out.retain(label_matches),
            "label!" => out.retain(|n| !label_matches(n)),
            "name" => out.retain(|n| n.name.contains(value)),
            "id" => out.retain(|n| n.id.starts_with(value)),
            "driver" => out.retain(|_| value == "bridge"),
            _ => anyhow::bail!(
                "unsupported filter {key:?}: wharf supports label, label!, name, id and driver"
            ),
        }
    }
    Ok(out)
}

fn short_id(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}

/// The fields of a `network ls` row and docker's headers for them.
const LS_HEADERS: &Headers = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

fn ls(engine: &dyn Engine, args: LsArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    let networks = filter_networks(engine.list_networks(&[])?, &args.filters)?;
    let id = |n: &NetworkInfo| {
        if args.no_trunc {
            n.id.clone()
        } else {
            short_id(&n.id).to_string()
        }
    };
    if args.quiet {
        for n in &networks {
            println!("{}", id(n));
        }
        return Ok(0);
    }
    let entries: Vec<serde_json::Value> = networks
        .iter()
        .map(|n| {
            let mut entry = ls_json(n);
            entry["ID"] = id(n).into();
            entry
        })
        .collect();
    let text = format::render(&format, "--format", LS_HEADERS, &entries, || {
        let rows: Vec<Vec<String>> = networks
            .iter()
            .map(|n| vec![id(n), n.name.clone(), "bridge".into(), "local".into()])
            .collect();
        table::render(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows)
    })?;
    print!("{text}");
    Ok(0)
}

/// `docker network ls --format json`'s fields.
fn ls_json(n: &NetworkInfo) -> serde_json::Value {
    serde_json::json!({
        "Driver": "bridge",
        "ID": short_id(&n.id),
        "IPv6": "false",
        "Labels": super::labels_text(&n.labels),
        "Name": n.name,
        "Scope": "local",
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

fn ipam_config_v6(v6: &wharf_engine_api::Ipv6Pool) -> serde_json::Value {
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
    let mut options = serde_json::json!({ "com.docker.network.bridge.name": n.bridge });
    if let Some(mtu) = n.mtu {
        options["com.docker.network.driver.mtu"] = mtu.to_string().into();
    }
    options
}

/// `docker network inspect`'s fields (those wharf knows).
pub fn inspect_json(n: &NetworkInfo, containers: &[ContainerInfo]) -> serde_json::Value {
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

fn create(engine: &dyn Engine, args: CreateArgs) -> Result<i32> {
    if args.driver != "bridge" {
        anyhow::bail!(
            "network driver {:?} is not supported: wharf creates bridge networks only",
            args.driver
        );
    }
    let mut opts = super::key_values(&args.opts, "opt")?;
    let bridge_name = opts.remove("com.docker.network.bridge.name");
    let mtu = match opts.remove("com.docker.network.driver.mtu") {
        Some(text) => Some(
            wharf_engine_api::parse_mtu(&text)
                .ok_or_else(|| anyhow::anyhow!("MTU {text:?} is not a number from 68 to 65535"))?,
        ),
        None => None,
    };
    if let Some(key) = opts.keys().next() {
        anyhow::bail!(
            "network option {key:?} is not supported: wharf's bridge driver takes com.docker.network.bridge.name and com.docker.network.driver.mtu"
        );
    }
    let aux_addresses = super::key_values(&args.aux_addresses, "aux-address")?;
    let v4 = family_values(&args, &aux_addresses, false)?;
    let v6 = family_values(&args, &aux_addresses, true)?;
    if v6.subnet.is_some() && !args.ipv6 {
        anyhow::bail!(
            "--subnet {} is an IPv6 subnet: add --ipv6 to create a dual-stack network",
            v6.subnet.unwrap_or_default()
        );
    }
    let spec = NetworkSpec {
        name: args.name.clone(),
        labels: super::key_values(&args.labels, "label")?,
        subnet: v4.subnet,
        gateway: v4.gateway,
        ip_range: v4.ip_range,
        aux_addresses: v4.aux_addresses,
        bridge_name,
        mtu,
        internal: args.internal,
        ipv6: args.ipv6.then_some(v6),
    };
    match engine.create_network(&spec) {
        Ok(id) => println!("{id}"),
        Err(EngineError::Conflict { .. }) => {
            anyhow::bail!("network with name {} already exists", args.name)
        }
        Err(e) => return Err(e.into()),
    }
    Ok(0)
}

/// The `--subnet`, `--gateway`, `--ip-range` and `--aux-address` values of one
/// address family (IPv6 ones contain ':'), at most one of each but aux addresses.
fn family_values(
    args: &CreateArgs,
    aux_addresses: &std::collections::BTreeMap<String, String>,
    ipv6: bool,
) -> Result<wharf_engine_api::Ipv6Pool> {
    let family = if ipv6 { "IPv6" } else { "IPv4" };
    let of_family = |flag: &str, values: &[String]| -> Result<Option<String>> {
        let mut values = values.iter().filter(|v| v.contains(':') == ipv6);
        let first = values.next().cloned();
        if values.next().is_some() {
            anyhow::bail!(
                "--{flag} is given twice for {family}: a network has one {family} subnet"
            );
        }
        Ok(first)
    };
    let pool = wharf_engine_api::Ipv6Pool {
        subnet: of_family("subnet", &args.subnet)?,
        gateway: of_family("gateway", &args.gateway)?,
        ip_range: of_family("ip-range", &args.ip_range)?,
        aux_addresses: aux_addresses
            .iter()
            .filter(|(_, addr)| addr.contains(':') == ipv6)
            .map(|(host, addr)| (host.clone(), addr.clone()))
            .collect(),
    };
    let needs_subnet =
        pool.gateway.is_some() || pool.ip_range.is_some() || !pool.aux_addresses.is_empty();
    if needs_subnet && pool.subnet.is_none() && !ipv6 {
        anyhow::bail!("--gateway, --ip-range and --aux-address need --subnet");
    }
    if needs_subnet && pool.subnet.is_none() && ipv6 {
        anyhow::bail!("an IPv6 --gateway, --ip-range or --aux-address needs an IPv6 --subnet");
    }
    Ok(pool)
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

fn rm(engine: &dyn Engine, args: RmArgs) -> Result<i32> {
    let networks = engine.list_networks(&[])?;
    let mut failures = Vec::new();
    for key in &args.names {
        let Some(network) = find(&networks, key) else {
            if !args.force {
                failures.push(format!("network {key} not found"));
            }
            continue;
        };
        match engine.remove_network(&network.id) {
            Ok(()) => println!("{key}"),
            Err(EngineError::NotFound { .. }) if args.force => {}
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(0)
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

fn inspect(engine: &dyn Engine, args: InspectArgs) -> Result<i32> {
    // A bad template fails before any network is read.
    format::inspect("--format", args.format.as_deref(), &[])?;
    let networks = engine.list_networks(&[])?;
    let containers = engine.list_containers(&[])?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for key in &args.names {
        match find(&networks, key) {
            Some(n) => found.push(inspect_json(n, &containers)),
            None => failures.push(format!("network {key} not found")),
        }
    }
    print!(
        "{}",
        format::inspect("--format", args.format.as_deref(), &found)?
    );
    if failures.is_empty() {
        Ok(0)
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

fn prune(engine: &dyn Engine, args: PruneArgs) -> Result<i32> {
    use std::io::{BufRead, IsTerminal, Write};
    if !args.force {
        eprint!(
            "WARNING! This will remove all custom networks not used by at least one container.\nAre you sure you want to continue? [y/N] "
        );
        let _ = std::io::stderr().flush();
        if !std::io::stdin().is_terminal() {
            eprintln!();
            anyhow::bail!(
                "not removing anything without confirmation: add -f to prune without asking"
            );
        }
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let networks = filter_networks(engine.list_networks(&[])?, &args.filters)?;
    let containers = engine.list_containers(&[])?;
    let mut deleted = Vec::new();
    for n in networks {
        // A network any container (running or not) is attached to stays.
        if containers.iter().any(|c| c.addresses.contains_key(&n.name)) {
            continue;
        }
        match engine.remove_network(&n.id) {
            Ok(()) => deleted.push(n.name),
            Err(EngineError::Invalid(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    if !deleted.is_empty() {
        println!("Deleted Networks:");
        for name in deleted {
            println!("{name}");
        }
    }
    Ok(0)
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
        let v4 = inspect_json(&n, &[]);
        assert_eq!(v4["EnableIPv6"], false);
        assert_eq!(v4["IPAM"]["Config"].as_array().unwrap().len(), 1);
        n.ipv6 = Some(wharf_engine_api::Ipv6Pool {
            subnet: Some("fd00:db8:1::/64".into()),
            gateway: Some("fd00:db8:1::1".into()),
            ip_range: None,
            aux_addresses: Default::default(),
        });
        let dual = inspect_json(&n, &[]);
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
        assert!(filter_networks(all.clone(), &["bogus=1".into()]).is_err());
        assert_eq!(find(&all, "mine").unwrap().id, "bbbb2222");
        assert_eq!(find(&all, "aaaa").unwrap().name, "hello_default");
        assert!(find(&all, "zzz").is_none());
        let json = ls_json(&all[0]);
        assert_eq!(json["Labels"], "com.docker.compose.project=hello");
        assert_eq!(json["Driver"], "bridge");
    }
}
