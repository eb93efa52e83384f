//! `wharf dashboard`: its `/metrics` scraped by a real Prometheus (Debian's
//! package, unpacked by scripts/install-deps.sh), figures that agree with
//! `wharf stats` and with the container's cgroup, the refusal to serve
//! another address without a token, and the volumes and networks pages:
//! real sizes and users, and prunes that remove only what no container
//! uses.

use crate::harness::{eventually, http_get, sandboxed, Sandbox};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const PROMETHEUS_DIR: &str = "/var/cache/wharf-dev/prometheus";
const DASHBOARD: &str = "127.0.0.1:9323";
const PROMETHEUS: &str = "127.0.0.1:9090";

/// Kills and reaps its process when dropped, so a failed assertion leaves
/// nothing running in the sandbox.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_dashboard(s: &Sandbox) -> Running {
    let child = Command::new(env!("CARGO_BIN_EXE_wharf"))
        .args(["dashboard", "--listen", DASHBOARD])
        .env("WHARF_ROOT", s.root.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting wharf dashboard");
    let running = Running(child);
    eventually("the dashboard to answer", Duration::from_secs(20), || {
        http_get(DASHBOARD, "/metrics").filter(|r| r.starts_with("HTTP/1.1 200"))
    });
    running
}

/// The value of the first sample of `metric` whose labels contain `label`.
fn metric_value(exposition: &str, metric: &str, label: &str) -> Option<f64> {
    exposition
        .lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(label))
        .find_map(|l| l.rsplit(' ').next()?.parse().ok())
}

/// `200.1MiB / 256MiB` → the bytes before the slash.
fn parse_mem_usage(text: &str) -> f64 {
    let used = text.split('/').next().unwrap().trim();
    let split = used.find(|c: char| c.is_ascii_alphabetic()).unwrap();
    let (number, unit) = used.split_at(split);
    let scale = match unit {
        "B" => 1.0,
        "KiB" => 1024.0,
        "MiB" => 1024.0 * 1024.0,
        "GiB" => 1024.0 * 1024.0 * 1024.0,
        other => panic!("unit {other:?} in {text:?}"),
    };
    number.parse::<f64>().unwrap() * scale
}

