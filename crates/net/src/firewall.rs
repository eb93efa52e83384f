//! Firewall drivers (netavark style): outbound NAT and forwarding rules for each network.
//! `Nftables` keeps everything in one table, `inet wharf`, and never touches other tables;
//! `NoFirewall` does nothing (for hosts managed by other means).
//!
//! Layout of `inet wharf`: base chains `postrouting` (nat, srcnat) and `forward` (filter)
//! hold only verdict-map dispatch rules; each network has its own chains `nat-<bridge>`
//! and `fwd-<bridge>`, reached through map elements keyed by subnet / bridge name. IPv4
//! and IPv6 source subnets have one map each; the per-network chains serve both. Setup
//! (re)writes a network's chains and elements; teardown deletes exactly those, without
//! having to look up rule handles. Both are single atomic `nft -j -f -` transactions.
//! Published ports: base chain `prerouting` (nat, dstnat) sends traffic to a local
//! address, not coming from a wharf bridge (set `bridges`), to chain `port-dnat`;
//! `forward` first jumps to `port-fwd`. Both hold every container's rules, each
//! tagged `wharf container <id>`, found by that comment when they are replaced or
//! removed. Traffic between two wharf bridges is dropped (networks are isolated).

use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use ipnet::{Ipv4Net, Ipv6Net};
use serde_json::{json, Value};

use crate::link::check_ifname;
use crate::NetError;

/// A firewall backend that sets up NAT and forwarding for a network.
pub trait FirewallDriver {
    /// Add (or refresh) the rules of network `bridge`/`subnet`: masquerade traffic from
    /// the subnet that leaves through another interface, allow forwarding from the bridge
    /// and back; with `internal`, drop forwarding out of (and into) the bridge instead.
    /// `subnet_v6` is the network's IPv6 subnet on dual-stack networks, masqueraded
    /// the same way.
    fn setup_network(
        &self,
        bridge: &str,
        subnet: Ipv4Net,
        subnet_v6: Option<Ipv6Net>,
        internal: bool,
    ) -> Result<(), NetError>;
    /// Remove the rules of network `bridge`/`subnet` (and `subnet_v6`); Ok if there are
    /// none.
    fn teardown_network(
        &self,
        bridge: &str,
        subnet: Ipv4Net,
        subnet_v6: Option<Ipv6Net>,
    ) -> Result<(), NetError>;
    /// Replace the published-port rules of container `container_id` with
    /// `forwards`: traffic from other hosts to a local address on a host port
    /// is DNATed to the container, keeping the client's source address. An
    /// empty list just removes them.
    fn setup_ports(&self, container_id: &str, forwards: &[PortForward]) -> Result<(), NetError> {
        let _ = (container_id, forwards);
        Ok(())
    }
    /// Remove the published-port rules of container `container_id`; Ok if
    /// there are none.
    fn teardown_ports(&self, container_id: &str) -> Result<(), NetError> {
        self.setup_ports(container_id, &[])
    }
    /// Move the published ports of container `from_id` to container `to_id`
    /// (a start-first update): `from_id`'s rules go and `to_id`'s `forwards`
    /// come in one step, so no connection attempt finds neither. This
    /// default is two steps; drivers that can, do it in one transaction.
    fn hand_over_ports(
        &self,
        from_id: &str,
        to_id: &str,
        forwards: &[PortForward],
    ) -> Result<(), NetError> {
        self.setup_ports(to_id, forwards)?;
        self.teardown_ports(from_id)
    }
    /// Short driver name for messages ("nftables", "none").
    fn name(&self) -> &'static str {
        "custom"
    }
}

/// One published port to DNAT: `host_port` on `host_ip` (every local address
/// of the family of `target` when None) to `target`:`target_port` behind
/// `bridge`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortForward {
    pub host_ip: Option<IpAddr>,
    pub host_port: u16,
    pub udp: bool,
    pub target: IpAddr,
    pub target_port: u16,
    pub bridge: String,
}

/// The nftables driver, through `nft`'s JSON interface.
#[derive(Debug, Clone, Copy, Default)]
pub struct Nftables;

/// The driver that sets up nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoFirewall;

/// `Nftables` when an executable `nft` is found, else `NoFirewall`.
pub fn detect() -> Box<dyn FirewallDriver> {
    if find_nft().is_some() {
        Box::new(Nftables)
    } else {
        Box::new(NoFirewall)
    }
}

impl FirewallDriver for NoFirewall {
    fn setup_network(
        &self,
        _: &str,
        _: Ipv4Net,
        _: Option<Ipv6Net>,
        _: bool,
    ) -> Result<(), NetError> {
        Ok(())
    }
    fn teardown_network(&self, _: &str, _: Ipv4Net, _: Option<Ipv6Net>) -> Result<(), NetError> {
        Ok(())
    }
    fn name(&self) -> &'static str {
        "none"
    }
}

impl FirewallDriver for Nftables {
    fn setup_network(
        &self,
        bridge: &str,
        subnet: Ipv4Net,
        subnet_v6: Option<Ipv6Net>,
        internal: bool,
    ) -> Result<(), NetError> {
        check_bridge_name(bridge)?;
        run_nft(
            &format!("setting up the firewall rules of network bridge {bridge:?} ({subnet})"),
            &Nftables::setup_ruleset(bridge, subnet, subnet_v6, internal),
        )
    }

