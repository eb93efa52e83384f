//! Dual-stack networks end to end: `enable_ipv6` gives containers IPv6 addresses and
//! routes, the embedded DNS server answers AAAA, published ports answer on `[::1]`,
//! a network without an IPv6 subnet gets a unique local one, and `down` leaves no
//! bridge or IPv6 firewall rule behind.

use crate::harness::{eventually, http_get, sandboxed, Sandbox};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const DUAL: &str = r#"
services:
  a:
    image: busybox:latest
    command: ["sleep", "3600"]
    networks:
      dual:
        ipv6_address: fd00:db8:1::10
  b:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "8080", "-h", "/etc"]
    ports:
      - "[::1]:18093:8080"
      - "18094:8080"
    networks: [dual]
  c:
    image: busybox:latest
    command: ["sleep", "3600"]
    networks: [auto]
networks:
  dual:
    enable_ipv6: true
    driver_opts:
      com.docker.network.bridge.name: wharf-dual0
    ipam:
      config:
        - subnet: 10.97.0.0/24
        - subnet: fd00:db8:1::/64
          ip_range: fd00:db8:1::100/120
  auto:
    enable_ipv6: true
"#;

fn in_container(s: &Sandbox, dir: &Path, service: &str, script: &str) -> String {
    s.ok(dir, &["exec", "-T", service, "sh", "-c", script])
        .trim()
        .to_string()
}