const STACK: &str = r#"
services:
  hog:
    image: busybox
    mem_limit: 256m
    tmpfs:
      - /data:size=300m
    command: ["sh", "-c", "dd if=/dev/zero of=/data/fill bs=1M count=200 2>/dev/null; trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
  limited:
    image: busybox
    mem_limit: 64m
    command: ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
"#;

#[test]
fn metrics_agree_with_stats_and_prometheus_reads_them() {
    sandboxed(
        "dashboard::metrics_agree_with_stats_and_prometheus_reads_them",
        |s| {
            s.import_busybox();
            let dir = s.project("dash", STACK);
            s.ok(&dir, &["up", "-d"]);
            let _dashboard = start_dashboard(s);
            let hog = r#"compose_service="hog""#;
            let metrics = eventually(
                "200 MiB in hog's working set",
                Duration::from_secs(60),
                || {
                    let text = http_get(DASHBOARD, "/metrics")?;
                    let set = metric_value(&text, "container_memory_working_set_bytes", hog)?;
                    (set >= 200.0 * 1024.0 * 1024.0).then_some(text)
                },
            );
            assert_eq!(
                metric_value(
                    &metrics,
                    "container_spec_memory_limit_bytes",
                    r#"compose_service="limited""#
                ),
                Some(67108864.0),
                "{metrics}"
            );
            assert!(
                metrics.contains(r#"wharf_containers{state="running"} 2"#),
                "{metrics}"
            );
            assert!(
                metric_value(
                    &metrics,
                    "wharf_project_containers_running",
                    r#"compose_project="dash""#
                ) == Some(2.0),
                "{metrics}"
            );
            let stats = s.ok(&dir, &["stats", "--no-stream", "--format", "json", "hog"]);
            let row: serde_json::Value =
                serde_json::from_str(stats.lines().next().unwrap()).unwrap();
            let from_stats = parse_mem_usage(row["MemUsage"].as_str().unwrap());
            let text = http_get(DASHBOARD, "/metrics").unwrap();
            let from_metrics =
                metric_value(&text, "container_memory_working_set_bytes", hog).unwrap();
            let off = (from_metrics - from_stats).abs() / from_stats;
            assert!(
                off <= 0.02,
                "/metrics says {from_metrics}, wharf stats {from_stats} ({:.1}% apart)",
                off * 100.0
            );

            // And with what the container's cgroup itself says.
            let text = http_get(DASHBOARD, "/metrics").unwrap();
            let from_metrics = metric_value(&text, "container_memory_usage_bytes", hog).unwrap();
            let from_cgroup = cgroup_memory_usage(&container_id(&text, hog));
            let off = (from_metrics - from_cgroup).abs() / from_cgroup;
            assert!(
                off <= 0.02,
                "/metrics says {from_metrics}, the cgroup {from_cgroup} ({:.1}% apart)",
                off * 100.0
            );

            match prometheus_binary() {
                Some(prometheus) => query_through_prometheus(s, &prometheus),
                None => eprintln!("skipped the Prometheus part: {PROMETHEUS_DIR}/prometheus is missing (scripts/install-deps.sh)"),
            }
            s.ok(&dir, &["down"]);
        },
    );
}

/// The `id` label of the container whose labels contain `label`.
fn container_id(exposition: &str, label: &str) -> String {
    let line = exposition
        .lines()
        .find(|l| l.starts_with("container_memory_usage_bytes{") && l.contains(label))
        .unwrap_or_else(|| panic!("no sample for {label}:\n{exposition}"));
    let start = line.find("id=\"").unwrap() + 4;
    let end = start + line[start..].find('"').unwrap();
    line[start..end].to_string()
}

/// The memory usage the container's cgroup reports (v1
/// `memory.usage_in_bytes`, v2 `memory.current`), under the sandbox's
/// cgroup parent and the project `dash`.
fn cgroup_memory_usage(id: &str) -> f64 {
    let below = format!("{}/dash/{id}", wharf_testkit::sandbox::cgroup_parent());
    let candidates = [
        format!("/sys/fs/cgroup/memory/{below}/memory.usage_in_bytes"),
        format!("/sys/fs/cgroup/{below}/memory.current"),
    ];
    let text = candidates
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .unwrap_or_else(|| panic!("none of {candidates:?} could be read"));
    text.trim().parse().unwrap()
}

fn prometheus_binary() -> Option<PathBuf> {
    let path = Path::new(PROMETHEUS_DIR).join("prometheus");
    path.exists().then_some(path)
}

/// A real Prometheus scrapes the dashboard; its answer for the 64 MiB
/// container's limit is 67108864, and the project's memory is there.
fn query_through_prometheus(s: &Sandbox, prometheus: &Path) {
    let config = s.work.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: wharf\n    static_configs:\n      - targets: ['{DASHBOARD}']\n"
        ),
    )
    .unwrap();
    let data = s.work.path().join("prometheus-data");
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg(format!("--web.listen-address={PROMETHEUS}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting prometheus");
    let _prometheus = Running(child);
    let query = |q: &str| -> Option<serde_json::Value> {
        let encoded: String = q
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || b"_-.".contains(&b) {
                    (b as char).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect();
        let response = http_get(PROMETHEUS, &format!("/api/v1/query?query={encoded}"))?;
        let body = response.split_once("\r\n\r\n")?.1;
        let json: serde_json::Value = serde_json::from_str(body).ok()?;
        let result = json["data"]["result"].as_array()?;
        result.first().map(|r| r["value"][1].clone())
    };
    let limit = eventually(
        "Prometheus to have scraped the limit",
        Duration::from_secs(60),
        || query(r#"container_spec_memory_limit_bytes{compose_service="limited"}"#),
    );
    assert_eq!(limit, serde_json::json!("67108864"));
    let project = eventually(
        "the project's memory in Prometheus",
        Duration::from_secs(30),
        || {
            query(
                r#"sum by (compose_project) (container_memory_working_set_bytes{compose_project="dash"})"#,
            )
        },
    );
    let bytes: f64 = project.as_str().unwrap().parse().unwrap();
    assert!(bytes >= 200.0 * 1024.0 * 1024.0, "project memory {bytes}");
}

#[test]
fn another_address_needs_a_token() {
    sandboxed("dashboard::another_address_needs_a_token", |s| {
        let err = s.fails(s.work.path(), &["dashboard", "--listen", "0.0.0.0:9323"]);
        assert!(err.contains("--token-file"), "{err}");
        let empty = s.work.path().join("empty-token");
        std::fs::write(&empty, "\n").unwrap();
        let err = s.fails(
            s.work.path(),
            &[
                "dashboard",
                "--listen",
                "0.0.0.0:9323",
                "--token-file",
                empty.to_str().unwrap(),
            ],
        );
        assert!(err.contains("is empty"), "{err}");
        let err = s.fails(s.work.path(), &["dashboard", "--listen", "nowhere"]);
        assert!(err.contains("--listen"), "{err}");
    });
}

/// POST `body` as a form to `path` of the dashboard; the whole response.
fn http_post(path: &str, body: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(DASHBOARD).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.0\r\nHost: {DASHBOARD}\r\nOrigin: http://{DASHBOARD}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn volumes_and_networks_pages_show_usage_and_prune_what_is_unused() {
    sandboxed(
        "dashboard::volumes_and_networks_pages_show_usage_and_prune_what_is_unused",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "store",
                r#"
services:
  db:
    image: busybox
    volumes: [data:/data]
    command: ["sh", "-c", "dd if=/dev/zero of=/data/fill bs=1M count=3 2>/dev/null; trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
volumes:
  data:
"#,
            );
            s.ok(&dir, &["up", "-d"]);
            s.ok(&dir, &["volume", "create", "spare"]);
            s.ok(&dir, &["network", "create", "idle"]);
            let _dashboard = start_dashboard(s);
            let page = eventually("the 3 MiB in store_data", Duration::from_secs(30), || {
                let page = http_get(DASHBOARD, "/volumes")?;
                page.contains("<td>store_data</td><td>3.0MiB</td>")
                    .then_some(page)
            });
            assert!(page.contains("store-db-1"), "{page}");
            assert!(page.contains("data-name=\"spare\""), "{page}");
            let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
            let csrf = page[at..at + 64].to_string();

            let refused = http_post("/volumes/prune", "all=1");
            assert!(refused.starts_with("HTTP/1.1 403"), "{refused}");
            let pruned = http_post("/volumes/prune", &format!("csrf={csrf}&all=1"));
            assert!(pruned.starts_with("HTTP/1.1 200"), "{pruned}");
            assert!(pruned.contains("Deleted Volumes:\nspare\n"), "{pruned}");
            let volumes = s.ok(&dir, &["volume", "ls", "--format", "{{.Name}}"]);
            assert_eq!(volumes.trim(), "store_data", "the volume in use stays");

            let networks = http_get(DASHBOARD, "/networks").unwrap();
            assert!(networks.contains("data-name=\"idle\""), "{networks}");
            assert!(networks.contains("store-db-1"), "{networks}");
            let pruned = http_post("/networks/prune", &format!("csrf={csrf}"));
            assert!(pruned.contains("Deleted Networks:\nidle\n"), "{pruned}");
            let left = s.ok(&dir, &["network", "ls", "--format", "{{.Name}}"]);
            assert!(left.contains("store_default"), "{left}");
            assert!(!left.contains("idle"), "{left}");
            s.ok(&dir, &["down"]);
        },
    );
}
