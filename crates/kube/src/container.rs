//! A service's main container: image, command, environment, user, security
//! context, resources, ports, hooks. Volume mounts come from [`crate::storage`]
//! and probes from [`crate::probes`].
//!
//! `entrypoint` becomes `command` and `command` becomes `args`, which is how
//! Kubernetes combines them with the image's ENTRYPOINT and CMD, as docker
//! does. The loader has already split a string `command` as a POSIX shell
//! would. Kubernetes expands `$(NAME)` in `command`, `args` and `env` values
//! and reads `$$` as `$`, so a `$` before `$`, or before `(NAME)` where NAME
//! could name a variable, is written doubled: the container gets the value
//! Compose would give it. Any other `$` (`$HOME`, `${X}`, the shell's
//! `$((i+1))`, which Kubernetes leaves as it is since no variable is named
//! `(i+1`) is left single, so consumers that expand nothing (`podman kube
//! play`) run the same command.

use crate::error::KubeError;
use crate::Ctx;
use serde_json::{json, Map, Value};
use wharf_compose::Service;

/// `s` with each `$` that Kubernetes would read as the start of `$$` or of
/// a reference `$(NAME)` to a variable doubled, so Kubernetes expands nothing.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for (i, c) in s.char_indices() {
        out.push(c);
        let rest = &s[i + c.len_utf8()..];
        if c == '$' && (rest.starts_with('$') || starts_with_reference(rest)) {
            out.push('$');
        }
    }
    out
}

/// Whether `rest` starts with `(NAME)` where NAME is a valid environment
/// variable name (the only names a container's variables, and the Services'
/// variables Kubernetes adds, can have).
fn starts_with_reference(rest: &str) -> bool {
    let Some(inner) = rest.strip_prefix('(') else {
        return false;
    };
    let Some((name, _)) = inner.split_once(')') else {
        return false;
    };
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '-' | '.'))
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

fn escaped(list: &[String]) -> Value {
    json!(list.iter().map(|s| escape(s)).collect::<Vec<_>>())
}

/// Bytes as a Kubernetes quantity (`64Mi`, `1Gi`, or plain bytes).
pub fn bytes_quantity(b: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "Ti"),
        (1 << 30, "Gi"),
        (1 << 20, "Mi"),
        (1 << 10, "Ki"),
    ];
    for (size, unit) in UNITS {
        if b >= size && b.is_multiple_of(size) {
            return format!("{}{unit}", b / size);
        }
    }
    b.to_string()
}

