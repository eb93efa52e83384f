//! Networks: every service gets a Service so its name resolves as under
//! Compose (ClusterIP for its `ports` and `expose` targets, headless when it
//! has none), each network alias another Service with the same selector;
//! published ports a `<service>-published` Service of type LoadBalancer or
//! NodePort (`--service-type`), or, with `--ingress-host`, an Ingress for the
//! HTTP ones. A published port counts as HTTP when it is TCP and its
//! `app_protocol` is `http`, or its target is one of [`HTTP_PORTS`].
//!
//! Network membership becomes NetworkPolicies, in [`crate::policies`].

use crate::error::KubeError;
use crate::{names, Ctx};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use wharf_compose::Service;

/// Container ports taken for HTTP when published with `--ingress-host`.
pub const HTTP_PORTS: &[u16] = &[80, 3000, 5000, 8000, 8008, 8080, 8081, 8888];

/// The ports a service listens on: `ports` targets, then `expose` entries
/// (`80`, `80/udp`, `8000-8010`), as (port, `TCP`|`UDP`|`SCTP`).
pub fn service_ports(s: &Service) -> Vec<(u16, String)> {
    let mut out: Vec<(u16, String)> = Vec::new();
    let mut add = |port: u16, proto: &str| {
        let p = (port, proto.to_ascii_uppercase());
        if !out.contains(&p) {
            out.push(p);
        }
    };
    for p in &s.ports {
        add(p.target, &p.protocol);
    }
    for e in &s.expose {
        let (range, proto) = e.split_once('/').unwrap_or((e.as_str(), "tcp"));
        let (lo, hi) = range.split_once('-').unwrap_or((range, range));
        if let (Ok(lo), Ok(hi)) = (lo.parse::<u16>(), hi.parse::<u16>()) {
            for port in lo..=hi {
                add(port, proto);
            }
        }
    }
    out
}

/// The most ports one `expose` range may list: a Service names each port.
pub const MAX_EXPOSE_RANGE: u32 = 100;

/// Refuses `expose` ranges too long to list in a Service.
pub fn check_expose(s: &Service) -> Result<(), KubeError> {
    for (i, e) in s.expose.iter().enumerate() {
        let range = e.split_once('/').map_or(e.as_str(), |(r, _)| r);
        if let Some((lo, hi)) = range.split_once('-') {
            if let (Ok(lo), Ok(hi)) = (lo.parse::<u32>(), hi.parse::<u32>()) {
                if hi.saturating_sub(lo) >= MAX_EXPOSE_RANGE {
                    return Err(KubeError::invalid(
                        format!("services.{}.expose[{i}]", s.name),
                        format!("{e:?} is {} ports: a Service lists each of its ports; expose at most {MAX_EXPOSE_RANGE} in one range", hi - lo + 1),
                    ));
                }
            }
        }
    }
    Ok(())
}

fn port_name(port: u16, proto: &str) -> String {
    format!("{}-{port}", proto.to_ascii_lowercase())
}

