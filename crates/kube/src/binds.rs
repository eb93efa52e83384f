//! Bind mounts of the project's own files → ConfigMaps. A read-only bind of
//! a regular file is one key mounted with `subPath`; a read-only bind of a
//! directory is one key a regular file directly in it (as `kubectl create
//! configmap --from-file=DIR` reads it), mounted whole at the same path.
//! Subdirectories, links and special files in it are reported, as is
//! anything whose data would not fit a ConfigMap (1 MiB). Every other bind
//! mount is reported and dropped: a host path is never mounted as a hostPath.

use crate::error::KubeError;
use crate::storage::{mount, PodStorage};
use crate::{names, Ctx};
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::path::Path;
use wharf_compose::ServiceVolume;

/// The most data a ConfigMap may hold.
pub const MAX_CONFIGMAP_DATA: u64 = 1 << 20;

/// One file a ConfigMap carries: its key, its name in the mount, its bytes.
struct Entry {
    key: String,
    file_name: String,
    bytes: Vec<u8>,
}

/// Mounts the bind mount `v` (entry `i` of the service's volumes, at YAML
/// path `path`) as a ConfigMap when it can be carried, else reports why not.
pub fn bind(
    ctx: &mut Ctx,
    v: &ServiceVolume,
    i: usize,
    path: &str,
    out: &mut PodStorage,
) -> Result<(), KubeError> {
    let source = Path::new(v.source.as_deref().unwrap_or_default());
    let project_dir = &ctx.project.working_dir;
    let Ok(relative) = source.strip_prefix(project_dir) else {
        ctx.report.add(
            path,
            format!(
                "bind mount of {} outside the project: not mounted as a hostPath (dropped)",
                source.display()
            ),
        );
        return Ok(());
    };
    let shown = format!("./{}", relative.display());
    let meta = match std::fs::metadata(source) {
        Ok(m) => m,
        Err(e) => {
            ctx.report.add(
                path,
                format!("bind mount of {}: {e} (dropped)", source.display()),
            );
            return Ok(());
        }
    };
    let not_carried = |ctx: &mut Ctx, why: &str| {
        ctx.report.add(path, format!("bind mount of {shown}: {why}, so no ConfigMap carries it; use a volume or build it into the image (dropped)"));
    };
    if !meta.is_file() && !meta.is_dir() {
        not_carried(ctx, "is neither a regular file nor a directory");
        return Ok(());
    }
    if !v.read_only {
        not_carried(ctx, "is writable (add `:ro` to carry it as a ConfigMap)");
        return Ok(());
    }
    let read = |file: &Path| {
        std::fs::read(file).map_err(|e| KubeError::Read {
            path: path.to_string(),
            file: file.to_path_buf(),
            source: e,
        })
    };
    let (prefix, entries) = if meta.is_dir() {
        ("dir", directory_entries(ctx, path, source, &shown, read)?)
    } else {
        if meta.len() > MAX_CONFIGMAP_DATA {
            not_carried(ctx, "is larger than 1 MiB");
            return Ok(());
        }
        let file_name = source
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let entry = Entry {
            key: names::data_key(&file_name),
            file_name,
            bytes: read(source)?,
        };
        ("file", vec![entry])
    };
    let total: u64 = entries.iter().map(|e| e.bytes.len() as u64).sum();
    if total > MAX_CONFIGMAP_DATA {
        not_carried(
            ctx,
            &format!("its files hold {total} bytes, more than the 1 MiB a ConfigMap holds"),
        );
        return Ok(());
    }
    let name = names::dns_label(
        &format!("{prefix}-{}", relative.display()),
        names::MAX_LABEL,
    );
    if !ctx.has("ConfigMap", &name) {
        let object = config_map(ctx, &name, &entries);
        ctx.push(object);
    }
    report_bind_options(ctx, v, path);
    let vol_name = format!("bind-{i}");
    let mut config_map = json!({"name": name});
    let mut m = mount(&vol_name, &v.target, true);
    if meta.is_dir() {
        if entries.iter().any(|e| e.key != e.file_name) {
            let items: Vec<Value> = entries
                .iter()
                .map(|e| json!({"key": e.key, "path": e.file_name}))
                .collect();
            config_map["items"] = json!(items);
        }
    } else {
        m.insert("subPath".into(), json!(entries[0].key));
    }
    out.volumes
        .push(json!({"name": vol_name, "configMap": config_map}));
    out.mounts.push(Value::Object(m));
    let what = if meta.is_dir() {
        let count = entries.len();
        format!(
            " with its {count} file{}",
            if count == 1 { "" } else { "s" }
        )
    } else {
        String::new()
    };
    ctx.report.add(
        path,
        format!("bind mount of {shown}: carried as ConfigMap {name}{what} (a copy taken now; edit it there)"),
    );
    Ok(())
}

