//! Model stage: the merged, canonical tree → the typed [`crate::model`]
//! values, checking types, allowed keys, units and references on the way.
//!
//! Every error names the YAML path and the position of the offending node.
//! Keys of the Compose specification that the model does not hold yet are
//! accepted with a warning (never silently).

use crate::attrs;
use crate::canonical::{bad, join};
use crate::discover::display_name;
use crate::dotenv;
use crate::error::{LoadError, LoadErrorKind};
pub use crate::fields::Context;
use crate::fields::{
    check_keys, entries, external, field, host_path, integer, items, opt_bool, opt_duration,
    opt_string, string, string_list, string_map, warn_unmodeled,
};
use crate::keys;
use crate::model::*;
use crate::syntax;
use crate::yaml::{Entry, Node};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A service as read, with what the reference checks need to point at.
pub struct ServiceNode<'a> {
    pub service: Service,
    pub node: &'a Node,
    pub key: &'a Entry,
}

/// The typed pieces of a project, before cross-reference checks.
pub struct Typed<'a> {
    pub services: Vec<ServiceNode<'a>>,
    pub networks: BTreeMap<String, Network>,
    pub volumes: BTreeMap<String, Volume>,
    pub secrets: BTreeMap<String, FileObject>,
    pub configs: BTreeMap<String, FileObject>,
    pub models: BTreeMap<String, Model>,
    pub extensions: BTreeMap<String, AnyValue>,
}

// ---------------------------------------------------------------- project

/// Converts the merged tree; `root` must be a mapping.
pub fn build<'a>(root: &'a Node, ctx: &mut Context) -> Result<Typed<'a>, LoadError> {
    for e in entries(root, "")? {
        if e.key.starts_with("x-") {
            continue;
        }
        match e.key.as_str() {
            "version" => ctx.warn(format!(
                "{}: the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion",
                e.key_loc
            )),
            "name" | "services" | "networks" | "volumes" | "secrets" | "configs" | "models"
            | "include" => {}
            other => {
                return Err(bad(
                    &e.key_loc,
                    "",
                    keys::unknown_key_message(other, keys::TOP_LEVEL, true).replacen(
                        "unknown key",
                        "unknown top-level key",
                        1,
                    ),
                ))
            }
        }
    }

    let networks = match field(root, "networks") {
        Some(n) => top_networks(n, ctx)?,
        None => BTreeMap::new(),
    };
    let volumes = match field(root, "volumes") {
        Some(n) => top_volumes(n, ctx)?,
        None => BTreeMap::new(),
    };

    let mut secrets = BTreeMap::new();
    let mut configs = BTreeMap::new();
    for (key, out, is_secret) in [
        ("secrets", &mut secrets, true),
        ("configs", &mut configs, false),
    ] {
        if let Some(list) = field(root, key) {
            for e in entries(list, key)? {
                if e.key.starts_with("x-") {
                    continue;
                }
                let path = join(key, &e.key);
                out.insert(
                    e.key.clone(),
                    attrs::file_object(&e.key, &e.value, &path, is_secret, ctx)?,
                );
            }
        }
    }

    let mut models = BTreeMap::new();
    if let Some(list) = field(root, "models") {
        for e in entries(list, "models")? {
            if !e.key.starts_with("x-") {
                let path = join("models", &e.key);
                models.insert(e.key.clone(), attrs::model(&e.value, &path)?);
            }
        }
    }
    let mut services = Vec::new();
    if let Some(sn) = field(root, "services") {
        for e in entries(sn, "services")? {
            check_service_name(e)?;
            let path = join("services", &e.key);
            let service = service(&e.key, &e.value, &path, &volumes, ctx)?;
            check_models(&service, &e.value, &path, &models)?;
            services.push(ServiceNode {
                service,
                node: &e.value,
                key: e,
            });
        }
    }
    Ok(Typed {
        services,
        networks,
        volumes,
        secrets,
        configs,
        models,
        extensions: attrs::extensions(root),
    })
}

/// Every model a service uses is defined in the top-level `models`.
fn check_models(
    service: &Service,
    node: &Node,
    path: &str,
    models: &BTreeMap<String, Model>,
) -> Result<(), LoadError> {
    let Some(used) = field(node, "models").and_then(Node::as_map) else {
        return Ok(());
    };
    for e in used {
        if service.models.contains_key(&e.key) && !models.contains_key(&e.key) {
            return Err(LoadError::at(
                LoadErrorKind::Reference,
                e.key_loc.clone(),
                join(path, "models"),
                format!(
                    "model {:?} is not defined in the top-level models: add it there",
                    e.key
                ),
            ));
        }
    }
    Ok(())
}

