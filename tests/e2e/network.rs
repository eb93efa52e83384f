//! Networking end to end: the embedded DNS server on 127.0.0.11 answers container,
//! service and alias names of shared networks (every replica of a scaled service)
//! and nothing of other projects.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::path::Path;
use std::time::Duration;

const COMPOSE: &str = r#"
services:
  web:
    image: busybox:latest
    command: ["sleep", "3600"]
  worker:
    image: busybox:latest
    command: ["sleep", "3600"]
    networks:
      default:
        aliases: [jobs]
"#;

const OTHER: &str = r#"
services:
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
"#;

/// The IPv4 address of `eth0` in replica `index` of `service`.
fn address(s: &Sandbox, dir: &Path, service: &str, index: u32) -> String {
    let index = index.to_string();
    let out = s.ok(
        dir,
        &[
            "exec", "--index", &index, service, "ip", "-4", "-o", "addr", "show", "eth0",
        ],
    );
    let inet = out.split_whitespace().skip_while(|w| *w != "inet").nth(1);
    inet.and_then(|a| a.split('/').next())
        .unwrap_or_else(|| panic!("no address in {out:?}"))
        .to_string()
}

/// The addresses busybox `nslookup NAME 127.0.0.11` prints for `name`, from `web`.
fn lookup(s: &Sandbox, dir: &Path, name: &str) -> Result<Vec<String>, String> {
    let out = s.wharf(dir, &["exec", "web", "nslookup", name, "127.0.0.11"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        return Err(format!("{stdout}{}", String::from_utf8_lossy(&out.stderr)));
    }
    // After the "Name:" line come the answers, "Address: A.B.C.D" (busybox).
    let answers = stdout
        .split_once("Name:")
        .map(|(_, rest)| rest)
        .unwrap_or("");
    Ok(answers
        .lines()
        .filter_map(|l| l.trim().strip_prefix("Address:"))
        .map(|a| a.trim().to_string())
        .filter(|a| !a.contains(':'))
        .collect())
}

#[test]
fn embedded_dns_answers_names_replicas_and_aliases() {
    sandboxed(
        "network::embedded_dns_answers_names_replicas_and_aliases",
        |s| {
            s.import_busybox();
            let dir = s.project("dns", COMPOSE);
            s.ok(&dir, &["up", "-d", "--scale", "worker=2"]);
            let other = s.project("other", OTHER);
            s.ok(&other, &["up", "-d"]);

            let resolv = s.ok(&dir, &["exec", "web", "cat", "/etc/resolv.conf"]);
            assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
            assert!(resolv.contains("ndots:0"), "{resolv}");

            let web = address(s, &dir, "web", 1);
            let w1 = address(s, &dir, "worker", 1);
            let w2 = address(s, &dir, "worker", 2);

            let found = lookup(s, &dir, "dns-worker-1").unwrap();
            assert_eq!(found, std::slice::from_ref(&w1));
            assert_eq!(
                lookup(s, &dir, "dns-web-1").unwrap(),
                std::slice::from_ref(&web)
            );
            assert_eq!(lookup(s, &dir, "web").unwrap(), std::slice::from_ref(&web));

            // The service name: both replicas, in rotating order.
            let mut firsts = Vec::new();
            for _ in 0..4 {
                let mut found = lookup(s, &dir, "worker").unwrap();
                firsts.push(found[0].clone());
                found.sort();
                let mut want = vec![w1.clone(), w2.clone()];
                want.sort();
                assert_eq!(found, want);
            }
            assert!(firsts.contains(&w1) && firsts.contains(&w2), "{firsts:?}");
            let mut jobs = lookup(s, &dir, "jobs").unwrap();
            jobs.sort();
            let mut want = vec![w1.clone(), w2.clone()];
            want.sort();
            assert_eq!(jobs, want);

            // Another project's names do not resolve.
            assert!(lookup(s, &dir, "db").is_err());
            assert!(lookup(s, &dir, "other-db-1").is_err());

            // A replica added later is answered without restarting web.
            s.ok(&dir, &["up", "-d", "--scale", "worker=3"]);
            let w3 = address(s, &dir, "worker", 3);
            eventually("the third replica in DNS", Duration::from_secs(5), || {
                lookup(s, &dir, "worker")
                    .ok()
                    .filter(|found| found.len() == 3 && found.contains(&w3))
            });

            // Stopped containers leave DNS (as they leave docker's network) and
            // come back when started.
            s.ok(&dir, &["stop", "-t", "0", "worker"]);
            eventually(
                "stopped workers to leave DNS",
                Duration::from_secs(5),
                || lookup(s, &dir, "worker").is_err().then_some(()),
            );
            assert!(lookup(s, &dir, "dns-worker-1").is_err());
            assert_eq!(lookup(s, &dir, "web").unwrap(), std::slice::from_ref(&web));
            s.ok(&dir, &["start", "worker"]);
            eventually(
                "started workers back in DNS",
                Duration::from_secs(5),
                || {
                    lookup(s, &dir, "worker")
                        .ok()
                        .filter(|found| found.len() == 3)
                },
            );

            // A container that was stopped while others were created and
            // removed on its network knows them all once started again.
            s.ok(&dir, &["stop", "-t", "0", "web"]);
            s.ok(
                &dir,
                &["up", "-d", "--no-recreate", "--scale", "worker=5", "worker"],
            );
            s.ok(
                &dir,
                &["up", "-d", "--no-recreate", "--scale", "worker=4", "worker"],
            );
            let stopped = s.ok(&dir, &["ps", "-a", "--status", "exited", "--services"]);
            assert_eq!(stopped.trim(), "web");
            s.ok(&dir, &["start", "web"]);
            let w4 = address(s, &dir, "worker", 4);
            let mut found = lookup(s, &dir, "worker").unwrap();
            found.sort();
            let mut want = vec![w1.clone(), w2.clone(), w3.clone(), w4.clone()];
            want.sort();
            assert_eq!(found, want);
            assert_eq!(lookup(s, &dir, "dns-worker-4").unwrap(), [w4]);
            assert!(lookup(s, &dir, "dns-worker-5").is_err());

            s.ok(&other, &["down"]);
            s.ok(&dir, &["down"]);
        },
    );
}

const MODES: &str = r#"
services:
  web:
    image: busybox:latest
    command: ["sleep", "3600"]
  sidecar:
    image: busybox:latest
    command: ["sleep", "3600"]
    network_mode: service:web
  hosted:
    image: busybox:latest
    command: ["sleep", "3600"]
    network_mode: host
  isolated:
    image: busybox:latest
    command: ["sleep", "3600"]
    network_mode: none
"#;

/// The interface names `ip -o link` prints in `service`.
fn links(s: &Sandbox, dir: &Path, service: &str) -> Vec<String> {
    s.ok(dir, &["exec", service, "ip", "-o", "link"])
        .lines()
        .filter_map(|l| l.split(':').nth(1))
        .map(|name| name.trim().split('@').next().unwrap_or("").to_string())
        .collect()
}

#[test]
fn network_modes_host_none_and_service() {
    sandboxed("network::network_modes_host_none_and_service", |s| {
        s.import_busybox();
        let dir = s.project("modes", MODES);
        s.ok(&dir, &["up", "-d"]);

        assert_eq!(links(s, &dir, "isolated"), ["lo"]);
        let hosted = links(s, &dir, "hosted");
        assert!(
            hosted.iter().any(|l| l.starts_with("br-")),
            "the host's bridges: {hosted:?}"
        );
        assert_eq!(
            address(s, &dir, "sidecar", 1),
            address(s, &dir, "web", 1),
            "sidecar shares web's network namespace"
        );
        let resolv = s.ok(&dir, &["exec", "sidecar", "cat", "/etc/resolv.conf"]);
        assert!(resolv.starts_with("nameserver 127.0.0.11\n"), "{resolv}");
        let out = s.ok(&dir, &["exec", "sidecar", "nslookup", "web", "127.0.0.11"]);
        assert!(out.contains(&address(s, &dir, "web", 1)), "{out}");

        s.ok(&dir, &["down"]);
    });
}

#[test]
fn network_commands_create_list_inspect_remove_and_prune() {
    sandboxed(
        "network::network_commands_create_list_inspect_remove_and_prune",
        |s| {
            let here = s.work.path();
            let id = s.ok(
                here,
                &[
                    "network",
                    "create",
                    "--subnet",
                    "10.77.0.0/24",
                    "--label",
                    "team=a",
                    "mine",
                ],
            );
            let id = id.trim();
            assert_eq!(id.len(), 64, "{id}");
            assert!(s
                .fails(here, &["network", "create", "mine"])
                .contains("already exists"));
            s.ok(here, &["network", "create", "spare"]);

            let ls = s.ok(here, &["network", "ls"]);
            assert!(ls.starts_with("NETWORK ID"), "{ls}");
            assert!(ls.contains(&format!("{}   mine", &id[..12])), "{ls}");
            assert_eq!(s.ok(here, &["network", "ls", "-q"]).lines().count(), 2);
            let json = s.ok(
                here,
                &["network", "ls", "--format", "json", "-f", "label=team=a"],
            );
            let line: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
            assert_eq!(line["Name"], "mine");

            let inspect: serde_json::Value =
                serde_json::from_str(&s.ok(here, &["network", "inspect", "mine"])).unwrap();
            assert_eq!(inspect[0]["Id"], id);
            assert_eq!(inspect[0]["IPAM"]["Config"][0]["Subnet"], "10.77.0.0/24");
            assert_eq!(inspect[0]["IPAM"]["Config"][0]["Gateway"], "10.77.0.1");
            assert_eq!(inspect[0]["Labels"]["team"], "a");

            assert_eq!(s.ok(here, &["network", "rm", "mine"]).trim(), "mine");
            assert!(s
                .fails(here, &["network", "rm", "mine"])
                .contains("not found"));
            s.ok(here, &["network", "rm", "-f", "mine"]);
            let pruned = s.ok(here, &["network", "prune", "-f"]);
            assert_eq!(pruned, "Deleted Networks:\nspare\n");
            assert_eq!(s.ok(here, &["network", "ls", "-q"]), "");
        },
    );
}

const IPAM: &str = "services:
  a:
    image: busybox
    command: [sleep, '3600']
    mac_address: '02:42:0a:63:00:aa'
    networks: [front]
  b:
    image: busybox
    command: [sleep, '3600']
    networks:
      front:
        ipv4_address: 10.99.0.20
networks:
  front:
    driver_opts:
      com.docker.network.bridge.name: wharf-front0
      com.docker.network.driver.mtu: '1400'
    ipam:
      config:
        - subnet: 10.99.0.0/24
          gateway: 10.99.0.254
          ip_range: 10.99.0.128/25
          aux_addresses:
            router: 10.99.0.128
";

fn in_container(s: &Sandbox, dir: &Path, service: &str, script: &str) -> String {
    s.ok(dir, &["exec", "-T", service, "sh", "-c", script])
        .trim()
        .to_string()
}

#[test]
fn ipam_bridge_name_mtu_and_mac_address_are_honoured() {
    sandboxed(
        "network::ipam_bridge_name_mtu_and_mac_address_are_honoured",
        |s| {
            s.import_busybox();
            let dir = s.project("ipam", IPAM);
            s.ok(&dir, &["up", "-d"]);
            let bridge = wharf_net::link_details("wharf-front0").unwrap();
            assert_eq!(bridge.expect("the bridge wharf-front0").mtu, Some(1400));
            // The range's first address is reserved for "router": a gets the next.
            let a = in_container(s, &dir, "a", "ip -4 -o addr show eth0");
            assert!(a.contains("inet 10.99.0.129/24"), "{a}");
            assert_eq!(
                in_container(s, &dir, "a", "cat /sys/class/net/eth0/address"),
                "02:42:0a:63:00:aa"
            );
            assert_eq!(
                in_container(s, &dir, "a", "cat /sys/class/net/eth0/mtu"),
                "1400"
            );
            let route = in_container(s, &dir, "a", "ip route show default");
            assert!(route.contains("via 10.99.0.254"), "{route}");
            let b = in_container(s, &dir, "b", "ip -4 -o addr show eth0");
            assert!(b.contains("inet 10.99.0.20/24"), "{b}");
            in_container(s, &dir, "a", "ping -c 1 -W 5 10.99.0.20");

            let inspect = s.ok(&dir, &["network", "inspect", "ipam_front"]);
            for want in [
                "\"IPRange\": \"10.99.0.128/25\"",
                "\"router\": \"10.99.0.128\"",
                "\"Gateway\": \"10.99.0.254\"",
                "\"com.docker.network.driver.mtu\": \"1400\"",
            ] {
                assert!(inspect.contains(want), "{want} missing: {inspect}");
            }
            s.ok(&dir, &["down", "-t", "0"]);
            assert_eq!(wharf_net::link_details("wharf-front0").unwrap(), None);

            // What wharf cannot honour is refused before anything is created.
            for (change, want) in [
                ("    ipam:\n", "    driver: overlay\n    ipam:\n"),
                (
                    "          gateway: 10.99.0.254\n",
                    "          gateway: 10.98.0.1\n",
                ),
                ("    ipam:\n", "    enable_ipv4: false\n    ipam:\n"),
                (
                    "    mac_address: '02:42:0a:63:00:aa'\n",
                    "    mac_address: '01:00:5e:00:00:01'\n",
                ),
            ]
            .map(|(from, to)| (IPAM.replacen(from, to, 1), to.trim().to_string()))
            {
                let dir = s.project("ipam", &change);
                let err = s.fails(&dir, &["up", "-d"]);
                let first = want.split(':').next().unwrap().trim_start_matches("- ");
                assert!(err.contains(first), "{want}: {err}");
                assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "", "{want}");
                assert_eq!(wharf_net::link_details("wharf-front0").unwrap(), None);
                assert!(
                    !s.ok(&dir, &["network", "ls"]).contains("ipam_front"),
                    "{want}: {err}"
                );
            }
        },
    );
}

