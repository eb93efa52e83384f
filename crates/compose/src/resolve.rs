//! Include and extends stage: runs on each file's canonical tree, before the
//! files given with `-f` are merged.
//!
//! `include` loads another Compose project (its own files, project directory
//! and `.env`), makes its relative paths absolute against its project
//! directory and adds its services, networks, volumes, secrets and configs;
//! a name defined differently on both sides is an error. `extends` lays a
//! service over the service it names (in the same file or another one, whose
//! relative paths are made absolute against that file's directory), with the
//! same merge rules as override files.

use crate::canonical::{self, bad, join};
use crate::discover::{absolute, display_name};
use crate::dotenv;
use crate::error::{LoadError, LoadErrorKind, Location};
use crate::interpolate::{self, Unset};
use crate::merge;
use crate::yaml::{self, Entry, Node, ScalarKind, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How deep `include` and `extends` chains may go before they are taken for a cycle.
const MAX_DEPTH: usize = 32;

/// What resolving needs from the load.
pub struct Resolver<'a> {
    pub cwd: &'a Path,
    /// The shell environment (over any included project's `.env`).
    pub shell: &'a BTreeMap<String, String>,
    pub unset: &'a mut Unset,
    /// What the files ask for that is ignored, as docker compose ignores it.
    pub warnings: &'a mut Vec<String>,
    /// Files being included, outermost first (cycle detection).
    pub including: Vec<PathBuf>,
}

/// Parses, checks, interpolates and canonicalizes one file's text.
pub fn read_docs(
    text: &str,
    display: std::sync::Arc<str>,
    env: &BTreeMap<String, String>,
    unset: &mut Unset,
    warnings: &mut Vec<String>,
) -> Result<Vec<Node>, LoadError> {
    let parsed = yaml::parse(text, display.clone())?;
    if parsed.iter().all(Node::is_null) {
        return Err(LoadError::new(
            LoadErrorKind::Yaml,
            format!("{display}: empty compose file"),
        ));
    }
    let mut docs = Vec::new();
    for mut doc in parsed {
        if doc.is_null() {
            continue;
        }
        if doc.as_map().is_none() {
            return Err(bad(
                &doc.loc,
                "",
                // Not the text: a mistaken path may name a file the user did not write.
                format!(
                    "the top level must be a mapping, not {}: is this a Compose file?",
                    doc.kind_name()
                ),
            ));
        }
        interpolate::interpolate_tree(&mut doc, "", env, unset)?;
        canonical::canonicalize(&mut doc, warnings)?;
        docs.push(doc);
    }
    Ok(docs)
}

fn read_text(path: &Path, cwd: &Path, at: Option<(&Location, &str)>) -> Result<String, LoadError> {
    crate::source::read_text(path).map_err(|e| {
        let file = display_name(cwd, path);
        if let Some((line, column)) = e.position() {
            let here = Location { file, line, column };
            return LoadError::at(LoadErrorKind::Yaml, here, "", e.to_string());
        }
        let msg = format!("cannot read {file}: {e}");
        match at {
            Some((loc, p)) => LoadError::at(LoadErrorKind::Files, loc.clone(), p, msg),
            None => LoadError::new(LoadErrorKind::Files, msg),
        }
    })
}

/// Resolves `include` and then `extends` in `doc`, read from `file` (absolute).
pub fn resolve(
    doc: &mut Node,
    file: &Path,
    env: &BTreeMap<String, String>,
    r: &mut Resolver,
) -> Result<(), LoadError> {
    includes(doc, file, r)?;
    extends_all(doc, file, env, r)
}

