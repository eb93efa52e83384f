//! Service → ContainerSpec and the config hash.

mod common;

use common::hello;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::Duration;
use wharf_compose::{ServiceNetwork, ServicePort, ServiceVolume, Volume, VolumeKind};
use wharf_engine_api::{labels, Mount, MountKind, PortBinding, Protocol, Resources, RestartPolicy};
use wharf_orchestrator::{config_hash, container_spec, parse_restart, port_bindings};

#[test]
fn web_spec_carries_everything_from_the_service() {
    let project = hello();
    let spec = container_spec(&project, &project.services["web"], 1).unwrap();
    assert_eq!(spec.name, "hello-web-1");
    assert_eq!(spec.image, "busybox:latest");
    assert_eq!(
        spec.command.as_deref().unwrap(),
        ["httpd", "-f", "-v", "-p", "8080", "-h", "/www"]
    );
    assert_eq!(
        spec.ports,
        [PortBinding {
            host_ip: Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            host_port: 18080,
            container_port: 8080,
            protocol: Protocol::Tcp,
        }]
    );
    assert_eq!(
        spec.mounts,
        [Mount {
            read_only: true,
            // Long syntax without bind.create_host_path: the path must exist.
            require_host_path: true,
            ..Mount::new(MountKind::Bind, "/abs/site", "/www")
        }]
    );
    assert_eq!(spec.networks.len(), 1);
    assert_eq!(spec.networks[0].network, "hello_default");
    assert_eq!(spec.networks[0].aliases, ["web"]);
    assert_eq!(
        spec.resources,
        Resources {
            memory_bytes: Some(64 << 20),
            nano_cpus: Some(500_000_000),
            pids_limit: Some(64),
            ..Default::default()
        }
    );
    let label = |key: &str| spec.labels.get(key).map(String::as_str);
    assert_eq!(label(labels::PROJECT), Some("hello"));
    assert_eq!(label(labels::SERVICE), Some("web"));
    assert_eq!(label(labels::CONTAINER_NUMBER), Some("1"));
    assert_eq!(label(labels::ONEOFF), Some("False"));
    assert_eq!(label(labels::IMAGE), Some("busybox:latest"));
    assert_eq!(
        label(labels::DEPENDS_ON),
        Some("worker:service_started:false")
    );
    assert_eq!(label(labels::WORKING_DIR), Some("/abs"));
    assert_eq!(label(labels::CONFIG_FILES), Some("/abs/compose.yaml"));
    assert_eq!(label(labels::VERSION), Some(env!("CARGO_PKG_VERSION")));
    assert_eq!(
        label(labels::CONFIG_HASH),
        Some(config_hash(&spec).as_str())
    );
    assert_eq!(config_hash(&spec).len(), 64);
}

#[test]
fn config_hash_is_shared_by_replicas() {
    let project = hello();
    let web = &project.services["web"];
    let one = container_spec(&project, web, 1).unwrap();
    let two = container_spec(&project, web, 2).unwrap();
    assert_ne!(one.name, two.name);
    assert_eq!(config_hash(&one), config_hash(&two));
    assert_eq!(
        one.labels[labels::CONFIG_HASH],
        two.labels[labels::CONFIG_HASH]
    );
}

#[test]
fn config_hash_changes_with_the_command() {
    let project = hello();
    let before = container_spec(&project, &project.services["worker"], 1).unwrap();
    let mut changed = hello();
    changed.services.get_mut("worker").unwrap().command = Some(vec!["sleep".into(), "1".into()]);
    let after = container_spec(&changed, &changed.services["worker"], 1).unwrap();
    assert_ne!(config_hash(&before), config_hash(&after));
}

#[test]
fn tty_and_stdin_open_reach_the_spec_and_its_hash_only_when_set() {
    let project = hello();
    let plain = container_spec(&project, &project.services["worker"], 1).unwrap();
    let json = serde_json::to_string(&plain).unwrap();
    assert!(
        !json.contains("\"tty\"") && !json.contains("stdin_open"),
        "{json}"
    );
    let mut asked = hello();
    let worker = asked.services.get_mut("worker").unwrap();
    worker.tty = true;
    worker.stdin_open = true;
    let spec = container_spec(&asked, &asked.services["worker"], 1).unwrap();
    assert!(spec.tty && spec.stdin_open);
    assert_ne!(config_hash(&plain), config_hash(&spec));
    // A spec stored before these fields existed still loads, without them.
    let mut old: serde_json::Value = serde_json::to_value(&plain).unwrap();
    old.as_object_mut().unwrap().remove("tty");
    let loaded: wharf_engine_api::ContainerSpec = serde_json::from_value(old).unwrap();
    assert_eq!(config_hash(&loaded), config_hash(&plain));
}

