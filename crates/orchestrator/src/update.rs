//! Rolling updates of a service (`deploy.update_config`, `up --no-downtime`):
//! the [`UpdatePolicy`] read from the file or the command line, the checks
//! that refuse a start-first update where two containers of one replica
//! cannot run side by side, and the start-first replacement of one replica,
//! which the plan executor runs as one step: start the new container beside
//! the old one under a temporary name, wait until it is healthy, stop the
//! old one, then give the new one the real name.

use crate::error::{NotReady, OrchestratorError, SettingError, UnknownUpdateOrder};
use crate::execute::{Event, Status};
use std::time::{Duration, Instant};
use wharf_compose::{Service, VolumeKind};
use wharf_engine_api::{ContainerSpec, ContainerState, Engine, EngineError, Health};

/// `deploy.update_config.order`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UpdateOrder {
    /// Stop the old container, then start the new one (docker compose's way).
    #[default]
    StopFirst,
    /// Start the new container, wait until it is healthy, then stop the old one.
    StartFirst,
}

impl UpdateOrder {
    /// `start-first` / `stop-first`; the error says what to write.
    pub fn parse(text: &str) -> Result<UpdateOrder, UnknownUpdateOrder> {
        match text {
            "start-first" => Ok(UpdateOrder::StartFirst),
            "stop-first" => Ok(UpdateOrder::StopFirst),
            other => Err(UnknownUpdateOrder(other.to_string())),
        }
    }
}

/// `deploy.update_config.failure_action`: what a replacement that does not
/// become healthy does to the rest of the update.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FailureAction {
    /// Undo the whole update: every replaced container gets its old
    /// container back (the old ones are removed only once all succeeded).
    #[default]
    Rollback,
    /// Keep the replicas already updated, update no more.
    Pause,
    /// Keep the old container of the failed replica and go on with the others.
    Continue,
}

/// How `up` replaces the containers of one service.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct UpdatePolicy {
    pub order: UpdateOrder,
    /// Replicas replaced at once; 0 for all of them.
    pub parallelism: usize,
    /// Pause between two batches.
    pub delay: Duration,
    pub failure_action: FailureAction,
    /// How long a new container without a health check must keep running
    /// to count as healthy.
    pub monitor: Duration,
}

/// Swarm's default `monitor`, used when a start-first update has no health
/// check to wait for.
const DEFAULT_MONITOR: Duration = Duration::from_secs(5);

/// The update policy of `service`; `order` (from `--update-order` or
/// `--no-downtime`) wins over the file's.
pub fn update_policy(
    service_name: &str,
    service: &Service,
    order: Option<UpdateOrder>,
) -> Result<UpdatePolicy, OrchestratorError> {
    let invalid = |message: String| OrchestratorError::InvalidService {
        service: service_name.to_string(),
        source: SettingError::invalid(message),
    };
    let config = service
        .deploy
        .as_ref()
        .and_then(|d| d.update_config.as_ref());
    let mut policy = UpdatePolicy {
        monitor: DEFAULT_MONITOR,
        ..UpdatePolicy::default()
    };
    if let Some(config) = config {
        if let Some(text) = &config.order {
            policy.order = UpdateOrder::parse(text)
                .map_err(|e| invalid(format!("deploy.update_config.order: {e}")))?;
        }
        if let Some(text) = &config.failure_action {
            policy.failure_action = match text.as_str() {
                "rollback" => FailureAction::Rollback,
                "pause" => FailureAction::Pause,
                "continue" => FailureAction::Continue,
                other => {
                    return Err(invalid(format!(
                        "deploy.update_config.failure_action: unknown action {other:?}: \
                         use rollback, pause or continue"
                    )))
                }
            };
        }
        policy.parallelism = config
            .parallelism
            .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
            .unwrap_or(1);
        policy.delay = config.delay.unwrap_or_default();
        if let Some(monitor) = config.monitor {
            policy.monitor = monitor;
        }
    } else {
        policy.parallelism = 1;
    }
    if let Some(order) = order {
        policy.order = order;
    }
    Ok(policy)
}

