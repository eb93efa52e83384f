//! Validate stage: what can only be checked with the whole project in hand —
//! profiles, image-or-build, references between services, networks and
//! volumes, dependency cycles — and the implicit `default` network.

use crate::error::{LoadError, LoadErrorKind, Location};
use crate::graph::find_cycle;
use crate::model::{AnyValue, FileObject, Model, Network, Service};
use crate::typed::{ServiceNode, Typed};
use crate::yaml::Node;
use std::collections::{BTreeMap, BTreeSet};

/// The checked services and networks (with `default` added when used).
pub struct Checked {
    pub services: BTreeMap<String, Service>,
    pub networks: BTreeMap<String, Network>,
    pub secrets: BTreeMap<String, FileObject>,
    pub configs: BTreeMap<String, FileObject>,
    pub models: BTreeMap<String, Model>,
    pub extensions: BTreeMap<String, AnyValue>,
}

fn reference(loc: &Location, path: String, msg: String) -> LoadError {
    LoadError::at(LoadErrorKind::Reference, loc.clone(), path, msg)
}

/// Where the key `name` of the mapping under `key` in a service was written.
fn key_loc<'a>(node: &'a Node, key: &str, name: &str) -> Option<&'a Location> {
    node.get(key)?
        .as_map()?
        .iter()
        .find(|e| e.key == name)
        .map(|e| &e.key_loc)
}

fn enabled(service: &Service, active: &BTreeSet<String>) -> bool {
    service.profiles.is_empty()
        || active.contains("*")
        || service.profiles.iter().any(|p| active.contains(p))
}

/// The services `service` cannot run without: its required dependencies and
/// the services whose namespaces or volumes it shares, or that it links to.
fn needed_services(service: &Service) -> impl Iterator<Item = &str> {
    let shared = [&service.network_mode, &service.ipc, &service.pid]
        .into_iter()
        .filter_map(|m| m.as_deref()?.strip_prefix("service:"));
    let volumes_from = service
        .volumes_from
        .iter()
        .filter(|v| !v.starts_with("container:"))
        .map(|v| v.split(':').next().unwrap_or(v));
    let links = service
        .links
        .iter()
        .map(|l| l.split(':').next().unwrap_or(l));
    service
        .depends_on
        .iter()
        .filter(|(_, d)| d.required)
        .map(|(name, _)| name.as_str())
        .chain(shared)
        .chain(volumes_from)
        .chain(links)
}