    fn teardown_network(
        &self,
        bridge: &str,
        subnet: Ipv4Net,
        subnet_v6: Option<Ipv6Net>,
    ) -> Result<(), NetError> {
        check_bridge_name(bridge)?;
        let action = format!("removing the firewall rules of network bridge {bridge:?} ({subnet})");
        // One nft run in the usual case: everything setup made is there. When
        // something is already gone the whole batch fails (nothing is changed)
        // and the tolerant ruleset, which adds before it deletes, runs instead.
        let strict = Nftables::strict_teardown_ruleset(bridge, subnet, subnet_v6).to_string();
        let (ok, ..) = nft_command(&["-j", "-f", "-"], Some(strict.as_bytes()), &action)?;
        if ok {
            return Ok(());
        }
        if !table_exists()? {
            return Ok(());
        }
        run_nft(
            &action,
            &Nftables::teardown_ruleset(bridge, subnet, subnet_v6),
        )
    }

    fn setup_ports(&self, container_id: &str, forwards: &[PortForward]) -> Result<(), NetError> {
        for forward in forwards {
            check_bridge_name(&forward.bridge)?;
        }
        let action = format!("setting up the published ports of container {container_id}");
        // Whatever an earlier start left (a monitor killed before it could
        // clean up) goes in the same transaction that adds the new rules.
        let existing = match list_table(&action)? {
            Some(listing) => port_rule_handles(&listing, container_id),
            None => Vec::new(),
        };
        if forwards.is_empty() && existing.is_empty() {
            return Ok(());
        }
        run_nft(
            &action,
            &Nftables::ports_ruleset(container_id, &existing, forwards),
        )
    }

    fn hand_over_ports(
        &self,
        from_id: &str,
        to_id: &str,
        forwards: &[PortForward],
    ) -> Result<(), NetError> {
        for forward in forwards {
            check_bridge_name(&forward.bridge)?;
        }
        let action = format!("handing the published ports of container {from_id} to {to_id}");
        let existing = match list_table(&action)? {
            Some(listing) => [from_id, to_id]
                .iter()
                .flat_map(|id| port_rule_handles(&listing, id))
                .collect(),
            None => Vec::new(),
        };
        // One document is one nftables transaction: the old rules are
        // deleted and the new ones added atomically.
        run_nft(
            &action,
            &Nftables::ports_ruleset(to_id, &existing, forwards),
        )
    }

    fn name(&self) -> &'static str {
        "nftables"
    }
}

/// The family and name of wharf's table.
pub const TABLE_FAMILY: &str = "inet";
pub const TABLE_NAME: &str = "wharf";
const NAT_MAP: &str = "nat_by_subnet";
const NAT6_MAP: &str = "nat6_by_subnet";
const IIF_MAP: &str = "fwd_by_iif";
const OIF_MAP: &str = "fwd_by_oif";
/// The set of every wharf bridge: traffic from containers to a published port
/// is left to the port's proxy (DNAT back onto a bridge would need masquerade
/// and would cross the isolation between networks).
const BRIDGES_SET: &str = "bridges";
/// Regular chains holding every container's published-port rules, each rule
/// tagged with its container (`wharf container <id>`).
const PORT_DNAT_CHAIN: &str = "port-dnat";
const PORT_FWD_CHAIN: &str = "port-fwd";

fn port_tag(container_id: &str) -> String {
    format!("wharf container {container_id}")
}

fn nat_chain(bridge: &str) -> String {
    format!("nat-{bridge}")
}
fn fwd_chain(bridge: &str) -> String {
    format!("fwd-{bridge}")
}

/// Bridge names are matched as nft strings, where `*` would be a wildcard.
fn check_bridge_name(bridge: &str) -> Result<(), NetError> {
    check_ifname(bridge)?;
    if bridge.contains(['*', '\\', '"']) {
        return Err(NetError::InvalidInterfaceName {
            name: bridge.to_string(),
            reason: "a bridge name for the firewall must not contain '*', '\\' or '\"'",
        });
    }
    Ok(())
}

fn table() -> Value {
    json!({"table": {"family": TABLE_FAMILY, "name": TABLE_NAME}})
}
fn chain(name: &str) -> Value {
    json!({"chain": {"family": TABLE_FAMILY, "table": TABLE_NAME, "name": name}})
}
fn base_chain(name: &str, kind: &str, hook: &str, prio: i32) -> Value {
    json!({"chain": {"family": TABLE_FAMILY, "table": TABLE_NAME, "name": name,
        "type": kind, "hook": hook, "prio": prio, "policy": "accept"}})
}
fn verdict_map(name: &str, key_type: &str, interval: bool) -> Value {
    let mut map = json!({"family": TABLE_FAMILY, "table": TABLE_NAME, "name": name,
        "type": key_type, "map": "verdict"});
    if interval {
        map["flags"] = json!(["interval"]);
    }
    json!({ "map": map })
}
fn rule(chain: &str, expr: Vec<Value>, comment: Option<&str>) -> Value {
    let mut rule =
        json!({"family": TABLE_FAMILY, "table": TABLE_NAME, "chain": chain, "expr": expr});
    if let Some(comment) = comment {
        rule["comment"] = json!(comment);
    }
    json!({ "rule": rule })
}
fn set(name: &str, key_type: &str) -> Value {
    json!({"set": {"family": TABLE_FAMILY, "table": TABLE_NAME, "name": name, "type": key_type}})
}
fn elements(map: &str, elem: Vec<Value>) -> Value {
    json!({"element": {"family": TABLE_FAMILY, "table": TABLE_NAME, "name": map, "elem": elem}})
}
fn meta_match(op: &str, key: &str, value: &str) -> Value {
    json!({"match": {"op": op, "left": {"meta": {"key": key}}, "right": value}})
}
fn prefix(subnet: Ipv4Net) -> Value {
    json!({"prefix": {"addr": subnet.network().to_string(), "len": subnet.prefix_len()}})
}
fn prefix_v6(subnet: Ipv6Net) -> Value {
    json!({"prefix": {"addr": subnet.network().to_string(), "len": subnet.prefix_len()}})
}
fn jump(chain: &str) -> Value {
    json!({"jump": {"target": chain}})
}
fn cmd(verb: &str, object: Value) -> Value {
    json!({ verb: object })
}

