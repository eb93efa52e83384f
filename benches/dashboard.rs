//! Benchmark: `wharf dashboard`'s answers with 50 running containers, over
//! RUNS requests (default 50) on loopback: the median time of a `/metrics`
//! scrape (target ≤ 20 ms) and of the overview page (≤ 50 ms), and the
//! server process's RSS after them (≤ 15 MiB). The containers are the fake
//! engine's, so the figures are the server's own cost (collecting,
//! rendering, HTTP), not the kernel's cgroup reads, which `wharf stats`
//! shares.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wharf_dashboard::Server;
use wharf_engine_api::ContainerSpec;
use wharf_testkit::FakeEngine;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(50);
    let engine = Arc::new(FakeEngine::new());
    engine.add_image("busybox:latest");
    for i in 1..=50 {
        let labels = [
            ("com.docker.compose.project", format!("p{}", i % 5)),
            ("com.docker.compose.service", format!("s{i}")),
            ("com.docker.compose.container-number", "1".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        engine.add_container(
            &ContainerSpec {
                name: format!("p{}-s{i}-1", i % 5),
                image: "busybox:latest".into(),
                labels,
                ..Default::default()
            },
            true,
        );
    }
    let server = Server::bind(engine, "127.0.0.1:0".parse().unwrap(), None).unwrap();
    let addr = server.local_addr();
    std::thread::spawn(move || server.serve());
    let scrape = median(runs, || get(addr, "/metrics"));
    let overview = median(runs, || get(addr, "/"));
    let rss = rss_kib();
    println!("dashboard, 50 containers, median of {runs}:");
    println!(
        "  /metrics scrape   {:>8.2} ms (target ≤ 20 ms)",
        ms(scrape)
    );
    println!(
        "  overview page     {:>8.2} ms (target ≤ 50 ms)",
        ms(overview)
    );
    println!(
        "  process RSS       {:>8.2} MiB (target ≤ 15 MiB)",
        rss as f64 / 1024.0
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(runs: usize, mut once: impl FnMut() -> usize) -> Duration {
    let mut times: Vec<Duration> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            assert!(once() > 0, "an empty answer");
            start.elapsed()
        })
        .collect();
    times.sort();
    times[times.len() / 2]
}

/// GET `path`; the length of the answer.
fn get(addr: SocketAddr, path: &str) -> usize {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut out = Vec::new();
    s.read_to_end(&mut out).unwrap();
    assert!(
        out.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&out)
    );
    out.len()
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}