/// The `nft -j list ruleset` text, or "" without nft.
fn ruleset() -> String {
    let Some(nft) = wharf_net::firewall::find_nft() else {
        return String::new();
    };
    let out = Command::new(nft)
        .args(["-j", "list", "ruleset"])
        .output()
        .expect("running nft");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn dual_stack_network_addresses_dns_ports_and_cleanup() {
    sandboxed(
        "ipv6::dual_stack_network_addresses_dns_ports_and_cleanup",
        |s| {
            s.import_busybox();
            let dir = s.project("dual", DUAL);
            s.ok(&dir, &["up", "-d"]);

            let bridge = wharf_net::link_details("wharf-dual0")
                .unwrap()
                .expect("the bridge wharf-dual0");
            assert_eq!(bridge.ipv6, vec!["fd00:db8:1::1/64".parse().unwrap()]);

            // Addresses: a's own, b's from the ip_range; both keep their IPv4 one.
            let a = in_container(s, &dir, "a", "ip -6 -o addr show eth0 scope global");
            assert!(a.contains("inet6 fd00:db8:1::10/64"), "{a}");
            let b = in_container(s, &dir, "b", "ip -6 -o addr show eth0 scope global");
            assert!(b.contains("inet6 fd00:db8:1::100/64"), "{b}");
            let b4 = in_container(s, &dir, "b", "ip -4 -o addr show eth0");
            assert!(b4.contains("inet 10.97.0."), "{b4}");
            let route = in_container(s, &dir, "a", "ip -6 route show default");
            assert!(route.contains("via fd00:db8:1::1"), "{route}");

            // AAAA from the embedded DNS server, and ping over IPv6 by name.
            let aaaa = in_container(s, &dir, "a", "nslookup -type=AAAA b 127.0.0.11");
            assert!(aaaa.contains("fd00:db8:1::100"), "{aaaa}");
            in_container(s, &dir, "a", "ping -6 -c 1 -W 5 b");

            // Published ports: on [::1] explicitly, and on [::] next to 0.0.0.0.
            for addr in ["[::1]:18093", "[::1]:18094", "127.0.0.1:18094"] {
                let response =
                    eventually(&format!("httpd on {addr}"), Duration::from_secs(20), || {
                        http_get(addr, "/hostname")
                    });
                assert!(
                    response.starts_with("HTTP/1.") && response.contains(" 200"),
                    "{addr}: {response}"
                );
            }
            assert!(http_get("127.0.0.1:18093", "/hostname").is_none());

            // Without a subnet, a unique local /64 is picked.
            let c = in_container(s, &dir, "c", "ip -6 -o addr show eth0 scope global");
            assert!(c.contains("inet6 fd"), "{c}");
            let inspect = s.ok(&dir, &["network", "inspect", "dual_auto"]);
            assert!(inspect.contains("\"EnableIPv6\": true"), "{inspect}");
            let inspect = s.ok(&dir, &["network", "inspect", "dual_dual"]);
            for want in [
                "\"EnableIPv6\": true",
                "\"Subnet\": \"10.97.0.0/24\"",
                "\"Subnet\": \"fd00:db8:1::/64\"",
                "\"IPRange\": \"fd00:db8:1::100/120\"",
                "\"IPv6Address\": \"fd00:db8:1::10/64\"",
            ] {
                assert!(inspect.contains(want), "{want} missing: {inspect}");
            }
            let rules = ruleset();
            if wharf_net::firewall::find_nft().is_some() {
                assert!(rules.contains("fd00:db8:1::"), "{rules}");
            }

            s.ok(&dir, &["down", "-t", "0"]);
            assert_eq!(wharf_net::link_details("wharf-dual0").unwrap(), None);
            let rules = ruleset();
            assert!(!rules.contains("fd00:db8:1::"), "{rules}");
            assert!(
                !rules.contains("\"fd"),
                "no unique local subnet left: {rules}"
            );
        },
    );
}

#[test]
fn ipv6_settings_without_enable_ipv6_are_refused() {
    sandboxed("ipv6::ipv6_settings_without_enable_ipv6_are_refused", |s| {
        s.import_busybox();
        for (yaml, want) in [
            (
                "services:\n  a:\n    image: busybox:latest\n    networks:\n      n:\n        ipv6_address: fd00:db8:1::10\nnetworks:\n  n: {}\n",
                "enable_ipv6",
            ),
            (
                "services:\n  a:\n    image: busybox:latest\n    networks: [n]\nnetworks:\n  n:\n    ipam:\n      config:\n        - subnet: fd00:db8:1::/64\n",
                "enable_ipv6",
            ),
        ] {
            let dir = s.project("nov6", yaml);
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(err.contains(want), "{err}");
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
        }
    });
}

#[test]
fn network_create_ipv6_makes_a_dual_stack_network() {
    sandboxed(
        "ipv6::network_create_ipv6_makes_a_dual_stack_network",
        |s| {
            let dir = s.project("cli6", "services: {}\n");
            s.ok(
                &dir,
                &[
                    "network",
                    "create",
                    "--ipv6",
                    "--subnet",
                    "10.96.0.0/24",
                    "--subnet",
                    "fd00:db8:9::/64",
                    "--gateway",
                    "fd00:db8:9::fe",
                    "-o",
                    "com.docker.network.bridge.name=wharf-cli6",
                    "cli6",
                ],
            );
            let bridge = wharf_net::link_details("wharf-cli6")
                .unwrap()
                .expect("bridge");
            assert_eq!(bridge.ipv6, vec!["fd00:db8:9::fe/64".parse().unwrap()]);
            let inspect = s.ok(&dir, &["network", "inspect", "cli6"]);
            for want in [
                "\"EnableIPv6\": true",
                "\"Subnet\": \"10.96.0.0/24\"",
                "\"Subnet\": \"fd00:db8:9::/64\"",
                "\"Gateway\": \"fd00:db8:9::fe\"",
            ] {
                assert!(inspect.contains(want), "{want} missing: {inspect}");
            }
            // The same IPv6 subnet twice is refused.
            let err = s.fails(
                &dir,
                &[
                    "network",
                    "create",
                    "--ipv6",
                    "--subnet",
                    "fd00:db8:9::/64",
                    "again",
                ],
            );
            assert!(err.contains("overlaps network cli6"), "{err}");
            s.ok(&dir, &["network", "rm", "cli6"]);
            assert_eq!(wharf_net::link_details("wharf-cli6").unwrap(), None);
            assert!(!ruleset().contains("fd00:db8:9::"));

            let err = s.fails(
                &dir,
                &["network", "create", "--subnet", "fd00:db8:9::/64", "nov6"],
            );
            assert!(err.contains("--ipv6"), "{err}");
        },
    );
}
