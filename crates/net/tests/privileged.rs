//! Privileged tests of wharf-net: each runs on a thread that has unshared its network
//! namespace, so bridges, veths, sysctls and nftables rules never reach the host. They
//! skip (with a printed reason) when not run as root.
#![allow(unsafe_code)]

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use nix::sched::CloneFlags;
use wharf_net::firewall::{FirewallDriver, Nftables, PortForward};
use wharf_net::{Ipv4Net, NetError};

macro_rules! require_root {
    ($test:literal) => {
        if !nix::unistd::geteuid().is_root() {
            eprintln!(
                "skipping {}: needs root (creates namespaces, bridges and veths)",
                $test
            );
            return;
        }
    };
}

/// Run `f` on a thread in a fresh, empty network namespace.
fn in_fresh_netns<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            nix::sched::unshare(CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
            f()
        });
        worker
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// A "container": a `sleep` in its own network namespace, killed on drop.
struct Container(Child);

impl Container {
    fn start() -> Container {
        let mut cmd = Command::new("sleep");
        cmd.arg("120");
        // SAFETY: the hook runs between fork and exec and only calls unshare(2), which is
        // async-signal-safe and touches no memory shared with the parent.
        unsafe {
            cmd.pre_exec(|| {
                nix::sched::unshare(CloneFlags::CLONE_NEWNET).map_err(std::io::Error::from)
            });
        }
        Container(cmd.spawn().expect("starting sleep"))
    }
    fn pid(&self) -> u32 {
        self.0.id()
    }
    fn net_dev(&self) -> String {
        std::fs::read_to_string(format!("/proc/{}/net/dev", self.pid())).unwrap()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn net(s: &str) -> Ipv4Net {
    s.parse().unwrap()
}

const GW: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 1);
const CTR: Ipv4Addr = Ipv4Addr::new(10, 89, 0, 2);
const MAC: [u8; 6] = [0x02, 0x42, 0x0a, 0x59, 0x00, 0x02];

#[test]
fn bridge_lifecycle() {
    require_root!("bridge_lifecycle");
    in_fresh_netns(|| {
        wharf_net::loopback_up().unwrap();
        assert!(!wharf_net::link_exists("wbr0").unwrap());
        wharf_net::ensure_bridge("wbr0", GW, 24).unwrap();
        wharf_net::ensure_bridge("wbr0", GW, 24).unwrap(); // idempotent

        let br = wharf_net::link_details("wbr0")
            .unwrap()
            .expect("bridge exists");
        assert_eq!(br.kind.as_deref(), Some("bridge"));
        assert!(br.up, "bridge is up");
        assert_eq!(br.ipv4, vec![net("10.89.0.1/24")], "address added once");
        assert_eq!(br.mac.unwrap()[0], 0x02, "fixed locally administered MAC");

        let nets = wharf_net::host_ipv4_networks().unwrap();
        assert!(nets.contains(&net("10.89.0.0/24")), "{nets:?}");
        assert!(nets.contains(&net("127.0.0.0/8")), "{nets:?}");
        assert!(!nets.iter().any(|n| n.prefix_len() == 0), "{nets:?}");

        // IPAM against the namespace's networks.
        let taken = [nets.as_slice(), &[net("172.17.0.0/16")]].concat();
        let pick = wharf_net::ipam::pick_subnet(&wharf_net::ipam::default_pools(), &taken);
        assert_eq!(pick, Some(net("172.18.0.0/16")));

        // "lo" exists but is no bridge.
        let err = wharf_net::ensure_bridge("lo", GW, 24).unwrap_err();
        assert!(matches!(err, NetError::NotABridge { .. }), "{err}");

        wharf_net::delete_link("wbr0").unwrap();
        assert!(!wharf_net::link_exists("wbr0").unwrap());
        wharf_net::delete_link("wbr0").unwrap(); // absent: still Ok
        assert!(!wharf_net::host_ipv4_networks()
            .unwrap()
            .contains(&net("10.89.0.0/24")));
    });
}

#[test]
fn attach_container_and_connect() {
    require_root!("attach_container_and_connect");
    in_fresh_netns(|| {
        wharf_net::loopback_up().unwrap();
        wharf_net::ensure_bridge("wbr0", GW, 24).unwrap();
        let container = Container::start();
        let pid = container.pid();
        wharf_net::attach_container(
            pid,
            "wbr0",
            "veth0a1b2c3d",
            "eth0",
            CTR,
            24,
            Some(GW),
            Some(MAC),
            None,
            None,
        )
        .unwrap();

        // Host side: the veth end is up and enslaved to the bridge.
        let bridge_index = wharf_net::link_index("wbr0").unwrap().unwrap();
        let host_end = wharf_net::link_details("veth0a1b2c3d").unwrap().unwrap();
        assert_eq!(host_end.master, Some(bridge_index));
        assert!(host_end.up);
        assert!(
            !wharf_net::link_exists("eth0").unwrap(),
            "peer is not on the host side"
        );

        // Container side.
        assert!(
            container.net_dev().contains("eth0:"),
            "{}",
            container.net_dev()
        );
        let (eth0, lo, gateway) = wharf_net::in_netns_of_pid(pid, || {
            Ok((
                wharf_net::link_details("eth0")?.expect("eth0 in the container"),
                wharf_net::link_details("lo")?.expect("lo in the container"),
                wharf_net::ipv4_default_gateway()?,
            ))
        })
        .unwrap();
        assert_eq!(eth0.ipv4, vec![net("10.89.0.2/24")]);
        assert_eq!(eth0.mac, Some(MAC));
        assert!(eth0.up && lo.up);
        assert_eq!(gateway, Some(GW));

        // TCP from the test namespace to a listener inside the container's namespace.
        let listener = wharf_net::in_netns_of_pid(pid, || {
            TcpListener::bind((CTR, 8080)).map_err(|e| panic!("bind in container: {e}"))
        })
        .unwrap();
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut conn, _) = listener.accept().unwrap();
                let mut data = Vec::new();
                conn.read_to_end(&mut data).unwrap();
                conn.write_all(&data).unwrap();
            }
        });
        let target = SocketAddr::from((CTR, 8080));
        assert_eq!(echo(target, b"direct"), b"direct");

        // And through a published port on the test namespace's loopback.
        let published = wharf_net::proxy::bind_tcp((Ipv4Addr::LOCALHOST, 0).into()).unwrap();
        let published_addr = published.local_addr().unwrap();
        wharf_net::proxy::serve_tcp(published, target);
        assert_eq!(echo(published_addr, b"via proxy"), b"via proxy");
        server.join().unwrap();

        // Deleting the host end removes the container end too.
        wharf_net::delete_link("veth0a1b2c3d").unwrap();
        assert!(!container.net_dev().contains("eth0:"));
        wharf_net::delete_link("wbr0").unwrap();
        assert!(!wharf_net::link_exists("wbr0").unwrap());
    });
}