/// Refuse a start-first update that cannot work (two containers of one
/// replica cannot share a fixed name, nor the host's ports with
/// `network_mode: host`); the warnings
/// to show when it works with a caveat.
pub fn check_start_first(
    service_name: &str,
    service: &Service,
) -> Result<Vec<String>, OrchestratorError> {
    let refuse = |why: String| OrchestratorError::InvalidService {
        service: service_name.to_string(),
        source: SettingError::invalid(format!(
            "a start-first update runs the old and the new container side by side, but {why}: \
             set deploy.update_config.order: stop-first (or leave out --no-downtime)"
        )),
    };
    if let Some(name) = &service.container_name {
        return Err(refuse(format!(
            "container_name {name:?} gives both the same name; remove container_name"
        )));
    }
    if service.network_mode.as_deref() == Some("host") && !service.ports.is_empty() {
        return Err(refuse(
            "with network_mode: host both would bind the same host ports".to_string(),
        ));
    }
    let mut warnings = Vec::new();
    for volume in &service.volumes {
        if volume.kind == VolumeKind::Volume {
            if let Some(source) = &volume.source {
                warnings.push(format!(
                    "service {service_name:?}: during a start-first update the old and the new \
                     container both mount volume {source:?} at {} for a moment",
                    volume.target
                ));
            }
        }
    }
    Ok(warnings)
}

/// The name a start-first replacement runs under until the old container is gone.
pub fn temporary_name(name: &str) -> String {
    format!("{name}_next")
}

/// Whether `name` is the temporary name of a replacement of some replica.
pub(crate) fn is_temporary_name(name: &str) -> bool {
    name.ends_with("_next")
}

/// One start-first replacement, as the plan holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Replacement {
    pub old_id: String,
    pub old_name: String,
    /// The name the old container is moved to before its replacement takes
    /// its name (`<short id>_<name>`).
    pub aside_name: String,
    /// The new container, under its final name.
    pub spec: ContainerSpec,
    pub monitor: Duration,
    pub failure_action: FailureAction,
    /// Wait this long before starting (the delay between batches).
    pub delay: Duration,
    /// Stop timeout for the old container; None: its own grace period.
    pub timeout: Option<Duration>,
    /// Why the container is replaced (`image changed`).
    pub reason: String,
}

/// How a replacement ended.
#[derive(Debug)]
pub(crate) enum Replaced {
    /// The new container serves under the real name; the old one is stopped
    /// under its aside name (`removed` says whether this step removed it).
    Done { new_id: String, removed: bool },
    /// `failure_action: continue`: the new container was removed, the old
    /// one serves on; the error is reported once the update ends.
    Abandoned(OrchestratorError),
}

/// How often the replacement's health is read again.
const HEALTH_POLL: Duration = Duration::from_millis(100);

