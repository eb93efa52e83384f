//! Model stage, continued: the service attributes beyond the core ones that
//! [`crate::typed`] reads (capabilities, devices, logging, ulimits, deploy,
//! develop, hooks, secrets and configs, …), and the `x-*` extension fields.
//!
//! Same rules as there: every value is checked for its type and unit, and
//! every error names the YAML path and the node's position.

use crate::canonical::{bad, join};
use crate::error::LoadError;
use crate::fields::{
    check_keys, entries, external, field, host_path, integer, items, memory, nano_cpus, opt_bool,
    opt_duration, opt_string, string, string_list, string_map, text, Context,
};
use crate::keys;
use crate::model::*;
use crate::yaml::{Node, ScalarKind, Value};
use std::collections::BTreeMap;

/// An `x-*` value as written.
pub fn any_value(node: &Node) -> AnyValue {
    match &node.value {
        Value::Scalar(_, ScalarKind::Null) => AnyValue::Null,
        Value::Scalar(t, ScalarKind::Bool) => AnyValue::Bool(t.eq_ignore_ascii_case("true")),
        Value::Scalar(t, ScalarKind::Int) => match parse_int(t) {
            Some(n) => AnyValue::Int(n),
            None => AnyValue::String(t.clone()),
        },
        Value::Scalar(t, ScalarKind::Float) => AnyValue::Float(t.clone()),
        Value::Scalar(t, ScalarKind::Str) => AnyValue::String(t.clone()),
        Value::Seq(items) => AnyValue::List(items.iter().map(any_value).collect()),
        Value::Map(entries) => AnyValue::Map(
            entries
                .iter()
                .map(|e| (e.key.clone(), any_value(&e.value)))
                .collect(),
        ),
    }
}

fn parse_int(t: &str) -> Option<i64> {
    let t = t.trim();
    let (neg, digits) = match t.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    let n = if let Some(h) = digits.strip_prefix("0x") {
        i64::from_str_radix(h, 16).ok()?
    } else if let Some(o) = digits.strip_prefix("0o") {
        i64::from_str_radix(o, 8).ok()?
    } else {
        digits.parse().ok()?
    };
    Some(if neg { -n } else { n })
}

/// The `x-*` entries of a mapping.
pub fn extensions(node: &Node) -> BTreeMap<String, AnyValue> {
    node.as_map()
        .map(|m| {
            m.iter()
                .filter(|e| e.key.starts_with("x-"))
                .map(|e| (e.key.clone(), any_value(&e.value)))
                .collect()
        })
        .unwrap_or_default()
}

fn opt_list(n: &Node, key: &str, path: &str) -> Result<Vec<String>, LoadError> {
    Ok(field(n, key)
        .map(|v| string_list(v, &join(path, key)))
        .transpose()?
        .unwrap_or_default())
}

fn opt_map(n: &Node, key: &str, path: &str) -> Result<BTreeMap<String, String>, LoadError> {
    Ok(field(n, key)
        .map(|v| string_map(v, &join(path, key)))
        .transpose()?
        .unwrap_or_default())
}

fn opt_int<T: TryFrom<i64>>(
    n: &Node,
    key: &str,
    path: &str,
    what: &str,
) -> Result<Option<T>, LoadError> {
    field(n, key)
        .map(|v| integer(v, &join(path, key), what))
        .transpose()
}

fn opt_memory(n: &Node, key: &str, path: &str) -> Result<Option<u64>, LoadError> {
    field(n, key)
        .map(|v| memory(v, &join(path, key)))
        .transpose()
}

/// A CPU count as written (`0.5`), checked like the effective limit.
pub fn opt_cpus(n: &Node, key: &str, path: &str) -> Result<Option<f32>, LoadError> {
    let Some(v) = field(n, key) else {
        return Ok(None);
    };
    // Read once, exactly; the model holds it as docker compose does, a float32.
    let nanos = nano_cpus(v, &join(path, key))?;
    Ok(Some((nanos as f64 / 1e9) as f32))
}

/// A signed size: `-1` or a size like `1g`.
fn opt_signed_memory(n: &Node, key: &str, path: &str) -> Result<Option<i64>, LoadError> {
    let Some(v) = field(n, key) else {
        return Ok(None);
    };
    let p = join(path, key);
    if text(v).is_some_and(|t| t.trim() == "-1") {
        return Ok(Some(-1));
    }
    let bytes = memory(v, &p)?;
    i64::try_from(bytes)
        .map(Some)
        .map_err(|_| bad(&v.loc, &p, format!("size {bytes} is too large")))
}

fn bool_or(n: &Node, key: &str, path: &str) -> Result<bool, LoadError> {
    Ok(opt_bool(n, key, path)?.unwrap_or(false))
}

