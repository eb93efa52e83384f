//! `system boot`: after the host restarted (every process, bridge, firewall
//! table and cgroup gone, the state root kept), start again every container
//! whose restart policy says it runs, as docker's daemon does when it comes
//! up. There is no daemon to do it, so the boot unit runs this once.
//!
//! docker's rule (moby's `daemon.restore`, which asks each container's
//! restart manager `ShouldRestart` with its last exit code, its restart
//! count and whether the user stopped it, and starts it as a user's start
//! would, which counts its restarts anew):
//! - `always` comes back, even when the user had stopped it;
//! - `unless-stopped` only when the user had not stopped it;
//! - `on-failure[:N]` when its last run ended with a non-zero code and its
//!   policy had restarted it fewer than N times since it was last started
//!   (no N, or 0: no maximum), so one that used up its retries stays down.
//!   A reboot kills a running container, which then reads `Exited (137)`;
//!   a user's `stop` does not count, as docker does not count it: a stop
//!   that ended the process by a signal left a non-zero code, and the
//!   container comes back;
//! - `no` never.
//!
//! A container that was only created never ran, so it stays as it is. A
//! `--rm` container that the reboot ended (or that never started) is
//! removed with its anonymous volumes, as docker's daemon removes it.

use crate::AppError;
use wharf_engine::LinuxEngine;
use wharf_engine_api::{
    ContainerSpec, ContainerState, Engine, EngineError, IpcMode, NetworkMode, PidMode,
    RestartPolicy,
};

/// What a boot did: the containers it started, in order, the `--rm` ones
/// it removed, and those it could not start or remove with why (one
/// failure does not stop the others).
#[derive(Debug, Default)]
pub struct BootOutcome {
    pub started: Vec<String>,
    pub removed: Vec<String>,
    pub failed: Vec<(String, AppError)>,
}

/// What a boot reads of a container besides its listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BootRecord {
    pub restart: RestartPolicy,
    /// Restarts by its policy since it was last started by hand.
    pub restart_count: u32,
    /// Its last end was asked for (`stop`).
    pub stopped_by_user: bool,
    /// `--rm`: removed once it has ended.
    pub auto_remove: bool,
    /// It joins the namespaces or the volumes of another container, which
    /// must then run first.
    pub joins_another: bool,
}

/// Where a boot reads each container's [`BootRecord`]: the Linux engine's
/// records, a table in tests.
pub trait BootRecords {
    fn boot_record(&self, id: &str) -> Result<BootRecord, EngineError>;
}

impl BootRecords for LinuxEngine {
    fn boot_record(&self, id: &str) -> Result<BootRecord, EngineError> {
        let details = self.container_details(id)?;
        Ok(BootRecord {
            restart_count: details.restart_count,
            stopped_by_user: details.stopped_by_user,
            auto_remove: details.spec.auto_remove,
            joins_another: joins_another(&details.spec),
            restart: details.spec.restart,
        })
    }
}

/// Whether a container, now in `state`, runs again after a reboot.
pub fn should_start(record: &BootRecord, state: &ContainerState) -> bool {
    let exit_code = match state {
        // Running already (a boot run twice): nothing to do.
        ContainerState::Running { .. } | ContainerState::Restarting => return false,
        ContainerState::Created | ContainerState::Dead => return false,
        ContainerState::Exited { exit_code, .. } => *exit_code,
    };
    record
        .restart
        .restarts_after(exit_code, record.restart_count, record.stopped_by_user)
}

/// Whether the container joins a namespace or the volumes of another
/// container.
pub fn joins_another(spec: &ContainerSpec) -> bool {
    matches!(spec.network_mode, NetworkMode::Container(_))
        || matches!(spec.pid_mode, PidMode::Container(_))
        || matches!(spec.ipc_mode, IpcMode::Container(_))
        || !spec.volumes_from.is_empty()
}

