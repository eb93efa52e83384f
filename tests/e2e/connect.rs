//! `wharf network connect` and `disconnect` on running and stopped
//! containers: the interface comes and goes in the running container, names
//! resolve on the network only while connected, a restart keeps the
//! attachment, the mistakes docker refuses are refused, and `down` leaves no
//! link or firewall rule.

use crate::harness::{sandboxed, Sandbox};
use std::path::Path;

const COMPOSE: &str = r#"
services:
  app:
    image: busybox:latest
    command: ["sleep", "3600"]
  db:
    image: busybox:latest
    command: ["sleep", "3600"]
    networks: [back]
  lone:
    image: busybox:latest
    command: ["sleep", "3600"]
    network_mode: none
networks:
  back:
    ipam:
      config:
        - subnet: 10.251.0.0/24
"#;

fn succeeds(s: &Sandbox, dir: &Path, args: &[&str]) -> bool {
    s.wharf(dir, args).status.success()
}

#[test]
fn connect_and_disconnect_running_and_stopped_containers() {
    sandboxed(
        "connect::connect_and_disconnect_running_and_stopped_containers",
        |s| {
            s.import_busybox();
            let dir = s.project("pc", COMPOSE);
            s.ok(&dir, &["up", "-d"]);
            let eth1 = ["exec", "app", "ip", "-4", "-o", "addr", "show", "eth1"];
            let app_to_db = ["exec", "app", "ping", "-c", "1", "-W", "2", "db"];
            assert!(!succeeds(s, &dir, &eth1), "app starts with eth0 only");
            assert!(!succeeds(s, &dir, &app_to_db), "db is on another network");

            // What docker refuses.
            let err = s.fails(&dir, &["network", "disconnect", "pc_back", "pc-app-1"]);
            assert!(err.contains("not connected to network pc_back"), "{err}");
            let err = s.fails(&dir, &["network", "connect", "pc_default", "pc-app-1"]);
            assert!(
                err.contains("already connected to network pc_default"),
                "{err}"
            );
            let err = s.fails(&dir, &["network", "connect", "nosuchnet", "pc-app-1"]);
            assert!(err.contains("nosuchnet"), "{err}");
            let err = s.fails(&dir, &["network", "connect", "pc_back", "nosuchbox"]);
            assert!(err.contains("nosuchbox"), "{err}");
            let err = s.fails(&dir, &["network", "connect", "pc_back", "pc-lone-1"]);
            assert!(err.contains("network_mode none"), "{err}");

            // Running: a new eth1 at once, names both ways.
            s.ok(
                &dir,
                &[
                    "network", "connect", "--alias", "appalias", "pc_back", "pc-app-1",
                ],
            );
            let addr = s.ok(&dir, &eth1);
            assert!(addr.contains("inet 10.251.0."), "{addr}");
            assert!(succeeds(s, &dir, &app_to_db), "app reaches db by name");
            for name in ["appalias", "app", "pc-app-1"] {
                assert!(
                    succeeds(s, &dir, &["exec", "db", "ping", "-c", "1", "-W", "2", name]),
                    "db reaches app as {name}"
                );
            }
            // A restart keeps the attachment.
            s.ok(&dir, &["restart", "app"]);
            let again = s.ok(&dir, &eth1);
            assert!(again.contains("inet 10.251.0."), "{again}");

            // Disconnected: eth1 gone, names gone, the address free again.
            s.ok(&dir, &["network", "disconnect", "pc_back", "pc-app-1"]);
            // Deleting the host end takes the container's end with it, at once.
            assert!(
                !succeeds(s, &dir, &eth1),
                "eth1 is left after the disconnect"
            );
            assert!(!succeeds(s, &dir, &app_to_db), "app no longer reaches db");
            let lookup = s.wharf(&dir, &["exec", "db", "nslookup", "appalias", "127.0.0.11"]);
            assert!(!lookup.status.success(), "appalias still resolves");

            // Stopped: the attachment (with its address) waits for the start.
            s.ok(&dir, &["stop", "app"]);
            s.ok(
                &dir,
                &[
                    "network",
                    "connect",
                    "--ip",
                    "10.251.0.77",
                    "pc_back",
                    "pc-app-1",
                ],
            );
            s.ok(&dir, &["start", "app"]);
            let addr = s.ok(&dir, &eth1);
            assert!(addr.contains("inet 10.251.0.77/24"), "{addr}");
            assert!(succeeds(s, &dir, &app_to_db));

            s.ok(&dir, &["down"]);
            crate::harness::no_links_left();
            if wharf_net::firewall::find_nft().is_some() {
                let table = crate::ports::wharf_table();
                assert!(!table.contains("br-"), "bridges left in the table: {table}");
                assert!(!table.contains("wharf container"), "rules left: {table}");
            }
        },
    );
}
