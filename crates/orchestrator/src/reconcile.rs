//! Reconcile: compare the project with what was observed and decide the
//! [`Plan`]. Pure — no engine calls — so every rule is tested as text.

use crate::error::OrchestratorError;
use crate::networks::network_name;
use crate::observe::{container_number, is_oneoff, Observed};
use crate::plan::{Action, Cause, Plan};
use crate::spec::{
    change_reason, namespace_sources, parse_depends_on_label, validate_volume, volume_name,
    volume_spec,
};
use crate::update::{
    check_start_first, update_policy, FailureAction, Replacement, UpdateOrder, UpdatePolicy,
};
use crate::validate::{validate_service, ValidService};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use wharf_compose::{graph, DependencyCondition, Project, VolumeKind};
use wharf_engine_api::{labels, ContainerInfo, ContainerSpec, Mount, MountKind};

/// `wharf up` options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpOptions {
    /// Services to bring up; empty for all. Named ones also bring their
    /// dependencies.
    pub services: Vec<String>,
    /// Recreate containers even when their configuration is unchanged.
    pub force_recreate: bool,
    /// Never recreate existing containers, even when their configuration changed.
    pub no_recreate: bool,
    /// Recreate the containers of the services the named ones depend on
    /// (`--always-recreate-deps`), even when unchanged.
    pub always_recreate_deps: bool,
    /// Create containers but do not start them.
    pub no_start: bool,
    /// Remove containers of services no longer in the project.
    pub remove_orphans: bool,
    /// Named services only, without the services they depend on.
    pub no_deps: bool,
    /// Stop timeout for containers that are recreated or removed (None: each
    /// container's own stop grace period).
    pub timeout: Option<Duration>,
    /// `-V`: a recreated container gets new anonymous volumes; the old
    /// ones are removed instead of carried over.
    pub renew_anon_volumes: bool,
    /// `--update-order` / `--no-downtime`: the order of every service's
    /// update, over its `deploy.update_config.order`.
    pub update_order: Option<UpdateOrder>,
}

/// `wharf down` options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DownOptions {
    /// `-t`: None uses each container's own stop grace period.
    pub timeout: Option<Duration>,
    /// Also remove containers of services no longer in the project.
    pub remove_orphans: bool,
    /// `-v`: also remove the project's named volumes (not external ones)
    /// and the anonymous volumes of the removed containers.
    pub volumes: bool,
}

/// The project's dependency map, checked: required dependencies must exist.
fn project_deps(
    project: &Project,
) -> Result<BTreeMap<String, BTreeSet<String>>, OrchestratorError> {
    let mut deps = BTreeMap::new();
    for (name, service) in &project.services {
        let mut on = BTreeSet::new();
        for (dependency, dep) in &service.depends_on {
            if project.services.contains_key(dependency) {
                on.insert(dependency.clone());
            } else if dep.required {
                return Err(OrchestratorError::UndefinedDependency {
                    service: name.clone(),
                    dependency: dependency.clone(),
                });
            }
        }
        deps.insert(name.clone(), on);
    }
    Ok(deps)
}

/// The services `up` works on, dependencies first: all of them when `names`
/// is empty, else the named ones and (unless `no_deps`) everything they
/// depend on.
pub fn selected_services(
    project: &Project,
    names: &[String],
    no_deps: bool,
) -> Result<Vec<String>, OrchestratorError> {
    let deps = project_deps(project)?;
    if let Some(cycle) = graph::find_cycle(&deps) {
        return Err(OrchestratorError::DependencyCycle(cycle.join(" → ")));
    }
    let order = graph::start_order(&deps);
    if names.is_empty() {
        return Ok(order);
    }
    let mut selected = BTreeSet::new();
    let mut queue: Vec<String> = Vec::new();
    for name in names {
        if !project.services.contains_key(name) {
            return Err(OrchestratorError::NoSuchService(name.clone()));
        }
        queue.push(name.clone());
    }
    while let Some(name) = queue.pop() {
        if selected.insert(name.clone()) && !no_deps {
            queue.extend(deps[&name].iter().cloned());
        }
    }
    Ok(order.into_iter().filter(|s| selected.contains(s)).collect())
}