/// Docker compose's service names (`^[a-zA-Z0-9._-]+$`); `.` and `..` too
/// are refused, since a service name becomes part of paths and container names.
fn check_service_name(e: &Entry) -> Result<(), LoadError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
    if !e.key.is_empty() && e.key.chars().all(allowed) && e.key != "." && e.key != ".." {
        return Ok(());
    }
    Err(bad(
        &e.key_loc,
        "services",
        format!(
            "invalid service name {:?}: use only letters, digits, '.', '_' and '-' (and not . or ..)",
            e.key
        ),
    ))
}

/// Docker's container names: `[a-zA-Z0-9][a-zA-Z0-9_.-]+`, the whole name.
fn container_name(n: &Node, path: &str) -> Result<Option<String>, LoadError> {
    let Some(name) = opt_string(n, "container_name", path)? else {
        return Ok(None);
    };
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric());
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && name.len() > 1 {
        return Ok(Some(name));
    }
    let at = field(n, "container_name").map_or(&n.loc, |c| &c.loc);
    Err(bad(
        at,
        &join(path, "container_name"),
        format!("invalid container name {name:?}: use at least two characters, letters, digits, '_', '.' and '-', starting with a letter or digit"),
    ))
}

fn top_networks(node: &Node, ctx: &mut Context) -> Result<BTreeMap<String, Network>, LoadError> {
    let mut out = BTreeMap::new();
    for e in entries(node, "networks")? {
        if e.key.starts_with("x-") {
            continue;
        }
        let path = join("networks", &e.key);
        let n = &e.value;
        check_keys(n, &path, keys::NETWORK)?;
        let (external, external_name) = external(n, &path)?;
        let name = match (opt_string(n, "name", &path)?, external_name, external) {
            (Some(name), _, _) => name,
            (None, Some(legacy), _) => legacy,
            (None, None, true) => e.key.clone(),
            (None, None, false) => format!("{}_{}", ctx.project_name, e.key),
        };
        let mut subnet = None;
        let mut ipam_out = Ipam::default();
        if let Some(ipam) = field(n, "ipam") {
            let ipath = join(&path, "ipam");
            check_keys(ipam, &ipath, keys::IPAM)?;
            ipam_out.driver = opt_string(ipam, "driver", &ipath)?;
            if let Some(o) = field(ipam, "options") {
                ipam_out.options = string_map(o, &join(&ipath, "options"))?;
            }
            if let Some(config) = field(ipam, "config") {
                let cpath = join(&ipath, "config");
                for (i, c) in items(config, &cpath, "mappings")?.iter().enumerate() {
                    let p = format!("{cpath}[{i}]");
                    check_keys(c, &p, keys::IPAM_CONFIG)?;
                    let pool = IpamPool {
                        subnet: opt_string(c, "subnet", &p)?,
                        gateway: opt_string(c, "gateway", &p)?,
                        ip_range: opt_string(c, "ip_range", &p)?,
                        aux_addresses: field(c, "aux_addresses")
                            .map(|a| string_map(a, &join(&p, "aux_addresses")))
                            .transpose()?
                            .unwrap_or_default(),
                    };
                    for (k, v) in [("subnet", &pool.subnet), ("ip_range", &pool.ip_range)] {
                        if let Some(v) = v {
                            if !valid_cidr(v) {
                                let at = field(c, k).unwrap_or(c);
                                return Err(bad(
                                    &at.loc,
                                    &join(&p, k),
                                    format!("invalid {k} {v:?}: write an address range like 172.28.0.0/16 or fd00::/64"),
                                ));
                            }
                        }
                    }
                    if subnet.is_none() {
                        subnet = pool.subnet.clone();
                    }
                    ipam_out.config.push(pool);
                }
            }
        }
        out.insert(
            e.key.clone(),
            Network {
                name,
                driver: opt_string(n, "driver", &path)?,
                external,
                internal: opt_bool(n, "internal", &path)?.unwrap_or(false),
                labels: field(n, "labels")
                    .map(|l| string_map(l, &join(&path, "labels")))
                    .transpose()?
                    .unwrap_or_default(),
                subnet,
                driver_opts: field(n, "driver_opts")
                    .map(|l| string_map(l, &join(&path, "driver_opts")))
                    .transpose()?
                    .unwrap_or_default(),
                ipam: ipam_out,
                attachable: opt_bool(n, "attachable", &path)?.unwrap_or(false),
                enable_ipv4: opt_bool(n, "enable_ipv4", &path)?,
                enable_ipv6: opt_bool(n, "enable_ipv6", &path)?,
                extensions: attrs::extensions(n),
            },
        );
    }
    Ok(out)
}

