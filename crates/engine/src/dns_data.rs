//! The data of the embedded DNS servers: per container, a `dns.json` next to its
//! hosts file with the names it may resolve (containers sharing a network with it, by
//! container name, service name and aliases; all replicas of a service) and the
//! upstream resolvers other names are forwarded to. The container's monitor serves
//! it on 127.0.0.11 and re-reads it when it changes; `resolv.conf` points there.

use crate::store::ContainerRecord;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use wharf_engine_api::EngineError;
use wharf_net::dns::Table;

/// The file name, in the container's state directory.
pub const FILE: &str = "dns.json";
/// The marker the monitor keeps in a container's state directory while the
/// container runs; DNS servers answer its addresses only while it exists.
pub const RUNNING_MARKER: &str = "running";

/// The table of `container` among `all` (which may or may not include it).
/// `upstreams` are the name servers of the container's resolv.conf as it would be
/// without the embedded server.
pub fn table(
    container: &ContainerRecord,
    all: &[ContainerRecord],
    upstreams: Vec<IpAddr>,
) -> Table {
    let mut table = Table {
        upstreams,
        ..Table::default()
    };
    let mut peers: Vec<&ContainerRecord> = all.iter().filter(|c| c.id != container.id).collect();
    peers.push(container);
    // Replicas in name order, so `web-1` comes before `web-2`.
    peers.sort_by(|a, b| a.name.cmp(&b.name));
    // The asking container's networks, in its order.
    for own in &container.endpoints {
        for peer in &peers {
            add_names_on(&mut table, container, own, peer);
        }
    }
    table
}

/// Add to `table` (the table of `container`) the names of `peer` on the
/// network of `own`, one of `container`'s endpoints.
fn add_names_on(
    table: &mut Table,
    container: &ContainerRecord,
    own: &crate::store::Endpoint,
    peer: &ContainerRecord,
) {
    let peer_endpoints: Vec<_> = if peer.id == container.id {
        vec![own]
    } else {
        peer.endpoints
            .iter()
            .filter(|e| e.network_id == own.network_id)
            .collect()
    };
    let linked = link_aliases(container, peer);
    for endpoint in peer_endpoints {
        let short_id = peer.id.get(..12).unwrap_or(&peer.id);
        let names = std::iter::once(peer.name.as_str())
            .chain(std::iter::once(short_id))
            .chain(endpoint.aliases.iter().map(String::as_str))
            .chain(linked.iter().copied());
        for name in names {
            add(table, name, endpoint.address);
            if let Some(v6) = &endpoint.ipv6 {
                add_v6(table, name, v6.address);
            }
        }
    }
}

/// The names by which `container` alone knows `other`: the aliases of its
/// `links` and `external_links` that point at `other`.
pub fn link_aliases<'a>(container: &'a ContainerRecord, other: &ContainerRecord) -> Vec<&'a str> {
    if other.id == container.id {
        return Vec::new();
    }
    let project = container
        .spec
        .labels
        .get(wharf_engine_api::labels::PROJECT)
        .map(String::as_str);
    container
        .spec
        .links
        .iter()
        .filter(|link| link.targets(project, &other.name, &other.spec.labels))
        .map(|link| link.alias.as_str())
        .collect()
}

fn add(table: &mut Table, name: &str, address: Ipv4Addr) {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return;
    }
    let addresses = table.names.entry(name).or_default();
    if !addresses.contains(&address) {
        addresses.push(address);
    }
}

fn add_v6(table: &mut Table, name: &str, address: Ipv6Addr) {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    if name.is_empty() {
        return;
    }
    let addresses = table.names_v6.entry(name).or_default();
    if !addresses.contains(&address) {
        addresses.push(address);
    }
}

/// The name servers of a resolv.conf text.
pub fn nameservers(resolv_conf: &str) -> Vec<IpAddr> {
    resolv_conf
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("nameserver"))
                .then(|| words.next()?.parse().ok())
                .flatten()
        })
        .collect()
}

/// Docker's resolv.conf for a container on user networks: `nameserver 127.0.0.11`,
/// the search domains and options of `base` (with `ndots:0` unless set), and the
/// upstreams recorded in a comment.
pub fn embedded_resolv_conf(base: &str) -> String {
    let mut out = String::new();
    let mut options: Vec<String> = Vec::new();
    for line in base.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {}
            Some("options") => options.extend(words.map(str::to_string)),
            _ => {
                out.push_str(line);
                out.push('\n');
            }
        }
    }
    out.insert_str(0, &format!("nameserver {}\n", wharf_net::dns::ADDRESS));
    if !options.iter().any(|o| o.starts_with("ndots:")) {
        options.insert(0, "ndots:0".to_string());
    }
    out.push_str(&format!("options {}\n", options.join(" ")));
    let servers: Vec<String> = nameservers(base).iter().map(|s| s.to_string()).collect();
    out.push_str(&format!("\n# ExtServers: [{}]\n", servers.join(" ")));
    out
}