/// A file mode: an integer (octal when written with a leading 0 or `0o`).
fn opt_mode(n: &Node, key: &str, path: &str) -> Result<Option<u32>, LoadError> {
    let Some(v) = field(n, key) else {
        return Ok(None);
    };
    let p = join(path, key);
    let fail = || {
        bad(
            &v.loc,
            &p,
            format!("must be a file mode like 0440, not {}", v.describe()),
        )
    };
    let t = text(v).ok_or_else(fail)?.trim();
    let parsed = match &v.value {
        Value::Scalar(_, ScalarKind::Str) => {
            u32::from_str_radix(t.trim_start_matches("0o"), 8).ok()
        }
        Value::Scalar(_, ScalarKind::Int) => {
            if let Some(o) = t.strip_prefix("0o") {
                u32::from_str_radix(o, 8).ok()
            } else if t.len() > 1 && t.starts_with('0') {
                u32::from_str_radix(t, 8).ok()
            } else {
                parse_int(t).and_then(|n| u32::try_from(n).ok())
            }
        }
        _ => None,
    };
    parsed.filter(|m| *m <= 0o7777).map(Some).ok_or_else(fail)
}

fn ulimits(node: &Node, path: &str) -> Result<BTreeMap<String, Ulimit>, LoadError> {
    let mut out = BTreeMap::new();
    for e in entries(node, path)? {
        let p = join(path, &e.key);
        let u = match &e.value.value {
            Value::Map(_) => {
                check_keys(&e.value, &p, &["soft", "hard"])?;
                let soft = opt_int(&e.value, "soft", &p, "an integer")?;
                let hard = opt_int(&e.value, "hard", &p, "an integer")?;
                if soft.is_none() || hard.is_none() {
                    return Err(bad(&e.value.loc, &p, "soft and hard are both required"));
                }
                if let (Some(s), Some(h)) = (soft, hard) {
                    if s > h && h >= 0 {
                        return Err(bad(
                            &e.value.loc,
                            &p,
                            format!("the soft limit ({s}) is larger than the hard limit ({h})"),
                        ));
                    }
                }
                Ulimit {
                    single: None,
                    soft,
                    hard,
                }
            }
            _ => Ulimit {
                single: Some(integer(
                    &e.value,
                    &p,
                    "an integer or a mapping with soft and hard",
                )?),
                soft: None,
                hard: None,
            },
        };
        out.insert(e.key.clone(), u);
    }
    Ok(out)
}

fn extra_hosts(node: &Node, path: &str) -> Result<BTreeMap<String, Vec<String>>, LoadError> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for e in entries(node, path)? {
        let p = join(path, &e.key);
        let ips = string_list(&e.value, &p)?;
        let slot = out.entry(e.key.clone()).or_default();
        for ip in ips {
            let ip = ip
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .map_or(ip.clone(), str::to_string);
            if ip.is_empty() {
                return Err(bad(&e.value.loc, &p, "empty address: write HOST=IP"));
            }
            if !slot.contains(&ip) {
                slot.push(ip);
            }
        }
        slot.sort();
    }
    Ok(out)
}

fn file_refs(node: &Node, path: &str, secrets: bool) -> Result<Vec<ServiceFileRef>, LoadError> {
    let mut out: Vec<ServiceFileRef> = Vec::new();
    for (i, r) in items(node, path, "references")?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        check_keys(r, &p, &["source", "target", "uid", "gid", "mode"])?;
        let source = match field(r, "source") {
            Some(s) => string(s, &join(&p, "source"))?,
            None => return Err(bad(&r.loc, &p, "source is required")),
        };
        let mut target = opt_string(r, "target", &p)?;
        if secrets && target.is_none() {
            target = Some(format!("/run/secrets/{source}"));
        }
        let f = ServiceFileRef {
            source,
            target,
            uid: opt_string(r, "uid", &p)?,
            gid: opt_string(r, "gid", &p)?,
            mode: opt_mode(r, "mode", &p)?,
        };
        if let Some(pos) = out
            .iter()
            .position(|x| x.target == f.target && x.source == f.source)
        {
            out[pos] = f;
        } else {
            out.push(f);
        }
    }
    Ok(out)
}

fn devices(node: &Node, path: &str) -> Result<Vec<DeviceMapping>, LoadError> {
    let mut out: Vec<DeviceMapping> = Vec::new();
    for (i, d) in items(node, path, "devices")?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        check_keys(d, &p, &["source", "target", "permissions"])?;
        let source = match field(d, "source") {
            Some(s) => string(s, &join(&p, "source"))?,
            None => return Err(bad(&d.loc, &p, "source is required")),
        };
        let target = opt_string(d, "target", &p)?.unwrap_or_else(|| source.clone());
        let permissions = opt_string(d, "permissions", &p)?.unwrap_or_else(|| "rwm".into());
        if permissions.is_empty() || !permissions.chars().all(|c| matches!(c, 'r' | 'w' | 'm')) {
            let at = field(d, "permissions").unwrap_or(d);
            return Err(bad(
                &at.loc,
                &join(&p, "permissions"),
                format!(
                    "invalid device permissions {permissions:?}: use a combination of r, w and m"
                ),
            ));
        }
        let m = DeviceMapping {
            source,
            target,
            permissions,
        };
        if let Some(pos) = out.iter().position(|x| x.target == m.target) {
            out[pos] = m;
        } else {
            out.push(m);
        }
    }
    Ok(out)
}

