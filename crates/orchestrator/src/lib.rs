//! wharf-orchestrator: turns a Compose [`Project`] into containers and
//! networks on an [`Engine`], the way docker compose does:
//! observe (by labels) → reconcile (pure, [`plan_up`] / [`plan_down`]) →
//! [`Plan`] (a DAG that prints as text) → [`execute`] (dependency order,
//! independent steps in parallel, [`Event`]s for progress). It never prints.

mod compose_keys;
mod error;
mod execute;
mod files;
mod lifecycle;
mod logging;
mod mounts;
mod names;
mod networks;
mod observe;
mod plan;
mod reconcile;
mod run;
mod spec;
mod update;
mod validate;
mod wait;

pub use compose_keys::compose_keys;
pub use error::{
    DependencyError, NotReady, OrchestratorError, PlanError, SettingError, UnknownUpdateOrder,
};
pub use execute::{execute, set_parallel_limit, Event, Status};
pub use files::secret_value;
pub use lifecycle::{
    plan_restart, plan_rm, plan_rm_volumes, plan_start, plan_stop, run_lifecycle, Target,
};
pub use names::{container_name, service_image};
pub use networks::network_name;
pub use observe::{container_number, is_oneoff, observe, project_containers, Observed};
pub use plan::{Action, Cause, Plan, Step};
pub use reconcile::{
    inherit_anonymous_volumes, plan_down, plan_up, selected_services, DownOptions, UpOptions,
};
pub use run::{create_oneoff, RunOptions};
pub use spec::{
    change_reason, config_hash, container_spec, depends_on_label, namespace_sources,
    parse_depends_on_label, validate_volume, volume_name, volume_spec, CONFIG_HASH_VERSION,
    CONFIG_PARTS_LABEL,
};
pub use update::{
    check_start_first, temporary_name, update_policy, FailureAction, Replacement, UpdateOrder,
    UpdatePolicy,
};
pub use validate::{
    ipc_mode, parse_restart, pid_mode, port_bindings, uts_mode, validate_service, ValidService,
};
pub use wait::wait_ready;

use std::collections::BTreeMap;
use wharf_compose::Project;
use wharf_engine_api::Engine;

/// Check that the image of every service in `services` is in the local
/// store, before anything is created.
pub fn check_images(
    engine: &dyn Engine,
    project: &Project,
    services: &[String],
) -> Result<(), OrchestratorError> {
    let mut known: BTreeMap<String, bool> = BTreeMap::new();
    let mut names: Vec<&String> = services.iter().collect();
    names.sort();
    for name in names {
        let Some(service) = project.services.get(name) else {
            return Err(OrchestratorError::NoSuchService(name.clone()));
        };
        let image = service_image(project, service);
        let present = match known.get(&image) {
            Some(&present) => present,
            None => {
                let present = engine
                    .image_inspect(&image)
                    .map_err(|e| OrchestratorError::engine(format!("image {image}"), e))?
                    .is_some();
                known.insert(image.clone(), present);
                present
            }
        };
        if !present {
            let hint = if service.build.is_some() {
                "build it first"
            } else {
                "import or pull it first"
            };
            return Err(OrchestratorError::ImageNotFound {
                service: name.clone(),
                image,
                hint: hint.to_string(),
            });
        }
    }
    Ok(())
}

/// Check that the host ports of every new container of the plan are free, so a
/// busy one fails `up` before anything is created. A container that replaces
/// another is left to its start: the one it replaces holds the same ports.
pub fn check_ports(engine: &dyn Engine, plan: &Plan) -> Result<(), OrchestratorError> {
    for step in &plan.steps {
        if let (Action::CreateContainer { spec, .. }, None) =
            (&step.action, step.cause.recreate_reason())
        {
            engine
                .check_ports(spec)
                .map_err(|e| OrchestratorError::engine(format!("container {}", spec.name), e))?;
        }
    }
    Ok(())
}

