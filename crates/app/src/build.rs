//! Compose's `build:` as image builds: the build request of a service (its
//! context, Dockerfile, args, tags, secrets), which services an `up` builds
//! (missing images, or all with `--build`), and the warning when a built
//! image's inputs changed since.

use crate::event::{Event, Reporter};
use crate::images::ImageSource;
use crate::{check_services, AppError};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Instant;
use wharf_compose::{Project, Service};
use wharf_image::build::{BuildRequest, SecretValue, INPUTS_LABEL};

/// Options of `wharf build` (and of the builds of `up` and `watch`).
#[derive(Debug, Default, Clone)]
pub struct BuildOptions {
    pub no_cache: bool,
    /// Always pull the base images.
    pub pull: bool,
    /// `--build-arg`s, over the service's `build.args`.
    pub build_args: BTreeMap<String, String>,
    /// `--secret`s, over the service's `build.secrets`.
    pub secrets: BTreeMap<String, SecretValue>,
}

/// The build request of a service with `build:` (`None` without one).
pub fn service_request(
    project: &Project,
    service: &Service,
    options: &BuildOptions,
    reporter: &dyn Reporter,
) -> Result<Option<BuildRequest>, AppError> {
    let Some(b) = &service.build else {
        return Ok(None);
    };
    let name = &service.name;
    let refuse = |attribute: &str| AppError::BuildUnsupported {
        service: name.clone(),
        attribute: attribute.to_string(),
    };
    if !b.ssh.is_empty() {
        return Err(refuse("ssh"));
    }
    if !b.additional_contexts.is_empty() {
        return Err(refuse("additional_contexts"));
    }
    if b.privileged {
        return Err(refuse("privileged"));
    }
    if !b.extra_hosts.is_empty() {
        reporter.report(Event::Warning(format!(
            "service {name:?}: build.extra_hosts is not applied to RUN steps by wharf yet"
        )));
    }
    let image = wharf_orchestrator::service_image(project, service);
    let mut tags = vec![image];
    tags.extend(b.tags.iter().cloned());
    let mut build_args = b.args.clone();
    build_args.extend(options.build_args.clone());
    Ok(Some(BuildRequest {
        context: b.context.clone(),
        dockerfile: b.dockerfile.as_ref().map(PathBuf::from),
        dockerfile_inline: b.dockerfile_inline.clone(),
        tags,
        target: b.target.clone(),
        build_args,
        labels: b.labels.clone(),
        no_cache: options.no_cache || b.no_cache,
        pull: options.pull || b.pull,
        network: b.network.clone(),
        shm_size: b.shm_size,
        cache_from: b.cache_from.clone(),
        name: Some(name.clone()),
        secrets: BTreeMap::new(),
    }))
}

/// The secrets of a service's build: its `build.secrets` (the id a Dockerfile
/// names is `target`, else the secret's name), then the `--secret`s.
fn service_secrets(
    project: &Project,
    service: &Service,
    options: &BuildOptions,
) -> Result<BTreeMap<String, SecretValue>, AppError> {
    let mut out = BTreeMap::new();
    for reference in service.build.iter().flat_map(|b| &b.secrets) {
        let value = wharf_orchestrator::secret_value(project, &reference.source).map_err(|e| {
            AppError::BuildSecret {
                service: service.name.clone(),
                message: e.to_string(),
            }
        })?;
        let id = reference
            .target
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| reference.source.clone());
        out.insert(id, SecretValue(value));
    }
    out.extend(options.secrets.clone());
    Ok(out)
}

/// Build the named services (all with `build:` when empty), each image once;
/// with `only_missing`, only those whose image is not in the store yet (an
/// existing one whose recorded inputs changed gets a warning, as docker
/// compose does not rebuild by itself either). Returns the image ids built.
pub fn build_services(
    images: &dyn ImageSource,
    project: &Project,
    services: &[String],
    options: &BuildOptions,
    only_missing: bool,
    reporter: &dyn Reporter,
) -> Result<Vec<String>, AppError> {
    check_services(project, services)?;
    let mut done = BTreeSet::new();
    let mut ids = Vec::new();
    for (name, service) in &project.services {
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        let Some(mut request) = service_request(project, service, options, reporter)? else {
            continue;
        };
        let image = request.tags[0].clone();
        if !done.insert(image.clone()) {
            continue;
        }
        if only_missing && images.exists(&image) {
            if let Some(recorded) = images.recorded_inputs(&image) {
                if images
                    .inputs_digest(&request)
                    .is_some_and(|now| now != recorded)
                {
                    reporter.report(Event::Warning(format!(
                        "service {name}: build context changed since the image was built: run `wharf up --build` to rebuild"
                    )));
                }
            }
            continue;
        }
        if let Some(digest) = images.inputs_digest(&request) {
            request.labels.insert(INPUTS_LABEL.to_string(), digest);
        }
        request.secrets = service_secrets(project, service, options)?;
        let start = Instant::now();
        let id = images
            .build(&request, reporter)
            .map_err(|e| AppError::Build {
                service: name.clone(),
                source: Box::new(e),
            })?;
        reporter.report(Event::Built {
            service: name.clone(),
            id: id.clone(),
            elapsed: start.elapsed(),
        });
        ids.push(id);
    }
    Ok(ids)
}

/// The building step of `up`: the selected services (and their dependencies,
/// unless `no_deps`) that have `build:` and no image yet, or all of them with
/// `always` (`--build`).
pub fn build_for_up(
    images: &dyn ImageSource,
    project: &Project,
    services: &[String],
    no_deps: bool,
    always: bool,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    let selected = wharf_orchestrator::selected_services(project, services, no_deps)?;
    build_services(
        images,
        project,
        &selected,
        &BuildOptions::default(),
        !always,
        reporter,
    )?;
    Ok(())
}