/// `<short id>_`: what a recreate puts before the name of the container it
/// replaces, as docker compose does.
fn aside_prefix(container: &ContainerInfo) -> String {
    format!("{}_", container.id.get(..12).unwrap_or(&container.id))
}

/// Whether `container` of `service` is one a recreate renamed and did not
/// finish with, or the replacement an interrupted start-first update left
/// under its temporary name (generated names end in the replica's number,
/// so only a `container_name` could end like one).
fn moved_aside(container: &ContainerInfo, service: &wharf_compose::Service) -> bool {
    container.name.starts_with(&aside_prefix(container))
        || (crate::update::is_temporary_name(&container.name)
            && service.container_name.as_deref() != Some(container.name.as_str()))
}

fn service_of(container: &ContainerInfo) -> &str {
    container.label(labels::SERVICE).unwrap_or_default()
}

/// The steps that take a container away.
struct Removal {
    stop: Option<usize>,
    remove: usize,
}

/// Stop (when running) and remove `container`, after `after`.
fn push_removal(
    plan: &mut Plan,
    container: &ContainerInfo,
    timeout: Option<Duration>,
    after: &[usize],
    cause: Cause,
) -> Removal {
    let stop = container.state.is_running().then(|| {
        plan.push(
            Action::StopContainer {
                id: container.id.clone(),
                name: container.name.clone(),
                timeout,
            },
            cause.clone(),
            after.iter().copied(),
        )
    });
    let remove = plan.push(
        Action::RemoveContainer {
            id: container.id.clone(),
            name: container.name.clone(),
        },
        cause,
        match stop {
            Some(stop) => vec![stop],
            None => after.to_vec(),
        },
    );
    Removal { stop, remove }
}

/// Which containers go first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Order {
    /// Dependencies before the services that depend on them (start).
    DependenciesFirst,
    /// Dependents before their dependencies (stop, remove).
    DependentsFirst,
}

/// Push steps for `containers` service by service in dependency `order`.
/// `push` adds the steps of one container to run after `after` and returns
/// (the step the next services wait for, the step that ends its work), each
/// None when it added no such step. Returns every container's last step.
pub(crate) fn push_in_dependency_order(
    plan: &mut Plan,
    containers: &[&ContainerInfo],
    project: Option<&Project>,
    order: Order,
    mut push: impl FnMut(&mut Plan, &ContainerInfo, &[usize]) -> (Option<usize>, Option<usize>),
) -> Vec<usize> {
    // Service dependencies: the project's, else the labels'.
    let mut deps: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for container in containers {
        let service = service_of(container).to_string();
        let on = deps.entry(service.clone()).or_default();
        match project.and_then(|p| p.services.get(&service)) {
            Some(s) => on.extend(s.depends_on.keys().cloned()),
            None => on.extend(
                container
                    .label(labels::DEPENDS_ON)
                    .map(parse_depends_on_label)
                    .unwrap_or_default(),
            ),
        }
    }
    // Services on a cycle (only possible from hand-edited labels) come last.
    let mut services = graph::start_order(&deps);
    if order == Order::DependentsFirst {
        services.reverse();
    }

    let mut gates: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut ends = Vec::new();
    for service in &services {
        // Wait for the services that must go before this one.
        let after: Vec<usize> = match order {
            Order::DependentsFirst => deps
                .iter()
                .filter(|(_, on)| on.contains(service))
                .flat_map(|(dependent, _)| gates.get(dependent).into_iter().flatten().copied())
                .collect(),
            Order::DependenciesFirst => deps[service]
                .iter()
                .flat_map(|dependency| gates.get(dependency).into_iter().flatten().copied())
                .collect(),
        };
        let mut mine: Vec<&ContainerInfo> = containers
            .iter()
            .copied()
            .filter(|c| service_of(c) == service)
            .collect();
        mine.sort_by_key(|c| (container_number(c), c.name.clone()));
        let mut service_gates = Vec::new();
        for container in mine {
            let (gate, end) = push(plan, container, &after);
            service_gates.extend(gate);
            ends.extend(end);
        }
        gates.insert(service.clone(), service_gates);
    }
    ends
}