#[test]
fn blkio_config_reaches_the_spec_and_its_hash_only_when_set() {
    let project = hello();
    let plain = container_spec(&project, &project.services["worker"], 1).unwrap();
    assert!(
        !serde_json::to_string(&plain).unwrap().contains("blkio"),
        "no blkio field without blkio_config: old hashes stay"
    );
    let mut asked = hello();
    asked.services.get_mut("worker").unwrap().blkio_config = Some(wharf_compose::BlkioConfig {
        weight: Some(300),
        weight_device: vec![wharf_compose::WeightDevice {
            path: "/dev/sda".into(),
            weight: 200,
        }],
        device_write_bps: vec![wharf_compose::ThrottleDevice {
            path: "/dev/vdb".into(),
            rate: 1 << 20,
        }],
        device_read_iops: vec![wharf_compose::ThrottleDevice {
            path: "/dev/vdb".into(),
            rate: 100,
        }],
        ..Default::default()
    });
    let spec = container_spec(&asked, &asked.services["worker"], 1).unwrap();
    let r = &spec.resources;
    assert_eq!(r.blkio_weight, Some(300));
    assert_eq!(r.blkio_weight_device[0].path, "/dev/sda");
    assert_eq!(r.blkio_weight_device[0].weight, 200);
    assert_eq!(r.blkio_device_write_bps[0].path, "/dev/vdb");
    assert_eq!(r.blkio_device_write_bps[0].rate, 1 << 20);
    assert_eq!(r.blkio_device_read_iops[0].rate, 100);
    assert!(r.blkio_device_read_bps.is_empty() && r.blkio_device_write_iops.is_empty());
    assert_ne!(config_hash(&plain), config_hash(&spec));
}

#[test]
fn config_hash_ignores_version_and_config_files() {
    let project = hello();
    let mut spec = container_spec(&project, &project.services["web"], 1).unwrap();
    let hash = config_hash(&spec);
    spec.labels.insert(labels::VERSION.into(), "99.0.0".into());
    spec.labels.insert(
        labels::CONFIG_FILES.into(),
        "/abs/compose.yaml,/abs/override.yaml".into(),
    );
    assert_eq!(config_hash(&spec), hash);
    let mut other = hello();
    other
        .config_files
        .push(PathBuf::from("/abs/compose.override.yaml"));
    assert_eq!(
        container_spec(&other, &other.services["web"], 1)
            .unwrap()
            .labels[labels::CONFIG_HASH],
        hash
    );
}

#[test]
fn config_hash_is_stable_across_calls() {
    let project = hello();
    let a = container_spec(&project, &project.services["web"], 1).unwrap();
    let b = container_spec(&project, &project.services["web"], 1).unwrap();
    assert_eq!(a, b);
}

#[test]
fn published_range_is_expanded_pairwise() {
    let port = ServicePort {
        target: 9000,
        published: Some("8000-8002".into()),
        host_ip: None,
        protocol: "udp".into(),
        mode: None,
        name: None,
        app_protocol: None,
    };
    let bindings: Vec<(u16, u16)> = port_bindings(&port)
        .unwrap()
        .iter()
        .map(|b| (b.host_port, b.container_port))
        .collect();
    assert_eq!(bindings, [(8000, 9000), (8001, 9001), (8002, 9002)]);
    assert_eq!(port_bindings(&port).unwrap()[0].protocol, Protocol::Udp);

    let unpublished = ServicePort {
        published: None,
        host_ip: Some("[::1]".into()),
        ..port
    };
    let binding = &port_bindings(&unpublished).unwrap()[0];
    assert_eq!(binding.host_port, 0);
    assert_eq!(binding.host_ip, Some("::1".parse().unwrap()));
}

#[test]
fn restart_policies_parse() {
    let parse = |text| parse_restart(text).unwrap();
    assert_eq!(parse(None), RestartPolicy::No);
    assert_eq!(parse(Some("no")), RestartPolicy::No);
    assert_eq!(parse(Some("always")), RestartPolicy::Always);
    assert_eq!(parse(Some("unless-stopped")), RestartPolicy::UnlessStopped);
    assert_eq!(
        parse(Some("on-failure")),
        RestartPolicy::OnFailure { max_retries: None }
    );
    assert_eq!(
        parse(Some("on-failure:3")),
        RestartPolicy::OnFailure {
            max_retries: Some(3)
        }
    );
    assert!(parse_restart(Some("sometimes")).is_err());
    let err = parse_restart(Some("on-failure:x")).unwrap_err();
    assert!(
        std::error::Error::source(&err).is_some(),
        "the parse error is kept: {err}"
    );
}

