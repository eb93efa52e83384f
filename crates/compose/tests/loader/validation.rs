//! Validation errors: full message text with file, line and column.

use super::{error_of, load_yaml, Proj};

#[test]
fn unknown_service_dependency() {
    let yaml = "services:
  web:
    image: busybox
    depends_on:
      - worker
  worker:
    image: busybox
    environment:
      A: 1
    labels:
      b: 2
    depends_on:
      - db
";
    assert_eq!(
        error_of(yaml),
        "compose.yaml:13:9: services.worker.depends_on: service \"db\" is not defined (services: web, worker)"
    );
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    depends_on:\n      db:\n        condition: service_healthy\n"),
        "compose.yaml:5:7: services.web.depends_on: service \"db\" is not defined (services: web)"
    );
}

#[test]
fn dependency_cycle() {
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    depends_on: [worker]\n  worker:\n    image: x\n    depends_on: [web]\n"),
        "compose.yaml:4:18: services.web.depends_on: dependency cycle: web -> worker -> web"
    );
    assert_eq!(
        error_of("services:\n  a:\n    image: x\n    depends_on: [a]\n"),
        "compose.yaml:4:18: services.a.depends_on: dependency cycle: a -> a"
    );
}

#[test]
fn unknown_keys_suggest_close_ones() {
    assert_eq!(
        error_of("services:\n  web:\n    imgae: busybox\n"),
        "compose.yaml:3:5: services.web: unknown key \"imgae\": did you mean \"image\"?"
    );
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    deploy:\n      resources:\n        limits: {memroy: 1g}\n"),
        "compose.yaml:6:18: services.web.deploy.resources.limits: unknown key \"memroy\": did you mean \"memory\"?"
    );
    assert_eq!(
        error_of("service:\n  web:\n    image: x\n"),
        "compose.yaml:1:1: unknown top-level key \"service\": did you mean \"services\"? (allowed: version, name, include, services, networks, volumes, secrets, configs, models, x-*)"
    );
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    qqqqqq: 1\n"),
        "compose.yaml:4:5: services.web: unknown key \"qqqqqq\""
    );
}

#[test]
fn neither_image_nor_build() {
    assert_eq!(
        error_of("services:\n  web:\n    command: [x]\n"),
        "compose.yaml:2:3: services.web: neither image nor build is set: a service needs one of them"
    );
}

#[test]
fn wrong_types() {
    let cases: &[(&str, &str)] = &[
        ("    ports: 5\n", "compose.yaml:4:12: services.web.ports: must be a list of ports, not the number 5"),
        ("    environment: 5\n", "compose.yaml:4:18: services.web.environment: must be a mapping or a list of KEY=VALUE strings, not the number 5"),
        ("    environment: {A: [1]}\n", "compose.yaml:4:22: services.web.environment.A: must be a string, a number or a boolean, not a list"),
        ("    command: {a: 1}\n", "compose.yaml:4:14: services.web.command: must be a string or a list of strings, not a mapping"),
        ("    read_only: 1\n    deploy:\n      replicas: many\n", "compose.yaml:6:17: services.web.deploy.replicas: must be a number of containers, not the string \"many\""),
        ("    depends_on: 3\n", "compose.yaml:4:17: services.web.depends_on: must be a list of service names or a mapping, not the number 3"),
        ("    volumes: [3]\n", "compose.yaml:4:15: services.web.volumes[0]: must be a mount like \"./src:/dst:ro\" or a mapping with type and target, not the number 3"),
        ("    healthcheck:\n      retries: -1\n", "compose.yaml:5:16: services.web.healthcheck.retries: must be a number of retries, not the number -1"),
        ("    ports:\n      - target: 80\n        published: [1]\n", "compose.yaml:6:20: services.web.ports[0].published: must be a string, not a list"),
        ("    volumes:\n      - type: weird\n        target: /x\n", "compose.yaml:5:15: services.web.volumes[0].type: mount type \"weird\" is not supported: use bind, volume or tmpfs"),
        ("    depends_on:\n      db: {condition: whenever}\n", "compose.yaml:5:23: services.web.depends_on.db.condition: unknown condition \"whenever\": use service_started, service_healthy or service_completed_successfully"),
    ];
    for (extra, want) in cases {
        let yaml = format!("services:\n  web:\n    image: x\n{extra}  db:\n    image: x\n");
        assert_eq!(error_of(&yaml), *want, "for:\n{extra}");
    }
    assert_eq!(
        error_of("services: [web]\n"),
        "compose.yaml:1:11: services: must be a mapping, not a list"
    );
    assert_eq!(
        error_of("- a\n"),
        "compose.yaml:1:1: the top level must be a mapping, not a list: is this a Compose file?"
    );
}

