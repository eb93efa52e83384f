//! Canonicalize stage (syntax): rewrites the short forms of one file's tree
//! into the long forms, so that merging and typing see one shape per key.
//!
//! Runs on each file after interpolation and before merge (merging `volumes`
//! by target or `environment` by key needs the long form). The rules are a
//! table keyed by YAML path pattern (`services.*.ports`); values keep their
//! positions and tags.

use crate::error::{LoadError, LoadErrorKind, Location};
use crate::syntax;
use crate::yaml::{Entry, Node, ScalarKind, Value};

/// A rewrite of the node at a path; some also report what they ignored.
#[derive(Clone, Copy)]
enum Rule {
    Plain(fn(&mut Node, &str) -> Result<(), LoadError>),
    Warns(fn(&mut Node, &str, &mut Vec<String>) -> Result<(), LoadError>),
}
use Rule::{Plain, Warns};

/// Short form → long form, by path. Parents run before children.
const RULES: &[(&str, Rule)] = &[
    ("services.*", Plain(mapping_or_empty)),
    ("networks.*", Plain(mapping_or_empty)),
    ("volumes.*", Plain(mapping_or_empty)),
    ("services.*.command", Plain(command)),
    ("services.*.entrypoint", Plain(command)),
    ("services.*.environment", Plain(env_map)),
    ("services.*.build", Plain(build)),
    ("services.*.build.args", Plain(env_map)),
    ("services.*.build.labels", Plain(label_map)),
    ("services.*.labels", Plain(label_map)),
    ("services.*.deploy.labels", Plain(label_map)),
    ("networks.*.labels", Plain(label_map)),
    ("volumes.*.labels", Plain(label_map)),
    ("services.*.env_file", Plain(env_file)),
    ("services.*.ports", Plain(ports)),
    ("services.*.volumes", Warns(volumes)),
    ("services.*.depends_on", Plain(depends_on)),
    ("services.*.networks", Plain(service_networks)),
    ("services.*.models", Plain(service_models)),
    ("services.*.dns", Plain(string_or_list)),
    ("services.*.dns_search", Plain(string_or_list)),
    ("services.*.tmpfs", Plain(string_or_list)),
    ("services.*.expose", Plain(string_or_list)),
    ("services.*.healthcheck.test", Plain(healthcheck_test)),
    ("secrets.*", Plain(mapping_or_empty)),
    ("configs.*", Plain(mapping_or_empty)),
    ("include", Plain(include)),
    ("services.*.extends", Plain(extends)),
    ("services.*.annotations", Plain(label_map)),
    ("services.*.sysctls", Plain(label_map)),
    ("services.*.extra_hosts", Plain(extra_hosts)),
    ("services.*.build.extra_hosts", Plain(extra_hosts)),
    ("services.*.devices", Plain(devices)),
    ("services.*.secrets", Plain(secret_refs)),
    ("services.*.configs", Plain(file_refs)),
    ("services.*.build.secrets", Plain(file_refs)),
    ("services.*.build.cache_from", Plain(string_or_list)),
    ("services.*.build.cache_to", Plain(string_or_list)),
    ("services.*.build.tags", Plain(string_or_list)),
    ("services.*.build.platforms", Plain(string_or_list)),
    ("services.*.build.additional_contexts", Plain(label_map)),
    ("services.*.build.ssh", Plain(ssh)),
    ("services.*.dns_opt", Plain(string_or_list)),
    ("services.*.label_file", Plain(string_or_list)),
    ("services.*.post_start", Plain(hooks)),
    ("services.*.pre_stop", Plain(hooks)),
    ("services.*.develop.watch", Plain(watch)),
    ("services.*.networks.*.aliases", Plain(string_or_list)),
];

/// Rewrites `root` (one file's document) into long forms, adding to
/// `warnings` what docker compose accepts and ignores.
pub fn canonicalize(root: &mut Node, warnings: &mut Vec<String>) -> Result<(), LoadError> {
    walk(root, &mut Vec::new(), "", warnings)
}