impl Nftables {
    /// The `nft -j` document that sets up network `bridge`/`subnet` (and `subnet_v6`)
    /// (idempotent).
    pub fn setup_ruleset(
        bridge: &str,
        subnet: Ipv4Net,
        subnet_v6: Option<Ipv6Net>,
        internal: bool,
    ) -> Value {
        let subnet = subnet.trunc();
        let subnet_v6 = subnet_v6.map(|s| s.trunc());
        let (nat, fwd) = (nat_chain(bridge), fwd_chain(bridge));
        let tag = format!("wharf network {bridge} {subnet}");
        let tag = Some(tag.as_str());
        // Chains must be declared before the maps whose elements jump to them.
        let mut commands = vec![
            cmd("add", table()),
            cmd("add", base_chain("postrouting", "nat", "postrouting", 100)),
            cmd("add", base_chain("forward", "filter", "forward", 0)),
            cmd("add", base_chain("prerouting", "nat", "prerouting", -100)),
            cmd("add", chain(&nat)),
            cmd("add", chain(&fwd)),
            cmd("add", chain(PORT_DNAT_CHAIN)),
            cmd("add", chain(PORT_FWD_CHAIN)),
            cmd("add", verdict_map(NAT_MAP, "ipv4_addr", true)),
            cmd("add", verdict_map(NAT6_MAP, "ipv6_addr", true)),
            cmd("add", verdict_map(IIF_MAP, "ifname", false)),
            cmd("add", verdict_map(OIF_MAP, "ifname", false)),
            cmd("add", set(BRIDGES_SET, "ifname")),
            // The base chains hold only the dispatch rules: rewrite them.
            cmd("flush", chain("prerouting")),
            cmd("flush", chain("postrouting")),
            cmd("flush", chain("forward")),
            cmd(
                "add",
                rule(
                    "prerouting",
                    vec![
                        meta_match("==", "iifname", &format!("@{BRIDGES_SET}")),
                        json!({"return": null}),
                    ],
                    None,
                ),
            ),
            cmd(
                "add",
                rule(
                    "prerouting",
                    vec![
                        json!({"match": {"op": "==", "left": {"fib": {"result": "type", "flags": ["daddr"]}}, "right": "local"}}),
                        jump(PORT_DNAT_CHAIN),
                    ],
                    None,
                ),
            ),
            cmd("add", rule("forward", vec![jump(PORT_FWD_CHAIN)], None)),
            cmd(
                "add",
                rule(
                    "postrouting",
                    vec![
                        json!({"vmap": {"key": {"payload": {"protocol": "ip", "field": "saddr"}},
                        "data": format!("@{NAT_MAP}")}}),
                    ],
                    None,
                ),
            ),
            cmd(
                "add",
                rule(
                    "postrouting",
                    vec![
                        json!({"vmap": {"key": {"payload": {"protocol": "ip6", "field": "saddr"}},
                        "data": format!("@{NAT6_MAP}")}}),
                    ],
                    None,
                ),
            ),
            cmd(
                "add",
                rule(
                    "forward",
                    vec![
                        json!({"vmap": {"key": {"meta": {"key": "iifname"}}, "data": format!("@{IIF_MAP}")}}),
                    ],
                    None,
                ),
            ),
            cmd(
                "add",
                rule(
                    "forward",
                    vec![
                        json!({"vmap": {"key": {"meta": {"key": "oifname"}}, "data": format!("@{OIF_MAP}")}}),
                    ],
                    None,
                ),
            ),
            cmd("flush", chain(&nat)),
            cmd("flush", chain(&fwd)),
        ];
        if internal {
            commands.push(cmd(
                "add",
                rule(
                    &fwd,
                    vec![
                        meta_match("==", "iifname", bridge),
                        meta_match("!=", "oifname", bridge),
                        json!({"drop": null}),
                    ],
                    tag,
                ),
            ));
            commands.push(cmd(
                "add",
                rule(
                    &fwd,
                    vec![
                        meta_match("==", "oifname", bridge),
                        meta_match("!=", "iifname", bridge),
                        json!({"drop": null}),
                    ],
                    tag,
                ),
            ));
        } else {
            commands.push(cmd(
                "add",
                rule(
                    &nat,
                    vec![
                        meta_match("!=", "oifname", bridge),
                        json!({"masquerade": null}),
                    ],
                    tag,
                ),
            ));
            commands.push(cmd(
                "add",
                rule(
                    &fwd,
                    vec![
                        meta_match("==", "oifname", bridge),
                        json!({"match": {"op": "in", "left": {"ct": {"key": "state"}},
                            "right": ["established", "related"]}}),
                        json!({"accept": null}),
                    ],
                    tag,
                ),
            ));
            // Networks are isolated from each other, as docker's are.
            commands.push(cmd(
                "add",
                rule(
                    &fwd,
                    vec![
                        meta_match("==", "iifname", bridge),
                        meta_match("!=", "oifname", bridge),
                        meta_match("==", "oifname", &format!("@{BRIDGES_SET}")),
                        json!({"drop": null}),
                    ],
                    tag,
                ),
            ));
            commands.push(cmd(
                "add",
                rule(
                    &fwd,
                    vec![meta_match("==", "iifname", bridge), json!({"accept": null})],
                    tag,
                ),
            ));
        }
        commands.push(cmd(
            "add",
            elements(NAT_MAP, vec![json!([prefix(subnet), jump(&nat)])]),
        ));
        if let Some(v6) = subnet_v6 {
            commands.push(cmd(
                "add",
                elements(NAT6_MAP, vec![json!([prefix_v6(v6), jump(&nat)])]),
            ));
        }
        commands.extend([
            cmd("add", elements(IIF_MAP, vec![json!([bridge, jump(&fwd)])])),
            cmd("add", elements(OIF_MAP, vec![json!([bridge, jump(&fwd)])])),
            cmd("add", elements(BRIDGES_SET, vec![json!(bridge)])),
        ]);
        json!({ "nftables": commands })
    }