#[test]
fn networks_by_priority_volumes_by_full_name_and_other_settings() {
    let mut project = hello();
    project.networks.insert(
        "back".into(),
        wharf_compose::Network {
            name: "hello_back".into(),
            ..Default::default()
        },
    );
    project.volumes.insert(
        "data".into(),
        Volume {
            name: "hello_data".into(),
            ..Default::default()
        },
    );
    let worker = project.services.get_mut("worker").unwrap();
    worker.networks.insert(
        "back".into(),
        ServiceNetwork {
            aliases: vec!["jobs".into()],
            ipv4_address: Some("172.31.0.5".into()),
            priority: 10,
            ipv6_address: None,
            link_local_ips: Vec::new(),
            mac_address: None,
            driver_opts: Default::default(),
            gw_priority: 0,
            interface_name: None,
            as_mapping: true,
        },
    );
    worker.volumes = vec![
        ServiceVolume {
            kind: VolumeKind::Volume,
            source: Some("data".into()),
            target: "/data".into(),
            read_only: false,
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
        },
        ServiceVolume {
            kind: VolumeKind::Tmpfs,
            source: None,
            target: "/tmp".into(),
            read_only: false,
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
        },
    ];
    worker.container_name = Some("the-worker".into());
    worker.restart = Some("on-failure:5".into());
    worker.stop_signal = Some("SIGINT".into());
    worker.stop_grace_period = Some(Duration::from_secs(3));
    let spec = container_spec(&project, &project.services["worker"], 1).unwrap();
    assert_eq!(spec.name, "the-worker");
    let networks: Vec<_> = spec.networks.iter().map(|n| n.network.as_str()).collect();
    assert_eq!(networks, ["hello_back", "hello_default"]);
    assert_eq!(spec.networks[0].aliases, ["worker", "jobs"]);
    assert_eq!(
        spec.networks[0].ipv4_address,
        Some(Ipv4Addr::new(172, 31, 0, 5))
    );
    assert_eq!(spec.mounts[0].source, "hello_data");
    assert_eq!(spec.mounts[0].kind, MountKind::Volume);
    assert_eq!(spec.mounts[1].kind, MountKind::Tmpfs);
    assert_eq!(spec.env["GREETING"], "hello");
    assert_eq!(
        spec.restart,
        RestartPolicy::OnFailure {
            max_retries: Some(5)
        }
    );
    assert_eq!(spec.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(spec.stop_grace_period_secs, Some(3));
}

#[test]
fn values_the_spec_cannot_take_are_refused_not_dropped() {
    // Each of these was left out of the spec without a word before the
    // service was parsed once.
    let refused = |change: &dyn Fn(&mut wharf_compose::Service), says: &str| {
        let mut project = hello();
        change(project.services.get_mut("worker").unwrap());
        let err = wharf_orchestrator::validate_service(&project, &project.services["worker"])
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("service \"worker\": "), "{err}");
        assert!(err.contains(says), "{err}");
    };
    refused(&|s| s.cpu_shares = Some(-2), "cpu_shares -2 is negative");
    refused(&|s| s.cpu_period = Some(-1), "cpu_period -1 is negative");
    refused(
        &|s| {
            s.ulimits
                .insert("nofile".into(), wharf_compose::Ulimit::default());
        },
        "ulimits.nofile has no value",
    );
    refused(
        &|s| s.tmpfs = vec!["/run:size=lots".into()],
        "invalid size \"lots\"",
    );
}

#[test]
fn replicas_are_built_from_one_validation() {
    let mut project = hello();
    project.services.get_mut("web").unwrap().ports[0].published = Some("18080-18081".into());
    project.services.get_mut("web").unwrap().replicas = 2;
    let valid = wharf_orchestrator::validate_service(&project, &project.services["web"]).unwrap();
    let one = valid.container_spec(&project, 1);
    let two = valid.container_spec(&project, 2);
    assert_eq!(one.ports, two.ports);
    assert_eq!(
        one.ports.iter().map(|p| p.host_port).collect::<Vec<_>>(),
        [18080, 18081]
    );
    assert_eq!(two.name, "hello-web-2");
}
