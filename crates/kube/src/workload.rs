//! A service's workload: its pod spec (container, init containers, volumes,
//! pod-level settings) wrapped in a Deployment, a StatefulSet (a named
//! volume and `--controller statefulset`, or `replicas` > 1 with a named
//! volume) or a Job (a one-shot service others wait on with
//! `service_completed_successfully`).
//!
//! `restart`: a Deployment's or StatefulSet's pods always restart, so `no`
//! and `on-failure` are reported as changed. A Job's pods restart `Never`
//! (`restart: no`, the default; backoffLimit 0) or `OnFailure`
//! (`on-failure[:N]`, backoffLimit N, else 6); `always` and
//! `unless-stopped` become `OnFailure`, reported.

use crate::error::KubeError;
use crate::meta::NETWORK_LABEL_PREFIX;
use crate::{container, deps, files, keys, names, probes, storage, Ctx};
use serde_json::{json, Map, Value};
use wharf_compose::Service;

/// Sysctls Kubernetes allows in every pod (its "safe" set).
const SAFE_SYSCTLS: &[&str] = &[
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
];

/// The annotation that keeps `stop_signal`.
pub const STOP_SIGNAL_ANNOTATION: &str = "com.docker.compose.stop-signal";

/// The pod label of network `key`.
pub fn network_label(key: &str) -> String {
    format!(
        "{NETWORK_LABEL_PREFIX}{}",
        names::dns_label(key, 63 - NETWORK_LABEL_PREFIX.len())
    )
}

/// Writes the workload of `s`.
pub fn service(ctx: &mut Ctx, s: &Service) -> Result<(), KubeError> {
    let path = format!("services.{}", s.name);
    let rendered = serde_json::to_value(s).unwrap_or_default();
    keys::report_dropped_rendered(
        &path,
        &rendered,
        &ctx.service_defaults,
        keys::SERVICE,
        &mut ctx.report,
    );
    if let Some(d) = &s.deploy {
        keys::report_dropped(&format!("{path}.deploy"), d, keys::DEPLOY, &mut ctx.report);
    }
    let name = ctx.name_of(&s.name);
    let mut c = container::container(ctx, s)?;
    if let Some(check) = &s.healthcheck {
        c.extend(probes::probes(check));
    }
    let storage = storage::pod_storage(ctx, s)?;
    let (file_volumes, file_mounts) = files::pod_files(ctx, s);
    let mounts: Vec<Value> = storage.mounts.iter().cloned().chain(file_mounts).collect();
    if !mounts.is_empty() {
        c.insert("volumeMounts".into(), Value::Array(mounts));
    }
    let mut pod = Map::new();
    let (init, waits_for_job) = deps::init_containers(ctx, s);
    if !init.is_empty() {
        pod.insert("initContainers".into(), Value::Array(init));
    }
    pod.insert("containers".into(), json!([c]));
    if waits_for_job {
        pod.insert(
            "serviceAccountName".into(),
            json!(deps::waiter_account(ctx)),
        );
    }
    let volumes: Vec<Value> = storage
        .volumes
        .iter()
        .cloned()
        .chain(file_volumes)
        .collect();
    if !volumes.is_empty() {
        pod.insert("volumes".into(), Value::Array(volumes));
    }
    pod_settings(ctx, s, &path, &mut pod)?;

    let is_job = ctx.jobs.contains(&s.name);
    let restart = s.restart.as_deref().unwrap_or("no");
    let mut annotations = Map::new();
    for (k, v) in s.labels.iter().chain(&s.annotations) {
        if is_qualified_name(k) {
            annotations.insert(k.clone(), json!(v));
        } else {
            ctx.report.add(
                format!("{path}.labels.{k}"),
                "not a valid annotation key (dropped)",
            );
        }
    }
    if let Some(signal) = &s.stop_signal {
        annotations.insert(STOP_SIGNAL_ANNOTATION.into(), json!(signal));
        ctx.report.add(format!("{path}.stop_signal"), format!("Kubernetes stops containers with SIGTERM (or the image's STOPSIGNAL): kept as the annotation {STOP_SIGNAL_ANNOTATION}={signal}"));
    }
    let mut pod_labels = ctx.meta.labels(Some((&s.name, &name)), &name);
    if s.network_mode.is_none() {
        for key in s.networks.keys() {
            pod_labels.insert(network_label(key), json!("true"));
        }
    }
    let mut template_meta = Map::new();
    template_meta.insert("labels".into(), Value::Object(pod_labels));
    if !annotations.is_empty() {
        template_meta.insert("annotations".into(), Value::Object(annotations));
    }
    let labels = ctx.meta.labels(Some((&s.name, &name)), &name);

    if is_job {
        let (policy, backoff) = match restart {
            "no" => ("Never", 0),
            r if r.starts_with("on-failure") => (
                "OnFailure",
                r.strip_prefix("on-failure:")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(6),
            ),
            other => {
                ctx.report.add(format!("{path}.restart"), format!("{other:?}: a one-shot service others wait to complete is a Job, whose pod restarts OnFailure (changed)"));
                ("OnFailure", 6)
            }
        };
        if s.replicas > 1 {
            ctx.report.add(
                format!("{path}.deploy.replicas"),
                "a Job runs one pod: the others wait for it to complete (dropped)",
            );
        }
        pod.insert("restartPolicy".into(), json!(policy));
        let spec =
            json!({"backoffLimit": backoff, "template": {"metadata": template_meta, "spec": pod}});
        let job = ctx
            .meta
            .object("batch/v1", "Job", &name, labels, json!({"spec": spec}));
        ctx.push(job);
        return Ok(());
    }
    if restart != "always" && restart != "unless-stopped" && s.restart.is_some() {
        ctx.report.add(format!("{path}.restart"), format!("{restart:?}: the pods of a Deployment or StatefulSet always restart (changed to Always)"));
    }
    let mut spec = Map::new();
    spec.insert("replicas".into(), json!(s.replicas));
    spec.insert(
        "selector".into(),
        json!({"matchLabels": ctx.meta.selector(&name)}),
    );
    let stateful = ctx.stateful.contains(&s.name);
    if stateful {
        spec.insert("serviceName".into(), json!(name));
    } else if storage.exclusive_claim {
        spec.insert("strategy".into(), json!({"type": "Recreate"}));
    }
    spec.insert(
        "template".into(),
        json!({"metadata": template_meta, "spec": pod}),
    );
    if !storage.claim_templates.is_empty() {
        spec.insert(
            "volumeClaimTemplates".into(),
            Value::Array(storage.claim_templates),
        );
    }
    let kind = if stateful {
        "StatefulSet"
    } else {
        "Deployment"
    };
    let object = ctx
        .meta
        .object("apps/v1", kind, &name, labels, json!({"spec": spec}));
    ctx.push(object);
    Ok(())
}

