//! Reading a container's records: its config and its state, corrected for
//! what the state file cannot know (a process or a monitor that is gone, a
//! frozen cgroup), finding a container by name or id, and waiting for a
//! monitor that is between two states.

use crate::lock::{self, MonitorLock, MONITOR_LOCK};
use crate::store::{self, ContainerRecord, RuntimeState};
use crate::{
    events, ports, runtime_err, LinuxEngine, CONFIG_FILE, MONITOR_SETTLE_TIMEOUT, STATE_FILE,
};
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use wharf_engine_api::{ContainerInfo, ContainerState, EngineError, Result};

impl LinuxEngine {
    pub(crate) fn load_record(&self, id: &str) -> Result<ContainerRecord> {
        store::read_json(&self.layout.container(id).join(CONFIG_FILE))
    }

    pub(crate) fn load_state(&self, id: &str) -> Result<RuntimeState> {
        let path = self.layout.container(id).join(STATE_FILE);
        let data = fs::read(&path)
            .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
        // The state is written without a flush (see `write_json_unflushed`): after a
        // power loss it may be empty, and the container is then simply not running.
        Ok(serde_json::from_slice(&data).unwrap_or_else(|_| RuntimeState::created()))
    }

    pub(crate) fn save_state(&self, id: &str, state: &RuntimeState) -> Result<()> {
        store::write_json_unflushed(&self.layout.container(id).join(STATE_FILE), state)
    }

    /// Every record, removing on the way the directories of creates (and
    /// removals) that a crash interrupted. The caller holds the global lock,
    /// under which every create and removal runs, so none of them is in
    /// progress.
    pub(crate) fn all_records_repairing(&self) -> Result<Vec<ContainerRecord>> {
        read_configs(&self.finished_container_dirs_repairing()?)
    }

    /// The directories of finished creates (those with a config), removing
    /// the others as [`Self::all_records_repairing`] does, without reading
    /// the records.
    pub(crate) fn finished_container_dirs_repairing(&self) -> Result<Vec<PathBuf>> {
        let mut finished = Vec::new();
        for dir in self.container_dirs()? {
            if dir.join(CONFIG_FILE).exists() {
                finished.push(dir);
            } else {
                remove_unfinished_dir(&dir)?;
            }
        }
        Ok(finished)
    }

    pub(crate) fn container_dirs(&self) -> Result<Vec<PathBuf>> {
        let dir = self.layout.containers();
        let entries = fs::read_dir(&dir)
            .map_err(|e| EngineError::io(format!("reading {}", dir.display()), e))?;
        Ok(entries.flatten().map(|entry| entry.path()).collect())
    }

    pub(crate) fn all_records(&self) -> Result<Vec<ContainerRecord>> {
        let mut out = Vec::new();
        for dir in self.container_dirs()? {
            let path = dir.join(CONFIG_FILE);
            // A directory without a config is a create that did not finish.
            if path.exists() {
                out.push(store::read_json(&path)?);
            }
        }
        Ok(out)
    }

    /// The state, corrected when its monitor is dead (see [`Self::orphaned`]),
    /// and paused when its cgroup is frozen. A monitor is dead when its lock
    /// is free, not when its recorded pid looks gone: the lock goes only
    /// with the monitor's last open file, whichever pid namespace the reader
    /// is in, while a recorded pid can name another process or none there.
    pub(crate) fn live_state(&self, id: &str) -> Result<RuntimeState> {
        let mut state = self.load_state(id)?;
        if let (ContainerState::Running { paused, .. }, Some(cgroup)) =
            (&mut state.state, &state.cgroup)
        {
            *paused = cgroup.is_frozen().unwrap_or(false);
        }
        let monitored = matches!(
            state.state,
            ContainerState::Running { .. } | ContainerState::Restarting
        );
        if monitored && !lock::monitor_lock_held(&self.monitor_lock_path(id)) {
            return self.orphaned(id, state);
        }
        Ok(state)
    }

    /// A running (or restarting) container whose monitor is dead — its lock
    /// is free, so it was killed, since a monitor records the end before it
    /// exits and holds the lock until then. Nothing holds the
    /// container's output, serves its published ports or applies its
    /// restart policy any more, so the container is not shown as running:
    /// what is left of it (processes, DNAT rules, veth pairs) is removed, it
    /// is recorded as exited with a `die` event, and the next `start` or
    /// `up` starts it again under a new monitor, which brings its logs,
    /// exit status and ports back.
    pub(crate) fn orphaned(&self, id: &str, seen: RuntimeState) -> Result<RuntimeState> {
        // Only who gets the lock may judge: a monitor that holds it lives,
        // however long it takes, and under it no other reader repairs the
        // same container at once. The monitor may have recorded the end and
        // exited between the read and the lock; one that did leaves no
        // orphan.
        let Some(_lock) = MonitorLock::try_acquire(&self.monitor_lock_path(id))? else {
            return Ok(seen);
        };
        let mut state = self.load_state(id)?;
        if !matches!(
            state.state,
            ContainerState::Running { .. } | ContainerState::Restarting
        ) {
            return Ok(state);
        }
        let container_alive = match state.state {
            ContainerState::Running { pid, .. } => crate::procfs::process_start_ticks(pid)
                .is_some_and(|ticks| state.pid_start_ticks.is_none_or(|t| t == ticks)),
            _ => false,
        };
        if let Some(cgroup) = &state.cgroup {
            cgroup.kill_all_and_destroy().map_err(runtime_err)?;
        }
        if let ContainerState::Running { pid, .. } = state.state {
            if container_alive {
                let _ = wharf_runtime::wait_for_exit(pid, Duration::from_secs(10));
            }
        }
        // Killed now (by SIGKILL, 137), or its end was never recorded.
        let exit_code = if container_alive {
            137
        } else {
            state.last_exit_code.unwrap_or(255)
        };
        state.state = ContainerState::Exited {
            exit_code,
            finished_at: store::now_secs(),
            oom_killed: state.last_oom_killed,
        };
        state.monitor_pid = None;
        state.last_exit_code = Some(exit_code);
        state.error = Some("its monitor process died".into());
        self.save_state(id, &state)?;
        if let Ok(record) = self.load_record(id) {
            // What the monitor would have removed as it ended.
            let _ = fs::remove_file(
                self.layout
                    .container(id)
                    .join(crate::dns_data::RUNNING_MARKER),
            );
            let _ = ports::withdraw(&record);
            let _ = self.delete_veths(&record);
            events::record(
                &self.layout,
                &record,
                "die",
                &[
                    ("exitCode", exit_code.to_string()),
                    ("reason", "monitor died".to_string()),
                ],
            );
        }
        Ok(state)
    }

