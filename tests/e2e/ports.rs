//! Published ports through DNAT, seen from a second host: a network namespace
//! of its own behind a veth pair on a /30, as another machine on the LAN would
//! be. Its requests must reach the containers with its own source address,
//! while the host's loopback keeps working through the port proxy. Also the
//! isolation of projects and of internal networks from each other and from
//! the outside, and the rules a `down` must leave behind: none.

use crate::harness::{eventually, http_get, sandboxed, Sandbox};
use std::net::{Ipv4Addr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command};
use std::time::Duration;

pub const HOST_ADDR: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 1);
pub const CLIENT_ADDR: Ipv4Addr = Ipv4Addr::new(10, 250, 0, 2);

/// Another host: a process in a network namespace of its own, reached over
/// a veth pair (host end on a small bridge holding 10.250.0.1/30).
pub struct ClientHost {
    process: Child,
}

impl ClientHost {
    pub fn start() -> Self {
        let process = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .spawn()
            .expect("starting the client host's process");
        let client = ClientHost { process };
        let pid = client.pid();
        // unshare(1) execs sleep once the namespace exists: wait for that.
        let own_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
        eventually(
            "the client's network namespace",
            Duration::from_secs(5),
            || {
                let ns = std::fs::read_link(format!("/proc/{pid}/ns/net")).ok()?;
                let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
                (ns != own_ns && comm.trim() == "sleep").then_some(())
            },
        );
        wharf_net::ensure_bridge("wclient0", HOST_ADDR, 30).expect("the client's link");
        wharf_net::attach_container(
            pid,
            "wclient0",
            "wclient0h",
            "eth0",
            CLIENT_ADDR,
            30,
            Some(HOST_ADDR),
            None,
            None,
            None,
        )
        .expect("connecting the client host");
        client
    }

    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Run `f` from the client host's network namespace.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> T {
        wharf_net::in_netns_of_pid(self.pid(), || Ok(f())).expect("entering the client host")
    }
}

impl Drop for ClientHost {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        let _ = wharf_net::delete_link("wclient0");
    }
}

const PROJECT_A: &str = r#"
services:
  web:
    image: busybox:latest
    command:
      - sh
      - -c
      - |
        mkdir -p /www/cgi-bin
        printf '#!/bin/sh\necho Content-Type: text/plain\necho\necho "remote=$$REMOTE_ADDR"\n' > /www/cgi-bin/ip
        chmod +x /www/cgi-bin/ip
        exec httpd -f -p 80 -h /www
    ports: ["18080:80"]
  udp:
    image: busybox:latest
    # busybox has no UDP server: the host's Python, read-only, answers each
    # datagram with the address it came from.
    command:
      - /usr/bin/python3
      - -c
      - |
        import socket
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("", 5353))
        while True:
            data, peer = s.recvfrom(512)
            s.sendto(("from=" + peer[0]).encode(), peer)
    volumes:
      - /usr:/usr:ro
      - /usr/lib:/lib:ro
      - /usr/lib64:/lib64:ro
    ports: ["15353:5353/udp"]
  sealed:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "80"]
    networks: [inside]
    ports: ["18081:80"]
networks:
  inside:
    internal: true
"#;

const PROJECT_B: &str = r#"
services:
  db:
    image: busybox:latest
    command: ["httpd", "-f", "-p", "80"]
  peer:
    image: busybox:latest
    command: ["sleep", "3600"]
"#;

fn ipv4_of(s: &Sandbox, dir: &Path, service: &str) -> String {
    let out = s.ok(
        dir,
        &["exec", service, "ip", "-4", "-o", "addr", "show", "eth0"],
    );
    let inet = out.split_whitespace().skip_while(|w| *w != "inet").nth(1);
    inet.and_then(|a| a.split('/').next())
        .unwrap_or_else(|| panic!("no address in {out:?}"))
        .to_string()
}

fn udp_ask(to: &str) -> Option<String> {
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket
        .set_read_timeout(Some(Duration::from_millis(500)))
        .ok()?;
    socket.send_to(b"who", to).ok()?;
    let mut buf = [0u8; 512];
    let (n, _) = socket.recv_from(&mut buf).ok()?;
    Some(String::from_utf8_lossy(&buf[..n]).into_owned())
}