/// Whether `pattern` names paths below `segs` (`services.*.ports` for
/// `services`, `services.web`, but not for `services.web.ports`).
fn leads_below(pattern: &str, segs: &[String]) -> bool {
    let mut parts = pattern.split('.');
    for s in segs {
        match parts.next() {
            Some(p) if p == "*" || p == s => {}
            _ => return false,
        }
    }
    parts.next().is_some()
}

/// Whether `pattern` (`services.*.ports`) matches the path segments.
pub fn matches(pattern: &str, segs: &[String]) -> bool {
    let mut n = 0;
    for (i, p) in pattern.split('.').enumerate() {
        match segs.get(i) {
            Some(s) if p == "*" || p == s => n += 1,
            _ => return false,
        }
    }
    n == segs.len()
}

/// `a.b` joined with `c`.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn walk(
    node: &mut Node,
    segs: &mut Vec<String>,
    path: &str,
    warnings: &mut Vec<String>,
) -> Result<(), LoadError> {
    for (pattern, rule) in RULES {
        if matches(pattern, segs) {
            match rule {
                Plain(rule) => rule(node, path)?,
                Warns(rule) => rule(node, path, warnings)?,
            }
        }
    }
    if let Value::Map(entries) = &mut node.value {
        // Only where a rule can apply further down: the values of `labels`
        // or `environment` (thousands, sometimes) are not walked.
        if !RULES.iter().any(|(pattern, _)| leads_below(pattern, segs)) {
            return Ok(());
        }
        for e in entries {
            segs.push(e.key.clone());
            let p = join(path, &e.key);
            walk(&mut e.value, segs, &p, warnings)?;
            segs.pop();
        }
    }
    Ok(())
}

/// A schema error at a node.
pub fn bad(loc: &Location, path: &str, msg: impl Into<String>) -> LoadError {
    LoadError::at(LoadErrorKind::Schema, loc.clone(), path, msg)
}

fn entry(key: impl Into<String>, value: Node) -> Entry {
    Entry {
        key: key.into(),
        key_loc: value.loc.clone(),
        value,
    }
}

fn scalar_text(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar(t, k) if *k != ScalarKind::Null => Some(t),
        _ => None,
    }
}

fn mapping_or_empty(node: &mut Node, path: &str) -> Result<(), LoadError> {
    match &node.value {
        Value::Map(_) => Ok(()),
        _ if node.is_null() => {
            node.value = Value::Map(Vec::new());
            Ok(())
        }
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be a mapping, not {}", node.describe()),
        )),
    }
}

fn command(node: &mut Node, path: &str) -> Result<(), LoadError> {
    match &mut node.value {
        Value::Scalar(_, ScalarKind::Null) => Ok(()),
        Value::Scalar(text, _) => {
            let words = syntax::shell_split(text).map_err(|e| bad(&node.loc, path, e))?;
            let loc = node.loc.clone();
            node.value = Value::Seq(
                words
                    .into_iter()
                    .map(|w| Node::str(w, loc.clone()))
                    .collect(),
            );
            Ok(())
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                to_string_scalar(item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Value::Map(_) => Err(bad(
            &node.loc,
            path,
            "must be a string or a list of strings, not a mapping",
        )),
    }
}

/// A non-null scalar becomes a string scalar; anything else is an error.
fn to_string_scalar(node: &mut Node, path: &str) -> Result<(), LoadError> {
    match &mut node.value {
        Value::Scalar(_, k) if *k != ScalarKind::Null => {
            *k = ScalarKind::Str;
            Ok(())
        }
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be a string, not {}", node.describe()),
        )),
    }
}