/// `gpus` (`capabilities` implied) or `deploy.resources.*.devices` (which
/// must name their `capabilities`).
fn device_requests(
    node: &Node,
    path: &str,
    capabilities_required: bool,
) -> Result<Vec<DeviceRequest>, LoadError> {
    if let Some("all") = text(node) {
        return Ok(vec![DeviceRequest {
            count: Some(-1),
            ..DeviceRequest::default()
        }]);
    }
    let mut out = Vec::new();
    for (i, d) in items(node, path, "device requests")?.iter().enumerate() {
        let p = format!("{path}[{i}]");
        check_keys(
            d,
            &p,
            &["capabilities", "driver", "count", "device_ids", "options"],
        )?;
        let count = match field(d, "count") {
            None => None,
            Some(c) if text(c) == Some("all") => Some(-1),
            Some(c) => Some(integer::<i64>(
                c,
                &join(&p, "count"),
                "a number of devices or \"all\"",
            )?),
        };
        if let (Some(_), Some(ids)) = (count, field(d, "device_ids")) {
            return Err(bad(
                &ids.loc,
                &join(&p, "device_ids"),
                "count and device_ids cannot be set together: keep one of them",
            ));
        }
        if capabilities_required && field(d, "capabilities").is_none() {
            return Err(bad(
                &d.loc,
                &p,
                "capabilities is required: name what the devices are for, like [gpu]",
            ));
        }
        let device_ids = opt_list(d, "device_ids", &p)?;
        // Neither a count nor devices: all of them, as docker compose reads it.
        let count = match count {
            None if device_ids.is_empty() => Some(-1),
            other => other,
        };
        out.push(DeviceRequest {
            capabilities: opt_list(d, "capabilities", &p)?,
            driver: opt_string(d, "driver", &p)?,
            count,
            device_ids,
            options: opt_map(d, "options", &p)?,
        });
    }
    Ok(out)
}

fn resource(node: &Node, path: &str, allowed: &[&str]) -> Result<Resource, LoadError> {
    check_keys(node, path, allowed)?;
    let mut generic = Vec::new();
    if let Some(g) = field(node, "generic_resources") {
        let gp = join(path, "generic_resources");
        for (i, item) in items(g, &gp, "resources")?.iter().enumerate() {
            let p = format!("{gp}[{i}]");
            check_keys(item, &p, &["discrete_resource_spec"])?;
            if let Some(spec) = field(item, "discrete_resource_spec") {
                let sp = join(&p, "discrete_resource_spec");
                check_keys(spec, &sp, &["kind", "value"])?;
                generic.push(GenericResource {
                    kind: opt_string(spec, "kind", &sp)?.unwrap_or_default(),
                    value: opt_int(spec, "value", &sp, "an integer")?.unwrap_or(0),
                });
            }
        }
    }
    Ok(Resource {
        cpus: opt_cpus(node, "cpus", path)?,
        memory: opt_memory(node, "memory", path)?,
        pids: opt_int(node, "pids", path, "a number of processes")?,
        devices: field(node, "devices")
            .map(|d| device_requests(d, &join(path, "devices"), true))
            .transpose()?
            .unwrap_or_default(),
        generic_resources: generic,
    })
}

fn update_config(node: &Node, path: &str) -> Result<UpdateConfig, LoadError> {
    check_keys(
        node,
        path,
        &[
            "parallelism",
            "delay",
            "failure_action",
            "monitor",
            "max_failure_ratio",
            "order",
        ],
    )?;
    let ratio = match field(node, "max_failure_ratio") {
        Some(r) => {
            let p = join(path, "max_failure_ratio");
            let t = text(r).unwrap_or_default();
            Some(t.trim().parse::<f32>().map_err(|_| {
                bad(
                    &r.loc,
                    &p,
                    format!("must be a number, not {}", r.describe()),
                )
            })?)
        }
        None => None,
    };
    Ok(UpdateConfig {
        parallelism: opt_int(node, "parallelism", path, "a number")?,
        delay: opt_duration(node, "delay", path)?,
        failure_action: opt_string(node, "failure_action", path)?,
        monitor: opt_duration(node, "monitor", path)?,
        max_failure_ratio: ratio,
        order: opt_string(node, "order", path)?,
    })
}

