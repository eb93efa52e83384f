//! Reconcile: compare the project with what was observed and decide the
//! [`Plan`]. Pure — no engine calls — so every rule is tested as text.

use crate::error::OrchestratorError;
use crate::observe::{container_number, is_oneoff, Observed};
use crate::plan::{Action, Plan};
use crate::spec::{
    change_reason, container_spec, network_name, parse_depends_on_label, validate_service,
};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use wharf_compose::{DependencyCondition, Project};
use wharf_engine_api::{labels, ContainerInfo, NetworkSpec};

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
    /// Create containers but do not start them.
    pub no_start: bool,
    /// Remove containers of services no longer in the project.
    pub remove_orphans: bool,
    /// Named services only, without the services they depend on.
    pub no_deps: bool,
    /// Stop timeout for containers that are recreated or removed (None: each
    /// container's own stop grace period).
    pub timeout: Option<Duration>,
}

/// `wharf down` options.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DownOptions {
    /// `-t`: None uses each container's own stop grace period.
    pub timeout: Option<Duration>,
    /// Also remove containers of services no longer in the project.
    pub remove_orphans: bool,
}

/// Order services so that each comes after its dependencies; ties by name.
/// `deps` maps a service to the services it depends on (unknown ones are
/// ignored). Returns the order and the services left in a cycle.
fn topo_order(deps: &BTreeMap<String, BTreeSet<String>>) -> (Vec<String>, Vec<String>) {
    let mut remaining: BTreeMap<&str, usize> = deps
        .iter()
        .map(|(name, on)| {
            let count = on.iter().filter(|d| deps.contains_key(*d)).count();
            (name.as_str(), count)
        })
        .collect();
    let mut order = Vec::new();
    loop {
        let ready = remaining
            .iter()
            .find(|(_, &count)| count == 0)
            .map(|(&name, _)| name);
        let Some(ready) = ready else { break };
        remaining.remove(ready);
        order.push(ready.to_string());
        for (name, on) in deps {
            if on.contains(ready) {
                if let Some(count) = remaining.get_mut(name.as_str()) {
                    *count -= 1;
                }
            }
        }
    }
    let cycle = remaining.keys().map(|s| s.to_string()).collect();
    (order, cycle)
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
    let (order, cycle) = topo_order(&deps);
    if !cycle.is_empty() {
        return Err(OrchestratorError::DependencyCycle(cycle.join(", ")));
    }
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
) -> Removal {
    let stop = container.state.is_running().then(|| {
        plan.push(
            Action::StopContainer {
                id: container.id.clone(),
                name: container.name.clone(),
                timeout,
            },
            after.iter().copied(),
        )
    });
    let remove = plan.push(
        Action::RemoveContainer {
            id: container.id.clone(),
            name: container.name.clone(),
        },
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
    let (mut services, cycle) = topo_order(&deps);
    services.extend(cycle);
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

/// docker compose's orphan warning.
fn orphan_warning(names: &[String]) -> String {
    format!(
        "Found orphan containers ([{}]) for this project. If you removed or renamed this service \
         in your compose file, you can run this command with the --remove-orphans flag to clean it up.",
        names.join(" ")
    )
}

/// Pure: decide what `up` must do. No engine calls.
pub fn plan_up(
    project: &Project,
    observed: &Observed,
    options: &UpOptions,
) -> Result<Plan, OrchestratorError> {
    let selected = selected_services(project, &options.services, options.no_deps)?;
    for name in &selected {
        validate_service(project, &project.services[name])?;
    }
    let mut plan = Plan::default();

    // Networks the selected services join, in key order.
    let network_keys: BTreeSet<&str> = selected
        .iter()
        .map(|name| &project.services[name])
        .filter(|s| s.network_mode.is_none())
        .flat_map(|s| s.networks.keys().map(String::as_str))
        .collect();
    let mut network_steps: BTreeMap<&str, usize> = BTreeMap::new();
    for key in network_keys {
        let network = &project.networks[key];
        let name = network_name(project, key);
        if observed.network_by_name(&name).is_some() {
            continue;
        }
        if network.external {
            return Err(OrchestratorError::ExternalNetworkMissing(name));
        }
        let mut net_labels = network.labels.clone();
        net_labels.insert(labels::PROJECT.into(), project.name.clone());
        net_labels.insert(labels::NETWORK.into(), key.to_string());
        net_labels.insert(labels::VERSION.into(), env!("CARGO_PKG_VERSION").into());
        let step = plan.push(
            Action::CreateNetwork(NetworkSpec {
                name,
                labels: net_labels,
                subnet: network.subnet.clone(),
                internal: network.internal,
            }),
            [],
        );
        network_steps.insert(key, step);
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
        let mut prerequisites: Vec<usize> = Vec::new();
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
                        dependency_ready,
                    )
                });
            prerequisites.push(wait);
        }
        let restart_for_dependency = service
            .depends_on
            .iter()
            .any(|(d, dep)| dep.restart && recreated.contains(d.as_str()));

        // Existing replicas by number; extras and duplicates go.
        let mut existing: BTreeMap<u32, &ContainerInfo> = BTreeMap::new();
        let mut surplus: Vec<&ContainerInfo> = Vec::new();
        let mut containers = by_service.get(name.as_str()).cloned().unwrap_or_default();
        containers.sort_by_key(|c| (container_number(c), c.name.clone()));
        for container in containers {
            match container_number(container) {
                Some(n) if (1..=service.replicas).contains(&n) && !existing.contains_key(&n) => {
                    existing.insert(n, container);
                }
                _ => surplus.push(container),
            }
        }
        for container in surplus {
            push_removal(&mut plan, container, options.timeout, &[]);
        }

        let mut service_ready = Vec::new();
        for number in 1..=service.replicas {
            let spec = container_spec(project, service, number);
            let container_name = spec.name.clone();
            let create = |plan: &mut Plan, after: Vec<usize>, reason: Option<String>| {
                let created = plan.push(
                    Action::CreateContainer {
                        service: name.clone(),
                        spec: spec.clone(),
                        reason,
                    },
                    after,
                );
                if options.no_start {
                    created
                } else {
                    plan.push(
                        Action::StartContainer {
                            name: container_name.clone(),
                            id: None,
                        },
                        [created],
                    )
                }
            };
            let Some(container) = existing.get(&number) else {
                service_ready.push(create(&mut plan, prerequisites.clone(), None));
                continue;
            };
            let hash_differs = container.label(labels::CONFIG_HASH)
                != spec.labels.get(labels::CONFIG_HASH).map(String::as_str);
            if options.force_recreate || (hash_differs && !options.no_recreate) {
                let why = if hash_differs {
                    change_reason(&container.labels, &spec)
                } else {
                    "forced".to_string()
                };
                let removal = push_removal(&mut plan, container, options.timeout, &[]);
                let mut after = prerequisites.clone();
                after.push(removal.remove);
                service_ready.push(create(&mut plan, after, Some(format!("recreate ({why})"))));
                recreated.insert(name.as_str());
            } else if !container.state.is_running() {
                if !options.no_start {
                    service_ready.push(plan.push(
                        Action::StartContainer {
                            name: container.name.clone(),
                            id: Some(container.id.clone()),
                        },
                        prerequisites.clone(),
                    ));
                }
            } else if restart_for_dependency && !options.no_start {
                let stop = plan.push(
                    Action::StopContainer {
                        id: container.id.clone(),
                        name: container.name.clone(),
                        timeout: options.timeout,
                    },
                    prerequisites.clone(),
                );
                service_ready.push(plan.push(
                    Action::StartContainer {
                        name: container.name.clone(),
                        id: Some(container.id.clone()),
                    },
                    [stop],
                ));
            } else {
                plan.running.push(container.name.clone());
            }
        }
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
                push_removal(&mut plan, orphan, options.timeout, &[]);
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
            let removal = push_removal(plan, container, timeout, after);
            (removal.stop, Some(removal.remove))
        },
    );

    let mut networks: Vec<_> = observed.project_networks(project_name).collect();
    networks.sort_by(|a, b| a.name.cmp(&b.name));
    for network in networks {
        plan.push(
            Action::RemoveNetwork {
                id: network.id.clone(),
                name: network.name.clone(),
            },
            removals.iter().copied(),
        );
    }
    plan
}
