//! `cargo bench -p wharf-kube --bench convert_200`: converting a loaded
//! 200-service project (ports, volumes, networks, healthchecks, depends_on)
//! to Kubernetes manifests and their YAML (target: under 50 ms). Prints the
//! median and the slowest of 50 conversions; loading is not timed.

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
    for _ in 0..50 {
        let t = Instant::now();
        let conversion = wharf_kube::convert(&project, &kube).expect("convert");
        bytes = conversion.to_stream().len();
        times.push(t.elapsed());
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "convert 200 services to {bytes} bytes of YAML: median {:.2} ms, max {:.2} ms (target 50 ms)",
        median.as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    if median > Duration::from_millis(50) {
        eprintln!("median above the 50 ms target");
        std::process::exit(1);
    }
}