/// `deploy`, in the shape of the specification.
pub fn deploy(d: &Node, path: &str) -> Result<Deploy, LoadError> {
    check_keys(d, path, keys::DEPLOY)?;
    let mut out = Deploy {
        mode: opt_string(d, "mode", path)?,
        replicas: opt_int(d, "replicas", path, "a number of containers")?,
        labels: opt_map(d, "labels", path)?,
        endpoint_mode: opt_string(d, "endpoint_mode", path)?,
        ..Deploy::default()
    };
    if let Some(m) = &out.mode {
        if !matches!(
            m.as_str(),
            "replicated" | "global" | "replicated-job" | "global-job"
        ) {
            let at = field(d, "mode").unwrap_or(d);
            return Err(bad(
                &at.loc,
                &join(path, "mode"),
                format!("unknown mode {m:?}: use replicated or global"),
            ));
        }
    }
    if let Some(u) = field(d, "update_config") {
        out.update_config = Some(update_config(u, &join(path, "update_config"))?);
    }
    if let Some(u) = field(d, "rollback_config") {
        out.rollback_config = Some(update_config(u, &join(path, "rollback_config"))?);
    }
    if let Some(r) = field(d, "resources") {
        let rp = join(path, "resources");
        check_keys(r, &rp, keys::RESOURCES)?;
        if let Some(l) = field(r, "limits") {
            out.resources.limits = Some(resource(l, &join(&rp, "limits"), keys::LIMITS)?);
        }
        if let Some(l) = field(r, "reservations") {
            out.resources.reservations =
                Some(resource(l, &join(&rp, "reservations"), keys::RESERVATIONS)?);
        }
    }
    if let Some(rp) = field(d, "restart_policy") {
        let p = join(path, "restart_policy");
        check_keys(rp, &p, keys::RESTART_POLICY)?;
        out.restart_policy = Some(RestartPolicy {
            condition: opt_string(rp, "condition", &p)?,
            delay: opt_duration(rp, "delay", &p)?,
            max_attempts: opt_int(rp, "max_attempts", &p, "a number")?,
            window: opt_duration(rp, "window", &p)?,
        });
    }
    if let Some(pl) = field(d, "placement") {
        let p = join(path, "placement");
        check_keys(
            pl,
            &p,
            &["constraints", "preferences", "max_replicas_per_node"],
        )?;
        let mut prefs = Vec::new();
        if let Some(pr) = field(pl, "preferences") {
            let pp = join(&p, "preferences");
            for (i, item) in items(pr, &pp, "preferences")?.iter().enumerate() {
                let ip = format!("{pp}[{i}]");
                check_keys(item, &ip, &["spread"])?;
                if let Some(s) = opt_string(item, "spread", &ip)? {
                    prefs.push(s);
                }
            }
        }
        out.placement = Placement {
            constraints: opt_list(pl, "constraints", &p)?,
            preferences: prefs,
            max_replicas_per_node: opt_int(pl, "max_replicas_per_node", &p, "a number")?,
        };
    }
    Ok(out)
}

fn hook(node: &Node, path: &str, ctx: &Context) -> Result<ServiceHook, LoadError> {
    check_keys(
        node,
        path,
        &[
            "command",
            "user",
            "privileged",
            "working_dir",
            "environment",
        ],
    )?;
    let command = match field(node, "command") {
        Some(c) => string_list(c, &join(path, "command"))?,
        None => return Err(bad(&node.loc, path, "command is required")),
    };
    let mut environment = BTreeMap::new();
    if let Some(e) = field(node, "environment") {
        let ep = join(path, "environment");
        for entry in entries(e, &ep)? {
            if entry.value.is_null() {
                if let Some(v) = ctx.env.get(&entry.key) {
                    environment.insert(entry.key.clone(), v.clone());
                }
            } else {
                environment.insert(
                    entry.key.clone(),
                    string(&entry.value, &join(&ep, &entry.key))?,
                );
            }
        }
    }
    Ok(ServiceHook {
        command,
        user: opt_string(node, "user", path)?,
        privileged: bool_or(node, "privileged", path)?,
        working_dir: opt_string(node, "working_dir", path)?,
        environment,
    })
}

fn hooks(node: &Node, path: &str, ctx: &Context) -> Result<Vec<ServiceHook>, LoadError> {
    items(node, path, "hooks")?
        .iter()
        .enumerate()
        .map(|(i, h)| hook(h, &format!("{path}[{i}]"), ctx))
        .collect()
}

fn develop(node: &Node, path: &str, ctx: &mut Context) -> Result<Develop, LoadError> {
    check_keys(node, path, &["watch"])?;
    let mut watch = Vec::new();
    if let Some(w) = field(node, "watch") {
        let wp = join(path, "watch");
        for (i, rule) in items(w, &wp, "watch rules")?.iter().enumerate() {
            let p = format!("{wp}[{i}]");
            check_keys(
                rule,
                &p,
                &[
                    "path",
                    "action",
                    "target",
                    "ignore",
                    "include",
                    "exec",
                    "initial_sync",
                ],
            )?;
            let raw = match field(rule, "path") {
                Some(x) => string(x, &join(&p, "path"))?,
                None => return Err(bad(&rule.loc, &p, "path is required")),
            };
            let action =
                match field(rule, "action") {
                    Some(a) => string(a, &join(&p, "action"))?,
                    None => return Err(bad(
                        &rule.loc,
                        &p,
                        "action is required (sync, rebuild, restart, sync+restart or sync+exec)",
                    )),
                };
            if !matches!(
                action.as_str(),
                "sync" | "rebuild" | "restart" | "sync+restart" | "sync+exec"
            ) {
                let at = field(rule, "action").unwrap_or(rule);
                return Err(bad(
                    &at.loc,
                    &join(&p, "action"),
                    format!("unknown action {action:?}: use sync, rebuild, restart, sync+restart or sync+exec"),
                ));
            }
            let at = field(rule, "path").unwrap_or(rule);
            watch.push(WatchRule {
                path: host_path(&raw, at, &join(&p, "path"), ctx)?,
                action,
                target: opt_string(rule, "target", &p)?,
                ignore: opt_list(rule, "ignore", &p)?,
                include: opt_list(rule, "include", &p)?,
                exec: field(rule, "exec")
                    .map(|e| hook(e, &join(&p, "exec"), ctx))
                    .transpose()?,
                initial_sync: bool_or(rule, "initial_sync", &p)?,
            });
        }
    }
    Ok(Develop { watch })
}

