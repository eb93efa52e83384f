//! `wharf config` output: a loaded [`Project`] in docker compose's canonical
//! structure (key names, key order, units, defaults), written as YAML the way
//! docker compose's YAML encoder writes it, or as JSON the way its JSON
//! encoder does (HTML-safe escapes, two-space indent).
//!
//! [`tree`] builds an ordered, format-neutral [`Out`] tree; [`to_yaml`] and
//! [`to_json`] print it. Resources that no enabled service uses are left out,
//! as docker compose does.

use crate::model::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

mod emit;
pub use emit::{to_json, to_yaml, yaml_string};

/// An ordered output value.
#[derive(Debug, Clone, PartialEq)]
pub enum Out {
    Null,
    Bool(bool),
    Int(i64),
    /// A number already formatted (`0.5`).
    Float(String),
    Str(String),
    Seq(Vec<Out>),
    Map(Vec<(String, Out)>),
}

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Yaml,
    Json,
}

/// Builds an ordered mapping, skipping absent values.
#[derive(Default)]
struct M(Vec<(String, Out)>);

impl M {
    fn put(&mut self, k: &str, v: Out) {
        self.0.push((k.to_string(), v));
    }
    fn opt_str(&mut self, k: &str, v: &Option<String>) {
        if let Some(v) = v {
            self.put(k, Out::Str(v.clone()));
        }
    }
    fn nonempty_str(&mut self, k: &str, v: &str) {
        if !v.is_empty() {
            self.put(k, Out::Str(v.to_string()));
        }
    }
    fn list(&mut self, k: &str, v: &[String]) {
        if !v.is_empty() {
            self.put(k, strs(v));
        }
    }
    fn map(&mut self, k: &str, v: &BTreeMap<String, String>) {
        if !v.is_empty() {
            self.put(k, smap(v));
        }
    }
    fn flag(&mut self, k: &str, v: bool) {
        if v {
            self.put(k, Out::Bool(true));
        }
    }
    fn opt_bool(&mut self, k: &str, v: Option<bool>) {
        if let Some(v) = v {
            self.put(k, Out::Bool(v));
        }
    }
    fn opt_int<T: Into<i64> + Copy>(&mut self, k: &str, v: Option<T>) {
        if let Some(v) = v {
            self.put(k, Out::Int(v.into()));
        }
    }
    fn nonzero(&mut self, k: &str, v: i64) {
        if v != 0 {
            self.put(k, Out::Int(v));
        }
    }
    fn bytes(&mut self, k: &str, v: Option<u64>) {
        if let Some(v) = v {
            self.put(k, Out::Str(v.to_string()));
        }
    }
    fn duration(&mut self, k: &str, v: Option<Duration>) {
        if let Some(v) = v {
            self.put(k, Out::Str(wharf_units::format_go_duration(v)));
        }
    }
    fn float(&mut self, k: &str, v: Option<f32>) {
        if let Some(v) = v.filter(|v| *v != 0.0) {
            self.put(k, Out::Float(go_float32(v)));
        }
    }
    fn ext(&mut self, ext: &BTreeMap<String, AnyValue>, json: bool) {
        if !json {
            for (k, v) in ext {
                self.put(k, any(v));
            }
        }
    }
    fn done(self) -> Out {
        Out::Map(self.0)
    }
}

fn strs(v: &[String]) -> Out {
    Out::Seq(v.iter().map(|s| Out::Str(s.clone())).collect())
}

fn smap(v: &BTreeMap<String, String>) -> Out {
    Out::Map(
        v.iter()
            .map(|(k, v)| (k.clone(), Out::Str(v.clone())))
            .collect(),
    )
}

fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