fn top_volumes(node: &Node, ctx: &mut Context) -> Result<BTreeMap<String, Volume>, LoadError> {
    let mut out = BTreeMap::new();
    for e in entries(node, "volumes")? {
        if e.key.starts_with("x-") {
            continue;
        }
        let path = join("volumes", &e.key);
        let n = &e.value;
        check_keys(n, &path, keys::VOLUME)?;
        let (external, external_name) = external(n, &path)?;
        let name = match (opt_string(n, "name", &path)?, external_name, external) {
            (Some(name), _, _) => name,
            (None, Some(legacy), _) => legacy,
            (None, None, true) => e.key.clone(),
            (None, None, false) => format!("{}_{}", ctx.project_name, e.key),
        };
        out.insert(
            e.key.clone(),
            Volume {
                name,
                driver: opt_string(n, "driver", &path)?,
                external,
                labels: field(n, "labels")
                    .map(|l| string_map(l, &join(&path, "labels")))
                    .transpose()?
                    .unwrap_or_default(),
                driver_opts: volume_driver_opts(n, &path, ctx)?,
                extensions: attrs::extensions(n),
            },
        );
    }
    Ok(out)
}

/// A volume's `driver_opts`; a bind's `device` is a host path, made absolute.
fn volume_driver_opts(
    n: &Node,
    path: &str,
    ctx: &Context,
) -> Result<BTreeMap<String, String>, LoadError> {
    let Some(node) = field(n, "driver_opts") else {
        return Ok(BTreeMap::new());
    };
    let opath = join(path, "driver_opts");
    let mut opts = string_map(node, &opath)?;
    if opts.get("o").is_some_and(|o| binds_device(o)) {
        if let Some(device) = opts.get_mut("device") {
            let at = field(node, "device").unwrap_or(node);
            *device = host_path(device, at, &join(&opath, "device"), ctx)?
                .to_string_lossy()
                .into_owned();
        }
    }
    Ok(opts)
}

