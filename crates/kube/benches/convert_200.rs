//! `cargo bench -p wharf-kube --bench convert_200`: converting a loaded
//! 200-service project (ports, volumes, networks, healthchecks, depends_on)
//! to Kubernetes manifests and their YAML (target: under 50 ms). Prints the
//! median and the slowest of 50 conversions; loading is not timed. Also
//! prints the mean CPU time of the bench's thread per conversion, which a
//! machine busy with other work does not inflate.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn compose_file(services: usize) -> String {
    let mut y = String::from("services:\n");
    for i in 0..services {
        let _ = write!(
            y,
            "  svc{i}:\n    image: registry.example/app{i}:1.0\n    command: [\"serve\", \"--port\", \"{port}\"]\n    environment:\n      LOG_LEVEL: info\n      SLOT: \"{i}\"\n    ports: [\"{port}:{port}\"]\n    volumes: [\"cache{m}:/cache\"]\n    networks: [front, back]\n    deploy:\n      resources:\n        limits: {{cpus: '0.5', memory: 128M}}\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 10s\n",
            port = 10000 + i,
            m = i % 10
        );
        if i > 0 {
            let _ = writeln!(y, "    depends_on: [svc{}]", i - 1);
        }
    }
    y.push_str("networks:\n  front:\n  back:\n    internal: true\nvolumes:\n");
    for m in 0..10 {
        let _ = writeln!(y, "  cache{m}:");
    }
    y
}

/// CPU time of this thread so far (utime + stime of `/proc/thread-self/stat`,
/// in clock ticks of 10 ms).
fn thread_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after_name = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    // Fields 14 and 15 of the file; the first after the name is field 3.
    let ticks = fields.get(11).unwrap_or(&0) + fields.get(12).unwrap_or(&0);
    Duration::from_millis(ticks * 10)
}

fn main() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("bench");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::write(root.join("compose.yaml"), compose_file(200)).expect("write");
    let options = wharf_compose::LoadOptions {
        cwd: root.clone(),
        ..Default::default()
    };
    let project = wharf_compose::load(&options).expect("load");
    assert_eq!(project.services.len(), 200);
    let kube = wharf_kube::Options::default();
    let mut times: Vec<Duration> = Vec::new();
    let mut bytes = 0;
    let cpu_before = thread_cpu();
    for _ in 0..50 {
        let t = Instant::now();
        let conversion = wharf_kube::convert(&project, &kube).expect("convert");
        bytes = conversion.to_stream().len();
        times.push(t.elapsed());
    }
    let cpu = (thread_cpu() - cpu_before) / 50;
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "convert 200 services to {bytes} bytes of YAML: median {:.2} ms, max {:.2} ms, CPU {:.1} ms (target 50 ms)",
        median.as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3,
        cpu.as_secs_f64() * 1e3
    );
    if median > Duration::from_millis(50) {
        eprintln!("median above the 50 ms target");
        std::process::exit(1);
    }
}
