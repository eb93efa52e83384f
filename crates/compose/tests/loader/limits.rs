//! Resource limits, units, durations, replicas, restart and healthcheck.

use super::{error_of, load_yaml};
use std::time::Duration;
use wharf_compose::syntax::parse_nano_cpus;
use wharf_compose::*;

const MIB: u64 = 1024 * 1024;

#[test]
fn memory_units() {
    let cases: &[(&str, u64)] = &[
        ("1024", 1024),
        ("100b", 100),
        ("1k", 1024),
        ("1kb", 1024),
        ("1K", 1024),
        ("64M", 64 * MIB),
        ("512m", 512 * MIB),
        ("64mb", 64 * MIB),
        ("1g", 1024 * MIB),
        ("1GB", 1024 * MIB),
        ("1GiB", 1024 * MIB),
        ("1.5g", 1536 * MIB),
        ("2t", 2 << 40),
        ("1 g", 1024 * MIB),
    ];
    for (s, want) in cases {
        let p = load_yaml(&format!(
            "services:\n  a:\n    image: x\n    mem_limit: {s:?}\n"
        ));
        assert_eq!(p.services["a"].limits.memory_bytes, Some(*want), "{s}");
    }
    for bad in ["m", "12x", "-1m", "1.2.3m", ".5m", "64 MB MB"] {
        let e = error_of(&format!(
            "services:\n  a:\n    image: x\n    mem_limit: {bad:?}\n"
        ));
        assert!(
            e.contains("compose.yaml:4:16: services.a.mem_limit: invalid size"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn cpu_counts() {
    let cases: &[(&str, u64)] = &[
        ("0.5", 500_000_000),
        ("1", 1_000_000_000),
        ("2.25", 2_250_000_000),
        (".5", 500_000_000),
        ("0.000000001", 1),
        ("1.500000000", 1_500_000_000),
    ];
    for (s, want) in cases {
        assert_eq!(parse_nano_cpus(s), Ok(*want), "{s}");
    }
    for bad in ["", "-1", "half", "1.2.3", "0.0000000001"] {
        assert!(parse_nano_cpus(bad).is_err(), "{bad}");
    }
}

#[test]
fn durations() {
    let cases: &[(&str, Duration)] = &[
        ("10s", Duration::from_secs(10)),
        ("1m30s", Duration::from_secs(90)),
        ("500ms", Duration::from_millis(500)),
        ("1h", Duration::from_secs(3600)),
        ("1.5s", Duration::from_millis(1500)),
        ("0", Duration::ZERO),
        ("2us", Duration::from_micros(2)),
    ];
    for (s, want) in cases {
        let p = load_yaml(&format!(
            "services:\n  a:\n    image: x\n    stop_grace_period: {s:?}\n"
        ));
        assert_eq!(p.services["a"].stop_grace_period, Some(*want), "{s}");
    }
    for bad in ["", "10", "s", "10x", "1m30"] {
        let e = error_of(&format!(
            "services:\n  a:\n    image: x\n    stop_grace_period: {bad:?}\n"
        ));
        assert!(
            e.contains("compose.yaml:4:24: services.a.stop_grace_period: invalid duration"),
            "{bad}: {e}"
        );
    }
}

#[test]
fn deploy_and_legacy_keys() {
    let p = load_yaml(
        r#"
services:
  deploy_only:
    image: x
    deploy:
      replicas: 3
      resources:
        limits: {cpus: 1.5, memory: 1g, pids: 10}
        reservations: {cpus: "0.25", memory: 32m}
  legacy:
    image: x
    mem_limit: 128m
    cpus: 0.75
    pids_limit: 20
    mem_reservation: 64m
    scale: 2
  both:
    image: x
    mem_limit: 128m
    cpus: 2
    deploy:
      resources:
        limits: {memory: 256m}
"#,
    );
    let d = &p.services["deploy_only"];
    assert_eq!(
        d.limits,
        ResourceLimits {
            memory_bytes: Some(1024 * MIB),
            nano_cpus: Some(1_500_000_000),
            pids: Some(10)
        }
    );
    assert_eq!(
        d.reservations,
        ResourceLimits {
            memory_bytes: Some(32 * MIB),
            nano_cpus: Some(250_000_000),
            pids: None
        }
    );
    assert_eq!(d.replicas, 3);
    let l = &p.services["legacy"];
    assert_eq!(
        l.limits,
        ResourceLimits {
            memory_bytes: Some(128 * MIB),
            nano_cpus: Some(750_000_000),
            pids: Some(20)
        }
    );
    assert_eq!(l.reservations.memory_bytes, Some(64 * MIB));
    assert_eq!(l.replicas, 2);
    let b = &p.services["both"];
    assert_eq!(b.limits.memory_bytes, Some(256 * MIB));
    assert_eq!(b.limits.nano_cpus, Some(2_000_000_000));
    assert_eq!(b.replicas, 1);
}

#[test]
fn unit_errors_have_positions() {
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    deploy:\n      resources:\n        limits:\n          memory: 64Q\n"),
        "compose.yaml:7:19: services.a.deploy.resources.limits.memory: invalid size \"64Q\": write a number of bytes or a number with a unit b, k, m, g, t or p, like 64M or 1g"
    );
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    cpus: lots\n"),
        "compose.yaml:4:11: services.a.cpus: invalid CPU count \"lots\": write a positive decimal number like 0.5 or 2"
    );
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    stop_grace_period: 10\n"),
        "compose.yaml:4:24: services.a.stop_grace_period: invalid duration \"10\": write a number with a unit (h, m, s, ms, us, ns), like 10s or 1m30s"
    );
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    scale: 2\n    deploy: {replicas: 3}\n"),
        "compose.yaml:5:24: services.a.deploy.replicas: scale (2) and deploy.replicas (3) differ: keep one of them"
    );
}