    /// The `nft -j` document that replaces the published-port rules of
    /// `container_id`: deletes the rules `existing` (chain, handle) and adds
    /// one DNAT rule and one forward accept rule per forward.
    pub fn ports_ruleset(
        container_id: &str,
        existing: &[(String, u64)],
        forwards: &[PortForward],
    ) -> Value {
        let tag = port_tag(container_id);
        let mut commands = vec![
            cmd("add", table()),
            cmd("add", chain(PORT_DNAT_CHAIN)),
            cmd("add", chain(PORT_FWD_CHAIN)),
        ];
        for (chain, handle) in existing {
            commands.push(cmd(
                "delete",
                json!({"rule": {"family": TABLE_FAMILY, "table": TABLE_NAME, "chain": chain, "handle": handle}}),
            ));
        }
        for forward in forwards {
            let (family, nfproto) = match forward.target {
                IpAddr::V4(_) => ("ip", "ipv4"),
                IpAddr::V6(_) => ("ip6", "ipv6"),
            };
            let proto = if forward.udp { "udp" } else { "tcp" };
            let port_match = |port: u16| json!({"match": {"op": "==", "left": {"payload": {"protocol": proto, "field": "dport"}}, "right": port}});
            let addr_match = |addr: IpAddr| json!({"match": {"op": "==", "left": {"payload": {"protocol": family, "field": "daddr"}}, "right": addr.to_string()}});
            let mut dnat = Vec::new();
            match forward.host_ip {
                Some(host_ip) => dnat.push(addr_match(host_ip)),
                None => dnat.push(meta_match("==", "nfproto", nfproto)),
            }
            dnat.push(port_match(forward.host_port));
            dnat.push(json!({"dnat": {"family": family, "addr": forward.target.to_string(), "port": forward.target_port}}));
            commands.push(cmd("add", rule(PORT_DNAT_CHAIN, dnat, Some(&tag))));
            commands.push(cmd(
                "add",
                rule(
                    PORT_FWD_CHAIN,
                    vec![
                        meta_match("==", "oifname", &forward.bridge),
                        addr_match(forward.target),
                        port_match(forward.target_port),
                        json!({"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}),
                        json!({"accept": null}),
                    ],
                    Some(&tag),
                ),
            ));
        }
        json!({ "nftables": commands })
    }

    /// The `nft -j` document that removes network `bridge`/`subnet`. It first adds what
    /// it deletes (a no-op when present), so it succeeds even if parts are already gone.
    /// The deletions of [`Nftables::teardown_ruleset`] alone: fails as a whole
    /// when any of them is already gone.
    pub fn strict_teardown_ruleset(
        bridge: &str,
        subnet: Ipv4Net,
        subnet_v6: Option<Ipv6Net>,
    ) -> Value {
        let subnet = subnet.trunc();
        let (nat, fwd) = (nat_chain(bridge), fwd_chain(bridge));
        let mut commands = vec![cmd("delete", elements(NAT_MAP, vec![prefix(subnet)]))];
        if let Some(v6) = subnet_v6 {
            commands.push(cmd(
                "delete",
                elements(NAT6_MAP, vec![prefix_v6(v6.trunc())]),
            ));
        }
        commands.extend([
            cmd("delete", elements(IIF_MAP, vec![json!(bridge)])),
            cmd("delete", elements(OIF_MAP, vec![json!(bridge)])),
            cmd("delete", elements(BRIDGES_SET, vec![json!(bridge)])),
            cmd("flush", chain(&nat)),
            cmd("flush", chain(&fwd)),
            cmd("delete", chain(&nat)),
            cmd("delete", chain(&fwd)),
        ]);
        json!({ "nftables": commands })
    }

    /// Tolerant teardown: adds everything the deletions need (a no-op for what
    /// exists), then the deletions of [`Nftables::strict_teardown_ruleset`], so
    /// it succeeds whatever is already gone.
    pub fn teardown_ruleset(bridge: &str, subnet: Ipv4Net, subnet_v6: Option<Ipv6Net>) -> Value {
        let subnet = subnet.trunc();
        let (nat, fwd) = (nat_chain(bridge), fwd_chain(bridge));
        let mut commands = vec![
            cmd("add", table()),
            cmd("add", chain(&nat)),
            cmd("add", chain(&fwd)),
            cmd("add", verdict_map(NAT_MAP, "ipv4_addr", true)),
            cmd("add", verdict_map(IIF_MAP, "ifname", false)),
            cmd("add", verdict_map(OIF_MAP, "ifname", false)),
            cmd(
                "add",
                elements(NAT_MAP, vec![json!([prefix(subnet), jump(&nat)])]),
            ),
            cmd("add", elements(IIF_MAP, vec![json!([bridge, jump(&fwd)])])),
            cmd("add", elements(OIF_MAP, vec![json!([bridge, jump(&fwd)])])),
            cmd("add", set(BRIDGES_SET, "ifname")),
            cmd("add", elements(BRIDGES_SET, vec![json!(bridge)])),
        ];
        if let Some(v6) = subnet_v6 {
            commands.extend([
                cmd("add", verdict_map(NAT6_MAP, "ipv6_addr", true)),
                cmd(
                    "add",
                    elements(NAT6_MAP, vec![json!([prefix_v6(v6.trunc()), jump(&nat)])]),
                ),
            ]);
        }
        let deletions = Nftables::strict_teardown_ruleset(bridge, subnet, subnet_v6);
        if let Value::Array(deletions) = &deletions["nftables"] {
            commands.extend(deletions.iter().cloned());
        }
        json!({ "nftables": commands })
    }
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// Path of an executable `nft`: PATH first, then the sbin directories that a non-root
/// PATH often lacks.
pub fn find_nft() -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/sbin", "/usr/local/sbin"].map(PathBuf::from))
        .map(|dir| dir.join("nft"))
        .find(|candidate| is_executable(candidate))
}

fn nft_hint(stderr: &str) -> &'static str {
    if stderr.contains("Operation not permitted") {
        "changing the firewall needs root (CAP_NET_ADMIN): run wharf as root"
    } else if stderr.contains("Protocol not supported") || stderr.contains("not supported") {
        "the kernel lacks nftables support: load the nf_tables, nft_nat and nft_masq modules"
    } else {
        "check `nft list table inet wharf` and the kernel log; `nft -j -f -` received the \
         document wharf generated"
    }
}

/// Run `nft` with `args`, feeding `stdin`; returns (success, stdout, stderr, status).
fn nft_command(
    args: &[&str],
    stdin: Option<&[u8]>,
    action: &str,
) -> Result<(bool, String, String, String), NetError> {
    let nft = find_nft().ok_or(NetError::NftNotInstalled)?;
    let mut child = Command::new(&nft)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| NetError::Io {
            action: format!("running {} while {action}", nft.display()),
            source,
            hint: "check that nft is installed correctly (package `nftables`)".to_string(),
        })?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        // nft reads all input before it writes anything, so this cannot deadlock.
        let _ = pipe.write_all(input);
    }
    let output = child.wait_with_output().map_err(|source| NetError::Io {
        action: format!("waiting for nft while {action}"),
        source,
        hint: "retry".to_string(),
    })?;
    Ok((
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).trim().to_string(),
        output.status.to_string(),
    ))
}

