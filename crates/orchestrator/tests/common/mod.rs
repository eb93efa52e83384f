//! Shared fixtures: the two-service `hello` project and observed state.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_compose::{
    DependencyCondition, Network, Project, ResourceLimits, Service, ServiceDependency,
    ServiceNetwork, ServicePort, ServiceVolume, VolumeKind,
};
use wharf_engine_api::{ContainerInfo, ContainerSpec};
use wharf_orchestrator::{container_spec, Observed};

fn default_network() -> BTreeMap<String, ServiceNetwork> {
    BTreeMap::from([("default".to_string(), ServiceNetwork::default())])
}

pub fn web() -> Service {
    Service {
        name: "web".into(),
        image: Some("busybox:latest".into()),
        command: Some(
            ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
                .map(String::from)
                .to_vec(),
        ),
        ports: vec![ServicePort {
            target: 8080,
            published: Some("18080".into()),
            host_ip: Some("127.0.0.1".into()),
            protocol: "tcp".into(),
            mode: None,
            name: None,
            app_protocol: None,
        }],
        volumes: vec![ServiceVolume {
            kind: VolumeKind::Bind,
            source: Some("/abs/site".into()),
            target: "/www".into(),
            read_only: true,
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
        }],
        depends_on: BTreeMap::from([(
            "worker".to_string(),
            ServiceDependency {
                condition: DependencyCondition::ServiceStarted,
                required: true,
                restart: false,
            },
        )]),
        limits: ResourceLimits {
            memory_bytes: Some(64 << 20),
            nano_cpus: Some(500_000_000),
            pids: Some(64),
        },
        networks: default_network(),
        replicas: 1,
        ..Default::default()
    }
}

pub fn worker() -> Service {
    Service {
        name: "worker".into(),
        image: Some("busybox:latest".into()),
        command: Some(
            ["sh", "-c", "while true; do echo $GREETING; sleep 5; done"]
                .map(String::from)
                .to_vec(),
        ),
        environment: BTreeMap::from([("GREETING".to_string(), "hello".to_string())]),
        networks: default_network(),
        replicas: 1,
        ..Default::default()
    }
}

/// Project "hello": web depends on worker; both on `hello_default`.
pub fn hello() -> Project {
    Project {
        name: "hello".into(),
        working_dir: PathBuf::from("/abs"),
        config_files: vec![PathBuf::from("/abs/compose.yaml")],
        services: BTreeMap::from([("web".to_string(), web()), ("worker".to_string(), worker())]),
        networks: BTreeMap::from([(
            "default".to_string(),
            Network {
                name: "hello_default".into(),
                ..Default::default()
            },
        )]),
        volumes: BTreeMap::new(),
        warnings: Vec::new(),
        secrets: BTreeMap::new(),
        configs: BTreeMap::new(),
        models: BTreeMap::new(),
        extensions: BTreeMap::new(),
    }
}

/// A fake container id for replica `number` of `service`.
pub fn fake_id(service: &str, number: u32) -> String {
    let seed = format!("{service}{number}");
    let mut id: String = seed.bytes().map(|b| format!("{b:02x}")).collect();
    id.truncate(64);
    format!("{id:0<64}")
}

/// Replica `number` of `service` as the engine reports it once created from
/// `project` and (if `running`) started.
pub fn container(project: &Project, service: &str, number: u32, running: bool) -> ContainerInfo {
    let spec = container_spec(project, &project.services[service], number).unwrap();
    info(&spec, &fake_id(service, number), running)
}

pub fn info(spec: &ContainerSpec, id: &str, running: bool) -> ContainerInfo {
    let state = if running {
        wharf_testkit::running()
    } else {
        wharf_testkit::exited()
    };
    wharf_testkit::container_info(spec, id, state)
}

/// Everything of `project` up and running, as `up` leaves it.
pub fn all_up(project: &Project) -> Observed {
    let mut containers = Vec::new();
    for (name, service) in &project.services {
        for number in 1..=service.replicas {
            containers.push(container(project, name, number, true));
        }
    }
    Observed {
        containers,
        networks: vec![wharf_testkit::network_info(
            &"e".repeat(64),
            "hello_default",
            "hello",
            "default",
        )],
        volumes: Vec::new(),
    }
}

/// Compare plan text with an expected block (leading/trailing blank lines
/// and common indentation ignored).
#[track_caller]
pub fn assert_plan(actual: &impl std::fmt::Display, expected: &str) {
    let lines: Vec<&str> = expected
        .lines()
        .skip_while(|l| l.trim().is_empty())
        .collect();
    let indent = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    let expected = lines
        .iter()
        .map(|l| l.get(indent..).unwrap_or("").trim_end())
        .collect::<Vec<_>>()
        .join("\n");
    let expected = format!("{}\n", expected.trim_end());
    let actual = actual.to_string();
    assert_eq!(
        actual, expected,
        "\n--- actual plan ---\n{actual}\n--- expected ---\n{expected}\n"
    );
}