/// The rules of wharf's nftables table, as `nft list` prints them.
pub fn wharf_table() -> String {
    let out = Command::new(wharf_net::firewall::find_nft().expect("nft is installed"))
        .args(["list", "table", "inet", "wharf"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn container_id(s: &Sandbox, name: &str) -> String {
    for entry in std::fs::read_dir(s.root.path().join("containers")).unwrap() {
        let dir = entry.unwrap().path();
        let Ok(config) = std::fs::read_to_string(dir.join("config.json")) else {
            continue;
        };
        let config: serde_json::Value = serde_json::from_str(&config).unwrap();
        if config["name"] == name {
            return config["id"].as_str().unwrap().to_string();
        }
    }
    panic!("no container {name}");
}

#[test]
fn published_ports_keep_the_client_address_and_networks_stay_apart() {
    sandboxed(
        "ports::published_ports_keep_the_client_address_and_networks_stay_apart",
        |s| {
            if wharf_net::firewall::find_nft().is_none() {
                eprintln!("skipped: nft is not installed");
                return;
            }
            s.import_busybox();
            let client = ClientHost::start();
            let a = s.project("pa", PROJECT_A);
            let b = s.project("pb", PROJECT_B);
            s.ok(&a, &["up", "-d"]);
            s.ok(&b, &["up", "-d"]);

            // TCP from the other host: DNATed, the client's own address seen.
            let url = format!("{HOST_ADDR}:18080");
            let from_client = eventually(
                "httpd from the client host",
                Duration::from_secs(10),
                || client.run(|| http_get(&url, "/cgi-bin/ip")),
            );
            // busybox httpd prints IPv4 peers in their mapped form, [::ffff:A.B.C.D].
            assert!(
                from_client.contains(&format!("remote=[::ffff:{CLIENT_ADDR}]\n")),
                "{from_client}"
            );
            let table = wharf_table();
            assert!(table.contains("dnat ip to"), "{table}");
            // From the host's loopback: the proxy answers (its address is seen).
            let local =
                http_get("127.0.0.1:18080", "/cgi-bin/ip").expect("httpd through the proxy");
            assert!(local.contains("remote="), "{local}");
            assert!(!local.contains(&CLIENT_ADDR.to_string()), "{local}");

            // UDP, both ways.
            let udp_to = format!("{HOST_ADDR}:15353");
            let answer = eventually(
                "the UDP service from the client",
                Duration::from_secs(10),
                || client.run(|| udp_ask(&udp_to)),
            );
            assert_eq!(answer, format!("from={CLIENT_ADDR}"));
            let local = eventually(
                "the UDP service from loopback",
                Duration::from_secs(5),
                || udp_ask("127.0.0.1:15353"),
            );
            assert!(local.starts_with("from="), "{local}");

            // Hairpin: a container to the host's address is served by the proxy.
            let hairpin = s.ok(
                &a,
                &[
                    "exec",
                    "udp",
                    "wget",
                    "-q",
                    "-T",
                    "5",
                    "-O",
                    "-",
                    &format!("http://{url}/cgi-bin/ip"),
                ],
            );
            assert!(hairpin.contains("remote="), "{hairpin}");

            // An internal network publishes nothing and reaches nothing outside.
            assert!(http_get("127.0.0.1:18081", "/").is_none());
            assert!(client
                .run(|| http_get(&format!("{HOST_ADDR}:18081"), "/"))
                .is_none());
            let listener = client.run(|| TcpListener::bind((CLIENT_ADDR, 7777)).unwrap());
            std::thread::spawn(move || {
                for mut stream in listener.incoming().flatten() {
                    use std::io::Write;
                    let _ = stream.write_all(b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 8\r\n\r\noutside\n");
                }
            });
            let reach = |service: &str| {
                let url = format!("http://{CLIENT_ADDR}:7777/");
                let out = s.wharf(
                    &a,
                    &["exec", service, "wget", "-q", "-T", "3", "-O", "-", &url],
                );
                out.status.success() && String::from_utf8_lossy(&out.stdout).contains("outside")
            };
            assert!(reach("udp"), "a normal network reaches the other host");
            assert!(
                !reach("sealed"),
                "an internal network must not reach the other host"
            );

            // Project A reaches neither B's containers by address nor B's names.
            let db = ipv4_of(s, &b, "db");
            let within = s.wharf(&b, &["exec", "peer", "ping", "-c", "1", "-W", "2", &db]);
            assert!(within.status.success(), "B reaches its own db");
            let across = s.wharf(&a, &["exec", "web", "ping", "-c", "1", "-W", "2", &db]);
            assert!(!across.status.success(), "A must not reach B's db at {db}");
            let resolved = s.wharf(&a, &["exec", "web", "nslookup", "db", "127.0.0.11"]);
            let text = String::from_utf8_lossy(&resolved.stdout);
            assert!(!text.contains(&db), "A resolved B's db: {text}");

            // A killed monitor leaves its rules; stopping the container removes them.
            let id = container_id(s, "pa-web-1");
            let state: serde_json::Value = serde_json::from_str(
                &std::fs::read_to_string(
                    s.root
                        .path()
                        .join("containers")
                        .join(&id)
                        .join("state.json"),
                )
                .unwrap(),
            )
            .unwrap();
            let monitor = state["monitor_pid"].as_u64().expect("a monitor pid") as i32;
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(monitor),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            assert!(wharf_table().contains(&format!("wharf container {id}")));
            s.ok(&a, &["stop", "web"]);
            let table = wharf_table();
            assert!(!table.contains(&format!("wharf container {id}")), "{table}");

            s.ok(&a, &["down"]);
            s.ok(&b, &["down"]);
            drop(client);
            let table = wharf_table();
            assert!(!table.contains("wharf container"), "rules left: {table}");
            assert!(!table.contains("br-"), "bridges left in the table: {table}");
            crate::harness::no_links_left();
        },
    );
}

/// Regression: a service on a normal and an `internal` network published
/// nothing when the internal one sorted first (`back` before `front`).
#[test]
fn a_port_is_published_through_the_network_that_is_not_internal() {
    sandboxed(
        "ports::a_port_is_published_through_the_network_that_is_not_internal",
        |s| {
            if wharf_net::firewall::find_nft().is_none() {
                eprintln!("skipped: nft is not installed");
                return;
            }
            s.import_busybox();
            let client = ClientHost::start();
            let dir = s.project(
                "mixed",
                r#"
services:
  api:
    image: busybox:latest
    command: ["sh", "-c", "echo published > /index.html && exec httpd -f -p 80 -h /"]
    ports: ["80"]
    networks:
      front: {}
      back: {}
networks:
  front: {}
  back:
    internal: true
"#,
            );
            s.ok(&dir, &["up", "-d"]);
            let answer = s.ok(&dir, &["port", "api", "80"]);
            let host_port = answer
                .trim()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse::<u16>().ok())
                .unwrap_or_else(|| panic!("no host port in {answer:?}"));
            let local = eventually("api through the proxy", Duration::from_secs(10), || {
                http_get(&format!("127.0.0.1:{host_port}"), "/")
            });
            assert!(local.contains("published"), "{local}");
            // From another host: DNAT to the front address, answered through
            // the front network's default route.
            let url = format!("{HOST_ADDR}:{host_port}");
            let remote = eventually("api from the client host", Duration::from_secs(10), || {
                client.run(|| http_get(&url, "/"))
            });
            assert!(remote.contains("published"), "{remote}");
            s.ok(&dir, &["down"]);
        },
    );
}

/// Regression: after `kill -9` of a container's monitor, `ps` still said
/// `Up`, the published port refused connections and `up -d` answered
/// `Running` without repairing anything.
#[test]
fn a_killed_monitor_is_noticed_and_up_repairs_the_container() {
    sandboxed(
        "ports::a_killed_monitor_is_noticed_and_up_repairs_the_container",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "orphan",
                r#"
services:
  web:
    image: busybox:latest
    command: ["sh", "-c", "echo served > /index.html && exec httpd -f -p 80 -h /"]
    ports: ["18090:80"]
"#,
            );
            s.ok(&dir, &["up", "-d"]);
            eventually("web through its port", Duration::from_secs(10), || {
                http_get("127.0.0.1:18090", "/")
            });
            let id = container_id(s, "orphan-web-1");
            let state_path = s
                .root
                .path()
                .join("containers")
                .join(&id)
                .join("state.json");
            let state: serde_json::Value =
                serde_json::from_str(&std::fs::read_to_string(&state_path).unwrap()).unwrap();
            let monitor = state["monitor_pid"].as_u64().expect("a monitor pid") as i32;
            let container = state["state"]["pid"]
                .as_u64()
                .unwrap_or_else(|| panic!("no running pid in {state}"));
            nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(monitor),
                nix::sys::signal::Signal::SIGKILL,
            )
            .unwrap();
            eventually("the monitor to die", Duration::from_secs(10), || {
                (!alive(monitor as u64)).then_some(())
            });

            let ps = s.ok(&dir, &["ps", "-a"]);
            let line = ps
                .lines()
                .find(|l| l.contains("orphan-web-1"))
                .unwrap_or_else(|| panic!("{ps}"));
            assert!(!line.contains(" Up "), "{ps}");
            assert!(line.contains("Exited (137)"), "{ps}");
            // The orphan is gone with its monitor: no process, no port.
            assert!(!alive(container), "the orphaned container still runs");
            assert!(http_get("127.0.0.1:18090", "/").is_none());
            let events =
                std::fs::read_to_string(s.root.path().join("events/orphan.jsonl")).unwrap();
            assert!(
                events
                    .lines()
                    .any(|l| l.contains("\"die\"") && l.contains("monitor died")),
                "{events}"
            );

            let up = s.wharf(&dir, &["up", "-d"]);
            let up_err = String::from_utf8_lossy(&up.stderr);
            assert!(up.status.success(), "{up_err}");
            assert!(up_err.contains("Started"), "{up_err}");
            let answer = eventually(
                "web again through its port",
                Duration::from_secs(10),
                || http_get("127.0.0.1:18090", "/"),
            );
            assert!(answer.contains("served"), "{answer}");
            let ps = s.ok(&dir, &["ps"]);
            assert!(ps.contains(" Up "), "{ps}");
            s.ok(&dir, &["down"]);
        },
    );
}

/// Whether process `pid` exists and is not a zombie.
fn alive(pid: u64) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        !stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.starts_with(" Z"))
    })
}