fn any(v: &AnyValue) -> Out {
    match v {
        AnyValue::Null => Out::Null,
        AnyValue::Bool(b) => Out::Bool(*b),
        AnyValue::Int(i) => Out::Int(*i),
        AnyValue::Float(f) => Out::Float(match f.trim().parse::<f64>() {
            Ok(x) => go_float(x, false),
            Err(_) => f.clone(),
        }),
        AnyValue::String(s) => Out::Str(s.clone()),
        AnyValue::List(l) => Out::Seq(l.iter().map(any).collect()),
        AnyValue::Map(m) => Out::Map(m.iter().map(|(k, v)| (k.clone(), any(v))).collect()),
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 32)`, as its YAML encoder prints a float32.
pub fn go_float32(f: f32) -> String {
    go_float(f64::from(f), true)
}

/// Go's shortest `'g'` formatting of a float32 (`single`) or float64.
fn go_float(f: f64, single: bool) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    if f == 0.0 {
        return "0".into();
    }
    // Shortest digits and exponent, as Rust finds them.
    let e = if single {
        format!("{:e}", (f as f32).abs())
    } else {
        format!("{:e}", f.abs())
    };
    let (mant, exp) = e.split_once('e').unwrap_or((&e, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if f < 0.0 { "-" } else { "" };
    if !(-4..6).contains(&exp) {
        let rest = &digits[1..];
        let m = if rest.is_empty() {
            digits[..1].to_string()
        } else {
            format!("{}.{rest}", &digits[..1])
        };
        let es = if exp < 0 { '-' } else { '+' };
        return format!("{sign}{m}e{es}{:02}", exp.abs());
    }
    let n = digits.len() as i32;
    let body = if exp < 0 {
        format!("0.{}{digits}", "0".repeat((-exp - 1) as usize))
    } else if exp + 1 >= n {
        format!("{digits}{}", "0".repeat((exp + 1 - n) as usize))
    } else {
        let (a, b) = digits.split_at((exp + 1) as usize);
        format!("{a}.{b}")
    };
    format!("{sign}{body}")
}

fn ulimits(v: &BTreeMap<String, Ulimit>) -> Out {
    Out::Map(
        v.iter()
            .map(|(k, u)| {
                let o = match u.single {
                    Some(s) => Out::Int(s),
                    None => {
                        let mut m = M::default();
                        m.put("soft", Out::Int(u.soft.unwrap_or(0)));
                        m.put("hard", Out::Int(u.hard.unwrap_or(0)));
                        m.done()
                    }
                };
                (k.clone(), o)
            })
            .collect(),
    )
}

fn extra_hosts(v: &BTreeMap<String, Vec<String>>) -> Out {
    let mut all: Vec<String> = v
        .iter()
        .flat_map(|(h, ips)| ips.iter().map(move |ip| format!("{h}={ip}")))
        .collect();
    all.sort();
    strs(&all)
}

fn file_refs(v: &[ServiceFileRef]) -> Out {
    Out::Seq(
        v.iter()
            .map(|r| {
                let mut m = M::default();
                m.put("source", Out::Str(r.source.clone()));
                m.opt_str("target", &r.target);
                m.opt_str("uid", &r.uid);
                m.opt_str("gid", &r.gid);
                if let Some(mode) = r.mode {
                    m.put("mode", Out::Str(format!("0{mode:o}")));
                }
                m.done()
            })
            .collect(),
    )
}

fn hook(h: &ServiceHook, json: bool) -> Out {
    let mut m = M::default();
    if json && h.command.is_empty() {
        m.put("command", Out::Null);
    }
    m.list("command", &h.command);
    m.opt_str("user", &h.user);
    m.flag("privileged", h.privileged);
    m.opt_str("working_dir", &h.working_dir);
    m.map("environment", &h.environment);
    m.done()
}

fn device_requests(v: &[DeviceRequest]) -> Out {
    Out::Seq(
        v.iter()
            .map(|d| {
                let mut m = M::default();
                m.list("capabilities", &d.capabilities);
                m.opt_str("driver", &d.driver);
                if let Some(c) = d.count.filter(|c| *c != 0) {
                    m.put("count", Out::Int(c));
                }
                m.list("device_ids", &d.device_ids);
                m.map("options", &d.options);
                m.done()
            })
            .collect(),
    )
}

fn resource(r: &Resource) -> Out {
    let mut m = M::default();
    m.float("cpus", r.cpus);
    m.bytes("memory", r.memory);
    m.nonzero("pids", r.pids.unwrap_or(0));
    if !r.devices.is_empty() {
        m.put("devices", device_requests(&r.devices));
    }
    if !r.generic_resources.is_empty() {
        m.put(
            "generic_resources",
            Out::Seq(
                r.generic_resources
                    .iter()
                    .map(|g| {
                        let mut spec = M::default();
                        spec.put("kind", Out::Str(g.kind.clone()));
                        spec.put("value", Out::Int(g.value));
                        let mut o = M::default();
                        o.put("discrete_resource_spec", spec.done());
                        o.done()
                    })
                    .collect(),
            ),
        );
    }
    m.done()
}

fn update_config(u: &UpdateConfig) -> Out {
    let mut m = M::default();
    m.opt_int("parallelism", u.parallelism.map(|p| p as i64));
    m.duration("delay", u.delay.filter(|d| !d.is_zero()));
    m.opt_str("failure_action", &u.failure_action);
    m.duration("monitor", u.monitor.filter(|d| !d.is_zero()));
    m.float("max_failure_ratio", u.max_failure_ratio);
    m.opt_str("order", &u.order);
    m.done()
}

fn deploy(d: &Deploy, json: bool) -> Out {
    let mut m = M::default();
    m.opt_str("mode", &d.mode);
    m.opt_int("replicas", d.replicas);
    m.map("labels", &d.labels);
    if let Some(u) = &d.update_config {
        m.put("update_config", update_config(u));
    }
    if let Some(u) = &d.rollback_config {
        m.put("rollback_config", update_config(u));
    }
    let mut r = M::default();
    if let Some(l) = &d.resources.limits {
        r.put("limits", resource(l));
    }
    if let Some(l) = &d.resources.reservations {
        r.put("reservations", resource(l));
    }
    if json || !r.0.is_empty() {
        m.put("resources", r.done());
    }
    if let Some(rp) = &d.restart_policy {
        let mut p = M::default();
        p.opt_str("condition", &rp.condition);
        p.duration("delay", rp.delay);
        p.opt_int("max_attempts", rp.max_attempts.map(|a| a as i64));
        p.duration("window", rp.window);
        m.put("restart_policy", p.done());
    }
    let mut pl = M::default();
    pl.list("constraints", &d.placement.constraints);
    if !d.placement.preferences.is_empty() {
        pl.put(
            "preferences",
            Out::Seq(
                d.placement
                    .preferences
                    .iter()
                    .map(|s| Out::Map(vec![("spread".into(), Out::Str(s.clone()))]))
                    .collect(),
            ),
        );
    }
    pl.opt_int(
        "max_replicas_per_node",
        d.placement.max_replicas_per_node.map(|x| x as i64),
    );
    if json || !pl.0.is_empty() {
        m.put("placement", pl.done());
    }
    m.opt_str("endpoint_mode", &d.endpoint_mode);
    m.done()
}

fn build(b: &Build) -> Out {
    let mut m = M::default();
    m.put("context", Out::Str(path_str(&b.context)));
    m.opt_str("dockerfile", &b.dockerfile);
    m.opt_str("dockerfile_inline", &b.dockerfile_inline);
    m.list("entitlements", &b.entitlements);
    m.map("args", &b.args);
    m.opt_str("provenance", &b.provenance);
    m.opt_str("sbom", &b.sbom);
    m.list("ssh", &b.ssh);
    m.map("labels", &b.labels);
    m.list("cache_from", &b.cache_from);
    m.list("cache_to", &b.cache_to);
    m.flag("no_cache", b.no_cache);
    m.map("additional_contexts", &b.additional_contexts);
    m.flag("pull", b.pull);
    if !b.extra_hosts.is_empty() {
        m.put("extra_hosts", extra_hosts(&b.extra_hosts));
    }
    m.opt_str("isolation", &b.isolation);
    m.opt_str("network", &b.network);
    m.opt_str("target", &b.target);
    if !b.secrets.is_empty() {
        m.put("secrets", file_refs(&b.secrets));
    }
    m.bytes("shm_size", b.shm_size);
    m.list("tags", &b.tags);
    if !b.ulimits.is_empty() {
        m.put("ulimits", ulimits(&b.ulimits));
    }
    m.list("platforms", &b.platforms);
    m.flag("privileged", b.privileged);
    m.done()
}

fn healthcheck(h: &Healthcheck) -> Out {
    let mut m = M::default();
    if !h.disable && !h.test.is_empty() {
        m.put("test", strs(&h.test));
    }
    m.duration("timeout", h.timeout);
    m.duration("interval", h.interval);
    m.opt_int("retries", h.retries);
    m.duration("start_period", h.start_period);
    m.duration("start_interval", h.start_interval);
    m.flag("disable", h.disable);
    m.done()
}

fn port(p: &ServicePort) -> Out {
    let mut m = M::default();
    m.opt_str("name", &p.name);
    m.put(
        "mode",
        Out::Str(p.mode.clone().unwrap_or_else(|| "ingress".into())),
    );
    m.opt_str("host_ip", &p.host_ip);
    m.put("target", Out::Int(i64::from(p.target)));
    m.opt_str("published", &p.published);
    m.nonempty_str("protocol", &p.protocol);
    m.opt_str("app_protocol", &p.app_protocol);
    m.done()
}

fn mount(v: &ServiceVolume) -> Out {
    let mut m = M::default();
    let kind = match v.kind {
        VolumeKind::Bind => "bind",
        VolumeKind::Volume => "volume",
        VolumeKind::Tmpfs => "tmpfs",
        VolumeKind::Npipe => "npipe",
    };
    m.put("type", Out::Str(kind.into()));
    m.opt_str("source", &v.source);
    m.put("target", Out::Str(v.target.clone()));
    m.flag("read_only", v.read_only);
    m.opt_str("consistency", &v.consistency);
    if let Some(b) = &v.bind {
        let mut o = M::default();
        o.opt_str("selinux", &b.selinux);
        o.opt_str("propagation", &b.propagation);
        o.flag("create_host_path", b.create_host_path);
        o.opt_str("recursive", &b.recursive);
        m.put("bind", o.done());
    }
    if let Some(x) = &v.volume {
        let mut o = M::default();
        o.map("labels", &x.labels);
        o.flag("nocopy", x.nocopy);
        o.opt_str("subpath", &x.subpath);
        m.put("volume", o.done());
    }
    if let Some(t) = &v.tmpfs {
        let mut o = M::default();
        o.bytes("size", t.size);
        o.opt_int("mode", t.mode.map(i64::from));
        m.put("tmpfs", o.done());
    }
    m.done()
}

fn service_network(n: &ServiceNetwork) -> Out {
    if *n == ServiceNetwork::default() {
        return Out::Null;
    }
    let mut m = M::default();
    m.list("aliases", &n.aliases);
    m.map("driver_opts", &n.driver_opts);
    m.nonzero("gw_priority", i64::from(n.gw_priority));
    m.opt_str("interface_name", &n.interface_name);
    m.opt_str("ipv4_address", &n.ipv4_address);
    m.opt_str("ipv6_address", &n.ipv6_address);
    m.list("link_local_ips", &n.link_local_ips);
    m.opt_str("mac_address", &n.mac_address);
    m.nonzero("priority", i64::from(n.priority));
    m.done()
}

/// The restart policy `deploy.restart_policy` implies (what the loader puts in `restart`).
fn implied_restart(s: &Service) -> Option<String> {
    let rp = s.deploy.as_ref()?.restart_policy.as_ref()?;
    Some(match rp.condition.as_deref().unwrap_or("any") {
        "none" => "no".into(),
        "on-failure" => match rp.max_attempts {
            Some(a) => format!("on-failure:{a}"),
            None => "on-failure".into(),
        },
        _ => "always".into(),
    })
}

/// One service, in docker compose's key order.
pub fn service(s: &Service, json: bool) -> Out {
    let mut m = M::default();
    m.list("profiles", &s.profiles);
    m.map("annotations", &s.annotations);
    m.opt_bool("attach", s.attach);
    if let Some(b) = &s.build {
        m.put("build", build(b));
    }
    if let Some(d) = &s.develop {
        let mut o = M::default();
        if !d.watch.is_empty() {
            o.put(
                "watch",
                Out::Seq(
                    d.watch
                        .iter()
                        .map(|w| {
                            let mut r = M::default();
                            r.put("path", Out::Str(path_str(&w.path)));
                            r.put("action", Out::Str(w.action.clone()));
                            r.opt_str("target", &w.target);
                            match &w.exec {
                                Some(e) => r.put("exec", hook(e, json)),
                                None if json => r.put("exec", hook(&ServiceHook::default(), json)),
                                None => {}
                            }
                            r.list("ignore", &w.ignore);
                            r.list("include", &w.include);
                            r.flag("initial_sync", w.initial_sync);
                            r.done()
                        })
                        .collect(),
                ),
            );
        }
        m.put("develop", o.done());
    }
    if let Some(b) = &s.blkio_config {
        let mut o = M::default();
        o.opt_int("weight", b.weight);
        if !b.weight_device.is_empty() {
            o.put(
                "weight_device",
                Out::Seq(
                    b.weight_device
                        .iter()
                        .map(|w| {
                            Out::Map(vec![
                                ("path".into(), Out::Str(w.path.clone())),
                                ("weight".into(), Out::Int(i64::from(w.weight))),
                            ])
                        })
                        .collect(),
                ),
            );
        }
        for (k, list) in [
            ("device_read_bps", &b.device_read_bps),
            ("device_read_iops", &b.device_read_iops),
            ("device_write_bps", &b.device_write_bps),
            ("device_write_iops", &b.device_write_iops),
        ] {
            if !list.is_empty() {
                o.put(
                    k,
                    Out::Seq(
                        list.iter()
                            .map(|t| {
                                Out::Map(vec![
                                    ("path".into(), Out::Str(t.path.clone())),
                                    ("rate".into(), Out::Str(t.rate.to_string())),
                                ])
                            })
                            .collect(),
                    ),
                );
            }
        }
        m.put("blkio_config", o.done());
    }
    m.list("cap_add", &s.cap_add);
    m.list("cap_drop", &s.cap_drop);
    m.opt_str("cgroup_parent", &s.cgroup_parent);
    m.opt_str("cgroup", &s.cgroup);
    m.nonzero("cpu_count", s.cpu_count.unwrap_or(0));
    m.float("cpu_percent", s.cpu_percent);
    m.nonzero("cpu_period", s.cpu_period.unwrap_or(0));
    m.nonzero("cpu_quota", s.cpu_quota.unwrap_or(0));
    m.nonzero("cpu_rt_period", s.cpu_rt_period.unwrap_or(0));
    m.nonzero("cpu_rt_runtime", s.cpu_rt_runtime.unwrap_or(0));
    m.float("cpus", s.cpus);
    m.opt_str("cpuset", &s.cpuset);
    m.nonzero("cpu_shares", s.cpu_shares.unwrap_or(0));
    match &s.command {
        Some(c) => m.put("command", strs(c)),
        None if json => m.put("command", Out::Null),
        None => {}
    }
    if !s.configs.is_empty() {
        m.put("configs", file_refs(&s.configs));
    }
    m.opt_str("container_name", &s.container_name);
    if let Some(c) = &s.credential_spec {
        let mut o = M::default();
        o.opt_str("config", &c.config);
        o.opt_str("file", &c.file);
        o.opt_str("registry", &c.registry);
        m.put("credential_spec", o.done());
    }
    if !s.depends_on.is_empty() {
        m.put(
            "depends_on",
            Out::Map(
                s.depends_on
                    .iter()
                    .map(|(k, d)| {
                        let mut o = M::default();
                        let c = match d.condition {
                            DependencyCondition::ServiceStarted => "service_started",
                            DependencyCondition::ServiceHealthy => "service_healthy",
                            DependencyCondition::ServiceCompletedSuccessfully => {
                                "service_completed_successfully"
                            }
                        };
                        o.put("condition", Out::Str(c.into()));
                        o.flag("restart", d.restart);
                        o.put("required", Out::Bool(d.required));
                        (k.clone(), o.done())
                    })
                    .collect(),
            ),
        );
    }
    if let Some(d) = &s.deploy {
        m.put("deploy", deploy(d, json));
    }
    m.list("device_cgroup_rules", &s.device_cgroup_rules);
    if !s.devices.is_empty() {
        m.put(
            "devices",
            Out::Seq(
                s.devices
                    .iter()
                    .map(|d| {
                        let mut o = M::default();
                        o.nonempty_str("source", &d.source);
                        o.nonempty_str("target", &d.target);
                        o.nonempty_str("permissions", &d.permissions);
                        o.done()
                    })
                    .collect(),
            ),
        );
    }
    m.list("dns", &s.dns);
    m.list("dns_opt", &s.dns_opt);
    m.list("dns_search", &s.dns_search);
    m.opt_str("domainname", &s.domainname);
    match &s.entrypoint {
        Some(c) => m.put("entrypoint", strs(c)),
        None if json => m.put("entrypoint", Out::Null),
        None => {}
    }
    if !s.environment.is_empty() || !s.environment_unset.is_empty() {
        let mut env: BTreeMap<&str, Out> = s
            .environment
            .iter()
            .map(|(k, v)| (k.as_str(), Out::Str(v.clone())))
            .collect();
        for k in &s.environment_unset {
            env.entry(k.as_str()).or_insert(Out::Null);
        }
        m.put(
            "environment",
            Out::Map(env.into_iter().map(|(k, v)| (k.to_string(), v)).collect()),
        );
    }
    m.list("expose", &s.expose);
    m.list("external_links", &s.external_links);
    if !s.extra_hosts.is_empty() {
        m.put("extra_hosts", extra_hosts(&s.extra_hosts));
    }
    m.list("group_add", &s.group_add);
    if !s.gpus.is_empty() {
        m.put("gpus", device_requests(&s.gpus));
    }
    m.opt_str("hostname", &s.hostname);
    if let Some(h) = &s.healthcheck {
        m.put("healthcheck", healthcheck(h));
    }
    m.opt_str("image", &s.image);
    m.opt_bool("init", s.init);
    m.opt_str("ipc", &s.ipc);
    m.opt_str("isolation", &s.isolation);
    m.map("labels", &s.labels);
    m.list("links", &s.links);
    if let Some(l) = &s.logging {
        let mut o = M::default();
        o.opt_str("driver", &l.driver);
        o.map("options", &l.options);
        m.put("logging", o.done());
    }
    m.bytes("mem_limit", s.mem_limit);
    m.bytes("mem_reservation", s.mem_reservation);
    if let Some(v) = s.memswap_limit {
        m.put("memswap_limit", Out::Str(v.to_string()));
    }
    if let Some(v) = s.mem_swappiness.filter(|v| *v != 0) {
        m.put("mem_swappiness", Out::Str(v.to_string()));
    }
    m.opt_str("mac_address", &s.mac_address);
    if !s.models.is_empty() {
        m.put(
            "models",
            Out::Map(
                s.models
                    .iter()
                    .map(|(k, used)| {
                        if *used == ServiceModel::default() {
                            return (k.clone(), Out::Null);
                        }
                        let mut o = M::default();
                        o.opt_str("endpoint_var", &used.endpoint_var);
                        o.opt_str("model_var", &used.model_var);
                        (k.clone(), o.done())
                    })
                    .collect(),
            ),
        );
    }
    m.opt_str("network_mode", &s.network_mode);
    if !s.networks.is_empty() {
        m.put(
            "networks",
            Out::Map(
                s.networks
                    .iter()
                    .map(|(k, n)| (k.clone(), service_network(n)))
                    .collect(),
            ),
        );
    }
    m.flag("oom_kill_disable", s.oom_kill_disable);
    m.nonzero("oom_score_adj", s.oom_score_adj.unwrap_or(0));
    m.opt_str("pid", &s.pid);
    m.nonzero("pids_limit", s.pids_limit.unwrap_or(0));
    m.opt_str("platform", &s.platform);
    if !s.ports.is_empty() {
        m.put("ports", Out::Seq(s.ports.iter().map(port).collect()));
    }
    m.flag("privileged", s.privileged);
    m.opt_str("pull_policy", &s.pull_policy);
    m.flag("read_only", s.read_only);
    if s.restart.is_some() && s.restart != implied_restart(s) {
        m.opt_str("restart", &s.restart);
    }
    m.opt_str("runtime", &s.runtime);
    m.opt_int("scale", s.scale);
    if !s.secrets.is_empty() {
        m.put("secrets", file_refs(&s.secrets));
    }
    m.list("security_opt", &s.security_opt);
    m.bytes("shm_size", s.shm_size);
    m.flag("stdin_open", s.stdin_open);
    m.duration("stop_grace_period", s.stop_grace_period);
    m.opt_str("stop_signal", &s.stop_signal);
    m.map("storage_opt", &s.storage_opt);
    m.map("sysctls", &s.sysctls);
    m.list("tmpfs", &s.tmpfs);
    m.flag("tty", s.tty);
    if !s.ulimits.is_empty() {
        m.put("ulimits", ulimits(&s.ulimits));
    }
    m.flag("use_api_socket", s.use_api_socket);
    m.opt_str("user", &s.user);
    m.opt_str("userns_mode", &s.userns_mode);
    m.opt_str("uts", &s.uts);
    if !s.volumes.is_empty() {
        m.put("volumes", Out::Seq(s.volumes.iter().map(mount).collect()));
    }
    m.list("volumes_from", &s.volumes_from);
    m.opt_str("working_dir", &s.working_dir);
    if !s.post_start.is_empty() {
        m.put(
            "post_start",
            Out::Seq(s.post_start.iter().map(|h| hook(h, json)).collect()),
        );
    }
    if !s.pre_stop.is_empty() {
        m.put(
            "pre_stop",
            Out::Seq(s.pre_stop.iter().map(|h| hook(h, json)).collect()),
        );
    }
    m.ext(&s.extensions, json);
    m.done()
}

fn network(n: &Network, json: bool) -> Out {
    let mut m = M::default();
    m.nonempty_str("name", &n.name);
    m.opt_str("driver", &n.driver);
    m.map("driver_opts", &n.driver_opts);
    let mut ipam = M::default();
    ipam.opt_str("driver", &n.ipam.driver);
    if !n.ipam.config.is_empty() {
        ipam.put(
            "config",
            Out::Seq(
                n.ipam
                    .config
                    .iter()
                    .map(|p| {
                        let mut o = M::default();
                        o.opt_str("subnet", &p.subnet);
                        o.opt_str("gateway", &p.gateway);
                        o.opt_str("ip_range", &p.ip_range);
                        o.map("aux_addresses", &p.aux_addresses);
                        o.done()
                    })
                    .collect(),
            ),
        );
    }
    ipam.map("options", &n.ipam.options);
    if json || !ipam.0.is_empty() {
        m.put("ipam", ipam.done());
    }
    m.flag("external", n.external);
    m.flag("internal", n.internal);
    m.flag("attachable", n.attachable);
    m.map("labels", &n.labels);
    m.opt_bool("enable_ipv4", n.enable_ipv4);
    m.opt_bool("enable_ipv6", n.enable_ipv6);
    m.ext(&n.extensions, json);
    m.done()
}

fn volume(v: &Volume, json: bool) -> Out {
    let mut m = M::default();
    m.nonempty_str("name", &v.name);
    m.opt_str("driver", &v.driver);
    m.map("driver_opts", &v.driver_opts);
    m.flag("external", v.external);
    m.map("labels", &v.labels);
    m.ext(&v.extensions, json);
    m.done()
}

fn file_object(f: &FileObject, is_secret: bool, json: bool) -> Out {
    let mut m = M::default();
    m.nonempty_str("name", &f.name);
    if let Some(p) = &f.file {
        m.put("file", Out::Str(path_str(p)));
    }
    m.opt_str("environment", &f.environment);
    if !is_secret && f.environment.is_none() {
        m.opt_str("content", &f.content);
    }
    m.flag("external", f.external);
    m.map("labels", &f.labels);
    m.opt_str("driver", &f.driver);
    m.map("driver_opts", &f.driver_opts);
    m.opt_str("template_driver", &f.template_driver);
    m.ext(&f.extensions, json);
    m.done()
}

fn model(v: &Model, json: bool) -> Out {
    let mut m = M::default();
    m.opt_str("name", &v.name);
    m.nonempty_str("model", &v.model);
    m.nonzero(
        "context_size",
        i64::try_from(v.context_size.unwrap_or(0)).unwrap_or(i64::MAX),
    );
    m.list("runtime_flags", &v.runtime_flags);
    m.ext(&v.extensions, json);
    m.done()
}

/// The names of the networks, volumes, secrets, configs and models that enabled services use.
#[derive(Debug, Default)]
pub struct Used {
    pub networks: BTreeSet<String>,
    pub volumes: BTreeSet<String>,
    pub secrets: BTreeSet<String>,
    pub configs: BTreeSet<String>,
    pub models: BTreeSet<String>,
}

/// What the project's services use.
pub fn used(p: &Project) -> Used {
    let mut u = Used::default();
    for s in p.services.values() {
        u.networks.extend(s.networks.keys().cloned());
        for v in &s.volumes {
            if let (VolumeKind::Volume, Some(src)) = (v.kind, &v.source) {
                if p.volumes.contains_key(src) {
                    u.volumes.insert(src.clone());
                }
            }
        }
        u.secrets.extend(s.secrets.iter().map(|r| r.source.clone()));
        if let Some(b) = &s.build {
            u.secrets.extend(b.secrets.iter().map(|r| r.source.clone()));
        }
        u.configs.extend(s.configs.iter().map(|r| r.source.clone()));
        u.models.extend(s.models.keys().cloned());
    }
    u
}

/// The whole project in docker compose's structure (`json` selects the JSON variant's quirks).
pub fn tree(p: &Project, format: Format) -> Out {
    let json = format == Format::Json;
    let u = used(p);
    let mut sections: Vec<(String, Out)> = vec![("name".into(), Out::Str(p.name.clone()))];
    if !p.services.is_empty() {
        sections.push((
            "services".into(),
            Out::Map(
                p.services
                    .iter()
                    .map(|(k, s)| (k.clone(), service(s, json)))
                    .collect(),
            ),
        ));
    }
    let nets: Vec<(String, Out)> = p
        .networks
        .iter()
        .filter(|(k, _)| u.networks.contains(*k))
        .map(|(k, n)| (k.clone(), network(n, json)))
        .collect();
    if !nets.is_empty() {
        sections.push(("networks".into(), Out::Map(nets)));
    }
    let vols: Vec<(String, Out)> = p
        .volumes
        .iter()
        .filter(|(k, _)| u.volumes.contains(*k))
        .map(|(k, v)| (k.clone(), volume(v, json)))
        .collect();
    if !vols.is_empty() {
        sections.push(("volumes".into(), Out::Map(vols)));
    }
    for (key, items, used, secret) in [
        ("secrets", &p.secrets, &u.secrets, true),
        ("configs", &p.configs, &u.configs, false),
    ] {
        let list: Vec<(String, Out)> = items
            .iter()
            .filter(|(k, _)| used.contains(*k))
            .map(|(k, f)| (k.clone(), file_object(f, secret, json)))
            .collect();
        if !list.is_empty() {
            sections.push((key.into(), Out::Map(list)));
        }
    }
    let models: Vec<(String, Out)> = p
        .models
        .iter()
        .filter(|(k, _)| u.models.contains(*k))
        .map(|(k, m)| (k.clone(), model(m, json)))
        .collect();
    if !models.is_empty() {
        sections.push(("models".into(), Out::Map(models)));
    }
    for (k, v) in &p.extensions {
        sections.push((k.clone(), any(v)));
    }
    if json {
        sections.sort_by(|a, b| a.0.cmp(&b.0));
    }
    Out::Map(sections)
}

/// The project as docker compose's `config` prints it.
pub fn render(p: &Project, format: Format) -> String {
    let t = tree(p, format);
    let text = match format {
        Format::Yaml => to_yaml(&t),
        Format::Json => to_json(&t),
    };
    // Values are interpolated: `$` is written `$$` so the output loads back the same.
    text.replace('$', "$$")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_floats() {
        for (f, s) in [
            (0.5f32, "0.5"),
            (2.0, "2"),
            (1.25, "1.25"),
            (0.001, "0.001"),
            (1e-5, "1e-05"),
            (100000.0, "100000"),
        ] {
            assert_eq!(go_float32(f), s, "{f}");
        }
    }
}