#[test]
fn networks_and_volumes_must_be_declared() {
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    networks: [front]\n"),
        "compose.yaml:4:16: services.web.networks: network \"front\" is not declared in the top-level networks: add it there"
    );
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    networks:\n      back:\n        aliases: [w]\nnetworks:\n  front:\n"),
        "compose.yaml:5:7: services.web.networks: network \"back\" is not declared in the top-level networks (networks: front): add it there"
    );
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    network_mode: host\n    networks: [default]\n"),
        "compose.yaml:5:15: services.web.networks: networks and network_mode cannot both be set: remove one of them"
    );
}

#[test]
fn malformed_yaml() {
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n   bad: indent\n"),
        "compose.yaml:4:7: while parsing a block mapping, did not find expected key"
    );
    assert_eq!(
        error_of("services:\n  web:\n    image: x\n    image: y\n"),
        "compose.yaml:4:5: services.web: mapping key \"image\" already defined at line 3"
    );
    assert_eq!(
        error_of("services:\n  web: *nope\n"),
        "compose.yaml:2:8: while parsing node, found unknown anchor"
    );
    assert_eq!(error_of(""), "compose.yaml: empty compose file");
}

#[test]
fn unsupported_keys_warn() {
    let p =
        load_yaml("version: '3.8'\nservices:\n  web:\n    image: x\n    provider: {type: model}\n");
    assert_eq!(
        p.warnings,
        [
            "compose.yaml:1:1: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
            "compose.yaml:5:5: services.web.provider is not supported by wharf yet and is ignored",
        ]
    );
}

#[test]
fn override_file_errors_name_that_file() {
    let p = Proj::with("services:\n  web:\n    image: x\n");
    p.file(
        "compose.override.yaml",
        "services:\n  web:\n    depends_on: [db]\n",
    );
    assert_eq!(
        p.load().unwrap_err().to_string(),
        "compose.override.yaml:3:18: services.web.depends_on: service \"db\" is not defined (services: web)"
    );
}

#[test]
fn profiles_filter_services() {
    let yaml = "services:\n  web:\n    image: x\n  debug:\n    image: x\n    profiles: [debug]\n  tools:\n    image: x\n    profiles: [tools, debug]\n";
    let p = Proj::with(yaml);
    let names = |p: wharf_compose::Project| p.services.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(p.load().unwrap()), ["web"]);
    assert_eq!(
        names(p.load_with(|o| o.profiles = vec!["debug".into()]).unwrap()),
        ["debug", "tools", "web"]
    );
    let p = p.env("COMPOSE_PROFILES", "tools");
    assert_eq!(names(p.load().unwrap()), ["tools", "web"]);
    assert_eq!(
        names(p.load_with(|o| o.profiles = vec!["*".into()]).unwrap()),
        ["debug", "tools", "web"]
    );
}

#[test]
fn dependency_on_a_disabled_service() {
    let yaml = "services:\n  web:\n    image: x\n    depends_on:\n      db: {condition: service_started}\n      mon: {condition: service_started, required: false}\n  db:\n    image: x\n    profiles: [data]\n  mon:\n    image: x\n    profiles: [ops]\n  tool:\n    image: x\n    profiles: [ops]\n";
    let p = Proj::with(yaml);
    // A required dependency of an enabled service is enabled with it; an
    // optional one is not, and stays listed for the orchestrator to skip.
    let project = p.load().unwrap();
    assert_eq!(project.services.keys().collect::<Vec<_>>(), ["db", "web"]);
    assert_eq!(
        project.services["web"]
            .depends_on
            .keys()
            .collect::<Vec<_>>(),
        ["db", "mon"]
    );
    // A service named on the command line is enabled whatever its profiles.
    let project = p.load_with(|o| o.services = vec!["tool".into()]).unwrap();
    assert!(project.services.contains_key("tool"));
    assert!(!project.services.contains_key("mon"));
}