    pub(crate) fn monitor_lock_path(&self, id: &str) -> PathBuf {
        self.layout.container(id).join(MONITOR_LOCK)
    }

    /// The state once no monitor is between two states of the container:
    /// starting it (the state still says created) or recording its end. A
    /// start whose CLI died leaves such a monitor behind, and acting on the
    /// old state then would start a second one or remove the directory under
    /// its feet.
    pub(crate) fn settled_state(&self, record: &ContainerRecord) -> Result<RuntimeState> {
        let lock = self.monitor_lock_path(&record.id);
        let deadline = Instant::now() + MONITOR_SETTLE_TIMEOUT;
        loop {
            let state = self.live_state(&record.id)?;
            let settled = matches!(
                state.state,
                ContainerState::Running { .. } | ContainerState::Restarting
            ) || !lock::monitor_lock_held(&lock);
            if settled {
                return Ok(state);
            }
            if Instant::now() >= deadline {
                return Err(EngineError::Unavailable(format!(
                    "container {}: its monitor has been starting or stopping it for {} s: try again, or remove it with `wharf rm -f`",
                    record.name,
                    MONITOR_SETTLE_TIMEOUT.as_secs()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The monitor lock of a container to start, or None when it is already
    /// running (or restarting) under a monitor of its own.
    pub(crate) fn claim_monitor(&self, record: &ContainerRecord) -> Result<Option<MonitorLock>> {
        let deadline = Instant::now() + MONITOR_SETTLE_TIMEOUT;
        loop {
            let state = self.settled_state(record)?;
            if state.state.is_running() || matches!(state.state, ContainerState::Restarting) {
                return Ok(None);
            }
            if let Some(lock) = MonitorLock::try_acquire(&self.monitor_lock_path(&record.id))? {
                return Ok(Some(lock));
            }
            // Another monitor took it between the look and the claim.
            if Instant::now() >= deadline {
                return Err(EngineError::Unavailable(format!(
                    "container {}: another monitor keeps starting it: try again",
                    record.name
                )));
            }
        }
    }

    pub(crate) fn info(&self, record: &ContainerRecord) -> Result<ContainerInfo> {
        let state = self.live_state(&record.id)?;
        Ok(self.info_with_state(record, state))
    }

    /// What a listing shows of `record` whose live state is `state`.
    pub(crate) fn info_with_state(
        &self,
        record: &ContainerRecord,
        state: RuntimeState,
    ) -> ContainerInfo {
        let (ports, health) = if state.state.is_running() {
            (state.ports.clone(), state.health)
        } else {
            (Vec::new(), None)
        };
        ContainerInfo {
            id: record.id.clone(),
            name: record.name.clone(),
            image: record.spec.image.clone(),
            image_id: record.image_id.clone(),
            command: record.args.clone(),
            created: record.created,
            state: state.state,
            labels: record.spec.labels.clone(),
            ports,
            addresses: record
                .endpoints
                .iter()
                .map(|e| (e.network.clone(), std::net::IpAddr::V4(e.address)))
                .collect(),
            addresses_v6: record
                .endpoints
                .iter()
                .filter_map(|e| Some((e.network.clone(), std::net::IpAddr::V6(e.ipv6?.address))))
                .collect(),
            health,
        }
    }

    pub(crate) fn find(&self, id_or_name: &str) -> Result<ContainerRecord> {
        if id_or_name.len() == 64 && self.layout.container(id_or_name).join(CONFIG_FILE).exists() {
            return self.load_record(id_or_name);
        }
        let records = self.all_records()?;
        if let Some(r) = records.iter().find(|r| r.name == id_or_name) {
            return Ok(r.clone());
        }
        let matches: Vec<&ContainerRecord> = records
            .iter()
            .filter(|r| !id_or_name.is_empty() && r.id.starts_with(id_or_name))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(EngineError::not_found("container", id_or_name)),
            _ => Err(EngineError::Invalid(format!(
                "container id prefix {id_or_name:?} is ambiguous: give more characters"
            ))),
        }
    }
}

/// The records of the container directories `dirs`.
pub(crate) fn read_configs(dirs: &[PathBuf]) -> Result<Vec<ContainerRecord>> {
    dirs.iter()
        .map(|dir| store::read_json(&dir.join(CONFIG_FILE)))
        .collect()
}

/// Remove the directory of a create (or removal) that a crash interrupted.
pub(crate) fn remove_unfinished_dir(dir: &Path) -> Result<()> {
    fs::remove_dir_all(dir).map_err(|e| {
        EngineError::io(
            format!(
                "removing the unfinished container directory {}",
                dir.display()
            ),
            e,
        )
    })
}
