//! The rule for every key of the Compose model: converted by a module of
//! this crate, already carried by another key, or dropped with a reason that
//! is reported whenever the key is set. The tests check these tables against
//! the model's JSON rendering, so a key added to the model without a rule here
//! fails them instead of being lost without a word.

use crate::report::Report;
use serde::Serialize;
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// A module of this crate converts it (and reports what it changes).
    Converted,
    /// Its value reaches the output through another key of the model (the
    /// reason names it).
    Carried(&'static str),
    /// No Kubernetes equivalent: reported as dropped when set.
    Dropped(&'static str),
}

use Rule::{Carried, Converted, Dropped};

const NO_POD_EQUIVALENT: &str = "has no equivalent in a Kubernetes pod spec";
const CPU_TUNING: &str =
    "has no equivalent in a Kubernetes pod spec (resources.limits.cpu is set from `cpus`)";

pub const SERVICE: &[(&str, Rule)] = &[
    ("name", Carried("the service's key")),
    ("image", Converted),
    ("build", Converted),
    ("command", Converted),
    ("entrypoint", Converted),
    ("environment", Converted),
    ("environment_unset", Carried("left out of `environment`, as Compose does")),
    ("working_dir", Converted),
    ("user", Converted),
    ("hostname", Converted),
    ("container_name", Dropped("Kubernetes names pods itself; the Service keeps the service name")),
    ("labels", Converted),
    ("label_file", Carried("merged into `labels` by the loader")),
    ("ports", Converted),
    ("volumes", Converted),
    ("depends_on", Converted),
    ("networks", Converted),
    ("network_mode", Converted),
    ("limits", Carried("the effective `deploy.resources.limits`")),
    ("reservations", Carried("the effective `deploy.resources.reservations`")),
    ("replicas", Carried("the effective `deploy.replicas`")),
    ("restart", Converted),
    ("stop_signal", Converted),
    ("stop_grace_period", Converted),
    ("profiles", Carried("applied by the loader")),
    ("healthcheck", Converted),
    ("annotations", Converted),
    ("attach", Dropped("only changes which logs `up` shows")),
    ("blkio_config", Dropped(NO_POD_EQUIVALENT)),
    ("cap_add", Converted),
    ("cap_drop", Converted),
    ("cgroup", Dropped(NO_POD_EQUIVALENT)),
    ("cgroup_parent", Dropped(NO_POD_EQUIVALENT)),
    ("configs", Converted),
    ("cpu_count", Dropped(CPU_TUNING)),
    ("cpu_percent", Dropped(CPU_TUNING)),
    ("cpu_period", Dropped(CPU_TUNING)),
    ("cpu_quota", Dropped(CPU_TUNING)),
    ("cpu_rt_period", Dropped(CPU_TUNING)),
    ("cpu_rt_runtime", Dropped(CPU_TUNING)),
    ("cpu_shares", Dropped(CPU_TUNING)),
    ("cpus", Carried("the effective limit, converted from `limits`")),
    ("cpuset", Dropped(NO_POD_EQUIVALENT)),
    ("credential_spec", Dropped("is for Windows containers")),
    ("deploy", Converted),
    ("develop", Dropped("is for local development (`watch`)")),
    ("device_cgroup_rules", Dropped(NO_POD_EQUIVALENT)),
    ("devices", Dropped("host devices need a device plugin in Kubernetes")),
    ("dns", Converted),
    ("dns_opt", Converted),
    ("dns_search", Converted),
    ("domainname", Dropped(NO_POD_EQUIVALENT)),
    ("expose", Converted),
    ("external_links", Dropped("names resolve through Services; containers outside the project are not reachable by name")),
    ("extra_hosts", Converted),
    ("gpus", Dropped("GPUs need a device plugin and its resource name in Kubernetes")),
    ("group_add", Converted),
    ("init", Dropped(NO_POD_EQUIVALENT)),
    ("ipc", Converted),
    ("isolation", Dropped("is for Windows containers")),
    ("links", Dropped("every service resolves by its name through its Service; link aliases are not kept")),
    ("logging", Dropped("the cluster's logging applies")),
    ("mac_address", Dropped(NO_POD_EQUIVALENT)),
    ("mem_limit", Carried("the effective limit, converted from `limits`")),
    ("models", Dropped("a Kubernetes pod has no model runner: serve the model as a service of its own")),
    ("mem_reservation", Carried("the effective request, converted from `reservations`")),
    ("mem_swappiness", Dropped(NO_POD_EQUIVALENT)),
    ("memswap_limit", Dropped(NO_POD_EQUIVALENT)),
    ("oom_kill_disable", Dropped(NO_POD_EQUIVALENT)),
    ("oom_score_adj", Dropped(NO_POD_EQUIVALENT)),
    ("pid", Converted),
    ("pids_limit", Carried("the effective limit, reported from `limits`")),
    ("platform", Dropped("use a nodeSelector on kubernetes.io/arch and kubernetes.io/os")),
    ("post_start", Converted),
    ("pre_stop", Converted),
    ("privileged", Converted),
    ("pull_policy", Converted),
    ("read_only", Converted),
    ("runtime", Dropped("use a RuntimeClass (runtimeClassName)")),
    ("scale", Carried("the effective `deploy.replicas`")),
    ("secrets", Converted),
    ("security_opt", Converted),
    ("shm_size", Converted),
    ("stdin_open", Converted),
    ("storage_opt", Dropped(NO_POD_EQUIVALENT)),
    ("sysctls", Converted),
    ("tmpfs", Converted),
    ("tty", Converted),
    ("ulimits", Dropped("Kubernetes has no per-pod ulimits (the node's container runtime sets them)")),
    ("use_api_socket", Dropped("no Docker API socket exists in a cluster")),
    ("userns_mode", Dropped(NO_POD_EQUIVALENT)),
    ("uts", Dropped(NO_POD_EQUIVALENT)),
    ("volumes_from", Dropped("share a named volume instead")),
    ("extensions", Dropped("`x-*` fields are for tools that read them")),
];

/// `deploy`'s keys.
pub const DEPLOY: &[(&str, Rule)] = &[
    ("replicas", Converted),
    ("resources", Converted),
    (
        "mode",
        Dropped("`global` would be a DaemonSet; a Deployment is written"),
    ),
    ("labels", Dropped("service labels of swarm mode")),
    (
        "update_config",
        Dropped("set the Deployment's strategy by hand"),
    ),
    (
        "rollback_config",
        Dropped("Kubernetes rolls back with `kubectl rollout undo`"),
    ),
    (
        "restart_policy",
        Dropped("pods restart by `restartPolicy`, set from `restart`"),
    ),
    (
        "placement",
        Dropped("use nodeSelector, affinity or topologySpreadConstraints"),
    ),
    (
        "endpoint_mode",
        Dropped("Services choose their own load balancing"),
    ),
];

/// A service's attachment to a network (`services.*.networks.*`).
pub const SERVICE_NETWORK: &[(&str, Rule)] = &[
    ("aliases", Converted),
    ("ipv4_address", Converted),
    ("ipv6_address", Converted),
    (
        "link_local_ips",
        Dropped("pod addresses come from the cluster"),
    ),
    ("mac_address", Dropped(NO_POD_EQUIVALENT)),
    ("priority", Dropped("a pod has one network interface")),
    ("gw_priority", Dropped("a pod has one network interface")),
    (
        "driver_opts",
        Dropped("the cluster's network plugin applies"),
    ),
    ("interface_name", Dropped("a pod has one network interface")),
];

/// A `ports` entry.
pub const SERVICE_PORT: &[(&str, Rule)] = &[
    ("target", Converted),
    ("published", Converted),
    ("host_ip", Converted),
    ("protocol", Converted),
    ("mode", Converted),
    ("name", Converted),
    ("app_protocol", Converted),
];

/// A `volumes` entry.
pub const SERVICE_VOLUME: &[(&str, Rule)] = &[
    ("kind", Converted),
    ("source", Converted),
    ("target", Converted),
    ("read_only", Converted),
    ("bind", Converted),
    ("volume", Converted),
    ("tmpfs", Converted),
    ("consistency", Dropped("has no meaning in Kubernetes")),
];

/// A top-level network's keys.
pub const NETWORK: &[(&str, Rule)] = &[
    ("name", Carried("the network's key names its policy label")),
    ("internal", Converted),
    (
        "external",
        Dropped("a network outside the project: its members here get the policy of the key"),
    ),
    ("driver", Dropped("the cluster's network plugin applies")),
    (
        "driver_opts",
        Dropped("the cluster's network plugin applies"),
    ),
    ("labels", Dropped("networks are not objects in Kubernetes")),
    ("subnet", Dropped("pod addresses come from the cluster")),
    ("ipam", Dropped("pod addresses come from the cluster")),
    (
        "attachable",
        Dropped("networks are not objects in Kubernetes"),
    ),
    (
        "enable_ipv4",
        Dropped("the cluster's address families apply"),
    ),
    (
        "enable_ipv6",
        Dropped("the cluster's address families apply"),
    ),
    (
        "extensions",
        Dropped("`x-*` fields are for tools that read them"),
    ),
];

/// A top-level volume's keys.
pub const VOLUME: &[(&str, Rule)] = &[
    ("name", Carried("the volume's key names its claim")),
    ("external", Converted),
    (
        "driver",
        Dropped("storage comes from the StorageClass (--storage-class)"),
    ),
    (
        "driver_opts",
        Dropped("storage comes from the StorageClass (--storage-class)"),
    ),
    ("labels", Dropped("not copied to the claim")),
    (
        "extensions",
        Dropped("`x-*` fields are for tools that read them"),
    ),
];

/// A top-level secret's or config's keys.
pub const FILE_OBJECT: &[(&str, Rule)] = &[
    ("name", Carried("the key names the ConfigMap or Secret")),
    ("file", Converted),
    ("environment", Converted),
    ("content", Converted),
    ("external", Converted),
    ("labels", Dropped("not copied to the ConfigMap or Secret")),
    ("driver", Dropped("Kubernetes keeps the data itself")),
    ("driver_opts", Dropped("Kubernetes keeps the data itself")),
    ("template_driver", Dropped("templates are not expanded")),
    (
        "extensions",
        Dropped("`x-*` fields are for tools that read them"),
    ),
];

/// Whether `v` is unset: null, false, 0-length, or a map of unset values
/// (`ipam: {config: [], options: {}}` says nothing).
pub fn is_unset(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => true,
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.values().all(is_unset),
        Value::Number(_) | Value::Bool(true) => false,
    }
}

