//! Storage: named volumes → PersistentVolumeClaims (one per volume, shared by
//! every service that mounts it: ReadWriteOnce for one service, ReadWriteMany
//! for several, reported), or a StatefulSet's volumeClaimTemplates for a
//! volume only that StatefulSet mounts; anonymous volumes, `tmpfs` and
//! `shm_size` → emptyDirs; bind mounts through [`crate::binds`].

use crate::container::bytes_quantity;
use crate::error::KubeError;
use crate::{names, Ctx};
use serde_json::{json, Map, Value};
use wharf_compose::{Service, ServiceVolume, VolumeKind};

/// What a service's pod mounts.
#[derive(Debug, Default)]
pub struct PodStorage {
    pub volumes: Vec<Value>,
    pub mounts: Vec<Value>,
    pub claim_templates: Vec<Value>,
    /// It mounts a ReadWriteOnce claim (a rolling update could not start the
    /// new pod on another node).
    pub exclusive_claim: bool,
}

/// The claim name of the top-level volume `key`.
pub fn claim_name(ctx: &Ctx, key: &str) -> String {
    match ctx.project.volumes.get(key) {
        Some(v) if v.external => names::dns_label(&v.name, names::MAX_LABEL),
        _ => names::dns_label(key, names::MAX_LABEL),
    }
}

/// Whether the volume `key` is a volumeClaimTemplate of its only user.
fn is_template(ctx: &Ctx, key: &str) -> bool {
    let users = ctx.volume_users.get(key);
    let external = ctx.project.volumes.get(key).is_some_and(|v| v.external);
    !external && users.is_some_and(|u| u.len() == 1 && u.iter().all(|s| ctx.stateful.contains(s)))
}

fn claim_spec(ctx: &Ctx, mode: &str) -> Value {
    let mut spec = json!({
        "accessModes": [mode],
        "resources": {"requests": {"storage": ctx.options.volume_size}},
    });
    if let Some(class) = &ctx.options.storage_class {
        spec["storageClassName"] = json!(class);
    }
    spec
}

/// The PersistentVolumeClaims of the project's named volumes.
pub fn claims(ctx: &mut Ctx) -> Result<(), KubeError> {
    for (key, volume) in &ctx.project.volumes {
        let path = format!("volumes.{key}");
        let users = ctx.volume_users.get(key).cloned().unwrap_or_default();
        let name = claim_name(ctx, key);
        if volume.external {
            ctx.report.add(
                format!("{path}.external"),
                format!("the claim {name:?} must exist in the namespace (not written)"),
            );
            continue;
        }
        if users.is_empty() {
            ctx.report
                .add(path, "no service mounts it: no claim written (dropped)");
            continue;
        }
        if name != *key {
            ctx.report.add(
                path.clone(),
                format!("not a valid Kubernetes name: claim named {name:?}"),
            );
        }
        if is_template(ctx, key) {
            continue;
        }
        let replicated = users
            .iter()
            .any(|u| ctx.project.services.get(u).is_some_and(|s| s.replicas > 1));
        let mode = if users.len() > 1 || replicated {
            let list = users.iter().cloned().collect::<Vec<_>>().join(", ");
            ctx.report.add(
                path,
                format!("mounted by {list} (or by several replicas): one claim with access mode ReadWriteMany, which the storage class must support"),
            );
            "ReadWriteMany"
        } else {
            "ReadWriteOnce"
        };
        let labels = ctx.meta.labels(None, &name);
        let claim = ctx.meta.object(
            "v1",
            "PersistentVolumeClaim",
            &name,
            labels,
            json!({"spec": claim_spec(ctx, mode)}),
        );
        ctx.push(claim);
    }
    Ok(())
}

pub(crate) fn mount(name: &str, target: &str, read_only: bool) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("name".into(), json!(name));
    m.insert("mountPath".into(), json!(target));
    if read_only {
        m.insert("readOnly".into(), json!(true));
    }
    m
}

fn empty_dir(memory: bool, size: Option<u64>) -> Value {
    let mut e = Map::new();
    if memory {
        e.insert("medium".into(), json!("Memory"));
    }
    if let Some(size) = size {
        e.insert("sizeLimit".into(), json!(bytes_quantity(size)));
    }
    json!({"emptyDir": e})
}

