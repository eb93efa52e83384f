//! wharf-kube: converts a loaded Compose [`Project`] into Kubernetes
//! manifests, the way a careful engineer would by hand, and reports by name
//! every Compose key it changes or cannot carry over. Nothing is dropped
//! without a word: [`keys`] holds a rule for every key of the model, checked
//! by its tests against the model itself.
//!
//! One module a job: [`names`] (DNS labels), [`meta`] (labels and metadata),
//! [`container`] (the container spec), [`probes`] (healthchecks),
//! [`deps`] (`depends_on` as init containers), [`storage`] (volumes, claims),
//! [`binds`] (bind-mounted project files and directories as ConfigMaps), [`files`] (configs and secrets), [`workload`]
//! (Deployment, StatefulSet or Job), [`network`] (Services and Ingress),
//! [`policies`] (NetworkPolicies), [`yaml`] (the emitter). Not for: talking to a cluster.

pub mod binds;
pub mod container;
pub mod deps;
pub mod error;
pub mod files;
pub mod keys;
pub mod meta;
pub mod names;
pub mod network;
pub mod options;
pub mod policies;
pub mod probes;
pub mod report;
pub mod storage;
pub mod workload;
pub mod yaml;

pub use error::KubeError;
pub use options::{Controller, Options, ServiceType};
pub use report::{Finding, Report};

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use wharf_compose::{DependencyCondition, Project};

/// One Kubernetes object.
#[derive(Debug, Clone)]
pub struct Manifest {
    pub kind: String,
    pub name: String,
    pub value: Value,
}

impl Manifest {
    /// `<name>-<kind>.yaml`, the file it is written to.
    pub fn file_name(&self) -> String {
        format!("{}-{}.yaml", self.name, self.kind.to_ascii_lowercase())
    }

    pub fn to_yaml(&self) -> String {
        yaml::to_yaml(&self.value)
    }
}

/// The manifests of a project and what the conversion reported.
#[derive(Debug, Clone)]
pub struct Conversion {
    pub manifests: Vec<Manifest>,
    pub report: Report,
}

impl Conversion {
    /// Every manifest in one `---`-separated YAML stream.
    pub fn to_stream(&self) -> String {
        self.manifests
            .iter()
            .map(|m| format!("---\n{}", m.to_yaml()))
            .collect()
    }
}

/// What the converters share while a project is converted.
pub struct Ctx<'a> {
    pub project: &'a Project,
    pub options: &'a Options,
    pub meta: meta::Meta,
    pub report: Report,
    pub manifests: Vec<Manifest>,
    /// Compose service name → Kubernetes name.
    pub names: BTreeMap<String, String>,
    /// Services written as Jobs: others wait for them to complete.
    pub jobs: BTreeSet<String>,
    /// Services written as StatefulSets.
    pub stateful: BTreeSet<String>,
    /// Named volume key → the services that mount it.
    pub volume_users: BTreeMap<String, BTreeSet<String>>,
    /// `Service::default()` rendered: what "unset" means for a service key.
    pub service_defaults: Value,
}

impl Ctx<'_> {
    /// Adds an object; its kind and name come from the object itself.
    pub fn push(&mut self, value: Value) {
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let name = value["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.manifests.push(Manifest { kind, name, value });
    }

    /// The Kubernetes name of a Compose service.
    pub fn name_of(&self, service: &str) -> String {
        self.names
            .get(service)
            .cloned()
            .unwrap_or_else(|| names::dns_label(service, names::MAX_LABEL))
    }

    /// Whether a manifest of `kind` named `name` was already added.
    pub fn has(&self, kind: &str, name: &str) -> bool {
        self.manifests
            .iter()
            .any(|m| m.kind == kind && m.name == name)
    }
}

