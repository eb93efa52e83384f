//! `cargo bench -p wharf-compose --bench load_200`: loading a 200-service
//! file with anchors, merge keys and interpolation (target: under 20 ms).
//! Prints the median and the slowest of 50 loads.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

fn compose_file(services: usize) -> String {
    let mut y = String::from(
        "x-base: &base\n  restart: unless-stopped\n  environment:\n    LOG_LEVEL: ${LOG_LEVEL:-info}\n    REGION: ${REGION:-eu}\n  labels: [com.example.tier=app]\n  deploy:\n    resources:\n      limits: {cpus: '0.5', memory: 128M}\n  healthcheck:\n    test: [\"CMD\", \"true\"]\n    interval: 30s\nservices:\n",
    );
    for i in 0..services {
        let _ = write!(
            y,
            "  svc{i}:\n    <<: *base\n    image: registry.example/app{i}:${{TAG:-1.0}}\n    command: [\"serve\", \"--port\", \"{port}\"]\n    ports: [\"127.0.0.1:{port}:{port}\"]\n    volumes: [\"./data/{i}:/data\", \"cache{m}:/cache\"]\n    networks: [front, back]\n",
            port = 10000 + i,
            m = i % 10
        );
        if i > 0 {
            let _ = writeln!(y, "    depends_on: [svc{}]", i - 1);
        }
    }
    y.push_str("networks:\n  front:\n  back:\nvolumes:\n");
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
    std::fs::write(root.join(".env"), "TAG=2.0\n").expect("write .env");
    let options = wharf_compose::LoadOptions {
        cwd: root.clone(),
        env: [("REGION".to_string(), "us".to_string())].into(),
        ..Default::default()
    };
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let p = wharf_compose::load(&options).expect("load");
        times.push(t.elapsed());
        assert_eq!(p.services.len(), 200);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "load of a 200-service file (anchors, interpolation, 50 runs): median {:.2} ms, max {:.2} ms",
        median.as_secs_f64() * 1e3,
        times[times.len() - 1].as_secs_f64() * 1e3
    );
    let t = Instant::now();
    let p = wharf_compose::load(&options).expect("load");
    let yaml = wharf_compose::render::render(&p, wharf_compose::render::Format::Yaml);
    println!(
        "load + render as YAML: {:.2} ms ({} bytes)",
        t.elapsed().as_secs_f64() * 1e3,
        yaml.len()
    );
}