/// Whether `k` is a valid label or annotation key (`[prefix/]name`).
pub fn is_qualified_name(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(crate::options::is_dns_subdomain)
        && !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// Pod-level keys: network, pid and ipc modes, hostname, DNS, extra hosts,
/// groups, sysctls, grace period.
fn pod_settings(
    ctx: &mut Ctx,
    s: &Service,
    path: &str,
    pod: &mut Map<String, Value>,
) -> Result<(), KubeError> {
    match s.network_mode.as_deref() {
        None => {}
        Some("host") => {
            pod.insert("hostNetwork".into(), json!(true));
            ctx.report.add(format!("{path}.network_mode"), "host: kept as hostNetwork: true (network policies do not apply to it)");
        }
        Some(mode) => ctx.report.add(format!("{path}.network_mode"), format!("{mode}: has no Kubernetes equivalent in a pod spec; the pod joins the cluster network (dropped)")),
    }
    for (key, value, field) in [("pid", &s.pid, "hostPID"), ("ipc", &s.ipc, "hostIPC")] {
        match value.as_deref() {
            None => {}
            Some("host") => {
                pod.insert(field.into(), json!(true));
                ctx.report.add(
                    format!("{path}.{key}"),
                    format!("host: kept as {field}: true"),
                );
            }
            Some(mode) => ctx.report.add(
                format!("{path}.{key}"),
                format!("{mode}: has no Kubernetes equivalent in a pod spec (dropped)"),
            ),
        }
    }
    if let Some(host) = &s.hostname {
        let label = names::dns_label(host, names::MAX_LABEL);
        if label != *host {
            ctx.report.add(
                format!("{path}.hostname"),
                format!("not a DNS label: set as {label:?}"),
            );
        }
        pod.insert("hostname".into(), json!(label));
    }
    let mut dns = Map::new();
    if !s.dns.is_empty() {
        pod.insert("dnsPolicy".into(), json!("None"));
        dns.insert("nameservers".into(), json!(s.dns));
        ctx.report.add(format!("{path}.dns"), "dnsPolicy None with these servers: the cluster's DNS, and so Service names, no longer resolve in this pod");
    }
    if !s.dns_search.is_empty() {
        dns.insert("searches".into(), json!(s.dns_search));
    }
    if !s.dns_opt.is_empty() {
        let options: Vec<Value> = s
            .dns_opt
            .iter()
            .map(|o| match o.split_once(':') {
                Some((n, v)) => json!({"name": n, "value": v}),
                None => json!({"name": o}),
            })
            .collect();
        dns.insert("options".into(), Value::Array(options));
    }
    if !dns.is_empty() {
        pod.insert("dnsConfig".into(), Value::Object(dns));
    }
    let mut aliases: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
    for (host, addresses) in &s.extra_hosts {
        for a in addresses {
            if a.parse::<std::net::IpAddr>().is_ok() {
                aliases.entry(a).or_default().push(host);
            } else {
                ctx.report.add(
                    format!("{path}.extra_hosts.{host}"),
                    format!("{a:?} is not an IP address (dropped)"),
                );
            }
        }
    }
    if !aliases.is_empty() {
        let list: Vec<Value> = aliases
            .iter()
            .map(|(ip, hosts)| json!({"ip": ip, "hostnames": hosts}))
            .collect();
        pod.insert("hostAliases".into(), Value::Array(list));
    }
    let mut security = Map::new();
    let mut groups = Vec::new();
    for g in &s.group_add {
        match g.parse::<i64>() {
            Ok(gid) => groups.push(gid),
            Err(_) => ctx.report.add(
                format!("{path}.group_add"),
                format!("group name {g:?}: supplementalGroups take numbers (dropped)"),
            ),
        }
    }
    if !groups.is_empty() {
        security.insert("supplementalGroups".into(), json!(groups));
    }
    let mut sysctls = Vec::new();
    for (k, v) in &s.sysctls {
        if SAFE_SYSCTLS.contains(&k.as_str()) {
            sysctls.push(json!({"name": k, "value": v}));
        } else {
            ctx.report.add(format!("{path}.sysctls.{k}"), "not one of Kubernetes' safe sysctls: the node must allow it (--allowed-unsafe-sysctls) (dropped)");
        }
    }
    if !sysctls.is_empty() {
        security.insert("sysctls".into(), Value::Array(sysctls));
    }
    if !security.is_empty() {
        pod.insert("securityContext".into(), Value::Object(security));
    }
    if let Some(grace) = s.stop_grace_period {
        let secs = grace.as_secs() + u64::from(grace.subsec_nanos() > 0);
        pod.insert("terminationGracePeriodSeconds".into(), json!(secs));
    }
    Ok(())
}
