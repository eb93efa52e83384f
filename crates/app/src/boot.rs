//! `system boot`: after the host restarted (every process, bridge, firewall
//! table and cgroup gone, the state root kept), start again every container
//! whose restart policy says it runs, as docker's daemon does when it comes
//! up. There is no daemon to do it, so the boot unit runs this once.
//!
//! docker's rules: `always` comes back even when the user had stopped it,
//! `unless-stopped` only when the user had not, `on-failure` when it had not
//! been stopped and its last run ended with a non-zero code (a reboot kills
//! a running container, which then reads `Exited (137)`), `no` never. A
//! container that was only created never ran, so it stays as it is.

use crate::AppError;
use wharf_engine::LinuxEngine;
use wharf_engine_api::{
    ContainerSpec, ContainerState, Engine, IpcMode, NetworkMode, PidMode, RestartPolicy,
};

/// What a boot did: the containers it started, in order, and those it could
/// not start with why (one failure does not stop the others).
#[derive(Debug, Default)]
pub struct BootOutcome {
    pub started: Vec<String>,
    pub failed: Vec<(String, AppError)>,
}

/// Whether a container with `policy`, now in `state`, runs again after a
/// reboot.
pub fn should_start(policy: &RestartPolicy, state: &ContainerState, stopped_by_user: bool) -> bool {
    let exit_code = match state {
        // Running already (a boot run twice): nothing to do.
        ContainerState::Running { .. } | ContainerState::Restarting => return false,
        ContainerState::Created | ContainerState::Dead => return false,
        ContainerState::Exited { exit_code, .. } => *exit_code,
    };
    match policy {
        RestartPolicy::No => false,
        RestartPolicy::Always => true,
        RestartPolicy::UnlessStopped => !stopped_by_user,
        RestartPolicy::OnFailure { .. } => !stopped_by_user && exit_code != 0,
    }
}

/// Whether the container joins a namespace or the volumes of another
/// container, which must then run first.
fn joins_another(spec: &ContainerSpec) -> bool {
    matches!(spec.network_mode, NetworkMode::Container(_))
        || matches!(spec.pid_mode, PidMode::Container(_))
        || matches!(spec.ipc_mode, IpcMode::Container(_))
        || !spec.volumes_from.is_empty()
}

/// Start every container that should run after a reboot: first those that
/// stand alone, then those that join another container, each wave by name.
pub fn boot(engine: &LinuxEngine) -> Result<BootOutcome, AppError> {
    let containers = engine
        .list_containers(&[])
        .map_err(|e| AppError::engine("listing containers", e))?;
    let mut outcome = BootOutcome::default();
    let mut waves: [Vec<(String, String)>; 2] = Default::default();
    for container in containers {
        let details = match engine.container_details(&container.id) {
            Ok(details) => details,
            Err(e) => {
                let context = format!("reading container {}", container.name);
                outcome
                    .failed
                    .push((container.name, AppError::engine(context, e)));
                continue;
            }
        };
        if should_start(
            &details.spec.restart,
            &container.state,
            details.stopped_by_user,
        ) {
            let wave = usize::from(joins_another(&details.spec));
            waves[wave].push((container.id, container.name));
        }
    }
    for (id, name) in waves.into_iter().flatten() {
        match engine.start_container(&id) {
            Ok(()) => outcome.started.push(name),
            Err(e) => {
                let context = format!("starting container {name}");
                outcome.failed.push((name, AppError::engine(context, e)));
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exited(exit_code: i32) -> ContainerState {
        ContainerState::Exited {
            exit_code,
            finished_at: 0,
            oom_killed: false,
        }
    }

    #[test]
    fn each_policy_decides_as_docker_after_a_reboot() {
        let killed = exited(137);
        let on_failure = RestartPolicy::OnFailure { max_retries: None };
        assert!(should_start(&RestartPolicy::Always, &killed, false));
        assert!(should_start(&RestartPolicy::Always, &exited(0), true));
        assert!(should_start(&RestartPolicy::UnlessStopped, &killed, false));
        assert!(!should_start(
            &RestartPolicy::UnlessStopped,
            &exited(0),
            true
        ));
        assert!(should_start(&on_failure, &killed, false));
        assert!(!should_start(&on_failure, &exited(0), false));
        assert!(!should_start(&on_failure, &exited(143), true));
        assert!(!should_start(&RestartPolicy::No, &killed, false));
    }

    #[test]
    fn containers_that_run_or_never_ran_are_left_alone() {
        let running = ContainerState::Running {
            pid: 1,
            started_at: 0,
            paused: false,
        };
        assert!(!should_start(&RestartPolicy::Always, &running, false));
        assert!(!should_start(
            &RestartPolicy::Always,
            &ContainerState::Created,
            false
        ));
    }
}