/// Write the table of `container` into its state directory `dir`.
pub fn write(
    dir: &Path,
    container: &ContainerRecord,
    all: &[ContainerRecord],
    upstreams: Vec<IpAddr>,
) -> Result<(), EngineError> {
    let mut table = table(container, all, upstreams);
    if let Some(containers) = dir.parent() {
        for peer in all.iter().filter(|p| p.id != container.id) {
            mark_alive(&mut table, containers, peer);
        }
    }
    store_table(dir, &table)
}

/// Add `newcomer`'s names on the networks it shares with `container` to the
/// table `container` has in its state directory `dir`, keeping the rest.
/// Additions commute, so two containers starting at once can each add
/// themselves to a peer's table in either order. A table that is missing or
/// does not parse is left alone: its container gets a whole new one when it
/// starts.
pub fn add_peer(
    dir: &Path,
    container: &ContainerRecord,
    newcomer: &ContainerRecord,
) -> Result<(), EngineError> {
    let Ok(data) = std::fs::read(dir.join(FILE)) else {
        return Ok(());
    };
    let Ok(mut table) = serde_json::from_slice::<Table>(&data) else {
        return Ok(());
    };
    for own in &container.endpoints {
        add_names_on(&mut table, container, own, newcomer);
    }
    if let Some(containers) = dir.parent() {
        mark_alive(&mut table, containers, newcomer);
    }
    store_table(dir, &table)
}

/// Answer `peer`'s addresses only while its running marker exists.
fn mark_alive(table: &mut Table, containers: &Path, peer: &ContainerRecord) {
    let marker = containers.join(&peer.id).join(RUNNING_MARKER);
    for endpoint in &peer.endpoints {
        table.alive.insert(endpoint.address, marker.clone());
        if let Some(v6) = &endpoint.ipv6 {
            table.alive_v6.insert(v6.address, marker.clone());
        }
    }
}

