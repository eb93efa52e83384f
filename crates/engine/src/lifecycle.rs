//! A container's life: create (its record, from the spec and the image),
//! stop (signal, wait, and what its monitor would have cleaned up) and
//! remove.

use crate::store::{self, ContainerRecord, RuntimeState};
use crate::{
    events, files, image_err, netmode, network, ports, runtime_err, security, timing, LinuxEngine,
    CONFIG_FILE, DEFAULT_PATH, DEFAULT_STOP_TIMEOUT, STATE_FILE, STOP_MARKER,
};
use std::fs;
use std::time::Duration;
use wharf_engine_api::labels;
use wharf_engine_api::{ContainerSpec, ContainerState, EngineError, Result};

impl LinuxEngine {
    /// Time phase `name` of `subject` (see [`crate::timing`]).
    pub(crate) fn phase<'a>(&self, name: &'static str, subject: &'a str) -> timing::Phase<'a> {
        timing::phase(self.config.timings, name, subject)
    }

    pub(crate) fn create(&self, spec: &ContainerSpec) -> Result<String> {
        let _whole = self.phase("create", &spec.name);
        let validation = self.phase("create: validate the spec", &spec.name);
        crate::resources::validate(spec, &self.config.cgroup_fs_root)?;
        security::validate(spec, &self.layout.seccomp_cache())?;
        files::validate(spec)?;
        drop(validation);
        let id = store::new_id()?;
        // Everything that does not depend on the other containers is written
        // before the global lock, in a directory of its own under `staging`
        // that no other command looks at; under the lock it is renamed into
        // place and the config written, so parallel creates take turns only
        // at that.
        let staging = self
            .layout
            .staging()
            .join(format!("{id}.{}", std::process::id()));
        let staged = self.phase("create: stage the container's files", &spec.name);
        let result = stage_files(&staging, spec);
        drop(staged);
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&staging);
            return Err(e);
        }
        let published = self.publish(spec, &id, &staging);
        if published.is_err() {
            let _ = fs::remove_dir_all(&staging);
        }
        let (record, records) = published?;
        let etc = self.phase("create: write the /etc files", &spec.name);
        if let Err(e) = self.write_etc_files(&record, &records) {
            let _ = self.remove_stopped(&record);
            return Err(e);
        }
        drop(etc);
        self.sweep(&self.layout.staging());
        // The peers' DNS tables get the container when it starts
        // (`write_etc_files_locked`): until it runs its addresses are not
        // answered, and rewriting them here, under the global lock, made the
        // creates of a large `up` take turns at quadratic work.
        events::record(&self.layout, &record, "create", &[]);
        Ok(id)
    }

    /// The part of [`Self::create`] under the global lock: the name and the
    /// addresses are checked and allocated against every record, the staged
    /// directory renamed into place and the config written. Returns the
    /// record and every other record, read under the lock.
    fn publish(
        &self,
        spec: &ContainerSpec,
        id: &str,
        staging: &std::path::Path,
    ) -> Result<(ContainerRecord, Vec<ContainerRecord>)> {
        let reading = self.phase("create: global lock, read every record", &spec.name);
        let _lock = self.global_lock()?;
        let records = self.all_records_repairing()?;
        drop(reading);
        if records.iter().any(|r| r.name == spec.name) {
            return Err(EngineError::Conflict {
                kind: "container",
                name: spec.name.clone(),
            });
        }
        for source in &spec.volumes_from {
            if netmode::find(&self.layout, &source.container).is_err() {
                return Err(EngineError::Invalid(format!(
                    "container {}: volumes_from names container {}, which does not exist: \
                     create it first or correct the name",
                    spec.name, source.container
                )));
            }
        }
        let image = self
            .images
            .resolve(&spec.image)
            .map_err(image_err)?
            .ok_or_else(|| EngineError::NotFound {
                kind: "image",
                name: spec.image.clone(),
                hint: format!(
                    "; import it with \"wharf image import FILE {}\" or pull it",
                    spec.image
                ),
            })?;
        let args = resolve_args(spec, &image.config);
        if args.is_empty() {
            return Err(EngineError::Invalid(format!(
                "container {}: no command: set `command:` in the service or CMD in the image {}",
                spec.name, spec.image
            )));
        }
        let hostname = match spec.uts_mode {
            // The host's UTS namespace: the host's name, which stays as it is.
            wharf_engine_api::UtsMode::Host => nix::unistd::gethostname()
                .map(|name| name.to_string_lossy().into_owned())
                .map_err(|e| EngineError::io("reading the host name", e.into()))?,
            wharf_engine_api::UtsMode::Private => spec
                .hostname
                .clone()
                .unwrap_or_else(|| id[..12].to_string()),
        };
        let allocation = self.phase("create: allocate endpoints", &spec.name);
        let networks = network::load_networks(&self.layout)?;
        let endpoints = network::allocate_endpoints(&networks, &records, id, &spec.networks)?;
        drop(allocation);
        let project = spec
            .labels
            .get(labels::PROJECT)
            .cloned()
            .unwrap_or_else(|| "default".into());
        // The image's HEALTHCHECK and STOPSIGNAL apply unless the service sets its own.
        let mut effective = spec.clone();
        if effective.healthcheck.is_none() {
            effective.healthcheck = image.config.healthcheck.as_ref().map(image_healthcheck);
        }
        if effective.stop_signal.is_none() {
            effective.stop_signal = image.config.stop_signal.clone();
        }
        let record = ContainerRecord {
            id: id.to_string(),
            name: spec.name.clone(),
            spec: effective,
            image_id: image.info.id.clone(),
            created: store::now_secs(),
            env: resolve_env(spec, &image.config, &hostname),
            cwd: spec
                .working_dir
                .clone()
                .or_else(|| image.config.working_dir.clone().filter(|w| !w.is_empty()))
                .unwrap_or_else(|| "/".into()),
            user: spec
                .user
                .clone()
                .or_else(|| image.config.user.clone().filter(|u| !u.is_empty())),
            hostname,
            layers: image.layers.clone(),
            endpoints,
            cgroup_path: format!("{}/{}/{}", self.config.cgroup_parent, project, id),
            args,
        };
        let dir = self.layout.container(id);
        let _writing = self.phase("create: move the files in, write the config", &spec.name);
        fs::rename(staging, &dir).map_err(|e| {
            EngineError::io(
                format!("moving {} to {}", staging.display(), dir.display()),
                e,
            )
        })?;
        // The config is written last: its presence marks a finished create.
        if let Err(e) = store::write_json(&dir.join(CONFIG_FILE), &record) {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        Ok((record, records))
    }

    pub(crate) fn stop_record(
        &self,
        record: &ContainerRecord,
        timeout: Option<Duration>,
    ) -> Result<()> {
        self.stop_ending(record, timeout).map(|_| ())
    }

    /// [`Self::stop_record`], telling whether it ended a process (and so
    /// deleted the container's veth pairs).
    fn stop_ending(&self, record: &ContainerRecord, timeout: Option<Duration>) -> Result<bool> {
        let timeout = timeout
            .or(record.spec.stop_grace_period_secs.map(Duration::from_secs))
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
        let _whole = self.phase("stop", &record.name);
        let dir = self.layout.container(&record.id);
        fs::write(dir.join(STOP_MARKER), b"")
            .map_err(|e| EngineError::io(format!("stopping {}", record.name), e))?;
        let state = self.settled_state(record)?;
        let pid = match state.state {
            ContainerState::Running { pid, .. } => Some(pid),
            _ => None,
        };
        // A frozen process cannot act on the stop signal: thaw first, as docker does.
        if let (true, Some(cgroup)) = (state.state.is_paused(), &state.cgroup) {
            cgroup.thaw().map_err(runtime_err)?;
        }
        let waiting = self.phase("stop: signal, wait for the exit", &record.name);
        if let Some(pid) = pid {
            let signal = wharf_runtime::parse_signal(
                record.spec.stop_signal.as_deref().unwrap_or("SIGTERM"),
            )
            .map_err(runtime_err)?;
            wharf_runtime::send_signal(pid, signal).map_err(runtime_err)?;
            if !wharf_runtime::wait_for_exit(pid, timeout).map_err(runtime_err)? {
                wharf_runtime::send_signal(pid, libc::SIGKILL).map_err(runtime_err)?;
                if !wharf_runtime::wait_for_exit(pid, Duration::from_secs(10))
                    .map_err(runtime_err)?
                {
                    return Err(EngineError::Unkillable {
                        container: record.name.clone(),
                        pid,
                    });
                }
            }
        }
        drop(waiting);
        // The process has ended, so its network can go: the veth deletion
        // (mostly the kernel waiting for RCU) runs while the monitor records
        // the exit (or, restarting, sees the stop marker).
        let gathered = pid.is_some() && self.gather_veths(record);
        std::thread::scope(|scope| {
            let veths = (pid.is_some() && !gathered).then(|| {
                scope.spawn(|| {
                    let _veths = self.phase("stop: delete veths", &record.name);
                    self.delete_veths(record)
                })
            });
            if let Some(monitor) = state.monitor_pid {
                let _monitor_exit = self.phase("stop: wait for the monitor", &record.name);
                let _ = wharf_runtime::wait_for_exit(monitor, Duration::from_secs(5));
            }
            veths.map_or(Ok(()), join_deletion)
        })?;
        if self.removed_by_its_monitor(record) {
            events::record(&self.layout, record, "stop", &[]);
            return Ok(pid.is_some());
        }
        let _recording = self.phase("stop: record the state", &record.name);
        let mut state = self.live_state(&record.id)?;
        if !matches!(
            state.state,
            ContainerState::Exited { .. } | ContainerState::Created
        ) {
            state.state = ContainerState::Exited {
                exit_code: state.last_exit_code.unwrap_or(137),
                finished_at: store::now_secs(),
                oom_killed: state.last_oom_killed,
            };
            state.monitor_pid = None;
            self.save_state(&record.id, &state)?;
            // No monitor recorded the end, so none removed the DNAT rules.
            ports::withdraw(record)?;
        }
        if pid.is_some() {
            events::record(&self.layout, record, "stop", &[]);
        }
        Ok(pid.is_some())
    }

    /// Whether the container's monitor removed it as it ended (`--rm`): its
    /// config goes first in a removal, so the rest is going or gone.
    fn removed_by_its_monitor(&self, record: &ContainerRecord) -> bool {
        record.spec.auto_remove && !self.layout.container(&record.id).join(CONFIG_FILE).exists()
    }

    /// Delete the host ends of the container's veth pairs (the kernel takes
    /// the peers with them). The kernel would remove them with the
    /// container's network namespace, but only a moment after its last
    /// process ended: deleted here, they are gone when `stop`, `rm` or
    /// `down` returns. The endpoints are read anew, since `network connect`
    /// and `disconnect` change them.
    pub(crate) fn delete_veths(&self, record: &ContainerRecord) -> Result<()> {
        let names = self.veth_names(record);
        wharf_net::delete_links(&crate::teardown::as_strs(&names)).map_err(network::net_err)
    }

    /// The host ends of the container's veth pairs, read anew.
    pub(crate) fn veth_names(&self, record: &ContainerRecord) -> Vec<String> {
        let current = self.load_record(&record.id);
        let endpoints = match &current {
            Ok(current) => &current.endpoints,
            Err(_) => &record.endpoints,
        };
        endpoints.iter().map(|e| e.host_ifname.clone()).collect()
    }

    pub(crate) fn remove(&self, id: &str, force: bool) -> Result<()> {
        let found = self.phase("remove: find, settled state", id);
        let record = self.find(id)?;
        let state = self.settled_state(&record)?;
        drop(found);
        let _whole = self.phase("remove", &record.name);
        // The stop deletes the veth pairs of the process it ends.
        let mut veths_deleted = false;
        if state.state.is_running() || matches!(state.state, ContainerState::Restarting) {
            if !force {
                return Err(EngineError::Invalid(format!(
                    "container {} is running: stop it first or remove it with force",
                    record.name
                )));
            }
            // Killed at once: no pre_stop hooks, as `docker rm -f`.
            veths_deleted = self.stop_ending(&record, Some(Duration::ZERO))?;
            if self.removed_by_its_monitor(&record) {
                return Ok(());
            }
        }
        std::thread::scope(|scope| {
            // A container that ended on its own may have left its veth pairs
            // to the kernel's clean-up a moment ago; their deletion runs while
            // its cgroups and files go.
            let veths = (!veths_deleted && !self.gather_veths(&record)).then(|| {
                scope.spawn(|| {
                    let _veths = self.phase("remove: delete veths", &record.name);
                    self.delete_veths(&record)
                })
            });
            let removal = self.remove_stopped(&record);
            let deletion = veths.map_or(Ok(()), join_deletion);
            removal.and(deletion)
        })?;
        events::record(&self.layout, &record, "destroy", &[]);
        Ok(())
    }

    /// The part of [`Self::remove`] after the stop: the cgroups, the
    /// published ports' rules, the state directory and the peers' DNS tables.
    fn remove_stopped(&self, record: &ContainerRecord) -> Result<()> {
        let cgroups = self.phase("remove: destroy the cgroups", &record.name);
        let mode =
            wharf_runtime::cgroups::detect(&self.config.cgroup_fs_root).map_err(runtime_err)?;
        let handle = wharf_runtime::CgroupHandle {
            mode,
            fs_root: self.config.cgroup_fs_root.clone(),
            path: record.cgroup_path.clone(),
        };
        handle.kill_all_and_destroy().map_err(runtime_err)?;
        drop(cgroups);
        ports::withdraw(record)?;
        let parents = self.phase("remove: remove empty parent cgroups", &record.name);
        if let Some((parent, _)) = record.cgroup_path.rsplit_once('/') {
            wharf_runtime::CgroupHandle::remove_empty_parents(&self.config.cgroup_fs_root, parent);
        }
        drop(parents);
        let files = self.phase("remove: global lock, move the files away", &record.name);
        let dir = self.layout.container(&record.id);
        let trashed = self
            .layout
            .trash()
            .join(format!("{}.{}", record.id, std::process::id()));
        {
            let _lock = self.global_lock()?;
            // Remove the config first: a half-removed directory then reads as absent.
            let _ = fs::remove_file(dir.join(CONFIG_FILE));
            // One rename under the lock; the slow part, unlinking each file,
            // runs after it, so parallel removals do not take turns at it.
            if fs::rename(&dir, &trashed).is_err() {
                fs::remove_dir_all(&dir)
                    .map_err(|e| EngineError::io(format!("removing {}", dir.display()), e))?;
            }
        }
        drop(files);
        // In a teardown the unlinking thread times itself.
        if trashed.exists() && !self.unlink_during_teardown(&trashed, &record.name) {
            let _files = self.phase("remove: delete the files", &record.name);
            fs::remove_dir_all(&trashed)
                .map_err(|e| EngineError::io(format!("removing {}", trashed.display()), e))?;
        }
        self.sweep(&self.layout.trash());
        self.sweep(&self.layout.staging());
        // The peers' DNS tables keep the removed container's entries: they
        // are answered only while its running marker exists, which went with
        // its directory, and the next create or connect on the network
        // rewrites the tables. Rewriting them here read every record once
        // per removal, which made a large `down` quadratic.
        Ok(())
    }
}