#[test]
fn restart_grace_healthcheck_and_more() {
    let p = load_yaml(
        r#"
services:
  a:
    build: ./app
    restart: on-failure:3
    stop_grace_period: 1m30s
    stop_signal: SIGINT
    healthcheck:
      test: curl -f http://localhost
      interval: 5s
      timeout: 2s
      retries: 3
      start_period: 1m
    labels: [com.example.x=1, flag]
    profiles: []
    env_file: [a.env]
  b:
    image: x
    deploy:
      restart_policy: {condition: on-failure, max_attempts: 5}
    healthcheck:
      disable: true
    build:
      context: ctx
      dockerfile: Dockerfile.dev
      args: [V=1, FROM_ENV, NOT_SET]
      target: dev
"#
        .replace("    env_file: [a.env]\n", "")
        .as_str(),
    );
    let a = &p.services["a"];
    assert_eq!(a.restart.as_deref(), Some("on-failure:3"));
    assert_eq!(a.stop_grace_period, Some(Duration::from_secs(90)));
    assert_eq!(a.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(
        a.healthcheck,
        Some(Healthcheck {
            test: vec!["CMD-SHELL".into(), "curl -f http://localhost".into()],
            interval: Some(Duration::from_secs(5)),
            timeout: Some(Duration::from_secs(2)),
            retries: Some(3),
            start_period: Some(Duration::from_secs(60)),
            start_interval: None,
            disable: false,
        })
    );
    assert_eq!(a.labels["com.example.x"], "1");
    assert_eq!(a.labels["flag"], "");
    assert!(a.build.as_ref().unwrap().context.ends_with("myapp/app"));
    let b = &p.services["b"];
    assert_eq!(b.restart.as_deref(), Some("on-failure:5"));
    assert_eq!(b.healthcheck.as_ref().unwrap().test, ["NONE"]);
    let build = b.build.as_ref().unwrap();
    assert!(build.context.is_absolute() && build.context.ends_with("myapp/ctx"));
    assert_eq!(build.dockerfile.as_deref(), Some("Dockerfile.dev"));
    assert_eq!(build.target.as_deref(), Some("dev"));
    assert_eq!(build.args.len(), 1);
    assert_eq!(build.args["V"], "1");
}

#[test]
fn invalid_restart_policy() {
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    restart: sometimes\n"),
        "compose.yaml:4:14: services.a.restart: invalid restart policy \"sometimes\": use no, always, on-failure[:N] or unless-stopped"
    );
}