fn logging(node: &Node, path: &str) -> Result<Logging, LoadError> {
    check_keys(node, path, &["driver", "options"])?;
    Ok(Logging {
        driver: opt_string(node, "driver", path)?,
        options: opt_map(node, "options", path)?,
    })
}

fn blkio(node: &Node, path: &str) -> Result<BlkioConfig, LoadError> {
    check_keys(
        node,
        path,
        &[
            "weight",
            "weight_device",
            "device_read_bps",
            "device_read_iops",
            "device_write_bps",
            "device_write_iops",
        ],
    )?;
    let throttle = |key: &str, rate_is_size: bool| -> Result<Vec<ThrottleDevice>, LoadError> {
        let Some(list) = field(node, key) else {
            return Ok(Vec::new());
        };
        let lp = join(path, key);
        let mut out = Vec::new();
        for (i, item) in items(list, &lp, "devices")?.iter().enumerate() {
            let p = format!("{lp}[{i}]");
            check_keys(item, &p, &["path", "rate"])?;
            let rate = match field(item, "rate") {
                Some(r) if rate_is_size => memory(r, &join(&p, "rate"))?,
                Some(r) => integer(r, &join(&p, "rate"), "a number of operations per second")?,
                None => return Err(bad(&item.loc, &p, "rate is required")),
            };
            out.push(ThrottleDevice {
                path: opt_string(item, "path", &p)?
                    .ok_or_else(|| bad(&item.loc, &p, "path is required"))?,
                rate,
            });
        }
        Ok(out)
    };
    let mut weight_device = Vec::new();
    if let Some(list) = field(node, "weight_device") {
        let lp = join(path, "weight_device");
        for (i, item) in items(list, &lp, "devices")?.iter().enumerate() {
            let p = format!("{lp}[{i}]");
            check_keys(item, &p, &["path", "weight"])?;
            weight_device.push(WeightDevice {
                path: opt_string(item, "path", &p)?
                    .ok_or_else(|| bad(&item.loc, &p, "path is required"))?,
                weight: opt_int(item, "weight", &p, "a weight from 10 to 1000")?
                    .ok_or_else(|| bad(&item.loc, &p, "weight is required"))?,
            });
        }
    }
    Ok(BlkioConfig {
        weight: opt_int(node, "weight", path, "a weight from 10 to 1000")?,
        weight_device,
        device_read_bps: throttle("device_read_bps", true)?,
        device_read_iops: throttle("device_read_iops", false)?,
        device_write_bps: throttle("device_write_bps", true)?,
        device_write_iops: throttle("device_write_iops", false)?,
    })
}

/// One of a fixed set of words.
fn one_of(n: &Node, key: &str, path: &str, allowed: &[&str]) -> Result<Option<String>, LoadError> {
    let v = opt_string(n, key, path)?;
    if let Some(x) = &v {
        if !allowed.contains(&x.as_str()) {
            let at = field(n, key).unwrap_or(n);
            return Err(bad(
                &at.loc,
                &join(path, key),
                format!("unknown value {x:?}: use {}", allowed.join(", ")),
            ));
        }
    }
    Ok(v)
}

/// The interval of `every_<interval>` as the Compose schema allows it: numbers
/// each with a unit w, d, h, m or s (`2d`, `1h30m`).
fn pull_interval(t: &str) -> bool {
    let mut digits = 0;
    for c in t.chars() {
        match c {
            '0'..='9' => digits += 1,
            'w' | 'd' | 'h' | 'm' | 's' if digits > 0 => digits = 0,
            _ => return false,
        }
    }
    !t.is_empty() && digits == 0
}

fn pull_policy(n: &Node, path: &str) -> Result<Option<String>, LoadError> {
    let v = opt_string(n, "pull_policy", path)?;
    if let Some(x) = &v {
        let ok = matches!(
            x.as_str(),
            "always"
                | "never"
                | "missing"
                | "if_not_present"
                | "build"
                | "daily"
                | "weekly"
                | "refresh"
        ) || x.strip_prefix("every_").is_some_and(pull_interval);
        if !ok {
            let at = field(n, "pull_policy").unwrap_or(n);
            return Err(bad(
                &at.loc,
                &join(path, "pull_policy"),
                format!("invalid pull policy {x:?}: use always, never, missing, build, daily, weekly or every_<duration>"),
            ));
        }
    }
    Ok(v)
}

/// A top-level `models` entry.
pub fn model(n: &Node, path: &str) -> Result<Model, LoadError> {
    check_keys(n, path, &["name", "model", "context_size", "runtime_flags"])?;
    let model = match field(n, "model") {
        Some(m) => string(m, &join(path, "model"))?,
        None => {
            return Err(bad(
                &n.loc,
                path,
                "model is required: the model to run, like ai/smollm2",
            ))
        }
    };
    Ok(Model {
        name: opt_string(n, "name", path)?,
        model,
        context_size: opt_int(n, "context_size", path, "a number of tokens")?,
        runtime_flags: opt_list(n, "runtime_flags", path)?,
        extensions: extensions(n),
    })
}