/// Converts `project`; an error names the Compose key or the option at fault.
pub fn convert(project: &Project, options: &Options) -> Result<Conversion, KubeError> {
    options.validate()?;
    let mut ctx = Ctx {
        project,
        options,
        meta: meta::Meta {
            project: names::label_value(&project.name),
            namespace: options.namespace.clone(),
        },
        report: Report::default(),
        manifests: Vec::new(),
        names: BTreeMap::new(),
        jobs: BTreeSet::new(),
        stateful: BTreeSet::new(),
        volume_users: BTreeMap::new(),
        service_defaults: serde_json::to_value(wharf_compose::Service::default())
            .unwrap_or_default(),
    };
    plan(&mut ctx)?;
    report_top_level(&mut ctx);
    storage::claims(&mut ctx)?;
    files::objects(&mut ctx)?;
    for service in project.services.values() {
        workload::service(&mut ctx, service)?;
    }
    network::services(&mut ctx)?;
    policies::policies(&mut ctx);
    deps::job_waiter_rbac(&mut ctx);
    Ok(Conversion {
        manifests: ctx.manifests,
        report: ctx.report,
    })
}

/// Names, Jobs, StatefulSets and volume users, decided before any object is
/// written, since one service's objects depend on the others'.
fn plan(ctx: &mut Ctx) -> Result<(), KubeError> {
    let project = ctx.project;
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for name in project.services.keys() {
        let k8s = names::dns_label(name, names::MAX_LABEL);
        if let Some(other) = taken.insert(k8s.clone(), name.clone()) {
            return Err(KubeError::invalid(
                format!("services.{name}"),
                format!(
                    "becomes the Kubernetes name {k8s:?}, as service {other:?} does: rename one of them"
                ),
            ));
        }
        if &k8s != name {
            ctx.report.add(
                format!("services.{name}"),
                format!("not a valid Kubernetes name: named {k8s:?} (lowercase, `_` and `.` as `-`, long names cut with a hash)"),
            );
        }
        ctx.names.insert(name.clone(), k8s);
    }
    for service in project.services.values() {
        network::check_expose(service)?;
        for (dep, d) in &service.depends_on {
            if d.condition == DependencyCondition::ServiceCompletedSuccessfully
                && project.services.contains_key(dep)
            {
                ctx.jobs.insert(dep.clone());
            }
        }
        for v in &service.volumes {
            if v.kind == wharf_compose::VolumeKind::Volume {
                if let Some(source) = &v.source {
                    ctx.volume_users
                        .entry(source.clone())
                        .or_default()
                        .insert(service.name.clone());
                }
            }
        }
    }
    for service in project.services.values() {
        let named = service
            .volumes
            .iter()
            .any(|v| v.kind == wharf_compose::VolumeKind::Volume && v.source.is_some());
        let wanted = ctx.options.controller == Controller::StatefulSet || service.replicas > 1;
        if named && wanted && !ctx.jobs.contains(&service.name) {
            ctx.stateful.insert(service.name.clone());
        }
    }
    Ok(())
}

/// Reports the dropped keys of top-level networks, volumes, configs, secrets.
fn report_top_level(ctx: &mut Ctx) {
    let p = ctx.project;
    for (key, n) in &p.networks {
        keys::report_dropped(
            &format!("networks.{key}"),
            n,
            keys::NETWORK,
            &mut ctx.report,
        );
    }
    for (key, v) in &p.volumes {
        keys::report_dropped(&format!("volumes.{key}"), v, keys::VOLUME, &mut ctx.report);
    }
    for (key, c) in &p.configs {
        keys::report_dropped(
            &format!("configs.{key}"),
            c,
            keys::FILE_OBJECT,
            &mut ctx.report,
        );
    }
    for (key, s) in &p.secrets {
        keys::report_dropped(
            &format!("secrets.{key}"),
            s,
            keys::FILE_OBJECT,
            &mut ctx.report,
        );
    }
    for key in p.extensions.keys() {
        ctx.report.add(
            key.clone(),
            "`x-*` fields are for tools that read them (dropped)",
        );
    }
}