#[test]
fn links_are_aliases_seen_by_the_linking_container_only() {
    sandboxed(
        "network::links_are_aliases_seen_by_the_linking_container_only",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "linked",
                "services:
  web:
    image: busybox:latest
    command: [sleep, '3600']
    links: ['db:database', cache]
  db:
    image: busybox:latest
    command: [sleep, '3600']
  cache:
    image: busybox:latest
    command: [sleep, '3600']
  other:
    image: busybox:latest
    command: [sleep, '3600']
",
            );
            let up = s.wharf(&dir, &["up", "-d", "web"]);
            let err = String::from_utf8_lossy(&up.stderr);
            assert!(up.status.success(), "{err}");
            // Linked services come up first, with web alone named on the command line.
            assert!(err.contains("Container linked-db-1  Started"), "{err}");
            assert!(err.contains("Container linked-cache-1  Started"), "{err}");
            let db = address(s, &dir, "db", 1);
            assert_eq!(lookup(s, &dir, "database").unwrap(), vec![db.clone()]);
            let ping = s.ok(
                &dir,
                &["exec", "web", "ping", "-c", "1", "-W", "5", "database"],
            );
            assert!(ping.contains(&db), "{ping}");
            // The alias is web's own: another container does not know it.
            s.ok(&dir, &["up", "-d", "other"]);
            let out = s.wharf(
                &dir,
                &["exec", "other", "nslookup", "database", "127.0.0.11"],
            );
            assert!(!out.status.success(), "{out:?}");
            s.ok(&dir, &["down", "-t", "0"]);

            // A link to a service that does not exist is an error with its position.
            let dir = s.project(
                "badlink",
                "services:\n  web:\n    image: busybox\n    links: [nosuch]\n",
            );
            let err = s.fails_loading(&dir, &["up", "-d"]);
            assert!(err.contains("\"nosuch\" is not defined"), "{err}");
        },
    );
}