fn run_nft(action: &str, document: &Value) -> Result<(), NetError> {
    let input = document.to_string();
    let (ok, _, stderr, status) = nft_command(&["-j", "-f", "-"], Some(input.as_bytes()), action)?;
    if ok {
        return Ok(());
    }
    Err(NetError::Nft {
        action: action.to_string(),
        hint: nft_hint(&stderr).to_string(),
        status,
        stderr,
    })
}

/// The JSON listing of wharf's table, None when it does not exist.
fn list_table(action: &str) -> Result<Option<Value>, NetError> {
    let (ok, stdout, stderr, status) = nft_command(
        &["-j", "list", "table", TABLE_FAMILY, TABLE_NAME],
        None,
        action,
    )?;
    if !ok {
        if stderr.contains("No such file or directory") {
            return Ok(None);
        }
        return Err(NetError::Nft {
            action: action.to_string(),
            hint: nft_hint(&stderr).to_string(),
            status,
            stderr,
        });
    }
    serde_json::from_str(&stdout)
        .map(Some)
        .map_err(|e| NetError::Nft {
            action: action.to_string(),
            hint: "nft printed a listing wharf cannot read: check the nftables version".to_string(),
            status,
            stderr: e.to_string(),
        })
}

/// (chain, handle) of every published-port rule of `container_id` in `listing`.
fn port_rule_handles(listing: &Value, container_id: &str) -> Vec<(String, u64)> {
    let tag = port_tag(container_id);
    let Some(items) = listing["nftables"].as_array() else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| {
            let rule = item.get("rule")?;
            let chain = rule["chain"].as_str()?;
            let ours = (chain == PORT_DNAT_CHAIN || chain == PORT_FWD_CHAIN)
                && rule["comment"].as_str() == Some(tag.as_str());
            ours.then(|| Some((chain.to_string(), rule["handle"].as_u64()?)))
                .flatten()
        })
        .collect()
}