/// `[K=V, K]` or `{K: V}` → mapping; `K` alone → null (resolved later) or "" for labels.
fn list_or_map(node: &mut Node, path: &str, bare_value: Option<&str>) -> Result<(), LoadError> {
    match &mut node.value {
        Value::Seq(items) => {
            let mut entries: Vec<Entry> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let text = scalar_text(item).ok_or_else(|| {
                    bad(
                        &item.loc,
                        &format!("{path}[{i}]"),
                        format!("must be a KEY=VALUE string, not {}", item.describe()),
                    )
                })?;
                let (k, v) = match text.split_once('=') {
                    Some((k, v)) => (k.to_string(), Node::str(v, item.loc.clone())),
                    None => (
                        text.to_string(),
                        match bare_value {
                            Some(b) => Node::str(b, item.loc.clone()),
                            None => Node::null(item.loc.clone()),
                        },
                    ),
                };
                entries.retain(|e| e.key != k);
                entries.push(entry(k, v));
            }
            node.value = Value::Map(entries);
            Ok(())
        }
        Value::Map(entries) => {
            for e in entries {
                let p = join(path, &e.key);
                match &mut e.value.value {
                    Value::Scalar(_, ScalarKind::Null) => {
                        if let Some(b) = bare_value {
                            e.value = Node::str(b, e.value.loc.clone());
                        }
                    }
                    Value::Scalar(_, k) => *k = ScalarKind::Str,
                    _ => {
                        return Err(bad(
                            &e.value.loc,
                            &p,
                            format!(
                                "must be a string, a number or a boolean, not {}",
                                e.value.describe()
                            ),
                        ))
                    }
                }
            }
            Ok(())
        }
        Value::Scalar(_, ScalarKind::Null) => {
            node.value = Value::Map(Vec::new());
            Ok(())
        }
        Value::Scalar(..) => Err(bad(
            &node.loc,
            path,
            format!(
                "must be a mapping or a list of KEY=VALUE strings, not {}",
                node.describe()
            ),
        )),
    }
}

fn env_map(node: &mut Node, path: &str) -> Result<(), LoadError> {
    list_or_map(node, path, None)
}

fn label_map(node: &mut Node, path: &str) -> Result<(), LoadError> {
    list_or_map(node, path, Some(""))
}

fn build(node: &mut Node, path: &str) -> Result<(), LoadError> {
    match &node.value {
        Value::Map(_) => Ok(()),
        Value::Scalar(_, k) if *k != ScalarKind::Null => {
            let loc = node.loc.clone();
            let ctx = Node::str(scalar_text(node).unwrap_or_default(), loc.clone());
            node.value = Value::Map(vec![entry("context", ctx)]);
            Ok(())
        }
        _ => Err(bad(
            &node.loc,
            path,
            format!(
                "must be a build context path or a mapping, not {}",
                node.describe()
            ),
        )),
    }
}

fn env_file(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let one = |item: &mut Node, p: &str| -> Result<(), LoadError> {
        let loc = item.loc.clone();
        match &mut item.value {
            Value::Scalar(t, k) if *k != ScalarKind::Null => {
                let path_node = Node::str(t.clone(), loc.clone());
                let required =
                    Node::new(Value::Scalar("true".into(), ScalarKind::Bool), loc.clone());
                item.value =
                    Value::Map(vec![entry("path", path_node), entry("required", required)]);
                Ok(())
            }
            Value::Map(entries) => {
                if !entries.iter().any(|e| e.key == "required") {
                    let required = Node::new(Value::Scalar("true".into(), ScalarKind::Bool), loc);
                    entries.push(entry("required", required));
                }
                Ok(())
            }
            _ => Err(bad(
                &loc,
                p,
                format!(
                    "must be a path or a mapping with path, not {}",
                    item.describe()
                ),
            )),
        }
    };
    match &mut node.value {
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                one(item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Value::Scalar(_, ScalarKind::Null) => Ok(()),
        Value::Scalar(..) => {
            let mut item = node.clone();
            item.tag = None;
            one(&mut item, path)?;
            node.value = Value::Seq(vec![item]);
            Ok(())
        }
        Value::Map(_) => Err(bad(
            &node.loc,
            path,
            "must be a path or a list of paths, not a mapping",
        )),
    }
}

fn require_seq<'a>(
    node: &'a mut Node,
    path: &str,
    what: &str,
) -> Result<Option<&'a mut Vec<Node>>, LoadError> {
    if node.is_null() {
        return Ok(None);
    }
    let describe = node.describe();
    match &mut node.value {
        Value::Seq(items) => Ok(Some(items)),
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be a list of {what}, not {describe}"),
        )),
    }
}