/// The regular files directly in `dir`, by name; the rest is reported.
fn directory_entries(
    ctx: &mut Ctx,
    path: &str,
    dir: &Path,
    shown: &str,
    read: impl Fn(&Path) -> Result<Vec<u8>, KubeError>,
) -> Result<Vec<Entry>, KubeError> {
    let listing = std::fs::read_dir(dir).map_err(|e| KubeError::Read {
        path: path.to_string(),
        file: dir.to_path_buf(),
        source: e,
    })?;
    let mut files = Vec::new();
    for item in listing {
        let item = item.map_err(|e| KubeError::Read {
            path: path.to_string(),
            file: dir.to_path_buf(),
            source: e,
        })?;
        files.push(item.path());
    }
    files.sort();
    let mut entries: Vec<Entry> = Vec::new();
    for file in files {
        let file_name = file
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let kind = std::fs::symlink_metadata(&file).map(|m| m.file_type());
        let skipped = match kind {
            Ok(t) if t.is_file() => None,
            Ok(t) if t.is_dir() => Some("a subdirectory"),
            Ok(t) if t.is_symlink() => Some("a symbolic link"),
            _ => Some("not a regular file"),
        };
        if let Some(what) = skipped {
            ctx.report.add(
                path,
                format!(
                    "{shown}/{file_name} is {what}, which a ConfigMap does not carry (dropped)"
                ),
            );
            continue;
        }
        let key = names::data_key(&file_name);
        if let Some(first) = entries.iter().find(|e| e.key == key) {
            ctx.report.add(
                path,
                format!(
                    "{shown}/{file_name} and {shown}/{} both become the key {key:?}: only the first is carried (dropped)",
                    first.file_name
                ),
            );
            continue;
        }
        entries.push(Entry {
            key,
            file_name,
            bytes: read(&file)?,
        });
    }
    Ok(entries)
}

/// A ConfigMap with text files under `data` and the others under `binaryData`.
fn config_map(ctx: &Ctx, name: &str, entries: &[Entry]) -> Value {
    let (mut data, mut binary) = (Map::new(), Map::new());
    for e in entries {
        match std::str::from_utf8(&e.bytes) {
            Ok(text) => data.insert(e.key.clone(), json!(text)),
            Err(_) => binary.insert(
                e.key.clone(),
                json!(base64::engine::general_purpose::STANDARD.encode(&e.bytes)),
            ),
        };
    }
    let mut body = Map::new();
    if !data.is_empty() || binary.is_empty() {
        body.insert("data".into(), Value::Object(data));
    }
    if !binary.is_empty() {
        body.insert("binaryData".into(), Value::Object(binary));
    }
    let labels = ctx.meta.labels(None, name);
    ctx.meta
        .object("v1", "ConfigMap", name, labels, Value::Object(body))
}

fn report_bind_options(ctx: &mut Ctx, v: &ServiceVolume, path: &str) {
    let Some(b) = &v.bind else {
        return;
    };
    for (key, set) in [
        ("propagation", b.propagation.is_some()),
        ("selinux", b.selinux.is_some()),
        ("recursive", b.recursive.is_some()),
    ] {
        if set {
            ctx.report.add(
                format!("{path}.bind.{key}"),
                "has no meaning for a ConfigMap (dropped)",
            );
        }
    }
}
