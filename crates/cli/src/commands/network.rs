//! `wharf network ls|create|rm|inspect|prune|connect|disconnect`: docker's
//! network commands over the engine's networks (Linux bridges), with docker's
//! output.

use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::table;
use anyhow::Result;
use clap::{Args, Subcommand};
use wharf_app::filters::Filters;
use wharf_app::networks;
use wharf_engine_api::{Engine, NetworkInfo};

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
        NetworkCommand::Connect(args) => {
            let options = networks::ConnectOptions {
                aliases: args.aliases,
                ipv4_address: args.ip,
                ipv6_address: args.ip6,
            };
            networks::connect(&engine, &args.network, &args.container, options)?;
            Ok(0)
        }
        NetworkCommand::Disconnect(args) => {
            networks::disconnect(&engine, &args.network, &args.container, args.force)?;
            Ok(0)
        }
    }
}

/// docker's `network inspect` document and the lookup by name, id or id
/// prefix (also `docker inspect`'s).
pub use networks::{find, inspect_document as inspect_json};

fn filters(flags: &[String]) -> Result<Filters> {
    Ok(Filters::from_flags(flags, "label=com.example")?)
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
    let networks = networks::list(engine, &filters(&args.filters)?)?;
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

fn create(engine: &dyn Engine, args: CreateArgs) -> Result<i32> {
    let options = networks::CreateOptions {
        name: args.name,
        driver: args.driver,
        subnets: args.subnet,
        gateways: args.gateway,
        ip_ranges: args.ip_range,
        ipv6: args.ipv6,
        aux_addresses: super::key_values(&args.aux_addresses, "aux-address")?,
        options: super::key_values(&args.opts, "opt")?,
        internal: args.internal,
        labels: super::key_values(&args.labels, "label")?,
    };
    println!("{}", networks::create(engine, &options)?);
    Ok(0)
}

fn rm(engine: &dyn Engine, args: RmArgs) -> Result<i32> {
    let mut failures = Vec::new();
    for key in &args.names {
        match networks::remove(engine, key, args.force) {
            Ok(true) => println!("{key}"),
            Ok(false) => {}
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
    let report = networks::prune(engine, &filters(&args.filters)?)?;
    if !report.removed.is_empty() {
        println!("Deleted Networks:");
        for name in report.removed {
            println!("{name}");
        }
    }
    for failure in report.failures {
        eprintln!("WARNING: {failure}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ls_json_reads_as_docker_lists_a_network() {
        let n = NetworkInfo {
            id: "aaaa1111".into(),
            name: "hello_default".into(),
            labels: [(
                "com.docker.compose.project".to_string(),
                "hello".to_string(),
            )]
            .into(),
            subnet: "172.18.0.0/16".into(),
            gateway: "172.18.0.1".parse().unwrap(),
            bridge: "br-x".into(),
            ip_range: None,
            aux_addresses: Default::default(),
            mtu: None,
            ipv6: None,
        };
        let json = ls_json(&n);
        assert_eq!(json["Labels"], "com.docker.compose.project=hello");
        assert_eq!(json["Driver"], "bridge");
    }
}