/// `services.*.models` (canonical: a mapping of model keys).
fn service_models(node: &Node, path: &str) -> Result<BTreeMap<String, ServiceModel>, LoadError> {
    let mut out = BTreeMap::new();
    for e in entries(node, path)? {
        let p = join(path, &e.key);
        let used = if e.value.is_null() {
            ServiceModel::default()
        } else {
            check_keys(&e.value, &p, &["endpoint_var", "model_var"])?;
            ServiceModel {
                endpoint_var: opt_string(&e.value, "endpoint_var", &p)?,
                model_var: opt_string(&e.value, "model_var", &p)?,
                as_mapping: true,
            }
        };
        out.insert(e.key.clone(), used);
    }
    Ok(out)
}

/// The service attributes read here, into `s`.
pub fn service_attributes(
    n: &Node,
    path: &str,
    s: &mut Service,
    ctx: &mut Context,
) -> Result<(), LoadError> {
    s.annotations = opt_map(n, "annotations", path)?;
    if let Some(m) = field(n, "models") {
        s.models = service_models(m, &join(path, "models"))?;
    }
    s.attach = opt_bool(n, "attach", path)?;
    if let Some(b) = field(n, "blkio_config") {
        s.blkio_config = Some(blkio(b, &join(path, "blkio_config"))?);
    }
    s.cap_add = opt_list(n, "cap_add", path)?;
    s.cap_drop = opt_list(n, "cap_drop", path)?;
    s.cgroup = one_of(n, "cgroup", path, &["host", "private"])?;
    s.cgroup_parent = opt_string(n, "cgroup_parent", path)?;
    if let Some(c) = field(n, "configs") {
        s.configs = file_refs(c, &join(path, "configs"), false)?;
    }
    s.cpu_count = opt_int(n, "cpu_count", path, "a number of CPUs")?;
    s.cpu_percent = match field(n, "cpu_percent") {
        Some(v) => {
            let p = join(path, "cpu_percent");
            let f: f32 = text(v).and_then(|t| t.trim().parse().ok()).ok_or_else(|| {
                bad(
                    &v.loc,
                    &p,
                    format!("must be a percentage, not {}", v.describe()),
                )
            })?;
            if !(0.0..=100.0).contains(&f) {
                return Err(bad(
                    &v.loc,
                    &p,
                    format!("must be between 0 and 100, not {f}"),
                ));
            }
            Some(f)
        }
        None => None,
    };
    s.cpu_period = opt_int(n, "cpu_period", path, "a number of microseconds")?;
    s.cpu_quota = opt_int(n, "cpu_quota", path, "a number of microseconds")?;
    s.cpu_rt_period = opt_int(n, "cpu_rt_period", path, "a number of microseconds")?;
    s.cpu_rt_runtime = opt_int(n, "cpu_rt_runtime", path, "a number of microseconds")?;
    s.cpu_shares = opt_int(n, "cpu_shares", path, "a relative weight")?;
    s.cpus = opt_cpus(n, "cpus", path)?;
    s.cpuset = opt_string(n, "cpuset", path)?;
    if let Some(c) = field(n, "credential_spec") {
        let p = join(path, "credential_spec");
        check_keys(c, &p, &["config", "file", "registry"])?;
        s.credential_spec = Some(CredentialSpec {
            config: opt_string(c, "config", &p)?,
            file: opt_string(c, "file", &p)?,
            registry: opt_string(c, "registry", &p)?,
        });
    }
    if let Some(d) = field(n, "deploy") {
        s.deploy = Some(deploy(d, &join(path, "deploy"))?);
    }
    if let Some(d) = field(n, "develop") {
        s.develop = Some(develop(d, &join(path, "develop"), ctx)?);
    }
    s.device_cgroup_rules = opt_list(n, "device_cgroup_rules", path)?;
    if let Some(d) = field(n, "devices") {
        s.devices = devices(d, &join(path, "devices"))?;
    }
    s.dns = opt_list(n, "dns", path)?;
    s.dns_opt = opt_list(n, "dns_opt", path)?;
    s.dns_search = opt_list(n, "dns_search", path)?;
    s.domainname = opt_string(n, "domainname", path)?;
    s.expose = opt_list(n, "expose", path)?;
    for (i, e) in s.expose.iter().enumerate() {
        let port = e.split_once('/').map_or(e.as_str(), |(p, _)| p);
        let ok = match port.split_once('-') {
            Some((a, b)) => a.parse::<u16>().is_ok() && b.parse::<u16>().is_ok(),
            None => port.parse::<u16>().is_ok(),
        };
        if !ok {
            let at = field(n, "expose").unwrap_or(n);
            return Err(bad(
                &at.loc,
                &format!("{path}.expose[{i}]"),
                format!("invalid port {e:?}: write a port (80), a range (8000-8010), optionally with /tcp or /udp"),
            ));
        }
    }
    s.external_links = opt_list(n, "external_links", path)?;
    if let Some(h) = field(n, "extra_hosts") {
        s.extra_hosts = extra_hosts(h, &join(path, "extra_hosts"))?;
    }
    if let Some(g) = field(n, "gpus") {
        s.gpus = device_requests(g, &join(path, "gpus"), false)?;
    }
    s.group_add = opt_list(n, "group_add", path)?;
    s.init = opt_bool(n, "init", path)?;
    s.ipc = opt_string(n, "ipc", path)?;
    s.isolation = opt_string(n, "isolation", path)?;
    s.links = opt_list(n, "links", path)?;
    if let Some(l) = field(n, "logging") {
        s.logging = Some(logging(l, &join(path, "logging"))?);
    }
    s.mac_address = opt_string(n, "mac_address", path)?;
    s.mem_limit = opt_memory(n, "mem_limit", path)?;
    s.mem_reservation = opt_memory(n, "mem_reservation", path)?;
    s.mem_swappiness = opt_int(n, "mem_swappiness", path, "a number from 0 to 100")?;
    if let Some(sw) = s.mem_swappiness {
        if !(0..=100).contains(&sw) {
            let at = field(n, "mem_swappiness").unwrap_or(n);
            return Err(bad(
                &at.loc,
                &join(path, "mem_swappiness"),
                format!("must be a number from 0 to 100, not {sw}"),
            ));
        }
    }
    s.memswap_limit = opt_signed_memory(n, "memswap_limit", path)?;
    s.oom_kill_disable = bool_or(n, "oom_kill_disable", path)?;
    s.oom_score_adj = opt_int(n, "oom_score_adj", path, "a number from -1000 to 1000")?;
    if let Some(o) = s.oom_score_adj {
        if !(-1000..=1000).contains(&o) {
            let at = field(n, "oom_score_adj").unwrap_or(n);
            return Err(bad(
                &at.loc,
                &join(path, "oom_score_adj"),
                format!("must be a number from -1000 to 1000, not {o}"),
            ));
        }
    }
    s.pid = opt_string(n, "pid", path)?;
    s.pids_limit = opt_int(n, "pids_limit", path, "a number of processes")?;
    s.platform = opt_string(n, "platform", path)?;
    if let Some(h) = field(n, "post_start") {
        s.post_start = hooks(h, &join(path, "post_start"), ctx)?;
    }
    if let Some(h) = field(n, "pre_stop") {
        s.pre_stop = hooks(h, &join(path, "pre_stop"), ctx)?;
    }
    s.privileged = bool_or(n, "privileged", path)?;
    s.pull_policy = pull_policy(n, path)?;
    s.read_only = bool_or(n, "read_only", path)?;
    s.runtime = opt_string(n, "runtime", path)?;
    s.scale = opt_int(n, "scale", path, "a number of containers")?;
    if let Some(c) = field(n, "secrets") {
        s.secrets = file_refs(c, &join(path, "secrets"), true)?;
    }
    s.security_opt = opt_list(n, "security_opt", path)?;
    s.shm_size = opt_memory(n, "shm_size", path)?;
    s.stdin_open = bool_or(n, "stdin_open", path)?;
    s.storage_opt = opt_map(n, "storage_opt", path)?;
    s.sysctls = opt_map(n, "sysctls", path)?;
    s.tmpfs = opt_list(n, "tmpfs", path)?;
    for (i, t) in s.tmpfs.iter().enumerate() {
        if !t.starts_with('/') {
            let at = field(n, "tmpfs").unwrap_or(n);
            return Err(bad(
                &at.loc,
                &format!("{path}.tmpfs[{i}]"),
                format!("the tmpfs target {t:?} must be an absolute path in the container"),
            ));
        }
    }
    s.tty = bool_or(n, "tty", path)?;
    if let Some(u) = field(n, "ulimits") {
        s.ulimits = ulimits(u, &join(path, "ulimits"))?;
    }
    s.use_api_socket = bool_or(n, "use_api_socket", path)?;
    s.userns_mode = opt_string(n, "userns_mode", path)?;
    s.uts = opt_string(n, "uts", path)?;
    s.volumes_from = opt_list(n, "volumes_from", path)?;
    s.extensions = extensions(n);
    Ok(())
}