/// What `service`'s pod mounts, with its ConfigMaps for bind-mounted files.
pub fn pod_storage(ctx: &mut Ctx, s: &Service) -> Result<PodStorage, KubeError> {
    let mut out = PodStorage::default();
    for (i, v) in s.volumes.iter().enumerate() {
        let path = format!("services.{}.volumes[{i}]", s.name);
        if v.kind != VolumeKind::Npipe && !v.target.starts_with('/') {
            ctx.report.add(
                format!("{path}.target"),
                format!(
                    "{:?} is not an absolute Linux path, which a pod cannot mount (dropped)",
                    v.target
                ),
            );
            continue;
        }
        match v.kind {
            VolumeKind::Volume => named_or_anonymous(ctx, s, v, i, &path, &mut out),
            VolumeKind::Tmpfs => {
                let name = format!("tmpfs-{i}");
                let size = v.tmpfs.as_ref().and_then(|t| t.size);
                if v.tmpfs.as_ref().is_some_and(|t| t.mode.is_some()) {
                    ctx.report.add(
                        format!("{path}.tmpfs.mode"),
                        "an emptyDir's mode cannot be set (dropped)",
                    );
                }
                let mut vol = empty_dir(true, size);
                vol["name"] = json!(name);
                out.volumes.push(vol);
                out.mounts
                    .push(Value::Object(mount(&name, &v.target, v.read_only)));
            }
            VolumeKind::Bind => crate::binds::bind(ctx, v, i, &path, &mut out)?,
            VolumeKind::Npipe => ctx.report.add(
                path.clone(),
                "a Windows named pipe has no equivalent in a Linux pod (dropped)",
            ),
        }
        let rendered = serde_json::to_value(v).unwrap_or_default();
        crate::keys::report_dropped_rendered(
            &path,
            &rendered,
            &Value::Null,
            crate::keys::SERVICE_VOLUME,
            &mut ctx.report,
        );
    }
    for (i, entry) in s.tmpfs.iter().enumerate() {
        let path = format!("services.{}.tmpfs[{i}]", s.name);
        let (target, opts) = entry.split_once(':').unwrap_or((entry.as_str(), ""));
        let mut size = None;
        for opt in opts.split(',').filter(|o| !o.is_empty()) {
            match opt.split_once('=') {
                Some(("size", value)) => {
                    size = Some(wharf_units::parse_bytes(value).map_err(|e| {
                        KubeError::invalid(path.clone(), format!("size {value:?}: {e}"))
                    })?)
                }
                _ => ctx.report.add(
                    path.clone(),
                    format!("option {opt:?} cannot be set on an emptyDir (dropped)"),
                ),
            }
        }
        let name = format!("tmp-{i}");
        let mut vol = empty_dir(true, size);
        vol["name"] = json!(name);
        out.volumes.push(vol);
        out.mounts.push(Value::Object(mount(&name, target, false)));
    }
    if let Some(shm) = s.shm_size {
        let mut vol = empty_dir(true, Some(shm));
        vol["name"] = json!("dshm");
        out.volumes.push(vol);
        out.mounts
            .push(Value::Object(mount("dshm", "/dev/shm", false)));
    }
    Ok(out)
}

fn named_or_anonymous(
    ctx: &mut Ctx,
    s: &Service,
    v: &ServiceVolume,
    i: usize,
    path: &str,
    out: &mut PodStorage,
) {
    let Some(key) = &v.source else {
        let name = format!("anon-{i}");
        ctx.report.add(path, format!("anonymous volume at {}: an emptyDir, whose data lives only as long as the pod (changed)", v.target));
        let mut vol = empty_dir(false, None);
        vol["name"] = json!(name);
        out.volumes.push(vol);
        out.mounts
            .push(Value::Object(mount(&name, &v.target, v.read_only)));
        return;
    };
    let claim = claim_name(ctx, key);
    let mut m = mount(&claim, &v.target, v.read_only);
    if let Some(opts) = &v.volume {
        if let Some(sub) = &opts.subpath {
            m.insert("subPath".into(), json!(sub));
        }
        if !opts.labels.is_empty() {
            ctx.report.add(
                format!("{path}.volume.labels"),
                "not copied to the claim (dropped)",
            );
        }
    }
    out.mounts.push(Value::Object(m));
    if out
        .volumes
        .iter()
        .chain(&out.claim_templates)
        .any(|x| x["name"] == json!(claim) || x["metadata"]["name"] == json!(claim))
    {
        return;
    }
    if is_template(ctx, key) {
        if s.replicas > 1 {
            ctx.report.add(path, format!("volume {key:?}: each of the {} replicas gets its own claim from the StatefulSet's template, where Compose shares one volume (changed)", s.replicas));
        }
        out.claim_templates
            .push(json!({"metadata": {"name": claim}, "spec": claim_spec(ctx, "ReadWriteOnce")}));
    } else {
        let shared = ctx.volume_users.get(key).is_some_and(|u| u.len() > 1) || s.replicas > 1;
        out.exclusive_claim |= !shared;
        out.volumes
            .push(json!({"name": claim, "persistentVolumeClaim": {"claimName": claim}}));
    }
}