/// Check the mounts of every container the plan creates (bind sources,
/// file or directory, volume names, subpaths, `volumes_from` containers the
/// plan does not create) before anything is created.
pub fn check_mounts(engine: &dyn Engine, plan: &Plan) -> Result<(), OrchestratorError> {
    let created: Vec<&str> = plan
        .steps
        .iter()
        .filter_map(|step| match &step.action {
            Action::CreateContainer { spec, .. } => Some(spec.name.as_str()),
            _ => None,
        })
        .collect();
    for step in &plan.steps {
        if let Action::CreateContainer { spec, .. } = &step.action {
            let object = || format!("container {}", spec.name);
            engine
                .validate_mounts(spec)
                .map_err(|e| OrchestratorError::engine(object(), e))?;
            for source in &spec.volumes_from {
                if created.contains(&source.container.as_str()) {
                    continue;
                }
                match engine.inspect_container(&source.container) {
                    Ok(_) => {}
                    Err(wharf_engine_api::EngineError::NotFound { .. }) => {
                        return Err(OrchestratorError::engine(
                            object(),
                            wharf_engine_api::EngineError::Invalid(format!(
                                "volumes_from names container {}, which does not exist: create \
                                 it first or correct the name",
                                source.container
                            )),
                        ))
                    }
                    Err(e) => return Err(OrchestratorError::engine(object(), e)),
                }
            }
        }
    }
    Ok(())
}

/// Lock the project, check every selected service's image exists locally,
/// observe, plan and execute. The plan's warnings (orphans) are dropped; use
/// [`up_reporting`] to show them.
pub fn up(
    engine: &dyn Engine,
    project: &Project,
    options: &UpOptions,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<(), OrchestratorError> {
    up_reporting(engine, project, options, on_event, &|_| {})
}

/// [`up`], giving the plan's warnings (orphan containers) to `on_warning`
/// before anything runs.
pub fn up_reporting(
    engine: &dyn Engine,
    project: &Project,
    options: &UpOptions,
    on_event: &(dyn Fn(Event) + Sync),
    on_warning: &dyn Fn(&str),
) -> Result<(), OrchestratorError> {
    let _lock = engine
        .lock_project(&project.name)
        .map_err(|e| OrchestratorError::engine(format!("project {}", project.name), e))?;
    let services = selected_services(project, &options.services, options.no_deps)?;
    check_images(engine, project, &services)?;
    let observed = observe(engine, &project.name)?;
    let plan = plan_up(project, &observed, options)?;
    check_mounts(engine, &plan)?;
    check_ports(engine, &plan)?;
    for warning in &plan.warnings {
        on_warning(warning);
    }
    execute(engine, &plan, on_event)
}

/// Stop containers dependents first, remove them, then remove the project's
/// networks (by label). Keeps going past failures and returns them all
/// together. `Ok(false)` when nothing of the project existed. Orphans that
/// are kept are not reported; use [`down_reporting`] to show them.
pub fn down(
    engine: &dyn Engine,
    project_name: &str,
    project: Option<&Project>,
    options: &DownOptions,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<bool, OrchestratorError> {
    down_reporting(engine, project_name, project, options, on_event, &|_| {})
}

/// [`down`], giving the plan's warnings (orphans left in place) to
/// `on_warning` before anything runs.
pub fn down_reporting(
    engine: &dyn Engine,
    project_name: &str,
    project: Option<&Project>,
    options: &DownOptions,
    on_event: &(dyn Fn(Event) + Sync),
    on_warning: &dyn Fn(&str),
) -> Result<bool, OrchestratorError> {
    let _lock = engine
        .lock_project(project_name)
        .map_err(|e| OrchestratorError::engine(format!("project {project_name}"), e))?;
    // The containers' network interfaces go in one kernel batch, with the
    // networks' bridges or when this guard drops, before the project lock.
    let _teardown = engine.begin_teardown();
    // Containers whose state was deleted by hand are not observed, but their
    // processes must not outlive the project.
    // A failure here is reported once the rest is down, as down keeps going.
    let (leftovers, leftover_failure) = match engine.remove_project_leftovers(project_name) {
        Ok(ids) => (ids, None),
        Err(e) => (
            Vec::new(),
            Some(OrchestratorError::engine(
                format!("project {project_name}"),
                e,
            )),
        ),
    };
    for id in &leftovers {
        on_event(Event::Container {
            name: format!("{} (its state was gone)", id.get(..12).unwrap_or(id)),
            status: Status::Removed,
        });
    }
    let observed = observe(engine, project_name)?;
    let volumes_to_remove = options.volumes
        && observed
            .volumes
            .iter()
            .any(|v| v.label(wharf_engine_api::labels::PROJECT) == Some(project_name));
    if observed.containers.is_empty()
        && observed.project_networks(project_name).next().is_none()
        && !volumes_to_remove
    {
        return match leftover_failure {
            Some(e) => Err(e),
            None => Ok(!leftovers.is_empty()),
        };
    }
    let plan = plan_down(project_name, project, &observed, options);
    for warning in &plan.warnings {
        on_warning(warning);
    }
    execute::run(engine, &plan, on_event, execute::OnFailure::KeepGoing)?;
    match leftover_failure {
        Some(e) => Err(e),
        None => Ok(true),
    }
}