/// The build attributes beyond context, dockerfile, args and target.
pub fn build_attributes(b: &Node, path: &str, out: &mut Build) -> Result<(), LoadError> {
    out.dockerfile_inline = opt_string(b, "dockerfile_inline", path)?;
    out.entitlements = opt_list(b, "entitlements", path)?;
    out.provenance = field(b, "provenance")
        .map(|v| {
            text(v).map(str::to_string).ok_or_else(|| {
                bad(
                    &v.loc,
                    &join(path, "provenance"),
                    format!("must be a string or a boolean, not {}", v.describe()),
                )
            })
        })
        .transpose()?;
    out.sbom = field(b, "sbom")
        .map(|v| {
            text(v).map(str::to_string).ok_or_else(|| {
                bad(
                    &v.loc,
                    &join(path, "sbom"),
                    format!("must be a string or a boolean, not {}", v.describe()),
                )
            })
        })
        .transpose()?;
    out.ssh = opt_list(b, "ssh", path)?;
    out.labels = opt_map(b, "labels", path)?;
    out.cache_from = opt_list(b, "cache_from", path)?;
    out.cache_to = opt_list(b, "cache_to", path)?;
    out.no_cache = bool_or(b, "no_cache", path)?;
    out.additional_contexts = opt_map(b, "additional_contexts", path)?;
    out.pull = bool_or(b, "pull", path)?;
    if let Some(h) = field(b, "extra_hosts") {
        out.extra_hosts = extra_hosts(h, &join(path, "extra_hosts"))?;
    }
    out.isolation = opt_string(b, "isolation", path)?;
    out.network = opt_string(b, "network", path)?;
    if let Some(c) = field(b, "secrets") {
        out.secrets = file_refs(c, &join(path, "secrets"), false)?;
    }
    out.shm_size = opt_memory(b, "shm_size", path)?;
    out.tags = opt_list(b, "tags", path)?;
    if let Some(u) = field(b, "ulimits") {
        out.ulimits = ulimits(u, &join(path, "ulimits"))?;
    }
    out.platforms = opt_list(b, "platforms", path)?;
    out.privileged = bool_or(b, "privileged", path)?;
    Ok(())
}