/// The spec of a recreated container, given the anonymous volumes
/// (target, name) of the container it replaces: a volume mount without a
/// source at the same target takes the old volume, and an old volume at a
/// target the spec does not mount (an image `VOLUME`) is mounted again, so
/// the data survives the recreate. Done after the config hash is computed,
/// so the hash does not change.
pub fn inherit_anonymous_volumes(
    spec: &ContainerSpec,
    anonymous: &[(&str, &str)],
) -> ContainerSpec {
    let mut spec = spec.clone();
    for (target, volume) in anonymous {
        let same = |m: &&mut Mount| m.target.trim_end_matches('/') == target.trim_end_matches('/');
        match spec.mounts.iter_mut().find(|m| same(m)) {
            Some(mount) if mount.kind == MountKind::Volume && mount.source.is_empty() => {
                mount.source = volume.to_string();
            }
            // The service mounts something else there now.
            Some(_) => {}
            None => spec
                .mounts
                .push(Mount::new(MountKind::Volume, *volume, *target)),
        }
    }
    spec
}

/// The start-first replacements of one service, in batches of the policy's
/// `parallelism`: a batch starts `delay` after the one before it ended.
struct StartFirstBatches {
    parallelism: usize,
    delay: Duration,
    failure_action: FailureAction,
    count: usize,
    previous_batch: Vec<usize>,
    batch: Vec<usize>,
    /// (step, old container's id, its aside name) of every replacement.
    replaced: Vec<(usize, String, String)>,
}

impl StartFirstBatches {
    fn new(policy: &UpdatePolicy) -> Self {
        StartFirstBatches {
            parallelism: policy.parallelism,
            delay: policy.delay,
            failure_action: policy.failure_action,
            count: 0,
            previous_batch: Vec::new(),
            batch: Vec::new(),
            replaced: Vec::new(),
        }
    }

    fn push(&mut self, plan: &mut Plan, mut replacement: Replacement, prerequisites: &[usize]) {
        if self.parallelism > 0 && self.count > 0 && self.count.is_multiple_of(self.parallelism) {
            self.previous_batch = std::mem::take(&mut self.batch);
        }
        if !self.previous_batch.is_empty() {
            replacement.delay = self.delay;
        }
        let after: Vec<usize> = prerequisites
            .iter()
            .chain(&self.previous_batch)
            .copied()
            .collect();
        let (old_id, aside) = (replacement.old_id.clone(), replacement.aside_name.clone());
        let cause = Cause::Recreate(replacement.reason.clone());
        let step = plan.push(Action::ReplaceStartFirst(replacement), cause, after);
        self.batch.push(step);
        self.replaced.push((step, old_id, aside));
        self.count += 1;
    }

    /// With `rollback` the old containers are removed only once every
    /// replacement succeeded, so that a failure can bring them all back;
    /// otherwise each replacement removed its own. Returns the steps after
    /// which the service counts as up.
    fn finish(self, plan: &mut Plan) -> Vec<usize> {
        let steps: Vec<usize> = self.replaced.iter().map(|(step, ..)| *step).collect();
        if self.failure_action != FailureAction::Rollback {
            return steps;
        }
        self.replaced
            .into_iter()
            .map(|(step, id, aside)| {
                let cause = plan.steps[step - 1].cause.clone();
                plan.push(
                    Action::RemoveContainer { id, name: aside },
                    cause,
                    steps.iter().copied(),
                )
            })
            .collect()
    }
}

/// docker compose's orphan warning.
fn orphan_warning(names: &[String]) -> String {
    format!(
        "Found orphan containers ([{}]) for this project. If you removed or renamed this service \
         in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
        names.join(" ")
    )
}

