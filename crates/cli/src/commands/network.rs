//! `wharf network ls|create|rm|inspect|prune`: docker's network commands over
//! the engine's networks (Linux bridges), with docker's output.

use crate::context::GlobalOptions;
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
    /// Format output: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    pub name: String,
    /// Driver to manage the network (only bridge)
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// Subnet in CIDR format (one is picked when not given)
    #[arg(long)]
    pub subnet: Option<String>,
    /// IPv4 gateway of the subnet (its first address when not given)
    #[arg(long)]
    pub gateway: Option<String>,
    /// Allocate container addresses from this part of the subnet (CIDR)
    #[arg(long)]
    pub ip_range: Option<String>,
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
    /// Format output: json (the default)
    #[arg(short = 'f', long, default_value = "json")]
    pub format: String,
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
    }
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

fn ls(engine: &dyn Engine, args: LsArgs) -> Result<i32> {
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
    match args.format.as_str() {
        "table" => {
            let rows: Vec<Vec<String>> = networks
                .iter()
                .map(|n| vec![id(n), n.name.clone(), "bridge".into(), "local".into()])
                .collect();
            print!(
                "{}",
                table::render(&["NETWORK ID", "NAME", "DRIVER", "SCOPE"], &rows)
            );
        }
        "json" => {
            // docker prints one JSON object a line.
            for n in &networks {
                println!("{}", serde_json::to_string(&ls_json(n))?);
            }
        }
        other => anyhow::bail!("unsupported format {other:?}: use table or json"),
    }
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

fn network_options(n: &NetworkInfo) -> serde_json::Value {
    let mut options = serde_json::json!({ "com.docker.network.bridge.name": n.bridge });
    if let Some(mtu) = n.mtu {
        options["com.docker.network.driver.mtu"] = mtu.to_string().into();
    }
    options
}

/// `docker network inspect`'s fields (those wharf knows).
fn inspect_json(n: &NetworkInfo, containers: &[ContainerInfo]) -> serde_json::Value {
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
                    "IPv6Address": "",
                }),
            ))
        })
        .collect();
    serde_json::json!({
        "Name": n.name,
        "Id": n.id,
        "Scope": "local",
        "Driver": "bridge",
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": [ipam_config(n)],
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
            text.parse::<u32>()
                .ok()
                .filter(|m| (68..=65535).contains(m))
                .ok_or_else(|| anyhow::anyhow!("MTU {text:?} is not a number from 68 to 65535"))?,
        ),
        None => None,
    };
    if let Some(key) = opts.keys().next() {
        anyhow::bail!(
            "network option {key:?} is not supported: wharf's bridge driver takes com.docker.network.bridge.name and com.docker.network.driver.mtu"
        );
    }
    let needs_subnet =
        args.gateway.is_some() || args.ip_range.is_some() || !args.aux_addresses.is_empty();
    if needs_subnet && args.subnet.is_none() {
        anyhow::bail!("--gateway, --ip-range and --aux-address need --subnet");
    }
    let spec = NetworkSpec {
        name: args.name.clone(),
        labels: super::key_values(&args.labels, "label")?,
        subnet: args.subnet.clone(),
        gateway: args.gateway.clone(),
        ip_range: args.ip_range.clone(),
        aux_addresses: super::key_values(&args.aux_addresses, "aux-address")?
            .into_iter()
            .collect(),
        bridge_name,
        mtu,
        internal: args.internal,
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

/// The network named or identified (id or unique id prefix) by `key`.
fn find<'a>(networks: &'a [NetworkInfo], key: &str) -> Option<&'a NetworkInfo> {
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
    if args.format != "json" {
        anyhow::bail!(
            "unsupported format {:?}: wharf prints networks as JSON",
            args.format
        );
    }
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
    println!("{}", serde_json::to_string_pretty(&found)?);
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
        }
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