/// Connect (retrying while the path settles), send `msg`, half-close, read the reply.
fn echo(addr: SocketAddr, msg: &[u8]) -> Vec<u8> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(2)) {
            Ok(conn) => break conn,
            Err(e) if Instant::now() < deadline => {
                eprintln!("retrying {addr}: {e}");
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("connecting to {addr}: {e}"),
        }
    };
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(msg).unwrap();
    conn.shutdown(std::net::Shutdown::Write).unwrap();
    let mut reply = Vec::new();
    conn.read_to_end(&mut reply).unwrap();
    reply
}

#[test]
fn loopback_up_in_a_container_without_networks() {
    require_root!("loopback_up_in_a_container_without_networks");
    in_fresh_netns(|| {
        let container = Container::start();
        let lo_up = || {
            wharf_net::in_netns_of_pid(container.pid(), || {
                Ok(wharf_net::link_details("lo")?.expect("lo exists").up)
            })
            .unwrap()
        };
        assert!(!lo_up(), "lo starts down in a fresh namespace");
        wharf_net::loopback_up_in(container.pid()).unwrap();
        assert!(lo_up());
        assert!(
            !wharf_net::link_details("lo").unwrap().unwrap().up,
            "test netns untouched"
        );
    });
}

#[test]
fn attach_failure_cleans_up() {
    require_root!("attach_failure_cleans_up");
    in_fresh_netns(|| {
        wharf_net::ensure_bridge("wbr0", GW, 24).unwrap();
        let container = Container::start();
        let pid = container.pid();

        // The gateway is outside the container's subnet: the route fails after the veth
        // pair exists, and the pair must be gone afterwards.
        let err = wharf_net::attach_container(
            pid,
            "wbr0",
            "vethfail0001",
            "eth0",
            CTR,
            24,
            Some(Ipv4Addr::new(10, 99, 0, 1)),
            None,
            None,
            None,
        )
        .unwrap_err();
        let msg = err.to_string();
        eprintln!("expected error: {msg}");
        assert!(msg.contains("default route via 10.99.0.1"), "{msg}");
        assert!(!wharf_net::link_exists("vethfail0001").unwrap());
        assert!(!container.net_dev().contains("eth0:"));

        // A missing bridge is reported by name, and nothing is created.
        let err = wharf_net::attach_container(
            pid,
            "nobridge",
            "vethfail0002",
            "eth0",
            CTR,
            24,
            None,
            None,
            None,
            None,
        )
        .unwrap_err();
        assert!(
            matches!(err, NetError::LinkNotFound { ref name, .. } if name == "nobridge"),
            "{err}"
        );
        assert!(!wharf_net::link_exists("vethfail0002").unwrap());

        // A process that does not exist.
        let err = wharf_net::attach_container(
            u32::MAX - 1,
            "wbr0",
            "vethfail0003",
            "eth0",
            CTR,
            24,
            None,
            None,
            None,
            None,
        )
        .unwrap_err();
        assert!(matches!(err, NetError::Namespace { .. }), "{err}");

        // After all that, a proper attach still works with the same names.
        wharf_net::attach_container(
            pid,
            "wbr0",
            "vethfail0001",
            "eth0",
            CTR,
            24,
            Some(GW),
            None,
            None,
            None,
        )
        .unwrap();
        assert!(container.net_dev().contains("eth0:"));
        // Attaching the same host name twice is refused with a clear error.
        let err = wharf_net::attach_container(
            pid,
            "wbr0",
            "vethfail0001",
            "eth1",
            CTR,
            24,
            None,
            None,
            None,
            None,
        )
        .unwrap_err();
        eprintln!("expected error: {err}");
        assert_eq!(err.errno(), Some(libc::EEXIST), "{err}");
        assert!(err.to_string().contains("vethfail0001"), "{err}");
    });
}