/// Billionths of a CPU as a quantity (`500m`, `2`), rounded up to a millicore.
pub fn cpu_quantity(nano: u64) -> String {
    let milli = nano.div_ceil(1_000_000);
    if milli.is_multiple_of(1000) {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

/// Whether Kubernetes 1.30 accepts `name` as an environment variable name.
fn is_env_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '-' || c == '.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The container of `service`, without mounts and probes.
pub fn container(ctx: &mut Ctx, s: &Service) -> Result<Map<String, Value>, KubeError> {
    let path = format!("services.{}", s.name);
    let mut c = Map::new();
    c.insert("name".into(), json!(ctx.name_of(&s.name)));
    let image = match (&s.image, &s.build) {
        (Some(image), _) => image.clone(),
        (None, Some(_)) => {
            let image = format!("{}-{}", ctx.project.name, s.name);
            ctx.report.add(
                format!("{path}.build"),
                format!("a cluster does not build images: build and push it as {image:?}, or set `image` (image {image:?} written)"),
            );
            image
        }
        (None, None) => {
            return Err(KubeError::invalid(
                format!("{path}.image"),
                "a service needs an image in Kubernetes: set `image`",
            ))
        }
    };
    if s.image.is_some() && s.build.is_some() {
        ctx.report.add(
            format!("{path}.build"),
            "a cluster does not build images: push the built image as `image` (dropped)",
        );
    }
    c.insert("image".into(), json!(image));
    if let Some(policy) = &s.pull_policy {
        let k8s = match policy.as_str() {
            "always" => Some("Always"),
            "never" => Some("Never"),
            "missing" | "if_not_present" => Some("IfNotPresent"),
            _ => None,
        };
        match k8s {
            Some(p) => {
                c.insert("imagePullPolicy".into(), json!(p));
            }
            None => ctx.report.add(
                format!("{path}.pull_policy"),
                format!("{policy:?} has no Kubernetes equivalent (dropped)"),
            ),
        }
    }
    if let Some(entrypoint) = &s.entrypoint {
        c.insert("command".into(), escaped(entrypoint));
    }
    if let Some(command) = &s.command {
        c.insert("args".into(), escaped(command));
    }
    if !s.environment.is_empty() {
        let mut env = Vec::new();
        for (k, v) in &s.environment {
            if !is_env_name(k) {
                return Err(KubeError::invalid(
                    format!("{path}.environment.{k}"),
                    "Kubernetes rejects this variable name (letters, digits, `_`, `-`, `.`, not starting with a digit)",
                ));
            }
            env.push(json!({"name": k, "value": escape(v)}));
        }
        c.insert("env".into(), Value::Array(env));
    }
    if let Some(dir) = &s.working_dir {
        c.insert("workingDir".into(), json!(dir));
    }
    let ports = container_ports(s);
    if !ports.is_empty() {
        c.insert("ports".into(), Value::Array(ports));
    }
    let security = security_context(ctx, s, &path);
    if !security.is_empty() {
        c.insert("securityContext".into(), Value::Object(security));
    }
    let resources = resources(ctx, s, &path)?;
    if !resources.is_empty() {
        c.insert("resources".into(), Value::Object(resources));
    }
    let lifecycle = lifecycle(ctx, s, &path);
    if !lifecycle.is_empty() {
        c.insert("lifecycle".into(), Value::Object(lifecycle));
    }
    if s.tty {
        c.insert("tty".into(), json!(true));
    }
    if s.stdin_open {
        c.insert("stdin".into(), json!(true));
    }
    Ok(c)
}

/// The container's ports: every `ports` target and `expose` entry.
fn container_ports(s: &Service) -> Vec<Value> {
    let mut seen = std::collections::BTreeSet::new();
    crate::network::service_ports(s)
        .into_iter()
        .filter(|(port, proto)| seen.insert((*port, proto.clone())))
        .map(|(port, proto)| json!({"containerPort": port, "protocol": proto}))
        .collect()
}

fn security_context(ctx: &mut Ctx, s: &Service, path: &str) -> Map<String, Value> {
    let mut sc = Map::new();
    if let Some(user) = &s.user {
        let (u, g) = match user.split_once(':') {
            Some((u, g)) => (u, Some(g)),
            None => (user.as_str(), None),
        };
        match u.parse::<u32>() {
            Ok(uid) => {
                sc.insert("runAsUser".into(), json!(uid));
            }
            Err(_) => ctx.report.add(
                format!("{path}.user"),
                format!("user name {u:?}: runAsUser takes a number, so the image's user applies (dropped)"),
            ),
        }
        if let Some(g) = g {
            match g.parse::<u32>() {
                Ok(gid) => {
                    sc.insert("runAsGroup".into(), json!(gid));
                }
                Err(_) => ctx.report.add(
                    format!("{path}.user"),
                    format!("group name {g:?}: runAsGroup takes a number (dropped)"),
                ),
            }
        }
    }
    let strip = |c: &String| c.strip_prefix("CAP_").unwrap_or(c).to_string();
    let mut caps = Map::new();
    if !s.cap_add.is_empty() {
        caps.insert(
            "add".into(),
            json!(s.cap_add.iter().map(strip).collect::<Vec<_>>()),
        );
    }
    if !s.cap_drop.is_empty() {
        caps.insert(
            "drop".into(),
            json!(s.cap_drop.iter().map(strip).collect::<Vec<_>>()),
        );
    }
    if !caps.is_empty() {
        sc.insert("capabilities".into(), Value::Object(caps));
    }
    if s.privileged {
        sc.insert("privileged".into(), json!(true));
    }
    if s.read_only {
        sc.insert("readOnlyRootFilesystem".into(), json!(true));
    }
    for opt in &s.security_opt {
        match opt.as_str() {
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => {
                sc.insert("allowPrivilegeEscalation".into(), json!(false));
            }
            "seccomp:unconfined" | "seccomp=unconfined" => {
                sc.insert("seccompProfile".into(), json!({"type": "Unconfined"}));
            }
            "apparmor:unconfined" | "apparmor=unconfined" => {
                sc.insert("appArmorProfile".into(), json!({"type": "Unconfined"}));
            }
            other => ctx.report.add(
                format!("{path}.security_opt"),
                format!("{other:?} has no equivalent in a container securityContext (dropped)"),
            ),
        }
    }
    sc
}

fn resources(ctx: &mut Ctx, s: &Service, path: &str) -> Result<Map<String, Value>, KubeError> {
    let deploy = format!("{path}.deploy.resources");
    let quantities = |l: &wharf_compose::ResourceLimits| {
        let mut m = Map::new();
        if let Some(n) = l.nano_cpus.filter(|n| *n > 0) {
            m.insert("cpu".into(), json!(cpu_quantity(n)));
        }
        if let Some(b) = l.memory_bytes.filter(|b| *b > 0) {
            m.insert("memory".into(), json!(bytes_quantity(b)));
        }
        m
    };
    let (limits, requests) = (quantities(&s.limits), quantities(&s.reservations));
    for (what, limit, request) in [
        ("cpus", s.limits.nano_cpus, s.reservations.nano_cpus),
        ("memory", s.limits.memory_bytes, s.reservations.memory_bytes),
    ] {
        if let (Some(l), Some(r)) = (limit.filter(|l| *l > 0), request) {
            if r > l {
                return Err(KubeError::invalid(
                    format!("{deploy}.reservations.{what}"),
                    "is larger than the limit: Kubernetes rejects a request above its limit",
                ));
            }
        }
    }
    if s.limits.pids.is_some() {
        let key = if s.pids_limit.is_some() {
            format!("{path}.pids_limit")
        } else {
            format!("{deploy}.limits.pids")
        };
        ctx.report.add(
            key,
            "Kubernetes limits pids per node, not per container (dropped)",
        );
    }
    if let Some(d) = &s.deploy {
        for (which, r) in [
            ("limits", &d.resources.limits),
            ("reservations", &d.resources.reservations),
        ] {
            let Some(r) = r else { continue };
            if !r.devices.is_empty() {
                ctx.report.add(
                    format!("{deploy}.{which}.devices"),
                    "devices need a device plugin and its resource name (dropped)",
                );
            }
            if !r.generic_resources.is_empty() {
                ctx.report.add(
                    format!("{deploy}.{which}.generic_resources"),
                    "swarm generic resources have no equivalent (dropped)",
                );
            }
            if which == "reservations" && r.pids.is_some() {
                ctx.report.add(
                    format!("{deploy}.reservations.pids"),
                    "there is no pid request in Kubernetes (dropped)",
                );
            }
        }
    }
    let mut m = Map::new();
    if !limits.is_empty() {
        m.insert("limits".into(), Value::Object(limits));
    }
    if !requests.is_empty() {
        m.insert("requests".into(), Value::Object(requests));
    }
    Ok(m)
}

/// `post_start` and `pre_stop`: a container has one hook of each.
fn lifecycle(ctx: &mut Ctx, s: &Service, path: &str) -> Map<String, Value> {
    let mut m = Map::new();
    for (key, k8s, hooks) in [
        ("post_start", "postStart", &s.post_start),
        ("pre_stop", "preStop", &s.pre_stop),
    ] {
        let Some(first) = hooks.first() else { continue };
        m.insert(
            k8s.into(),
            json!({"exec": {"command": escaped(&first.command)}}),
        );
        if hooks.len() > 1 {
            ctx.report.add(format!("{path}.{key}"), "a container has one hook of each kind: only the first is kept (the others dropped)");
        }
        if first.user.is_some()
            || first.privileged
            || first.working_dir.is_some()
            || !first.environment.is_empty()
        {
            ctx.report.add(format!("{path}.{key}[0]"), "user, privileged, working_dir and environment of a hook have no equivalent (dropped; the hook runs as the container does)");
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities() {
        assert_eq!(bytes_quantity(64 << 20), "64Mi");
        assert_eq!(bytes_quantity(1 << 30), "1Gi");
        assert_eq!(bytes_quantity(1536 << 10), "1536Ki");
        assert_eq!(bytes_quantity(1000), "1000");
        assert_eq!(cpu_quantity(500_000_000), "500m");
        assert_eq!(cpu_quantity(2_000_000_000), "2");
        assert_eq!(cpu_quantity(1), "1m");
    }

    #[test]
    fn only_dollars_kubernetes_would_expand_are_doubled() {
        assert_eq!(escape("echo $HOME ${X} $(id)"), "echo $HOME ${X} $$(id)");
        // Kubernetes reads `$$$` as `$$`: `$$` → `$`, a last `$` as it is.
        assert_eq!(escape("$$"), "$$$");
        assert_eq!(escape("$$(x)"), "$$$$(x)");
        assert_eq!(escape("5$"), "5$");
        // No variable is named `(i+1`: Kubernetes leaves the shell's
        // arithmetic as it is, and so does the converter.
        assert_eq!(escape("i=$((i+1))"), "i=$((i+1))");
        assert_eq!(escape("$(unclosed"), "$(unclosed");
        assert_eq!(escape("$(DB_HOST) $(a.b-c)"), "$$(DB_HOST) $$(a.b-c)");
    }
}
