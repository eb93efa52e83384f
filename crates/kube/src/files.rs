//! `configs` → ConfigMaps and `secrets` → Secrets (base64 in `data`), one
//! object per top-level key that a service uses, each mounted with `subPath`
//! at the path Compose would use (`/<source>` for a config,
//! `/run/secrets/<source>` for a secret) with its `mode` as the item's mode.
//! External ones must already exist under their `name`; `uid` and `gid` have
//! no equivalent and are reported.

use crate::error::KubeError;
use crate::{names, Ctx};
use base64::Engine as _;
use serde_json::{json, Value};
use wharf_compose::{FileObject, Service};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Config,
    Secret,
}

impl Kind {
    fn section(self) -> &'static str {
        match self {
            Kind::Config => "configs",
            Kind::Secret => "secrets",
        }
    }
}

fn object_name(key: &str, object: &FileObject) -> String {
    if object.external {
        names::dns_label(&object.name, names::MAX_LABEL)
    } else {
        names::dns_label(key, names::MAX_LABEL)
    }
}

fn used(ctx: &Ctx, kind: Kind, key: &str) -> bool {
    ctx.project.services.values().any(|s| {
        let refs = match kind {
            Kind::Config => &s.configs,
            Kind::Secret => &s.secrets,
        };
        refs.iter().any(|r| r.source == key)
    })
}

/// The ConfigMaps and Secrets of the configs and secrets services use.
pub fn objects(ctx: &mut Ctx) -> Result<(), KubeError> {
    for kind in [Kind::Config, Kind::Secret] {
        let section = match kind {
            Kind::Config => &ctx.project.configs,
            Kind::Secret => &ctx.project.secrets,
        };
        for (key, object) in section {
            let path = format!("{}.{key}", kind.section());
            let name = object_name(key, object);
            if !used(ctx, kind, key) {
                ctx.report
                    .add(path, "no service uses it: not written (dropped)");
                continue;
            }
            if object.external {
                let what = if kind == Kind::Config {
                    "ConfigMap"
                } else {
                    "Secret"
                };
                ctx.report.add(format!("{path}.external"), format!("the {what} {name:?} must exist in the namespace, with the key {:?} (not written)", names::data_key(key)));
                continue;
            }
            if name != *key {
                ctx.report.add(
                    path.clone(),
                    format!("not a valid Kubernetes name: named {name:?}"),
                );
            }
            let bytes = content(&path, object)?;
            let data_key = names::data_key(key);
            let labels = ctx.meta.labels(None, &name);
            let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
            let value = match kind {
                Kind::Secret => ctx.meta.object(
                    "v1",
                    "Secret",
                    &name,
                    labels,
                    json!({"type": "Opaque", "data": {data_key: b64(&bytes)}}),
                ),
                Kind::Config => {
                    let data = match String::from_utf8(bytes) {
                        Ok(text) => json!({"data": {data_key: text}}),
                        Err(e) => json!({"binaryData": {data_key: b64(e.as_bytes())}}),
                    };
                    ctx.meta.object("v1", "ConfigMap", &name, labels, data)
                }
            };
            ctx.push(value);
        }
    }
    Ok(())
}

fn content(path: &str, object: &FileObject) -> Result<Vec<u8>, KubeError> {
    if let Some(text) = &object.content {
        return Ok(text.clone().into_bytes());
    }
    if let Some(var) = &object.environment {
        return object
            .environment_value
            .clone()
            .map(String::into_bytes)
            .ok_or_else(|| {
                KubeError::invalid(
                    format!("{path}.environment"),
                    format!("the variable {var} is not set: set it, or use `file`"),
                )
            });
    }
    if let Some(file) = &object.file {
        return std::fs::read(file).map_err(|e| KubeError::Read {
            path: format!("{path}.file"),
            file: file.clone(),
            source: e,
        });
    }
    Err(KubeError::invalid(
        path,
        "has no `file`, `environment` or `content`",
    ))
}

/// The volumes and mounts of `service`'s configs and secrets.
pub fn pod_files(ctx: &mut Ctx, s: &Service) -> (Vec<Value>, Vec<Value>) {
    let (mut volumes, mut mounts) = (Vec::new(), Vec::new());
    for kind in [Kind::Config, Kind::Secret] {
        let refs = match kind {
            Kind::Config => &s.configs,
            Kind::Secret => &s.secrets,
        };
        for (i, r) in refs.iter().enumerate() {
            let path = format!("services.{}.{}[{i}]", s.name, kind.section());
            let section = match kind {
                Kind::Config => &ctx.project.configs,
                Kind::Secret => &ctx.project.secrets,
            };
            let Some(object) = section.get(&r.source) else {
                continue;
            };
            let name = object_name(&r.source, object);
            let target = match (&r.target, kind) {
                (Some(t), _) if t.starts_with('/') => t.clone(),
                (Some(t), Kind::Secret) => format!("/run/secrets/{t}"),
                (Some(t), Kind::Config) => format!("/{t}"),
                (None, Kind::Secret) => format!("/run/secrets/{}", r.source),
                (None, Kind::Config) => format!("/{}", r.source),
            };
            if r.uid.is_some() || r.gid.is_some() {
                ctx.report.add(path.clone(), "uid and gid: Kubernetes sets a mounted file's group only through the pod's fsGroup (dropped)");
            }
            let key = names::data_key(&r.source);
            let mut item = json!({"key": key, "path": key});
            if let Some(mode) = r.mode {
                item["mode"] = json!(mode);
            }
            let vol_name = format!(
                "{}-{i}",
                match kind {
                    Kind::Config => "config",
                    Kind::Secret => "secret",
                }
            );
            volumes.push(match kind {
                Kind::Config => {
                    json!({"name": vol_name, "configMap": {"name": name, "items": [item]}})
                }
                Kind::Secret => {
                    json!({"name": vol_name, "secret": {"secretName": name, "items": [item]}})
                }
            });
            mounts.push(
                json!({"name": vol_name, "mountPath": target, "subPath": key, "readOnly": true}),
            );
        }
    }
    (volumes, mounts)
}