/// Reports every `Dropped` key of `table` that is set in `value` (unset, or
/// equal to the model's default, is not set), under `path`.
pub fn report_dropped<T: Serialize + Default>(
    path: &str,
    value: &T,
    table: &[(&str, Rule)],
    report: &mut Report,
) {
    let rendered = serde_json::to_value(value).unwrap_or_default();
    let defaults = serde_json::to_value(T::default()).unwrap_or_default();
    report_dropped_rendered(path, &rendered, &defaults, table, report);
}

/// [`report_dropped`] of a value already rendered, against `defaults`.
pub fn report_dropped_rendered(
    path: &str,
    rendered: &Value,
    defaults: &Value,
    table: &[(&str, Rule)],
    report: &mut Report,
) {
    let Value::Object(fields) = rendered else {
        return;
    };
    for (key, rule) in table {
        if let (Dropped(reason), Some(v)) = (rule, fields.get(*key)) {
            if is_unset(v) || defaults.get(*key) == Some(v) {
                continue;
            }
            if *key == "extensions" {
                if let Value::Object(ext) = v {
                    for name in ext.keys() {
                        report.add(format!("{path}.{name}"), format!("{reason} (dropped)"));
                    }
                }
                continue;
            }
            report.add(format!("{path}.{key}"), format!("{reason} (dropped)"));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;
    use wharf_compose::{Deploy, FileObject, Network, Service, Volume};

    fn keys_of(v: impl serde::Serialize) -> BTreeSet<String> {
        match serde_json::to_value(v).expect("model renders") {
            Value::Object(m) => m.keys().cloned().collect(),
            other => panic!("not a map: {other}"),
        }
    }

    fn check(what: &str, model: BTreeSet<String>, table: &[(&str, Rule)]) {
        let ruled: BTreeSet<String> = table.iter().map(|(k, _)| k.to_string()).collect();
        assert_eq!(ruled.len(), table.len(), "{what}: a key is listed twice");
        let missing: Vec<_> = model.difference(&ruled).collect();
        let stale: Vec<_> = ruled.difference(&model).collect();
        assert!(
            missing.is_empty(),
            "{what}: keys of the model with no conversion rule in keys.rs: {missing:?}"
        );
        assert!(
            stale.is_empty(),
            "{what}: rules for keys the model no longer has: {stale:?}"
        );
    }

    #[test]
    fn every_service_key_has_a_rule() {
        check("services.*", keys_of(Service::default()), SERVICE);
    }

    #[test]
    fn every_deploy_key_has_a_rule() {
        check("services.*.deploy", keys_of(Deploy::default()), DEPLOY);
    }

    #[test]
    fn every_key_of_a_service_entry_has_a_rule() {
        use wharf_compose::{ServiceNetwork, ServicePort, ServiceVolume, VolumeKind};
        check(
            "services.*.networks.*",
            keys_of(ServiceNetwork::default()),
            SERVICE_NETWORK,
        );
        let port = ServicePort {
            target: 80,
            published: None,
            host_ip: None,
            protocol: "tcp".into(),
            mode: None,
            name: None,
            app_protocol: None,
        };
        check("services.*.ports[]", keys_of(port), SERVICE_PORT);
        let volume = ServiceVolume {
            kind: VolumeKind::Tmpfs,
            source: None,
            target: "/t".into(),
            read_only: false,
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
        };
        check("services.*.volumes[]", keys_of(volume), SERVICE_VOLUME);
    }

    #[test]
    fn every_top_level_key_has_a_rule() {
        check("networks.*", keys_of(Network::default()), NETWORK);
        check("volumes.*", keys_of(Volume::default()), VOLUME);
        check("secrets.*", keys_of(FileObject::default()), FILE_OBJECT);
    }

    #[test]
    fn set_dropped_keys_are_reported_and_unset_ones_are_not() {
        let service = Service {
            ulimits: [(
                "nofile".to_string(),
                wharf_compose::Ulimit {
                    single: Some(1024),
                    ..Default::default()
                },
            )]
            .into(),
            init: Some(true),
            ..Default::default()
        };
        let mut report = Report::default();
        report_dropped("services.web", &service, SERVICE, &mut report);
        let paths: Vec<_> = report.findings.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["services.web.init", "services.web.ulimits"]);
    }
}
