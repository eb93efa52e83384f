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