const GW6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xdb8, 1, 0, 0, 0, 0, 1);
const CTR6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xdb8, 1, 0, 0, 0, 0, 2);

/// Whether the routing table of `pid`'s namespace has an IPv6 default route via `gw`.
fn has_ipv6_default_route(pid: u32, gw: Ipv6Addr) -> bool {
    let table = std::fs::read_to_string(format!("/proc/{pid}/net/ipv6_route")).unwrap();
    let gw_hex: String = gw.octets().iter().map(|b| format!("{b:02x}")).collect();
    table.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 4 && fields[0] == "0".repeat(32) && fields[1] == "00" && fields[4] == gw_hex
    })
}

#[test]
fn dual_stack_bridge_and_container() {
    require_root!("dual_stack_bridge_and_container");
    in_fresh_netns(|| {
        wharf_net::loopback_up().unwrap();
        wharf_net::ensure_bridge("wbr6", GW, 24).unwrap();
        wharf_net::ensure_bridge_ipv6("wbr6", GW6, 64).unwrap();
        wharf_net::ensure_bridge_ipv6("wbr6", GW6, 64).unwrap(); // idempotent
        let bridge = wharf_net::link_details("wbr6").unwrap().unwrap();
        assert_eq!(bridge.ipv6, vec!["fd00:db8:1::1/64".parse().unwrap()]);
        assert_eq!(bridge.ipv4, vec![net("10.89.0.1/24")]);

        let container = Container::start();
        let pid = container.pid();
        wharf_net::attach_container(
            pid,
            "wbr6",
            "veth6a1b2c3d",
            "eth0",
            CTR,
            24,
            Some(GW),
            None,
            None,
            Some(wharf_net::Ipv6Endpoint {
                address: CTR6,
                prefix: 64,
                gateway: Some(GW6),
            }),
        )
        .unwrap();
        let (eth0, disabled) = wharf_net::in_netns_of_pid(pid, || {
            Ok((
                wharf_net::link_details("eth0")?.expect("eth0 in the container"),
                std::fs::read_to_string("/proc/sys/net/ipv6/conf/all/disable_ipv6").unwrap(),
            ))
        })
        .unwrap();
        assert_eq!(eth0.ipv4, vec![net("10.89.0.2/24")]);
        assert_eq!(eth0.ipv6, vec!["fd00:db8:1::2/64".parse().unwrap()]);
        assert_eq!(disabled.trim(), "0");
        assert!(has_ipv6_default_route(pid, GW6));

        // TCP over IPv6 from the host side of the bridge into the container.
        let listener = wharf_net::in_netns_of_pid(pid, || {
            TcpListener::bind((CTR6, 8080)).map_err(|e| panic!("bind in container: {e}"))
        })
        .unwrap();
        let server = std::thread::spawn(move || {
            for _ in 0..2 {
                let (mut conn, _) = listener.accept().unwrap();
                let mut data = Vec::new();
                conn.read_to_end(&mut data).unwrap();
                conn.write_all(&data).unwrap();
            }
        });
        let target = SocketAddr::from((CTR6, 8080));
        assert_eq!(echo(target, b"over v6"), b"over v6");

        // A port published on all addresses also listens on [::] (IPv6 only, next to
        // the IPv4 listener on the same port).
        let v4 = wharf_net::proxy::bind_tcp((Ipv4Addr::UNSPECIFIED, 0).into()).unwrap();
        let port = v4.local_addr().unwrap().port();
        let v6 = wharf_net::proxy::bind_tcp_ipv6_only(port)
            .unwrap()
            .expect("the namespace has IPv6");
        wharf_net::proxy::serve_tcp(v6, target);
        assert_eq!(
            echo((Ipv6Addr::LOCALHOST, port).into(), b"via [::1]"),
            b"via [::1]"
        );
        server.join().unwrap();
        drop(v4);

        wharf_net::delete_link("veth6a1b2c3d").unwrap();
        wharf_net::delete_link("wbr6").unwrap();
    });
}