/// Start every container that should run after a reboot: first those that
/// stand alone, then those that join another container, each wave by name;
/// then remove the `--rm` containers that are not running.
pub fn boot(engine: &dyn Engine, records: &dyn BootRecords) -> Result<BootOutcome, AppError> {
    let containers = engine
        .list_containers(&[])
        .map_err(|e| AppError::engine("listing containers", e))?;
    let mut outcome = BootOutcome::default();
    let mut waves: [Vec<(String, String)>; 2] = Default::default();
    let mut ended_rm = Vec::new();
    for container in containers {
        let record = match records.boot_record(&container.id) {
            Ok(record) => record,
            Err(e) => {
                let context = format!("reading container {}", container.name);
                outcome
                    .failed
                    .push((container.name, AppError::engine(context, e)));
                continue;
            }
        };
        if should_start(&record, &container.state) {
            let wave = usize::from(record.joins_another);
            waves[wave].push((container.id, container.name));
        } else if record.auto_remove && !container.state.is_running() {
            ended_rm.push((container.id, container.name));
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
    for (id, name) in ended_rm {
        match engine.remove_container_and_anonymous_volumes(&id, true) {
            Ok(()) => outcome.removed.push(name),
            Err(e) => {
                let context = format!("removing container {name} (--rm)");
                outcome.failed.push((name, AppError::engine(context, e)));
            }
        }
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;
    use wharf_testkit::FakeEngine;

    fn exited(exit_code: i32) -> ContainerState {
        ContainerState::Exited {
            exit_code,
            finished_at: 0,
            oom_killed: false,
        }
    }

    fn policy(restart: RestartPolicy) -> BootRecord {
        BootRecord {
            restart,
            ..Default::default()
        }
    }

    fn on_failure(max_retries: Option<u32>, restart_count: u32) -> BootRecord {
        BootRecord {
            restart: RestartPolicy::OnFailure { max_retries },
            restart_count,
            ..Default::default()
        }
    }

    fn stopped(mut record: BootRecord) -> BootRecord {
        record.stopped_by_user = true;
        record
    }

    #[test]
    fn each_policy_decides_as_docker_after_a_reboot() {
        let killed = exited(137);
        assert!(should_start(&policy(RestartPolicy::Always), &killed));
        assert!(should_start(
            &stopped(policy(RestartPolicy::Always)),
            &exited(0)
        ));
        assert!(should_start(&policy(RestartPolicy::UnlessStopped), &killed));
        assert!(!should_start(
            &stopped(policy(RestartPolicy::UnlessStopped)),
            &exited(0)
        ));
        assert!(!should_start(&policy(RestartPolicy::No), &killed));
    }

    #[test]
    fn on_failure_counts_the_retries_its_maximum_allows() {
        // Killed by the reboot on its first run, or on its second with one
        // retry of three used: it comes back.
        assert!(should_start(&on_failure(None, 0), &exited(137)));
        assert!(should_start(&on_failure(Some(3), 1), &exited(137)));
        // Its retries used up before the reboot: it stays down.
        assert!(!should_start(&on_failure(Some(3), 3), &exited(1)));
        assert!(!should_start(&on_failure(Some(1), 2), &exited(1)));
        // 0, like none, is no maximum, as docker reads it.
        assert!(should_start(&on_failure(Some(0), 40), &exited(1)));
        assert!(should_start(&on_failure(None, 40), &exited(1)));
        // A clean exit is no failure.
        assert!(!should_start(&on_failure(Some(3), 0), &exited(0)));
    }

    #[test]
    fn on_failure_ignores_a_stop_as_docker_does() {
        // `stop` ended it by a signal: a failure by docker's rule.
        assert!(should_start(&stopped(on_failure(None, 0)), &exited(143)));
        // A process that ended cleanly on the stop signal stays down.
        assert!(!should_start(&stopped(on_failure(None, 0)), &exited(0)));
    }

    #[test]
    fn containers_that_run_or_never_ran_are_left_alone() {
        let running = ContainerState::Running {
            pid: 1,
            started_at: 0,
            paused: false,
        };
        let always = policy(RestartPolicy::Always);
        assert!(!should_start(&always, &running));
        assert!(!should_start(&always, &ContainerState::Created));
    }

    /// The fake engine's containers with their boot records by name.
    struct Records<'a> {
        engine: &'a FakeEngine,
        by_name: BTreeMap<&'static str, BootRecord>,
    }

    impl BootRecords for Records<'_> {
        fn boot_record(&self, id: &str) -> Result<BootRecord, EngineError> {
            let name = self.engine.inspect_container(id)?.name;
            Ok(self.by_name.get(name.as_str()).cloned().unwrap_or_default())
        }
    }

    fn container(engine: &FakeEngine, name: &str, state: ContainerState) {
        let spec = ContainerSpec {
            name: name.to_string(),
            image: "busybox:latest".into(),
            ..Default::default()
        };
        engine.add_container(&spec, false);
        engine.set_state(name, state);
    }

    #[test]
    fn boot_starts_by_the_retry_count_and_joiners_last() {
        let engine = FakeEngine::new();
        container(&engine, "a-joiner", exited(137));
        container(&engine, "b-retrying", exited(137));
        container(&engine, "c-used-up", exited(1));
        container(&engine, "d-clean", exited(0));
        let mut joiner = policy(RestartPolicy::Always);
        joiner.joins_another = true;
        let records = Records {
            engine: &engine,
            by_name: BTreeMap::from([
                ("a-joiner", joiner),
                ("b-retrying", on_failure(Some(2), 1)),
                ("c-used-up", on_failure(Some(2), 2)),
                ("d-clean", on_failure(Some(2), 0)),
            ]),
        };
        let outcome = boot(&engine, &records).unwrap();
        assert_eq!(outcome.started, ["b-retrying", "a-joiner"]);
        assert!(outcome.failed.is_empty(), "{:?}", outcome.failed);
        let running: Vec<String> = engine
            .containers()
            .into_iter()
            .filter(|c| c.state.is_running())
            .map(|c| c.name)
            .collect();
        assert_eq!(running, ["a-joiner", "b-retrying"]);
    }

    #[test]
    fn boot_removes_ended_rm_containers_and_keeps_going_past_a_failure() {
        let engine = FakeEngine::new();
        container(&engine, "ended-rm", exited(137));
        container(&engine, "broken", exited(137));
        let rm = BootRecord {
            auto_remove: true,
            ..Default::default()
        };
        let records = Records {
            engine: &engine,
            by_name: BTreeMap::from([("ended-rm", rm), ("broken", policy(RestartPolicy::Always))]),
        };
        engine.fail_on("start_container", "broken", "no such image");
        let outcome = boot(&engine, &records).unwrap();
        assert_eq!(outcome.removed, ["ended-rm"]);
        assert_eq!(outcome.failed.len(), 1);
        assert_eq!(outcome.failed[0].0, "broken");
        assert_eq!(engine.container_names(), ["broken"]);
    }
}