fn ports(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let Some(items) = require_seq(node, path, "ports")? else {
        return Ok(());
    };
    let mut out = Vec::new();
    for (i, item) in std::mem::take(items).into_iter().enumerate() {
        let p = format!("{path}[{i}]");
        let loc = item.loc.clone();
        match &item.value {
            Value::Scalar(t, ScalarKind::Int | ScalarKind::Str) => {
                for spec in syntax::parse_port(t).map_err(|e| bad(&loc, &p, e))? {
                    let mut entries = vec![entry(
                        "target",
                        Node::new(
                            Value::Scalar(spec.target.to_string(), ScalarKind::Int),
                            loc.clone(),
                        ),
                    )];
                    if let Some(pub_) = spec.published {
                        entries.push(entry("published", Node::str(pub_, loc.clone())));
                    }
                    if let Some(ip) = spec.host_ip {
                        entries.push(entry("host_ip", Node::str(ip, loc.clone())));
                    }
                    entries.push(entry("protocol", Node::str(spec.protocol, loc.clone())));
                    out.push(Node::map(entries, loc.clone()));
                }
            }
            Value::Map(_) => {
                let mut item = item;
                if let Some(pubn) = item.get_mut("published") {
                    if let Value::Scalar(_, k @ ScalarKind::Int) = &mut pubn.value {
                        *k = ScalarKind::Str;
                    }
                }
                if item.get("protocol").is_none() {
                    if let Some(m) = item.as_map_mut() {
                        m.push(entry("protocol", Node::str("tcp", loc.clone())));
                    }
                }
                out.push(item);
            }
            _ => {
                return Err(bad(
                    &loc,
                    &p,
                    format!(
                        "must be a port like \"8080:80\" or a mapping with target, not {}",
                        item.describe()
                    ),
                ))
            }
        }
    }
    *items = out;
    Ok(())
}