/// Pure: decide what `up` must do. No engine calls (it only reads the
/// files of secrets and configs, whose content is part of the spec).
pub fn plan_up(
    project: &Project,
    observed: &Observed,
    options: &UpOptions,
) -> Result<Plan, OrchestratorError> {
    let selected = selected_services(project, &options.services, options.no_deps)?;
    let valid: BTreeMap<&str, ValidService> = selected
        .iter()
        .map(|name| {
            Ok((
                name.as_str(),
                validate_service(project, &project.services[name])?,
            ))
        })
        .collect::<Result<_, OrchestratorError>>()?;
    let mut plan = Plan::default();
    for name in &selected {
        let service = &project.services[name];
        if service.network_mode.as_deref() == Some("host") && !service.ports.is_empty() {
            plan.warnings.push(format!(
                "service {name:?}: published ports are discarded when using host network mode"
            ));
        }
    }

    // Networks the selected services join, in key order.
    let network_keys: BTreeSet<&str> = selected
        .iter()
        .map(|name| &project.services[name])
        .filter(|s| s.network_mode.is_none())
        .flat_map(|s| s.networks.keys().map(String::as_str))
        .collect();
    let mut network_steps: BTreeMap<&str, usize> = BTreeMap::new();
    for key in network_keys {
        let name = network_name(project, key);
        let spec = crate::networks::validate_network(project, key)?;
        if observed.network_by_name(&name).is_some() {
            continue;
        }
        let Some(spec) = spec else {
            return Err(OrchestratorError::ExternalNetworkMissing(name));
        };
        let step = plan.push(Action::CreateNetwork(spec), Cause::Missing, []);
        network_steps.insert(key, step);
    }

    // Named volumes the selected services mount, in key order: external
    // ones must exist, the others are created before their first user.
    let mut volume_steps: BTreeMap<String, usize> = BTreeMap::new();
    let mut volume_keys: BTreeSet<&str> = BTreeSet::new();
    for name in &selected {
        for mount in &project.services[name].volumes {
            if mount.kind != VolumeKind::Volume {
                continue;
            }
            let Some(key) = mount.source.as_deref() else {
                continue;
            };
            if !project.volumes.contains_key(key) {
                return Err(OrchestratorError::UndefinedVolume {
                    service: name.clone(),
                    volume: key.to_string(),
                });
            }
            volume_keys.insert(key);
        }
    }
    for key in volume_keys {
        validate_volume(project, key)?;
        let volume_name = volume_name(project, key);
        if let Some(existing) = observed.volume_by_name(&volume_name) {
            let owner = existing.label(labels::PROJECT);
            if !project.volumes[key].external && owner != Some(project.name.as_str()) {
                plan.warnings.push(format!(
                    "volume \"{volume_name}\" already exists but was not created for project \
                     \"{}\". Use `external: true` to use an existing volume",
                    project.name
                ));
            }
            continue;
        }
        if project.volumes[key].external {
            return Err(OrchestratorError::ExternalVolumeMissing(volume_name));
        }
        let step = plan.push(
            Action::CreateVolume(volume_spec(project, key)),
            Cause::Missing,
            [],
        );
        volume_steps.insert(key.to_string(), step);
    }

    // Project containers by service (one-off containers are never touched).
    let mut by_service: BTreeMap<&str, Vec<&ContainerInfo>> = BTreeMap::new();
    for container in observed.containers.iter().filter(|c| !is_oneoff(c)) {
        by_service
            .entry(service_of(container))
            .or_default()
            .push(container);
    }

    // Steps after which each service counts as up (its containers' last steps).
    let mut ready: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    let mut recreated: BTreeSet<&str> = BTreeSet::new();
    // (service, waits for health rather than completion) → the wait step.
    let mut waits: BTreeMap<(String, bool), usize> = BTreeMap::new();

    for name in &selected {
        let service = &project.services[name];
        let mut prerequisites: Vec<usize> = service
            .volumes
            .iter()
            .filter(|v| v.kind == VolumeKind::Volume)
            .filter_map(|v| v.source.as_deref())
            .filter_map(|key| volume_steps.get(key).copied())
            .collect();
        if service.network_mode.is_none() {
            prerequisites.extend(
                service
                    .networks
                    .keys()
                    .filter_map(|k| network_steps.get(k.as_str()).copied()),
            );
        }
        for (dependency, how) in &service.depends_on {
            if !selected.contains(dependency) {
                // --no-deps: the dependency is not part of this run.
                continue;
            }
            let dependency_ready = ready.get(dependency.as_str()).cloned().unwrap_or_default();
            if how.condition == DependencyCondition::ServiceStarted || options.no_start {
                prerequisites.extend(dependency_ready);
                continue;
            }
            // One wait per dependency and condition, shared by its dependents.
            let wait = *waits
                .entry((
                    dependency.clone(),
                    how.condition == DependencyCondition::ServiceHealthy,
                ))
                .or_insert_with(|| {
                    plan.push(
                        Action::WaitService {
                            project: project.name.clone(),
                            service: dependency.clone(),
                            condition: how.condition,
                            required: how.required,
                        },
                        Cause::DependedOn(name.clone()),
                        dependency_ready,
                    )
                });
            prerequisites.push(wait);
        }
        let restart_for_dependency = service
            .depends_on
            .iter()
            .find(|(d, dep)| dep.restart && recreated.contains(d.as_str()))
            .map(|(d, _)| d.clone());
        // A container inside another's namespaces must follow it into the
        // new ones when that one is recreated, as docker compose does.
        let recreated_source = namespace_sources(service)
            .into_iter()
            .find(|source| recreated.contains(source))
            .filter(|_| !options.no_recreate);

        // Existing replicas by number; extras and duplicates go.
        let mut existing: BTreeMap<u32, &ContainerInfo> = BTreeMap::new();
        let mut surplus: Vec<&ContainerInfo> = Vec::new();
        let mut containers = by_service.get(name.as_str()).cloned().unwrap_or_default();
        // A container a recreate left aside (it was interrupted) yields its
        // number to the one under the proper name.
        containers.sort_by_key(|c| (container_number(c), moved_aside(c, service), c.name.clone()));
        for container in containers {
            match container_number(container) {
                Some(n) if (1..=service.replicas).contains(&n) && !existing.contains_key(&n) => {
                    existing.insert(n, container);
                }
                _ => surplus.push(container),
            }
        }
        // A start-first replacement takes `<name>_next`, which a left-over
        // of an interrupted update may still hold until it is removed.
        let mut surplus_removals = Vec::new();
        for container in surplus {
            let cause = match container_number(container) {
                _ if moved_aside(container, service) => Cause::LeftAside,
                Some(number) if existing.contains_key(&number) => Cause::Duplicate { number },
                _ => Cause::Surplus {
                    replicas: service.replicas,
                },
            };
            let removal = push_removal(&mut plan, container, options.timeout, &[], cause);
            surplus_removals.push(removal.remove);
        }

        let policy = update_policy(name, service, options.update_order)?;
        let mut start_first = StartFirstBatches::new(&policy);
        let mut service_ready = Vec::new();
        for number in 1..=service.replicas {
            let spec = valid[name.as_str()].container_spec(project, number);
            let container_name = spec.name.clone();
            let Some(container) = existing.get(&number) else {
                let created = plan.push(
                    Action::CreateContainer {
                        service: name.clone(),
                        spec,
                    },
                    Cause::Missing,
                    prerequisites.clone(),
                );
                service_ready.push(if options.no_start {
                    created
                } else {
                    plan.push(
                        Action::StartContainer {
                            name: container_name.clone(),
                            id: None,
                        },
                        Cause::Missing,
                        [created],
                    )
                });
                continue;
            };
            let hash_differs = container.label(labels::CONFIG_HASH)
                != spec.labels.get(labels::CONFIG_HASH).map(String::as_str);
            let dependency_only = !options.services.is_empty() && !options.services.contains(name);
            let forced =
                options.force_recreate || (options.always_recreate_deps && dependency_only);
            let left_aside = moved_aside(container, service);
            if forced
                || (hash_differs && !options.no_recreate)
                || recreated_source.is_some()
                || left_aside
            {
                let why = match recreated_source {
                    _ if hash_differs => change_reason(&container.labels, &spec),
                    _ if left_aside => "left aside by an interrupted recreate".to_string(),
                    Some(source) if !forced => {
                        format!("shares the namespaces of recreated service {source}")
                    }
                    _ => "forced".to_string(),
                };
                if policy.order == UpdateOrder::StartFirst
                    && container.state.is_running()
                    && !left_aside
                    && !options.no_start
                {
                    if start_first.count == 0 {
                        plan.warnings.extend(check_start_first(name, service)?);
                    }
                    let anonymous: Vec<(&str, &str)> =
                        observed.anonymous_volumes_of(&container.id).collect();
                    let replacement = Replacement {
                        old_id: container.id.clone(),
                        old_name: container.name.clone(),
                        aside_name: format!("{}{}", aside_prefix(container), container.name),
                        spec: inherit_anonymous_volumes(&spec, &anonymous),
                        monitor: policy.monitor,
                        failure_action: policy.failure_action,
                        delay: Duration::ZERO,
                        timeout: options.timeout,
                        reason: why,
                    };
                    let after: Vec<usize> = prerequisites
                        .iter()
                        .chain(&surplus_removals)
                        .copied()
                        .collect();
                    start_first.push(&mut plan, replacement, &after);
                    recreated.insert(name.as_str());
                    continue;
                }
                let cause = Cause::Recreate(why);
                // Stop the old container and move it aside (as docker
                // compose does), create and start the new one, and only then
                // remove the old one: a replacement that cannot be created or
                // started leaves the old container to be restored.
                let stop = container.state.is_running().then(|| {
                    plan.push(
                        Action::StopContainer {
                            id: container.id.clone(),
                            name: container.name.clone(),
                            timeout: options.timeout,
                        },
                        cause.clone(),
                        [],
                    )
                });
                let mut after = prerequisites.clone();
                let aside = if left_aside {
                    after.extend(stop);
                    container.name.clone()
                } else {
                    let aside = format!("{}{}", aside_prefix(container), container.name);
                    after.push(plan.push(
                        Action::RenameContainer {
                            id: container.id.clone(),
                            name: container.name.clone(),
                            new_name: aside.clone(),
                        },
                        cause.clone(),
                        stop,
                    ));
                    aside
                };
                let anonymous: Vec<(&str, &str)> =
                    observed.anonymous_volumes_of(&container.id).collect();
                let new_spec = if options.renew_anon_volumes {
                    spec.clone()
                } else {
                    inherit_anonymous_volumes(&spec, &anonymous)
                };
                let created = plan.push(
                    Action::CreateContainer {
                        service: name.clone(),
                        spec: new_spec,
                    },
                    cause.clone(),
                    after,
                );
                let started = (!options.no_start).then(|| {
                    plan.push(
                        Action::StartContainer {
                            name: container_name.clone(),
                            id: None,
                        },
                        cause.clone(),
                        [created],
                    )
                });
                let remove = plan.push(
                    Action::RemoveContainer {
                        id: container.id.clone(),
                        name: aside,
                    },
                    cause,
                    [started.unwrap_or(created)],
                );
                if options.renew_anon_volumes {
                    for (_, volume) in &anonymous {
                        plan.push(
                            Action::RemoveVolume {
                                name: volume.to_string(),
                            },
                            Cause::RenewAnonymousVolumes,
                            [remove],
                        );
                    }
                }
                // Dependents wait for the removal too: until then the old
                // container still counts among the service's containers.
                service_ready.push(remove);
                recreated.insert(name.as_str());
            } else if !container.state.is_running() {
                if !options.no_start {
                    service_ready.push(plan.push(
                        Action::StartContainer {
                            name: container.name.clone(),
                            id: Some(container.id.clone()),
                        },
                        Cause::NotRunning,
                        prerequisites.clone(),
                    ));
                }
            } else if let Some(dependency) =
                restart_for_dependency.clone().filter(|_| !options.no_start)
            {
                let cause = Cause::DependencyRecreated(dependency);
                let stop = plan.push(
                    Action::StopContainer {
                        id: container.id.clone(),
                        name: container.name.clone(),
                        timeout: options.timeout,
                    },
                    cause.clone(),
                    prerequisites.clone(),
                );
                service_ready.push(plan.push(
                    Action::StartContainer {
                        name: container.name.clone(),
                        id: Some(container.id.clone()),
                    },
                    cause,
                    [stop],
                ));
            } else {
                plan.running.push(container.name.clone());
            }
        }
        service_ready.extend(start_first.finish(&mut plan));
        ready.insert(name.as_str(), service_ready);
    }

    // Orphans: containers of services that are no longer in the project.
    let orphans: Vec<&ContainerInfo> = observed
        .containers
        .iter()
        .filter(|c| !is_oneoff(c) && !project.services.contains_key(service_of(c)))
        .collect();
    if !orphans.is_empty() {
        if options.remove_orphans {
            for orphan in orphans {
                push_removal(&mut plan, orphan, options.timeout, &[], Cause::Orphan);
            }
        } else {
            let mut names: Vec<String> = orphans.iter().map(|c| c.name.clone()).collect();
            names.sort();
            plan.warnings.push(orphan_warning(&names));
        }
    }
    Ok(plan)
}