/// Runs the project-wide checks.
pub fn check(
    typed: Typed,
    project_name: &str,
    active: &BTreeSet<String>,
    named: &BTreeSet<String>,
) -> Result<Checked, LoadError> {
    let Typed {
        services,
        networks,
        secrets,
        configs,
        models,
        extensions,
        ..
    } = typed;
    let mut networks = networks;
    let defined: BTreeSet<&str> = services.iter().map(|s| s.service.name.as_str()).collect();
    let all_names = defined.iter().copied().collect::<Vec<_>>().join(", ");

    for s in &services {
        if s.service.image.is_none() && s.service.build.is_none() {
            return Err(LoadError::at(
                LoadErrorKind::Schema,
                s.key.key_loc.clone(),
                format!("services.{}", s.service.name),
                "neither image nor build is set: a service needs one of them",
            ));
        }
    }
    // Enabled: by the active profiles or by name on the command line, and
    // then everything an enabled service needs (required dependencies and
    // services whose namespaces or volumes it shares).
    // A worklist: each service is visited once, however long its chains.
    let by_name: BTreeMap<&str, &Service> = services
        .iter()
        .map(|s| (s.service.name.as_str(), &s.service))
        .collect();
    let mut on: BTreeSet<&str> = services
        .iter()
        .filter(|s| enabled(&s.service, active) || named.contains(&s.service.name))
        .map(|s| s.service.name.as_str())
        .collect();
    let mut todo: Vec<&str> = on.iter().copied().collect();
    while let Some(name) = todo.pop() {
        let Some(service) = by_name.get(name) else {
            continue;
        };
        for need in needed_services(service) {
            if let Some(need) = defined.get(need).copied() {
                if on.insert(need) {
                    todo.push(need);
                }
            }
        }
    }

    let mut out = BTreeMap::new();
    for ServiceNode { service, node, key } in &services {
        if !on.contains(service.name.as_str()) {
            continue;
        }
        let path = format!("services.{}", service.name);
        let mut service = service.clone();
        // depends_on: defined, and enabled unless optional.
        let dpath = format!("{path}.depends_on");
        for (dep, d) in &service.depends_on {
            let loc = key_loc(node, "depends_on", dep).unwrap_or(&key.key_loc);
            if !defined.contains(dep.as_str()) {
                return Err(reference(
                    loc,
                    dpath,
                    format!("service {dep:?} is not defined (services: {all_names})"),
                ));
            }
            // An optional dependency that is not enabled stays listed (as
            // docker compose keeps it); the orchestrator skips it.
            if !on.contains(dep.as_str()) && d.required {
                let profiles = services
                    .iter()
                    .find(|s| s.service.name == *dep)
                    .map(|s| s.service.profiles.join(", "))
                    .unwrap_or_default();
                return Err(reference(
                    loc,
                    dpath,
                    format!("service {dep:?} is not enabled by the active profiles: enable one of its profiles ({profiles}) with --profile, or set required: false"),
                ));
            }
        }
        // Sharing a namespace or volumes with another service depends on it.
        let mut implied: Vec<String> = [&service.network_mode, &service.ipc, &service.pid]
            .into_iter()
            .filter_map(|m| m.as_deref()?.strip_prefix("service:").map(str::to_string))
            .collect();
        implied.extend(
            service
                .volumes_from
                .iter()
                .filter(|v| !v.starts_with("container:"))
                .map(|v| v.split(':').next().unwrap_or(v).to_string()),
        );
        // A linked service is started first, as docker compose does.
        implied.extend(
            service
                .links
                .iter()
                .map(|l| l.split(':').next().unwrap_or(l).to_string()),
        );
        for other in implied {
            if !defined.contains(other.as_str()) {
                return Err(reference(
                    &key.key_loc,
                    path.clone(),
                    format!("service {other:?} is not defined (services: {all_names}): network_mode, ipc, pid, volumes_from and links name services"),
                ));
            }
            service
                .depends_on
                .entry(other)
                .or_insert(crate::model::ServiceDependency {
                    condition: crate::model::DependencyCondition::ServiceStarted,
                    required: true,
                    restart: true,
                });
        }
        // network_mode: service:NAME.
        if let Some(other) = service
            .network_mode
            .as_deref()
            .and_then(|m| m.strip_prefix("service:"))
        {
            if !on.contains(other) {
                let at = node.get("network_mode").map_or(&key.key_loc, |n| &n.loc);
                return Err(reference(
                    at,
                    format!("{path}.network_mode"),
                    format!(
                        "service {other:?} is not defined or not enabled (services: {all_names})"
                    ),
                ));
            }
        }
        // networks: declared at the top level (default is implicit).
        for net in service.networks.keys() {
            if net == "default" || networks.contains_key(net) {
                continue;
            }
            let loc = key_loc(node, "networks", net).unwrap_or(&key.key_loc);
            let declared = networks.keys().cloned().collect::<Vec<_>>().join(", ");
            return Err(reference(
                loc,
                format!("{path}.networks"),
                format!(
                    "network {net:?} is not declared in the top-level networks{}: add it there",
                    if declared.is_empty() {
                        String::new()
                    } else {
                        format!(" (networks: {declared})")
                    }
                ),
            ));
        }
        // secrets and configs: declared at the top level.
        for (kind, declared, refs) in [
            ("secrets", &secrets, &service.secrets),
            ("configs", &configs, &service.configs),
        ] {
            for (i, r) in refs.iter().enumerate() {
                if declared.contains_key(&r.source) {
                    continue;
                }
                let at = node
                    .get(kind)
                    .and_then(|l| match &l.value {
                        crate::yaml::Value::Seq(items) => items.get(i).map(|n| &n.loc),
                        _ => None,
                    })
                    .unwrap_or(&key.key_loc);
                let names = declared.keys().cloned().collect::<Vec<_>>().join(", ");
                let what = &kind[..kind.len() - 1];
                return Err(reference(
                    at,
                    format!("{path}.{kind}[{i}]"),
                    format!(
                        "{what} {:?} is not declared in the top-level {kind}{}: add it there",
                        r.source,
                        if names.is_empty() {
                            String::new()
                        } else {
                            format!(" ({kind}: {names})")
                        }
                    ),
                ));
            }
        }
        // container_name is one container.
        if let (Some(cn), true) = (&service.container_name, service.replicas > 1) {
            let at = node.get("container_name").map_or(&key.key_loc, |n| &n.loc);
            return Err(LoadError::at(
                LoadErrorKind::Schema,
                at.clone(),
                format!("{path}.container_name"),
                format!(
                    "container name {cn:?} is unique, but the service asks for {} containers (scale or deploy.replicas): remove container_name or set one replica",
                    service.replicas
                ),
            ));
        }
        out.insert(service.name.clone(), service);
    }

    let deps: BTreeMap<String, BTreeSet<String>> = out
        .iter()
        .map(|(n, s)| (n.clone(), s.depends_on.keys().cloned().collect()))
        .collect();
    if let Some(cycle) = find_cycle(&deps) {
        let first = &cycle[0];
        let second = &cycle[1];
        let sn = services.iter().find(|s| s.service.name == *first);
        let loc = sn
            .and_then(|s| key_loc(s.node, "depends_on", second))
            .or(sn.map(|s| &s.key.key_loc));
        let msg = format!("dependency cycle: {}", cycle.join(" -> "));
        return Err(match loc {
            Some(loc) => LoadError::at(
                LoadErrorKind::Cycle,
                loc.clone(),
                format!("services.{first}.depends_on"),
                msg,
            ),
            None => LoadError::new(LoadErrorKind::Cycle, msg),
        });
    }

    if out.values().any(|s| s.networks.contains_key("default")) && !networks.contains_key("default")
    {
        networks.insert(
            "default".to_string(),
            Network {
                name: format!("{project_name}_default"),
                ..Network::default()
            },
        );
    }
    Ok(Checked {
        services: out,
        networks,
        secrets,
        configs,
        models,
        extensions,
    })
}