#[test]
fn host_ipv6_networks_lists_global_subnets_only() {
    require_root!("host_ipv6_networks_lists_global_subnets_only");
    in_fresh_netns(|| {
        wharf_net::loopback_up().unwrap();
        wharf_net::ensure_bridge("wbr6", GW, 24).unwrap();
        wharf_net::ensure_bridge_ipv6("wbr6", GW6, 64).unwrap();
        let nets = wharf_net::host_ipv6_networks().unwrap();
        assert!(
            nets.contains(&"fd00:db8:1::/64".parse().unwrap()),
            "{nets:?}"
        );
        assert!(
            nets.iter()
                .all(|n| n.network().segments()[0] & 0xffc0 != 0xfe80),
            "no link-local: {nets:?}"
        );
        wharf_net::delete_link("wbr6").unwrap();
    });
}

#[test]
fn ip_forwarding_is_enabled_in_the_namespace() {
    require_root!("ip_forwarding_is_enabled_in_the_namespace");
    in_fresh_netns(|| {
        wharf_net::enable_ip_forwarding().unwrap();
        let value = std::fs::read_to_string("/proc/sys/net/ipv4/ip_forward").unwrap();
        assert_eq!(value.trim(), "1");
    });
}

fn nft_table(family: &str, name: &str) -> Option<serde_json::Value> {
    let out = Command::new(wharf_net::firewall::find_nft().unwrap())
        .args(["-j", "list", "table", family, name])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// Names of the chains, and the number of rules per chain, in a `nft -j` listing.
fn chains_and_rules(table: &serde_json::Value) -> (Vec<String>, Vec<(String, String)>) {
    let items = table["nftables"].as_array().unwrap();
    let chains = items
        .iter()
        .filter_map(|i| i["chain"]["name"].as_str().map(String::from))
        .collect();
    let rules = items
        .iter()
        .filter(|i| i.get("rule").is_some())
        .map(|i| {
            (
                i["rule"]["chain"].as_str().unwrap().to_string(),
                i["rule"]["expr"].to_string(),
            )
        })
        .collect();
    (chains, rules)
}

fn count_in(rules: &[(String, String)], chain: &str) -> usize {
    rules.iter().filter(|(c, _)| c == chain).count()
}

#[test]
fn nftables_setup_and_teardown() {
    require_root!("nftables_setup_and_teardown");
    if wharf_net::firewall::find_nft().is_none() {
        eprintln!("skipping nftables_setup_and_teardown: nft is not installed (package nftables)");
        return;
    }
    in_fresh_netns(|| {
        // A table that is not ours must survive everything.
        let status = Command::new(wharf_net::firewall::find_nft().unwrap())
            .args(["add", "table", "inet", "other"])
            .status()
            .unwrap();
        assert!(status.success());

        // Teardown without any table is a no-op and creates nothing.
        Nftables
            .teardown_network("wbr0", net("10.89.0.0/24"), None)
            .unwrap();
        assert!(nft_table("inet", "wharf").is_none());

        Nftables
            .setup_network("wbr0", net("10.89.0.0/24"), None, false)
            .unwrap();
        Nftables
            .setup_network("wbr0", net("10.89.0.0/24"), None, false)
            .unwrap(); // idempotent
        Nftables
            .setup_network("wbr1", net("10.90.0.0/24"), None, true)
            .unwrap();

        let table = nft_table("inet", "wharf").expect("table inet wharf exists");
        let (chains, rules) = chains_and_rules(&table);
        for chain in [
            "postrouting",
            "forward",
            "nat-wbr0",
            "fwd-wbr0",
            "nat-wbr1",
            "fwd-wbr1",
        ] {
            assert!(chains.contains(&chain.to_string()), "{chain} in {chains:?}");
        }
        let count = |chain: &str| rules.iter().filter(|(c, _)| c == chain).count();
        assert_eq!(count("postrouting"), 2, "IPv4 and IPv6 dispatch: {rules:?}");
        assert_eq!(
            count("forward"),
            3,
            "published ports, then dispatch: {rules:?}"
        );
        assert_eq!(
            count("prerouting"),
            2,
            "bridges skipped, then DNAT: {rules:?}"
        );
        assert_eq!(count("nat-wbr0"), 1, "{rules:?}");
        assert_eq!(count("fwd-wbr0"), 3, "with the isolation drop: {rules:?}");
        assert_eq!(count("nat-wbr1"), 0, "internal network: no NAT");
        assert_eq!(count("fwd-wbr1"), 2, "{rules:?}");
        assert!(rules
            .iter()
            .any(|(c, e)| c == "nat-wbr0" && e.contains("masquerade")));
        assert!(rules
            .iter()
            .any(|(c, e)| c == "fwd-wbr1" && e.contains("drop")));
        let text = table.to_string();
        assert!(
            text.contains("10.89.0.0") && text.contains("10.90.0.0"),
            "{text}"
        );

        // Published ports: each container's rules replaced and removed exactly.
        let forward = |host_port: u16, target: &str| PortForward {
            host_ip: None,
            host_port,
            udp: false,
            target: target.parse().unwrap(),
            target_port: 80,
            bridge: "wbr0".into(),
        };
        Nftables
            .setup_ports("c1", &[forward(8080, "10.89.0.2")])
            .unwrap();
        Nftables
            .setup_ports("c1", &[forward(8081, "10.89.0.2")])
            .unwrap(); // replaces
        Nftables
            .setup_ports("c2", &[forward(9090, "10.89.0.3")])
            .unwrap();
        let (_, rules) = chains_and_rules(&nft_table("inet", "wharf").unwrap());
        let dnat: Vec<&String> = rules
            .iter()
            .filter(|(c, _)| c == "port-dnat")
            .map(|(_, e)| e)
            .collect();
        assert_eq!(dnat.len(), 2, "{dnat:?}");
        assert!(
            dnat.iter().any(|e| e.contains("8081")) && !dnat.iter().any(|e| e.contains("8080"))
        );
        assert_eq!(count_in(&rules, "port-fwd"), 2, "{rules:?}");
        Nftables.teardown_ports("c1").unwrap();
        Nftables.teardown_ports("c1").unwrap(); // again: Ok
        let (_, rules) = chains_and_rules(&nft_table("inet", "wharf").unwrap());
        assert_eq!(
            count_in(&rules, "port-dnat"),
            1,
            "c2's rule stays: {rules:?}"
        );
        // A start-first update hands c2's port to its successor c3 in one transaction.
        Nftables
            .hand_over_ports("c2", "c3", &[forward(9090, "10.89.0.4")])
            .unwrap();
        let (_, rules) = chains_and_rules(&nft_table("inet", "wharf").unwrap());
        let dnat: Vec<&String> = rules
            .iter()
            .filter(|(c, _)| c == "port-dnat")
            .map(|(_, e)| e)
            .collect();
        assert_eq!(dnat.len(), 1, "{dnat:?}");
        assert!(dnat[0].contains("10.89.0.4") && !dnat[0].contains("10.89.0.3"));
        assert_eq!(count_in(&rules, "port-fwd"), 1, "{rules:?}");
        Nftables.teardown_ports("c3").unwrap();
        let (_, rules) = chains_and_rules(&nft_table("inet", "wharf").unwrap());
        assert_eq!(
            count_in(&rules, "port-dnat") + count_in(&rules, "port-fwd"),
            0
        );

        Nftables
            .teardown_network("wbr0", net("10.89.0.0/24"), None)
            .unwrap();
        let table = nft_table("inet", "wharf").unwrap();
        let (chains, _) = chains_and_rules(&table);
        assert!(!chains.iter().any(|c| c.ends_with("wbr0")), "{chains:?}");
        assert!(chains.contains(&"fwd-wbr1".to_string()), "{chains:?}");
        assert!(!table.to_string().contains("10.89.0.0"));
        assert!(table.to_string().contains("10.90.0.0"));

        Nftables
            .teardown_network("wbr0", net("10.89.0.0/24"), None)
            .unwrap(); // again: Ok
        Nftables
            .teardown_network("wbr1", net("10.90.0.0/24"), None)
            .unwrap();
        let (chains, _) = chains_and_rules(&nft_table("inet", "wharf").unwrap());
        assert_eq!(
            chains,
            vec![
                "postrouting".to_string(),
                "forward".to_string(),
                "prerouting".to_string(),
                "port-dnat".to_string(),
                "port-fwd".to_string()
            ]
        );
        assert!(
            nft_table("inet", "other").is_some(),
            "other tables are untouched"
        );
    });
}

#[test]
fn nftables_dual_stack_setup_and_teardown() {
    require_root!("nftables_dual_stack_setup_and_teardown");
    if wharf_net::firewall::find_nft().is_none() {
        eprintln!("skipping nftables_dual_stack_setup_and_teardown: nft is not installed");
        return;
    }
    in_fresh_netns(|| {
        let v6: wharf_net::Ipv6Net = "fd00:db8:1::/64".parse().unwrap();
        Nftables
            .setup_network("wbr6", net("10.89.0.0/24"), Some(v6), false)
            .unwrap();
        Nftables
            .setup_network("wbr7", net("10.90.0.0/24"), None, false)
            .unwrap();
        let text = nft_table("inet", "wharf").unwrap().to_string();
        assert!(text.contains("nat6_by_subnet"), "{text}");
        assert!(text.contains("fd00:db8:1::"), "{text}");
        Nftables
            .teardown_network("wbr6", net("10.89.0.0/24"), Some(v6))
            .unwrap();
        let text = nft_table("inet", "wharf").unwrap().to_string();
        assert!(!text.contains("fd00:db8:1::"), "{text}");
        assert!(text.contains("10.90.0.0"), "{text}");
        // Again, with everything gone: still Ok.
        Nftables
            .teardown_network("wbr6", net("10.89.0.0/24"), Some(v6))
            .unwrap();
        Nftables
            .teardown_network("wbr7", net("10.90.0.0/24"), None)
            .unwrap();
    });
}

#[test]
fn several_veth_pairs_are_deleted_in_one_call() {
    require_root!("several_veth_pairs_are_deleted_in_one_call");
    in_fresh_netns(|| {
        wharf_net::ensure_bridge("wbr0", GW, 24).unwrap();
        let container = Container::start();
        for (index, host_end) in ["vethmany0", "vethmany1"].into_iter().enumerate() {
            wharf_net::attach_container(
                container.pid(),
                "wbr0",
                host_end,
                &format!("eth{index}"),
                Ipv4Addr::new(10, 89, 0, 10 + index as u8),
                24,
                (index == 0).then_some(GW),
                None,
                None,
                None,
            )
            .unwrap();
        }
        assert!(container.net_dev().contains("eth1:"));
        // An absent name is no failure: the kernel may have been first.
        wharf_net::delete_links(&["vethmany0", "vethmany1", "vethabsent"]).unwrap();
        // Gone when the call returns, on both sides.
        assert!(!wharf_net::link_exists("vethmany0").unwrap());
        assert!(!wharf_net::link_exists("vethmany1").unwrap());
        let inside = container.net_dev();
        assert!(
            !inside.contains("eth0:") && !inside.contains("eth1:"),
            "{inside}"
        );
        // Only the named links went: the bridge they were on is still there.
        assert!(wharf_net::link_exists("wbr0").unwrap());
        let err = wharf_net::delete_links(&["bad/name"]).unwrap_err();
        assert!(
            matches!(err, NetError::InvalidInterfaceName { .. }),
            "{err}"
        );
        wharf_net::delete_link("wbr0").unwrap();
    });
}

/// `down` stops its containers on parallel threads, each deleting its own
/// veth pairs: the deletions are batched together, and each call returns
/// only once its own pair is gone.
#[test]
fn veth_pairs_deleted_from_parallel_threads_are_all_gone_when_each_returns() {
    require_root!("veth_pairs_deleted_from_parallel_threads_are_all_gone_when_each_returns");
    in_fresh_netns(|| {
        wharf_net::ensure_bridge("wbr0", GW, 24).unwrap();
        let container = Container::start();
        let names: Vec<String> = (0..6).map(|i| format!("vethpar{i}")).collect();
        for (index, host_end) in names.iter().enumerate() {
            wharf_net::attach_container(
                container.pid(),
                "wbr0",
                host_end,
                &format!("eth{index}"),
                Ipv4Addr::new(10, 89, 0, 20 + index as u8),
                24,
                (index == 0).then_some(GW),
                None,
                None,
                None,
            )
            .unwrap();
        }
        std::thread::scope(|scope| {
            for name in &names {
                scope.spawn(move || {
                    wharf_net::delete_links(&[name.as_str()]).unwrap();
                    assert!(
                        !wharf_net::link_exists(name).unwrap(),
                        "{name} is still there"
                    );
                });
            }
        });
        let inside = container.net_dev();
        assert!(!inside.contains("eth"), "{inside}");
        assert!(wharf_net::link_exists("wbr0").unwrap());
        wharf_net::delete_link("wbr0").unwrap();
    });
}

/// `down` deletes its containers' veth pairs and their bridge in one kernel
/// batch: all of them are gone when the call returns, a link that is not
/// named stays, and absent names are no failure.
#[test]
fn links_deleted_together_are_all_gone_and_others_stay() {
    require_root!("links_deleted_together_are_all_gone_and_others_stay");
    in_fresh_netns(|| {
        wharf_net::ensure_bridge("wbr0", GW, 24).unwrap();
        wharf_net::ensure_bridge("wbr1", Ipv4Addr::new(10, 90, 0, 1), 24).unwrap();
        let container = Container::start();
        let names: Vec<String> = (0..3).map(|i| format!("vethtog{i}")).collect();
        for (index, host_end) in names.iter().enumerate() {
            wharf_net::attach_container(
                container.pid(),
                "wbr0",
                host_end,
                &format!("eth{index}"),
                Ipv4Addr::new(10, 89, 0, 30 + index as u8),
                24,
                (index == 0).then_some(GW),
                None,
                None,
                None,
            )
            .unwrap();
        }
        let mut batch: Vec<&str> = names.iter().map(String::as_str).collect();
        batch.extend(["wbr0", "vethabsent"]);
        wharf_net::delete_links_together(&batch).unwrap();
        for name in &names {
            assert!(
                !wharf_net::link_exists(name).unwrap(),
                "{name} is still there"
            );
        }
        assert!(!wharf_net::link_exists("wbr0").unwrap());
        let inside = container.net_dev();
        assert!(!inside.contains("eth"), "{inside}");
        // Only the named links went.
        assert!(wharf_net::link_exists("wbr1").unwrap());
        // Nothing left to delete: still fine.
        wharf_net::delete_links_together(&["vethtog0", "wbr0"]).unwrap();
        let err = wharf_net::delete_links_together(&["wbr1", "bad/name"]).unwrap_err();
        assert!(
            matches!(err, NetError::InvalidInterfaceName { .. }),
            "{err}"
        );
        assert!(wharf_net::link_exists("wbr1").unwrap());
        wharf_net::delete_link("wbr1").unwrap();
    });
}
