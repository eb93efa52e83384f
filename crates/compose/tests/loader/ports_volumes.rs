//! Ports and volumes, short and long syntax.

use super::{error_of, load_yaml, Proj};
use wharf_compose::syntax::{parse_port, parse_volume};
use wharf_compose::*;

fn port(ip: Option<&str>, published: Option<&str>, target: u16, proto: &str) -> ServicePort {
    ServicePort {
        target,
        published: published.map(String::from),
        host_ip: ip.map(String::from),
        protocol: proto.into(),
        mode: Some("ingress".into()),
        name: None,
        app_protocol: None,
    }
}

fn ports_of(entries: &str) -> Vec<ServicePort> {
    let p = load_yaml(&format!(
        "services:\n  a:\n    image: x\n    ports:\n{entries}"
    ));
    p.services["a"].ports.clone()
}

#[test]
fn port_short_syntax_table() {
    let cases: Vec<(&str, Vec<ServicePort>)> = vec![
        ("\"8080\"", vec![port(None, None, 8080, "tcp")]),
        ("8080", vec![port(None, None, 8080, "tcp")]),
        ("\"80:8080\"", vec![port(None, Some("80"), 8080, "tcp")]),
        ("80:8080", vec![port(None, Some("80"), 8080, "tcp")]),
        (
            "\"127.0.0.1:18080:8080\"",
            vec![port(Some("127.0.0.1"), Some("18080"), 8080, "tcp")],
        ),
        (
            "\"127.0.0.1::80\"",
            vec![port(Some("127.0.0.1"), None, 80, "tcp")],
        ),
        ("\"53:53/udp\"", vec![port(None, Some("53"), 53, "udp")]),
        (
            "\"[::1]:80:80\"",
            vec![port(Some("::1"), Some("80"), 80, "tcp")],
        ),
        (
            "\"[::1]::80/udp\"",
            vec![port(Some("::1"), None, 80, "udp")],
        ),
        (
            "\"8000-8002:9000-9002\"",
            vec![
                port(None, Some("8000"), 9000, "tcp"),
                port(None, Some("8001"), 9001, "tcp"),
                port(None, Some("8002"), 9002, "tcp"),
            ],
        ),
        (
            "\"3000-3001\"",
            vec![port(None, None, 3000, "tcp"), port(None, None, 3001, "tcp")],
        ),
        (
            "\"9000-9010:80\"",
            vec![port(None, Some("9000-9010"), 80, "tcp")],
        ),
    ];
    for (entry, want) in cases {
        assert_eq!(
            ports_of(&format!("      - {entry}\n")),
            want,
            "entry {entry}"
        );
    }
}

#[test]
fn port_long_syntax() {
    let got = ports_of(
        "      - target: 80\n        published: 8080\n        host_ip: 0.0.0.0\n        protocol: udp\n        mode: host\n      - target: 443\n        published: \"8443-8445\"\n      - target: 9000\n",
    );
    assert_eq!(
        got,
        vec![
            ServicePort {
                mode: Some("host".into()),
                ..port(Some("0.0.0.0"), Some("8080"), 80, "udp")
            },
            port(None, Some("8443-8445"), 443, "tcp"),
            port(None, None, 9000, "tcp"),
        ]
    );
}

#[test]
fn port_errors() {
    let cases: &[(&str, &str)] = &[
        (
            "\"80:99999\"",
            "invalid port \"99999\": ports are numbers from 1 to 65535",
        ),
        (
            "\"80/icmp\"",
            "invalid protocol \"icmp\" in port \"80/icmp\": use tcp, udp or sctp",
        ),
        (
            "\"1-3:1-2\"",
            "invalid port \"1-3:1-2\": the published range has 3 ports and the target range 2",
        ),
        (
            "\"abc\"",
            "invalid port \"abc\": ports are numbers from 1 to 65535",
        ),
    ];
    for (entry, want) in cases {
        let err = error_of(&format!(
            "services:\n  a:\n    image: x\n    ports:\n      - {entry}\n"
        ));
        assert_eq!(
            err,
            format!("compose.yaml:5:9: services.a.ports[0]: {want}"),
            "entry {entry}"
        );
    }
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    ports:\n      - published: 80\n"),
        "compose.yaml:5:9: services.a.ports[0]: target is required"
    );
    assert!(parse_port("[::1]80:80").is_err());
}

/// The mounts of service `a`, without their type-specific options (see `mounts.rs`).
fn mounts_of(p: &Proj) -> Vec<ServiceVolume> {
    match p.load() {
        Ok(project) => project.services["a"]
            .volumes
            .iter()
            .map(|v| ServiceVolume {
                bind: None,
                volume: None,
                tmpfs: None,
                ..v.clone()
            })
            .collect(),
        Err(e) => panic!("{e}"),
    }
}