fn dir_of(file: &Path) -> PathBuf {
    file.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

fn strings(node: Option<&Node>) -> Vec<(String, Location)> {
    match node.map(|n| &n.value) {
        Some(Value::Seq(items)) => items
            .iter()
            .filter_map(|i| match &i.value {
                Value::Scalar(t, k) if *k != ScalarKind::Null => Some((t.clone(), i.loc.clone())),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn includes(doc: &mut Node, file: &Path, r: &mut Resolver) -> Result<(), LoadError> {
    let Some(pos) = doc
        .as_map()
        .and_then(|m| m.iter().position(|e| e.key == "include"))
    else {
        return Ok(());
    };
    let Some(map) = doc.as_map_mut() else {
        return Ok(());
    };
    let inc = map.remove(pos);
    let Value::Seq(items) = inc.value.value else {
        return Ok(());
    };
    let base = dir_of(file);
    for (i, item) in items.iter().enumerate() {
        let ipath = format!("include[{i}]");
        if let Some(m) = item.as_map() {
            for e in m {
                if !matches!(e.key.as_str(), "path" | "project_directory" | "env_file") {
                    return Err(bad(
                        &e.key_loc,
                        &ipath,
                        crate::keys::unknown_key_message(
                            &e.key,
                            &["path", "project_directory", "env_file"],
                            false,
                        ),
                    ));
                }
            }
        }
        let paths = strings(item.get("path"));
        if paths.is_empty() {
            return Err(bad(
                &item.loc,
                &ipath,
                "path is required: the Compose file(s) to include",
            ));
        }
        let files: Vec<(PathBuf, Location)> = paths
            .iter()
            .map(|(p, l)| (absolute(&base, Path::new(p)), l.clone()))
            .collect();
        let project_dir = match item.get("project_directory").filter(|n| !n.is_null()) {
            Some(n) => match &n.value {
                Value::Scalar(t, _) => absolute(&base, Path::new(t)),
                _ => {
                    return Err(bad(
                        &n.loc,
                        &join(&ipath, "project_directory"),
                        format!("must be a path, not {}", n.describe()),
                    ))
                }
            },
            None => dir_of(&files[0].0),
        };
        // The included project's interpolation environment.
        let env_files: Vec<(PathBuf, bool)> = match item.get("env_file") {
            Some(n) if !n.is_null() => strings(Some(n))
                .into_iter()
                .map(|(p, _)| (absolute(&base, Path::new(&p)), true))
                .collect(),
            _ => vec![(project_dir.join(".env"), false)],
        };
        let mut env: BTreeMap<String, String> = BTreeMap::new();
        for (path, required) in env_files {
            let text = match crate::source::read_text(&path) {
                Ok(t) => t,
                Err(e) if e.is_not_found() && !required => continue,
                Err(e) => {
                    return Err(LoadError::at(
                        LoadErrorKind::EnvFile,
                        item.loc.clone(),
                        join(&ipath, "env_file"),
                        format!(
                            "cannot read the env file {}: {e}",
                            display_name(r.cwd, &path)
                        ),
                    ))
                }
            };
            let shell = r.shell;
            let so_far = env.clone();
            let lookup = |k: &str| shell.get(k).or_else(|| so_far.get(k)).cloned();
            for (k, v) in dotenv::parse(&text, display_name(r.cwd, &path), &lookup)? {
                env.insert(k, v);
            }
        }
        for (k, v) in r.shell {
            env.insert(k.clone(), v.clone());
        }
        // Load and merge the included files.
        let mut merged: Option<Node> = None;
        for (path, loc) in &files {
            if r.including.contains(path) || r.including.len() >= MAX_DEPTH {
                let chain: Vec<String> = r
                    .including
                    .iter()
                    .chain(std::iter::once(path))
                    .map(|p| display_name(r.cwd, p).to_string())
                    .collect();
                return Err(LoadError::at(
                    LoadErrorKind::Reference,
                    loc.clone(),
                    ipath.clone(),
                    format!("include cycle: {}", chain.join(" -> ")),
                ));
            }
            let text = read_text(path, r.cwd, Some((loc, &ipath)))?;
            let docs = read_docs(&text, display_name(r.cwd, path), &env, r.unset, r.warnings)?;
            for mut d in docs {
                r.including.push(path.clone());
                let res = resolve(&mut d, path, &env, r);
                r.including.pop();
                res?;
                match &mut merged {
                    None => {
                        merge::finalize(&mut d);
                        merged = Some(d);
                    }
                    Some(m) => merge::merge(m, d),
                }
            }
        }
        let Some(mut sub) = merged else { continue };
        absolutize_project(&mut sub, &project_dir);
        add_included(doc, sub, &ipath)?;
    }
    Ok(())
}

/// Adds an included project's resources to `doc`; the same name defined differently is an error.
fn add_included(doc: &mut Node, sub: Node, ipath: &str) -> Result<(), LoadError> {
    let Value::Map(sections) = sub.value else {
        return Ok(());
    };
    for section in sections {
        if !crate::keys::TOP_LEVEL.contains(&section.key.as_str()) && !section.key.starts_with("x-")
        {
            // The key is not shown: a mistaken include may name a file
            // the user did not write (`/etc/shadow`).
            return Err(bad(
                &section.key_loc,
                "",
                format!(
                    "unknown top-level key in the file included at {ipath}: is this a Compose file?"
                ),
            ));
        }
        if !matches!(
            section.key.as_str(),
            "services" | "networks" | "volumes" | "secrets" | "configs" | "models"
        ) {
            continue;
        }
        let Value::Map(items) = section.value.value else {
            continue;
        };
        let Some(root) = doc.as_map_mut() else {
            return Ok(());
        };
        let target = match root.iter().position(|e| e.key == section.key) {
            Some(p) => p,
            None => {
                root.push(Entry {
                    key: section.key.clone(),
                    key_loc: section.key_loc.clone(),
                    value: Node::map(Vec::new(), section.value.loc.clone()),
                });
                root.len() - 1
            }
        };
        let slot = &mut root[target].value;
        if slot.is_null() {
            *slot = Node::map(Vec::new(), slot.loc.clone());
        }
        let Some(existing) = slot.as_map_mut() else {
            continue;
        };
        for item in items {
            match existing.iter().find(|e| e.key == item.key) {
                Some(e) if e.value.same(&item.value) => {}
                Some(e) => {
                    return Err(LoadError::at(
                        LoadErrorKind::Reference,
                        e.key_loc.clone(),
                        join(&section.key, &item.key),
                        format!(
                            "{} {:?} is also defined, differently, by the file included at {} ({}): rename one of them",
                            &section.key[..section.key.len() - 1],
                            item.key,
                            item.key_loc,
                            ipath
                        ),
                    ))
                }
                None => existing.push(item),
            }
        }
    }
    Ok(())
}

fn is_relative_path(p: &str) -> bool {
    !p.is_empty()
        && !p.starts_with('/')
        && !crate::syntax::is_windows_absolute(p)
        && !p.starts_with('~')
        && !p.contains("://")
        && !p.starts_with("git@")
}

fn text_of(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar(t, k) if *k != ScalarKind::Null => Some(t),
        _ => None,
    }
}

fn absolutize_scalar(node: &mut Node, base: &Path) {
    if let Value::Scalar(t, k) = &mut node.value {
        if *k != ScalarKind::Null && is_relative_path(t) {
            *t = absolute(base, Path::new(t.as_str()))
                .to_string_lossy()
                .into_owned();
            *k = ScalarKind::Str;
        }
    }
}

/// Makes the relative host paths of one (canonical) service absolute against `base`.
pub fn absolutize_service(svc: &mut Node, base: &Path) {
    if let Some(ctx) = svc.get_mut("build").and_then(|b| b.get_mut("context")) {
        absolutize_scalar(ctx, base);
    }
    if let Some(Value::Map(contexts)) = svc
        .get_mut("build")
        .and_then(|b| b.get_mut("additional_contexts"))
        .map(|c| &mut c.value)
    {
        for e in contexts {
            if text_of(&e.value).is_some_and(crate::typed::is_local_context) {
                absolutize_scalar(&mut e.value, base);
            }
        }
    }
    if let Some(Value::Seq(items)) = svc.get_mut("volumes").map(|v| &mut v.value) {
        for item in items {
            let is_bind = item
                .get("type")
                .is_some_and(|t| matches!(&t.value, Value::Scalar(x, _) if x == "bind"));
            if is_bind {
                if let Some(src) = item.get_mut("source") {
                    absolutize_scalar(src, base);
                }
            }
        }
    }
    if let Some(Value::Seq(items)) = svc.get_mut("env_file").map(|v| &mut v.value) {
        for item in items {
            if let Some(p) = item.get_mut("path") {
                absolutize_scalar(p, base);
            }
        }
    }
    if let Some(Value::Seq(items)) = svc.get_mut("label_file").map(|v| &mut v.value) {
        for item in items {
            absolutize_scalar(item, base);
        }
    }
    if let Some(Value::Seq(items)) = svc
        .get_mut("develop")
        .and_then(|d| d.get_mut("watch"))
        .map(|v| &mut v.value)
    {
        for item in items {
            if let Some(p) = item.get_mut("path") {
                absolutize_scalar(p, base);
            }
        }
    }
    if let Some(f) = svc.get_mut("extends").and_then(|e| e.get_mut("file")) {
        absolutize_scalar(f, base);
    }
}

fn absolutize_project(doc: &mut Node, base: &Path) {
    if let Some(Value::Map(services)) = doc.get_mut("services").map(|s| &mut s.value) {
        for s in services {
            absolutize_service(&mut s.value, base);
        }
    }
    if let Some(Value::Map(volumes)) = doc.get_mut("volumes").map(|v| &mut v.value) {
        for v in volumes {
            let Some(opts) = v.value.get_mut("driver_opts") else {
                continue;
            };
            let binds = opts
                .get("o")
                .and_then(text_of)
                .is_some_and(crate::typed::binds_device);
            if let (true, Some(device)) = (binds, opts.get_mut("device")) {
                absolutize_scalar(device, base);
            }
        }
    }
    for section in ["secrets", "configs"] {
        if let Some(Value::Map(items)) = doc.get_mut(section).map(|s| &mut s.value) {
            for item in items {
                if let Some(f) = item.value.get_mut("file") {
                    absolutize_scalar(f, base);
                }
            }
        }
    }
}

/// A file read for `extends`, kept so that each is read once.
struct Extended {
    services: Vec<Entry>,
}

fn extends_all(
    doc: &mut Node,
    file: &Path,
    env: &BTreeMap<String, String>,
    r: &mut Resolver,
) -> Result<(), LoadError> {
    let Some(services) = doc.get_mut("services").and_then(Node::as_map_mut) else {
        return Ok(());
    };
    let mut cache: BTreeMap<PathBuf, Extended> = BTreeMap::new();
    let names: Vec<String> = services.iter().map(|e| e.key.clone()).collect();
    for name in names {
        let mut stack = Vec::new();
        extend_one(services, &name, file, env, r, &mut cache, &mut stack)?;
    }
    Ok(())
}

/// Resolves `extends` of service `name` among `services` (of `file`).
fn extend_one(
    services: &mut [Entry],
    name: &str,
    file: &Path,
    env: &BTreeMap<String, String>,
    r: &mut Resolver,
    cache: &mut BTreeMap<PathBuf, Extended>,
    stack: &mut Vec<(PathBuf, String)>,
) -> Result<(), LoadError> {
    let Some(idx) = services.iter().position(|e| e.key == name) else {
        return Ok(());
    };
    let path = format!("services.{name}.extends");
    let Some(pos) = services[idx]
        .value
        .as_map()
        .and_then(|m| m.iter().position(|e| e.key == "extends"))
    else {
        return Ok(());
    };
    let here = (file.to_path_buf(), name.to_string());
    if stack.contains(&here) || stack.len() >= MAX_DEPTH {
        let chain: Vec<String> = stack
            .iter()
            .chain(std::iter::once(&here))
            .map(|(_, s)| s.clone())
            .collect();
        let loc = services[idx]
            .value
            .as_map()
            .map_or(services[idx].key_loc.clone(), |m| m[pos].key_loc.clone());
        return Err(LoadError::at(
            LoadErrorKind::Cycle,
            loc,
            path,
            format!("extends cycle: {}", chain.join(" -> ")),
        ));
    }
    stack.push(here);
    // `extends` stays in place while the base resolves, so a cycle finds it.
    let ext_node = match services[idx].value.as_map() {
        Some(m) => m[pos].value.clone(),
        None => return Ok(()),
    };
    if ext_node.as_map().is_none() {
        return Err(bad(
            &ext_node.loc,
            &path,
            "must be a service name or a mapping with service",
        ));
    }
    for e in ext_node.as_map().into_iter().flatten() {
        if !matches!(e.key.as_str(), "service" | "file") {
            return Err(bad(
                &e.key_loc,
                &path,
                crate::keys::unknown_key_message(&e.key, &["service", "file"], false),
            ));
        }
    }
    let base_name = match ext_node.get("service").map(|n| &n.value) {
        Some(Value::Scalar(t, k)) if *k != ScalarKind::Null => t.clone(),
        _ => {
            return Err(bad(
                &ext_node.loc,
                &path,
                "service is required: the name of the service to extend",
            ))
        }
    };
    let other_file = match ext_node.get("file").map(|n| (&n.value, &n.loc)) {
        Some((Value::Scalar(t, k), _)) if *k != ScalarKind::Null => {
            Some(absolute(&dir_of(file), Path::new(t)))
        }
        Some((_, loc)) => return Err(bad(loc, &join(&path, "file"), "must be a path")),
        None => None,
    };
    let base = match other_file {
        None => {
            if base_name == name {
                stack.pop();
                return Err(LoadError::at(
                    LoadErrorKind::Cycle,
                    ext_node.loc.clone(),
                    path,
                    format!("extends cycle: {name} -> {name}"),
                ));
            }
            extend_one(services, &base_name, file, env, r, cache, stack)?;
            match services.iter().find(|e| e.key == base_name) {
                Some(b) => b.value.clone(),
                None => {
                    let names: Vec<&str> = services.iter().map(|e| e.key.as_str()).collect();
                    return Err(LoadError::at(
                        LoadErrorKind::Reference,
                        ext_node.loc.clone(),
                        join(&path, "service"),
                        format!(
                            "service {base_name:?} is not defined in this file (services: {})",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
        Some(other) => {
            if !cache.contains_key(&other) {
                let loc = ext_node
                    .get("file")
                    .map_or(ext_node.loc.clone(), |n| n.loc.clone());
                let text = read_text(&other, r.cwd, Some((&loc, &join(&path, "file"))))?;
                let mut docs =
                    read_docs(&text, display_name(r.cwd, &other), env, r.unset, r.warnings)?;
                let mut doc = if docs.is_empty() {
                    Node::map(Vec::new(), loc.clone())
                } else {
                    docs.remove(0)
                };
                r.including.push(other.clone());
                let res = includes(&mut doc, &other, r);
                r.including.pop();
                res?;
                let services = match doc.get("services").and_then(Node::as_map) {
                    Some(m) => m.clone(),
                    None => Vec::new(),
                };
                cache.insert(other.clone(), Extended { services });
            }
            let mut other_services = match cache.get(&other) {
                Some(x) => x.services.clone(),
                None => Vec::new(),
            };
            let mut other_cache = BTreeMap::new();
            extend_one(
                &mut other_services,
                &base_name,
                &other,
                env,
                r,
                &mut other_cache,
                stack,
            )?;
            match other_services.iter().find(|e| e.key == base_name) {
                Some(b) => {
                    let mut b = b.value.clone();
                    absolutize_service(&mut b, &dir_of(&other));
                    b
                }
                None => {
                    let names: Vec<&str> = other_services.iter().map(|e| e.key.as_str()).collect();
                    return Err(LoadError::at(
                        LoadErrorKind::Reference,
                        ext_node.loc.clone(),
                        join(&path, "service"),
                        format!(
                            "service {base_name:?} is not defined in {} (services: {})",
                            display_name(r.cwd, &other),
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
    };
    stack.pop();
    let mut merged = base;
    merge::finalize(&mut merged);
    if let Some(m) = services[idx].value.as_map_mut() {
        m.retain(|e| e.key != "extends");
    }
    let over = std::mem::replace(&mut services[idx].value, Node::null(ext_node.loc.clone()));
    merge::merge_service(&mut merged, name, over);
    services[idx].value = merged;
    Ok(())
}
