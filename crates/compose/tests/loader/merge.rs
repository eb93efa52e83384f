//! Merging override files, `!reset` / `!override`, anchors, aliases and `<<`.

use super::{load_yaml, Proj};
use wharf_compose::*;

fn merged(base: &str, over: &str) -> Project {
    let p = Proj::with(base);
    p.file("compose.override.yaml", over);
    match p.load() {
        Ok(p) => p,
        Err(e) => panic!("{e}"),
    }
}

const BASE: &str = r#"
services:
  web:
    image: web:1
    command: ["a", "b"]
    entrypoint: /bin/sh -c
    environment: [A=1, B=2]
    labels: {l1: a}
    ports: ["80:80"]
    volumes: ["./a:/data", "./b:/b"]
    depends_on: [db]
    networks: [front]
    healthcheck:
      test: ["CMD", "true"]
      interval: 10s
  db:
    image: db
networks:
  front:
  back:
"#;

#[test]
fn override_rules() {
    let over = r#"
services:
  web:
    image: web:2
    command: c
    environment: {B: "3", C: "4"}
    labels: [l2=b]
    ports: ["80:80", "443:443"]
    volumes: ["./c:/data"]
    depends_on:
      cache: {condition: service_healthy}
    networks: [back]
    healthcheck:
      test: ["CMD", "false"]
  cache:
    image: redis
"#;
    let p = merged(BASE, over);
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("web:2"));
    assert_eq!(web.command, Some(vec!["c".to_string()]));
    assert_eq!(
        web.entrypoint,
        Some(vec!["/bin/sh".to_string(), "-c".to_string()])
    );
    assert_eq!(
        web.environment
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>(),
        ["A=1", "B=3", "C=4"]
    );
    assert_eq!(web.labels.len(), 2);
    assert_eq!(
        web.ports.iter().map(|p| p.target).collect::<Vec<_>>(),
        [80, 443]
    );
    assert_eq!(web.volumes.len(), 2);
    assert_eq!(web.volumes[0].target, "/data");
    assert!(web.volumes[0]
        .source
        .as_deref()
        .unwrap()
        .ends_with("/myapp/c"));
    assert_eq!(web.depends_on.keys().collect::<Vec<_>>(), ["cache", "db"]);
    assert_eq!(
        web.depends_on["cache"].condition,
        DependencyCondition::ServiceHealthy
    );
    assert_eq!(web.networks.keys().collect::<Vec<_>>(), ["back", "front"]);
    let hc = web.healthcheck.as_ref().unwrap();
    assert_eq!(hc.test, ["CMD", "false"]);
    assert_eq!(hc.interval, Some(std::time::Duration::from_secs(10)));
    assert_eq!(p.start_order(), ["cache", "db", "web"]);
}

#[test]
fn reset_and_override_tags() {
    let over = r#"
services:
  web:
    command: !reset null
    environment: !override {Z: "26"}
    ports: !reset []
    volumes: !override ["./z:/z"]
    depends_on: !reset {}
    healthcheck: !reset
"#;
    let p = merged(BASE, over);
    let web = &p.services["web"];
    assert_eq!(web.command, None);
    assert_eq!(web.environment.len(), 1);
    assert_eq!(web.environment["Z"], "26");
    assert!(web.ports.is_empty());
    assert_eq!(web.volumes.len(), 1);
    assert_eq!(web.volumes[0].target, "/z");
    assert!(web.depends_on.is_empty());
    assert!(web.healthcheck.is_none());
    assert_eq!(web.image.as_deref(), Some("web:1"));
}

#[test]
fn reset_in_single_file_removes_the_key() {
    let p = load_yaml("services:\n  a:\n    image: x\n    command: !reset [a]\n");
    assert_eq!(p.services["a"].command, None);
}

#[test]
fn anchors_aliases_and_merge_keys() {
    let p = load_yaml(
        r#"
x-common: &common
  image: busybox
  environment: &env
    A: "1"
  restart: always
x-more: &more
  restart: "no"
  user: "1000"
services:
  one:
    <<: *common
  two:
    <<: [*common, *more]
    restart: on-failure
    environment:
      <<: *env
      B: "2"
  three:
    <<: [*more, *common]
    labels: *env
"#,
    );
    let one = &p.services["one"];
    assert_eq!(one.image.as_deref(), Some("busybox"));
    assert_eq!(one.restart.as_deref(), Some("always"));
    let two = &p.services["two"];
    assert_eq!(two.restart.as_deref(), Some("on-failure"));
    assert_eq!(two.user.as_deref(), Some("1000"));
    assert_eq!(two.environment.len(), 2);
    let three = &p.services["three"];
    assert_eq!(three.restart.as_deref(), Some("no"));
    assert_eq!(three.labels["A"], "1");
}

#[test]
fn multiple_documents_merge_in_order() {
    let p = load_yaml("services:\n  a:\n    image: x\n---\nservices:\n  a:\n    image: y\n");
    assert_eq!(p.services["a"].image.as_deref(), Some("y"));
}

#[test]
fn extension_keys_are_ignored_everywhere() {
    let p = load_yaml(
        "x-top: 1\nservices:\n  a:\n    image: x\n    x-note: hi\nnetworks:\n  n:\n    x-y: 1\nvolumes:\n  v:\n    x-z: 2\n",
    );
    assert!(p.warnings.is_empty(), "{:?}", p.warnings);
    assert_eq!(p.networks["n"].name, "myapp_n");
    assert_eq!(p.volumes["v"].name, "myapp_v");
}