fn volumes(node: &mut Node, path: &str, warnings: &mut Vec<String>) -> Result<(), LoadError> {
    let Some(items) = require_seq(node, path, "volumes")? else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        let p = format!("{path}[{i}]");
        let loc = item.loc.clone();
        match &item.value {
            Value::Scalar(t, ScalarKind::Str) => {
                let spec = syntax::parse_volume(t).map_err(|e| bad(&loc, &p, e))?;
                if !spec.ignored_modes.is_empty() {
                    warnings.push(format!(
                        "{loc}: {p}: {t:?}: ignoring unknown {} {}, as docker compose does (known: ro, rw, z, Z, nocopy and the propagation modes)",
                        if spec.ignored_modes.len() == 1 { "mode" } else { "modes" },
                        spec.ignored_modes
                            .iter()
                            .map(|m| format!("{m:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                let mut entries = vec![entry("type", Node::str(spec.kind, loc.clone()))];
                if let Some(s) = spec.source {
                    entries.push(entry("source", Node::str(s, loc.clone())));
                }
                entries.push(entry("target", Node::str(spec.target, loc.clone())));
                if spec.read_only {
                    entries.push(entry("read_only", boolean(true, &loc)));
                }
                // docker compose keeps `z`/`Z` and a propagation mode as bind
                // options whatever the mount's type.
                let mut bind = Vec::new();
                if spec.kind == "bind" {
                    bind.push(entry("create_host_path", boolean(true, &loc)));
                }
                if let Some(p) = spec.propagation {
                    bind.push(entry("propagation", Node::str(p, loc.clone())));
                }
                if let Some(z) = spec.selinux {
                    bind.push(entry("selinux", Node::str(z, loc.clone())));
                }
                if !bind.is_empty() {
                    entries.push(entry("bind", Node::map(bind, loc.clone())));
                }
                if spec.kind != "bind" {
                    let mut opts = Vec::new();
                    if spec.nocopy {
                        opts.push(entry("nocopy", boolean(true, &loc)));
                    }
                    entries.push(entry("volume", Node::map(opts, loc.clone())));
                }
                item.value = Value::Map(entries);
            }
            Value::Map(_) => {}
            _ => {
                return Err(bad(
                    &loc,
                    &p,
                    format!("must be a mount like \"./src:/dst:ro\" or a mapping with type and target, not {}", item.describe()),
                ))
            }
        }
        // As docker compose does, `/data/` is the target `/data` (so that it
        // merges with and replaces `/data`).
        if let Some(Value::Scalar(t, ScalarKind::Str)) =
            item.get_mut("target").map(|t| &mut t.value)
        {
            let trimmed = t.trim_end_matches('/');
            if !trimmed.is_empty() && trimmed.len() < t.len() {
                t.truncate(trimmed.len());
            }
        }
    }
    Ok(())
}

fn started(loc: &Location) -> Node {
    Node::map(
        vec![
            entry("condition", Node::str("service_started", loc.clone())),
            entry(
                "required",
                Node::new(Value::Scalar("true".into(), ScalarKind::Bool), loc.clone()),
            ),
        ],
        loc.clone(),
    )
}

fn depends_on(node: &mut Node, path: &str) -> Result<(), LoadError> {
    match &mut node.value {
        Value::Seq(items) => {
            let mut entries: Vec<Entry> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let name = scalar_text(item).ok_or_else(|| {
                    bad(
                        &item.loc,
                        &format!("{path}[{i}]"),
                        format!("must be a service name, not {}", item.describe()),
                    )
                })?;
                if !entries.iter().any(|e| e.key == name) {
                    entries.push(Entry {
                        key: name.to_string(),
                        key_loc: item.loc.clone(),
                        value: started(&item.loc),
                    });
                }
            }
            node.value = Value::Map(entries);
            Ok(())
        }
        Value::Map(entries) => {
            for e in entries {
                if e.value.is_null() {
                    e.value = started(&e.value.loc);
                }
            }
            Ok(())
        }
        Value::Scalar(_, ScalarKind::Null) => {
            node.value = Value::Map(Vec::new());
            Ok(())
        }
        Value::Scalar(..) => Err(bad(
            &node.loc,
            path,
            format!(
                "must be a list of service names or a mapping, not {}",
                node.describe()
            ),
        )),
    }
}

fn service_networks(node: &mut Node, path: &str) -> Result<(), LoadError> {
    names_or_mapping(node, path, "network")
}

fn service_models(node: &mut Node, path: &str) -> Result<(), LoadError> {
    names_or_mapping(node, path, "model")
}

/// A list of names (`[front, back]`) → a mapping of each name to null, as
/// docker compose reads it (a name written with `{}` stays a mapping).
fn names_or_mapping(node: &mut Node, path: &str, what: &str) -> Result<(), LoadError> {
    match &mut node.value {
        Value::Seq(items) => {
            let mut entries: Vec<Entry> = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let name = scalar_text(item).ok_or_else(|| {
                    bad(
                        &item.loc,
                        &format!("{path}[{i}]"),
                        format!("must be a {what} name, not {}", item.describe()),
                    )
                })?;
                if !entries.iter().any(|e| e.key == name) {
                    entries.push(Entry {
                        key: name.to_string(),
                        key_loc: item.loc.clone(),
                        value: Node::null(item.loc.clone()),
                    });
                }
            }
            node.value = Value::Map(entries);
            Ok(())
        }
        Value::Map(_) | Value::Scalar(_, ScalarKind::Null) => Ok(()),
        Value::Scalar(..) => Err(bad(
            &node.loc,
            path,
            format!(
                "must be a list of {what} names or a mapping, not {}",
                node.describe()
            ),
        )),
    }
}

fn string_or_list(node: &mut Node, path: &str) -> Result<(), LoadError> {
    match &mut node.value {
        Value::Scalar(_, ScalarKind::Null) => Ok(()),
        Value::Scalar(..) => {
            let mut item = node.clone();
            item.tag = None;
            to_string_scalar(&mut item, path)?;
            node.value = Value::Seq(vec![item]);
            Ok(())
        }
        Value::Seq(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                to_string_scalar(item, &format!("{path}[{i}]"))?;
            }
            Ok(())
        }
        Value::Map(_) => Err(bad(
            &node.loc,
            path,
            "must be a string or a list of strings, not a mapping",
        )),
    }
}

fn healthcheck_test(node: &mut Node, path: &str) -> Result<(), LoadError> {
    match &node.value {
        Value::Scalar(t, ScalarKind::Str) => {
            let loc = node.loc.clone();
            let t = t.clone();
            node.value = Value::Seq(vec![Node::str("CMD-SHELL", loc.clone()), Node::str(t, loc)]);
            Ok(())
        }
        Value::Seq(_) => string_or_list(node, path),
        _ if node.is_null() => Ok(()),
        _ => Err(bad(
            &node.loc,
            path,
            format!(
                "must be a string or a list of strings, not {}",
                node.describe()
            ),
        )),
    }
}

fn boolean(v: bool, loc: &Location) -> Node {
    Node::new(
        Value::Scalar(if v { "true" } else { "false" }.into(), ScalarKind::Bool),
        loc.clone(),
    )
}

/// `extends: name` → `{service: name}`.
fn extends(node: &mut Node, path: &str) -> Result<(), LoadError> {
    match &node.value {
        Value::Map(_) => Ok(()),
        Value::Scalar(t, k) if *k != ScalarKind::Null => {
            let svc = Node::str(t.clone(), node.loc.clone());
            node.value = Value::Map(vec![entry("service", svc)]);
            Ok(())
        }
        _ => Err(bad(
            &node.loc,
            path,
            format!(
                "must be a service name or a mapping with service (and file), not {}",
                node.describe()
            ),
        )),
    }
}

/// `include: [a.yaml, {path: …}]` → a list of `{path: [..], …}`.
fn include(node: &mut Node, path: &str) -> Result<(), LoadError> {
    if node.is_null() {
        node.value = Value::Seq(Vec::new());
        return Ok(());
    }
    let Value::Seq(items) = &mut node.value else {
        return Err(bad(
            &node.loc,
            path,
            format!(
                "must be a list of files or mappings with path, not {}",
                node.describe()
            ),
        ));
    };
    for (i, item) in items.iter_mut().enumerate() {
        let p = format!("{path}[{i}]");
        let loc = item.loc.clone();
        match &mut item.value {
            Value::Scalar(t, k) if *k != ScalarKind::Null => {
                let file = Node::str(t.clone(), loc.clone());
                item.value =
                    Value::Map(vec![entry("path", Node::new(Value::Seq(vec![file]), loc))]);
            }
            Value::Map(_) => {
                for key in ["path", "env_file"] {
                    if let Some(v) = item.get_mut(key) {
                        string_or_list(v, &join(&p, key))?;
                    }
                }
            }
            _ => {
                return Err(bad(
                    &loc,
                    &p,
                    format!(
                        "must be a file or a mapping with path, not {}",
                        item.describe()
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// `extra_hosts: ["h=ip", "h:ip"]` or `{h: ip | [ip…]}` → `{h: [ip…]}`.
fn extra_hosts(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let loc = node.loc.clone();
    let mut out: Vec<Entry> = Vec::new();
    let mut add =
        |host: String, ip: Node, at: &Location| match out.iter_mut().find(|e| e.key == host) {
            Some(e) => {
                if let Value::Seq(list) = &mut e.value.value {
                    if !list.iter().any(|x| x.same(&ip)) {
                        list.push(ip);
                    }
                }
            }
            None => out.push(Entry {
                key: host,
                key_loc: at.clone(),
                value: Node::new(Value::Seq(vec![ip]), at.clone()),
            }),
        };
    match &node.value {
        Value::Scalar(_, ScalarKind::Null) => return Ok(()),
        Value::Seq(items) => {
            for (i, item) in items.iter().enumerate() {
                let p = format!("{path}[{i}]");
                let text = scalar_text(item).ok_or_else(|| {
                    bad(
                        &item.loc,
                        &p,
                        format!("must be a HOST=IP string, not {}", item.describe()),
                    )
                })?;
                let (host, ip) = text
                    .split_once('=')
                    .or_else(|| text.split_once(':'))
                    .ok_or_else(|| {
                        bad(
                            &item.loc,
                            &p,
                            format!("invalid extra host {text:?}: write HOST=IP"),
                        )
                    })?;
                if host.is_empty() || ip.is_empty() {
                    return Err(bad(
                        &item.loc,
                        &p,
                        format!("invalid extra host {text:?}: write HOST=IP"),
                    ));
                }
                add(host.to_string(), Node::str(ip, item.loc.clone()), &item.loc);
            }
        }
        Value::Map(entries) => {
            for e in entries {
                let p = join(path, &e.key);
                match &e.value.value {
                    Value::Seq(ips) => {
                        for (i, ip) in ips.iter().enumerate() {
                            let t = scalar_text(ip).ok_or_else(|| {
                                bad(
                                    &ip.loc,
                                    &format!("{p}[{i}]"),
                                    format!("must be an address, not {}", ip.describe()),
                                )
                            })?;
                            add(e.key.clone(), Node::str(t, ip.loc.clone()), &e.key_loc);
                        }
                    }
                    _ => {
                        let t = scalar_text(&e.value).ok_or_else(|| {
                            bad(
                                &e.value.loc,
                                &p,
                                format!(
                                    "must be an address or a list of addresses, not {}",
                                    e.value.describe()
                                ),
                            )
                        })?;
                        add(e.key.clone(), Node::str(t, e.value.loc.clone()), &e.key_loc);
                    }
                }
            }
        }
        Value::Scalar(..) => {
            return Err(bad(
                &loc,
                path,
                format!(
                    "must be a list of HOST=IP strings or a mapping, not {}",
                    node.describe()
                ),
            ))
        }
    }
    node.value = Value::Map(out);
    Ok(())
}

/// `devices: ["/dev/a[:/dev/b[:rwm]]"]` → `{source, target, permissions}`.
fn devices(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let Some(items) = require_seq(node, path, "devices")? else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        let p = format!("{path}[{i}]");
        let loc = item.loc.clone();
        match &item.value {
            Value::Scalar(t, k) if *k != ScalarKind::Null => {
                let parts: Vec<&str> = t.split(':').collect();
                let (src, dst, perms) = match parts.as_slice() {
                    [s] => (*s, *s, "rwm"),
                    [s, d] => (*s, *d, "rwm"),
                    [s, d, m] => (*s, *d, *m),
                    _ => {
                        return Err(bad(
                            &loc,
                            &p,
                            format!(
                            "invalid device {t:?}: write HOST_PATH[:CONTAINER_PATH[:PERMISSIONS]]"
                        ),
                        ))
                    }
                };
                if src.is_empty() || dst.is_empty() {
                    return Err(bad(&loc, &p, format!("invalid device {t:?}: empty path")));
                }
                item.value = Value::Map(vec![
                    entry("source", Node::str(src, loc.clone())),
                    entry("target", Node::str(dst, loc.clone())),
                    entry("permissions", Node::str(perms, loc.clone())),
                ]);
            }
            Value::Map(_) => {}
            _ => {
                return Err(bad(
                    &loc,
                    &p,
                    format!(
                        "must be a device like \"/dev/fuse\" or a mapping with source, not {}",
                        item.describe()
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// `secrets`/`configs` entries: `name` → `{source: name}`.
fn file_refs(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let Some(items) = require_seq(node, path, "names or mappings with source")? else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        let loc = item.loc.clone();
        match &item.value {
            Value::Scalar(t, k) if *k != ScalarKind::Null => {
                item.value = Value::Map(vec![entry("source", Node::str(t.clone(), loc))]);
            }
            Value::Map(_) => {}
            _ => {
                return Err(bad(
                    &loc,
                    &format!("{path}[{i}]"),
                    format!(
                        "must be a name or a mapping with source, not {}",
                        item.describe()
                    ),
                ))
            }
        }
    }
    Ok(())
}

/// Service secrets also get their default target, so that merging by target works.
fn secret_refs(node: &mut Node, path: &str) -> Result<(), LoadError> {
    file_refs(node, path)?;
    if let Value::Seq(items) = &mut node.value {
        for item in items {
            let loc = item.loc.clone();
            let source = item.get("source").and_then(scalar_text).map(str::to_string);
            if let (Some(m), Some(source)) = (item.as_map_mut(), source) {
                if !m.iter().any(|e| e.key == "target" && !e.value.is_null()) {
                    m.retain(|e| e.key != "target");
                    m.push(entry(
                        "target",
                        Node::str(format!("/run/secrets/{source}"), loc),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// `build.ssh`: a string, a list of `ID[=PATH]` or a mapping → a list.
fn ssh(node: &mut Node, path: &str) -> Result<(), LoadError> {
    if let Value::Map(entries) = &node.value {
        let mut items = Vec::new();
        for e in entries {
            let v = match scalar_text(&e.value) {
                Some(v) => format!("{}={v}", e.key),
                None if e.value.is_null() => e.key.clone(),
                None => {
                    return Err(bad(
                        &e.value.loc,
                        &join(path, &e.key),
                        format!("must be a path, not {}", e.value.describe()),
                    ))
                }
            };
            items.push(Node::str(v, e.key_loc.clone()));
        }
        node.value = Value::Seq(items);
        return Ok(());
    }
    // A list or a mapping, as the Compose schema says: a bare string is refused.
    if let Value::Scalar(_, kind) = &node.value {
        if *kind != ScalarKind::Null {
            return Err(bad(
                &node.loc,
                path,
                format!(
                    "must be a list (- default) or a mapping (default: PATH), not {}",
                    node.describe()
                ),
            ));
        }
    }
    string_or_list(node, path)
}

/// `post_start`/`pre_stop` hooks: their command and environment in long form.
fn hooks(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let Some(items) = require_seq(node, path, "hooks")? else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        hook(item, &format!("{path}[{i}]"))?;
    }
    Ok(())
}

fn hook(item: &mut Node, p: &str) -> Result<(), LoadError> {
    if item.as_map().is_none() {
        return Err(bad(
            &item.loc,
            p,
            format!("must be a mapping with command, not {}", item.describe()),
        ));
    }
    if let Some(c) = item.get_mut("command") {
        command(c, &join(p, "command"))?;
    }
    if let Some(e) = item.get_mut("environment") {
        env_map(e, &join(p, "environment"))?;
    }
    Ok(())
}

/// `develop.watch[].exec` and `.ignore`/`.include`.
fn watch(node: &mut Node, path: &str) -> Result<(), LoadError> {
    let Some(items) = require_seq(node, path, "watch rules")? else {
        return Ok(());
    };
    for (i, item) in items.iter_mut().enumerate() {
        let p = format!("{path}[{i}]");
        if let Some(e) = item.get_mut("exec") {
            hook(e, &join(&p, "exec"))?;
        }
        for key in ["ignore", "include"] {
            if let Some(v) = item.get_mut(key) {
                string_or_list(v, &join(&p, key))?;
            }
        }
    }
    Ok(())
}