/// Run one start-first replacement. On failure the new container is removed
/// and the old one keeps (or gets back) its name and keeps serving.
pub(crate) fn replace_start_first(
    engine: &dyn Engine,
    replacement: &Replacement,
    on_event: &(dyn Fn(Event) + Sync),
) -> Result<Replaced, OrchestratorError> {
    let r = replacement;
    let name = &r.spec.name;
    let object = format!("container {name}");
    let event = |status: Status| {
        on_event(Event::Container {
            name: name.clone(),
            status,
        })
    };
    if !r.delay.is_zero() {
        std::thread::sleep(r.delay);
    }
    event(Status::Recreate {
        reason: r.reason.clone(),
    });
    let mut next = r.spec.clone();
    next.name = temporary_name(name);
    let new_id = engine
        .create_container(&next)
        .map_err(|e| OrchestratorError::engine(object.clone(), e))?;
    for warning in engine.discarded_limits(&next.resources) {
        on_event(Event::Warning(format!("{name}: {warning}")));
    }
    let undo_new = || {
        let _ = engine.stop_container(&new_id, Some(Duration::ZERO));
        let _ = engine.remove_container(&new_id, true);
    };
    // A container that publishes ports gets them from the old one once it is
    // healthy: the host ports are the old one's until then.
    let publishes = !next.ports.is_empty();
    let started = if publishes {
        engine.start_container_awaiting_ports(&new_id)
    } else {
        engine.start_container(&new_id)
    };
    let ready = started
        .map_err(NotReady::Engine)
        .and_then(|()| wait_healthy(engine, &new_id, &next, r.monitor))
        .and_then(|()| {
            if !publishes {
                return Ok(());
            }
            engine
                .hand_over_ports(&r.old_id, &new_id)
                .map_err(NotReady::Handover)
        });
    if let Err(why) = ready {
        undo_new();
        let error = OrchestratorError::UpdateFailed {
            container: name.clone(),
            reason: why,
        };
        event(Status::Error(error.without_object()));
        if r.failure_action == FailureAction::Continue {
            on_event(Event::Warning(error.to_string()));
            return Ok(Replaced::Abandoned(error));
        }
        return Err(error);
    }
    // The new container is healthy: take the old one out and swap the names.
    let swap = || -> Result<(), (EngineError, bool, bool)> {
        engine
            .stop_container(&r.old_id, r.timeout)
            .map_err(|e| (e, false, false))?;
        engine
            .rename_container(&r.old_id, &r.aside_name)
            .map_err(|e| (e, true, false))?;
        engine
            .rename_container(&new_id, name)
            .map_err(|e| (e, true, true))
    };
    if let Err((error, stopped, renamed)) = swap() {
        undo_new();
        if renamed {
            let _ = engine.rename_container(&r.old_id, &r.old_name);
        }
        if stopped {
            let _ = engine.start_container(&r.old_id);
        }
        let error = OrchestratorError::engine(object, error);
        event(Status::Error(error.without_object()));
        return Err(error);
    }
    let removed = r.failure_action != FailureAction::Rollback;
    if removed {
        engine
            .remove_container(&r.old_id, true)
            .map_err(|e| OrchestratorError::engine(format!("container {}", r.aside_name), e))?;
    }
    event(Status::Recreated {
        reason: r.reason.clone(),
    });
    Ok(Replaced::Done { new_id, removed })
}

/// Wait until the container is healthy: its health check says so, or,
/// without one, it kept running for `monitor`. The error says why not.
fn wait_healthy(
    engine: &dyn Engine,
    id: &str,
    spec: &ContainerSpec,
    monitor: Duration,
) -> Result<(), NotReady> {
    let started = Instant::now();
    let deadline = started + health_deadline(spec, monitor);
    loop {
        let info = engine.inspect_container(id).map_err(NotReady::Engine)?;
        match (&info.state, info.health) {
            (ContainerState::Exited { exit_code, .. }, _) => {
                return Err(NotReady::Exited {
                    exit_code: *exit_code,
                })
            }
            (_, Some(Health::Unhealthy)) => return Err(NotReady::Unhealthy),
            (ContainerState::Running { .. }, Some(Health::Healthy)) => return Ok(()),
            (ContainerState::Running { .. }, None) if started.elapsed() >= monitor => return Ok(()),
            _ => {}
        }
        if Instant::now() >= deadline {
            return Err(NotReady::TimedOut {
                within: wharf_units::format_go_duration(deadline - started),
            });
        }
        std::thread::sleep(HEALTH_POLL);
    }
}

/// How long a replacement may take to become healthy: its health check's
/// start period and every retry, or `monitor`, with some slack.
fn health_deadline(spec: &ContainerSpec, monitor: Duration) -> Duration {
    let slack = Duration::from_secs(10);
    match &spec.healthcheck {
        Some(check) => {
            let ms = |v: Option<u64>, default: u64| Duration::from_millis(v.unwrap_or(default));
            let start_period = ms(check.start_period_ms, 0);
            let interval = ms(check.interval_ms, 30_000);
            let timeout = ms(check.timeout_ms, 30_000);
            let retries = check.retries.unwrap_or(3) + 1;
            start_period + (interval + timeout) * retries + slack
        }
        // The image's health check may apply; give it docker's defaults.
        None => monitor.max(Duration::from_secs(2 * 60 * 4)) + slack,
    }
}