fn vol(kind: VolumeKind, source: Option<&str>, target: &str, ro: bool) -> ServiceVolume {
    ServiceVolume {
        kind,
        source: source.map(String::from),
        target: target.into(),
        read_only: ro,
        consistency: None,
        bind: None,
        volume: None,
        tmpfs: None,
    }
}

#[test]
fn volume_short_syntax_table() {
    let p = Proj::with(
        "services:\n  a:\n    image: x\n    volumes:\n      - ./site:/www:ro\n      - ../up:/up\n      - /abs/path:/abs:rw,z\n      - ~/conf:/conf\n      - data:/data\n      - /anon\n      - .:/src\nvolumes:\n  data:\n",
    );
    let root = p.root.display().to_string();
    let parent = p.root.parent().unwrap().display().to_string();
    assert_eq!(
        mounts_of(&p),
        vec![
            vol(
                VolumeKind::Bind,
                Some(&format!("{root}/site")),
                "/www",
                true
            ),
            vol(
                VolumeKind::Bind,
                Some(&format!("{parent}/up")),
                "/up",
                false
            ),
            vol(VolumeKind::Bind, Some("/abs/path"), "/abs", false),
            vol(VolumeKind::Bind, Some("/home/tester/conf"), "/conf", false),
            vol(VolumeKind::Volume, Some("data"), "/data", false),
            vol(VolumeKind::Volume, None, "/anon", false),
            vol(VolumeKind::Bind, Some(&root), "/src", false),
        ]
    );
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    volumes: [\"site/sub:/sub\"]\n"),
        "compose.yaml:4:15: services.a.volumes[0]: invalid volume \"site/sub:/sub\": \"site/sub\" is not a volume name; write a host path as ./site/sub or an absolute path"
    );
}

#[test]
fn volume_long_syntax() {
    let p = Proj::with(
        "services:\n  a:\n    image: x\n    volumes:\n      - type: bind\n        source: ./cfg\n        target: /cfg\n        read_only: true\n      - type: volume\n        source: data\n        target: /data\n      - type: volume\n        target: /anon\n      - type: tmpfs\n        target: /tmp\nvolumes:\n  data:\n    name: shared-data\n",
    );
    let root = p.root.display().to_string();
    assert_eq!(
        mounts_of(&p),
        vec![
            vol(VolumeKind::Bind, Some(&format!("{root}/cfg")), "/cfg", true),
            vol(VolumeKind::Volume, Some("data"), "/data", false),
            vol(VolumeKind::Volume, None, "/anon", false),
            vol(VolumeKind::Tmpfs, None, "/tmp", false),
        ]
    );
    assert_eq!(p.load().unwrap().volumes["data"].name, "shared-data");
}

#[test]
fn volume_errors() {
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    volumes: [\"data:/d\"]\n"),
        "compose.yaml:4:15: services.a.volumes[0]: volume \"data\" is not declared in the top-level volumes: add it there"
    );
    // A relative target loads, as docker compose's `config` prints it (`up`
    // refuses it).
    assert_eq!(parse_volume("./x:rel").unwrap().target, "rel");
    assert!(parse_volume("./x:").is_err());
    // An unknown mode is ignored, as docker compose ignores it, and said.
    let p = Proj::with(
        "services:\n  a:\n    image: x\n    volumes: [\"./x:/x:rox,ro\", \"./y:/y:bad\"]\n",
    );
    let project = p.load().unwrap();
    assert!(project.services["a"].volumes[0].read_only);
    assert_eq!(
        project.warnings,
        [
            "compose.yaml:4:15: services.a.volumes[0]: \"./x:/x:rox,ro\": ignoring unknown mode \"rox\", as docker compose does (known: ro, rw, z, Z, nocopy and the propagation modes)",
            "compose.yaml:4:32: services.a.volumes[1]: \"./y:/y:bad\": ignoring unknown mode \"bad\", as docker compose does (known: ro, rw, z, Z, nocopy and the propagation modes)",
        ]
    );
    assert!(parse_volume("./a:/b:ro:x").is_err());
}

#[test]
fn tilde_needs_home() {
    let mut p = Proj::with("services:\n  a:\n    image: x\n    volumes: [\"~/x:/x\"]\n");
    p.env.remove("HOME");
    assert_eq!(
        p.load().unwrap_err().to_string(),
        "compose.yaml:4:15: services.a.volumes[0].source: cannot expand \"~/x\": HOME is not set"
    );
}