/// Whether `name` may name a Service port (an IANA service name: at most 15
/// lowercase letters, digits and single `-`, with a letter).
pub fn is_port_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && name.chars().any(|c| c.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// The name of the `ports` entry's Service port: its `name` when valid.
fn named_port(ctx: &mut Ctx, s: &Service, port: u16, proto: &str, report: bool) -> String {
    let entry = s
        .ports
        .iter()
        .enumerate()
        .find(|(_, p)| p.target == port && p.protocol.eq_ignore_ascii_case(proto));
    match entry {
        Some((_, p)) if p.name.as_deref().is_some_and(is_port_name) => {
            p.name.clone().unwrap_or_default()
        }
        Some((i, p)) if p.name.is_some() => {
            let generated = port_name(port, proto);
            if report {
                ctx.report.add(format!("services.{}.ports[{i}].name", s.name), format!("{:?} is not a valid port name (15 lowercase letters, digits, `-`): named {generated:?}", p.name.as_deref().unwrap_or_default()));
            }
            generated
        }
        _ => port_name(port, proto),
    }
}

fn is_http(p: &wharf_compose::ServicePort) -> bool {
    p.protocol == "tcp"
        && (p
            .app_protocol
            .as_deref()
            .is_some_and(|a| a.eq_ignore_ascii_case("http"))
            || HTTP_PORTS.contains(&p.target))
}

fn cluster_service(ctx: &mut Ctx, s: &Service, name: &str) -> Value {
    let k8s = ctx.name_of(&s.name);
    let first = name == k8s;
    let ports: Vec<Value> = service_ports(s)
        .iter()
        .map(|(port, proto)| {
            let port_name = named_port(ctx, s, *port, proto, first);
            let mut p =
                json!({"name": port_name, "port": port, "targetPort": port, "protocol": proto});
            if let Some(app) = s
                .ports
                .iter()
                .find(|sp| sp.target == *port)
                .and_then(|sp| sp.app_protocol.clone())
            {
                p["appProtocol"] = json!(app);
            }
            p
        })
        .collect();
    let mut spec = Map::new();
    spec.insert("selector".into(), Value::Object(ctx.meta.selector(&k8s)));
    if ports.is_empty() {
        spec.insert("clusterIP".into(), json!("None"));
    } else {
        spec.insert("ports".into(), Value::Array(ports));
    }
    let labels = ctx.meta.labels(Some((&s.name, &k8s)), name);
    ctx.meta
        .object("v1", "Service", name, labels, json!({"spec": spec}))
}

/// The Services of every service, its aliases and its published ports, and
/// the Ingress.
pub fn services(ctx: &mut Ctx) -> Result<(), KubeError> {
    let project = ctx.project;
    let mut taken: BTreeSet<String> = ctx.names.values().cloned().collect();
    let mut ingress_rules: Vec<(String, String, u16)> = Vec::new();
    for s in project.services.values() {
        let name = ctx.name_of(&s.name);
        let object = cluster_service(ctx, s, &name);
        ctx.push(object);
        for (net, attachment) in &s.networks {
            for alias in &attachment.aliases {
                let path = format!("services.{}.networks.{net}.aliases", s.name);
                let alias_name = names::dns_label(alias, names::MAX_LABEL);
                if taken.contains(&alias_name) {
                    if alias_name != name {
                        ctx.report.add(
                            path,
                            format!("{alias:?} is already the name of another Service (dropped)"),
                        );
                    }
                    continue;
                }
                if alias_name != *alias {
                    ctx.report.add(
                        path.clone(),
                        format!(
                            "{alias:?} is not a valid Service name: Service {alias_name:?} written"
                        ),
                    );
                }
                taken.insert(alias_name.clone());
                let object = cluster_service(ctx, s, &alias_name);
                ctx.push(object);
            }
            crate::keys::report_dropped(
                &format!("services.{}.networks.{net}", s.name),
                attachment,
                crate::keys::SERVICE_NETWORK,
                &mut ctx.report,
            );
            if let Some(ip) = attachment
                .ipv4_address
                .as_ref()
                .or(attachment.ipv6_address.as_ref())
            {
                ctx.report.add(
                    format!("services.{}.networks.{net}", s.name),
                    format!("fixed address {ip}: pod addresses come from the cluster (dropped)"),
                );
            }
        }
        published(ctx, s, &name, &mut ingress_rules, &mut taken);
    }
    if !ingress_rules.is_empty() {
        ingress(ctx, &ingress_rules);
    }
    Ok(())
}

fn published(
    ctx: &mut Ctx,
    s: &Service,
    name: &str,
    ingress_rules: &mut Vec<(String, String, u16)>,
    taken: &mut BTreeSet<String>,
) {
    let node_port = ctx.options.service_type == crate::ServiceType::NodePort;
    let mut ports = Vec::new();
    for (i, p) in s.ports.iter().enumerate() {
        let path = format!("services.{}.ports[{i}]", s.name);
        if let Some(ip) = &p.host_ip {
            ctx.report.add(format!("{path}.host_ip"), format!("{ip}: a Service cannot publish on one host address; published on every address of the load balancer or node (changed)"));
        }
        if p.mode.as_deref() == Some("host") {
            ctx.report.add(
                format!("{path}.mode"),
                "host: published through a Service, not on the node running the pod (changed)",
            );
        }
        if ctx.options.ingress_host.is_some() && is_http(p) {
            if !ingress_rules.iter().any(|(svc, _, _)| svc == &s.name) {
                ingress_rules.push((s.name.clone(), name.to_string(), p.target));
            } else {
                ctx.report.add(path, "a second HTTP port of the service: the Ingress routes to its first one (dropped)");
            }
            continue;
        }
        let published = p.published.as_deref().map(|text| {
            let (first, rest) = text.split_once('-').unwrap_or((text, ""));
            (first.parse::<u16>().ok(), !rest.is_empty())
        });
        let (host_port, was_range) = match published {
            Some((Some(port), range)) => (port, range),
            _ => (p.target, false),
        };
        if was_range {
            ctx.report.add(
                format!("{path}.published"),
                format!(
                    "range {:?}: the first port, {host_port}, is used (changed)",
                    p.published.as_deref().unwrap_or_default()
                ),
            );
        }
        let proto = p.protocol.to_ascii_uppercase();
        let mut port = json!({"name": port_name(host_port, &proto), "port": host_port, "targetPort": p.target, "protocol": proto});
        if node_port {
            if (30000..=32767).contains(&host_port) {
                port["nodePort"] = json!(host_port);
            } else if p.published.is_some() {
                ctx.report.add(format!("{path}.published"), format!("{host_port} is outside the node port range 30000-32767: the cluster picks the node port (changed)"));
            }
        }
        if !ports.iter().any(|q: &Value| q["name"] == port["name"]) {
            ports.push(port);
        }
    }
    if ports.is_empty() {
        return;
    }
    let published_name = names::dns_label(&format!("{name}-published"), names::MAX_LABEL);
    taken.insert(published_name.clone());
    let spec = json!({
        "type": ctx.options.service_type.as_str(),
        "selector": ctx.meta.selector(name),
        "ports": ports,
    });
    let labels = ctx.meta.labels(Some((&s.name, name)), &published_name);
    let object = ctx.meta.object(
        "v1",
        "Service",
        &published_name,
        labels,
        json!({"spec": spec}),
    );
    ctx.push(object);
}

/// One Ingress for the project: the host itself when one service is
/// published over HTTP, else `<service>.<host>` for each.
fn ingress(ctx: &mut Ctx, rules: &[(String, String, u16)]) {
    let host = ctx.options.ingress_host.clone().unwrap_or_default();
    let single = rules.len() == 1;
    let list: Vec<Value> = rules
        .iter()
        .map(|(_, k8s, port)| {
            let h = if single { host.clone() } else { format!("{k8s}.{}", host.trim_start_matches("*.")) };
            json!({"host": h, "http": {"paths": [{"path": "/", "pathType": "Prefix", "backend": {"service": {"name": k8s, "port": {"number": port}}}}]}})
        })
        .collect();
    let name = names::dns_label(&ctx.project.name, names::MAX_LABEL);
    let labels = ctx.meta.labels(None, &name);
    let object = ctx.meta.object(
        "networking.k8s.io/v1",
        "Ingress",
        &name,
        labels,
        json!({"spec": {"rules": list}}),
    );
    ctx.push(object);
}