/// `a.b.c.d/n` or an IPv6 range.
fn valid_cidr(s: &str) -> bool {
    let Some((addr, len)) = s.split_once('/') else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => len.parse::<u8>().is_ok_and(|l| l <= 32),
        Ok(std::net::IpAddr::V6(_)) => len.parse::<u8>().is_ok_and(|l| l <= 128),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------- service

fn service(
    name: &str,
    n: &Node,
    path: &str,
    volumes: &BTreeMap<String, Volume>,
    ctx: &mut Context,
) -> Result<Service, LoadError> {
    for e in entries(n, path)? {
        let k = e.key.as_str();
        if k.starts_with("x-") {
            continue;
        }
        if !keys::SERVICE.contains(&k) {
            return Err(bad(
                &e.key_loc,
                path,
                keys::unknown_key_message(k, keys::SERVICE, false),
            ));
        }
    }
    warn_unmodeled(n, path, keys::SERVICE_MODELED, ctx);

    let mut s = Service {
        name: name.to_string(),
        image: opt_string(n, "image", path)?,
        working_dir: opt_string(n, "working_dir", path)?,
        user: opt_string(n, "user", path)?,
        hostname: opt_string(n, "hostname", path)?,
        container_name: container_name(n, path)?,
        stop_signal: opt_string(n, "stop_signal", path)?,
        network_mode: opt_string(n, "network_mode", path)?,
        replicas: 1,
        ..Service::default()
    };
    if let Some(b) = field(n, "build") {
        s.build = Some(build_section(b, &join(path, "build"), ctx)?);
    }
    if let Some(c) = field(n, "command") {
        s.command = Some(string_list(c, &join(path, "command"))?);
    }
    if let Some(c) = field(n, "entrypoint") {
        s.entrypoint = Some(string_list(c, &join(path, "entrypoint"))?);
    }
    s.environment = environment(n, path, ctx)?;
    if let Some(l) = field(n, "labels") {
        s.labels = string_map(l, &join(path, "labels"))?;
    }
    if let Some(p) = field(n, "ports") {
        s.ports = ports(p, &join(path, "ports"))?;
    }
    if let Some(v) = field(n, "volumes") {
        s.volumes = mounts(v, &join(path, "volumes"), volumes, ctx)?;
    }
    if let Some(d) = field(n, "depends_on") {
        s.depends_on = depends_on(d, &join(path, "depends_on"))?;
    }
    s.networks = networks(n, path, s.network_mode.is_some())?;
    replicas(n, path, &mut s)?;
    s.restart = restart(n, path)?;
    s.stop_grace_period = opt_duration(n, "stop_grace_period", path)?;
    if let Some(p) = field(n, "profiles") {
        s.profiles = string_list(p, &join(path, "profiles"))?;
    }
    if let Some(h) = field(n, "healthcheck") {
        s.healthcheck = Some(healthcheck(h, &join(path, "healthcheck"))?);
    }
    attrs::service_attributes(n, path, &mut s, ctx)?;
    effective_resources(&mut s);
    s.environment_unset = unset_environment(n, ctx);
    if let Some(files) = field(n, "label_file") {
        let lpath = join(path, "label_file");
        let mut from_files = BTreeMap::new();
        for (i, f) in string_list(files, &lpath)?.iter().enumerate() {
            let p = format!("{lpath}[{i}]");
            let file = host_path(f, files, &p, ctx)?;
            let content = crate::source::read_text(&file).map_err(|e| {
                LoadError::at(
                    LoadErrorKind::Files,
                    files.loc.clone(),
                    p.clone(),
                    format!("cannot read label file {}: {e}", file.display()),
                )
            })?;
            let none = |_: &str| None;
            for (k, v) in dotenv::parse(&content, display_name(ctx.cwd, &file), &none)? {
                from_files.insert(k, v);
            }
            s.label_file.push(file);
        }
        // Labels written in the file win over label files.
        for (k, v) in from_files {
            s.labels.entry(k).or_insert(v);
        }
    }
    Ok(s)
}

/// `environment` names given without a value that the environment does not set.
fn unset_environment(n: &Node, ctx: &Context) -> Vec<String> {
    field(n, "environment")
        .and_then(Node::as_map)
        .map(|m| {
            m.iter()
                .filter(|e| e.value.is_null() && !ctx.env.contains_key(&e.key))
                .map(|e| e.key.clone())
                .collect()
        })
        .unwrap_or_default()
}

fn build_section(b: &Node, path: &str, ctx: &mut Context) -> Result<Build, LoadError> {
    check_keys(b, path, keys::BUILD)?;
    warn_unmodeled(b, path, keys::BUILD_MODELED, ctx);
    let context = match field(b, "context") {
        Some(c) => {
            let raw = string(c, &join(path, "context"))?;
            if raw.contains("://") || raw.starts_with("git@") {
                PathBuf::from(raw)
            } else {
                host_path(&raw, c, &join(path, "context"), ctx)?
            }
        }
        None => ctx.project_dir.to_path_buf(),
    };
    let mut args = BTreeMap::new();
    if let Some(a) = field(b, "args") {
        let apath = join(path, "args");
        for e in entries(a, &apath)? {
            if e.value.is_null() {
                if let Some(v) = ctx.env.get(&e.key) {
                    args.insert(e.key.clone(), v.clone());
                }
            } else {
                args.insert(e.key.clone(), string(&e.value, &join(&apath, &e.key))?);
            }
        }
    }
    let mut out = Build {
        context,
        dockerfile: opt_string(b, "dockerfile", path)?,
        args,
        target: opt_string(b, "target", path)?,
        ..Build::default()
    };
    attrs::build_attributes(b, path, &mut out)?;
    if let Some(a) = field(b, "additional_contexts") {
        let apath = join(path, "additional_contexts");
        for (name, value) in out.additional_contexts.iter_mut() {
            if is_local_context(value) {
                let p = join(&apath, name);
                *value = host_path(value, a, &p, ctx)?.to_string_lossy().into_owned();
            }
        }
    }
    if out.dockerfile.is_none() && out.dockerfile_inline.is_none() {
        out.dockerfile = Some("Dockerfile".to_string());
    }
    Ok(out)
}

/// A build context that is a local directory: not a URL (`https://`,
/// `docker-image://`, `oci-layout://`), a git remote or another service's image.
pub(crate) fn is_local_context(value: &str) -> bool {
    !(value.contains("://") || value.starts_with("git@") || value.starts_with("service:"))
}

/// The mount options `o` of a volume's `driver_opts` bind a host directory
/// (`device`, a host path then).
pub(crate) fn binds_device(o: &str) -> bool {
    o.split(',').any(|opt| opt.trim().contains("bind"))
}

/// `env_file` entries in order, then `environment`.
fn environment(
    n: &Node,
    path: &str,
    ctx: &mut Context,
) -> Result<BTreeMap<String, String>, LoadError> {
    let mut out = BTreeMap::new();
    if let Some(files) = field(n, "env_file") {
        let fpath = join(path, "env_file");
        for (i, f) in items(files, &fpath, "files")?.iter().enumerate() {
            let p = format!("{fpath}[{i}]");
            check_keys(f, &p, keys::ENV_FILE)?;
            let raw = match field(f, "path") {
                Some(x) => string(x, &join(&p, "path"))?,
                None => return Err(bad(&f.loc, &p, "path is required")),
            };
            let required = opt_bool(f, "required", &p)?.unwrap_or(true);
            let file = host_path(&raw, f, &p, ctx)?;
            let content = match crate::source::read_text(&file) {
                Ok(c) => c,
                Err(e) if e.is_not_found() && !required => continue,
                Err(e) => {
                    return Err(LoadError::at(
                        LoadErrorKind::EnvFile,
                        f.loc.clone(),
                        p,
                        format!("cannot read env file {}: {e}", file.display()),
                    ))
                }
            };
            let format = opt_string(f, "format", &p)?;
            match format.as_deref() {
                None => {
                    let env = ctx.env;
                    let lookup = |k: &str| env.get(k).cloned();
                    for (k, v) in dotenv::parse(&content, display_name(ctx.cwd, &file), &lookup)? {
                        out.insert(k, v);
                    }
                }
                // `format: raw`: KEY=VALUE lines taken as written (no quotes, no expansion).
                Some("raw") => {
                    for line in content.lines() {
                        let line = line.trim_end_matches('\r');
                        if line.trim().is_empty() || line.trim_start().starts_with('#') {
                            continue;
                        }
                        match line.split_once('=') {
                            Some((k, v)) => out.insert(k.trim().to_string(), v.to_string()),
                            None => out.insert(line.trim().to_string(), String::new()),
                        };
                    }
                }
                Some(other) => {
                    let at = field(f, "format").unwrap_or(f);
                    return Err(bad(
                        &at.loc,
                        &join(&p, "format"),
                        format!("unknown env file format {other:?}: leave it out for dotenv syntax, or use raw"),
                    ));
                }
            }
        }
    }
    if let Some(e) = field(n, "environment") {
        let epath = join(path, "environment");
        for entry in entries(e, &epath)? {
            if entry.value.is_null() {
                match ctx.env.get(&entry.key) {
                    Some(v) => {
                        out.insert(entry.key.clone(), v.clone());
                    }
                    None => {
                        out.remove(&entry.key);
                    }
                }
            } else {
                out.insert(
                    entry.key.clone(),
                    string(&entry.value, &join(&epath, &entry.key))?,
                );
            }
        }
    }
    Ok(out)
}

fn ports(node: &Node, path: &str) -> Result<Vec<ServicePort>, LoadError> {
    let mut out = Vec::new();
    for (i, p) in items(node, path, "ports")?.iter().enumerate() {
        let ppath = format!("{path}[{i}]");
        check_keys(p, &ppath, keys::PORT)?;
        let target: u16 = match field(p, "target") {
            Some(t) => integer(t, &join(&ppath, "target"), "a port number from 1 to 65535")?,
            None => return Err(bad(&p.loc, &ppath, "target is required")),
        };
        if target == 0 {
            let t = field(p, "target").unwrap_or(p);
            return Err(bad(
                &t.loc,
                &join(&ppath, "target"),
                "must be a port number from 1 to 65535, not 0",
            ));
        }
        let published = opt_string(p, "published", &ppath)?;
        if let Some(pubv) = &published {
            let ok = match pubv.split_once('-') {
                Some((a, b)) => valid_port(a) && valid_port(b),
                None => valid_port(pubv),
            };
            if !ok {
                let at = field(p, "published").unwrap_or(p);
                return Err(bad(
                    &at.loc,
                    &join(&ppath, "published"),
                    format!("invalid published port {pubv:?}: write a port (8080) or a range (8000-8010)"),
                ));
            }
        }
        let protocol = opt_string(p, "protocol", &ppath)?.unwrap_or_else(|| "tcp".into());
        if !matches!(protocol.as_str(), "tcp" | "udp" | "sctp") {
            let at = field(p, "protocol").unwrap_or(p);
            return Err(bad(
                &at.loc,
                &join(&ppath, "protocol"),
                format!("unknown protocol {protocol:?}: use tcp, udp or sctp"),
            ));
        }
        let mode = opt_string(p, "mode", &ppath)?.unwrap_or_else(|| "ingress".into());
        if !matches!(mode.as_str(), "ingress" | "host") {
            let at = field(p, "mode").unwrap_or(p);
            return Err(bad(
                &at.loc,
                &join(&ppath, "mode"),
                format!("unknown mode {mode:?}: use ingress or host"),
            ));
        }
        let port = ServicePort {
            target,
            published: published.filter(|p| !p.is_empty()),
            host_ip: opt_string(p, "host_ip", &ppath)?.filter(|h| !h.is_empty()),
            protocol,
            mode: Some(mode),
            name: opt_string(p, "name", &ppath)?,
            app_protocol: opt_string(p, "app_protocol", &ppath)?,
        };
        if !out.contains(&port) {
            out.push(port);
        }
    }
    Ok(out)
}

fn valid_port(s: &str) -> bool {
    s.parse::<u16>().is_ok_and(|n| n > 0)
}

fn mounts(
    node: &Node,
    path: &str,
    volumes: &BTreeMap<String, Volume>,
    ctx: &mut Context,
) -> Result<Vec<ServiceVolume>, LoadError> {
    let mut out = Vec::new();
    for (i, v) in items(node, path, "volumes")?.iter().enumerate() {
        let vpath = format!("{path}[{i}]");
        check_keys(v, &vpath, keys::VOLUME_MOUNT)?;
        let kind_node = field(v, "type")
            .ok_or_else(|| bad(&v.loc, &vpath, "type is required (bind, volume or tmpfs)"))?;
        let kind_text = string(kind_node, &join(&vpath, "type"))?;
        let kind = match kind_text.as_str() {
            "bind" => VolumeKind::Bind,
            "volume" => VolumeKind::Volume,
            "tmpfs" => VolumeKind::Tmpfs,
            "npipe" => VolumeKind::Npipe,
            other => {
                let message = if matches!(other, "image" | "cluster") {
                    format!(
                        "{other} mounts are not supported by wharf yet: use bind, volume or tmpfs"
                    )
                } else {
                    format!("mount type {other:?} is not supported: use bind, volume or tmpfs")
                };
                return Err(bad(&kind_node.loc, &join(&vpath, "type"), message));
            }
        };
        let target = match field(v, "target") {
            Some(t) => string(t, &join(&vpath, "target"))?,
            None => return Err(bad(&v.loc, &vpath, "target is required")),
        };
        // Any target loads, as docker compose's `config` prints it; `up`
        // refuses one that is not an absolute Linux path.
        let source_node = field(v, "source");
        let raw = source_node
            .map(|s| string(s, &join(&vpath, "source")))
            .transpose()?
            .filter(|s| !s.is_empty());
        let source = match (kind, raw) {
            (VolumeKind::Bind, None) => {
                return Err(bad(&v.loc, &vpath, "a bind mount needs a source"))
            }
            // An absolute source is kept as written, as docker compose keeps it.
            (VolumeKind::Bind, Some(raw))
                if raw.starts_with('/') || syntax::is_windows_absolute(&raw) =>
            {
                Some(raw)
            }
            (VolumeKind::Bind, Some(raw)) => {
                let at = source_node.unwrap_or(v);
                Some(
                    host_path(&raw, at, &join(&vpath, "source"), ctx)?
                        .to_string_lossy()
                        .into_owned(),
                )
            }
            (VolumeKind::Volume, Some(name)) => {
                if !volumes.contains_key(&name) {
                    let at = source_node.unwrap_or(v);
                    return Err(LoadError::at(
                        LoadErrorKind::Reference,
                        at.loc.clone(),
                        vpath,
                        format!("volume {name:?} is not declared in the top-level volumes: add it there"),
                    ));
                }
                Some(name)
            }
            // Kept as written: docker compose resolves only bind sources.
            (VolumeKind::Npipe, Some(raw)) => Some(raw),
            (VolumeKind::Tmpfs, Some(_)) => {
                let at = source_node.unwrap_or(v);
                return Err(bad(
                    &at.loc,
                    &join(&vpath, "source"),
                    "a tmpfs mount takes no source",
                ));
            }
            (_, None) => None,
        };
        let mut m = ServiceVolume {
            kind,
            source,
            target,
            read_only: opt_bool(v, "read_only", &vpath)?.unwrap_or(false),
            consistency: None,
            bind: None,
            volume: None,
            tmpfs: None,
        };
        attrs::mount_options(v, &vpath, &mut m)?;
        if let Some(prev) = out
            .iter()
            .position(|x: &ServiceVolume| x.target == m.target)
        {
            out[prev] = m;
        } else {
            out.push(m);
        }
    }
    Ok(out)
}

fn depends_on(node: &Node, path: &str) -> Result<BTreeMap<String, ServiceDependency>, LoadError> {
    let mut out = BTreeMap::new();
    for e in entries(node, path)? {
        let p = join(path, &e.key);
        check_keys(&e.value, &p, keys::DEPENDENCY)?;
        let condition = match field(&e.value, "condition") {
            None => DependencyCondition::ServiceStarted,
            Some(c) => match string(c, &join(&p, "condition"))?.as_str() {
                "service_started" => DependencyCondition::ServiceStarted,
                "service_healthy" => DependencyCondition::ServiceHealthy,
                "service_completed_successfully" => DependencyCondition::ServiceCompletedSuccessfully,
                other => {
                    return Err(bad(
                        &c.loc,
                        &join(&p, "condition"),
                        format!("unknown condition {other:?}: use service_started, service_healthy or service_completed_successfully"),
                    ))
                }
            },
        };
        out.insert(
            e.key.clone(),
            ServiceDependency {
                condition,
                required: opt_bool(&e.value, "required", &p)?.unwrap_or(true),
                restart: opt_bool(&e.value, "restart", &p)?.unwrap_or(false),
            },
        );
    }
    Ok(out)
}

fn networks(
    n: &Node,
    path: &str,
    has_mode: bool,
) -> Result<BTreeMap<String, ServiceNetwork>, LoadError> {
    let mut out = BTreeMap::new();
    let Some(node) = field(n, "networks") else {
        if !has_mode {
            out.insert("default".to_string(), ServiceNetwork::default());
        }
        return Ok(out);
    };
    let npath = join(path, "networks");
    if has_mode {
        return Err(bad(
            &node.loc,
            &npath,
            "networks and network_mode cannot both be set: remove one of them",
        ));
    }
    for e in entries(node, &npath)? {
        let p = join(&npath, &e.key);
        if e.value.is_null() {
            out.insert(e.key.clone(), ServiceNetwork::default());
            continue;
        }
        check_keys(&e.value, &p, keys::SERVICE_NETWORK)?;
        out.insert(
            e.key.clone(),
            ServiceNetwork {
                aliases: field(&e.value, "aliases")
                    .map(|a| string_list(a, &join(&p, "aliases")))
                    .transpose()?
                    .unwrap_or_default(),
                ipv4_address: opt_string(&e.value, "ipv4_address", &p)?,
                priority: field(&e.value, "priority")
                    .map(|x| integer(x, &join(&p, "priority"), "an integer"))
                    .transpose()?
                    .unwrap_or(0),
                ipv6_address: opt_string(&e.value, "ipv6_address", &p)?,
                link_local_ips: field(&e.value, "link_local_ips")
                    .map(|a| string_list(a, &join(&p, "link_local_ips")))
                    .transpose()?
                    .unwrap_or_default(),
                mac_address: opt_string(&e.value, "mac_address", &p)?,
                driver_opts: field(&e.value, "driver_opts")
                    .map(|a| string_map(a, &join(&p, "driver_opts")))
                    .transpose()?
                    .unwrap_or_default(),
                gw_priority: field(&e.value, "gw_priority")
                    .map(|x| integer(x, &join(&p, "gw_priority"), "an integer"))
                    .transpose()?
                    .unwrap_or(0),
                interface_name: opt_string(&e.value, "interface_name", &p)?,
                as_mapping: !e.value.is_null(),
            },
        );
    }
    Ok(out)
}

/// The effective limits and reservations, from the values the attribute
/// readers parsed (`deploy.resources` over `mem_limit`, `cpus`, `pids_limit`
/// and `mem_reservation`): each size and count is read once.
fn effective_resources(s: &mut Service) {
    let deploy = s.deploy.as_ref().map(|d| &d.resources);
    let limits = deploy.and_then(|r| r.limits.as_ref());
    let reservations = deploy.and_then(|r| r.reservations.as_ref());
    let positive = |p: i64| u64::try_from(p).ok().filter(|p| *p > 0);
    s.limits = ResourceLimits {
        memory_bytes: limits.and_then(|l| l.memory).or(s.mem_limit),
        nano_cpus: limits.and_then(|l| l.cpus).or(s.cpus).map(nano_cpus_of),
        pids: limits
            .and_then(|l| l.pids)
            .or(s.pids_limit)
            .and_then(positive),
    };
    s.reservations = ResourceLimits {
        memory_bytes: reservations.and_then(|r| r.memory).or(s.mem_reservation),
        nano_cpus: reservations.and_then(|r| r.cpus).map(nano_cpus_of),
        pids: reservations.and_then(|r| r.pids).and_then(positive),
    };
}

/// Billionths of a CPU from a CPU count, computed in single precision as
/// docker compose does (its model holds `cpus` as a float32).
fn nano_cpus_of(cpus: f32) -> u64 {
    (cpus * 1e9).round() as u64
}

fn replicas(n: &Node, path: &str, s: &mut Service) -> Result<(), LoadError> {
    let scale: Option<u32> = field(n, "scale")
        .map(|x| integer(x, &join(path, "scale"), "a number of containers"))
        .transpose()?;
    let deploy_node = field(n, "deploy").and_then(|d| field(d, "replicas"));
    let deploy: Option<u32> = deploy_node
        .map(|x| integer(x, &join(path, "deploy.replicas"), "a number of containers"))
        .transpose()?;
    if let (Some(a), Some(b), Some(at)) = (scale, deploy, deploy_node) {
        if a != b {
            return Err(bad(
                &at.loc,
                &join(path, "deploy.replicas"),
                format!("scale ({a}) and deploy.replicas ({b}) differ: keep one of them"),
            ));
        }
    }
    s.replicas = deploy.or(scale).unwrap_or(1);
    Ok(())
}

fn restart(n: &Node, path: &str) -> Result<Option<String>, LoadError> {
    if let Some(r) = field(n, "restart") {
        let p = join(path, "restart");
        let v = string(r, &p)?;
        let ok = match v.as_str() {
            "no" | "always" | "unless-stopped" | "on-failure" => true,
            other => other
                .strip_prefix("on-failure:")
                .is_some_and(|n| n.parse::<u32>().is_ok()),
        };
        if !ok {
            return Err(bad(
                &r.loc,
                &p,
                format!("invalid restart policy {v:?}: use no, always, on-failure[:N] or unless-stopped"),
            ));
        }
        return Ok(Some(v));
    }
    // deploy.restart_policy when restart is not set.
    let Some(rp) = field(n, "deploy").and_then(|d| field(d, "restart_policy")) else {
        return Ok(None);
    };
    let p = join(path, "deploy.restart_policy");
    check_keys(rp, &p, keys::RESTART_POLICY)?;
    let attempts: Option<u32> = field(rp, "max_attempts")
        .map(|x| integer(x, &join(&p, "max_attempts"), "a number"))
        .transpose()?;
    let condition = opt_string(rp, "condition", &p)?.unwrap_or_else(|| "any".into());
    Ok(Some(match condition.as_str() {
        "none" => "no".into(),
        "any" => "always".into(),
        "on-failure" => match attempts {
            Some(a) => format!("on-failure:{a}"),
            None => "on-failure".into(),
        },
        other => {
            let at = field(rp, "condition").unwrap_or(rp);
            return Err(bad(
                &at.loc,
                &join(&p, "condition"),
                format!("unknown condition {other:?}: use none, on-failure or any"),
            ));
        }
    }))
}

fn healthcheck(h: &Node, path: &str) -> Result<Healthcheck, LoadError> {
    check_keys(h, path, keys::HEALTHCHECK)?;
    let disabled = opt_bool(h, "disable", path)?.unwrap_or(false);
    let test = if disabled {
        vec!["NONE".to_string()]
    } else {
        match field(h, "test") {
            Some(t) => {
                let p = join(path, "test");
                let test = string_list(t, &p)?;
                if !matches!(
                    test.first().map(String::as_str),
                    Some("CMD" | "CMD-SHELL" | "NONE")
                ) {
                    return Err(bad(
                        &t.loc,
                        &p,
                        "a list test must start with \"CMD\", \"CMD-SHELL\" or \"NONE\"",
                    ));
                }
                test
            }
            None => Vec::new(),
        }
    };
    Ok(Healthcheck {
        test,
        interval: opt_duration(h, "interval", path)?,
        timeout: opt_duration(h, "timeout", path)?,
        retries: field(h, "retries")
            .map(|r| integer(r, &join(path, "retries"), "a number of retries"))
            .transpose()?,
        start_period: opt_duration(h, "start_period", path)?,
        start_interval: opt_duration(h, "start_interval", path)?,
        disable: disabled,
    })
}
