//! Start order, dependents and cycle detection.

use super::load_yaml;
use std::collections::{BTreeMap, BTreeSet};
use wharf_compose::graph::find_cycle;

#[test]
fn start_order_is_dependencies_first_then_alphabetical() {
    let p = load_yaml(
        r#"
services:
  web: {image: x, depends_on: [api, cache]}
  api: {image: x, depends_on: [db]}
  cache: {image: x}
  db: {image: x}
  admin: {image: x, depends_on: [db]}
  zed: {image: x}
"#,
    );
    assert_eq!(
        p.start_order(),
        ["cache", "db", "admin", "api", "web", "zed"]
    );
    assert_eq!(p.dependents_of("db"), ["admin", "api", "web"]);
    assert_eq!(p.dependents_of("cache"), ["web"]);
    assert!(p.dependents_of("web").is_empty());
    assert!(p.dependents_of("nope").is_empty());
}

fn deps(edges: &[(&str, &[&str])]) -> BTreeMap<String, BTreeSet<String>> {
    edges
        .iter()
        .map(|(n, ds)| (n.to_string(), ds.iter().map(|d| d.to_string()).collect()))
        .collect()
}

#[test]
fn cycles_are_found_deterministically() {
    assert_eq!(find_cycle(&deps(&[("a", &["b"]), ("b", &[])])), None);
    assert_eq!(
        find_cycle(&deps(&[("web", &["worker"]), ("worker", &["web"])])),
        Some(vec!["web".into(), "worker".into(), "web".into()])
    );
    assert_eq!(
        find_cycle(&deps(&[
            ("x", &["c"]),
            ("c", &["d"]),
            ("d", &["e"]),
            ("e", &["c"]),
        ])),
        Some(vec!["c".into(), "d".into(), "e".into(), "c".into()])
    );
    assert_eq!(
        find_cycle(&deps(&[("s", &["s"])])),
        Some(vec!["s".into(), "s".into()])
    );
}