fn table_exists() -> Result<bool, NetError> {
    let action = "checking whether table inet wharf exists";
    let (ok, _, stderr, status) = nft_command(
        &["-j", "list", "table", TABLE_FAMILY, TABLE_NAME],
        None,
        action,
    )?;
    if ok {
        return Ok(true);
    }
    if stderr.contains("No such file or directory") {
        return Ok(false);
    }
    Err(NetError::Nft {
        action: action.to_string(),
        hint: nft_hint(&stderr).to_string(),
        status,
        stderr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "\"family\":\"inet\",\"table\":\"wharf\"";

    fn golden(text: &str) -> Value {
        serde_json::from_str(&text.replace("$T", T)).expect("golden JSON parses")
    }

    #[test]
    fn setup_document_golden() {
        let doc = Nftables::setup_ruleset("wbr0", "10.89.0.0/24".parse().unwrap(), None, false);
        let expected = golden(
            r#"{"nftables":[
            {"add":{"table":{"family":"inet","name":"wharf"}}},
            {"add":{"chain":{$T,"name":"postrouting","type":"nat","hook":"postrouting","prio":100,"policy":"accept"}}},
            {"add":{"chain":{$T,"name":"forward","type":"filter","hook":"forward","prio":0,"policy":"accept"}}},
            {"add":{"chain":{$T,"name":"prerouting","type":"nat","hook":"prerouting","prio":-100,"policy":"accept"}}},
            {"add":{"chain":{$T,"name":"nat-wbr0"}}},
            {"add":{"chain":{$T,"name":"fwd-wbr0"}}},
            {"add":{"chain":{$T,"name":"port-dnat"}}},
            {"add":{"chain":{$T,"name":"port-fwd"}}},
            {"add":{"map":{$T,"name":"nat_by_subnet","type":"ipv4_addr","map":"verdict","flags":["interval"]}}},
            {"add":{"map":{$T,"name":"nat6_by_subnet","type":"ipv6_addr","map":"verdict","flags":["interval"]}}},
            {"add":{"map":{$T,"name":"fwd_by_iif","type":"ifname","map":"verdict"}}},
            {"add":{"map":{$T,"name":"fwd_by_oif","type":"ifname","map":"verdict"}}},
            {"add":{"set":{$T,"name":"bridges","type":"ifname"}}},
            {"flush":{"chain":{$T,"name":"prerouting"}}},
            {"flush":{"chain":{$T,"name":"postrouting"}}},
            {"flush":{"chain":{$T,"name":"forward"}}},
            {"add":{"rule":{$T,"chain":"prerouting","expr":[{"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"@bridges"}},{"return":null}]}}},
            {"add":{"rule":{$T,"chain":"prerouting","expr":[{"match":{"op":"==","left":{"fib":{"result":"type","flags":["daddr"]}},"right":"local"}},{"jump":{"target":"port-dnat"}}]}}},
            {"add":{"rule":{$T,"chain":"forward","expr":[{"jump":{"target":"port-fwd"}}]}}},
            {"add":{"rule":{$T,"chain":"postrouting","expr":[{"vmap":{"key":{"payload":{"protocol":"ip","field":"saddr"}},"data":"@nat_by_subnet"}}]}}},
            {"add":{"rule":{$T,"chain":"postrouting","expr":[{"vmap":{"key":{"payload":{"protocol":"ip6","field":"saddr"}},"data":"@nat6_by_subnet"}}]}}},
            {"add":{"rule":{$T,"chain":"forward","expr":[{"vmap":{"key":{"meta":{"key":"iifname"}},"data":"@fwd_by_iif"}}]}}},
            {"add":{"rule":{$T,"chain":"forward","expr":[{"vmap":{"key":{"meta":{"key":"oifname"}},"data":"@fwd_by_oif"}}]}}},
            {"flush":{"chain":{$T,"name":"nat-wbr0"}}},
            {"flush":{"chain":{$T,"name":"fwd-wbr0"}}},
            {"add":{"rule":{$T,"chain":"nat-wbr0","comment":"wharf network wbr0 10.89.0.0/24","expr":[
                {"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"wbr0"}},{"masquerade":null}]}}},
            {"add":{"rule":{$T,"chain":"fwd-wbr0","comment":"wharf network wbr0 10.89.0.0/24","expr":[
                {"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wbr0"}},
                {"match":{"op":"in","left":{"ct":{"key":"state"}},"right":["established","related"]}},{"accept":null}]}}},
            {"add":{"rule":{$T,"chain":"fwd-wbr0","comment":"wharf network wbr0 10.89.0.0/24","expr":[
                {"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"wbr0"}},
                {"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"wbr0"}},
                {"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"@bridges"}},{"drop":null}]}}},
            {"add":{"rule":{$T,"chain":"fwd-wbr0","comment":"wharf network wbr0 10.89.0.0/24","expr":[
                {"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"wbr0"}},{"accept":null}]}}},
            {"add":{"element":{$T,"name":"nat_by_subnet","elem":[[{"prefix":{"addr":"10.89.0.0","len":24}},{"jump":{"target":"nat-wbr0"}}]]}}},
            {"add":{"element":{$T,"name":"fwd_by_iif","elem":[["wbr0",{"jump":{"target":"fwd-wbr0"}}]]}}},
            {"add":{"element":{$T,"name":"fwd_by_oif","elem":[["wbr0",{"jump":{"target":"fwd-wbr0"}}]]}}},
            {"add":{"element":{$T,"name":"bridges","elem":["wbr0"]}}}
            ]}"#,
        );
        assert_eq!(doc, expected, "got:\n{doc:#}");
    }

    #[test]
    fn internal_setup_document_drops_instead_of_nat() {
        let doc = Nftables::setup_ruleset("wbr1", "10.90.0.0/16".parse().unwrap(), None, true);
        let commands = doc["nftables"].as_array().unwrap();
        let rules: Vec<&Value> = commands
            .iter()
            .filter_map(|c| c["add"]["rule"].as_object().map(|_| &c["add"]["rule"]))
            .filter(|r| {
                r["chain"]
                    .as_str()
                    .is_some_and(|c| c.starts_with("fwd-") || c.starts_with("nat-"))
            })
            .collect();
        let expected = golden(
            r#"[
            {$T,"chain":"fwd-wbr1","comment":"wharf network wbr1 10.90.0.0/16","expr":[
                {"match":{"op":"==","left":{"meta":{"key":"iifname"}},"right":"wbr1"}},
                {"match":{"op":"!=","left":{"meta":{"key":"oifname"}},"right":"wbr1"}},{"drop":null}]},
            {$T,"chain":"fwd-wbr1","comment":"wharf network wbr1 10.90.0.0/16","expr":[
                {"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wbr1"}},
                {"match":{"op":"!=","left":{"meta":{"key":"iifname"}},"right":"wbr1"}},{"drop":null}]}
            ]"#,
        );
        assert_eq!(Value::Array(rules.into_iter().cloned().collect()), expected);
        assert!(!doc.to_string().contains("masquerade"));
    }

    #[test]
    fn teardown_document_golden() {
        // Host bits in the subnet are ignored.
        let doc = Nftables::teardown_ruleset("wbr0", "10.89.0.7/24".parse().unwrap(), None);
        let expected = golden(
            r#"{"nftables":[
            {"add":{"table":{"family":"inet","name":"wharf"}}},
            {"add":{"chain":{$T,"name":"nat-wbr0"}}},
            {"add":{"chain":{$T,"name":"fwd-wbr0"}}},
            {"add":{"map":{$T,"name":"nat_by_subnet","type":"ipv4_addr","map":"verdict","flags":["interval"]}}},
            {"add":{"map":{$T,"name":"fwd_by_iif","type":"ifname","map":"verdict"}}},
            {"add":{"map":{$T,"name":"fwd_by_oif","type":"ifname","map":"verdict"}}},
            {"add":{"element":{$T,"name":"nat_by_subnet","elem":[[{"prefix":{"addr":"10.89.0.0","len":24}},{"jump":{"target":"nat-wbr0"}}]]}}},
            {"add":{"element":{$T,"name":"fwd_by_iif","elem":[["wbr0",{"jump":{"target":"fwd-wbr0"}}]]}}},
            {"add":{"element":{$T,"name":"fwd_by_oif","elem":[["wbr0",{"jump":{"target":"fwd-wbr0"}}]]}}},
            {"add":{"set":{$T,"name":"bridges","type":"ifname"}}},
            {"add":{"element":{$T,"name":"bridges","elem":["wbr0"]}}},
            {"delete":{"element":{$T,"name":"nat_by_subnet","elem":[{"prefix":{"addr":"10.89.0.0","len":24}}]}}},
            {"delete":{"element":{$T,"name":"fwd_by_iif","elem":["wbr0"]}}},
            {"delete":{"element":{$T,"name":"fwd_by_oif","elem":["wbr0"]}}},
            {"delete":{"element":{$T,"name":"bridges","elem":["wbr0"]}}},
            {"flush":{"chain":{$T,"name":"nat-wbr0"}}},
            {"flush":{"chain":{$T,"name":"fwd-wbr0"}}},
            {"delete":{"chain":{$T,"name":"nat-wbr0"}}},
            {"delete":{"chain":{$T,"name":"fwd-wbr0"}}}
            ]}"#,
        );
        assert_eq!(doc, expected, "got:\n{doc:#}");
    }

    #[test]
    fn dual_stack_networks_masquerade_their_ipv6_subnet_too() {
        let v6: Ipv6Net = "fd00:db8:1::/64".parse().unwrap();
        let doc = Nftables::setup_ruleset("wbr6", "10.91.0.0/24".parse().unwrap(), Some(v6), false);
        let commands = doc["nftables"].as_array().unwrap();
        let element = golden(
            r#"{"add":{"element":{$T,"name":"nat6_by_subnet","elem":[[{"prefix":{"addr":"fd00:db8:1::","len":64}},{"jump":{"target":"nat-wbr6"}}]]}}}"#,
        );
        assert!(commands.contains(&element), "got:\n{doc:#}");
        // Forwarding is by bridge name, so the same chains cover IPv6.
        assert_eq!(
            commands
                .iter()
                .filter(|c| c["add"]["element"]["name"] == "fwd_by_iif")
                .count(),
            1
        );

        let strict =
            Nftables::strict_teardown_ruleset("wbr6", "10.91.0.0/24".parse().unwrap(), Some(v6));
        let delete = golden(
            r#"{"delete":{"element":{$T,"name":"nat6_by_subnet","elem":[{"prefix":{"addr":"fd00:db8:1::","len":64}}]}}}"#,
        );
        assert!(strict["nftables"].as_array().unwrap().contains(&delete));
        let tolerant =
            Nftables::teardown_ruleset("wbr6", "10.91.0.0/24".parse().unwrap(), Some(v6));
        let tolerant = tolerant["nftables"].as_array().unwrap();
        let deleted_at = tolerant.iter().position(|c| c == &delete).unwrap();
        let chain_deleted_at = tolerant
            .iter()
            .position(|c| c["delete"]["chain"]["name"] == "nat-wbr6")
            .unwrap();
        assert!(deleted_at < chain_deleted_at, "{tolerant:#?}");
    }

    #[test]
    fn internal_dual_stack_networks_drop_without_nat() {
        let v6: Ipv6Net = "fd00:db8:2::/64".parse().unwrap();
        let doc = Nftables::setup_ruleset("wbr7", "10.92.0.0/24".parse().unwrap(), Some(v6), true);
        let text = doc.to_string();
        assert!(!text.contains("masquerade"), "{text}");
        assert!(text.contains("\"drop\""), "{text}");
    }

    #[test]
    fn published_ports_are_dnat_rules_tagged_with_their_container() {
        let forwards = [
            PortForward {
                host_ip: None,
                host_port: 8080,
                udp: false,
                target: "10.89.0.2".parse().unwrap(),
                target_port: 80,
                bridge: "wbr0".into(),
            },
            PortForward {
                host_ip: Some("fd00::1".parse().unwrap()),
                host_port: 5353,
                udp: true,
                target: "fd00:db8:1::2".parse().unwrap(),
                target_port: 53,
                bridge: "wbr0".into(),
            },
        ];
        let doc = Nftables::ports_ruleset("c1", &[("port-dnat".into(), 7)], &forwards);
        let expected = golden(
            r#"{"nftables":[
            {"add":{"table":{"family":"inet","name":"wharf"}}},
            {"add":{"chain":{$T,"name":"port-dnat"}}},
            {"add":{"chain":{$T,"name":"port-fwd"}}},
            {"delete":{"rule":{$T,"chain":"port-dnat","handle":7}}},
            {"add":{"rule":{$T,"chain":"port-dnat","comment":"wharf container c1","expr":[
                {"match":{"op":"==","left":{"meta":{"key":"nfproto"}},"right":"ipv4"}},
                {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":8080}},
                {"dnat":{"family":"ip","addr":"10.89.0.2","port":80}}]}}},
            {"add":{"rule":{$T,"chain":"port-fwd","comment":"wharf container c1","expr":[
                {"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wbr0"}},
                {"match":{"op":"==","left":{"payload":{"protocol":"ip","field":"daddr"}},"right":"10.89.0.2"}},
                {"match":{"op":"==","left":{"payload":{"protocol":"tcp","field":"dport"}},"right":80}},
                {"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}]}}},
            {"add":{"rule":{$T,"chain":"port-dnat","comment":"wharf container c1","expr":[
                {"match":{"op":"==","left":{"payload":{"protocol":"ip6","field":"daddr"}},"right":"fd00::1"}},
                {"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"dport"}},"right":5353}},
                {"dnat":{"family":"ip6","addr":"fd00:db8:1::2","port":53}}]}}},
            {"add":{"rule":{$T,"chain":"port-fwd","comment":"wharf container c1","expr":[
                {"match":{"op":"==","left":{"meta":{"key":"oifname"}},"right":"wbr0"}},
                {"match":{"op":"==","left":{"payload":{"protocol":"ip6","field":"daddr"}},"right":"fd00:db8:1::2"}},
                {"match":{"op":"==","left":{"payload":{"protocol":"udp","field":"dport"}},"right":53}},
                {"match":{"op":"in","left":{"ct":{"key":"status"}},"right":"dnat"}},{"accept":null}]}}}
            ]}"#,
        );
        assert_eq!(doc, expected, "got:\n{doc:#}");
    }

    #[test]
    fn only_the_containers_own_port_rules_are_found_for_teardown() {
        let listing = golden(
            r#"{"nftables":[
            {"metainfo":{"version":"1.0.6"}},
            {"rule":{$T,"chain":"port-dnat","handle":4,"comment":"wharf container c1","expr":[]}},
            {"rule":{$T,"chain":"port-dnat","handle":5,"comment":"wharf container c10","expr":[]}},
            {"rule":{$T,"chain":"port-fwd","handle":6,"comment":"wharf container c1","expr":[]}},
            {"rule":{$T,"chain":"fwd-wbr0","handle":8,"comment":"wharf container c1","expr":[]}},
            {"rule":{$T,"chain":"port-fwd","handle":9,"expr":[]}}
            ]}"#,
        );
        assert_eq!(
            port_rule_handles(&listing, "c1"),
            vec![("port-dnat".to_string(), 4), ("port-fwd".to_string(), 6)]
        );
    }

    #[test]
    fn a_handover_deletes_both_containers_rules_and_adds_the_new_ones_in_one_document() {
        let listing = golden(
            r#"{"nftables":[
            {"rule":{$T,"chain":"port-dnat","handle":4,"comment":"wharf container old","expr":[]}},
            {"rule":{$T,"chain":"port-fwd","handle":6,"comment":"wharf container old","expr":[]}},
            {"rule":{$T,"chain":"port-dnat","handle":7,"comment":"wharf container new","expr":[]}}
            ]}"#,
        );
        let existing: Vec<(String, u64)> = ["old", "new"]
            .iter()
            .flat_map(|id| port_rule_handles(&listing, id))
            .collect();
        let forward = PortForward {
            host_ip: None,
            host_port: 8080,
            target: "172.18.0.3".parse().unwrap(),
            target_port: 80,
            udp: false,
            bridge: "wbr0".into(),
        };
        let doc = Nftables::ports_ruleset("new", &existing, &[forward]);
        let commands = doc["nftables"].as_array().unwrap();
        let deleted: Vec<u64> = commands
            .iter()
            .filter_map(|c| c["delete"]["rule"]["handle"].as_u64())
            .collect();
        assert_eq!(deleted, [4, 6, 7]);
        let added: Vec<&str> = commands
            .iter()
            .filter_map(|c| c["add"]["rule"]["comment"].as_str())
            .collect();
        assert_eq!(added, ["wharf container new", "wharf container new"]);
        let first_add = commands
            .iter()
            .position(|c| c["add"]["rule"].is_object())
            .unwrap();
        let last_delete = commands
            .iter()
            .rposition(|c| c["delete"].is_object())
            .unwrap();
        assert!(last_delete < first_add, "{doc:#}");
    }

    #[test]
    fn wildcard_bridge_names_are_refused() {
        let err = Nftables
            .setup_network("br*", "10.0.0.0/24".parse().unwrap(), None, false)
            .unwrap_err();
        assert!(
            matches!(err, NetError::InvalidInterfaceName { .. }),
            "{err}"
        );
    }

    #[test]
    fn missing_nft_message_names_the_package() {
        let msg = NetError::NftNotInstalled.to_string();
        assert!(msg.contains("nftables"), "{msg}");
    }

    #[test]
    fn no_firewall_does_nothing() {
        let net: Ipv4Net = "10.0.0.0/24".parse().unwrap();
        assert!(NoFirewall.setup_network("br0", net, None, false).is_ok());
        assert!(NoFirewall.teardown_network("br0", net, None).is_ok());
        assert_eq!(NoFirewall.name(), "none");
    }
}