/// Pure: decide what `down` must do. Containers are stopped dependents
/// first (by the project's `depends_on`, or by the depends_on labels when
/// there is no project), each removed after its stop, and the project's
/// networks removed last.
pub fn plan_down(
    project_name: &str,
    project: Option<&Project>,
    observed: &Observed,
    options: &DownOptions,
) -> Plan {
    let mut plan = Plan::default();
    let mine = |c: &&ContainerInfo| c.label(labels::PROJECT) == Some(project_name);
    let mut orphans: Vec<String> = Vec::new();
    let containers: Vec<&ContainerInfo> = observed
        .containers
        .iter()
        .filter(mine)
        .filter(|c| match project {
            Some(p) if !options.remove_orphans && !p.services.contains_key(service_of(c)) => {
                if !is_oneoff(c) {
                    orphans.push(c.name.clone());
                }
                false
            }
            _ => true,
        })
        .collect();
    if !orphans.is_empty() {
        orphans.sort();
        plan.warnings.push(orphan_warning(&orphans));
    }

    let timeout = options.timeout;
    let removals = push_in_dependency_order(
        &mut plan,
        &containers,
        project,
        Order::DependentsFirst,
        |plan, container, after| {
            // With --remove-orphans, containers of services no longer in
            // the project go too, as orphans.
            let orphan = project.is_some_and(|p| !p.services.contains_key(service_of(container)));
            let cause = if orphan {
                Cause::Orphan
            } else {
                Cause::Requested("down")
            };
            let removal = push_removal(plan, container, timeout, after, cause);
            (removal.stop, Some(removal.remove))
        },
    );

    if options.volumes {
        // The project's named volumes (by label; never an external one) and
        // the anonymous volumes of the containers removed here.
        let external: BTreeSet<String> = project
            .map(|p| {
                p.volumes
                    .iter()
                    .filter(|(_, v)| v.external)
                    .map(|(key, _)| volume_name(p, key))
                    .collect()
            })
            .unwrap_or_default();
        let mut names: BTreeSet<&str> = observed
            .volumes
            .iter()
            .filter(|v| v.label(labels::PROJECT) == Some(project_name))
            .filter(|v| !external.contains(&v.name))
            .map(|v| v.name.as_str())
            .collect();
        for container in &containers {
            names.extend(observed.anonymous_volumes_of(&container.id).map(|(_, v)| v));
        }
        for name in names {
            plan.push(
                Action::RemoveVolume {
                    name: name.to_string(),
                },
                Cause::Requested("down -v"),
                removals.iter().copied(),
            );
        }
    }

    let mut networks: Vec<_> = observed.project_networks(project_name).collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    for network in networks {
        plan.push(
            Action::RemoveNetwork {
                id: network.id.clone(),
                name: network.name.clone(),
            },
            Cause::Requested("down"),
            removals.iter().copied(),
        );
    }
    plan
}