/// Each link of a long chain is reached in one walk, whichever way its head
/// is enabled, and whichever attribute makes the link.
#[test]
fn long_dependency_chain_is_enabled_with_its_head() {
    const LEN: usize = 500;
    let mut yaml = String::from("services:\n");
    for i in 0..LEN {
        let profile = if i == 0 { "top" } else { "deep" };
        yaml.push_str(&format!(
            "  s{i:04}:\n    image: x\n    profiles: [{profile}]\n"
        ));
        if i + 1 < LEN {
            let next = format!("s{:04}", i + 1);
            yaml.push_str(&match i % 4 {
                0 => format!("    depends_on: [{next}]\n"),
                1 => format!("    links: [\"{next}:alias\"]\n"),
                2 => format!("    volumes_from: [{next}]\n"),
                _ => format!("    ipc: service:{next}\n"),
            });
        }
    }
    yaml.push_str("  spare:\n    image: x\n    profiles: [deep]\n");
    let p = Proj::with(&yaml);
    let by_profile = p.load_with(|o| o.profiles = vec!["top".into()]).unwrap();
    assert_eq!(by_profile.services.len(), LEN);
    assert!(!by_profile.services.contains_key("spare"));
    let by_name = p.load_with(|o| o.services = vec!["s0000".into()]).unwrap();
    assert_eq!(by_name.services.len(), LEN);
    assert!(by_name.services.contains_key(&format!("s{:04}", LEN - 1)));
    assert!(!by_name.services.contains_key("spare"));
    // From the middle, only the rest of the chain.
    let half = p
        .load_with(|o| o.services = vec![format!("s{:04}", LEN / 2)])
        .unwrap();
    assert_eq!(half.services.len(), LEN - LEN / 2);
}

#[test]
fn networks_defaults_and_names() {
    let p = load_yaml(
        r#"
services:
  a:
    image: x
    networks:
      front:
        aliases: [api]
        ipv4_address: 172.20.0.5
        priority: 10
  b:
    image: x
    network_mode: host
  c:
    image: x
    network_mode: service:a
networks:
  front:
    ipam:
      config:
        - subnet: 172.20.0.0/16
  outside:
    external: true
  named:
    name: custom
    driver: bridge
    internal: true
    labels: [k=v]
volumes:
  ext:
    external: true
"#,
    );
    let a = &p.services["a"];
    assert_eq!(a.networks["front"].aliases, ["api"]);
    assert_eq!(
        a.networks["front"].ipv4_address.as_deref(),
        Some("172.20.0.5")
    );
    assert_eq!(a.networks["front"].priority, 10);
    assert!(p.services["b"].networks.is_empty());
    assert!(!p.networks.contains_key("default"));
    assert_eq!(p.networks["front"].name, "myapp_front");
    assert_eq!(p.networks["front"].subnet.as_deref(), Some("172.20.0.0/16"));
    assert!(p.networks["outside"].external);
    assert_eq!(p.networks["outside"].name, "outside");
    assert_eq!(p.networks["named"].name, "custom");
    assert!(p.networks["named"].internal);
    assert_eq!(p.networks["named"].labels["k"], "v");
    assert_eq!(p.volumes["ext"].name, "ext");
}

#[test]
fn billion_laughs_is_refused() {
    let mut yaml = String::from("x-a: &a [a, a, a, a, a, a, a, a, a, a]\n");
    let mut prev = 'a';
    for c in ['b', 'c', 'd', 'e', 'f', 'g', 'h'] {
        yaml.push_str(&format!(
            "x-{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
        ));
        prev = c;
    }
    yaml.push_str("services:\n  a:\n    image: x\n");
    let msg = error_of(&yaml);
    assert!(
        msg.contains("aliases expand to more than 1000000 nodes"),
        "{msg}"
    );
}
