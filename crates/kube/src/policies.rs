//! Network membership → NetworkPolicies. A pod carries the label
//! `com.docker.compose.network.<key>: "true"` for each network it joins, and
//! one policy per network lets members reach members, so a service is only
//! reachable from services on its networks (and on its published ports from
//! anywhere). The members of `internal` networks that join no other network
//! may only send to their networks' members and to DNS (port 53). Pods with
//! a `network_mode` (host networking) are left out: policies do not apply.

use crate::workload::network_label;
use crate::{names, Ctx};
use serde_json::{json, Map, Value};
use std::collections::BTreeSet;
use wharf_compose::Service;

/// The NetworkPolicies of the project's networks and published ports.
pub fn policies(ctx: &mut Ctx) {
    let project = ctx.project;
    let members = |key: &str| -> Vec<&Service> {
        project
            .services
            .values()
            .filter(|s| s.network_mode.is_none() && s.networks.contains_key(key))
            .collect()
    };
    let used: BTreeSet<&String> = project
        .services
        .values()
        .filter(|s| s.network_mode.is_none())
        .flat_map(|s| s.networks.keys())
        .collect();
    for key in used {
        let label = network_label(key);
        let mut selector = Map::new();
        selector.insert("app.kubernetes.io/instance".into(), json!(ctx.meta.project));
        selector.insert(label.clone(), json!("true"));
        let name = names::dns_label(&format!("net-{key}"), names::MAX_LABEL);
        let labels = ctx.meta.labels(None, &name);
        let spec = json!({
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": selector}}]}],
        });
        push_policy(ctx, &name, labels, spec);
        let internal = project.networks.get(key).is_some_and(|n| n.internal);
        if !internal {
            continue;
        }
        let only_internal: Vec<String> = members(key)
            .into_iter()
            .filter(|s| {
                s.networks
                    .keys()
                    .all(|k| project.networks.get(k).is_some_and(|n| n.internal))
            })
            .map(|s| ctx.name_of(&s.name))
            .collect();
        if only_internal.is_empty() {
            continue;
        }
        let name = names::dns_label(&format!("net-{key}-egress"), names::MAX_LABEL);
        let labels = ctx.meta.labels(None, &name);
        let spec = json!({
            "podSelector": {
                "matchLabels": {"app.kubernetes.io/instance": ctx.meta.project},
                "matchExpressions": [{"key": "app.kubernetes.io/component", "operator": "In", "values": only_internal}],
            },
            "policyTypes": ["Egress"],
            "egress": [
                {"to": [{"podSelector": {"matchLabels": selector}}]},
                {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]},
            ],
        });
        push_policy(ctx, &name, labels, spec);
    }
    for s in project
        .services
        .values()
        .filter(|s| s.network_mode.is_none() && !s.ports.is_empty())
    {
        let k8s = ctx.name_of(&s.name);
        let mut ports: Vec<Value> = Vec::new();
        for p in &s.ports {
            let port = json!({"port": p.target, "protocol": p.protocol.to_ascii_uppercase()});
            if !ports.contains(&port) {
                ports.push(port);
            }
        }
        let name = names::dns_label(&format!("{k8s}-published"), names::MAX_LABEL);
        let labels = ctx.meta.labels(Some((&s.name, &k8s)), &name);
        let spec = json!({
            "podSelector": {"matchLabels": ctx.meta.selector(&k8s)},
            "policyTypes": ["Ingress"],
            "ingress": [{"ports": ports}],
        });
        push_policy(ctx, &name, labels, spec);
    }
}

/// Add one NetworkPolicy named `name` with `spec`.
fn push_policy(ctx: &mut Ctx, name: &str, labels: Map<String, Value>, spec: Value) {
    let object = ctx.meta.object(
        "networking.k8s.io/v1",
        "NetworkPolicy",
        name,
        labels,
        json!({"spec": spec}),
    );
    ctx.push(object);
}