/// A top-level secret or config.
pub fn file_object(
    key: &str,
    n: &Node,
    path: &str,
    is_secret: bool,
    ctx: &mut Context,
) -> Result<FileObject, LoadError> {
    check_keys(
        n,
        path,
        &[
            "name",
            "file",
            "environment",
            "content",
            "external",
            "labels",
            "driver",
            "driver_opts",
            "template_driver",
        ],
    )?;
    let (external, external_name) = external(n, path)?;
    let file = match field(n, "file") {
        Some(f) => {
            let raw = string(f, &join(path, "file"))?;
            Some(host_path(&raw, f, &join(path, "file"), ctx)?)
        }
        None => None,
    };
    let environment = opt_string(n, "environment", path)?;
    let content = opt_string(n, "content", path)?;
    let sources = [
        file.is_some(),
        environment.is_some(),
        content.is_some(),
        external,
    ]
    .iter()
    .filter(|x| **x)
    .count();
    let what = if is_secret { "secret" } else { "config" };
    if sources == 0 && field(n, "driver").is_none() {
        return Err(bad(
            &n.loc,
            path,
            format!("the {what} {key:?} needs one of file, environment, content or external: true"),
        ));
    }
    if sources > 1 {
        return Err(bad(
            &n.loc,
            path,
            format!("the {what} {key:?} sets more than one of file, environment, content and external: keep one"),
        ));
    }
    let name = match opt_string(n, "name", path)? {
        Some(name) => name,
        None if external => external_name.unwrap_or_else(|| key.to_string()),
        None => format!("{}_{}", ctx.project_name, key),
    };
    let environment_value = environment.as_ref().and_then(|v| ctx.env.get(v).cloned());
    Ok(FileObject {
        name,
        file,
        environment,
        environment_value,
        content,
        external,
        labels: opt_map(n, "labels", path)?,
        driver: opt_string(n, "driver", path)?,
        driver_opts: opt_map(n, "driver_opts", path)?,
        template_driver: opt_string(n, "template_driver", path)?,
        extensions: extensions(n),
    })
}

/// Mount options of one long-syntax `volumes` entry.
pub fn mount_options(v: &Node, vpath: &str, m: &mut ServiceVolume) -> Result<(), LoadError> {
    m.consistency = opt_string(v, "consistency", vpath)?;
    if let Some(b) = field(v, "bind") {
        let p = join(vpath, "bind");
        check_keys(
            b,
            &p,
            &["propagation", "create_host_path", "selinux", "recursive"],
        )?;
        m.bind = Some(BindOptions {
            propagation: one_of(
                b,
                "propagation",
                &p,
                &[
                    "private", "rprivate", "shared", "rshared", "slave", "rslave",
                ],
            )?,
            create_host_path: bool_or(b, "create_host_path", &p)?,
            selinux: one_of(b, "selinux", &p, &["z", "Z"])?,
            recursive: one_of(
                b,
                "recursive",
                &p,
                &["enabled", "disabled", "writable", "readonly"],
            )?,
        });
    } else if v.get("bind").is_some() {
        m.bind = Some(BindOptions::default());
    }
    if let Some(x) = v.get("volume") {
        let p = join(vpath, "volume");
        if x.is_null() {
            m.volume = Some(VolumeOptions::default());
        } else {
            check_keys(x, &p, &["labels", "nocopy", "subpath"])?;
            m.volume = Some(VolumeOptions {
                labels: opt_map(x, "labels", &p)?,
                nocopy: bool_or(x, "nocopy", &p)?,
                subpath: opt_string(x, "subpath", &p)?,
            });
        }
    }
    if let Some(t) = field(v, "tmpfs") {
        let p = join(vpath, "tmpfs");
        check_keys(t, &p, &["size", "mode"])?;
        m.tmpfs = Some(TmpfsOptions {
            size: opt_memory(t, "size", &p)?,
            mode: opt_mode(t, "mode", &p)?,
        });
    }
    // Options of another mount type load and print as docker compose's
    // `config` keeps them; `up` refuses them (the orchestrator's validation).
    Ok(())
}