fn store_table(dir: &Path, table: &Table) -> Result<(), EngineError> {
    let path = dir.join(FILE);
    let data = serde_json::to_vec(table)
        .map_err(|e| EngineError::step(format!("encoding {}", path.display()), e, ""))?;
    // Rewritten in place, like the hosts file: creating a new file (and
    // inode) per container on every create made large projects slow. The
    // server keeps its last table when a read catches the file half-written
    // (it does not parse) and reads it again on the next query.
    std::fs::write(&path, &data)
        .map_err(|e| EngineError::io(format!("writing {}", path.display()), e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Endpoint;

    fn record(id: &str, name: &str, nets: &[(&str, [u8; 4])], aliases: &[&str]) -> ContainerRecord {
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
            endpoints: nets
                .iter()
                .map(|(net, addr)| Endpoint {
                    network_id: (*net).into(),
                    network: (*net).into(),
                    bridge: "br".into(),
                    address: Ipv4Addr::from(*addr),
                    prefix: 16,
                    gateway: Ipv4Addr::new(172, 17, 0, 1),
                    host_ifname: "veth".into(),
                    aliases: aliases.iter().map(|s| s.to_string()).collect(),
                    mac: None,
                    mtu: None,
                    ipv6: None,
                })
                .collect(),
            cgroup_path: String::new(),
        }
    }

    #[test]
    fn dual_stack_names_get_their_ipv6_addresses_too() {
        let mut web = record(
            "aaaa1111aaaa1111",
            "p-web-1",
            &[("n6", [10, 97, 0, 2])],
            &["web"],
        );
        let mut db = record(
            "bbbb2222bbbb2222",
            "p-db-1",
            &[("n6", [10, 97, 0, 3])],
            &["db"],
        );
        let v6 = |a: &str| crate::store::EndpointIpv6 {
            address: a.parse().unwrap(),
            prefix: 64,
            gateway: "fd00:db8:1::1".parse().unwrap(),
        };
        web.endpoints[0].ipv6 = Some(v6("fd00:db8:1::2"));
        db.endpoints[0].ipv6 = Some(v6("fd00:db8:1::3"));
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(&web.id);
        std::fs::create_dir(&state).unwrap();
        write(&state, &web, &[web.clone(), db.clone()], vec![]).unwrap();
        let t: Table = serde_json::from_slice(&std::fs::read(state.join(FILE)).unwrap()).unwrap();
        let db6: Ipv6Addr = "fd00:db8:1::3".parse().unwrap();
        assert_eq!(t.names_v6["db"], [db6]);
        assert_eq!(
            t.names_v6["p-web-1"],
            ["fd00:db8:1::2".parse::<Ipv6Addr>().unwrap()]
        );
        assert_eq!(t.names["db"], [Ipv4Addr::new(10, 97, 0, 3)]);
        // The peer's IPv6 address is answered only while it runs.
        assert_eq!(
            t.alive_v6[&db6],
            dir.path().join(&db.id).join(RUNNING_MARKER)
        );
    }

    #[test]
    fn a_peer_added_to_a_table_reads_as_if_the_table_was_made_with_it() {
        let web = record(
            "aaaa1111aaaa1111",
            "p-web-1",
            &[("n1", [172, 18, 0, 2]), ("n2", [172, 19, 0, 2])],
            &["web"],
        );
        let db = record(
            "bbbb2222bbbb2222",
            "p-db-1",
            &[("n2", [172, 19, 0, 3]), ("n3", [172, 20, 0, 3])],
            &["db"],
        );
        let stranger = record(
            "cccc3333cccc3333",
            "q-db-1",
            &[("n3", [172, 20, 0, 4])],
            &["db"],
        );
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join(&web.id);
        std::fs::create_dir(&state).unwrap();
        let read = || -> Table {
            serde_json::from_slice(&std::fs::read(state.join(FILE)).unwrap()).unwrap()
        };
        let upstreams = vec!["10.0.0.2".parse().unwrap()];
        write(
            &state,
            &web,
            &[web.clone(), db.clone(), stranger.clone()],
            upstreams.clone(),
        )
        .unwrap();
        let whole = read();
        write(&state, &web, std::slice::from_ref(&web), upstreams).unwrap();
        assert!(!read().names.contains_key("db"));
        add_peer(&state, &web, &db).unwrap();
        add_peer(&state, &web, &stranger).unwrap();
        let added = read();
        assert_eq!(added.names, whole.names);
        assert_eq!(added.names["db"], [Ipv4Addr::new(172, 19, 0, 3)]);
        assert_eq!(added.upstreams, whole.upstreams);
        assert_eq!(
            added.alive[&Ipv4Addr::new(172, 19, 0, 3)],
            dir.path().join(&db.id).join(RUNNING_MARKER)
        );
        // Adding again changes nothing.
        add_peer(&state, &web, &db).unwrap();
        assert_eq!(read(), added);
    }

    #[test]
    fn names_of_shared_networks_with_every_replica() {
        let web = record(
            "aaaa1111aaaa1111",
            "p-web-1",
            &[("n1", [172, 18, 0, 2])],
            &["web"],
        );
        let w2 = record(
            "bbbb",
            "p-worker-2",
            &[("n1", [172, 18, 0, 4])],
            &["worker", "jobs"],
        );
        let w1 = record(
            "cccc",
            "p-worker-1",
            &[("n1", [172, 18, 0, 3])],
            &["worker"],
        );
        let stranger = record("dddd", "q-db-1", &[("n2", [172, 19, 0, 2])], &["db"]);
        let all = vec![web.clone(), w2, w1, stranger];
        let t = table(&web, &all, vec!["10.0.0.2".parse().unwrap()]);
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        assert_eq!(t.names["worker"], [ip("172.18.0.3"), ip("172.18.0.4")]);
        assert_eq!(t.names["p-worker-2"], [ip("172.18.0.4")]);
        assert_eq!(t.names["jobs"], [ip("172.18.0.4")]);
        assert_eq!(t.names["web"], [ip("172.18.0.2")]);
        assert_eq!(t.names["aaaa1111aaaa"], [ip("172.18.0.2")]);
        assert!(!t.names.contains_key("db"));
        assert!(!t.names.contains_key("q-db-1"));
        assert_eq!(t.upstreams, ["10.0.0.2".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn a_peer_on_two_shared_networks_answers_the_first_network_first() {
        let me = record(
            "aaaa",
            "me",
            &[("n1", [10, 1, 0, 2]), ("n2", [10, 2, 0, 2])],
            &[],
        );
        let peer = record(
            "bbbb",
            "peer",
            &[("n2", [10, 2, 0, 3]), ("n1", [10, 1, 0, 3])],
            &[],
        );
        let t = table(&me, &[me.clone(), peer], vec![]);
        assert_eq!(
            t.names["peer"],
            [Ipv4Addr::new(10, 1, 0, 3), Ipv4Addr::new(10, 2, 0, 3)]
        );
    }

    #[test]
    fn resolv_conf_points_at_the_embedded_server() {
        let base = "search corp.example\nnameserver 10.0.0.2\nnameserver 10.0.0.3\noptions edns0\n";
        assert_eq!(
            embedded_resolv_conf(base),
            "nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0 edns0\n\n# ExtServers: [10.0.0.2 10.0.0.3]\n"
        );
        assert!(
            embedded_resolv_conf("nameserver 1.1.1.1\noptions ndots:2\n")
                .contains("options ndots:2\n")
        );
        assert_eq!(
            nameservers(base),
            [
                "10.0.0.2".parse::<IpAddr>().unwrap(),
                "10.0.0.3".parse().unwrap()
            ]
        );
    }
}