impl LinuxEngine {
    /// Delete what creates or removals a crash cut short left in `dir`
    /// (`staging` or `trash`): entries whose owner (the pid ending the name)
    /// is gone. Entries of live processes are theirs to finish.
    fn sweep(&self, dir: &std::path::Path) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let remover = name
                .to_str()
                .and_then(|n| n.rsplit_once('.'))
                .and_then(|(_, pid)| pid.parse::<i32>().ok());
            let alive = remover.is_some_and(|pid| {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None).is_ok()
            });
            if !alive {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// What a container's directory holds before its record is made: the
/// overlay's directories, the files of its secrets and configs, its state.
fn stage_files(dir: &std::path::Path, spec: &ContainerSpec) -> Result<()> {
    for sub in ["upper", "work", "merged"] {
        fs::create_dir_all(dir.join(sub))
            .map_err(|e| EngineError::io(format!("creating {}", dir.join(sub).display()), e))?;
    }
    files::write(dir, spec)?;
    store::write_json_unflushed(&dir.join(STATE_FILE), &RuntimeState::created())
}

/// The outcome of a veth deletion run on a scoped thread.
fn join_deletion(deletion: std::thread::ScopedJoinHandle<'_, Result<()>>) -> Result<()> {
    deletion.join().unwrap_or_else(|_| {
        Err(EngineError::io(
            "deleting the container's veth pairs",
            std::io::Error::other("the deleting thread panicked"),
        ))
    })
}

/// An image's HEALTHCHECK (durations in nanoseconds, 0 = default) as the
/// engine's health check.
pub(crate) fn image_healthcheck(
    check: &wharf_image::oci::HealthConfig,
) -> wharf_engine_api::Healthcheck {
    let ms = |ns: u64| (ns > 0).then_some(ns / 1_000_000);
    wharf_engine_api::Healthcheck {
        test: check.test.clone(),
        interval_ms: ms(check.interval),
        timeout_ms: ms(check.timeout),
        retries: (check.retries > 0).then_some(check.retries as u32),
        start_period_ms: ms(check.start_period),
        start_interval_ms: ms(check.start_interval),
    }
}

/// The command a container runs: the entrypoint (service's, else image's)
/// followed by the command (service's, else the image's unless the service
/// set its own entrypoint) — docker's rule.
pub(crate) fn resolve_args(
    spec: &ContainerSpec,
    image: &wharf_image::RuntimeConfig,
) -> Vec<String> {
    let entrypoint = spec
        .entrypoint
        .clone()
        .or_else(|| image.entrypoint.clone())
        .unwrap_or_default();
    let command = match (&spec.command, &spec.entrypoint) {
        (Some(cmd), _) => cmd.clone(),
        (None, Some(_)) => Vec::new(),
        (None, None) => image.cmd.clone().unwrap_or_default(),
    };
    entrypoint.into_iter().chain(command).collect()
}

pub(crate) fn resolve_env(
    spec: &ContainerSpec,
    image: &wharf_image::RuntimeConfig,
    hostname: &str,
) -> Vec<String> {
    let mut env: Vec<(String, String)> = Vec::new();
    let mut set = |key: &str, value: &str| {
        if let Some(slot) = env.iter_mut().find(|(k, _)| k == key) {
            slot.1 = value.to_string();
        } else {
            env.push((key.to_string(), value.to_string()));
        }
    };
    let (k, v) = DEFAULT_PATH.split_once('=').unwrap_or(("PATH", ""));
    set(k, v);
    set("HOSTNAME", hostname);
    for entry in &image.env {
        let (k, v) = entry.split_once('=').unwrap_or((entry, ""));
        set(k, v);
    }
    for (k, v) in &spec.env {
        set(k, v);
    }
    env.into_iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_follow_docker_entrypoint_rules() {
        let image = wharf_image::RuntimeConfig {
            entrypoint: Some(vec!["/entry".into()]),
            cmd: Some(vec!["default".into()]),
            ..Default::default()
        };
        let mut spec = ContainerSpec::default();
        assert_eq!(resolve_args(&spec, &image), ["/entry", "default"]);
        spec.command = Some(vec!["mine".into()]);
        assert_eq!(resolve_args(&spec, &image), ["/entry", "mine"]);
        spec.command = None;
        spec.entrypoint = Some(vec!["/other".into()]);
        assert_eq!(resolve_args(&spec, &image), ["/other"]);
    }

    #[test]
    fn env_layers_image_then_service() {
        let image = wharf_image::RuntimeConfig {
            env: vec!["PATH=/bin".into(), "A=image".into()],
            ..Default::default()
        };
        let mut spec = ContainerSpec::default();
        spec.env.insert("A".into(), "service".into());
        let env = resolve_env(&spec, &image, "abc");
        assert_eq!(env, ["PATH=/bin", "HOSTNAME=abc", "A=service"]);
    }
}
