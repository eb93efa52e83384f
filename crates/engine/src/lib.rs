//! wharf-engine: the Linux [`Engine`]. It keeps state under the wharf root,
//! serializes changes with file locks, and wires the image store, the runtime
//! and the network together. There is no daemon: each running container has a
//! monitor process (see [`monitor`]) and every CLI call reads the state anew.

pub mod attach;
mod build;
mod commit;
mod connect;
pub mod copy;
mod diff;
mod dns_data;
pub mod events;
mod files;
mod images;
mod leftovers;
mod lock;
mod logs;
pub mod monitor;
mod netmode;
mod network;
mod ports;
mod security;
mod store;
mod usage;
mod volumes;

use lock::{FileLock, MonitorLock, MONITOR_LOCK};
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use store::{ContainerRecord, Layout, NetworkRecord, RuntimeState};
use wharf_engine_api::{
    labels, ContainerInfo, ContainerSpec, ContainerState, CopyToOptions, Engine, EngineError,
    ExecSpec, Hook, ImageInfo, LockGuard, LogDriver, LogLine, LogOptions, NetworkInfo, NetworkSpec,
    PathStat, ProcessInfo, Result, StatsSample,
};
use wharf_image::ImageStore;
/// The caller's terminal in raw mode, for the CLI's `run` and `attach`.
pub use wharf_runtime::RawMode;

pub use commit::CommitOptions;
pub use diff::ChangeKind;
pub use usage::{CacheUsage, ContainerUsage, DiskUsage, ImageUsage, UsageSummary, VolumeUsage};
pub use wharf_image;

const CONFIG_FILE: &str = "config.json";
const STATE_FILE: &str = "state.json";
/// Taken while a container's DNS table is written (see `write_etc_files_locked`).
const DNS_TABLE_LOCK: &str = "dns.lock";
const LOG_FILE: &str = "container.log";
const MONITOR_LOG: &str = "monitor.log";
/// Present while a stop was asked for: the monitor must not restart.
const STOP_MARKER: &str = "stop-requested";
/// How long a stop waits for the container before SIGKILL, unless told.
const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long start, stop and remove wait for a monitor that is still starting
/// a container (or recording its end) before giving up.
const MONITOR_SETTLE_TIMEOUT: Duration = Duration::from_secs(30);
/// Docker's smallest memory limit; below it a container cannot even start.
const MIN_MEMORY: u64 = 6 * 1024 * 1024;
const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Where the engine keeps things and how it starts monitors. The CLI fills it
/// from flags and the environment; nothing below reads the environment.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// State root (`/var/lib/wharf`).
    pub root: PathBuf,
    /// The cgroup filesystem (`/sys/fs/cgroup`).
    pub cgroup_fs_root: PathBuf,
    /// First component of every wharf cgroup path (`wharf`).
    pub cgroup_parent: String,
    /// The program started as a container's monitor, with the arguments
    /// `__monitor --root ROOT --cgroup-parent P ID` appended.
    pub monitor_program: PathBuf,
}

/// The Linux engine.
#[derive(Debug)]
pub struct LinuxEngine {
    config: EngineConfig,
    layout: Layout,
    images: ImageStore,
}

pub(crate) fn runtime_err(e: wharf_runtime::RuntimeError) -> EngineError {
    EngineError::Other(e.to_string())
}

fn image_err(e: wharf_image::ImageError) -> EngineError {
    EngineError::Other(e.to_string())
}

pub(crate) fn cgroup_config(
    fs_root: &Path,
    record: &ContainerRecord,
) -> wharf_runtime::CgroupConfig {
    let resources = &record.spec.resources;
    wharf_runtime::CgroupConfig {
        fs_root: fs_root.to_path_buf(),
        path: record.cgroup_path.clone(),
        limits: wharf_runtime::Limits {
            memory_bytes: resources.memory_bytes,
            nano_cpus: resources.nano_cpus,
            pids: resources.pids_limit,
            memory_swap_bytes: resources.memory_swap,
            memory_reservation_bytes: resources.memory_reservation,
            cpu_shares: resources.cpu_shares,
            cpu_quota_us: resources.cpu_quota,
            cpu_period_us: resources.cpu_period,
            cpuset_cpus: resources.cpuset_cpus.clone(),
            cpuset_mems: None,
            oom_kill_disable: resources.oom_kill_disable,
            swappiness: resources.mem_swappiness,
        },
    }
}

impl LinuxEngine {
    pub fn open(config: EngineConfig) -> Result<Self> {
        let layout = Layout {
            root: config.root.clone(),
        };
        layout.create_dirs()?;
        let images = ImageStore::open(&layout.images()).map_err(image_err)?;
        Ok(LinuxEngine {
            config,
            layout,
            images,
        })
    }

    pub fn images(&self) -> &ImageStore {
        &self.images
    }

    /// Connect to the stdin and output of container `id` through its
    /// monitor (see [`attach`]); `None` when the container keeps neither (it
    /// has no `tty` and no `stdin_open`) or is not running.
    pub fn attach_stream(&self, id: &str) -> Result<Option<attach::Attached>> {
        let record = self.find(id)?;
        if !(record.spec.tty || record.spec.stdin_open) {
            return Ok(None);
        }
        if !self.live_state(&record.id)?.state.is_running() {
            return Ok(None);
        }
        attach::connect(&self.layout.container(&record.id))
            .map(|stream| {
                Some(attach::Attached::new(
                    stream,
                    record.spec.tty,
                    record.spec.stdin_open,
                ))
            })
            .map_err(|e| {
                EngineError::io(
                    format!("connecting to the monitor of {} to attach", record.name),
                    e,
                )
            })
    }

    /// Entry point of the hidden `__monitor` mode.
    pub fn run_monitor(&self, id: &str, mode: monitor::Mode) -> i32 {
        monitor::run(&self.layout, &self.config.cgroup_fs_root, id, mode)
    }

    /// The container events of `project` (see [`events`]).
    pub fn events(
        &self,
        project: &str,
        filter: &events::EventFilter,
        sink: &mut dyn FnMut(events::ContainerEvent) -> bool,
    ) -> Result<()> {
        events::read_events(&self.layout, project, filter, sink)
    }

    fn global_lock(&self) -> Result<FileLock> {
        FileLock::acquire(&self.layout.locks().join("engine.lock"))
    }

    fn load_record(&self, id: &str) -> Result<ContainerRecord> {
        store::read_json(&self.layout.container(id).join(CONFIG_FILE))
    }

    fn load_state(&self, id: &str) -> Result<RuntimeState> {
        let path = self.layout.container(id).join(STATE_FILE);
        let data = fs::read(&path)
            .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
        // The state is written without a flush (see `write_json_unflushed`): after a
        // power loss it may be empty, and the container is then simply not running.
        Ok(serde_json::from_slice(&data).unwrap_or_else(|_| RuntimeState::created()))
    }

    fn save_state(&self, id: &str, state: &RuntimeState) -> Result<()> {
        store::write_json_unflushed(&self.layout.container(id).join(STATE_FILE), state)
    }

    /// Every record, removing on the way the directories of creates (and
    /// removals) that a crash interrupted. The caller holds the global lock,
    /// under which every create and removal runs, so none of them is in
    /// progress.
    fn all_records_repairing(&self) -> Result<Vec<ContainerRecord>> {
        read_configs(&self.finished_container_dirs_repairing()?)
    }

    /// The directories of finished creates (those with a config), removing
    /// the others as [`Self::all_records_repairing`] does, without reading
    /// the records.
    fn finished_container_dirs_repairing(&self) -> Result<Vec<PathBuf>> {
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

    fn container_dirs(&self) -> Result<Vec<PathBuf>> {
        let dir = self.layout.containers();
        let entries = fs::read_dir(&dir)
            .map_err(|e| EngineError::io(format!("reading {}", dir.display()), e))?;
        Ok(entries.flatten().map(|entry| entry.path()).collect())
    }

    fn all_records(&self) -> Result<Vec<ContainerRecord>> {
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

    /// The state, corrected when the recorded process is gone (a monitor that
    /// was killed cannot record the exit itself) or when its monitor is gone
    /// (see [`Self::orphaned`]), and paused when its cgroup is frozen.
    fn live_state(&self, id: &str) -> Result<RuntimeState> {
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
        if monitored && !monitor_alive(state.monitor_pid) {
            return self.orphaned(id, state);
        }
        Ok(state)
    }

    /// A running (or restarting) container whose monitor is dead — killed,
    /// since a monitor records the end before it exits. Nothing holds the
    /// container's output, serves its published ports or applies its
    /// restart policy any more, so the container is not shown as running:
    /// what is left of it (processes, DNAT rules, veth pairs) is removed, it
    /// is recorded as exited with a `die` event, and the next `start` or
    /// `up` starts it again under a new monitor, which brings its logs,
    /// exit status and ports back.
    fn orphaned(&self, id: &str, seen: RuntimeState) -> Result<RuntimeState> {
        // The monitor may have recorded the end and exited between the read
        // and the look at its process; one that did leaves no orphan. Under
        // its lock no other reader repairs the same container at once.
        let Some(_lock) = MonitorLock::try_acquire(&self.monitor_lock_path(id))? else {
            return Ok(seen);
        };
        let mut state = self.load_state(id)?;
        if !matches!(
            state.state,
            ContainerState::Running { .. } | ContainerState::Restarting
        ) || monitor_alive(state.monitor_pid)
        {
            return Ok(state);
        }
        let container_alive = match state.state {
            ContainerState::Running { pid, .. } => monitor::process_start_ticks(pid)
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

    fn monitor_lock_path(&self, id: &str) -> PathBuf {
        self.layout.container(id).join(MONITOR_LOCK)
    }

    /// The state once no monitor is between two states of the container:
    /// starting it (the state still says created) or recording its end. A
    /// start whose CLI died leaves such a monitor behind, and acting on the
    /// old state then would start a second one or remove the directory under
    /// its feet.
    fn settled_state(&self, record: &ContainerRecord) -> Result<RuntimeState> {
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
    fn claim_monitor(&self, record: &ContainerRecord) -> Result<Option<MonitorLock>> {
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

    fn info(&self, record: &ContainerRecord) -> Result<ContainerInfo> {
        let state = self.live_state(&record.id)?;
        let (ports, health) = if state.state.is_running() {
            (state.ports.clone(), state.health)
        } else {
            (Vec::new(), None)
        };
        Ok(ContainerInfo {
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
        })
    }

    fn find(&self, id_or_name: &str) -> Result<ContainerRecord> {
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

    /// Rewrite the DNS table of every container sharing a network with
    /// `networks`, in place (its server re-reads it when it changes).
    /// Rewrite the DNS tables of the containers on `networks` after one of them
    /// was created or removed (the caller holds the global lock). Only
    /// containers with a monitor (running, or being started: the starter holds
    /// the monitor lock) are rewritten; the others get theirs when they start
    /// (`write_etc_files_locked`), so that creating or removing n containers
    /// costs n writes, not n².
    fn refresh_dns_tables(&self, records: &[ContainerRecord], networks: &[String]) {
        // Read once for all the tables, not once per container.
        let host_resolv_conf = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        for record in records {
            if !record
                .endpoints
                .iter()
                .any(|e| networks.contains(&e.network_id))
                || !lock::monitor_lock_held(&self.monitor_lock_path(&record.id))
            {
                continue;
            }
            let dir = self.layout.container(&record.id);
            if dir.join(dns_data::FILE).exists() {
                // The resolvers its server forwards to: the name servers its
                // resolv.conf would have without the server.
                let upstreams =
                    dns_data::nameservers(&container_resolv_conf(&host_resolv_conf, &record.spec));
                if let Ok(_lock) = self.dns_table_lock(&record.id) {
                    let _ = dns_data::write(&dir, record, records, upstreams);
                }
            }
        }
    }

    /// [`Self::write_etc_files`] for a container about to start, whose monitor
    /// lock the caller holds: under its DNS table lock, which a create or
    /// removal takes to rewrite that table too, so that neither overwrites the
    /// other's newer table with an older one. (Not the global lock: the starts
    /// of an `up` would wait for each other.)
    fn write_etc_files_locked(&self, record: &ContainerRecord) -> Result<()> {
        let _lock = self.dns_table_lock(&record.id)?;
        self.write_etc_files(record)
    }

    fn dns_table_lock(&self, id: &str) -> Result<FileLock> {
        FileLock::acquire(&self.layout.container(id).join(DNS_TABLE_LOCK))
    }

    fn write_etc_files(&self, record: &ContainerRecord) -> Result<()> {
        let dir = self.layout.container(&record.id);
        let io = |e| EngineError::io(format!("writing the /etc files of {}", record.name), e);
        fs::write(dir.join("hostname"), format!("{}\n", record.hostname)).map_err(io)?;
        let host = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
        let plain = container_resolv_conf(&host, &record.spec);
        match &record.spec.network_mode {
            wharf_engine_api::NetworkMode::Bridge if !record.endpoints.is_empty() => {}
            wharf_engine_api::NetworkMode::Host => {
                // The host's own resolvers are reachable, loopback ones included.
                let resolv = if record.spec.dns.is_empty() {
                    host
                } else {
                    plain
                };
                fs::write(dir.join("resolv.conf"), resolv).map_err(io)?;
                let hosts = fs::read_to_string("/etc/hosts").unwrap_or_default();
                fs::write(dir.join("hosts"), hosts).map_err(io)?;
                return Ok(());
            }
            wharf_engine_api::NetworkMode::Container(target) => {
                // The other container's files: its network, its DNS server.
                let other = netmode::find(&self.layout, target)?;
                let from = self.layout.container(&other.id);
                for file in ["resolv.conf", "hosts"] {
                    let text = fs::read_to_string(from.join(file)).unwrap_or_default();
                    fs::write(dir.join(file), text).map_err(io)?;
                }
                return Ok(());
            }
            _ => {
                fs::write(dir.join("resolv.conf"), plain).map_err(io)?;
                if !dir.join("hosts").exists() {
                    fs::write(dir.join("hosts"), network::hosts_file(record)).map_err(io)?;
                }
                return Ok(());
            }
        }
        fs::write(dir.join("hosts"), network::hosts_file(record)).map_err(io)?;
        // On user networks names go to the embedded DNS server (127.0.0.11),
        // which forwards what it does not own to the servers of `plain`.
        fs::write(
            dir.join("resolv.conf"),
            dns_data::embedded_resolv_conf(&plain),
        )
        .map_err(io)?;
        let mut all = self.all_records().unwrap_or_default();
        if !all.iter().any(|r| r.id == record.id) {
            all.push(record.clone());
        }
        dns_data::write(&dir, record, &all, dns_data::nameservers(&plain))?;
        Ok(())
    }

    /// The command line of the monitor of `record`.
    fn monitor_command(&self, record: &ContainerRecord, attached: bool) -> Command {
        let mut command = Command::new(&self.config.monitor_program);
        command.arg("__monitor");
        if attached {
            command.arg("--attached");
        }
        command
            .arg("--root")
            .arg(&self.config.root)
            .arg("--cgroup-fs")
            .arg(&self.config.cgroup_fs_root)
            .arg(&record.id);
        command
    }

    fn monitor_error(&self, error: std::io::Error) -> EngineError {
        EngineError::io(
            format!(
                "starting the monitor {}",
                self.config.monitor_program.display()
            ),
            error,
        )
    }

    /// The monitor started in the foreground: it hands our stdio to the
    /// container and returns when the container has exited.
    fn run_monitor_attached(&self, record: &ContainerRecord) -> Result<i32> {
        let status = self
            .monitor_command(record, true)
            .status()
            .map_err(|e| self.monitor_error(e))?;
        let state = self.live_state(&record.id)?;
        match (state.state, state.error) {
            (ContainerState::Exited { exit_code, .. }, _) => Ok(exit_code),
            (_, Some(message)) => Err(match status.code() {
                Some(code @ (126 | 127)) => EngineError::CommandNotRunnable { code, message },
                _ => EngineError::Other(message),
            }),
            _ => Err(EngineError::Other(format!(
                "the monitor of {} ended ({status}) without recording an exit",
                record.name
            ))),
        }
    }

    /// Start the monitor in the background, handing it `lock` as its stdin,
    /// and wait for its word that the container runs.
    fn spawn_monitor(&self, record: &ContainerRecord, lock: MonitorLock) -> Result<()> {
        let dir = self.layout.container(&record.id);
        let monitor_log = fs::File::create(dir.join(MONITOR_LOG))
            .map_err(|e| EngineError::io("creating the monitor log", e))?;
        let handover = lock
            .handover()
            .map_err(|e| EngineError::io("passing the monitor lock on", e))?;
        let mut child = self
            .monitor_command(record, false)
            .stdin(handover)
            .stdout(Stdio::piped())
            .stderr(monitor_log)
            .spawn()
            .map_err(|e| self.monitor_error(e))?;
        // The monitor holds the lock now, through its copy of the open file.
        drop(lock);
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| EngineError::Other("monitor has no stdout".into()))?;
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let line = line.trim_end();
        if line == "ok" {
            // The monitor keeps running on its own; reap it in the background
            // so a long-lived caller collects no zombies.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(());
        }
        let _ = child.wait();
        let message = match line.strip_prefix("error: ") {
            Some(m) => m.to_string(),
            None => {
                let log = fs::read_to_string(dir.join(MONITOR_LOG)).unwrap_or_default();
                format!(
                    "the monitor of {} ended before the container started{}",
                    record.name,
                    if log.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", log.trim())
                    }
                )
            }
        };
        Err(EngineError::Other(message))
    }

    fn exec_in(
        &self,
        record: &ContainerRecord,
        spec: &ExecSpec,
        output: Option<std::os::fd::RawFd>,
    ) -> Result<i32> {
        let state = self.live_state(&record.id)?;
        let (ContainerState::Running { pid, paused, .. }, Some(cgroup)) =
            (&state.state, &state.cgroup)
        else {
            return Err(EngineError::Invalid(format!(
                "container {} is not running: start it first",
                record.name
            )));
        };
        if *paused {
            return Err(EngineError::Invalid(format!(
                "container {} is paused: unpause it first",
                record.name
            )));
        }
        let mut env = record.env.clone();
        for extra in &spec.env {
            let key = extra.split_once('=').map_or(extra.as_str(), |(k, _)| k);
            env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
            env.push(extra.clone());
        }
        let cwd = spec
            .working_dir
            .clone()
            .unwrap_or_else(|| record.cwd.clone());
        let user = spec.user.clone().or_else(|| record.user.clone());
        let mut security = security::security(&record.spec, &self.layout.seccomp_cache())?;
        security.privileged |= spec.privileged;
        let options = wharf_runtime::ExecOptions {
            security,
            ulimits: security::ulimits(&record.spec),
            tty: spec.tty,
            group_add: record.spec.group_add.clone(),
            output,
        };
        // docker's exec events: the command in the create and start actions,
        // the exit code on exec_die, all three tied by an execID.
        let exec_id = store::new_id()?;
        let command = spec.command.join(" ");
        let id_attribute = [("execID", exec_id.clone())];
        events::record(
            &self.layout,
            record,
            &format!("exec_create: {command}"),
            &id_attribute,
        );
        events::record(
            &self.layout,
            record,
            &format!("exec_start: {command}"),
            &id_attribute,
        );
        let code = wharf_runtime::exec_with(
            *pid,
            cgroup,
            &spec.command,
            &env,
            &cwd,
            user.as_deref(),
            &options,
        )
        .map_err(runtime_err)?;
        events::record(
            &self.layout,
            record,
            "exec_die",
            &[("execID", exec_id), ("exitCode", code.to_string())],
        );
        Ok(code)
    }

    /// Run `hooks` (the container's `post_start` or `pre_stop`, named by
    /// `kind`) in order, as `exec` does but without stdin and with the output
    /// collected: the first that cannot run or exits non-zero is an error
    /// naming it, with the end of what it printed. Compose discards the
    /// output of hooks that succeed when it runs detached; so does wharf.
    fn run_hooks(&self, record: &ContainerRecord, hooks: &[Hook], kind: &str) -> Result<()> {
        for hook in hooks {
            let spec = ExecSpec {
                command: hook.command.clone(),
                env: hook.env.clone(),
                working_dir: hook.working_dir.clone(),
                user: hook.user.clone(),
                tty: false,
                privileged: hook.privileged,
            };
            let described = || format!("container {}: {kind} hook {:?}", record.name, hook.command);
            let (code, output) = self
                .exec_collecting(record, &spec)
                .map_err(|e| EngineError::Other(format!("{} could not run: {e}", described())))?;
            if code != 0 {
                let output = output.trim();
                return Err(EngineError::Other(format!(
                    "{} exited with status {code}{}",
                    described(),
                    if output.is_empty() {
                        String::new()
                    } else {
                        format!(": {output}")
                    }
                )));
            }
        }
        Ok(())
    }

    fn stop_record(&self, record: &ContainerRecord, timeout: Option<Duration>) -> Result<()> {
        let timeout = timeout
            .or(record.spec.stop_grace_period_secs.map(Duration::from_secs))
            .unwrap_or(DEFAULT_STOP_TIMEOUT);
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
                    return Err(EngineError::Other(format!(
                        "container {} (pid {pid}) did not die after SIGKILL",
                        record.name
                    )));
                }
            }
        }
        // Let the monitor record the exit (or, restarting, see the stop marker).
        if let Some(monitor) = state.monitor_pid {
            let _ = wharf_runtime::wait_for_exit(monitor, Duration::from_secs(5));
        }
        if pid.is_some() {
            self.delete_veths(record)?;
        }
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
        Ok(())
    }

    /// Delete the host ends of the container's veth pairs (the kernel takes
    /// the peers with them). The kernel would remove them with the
    /// container's network namespace, but only a moment after its last
    /// process ended: deleted here, they are gone when `stop`, `rm` or
    /// `down` returns. The endpoints are read anew, since `network connect`
    /// and `disconnect` change them.
    fn delete_veths(&self, record: &ContainerRecord) -> Result<()> {
        let current = self.load_record(&record.id);
        let endpoints = match &current {
            Ok(current) => &current.endpoints,
            Err(_) => &record.endpoints,
        };
        let names: Vec<&str> = endpoints.iter().map(|e| e.host_ifname.as_str()).collect();
        wharf_net::delete_links(&names).map_err(network::net_err)
    }

    /// `exec_in` with stdout and stderr collected: the exit code and the
    /// last few KiB of the output.
    fn exec_collecting(&self, record: &ContainerRecord, spec: &ExecSpec) -> Result<(i32, String)> {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        const KEPT: usize = 4096;
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::io("creating a pipe for a hook's output", e.into()))?;
        let collected = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let sink = collected.clone();
        std::thread::spawn(move || {
            let mut file = fs::File::from(read_end);
            let mut chunk = [0u8; 4096];
            while let Ok(n) = file.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut kept = sink.lock().unwrap_or_else(|p| p.into_inner());
                kept.extend_from_slice(&chunk[..n]);
                let excess = kept.len().saturating_sub(KEPT);
                kept.drain(..excess);
            }
            let _ = done.send(());
        });
        let code = self.exec_in(record, spec, Some(write_end.as_raw_fd()));
        drop(write_end);
        // A process the hook left in the background may hold the pipe open:
        // take what came so far rather than wait for it.
        let _ = finished.recv_timeout(Duration::from_millis(500));
        let output = String::from_utf8_lossy(&collected.lock().unwrap_or_else(|p| p.into_inner()))
            .into_owned();
        Ok((code?, output))
    }
}

/// An image's HEALTHCHECK (durations in nanoseconds, 0 = default) as the
/// engine's health check.
fn image_healthcheck(check: &wharf_image::oci::HealthConfig) -> wharf_engine_api::Healthcheck {
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

/// The host's resolv.conf without loopback name servers, which a container
/// cannot reach; Google's public servers when none is left, as docker does.
/// `dns`, `dns_search` and `dns_opt` replace the host's corresponding lines.
fn container_resolv_conf(host: &str, spec: &ContainerSpec) -> String {
    let mut out = String::new();
    let mut servers = 0;
    for line in host.lines() {
        let mut words = line.split_whitespace();
        match words.next() {
            Some("nameserver") => {
                let addr = words.next().unwrap_or("");
                if !spec.dns.is_empty() || addr.starts_with("127.") || addr == "::1" {
                    continue;
                }
                servers += 1;
            }
            Some("search" | "domain") if !spec.dns_search.is_empty() => continue,
            Some("options") if !spec.dns_opt.is_empty() => continue,
            _ => {}
        }
        out.push_str(line);
        out.push('\n');
    }
    for server in &spec.dns {
        out.push_str(&format!("nameserver {server}\n"));
        servers += 1;
    }
    if !spec.dns_search.is_empty() {
        out.push_str(&format!("search {}\n", spec.dns_search.join(" ")));
    }
    if !spec.dns_opt.is_empty() {
        out.push_str(&format!("options {}\n", spec.dns_opt.join(" ")));
    }
    if servers == 0 {
        out.push_str("nameserver 8.8.8.8\nnameserver 8.8.4.4\n");
    }
    out
}

/// The command a container runs: the entrypoint (service's, else image's)
/// followed by the command (service's, else the image's unless the service
/// set its own entrypoint) — docker's rule.
fn resolve_args(spec: &ContainerSpec, image: &wharf_image::RuntimeConfig) -> Vec<String> {
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

fn resolve_env(
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

impl Engine for LinuxEngine {
    fn check_ports(&self, spec: &ContainerSpec) -> Result<()> {
        if !matches!(spec.network_mode, wharf_engine_api::NetworkMode::Bridge) {
            return Ok(());
        }
        for port in spec.ports.iter().filter(|p| p.host_port != 0) {
            let listen = port.listen_addr();
            // Bound and released at once: only whether it can be bound matters.
            match port.protocol {
                wharf_engine_api::Protocol::Tcp => {
                    wharf_net::proxy::bind_tcp(listen).map_err(network::net_err)?;
                }
                wharf_engine_api::Protocol::Udp => {
                    wharf_net::proxy::bind_udp(listen).map_err(network::net_err)?;
                }
            }
        }
        Ok(())
    }

    fn lock_project(&self, project: &str) -> Result<LockGuard> {
        let name: String = project
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let lock = FileLock::acquire(&self.layout.locks().join(format!("project-{name}.lock")))?;
        Ok(Box::new(lock))
    }

    fn image_inspect(&self, reference: &str) -> Result<Option<ImageInfo>> {
        Ok(self
            .images
            .resolve(reference)
            .map_err(image_err)?
            .map(|image| image.info))
    }

    fn list_containers(&self, wanted: &[(&str, &str)]) -> Result<Vec<ContainerInfo>> {
        let mut out = Vec::new();
        for record in self.all_records()? {
            if wanted
                .iter()
                .all(|(k, v)| record.spec.labels.get(*k).map(String::as_str) == Some(*v))
            {
                out.push(self.info(&record)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        if let Some(memory) = spec.resources.memory_bytes.filter(|m| *m < MIN_MEMORY) {
            return Err(EngineError::Invalid(format!(
                "container {}: memory limit of {memory} bytes is below the minimum of 6MiB a container needs: raise limits.memory (or mem_limit)",
                spec.name
            )));
        }
        security::validate(spec, &self.layout.seccomp_cache())?;
        files::validate(spec)?;
        if let Ok(mode) = wharf_runtime::cgroups::detect(&self.config.cgroup_fs_root) {
            security::validate_cgroup_settings(spec, mode)?;
        }
        let _lock = self.global_lock()?;
        let records = self.all_records_repairing()?;
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
        let id = store::new_id()?;
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
        let networks = network::load_networks(&self.layout)?;
        let endpoints = network::allocate_endpoints(&networks, &records, &id, &spec.networks)?;
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
            id: id.clone(),
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
        let dir = self.layout.container(&id);
        let result = (|| {
            for sub in ["upper", "work", "merged"] {
                fs::create_dir_all(dir.join(sub)).map_err(|e| {
                    EngineError::io(format!("creating {}", dir.join(sub).display()), e)
                })?;
            }
            self.write_etc_files(&record)?;
            files::write(&dir, spec)?;
            store::write_json_unflushed(&dir.join(STATE_FILE), &RuntimeState::created())?;
            // The config is written last: its presence marks a finished create.
            store::write_json(&dir.join(CONFIG_FILE), &record)
        })();
        if let Err(e) = result {
            let _ = fs::remove_dir_all(&dir);
            return Err(e);
        }
        let mut all = records;
        all.push(record.clone());
        let nets: Vec<String> = record
            .endpoints
            .iter()
            .map(|e| e.network_id.clone())
            .collect();
        self.refresh_dns_tables(&all, &nets);
        events::record(&self.layout, &record, "create", &[]);
        Ok(id)
    }

    fn start_container(&self, id: &str) -> Result<()> {
        let record = self.find(id)?;
        let Some(monitor_lock) = self.claim_monitor(&record)? else {
            return Ok(());
        };
        let dir = self.layout.container(&record.id);
        let _ = fs::remove_file(dir.join(STOP_MARKER));
        self.write_etc_files_locked(&record)?;
        self.spawn_monitor(&record, monitor_lock)?;
        self.run_hooks(&record, &record.spec.post_start, "post_start")
    }

    fn start_attached(&self, id: &str) -> Result<i32> {
        let record = self.find(id)?;
        // The monitor in the foreground takes the lock itself: its stdin is ours.
        if self.claim_monitor(&record)?.is_none() {
            return Err(EngineError::Invalid(format!(
                "container {} is already running",
                record.name
            )));
        }
        let _ = fs::remove_file(self.layout.container(&record.id).join(STOP_MARKER));
        self.write_etc_files_locked(&record)?;
        self.run_monitor_attached(&record)
    }

    fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        let record = self.find(id)?;
        if !record.spec.pre_stop.is_empty() {
            let state = self.settled_state(&record)?;
            if state.state.is_running() {
                // A frozen container cannot run its hooks: thaw it first.
                if let (true, Some(cgroup)) = (state.state.is_paused(), &state.cgroup) {
                    cgroup.thaw().map_err(runtime_err)?;
                }
                self.run_hooks(&record, &record.spec.pre_stop, "pre_stop")?;
            }
        }
        self.stop_record(&record, timeout)
    }
    fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        let record = self.find(id)?;
        let signal = wharf_runtime::parse_signal(signal).map_err(runtime_err)?;
        let state = self.live_state(&record.id)?;
        match state.state {
            ContainerState::Running { pid, paused, .. } => {
                wharf_runtime::send_signal(pid, signal).map_err(runtime_err)?;
                events::record(
                    &self.layout,
                    &record,
                    "kill",
                    &[("signal", signal.to_string())],
                );
                // Thawed to act on it, as docker does.
                match (paused, &state.cgroup) {
                    (true, Some(cgroup)) => cgroup.thaw().map_err(runtime_err),
                    _ => Ok(()),
                }
            }
            _ => Err(EngineError::Invalid(format!(
                "container {} is not running",
                record.name
            ))),
        }
    }

    fn pause_container(&self, id: &str) -> Result<()> {
        let record = self.find(id)?;
        let state = self.live_state(&record.id)?;
        let (ContainerState::Running { paused, .. }, Some(cgroup)) = (&state.state, &state.cgroup)
        else {
            return Err(EngineError::Invalid(format!(
                "container {} is not running",
                record.name
            )));
        };
        if *paused {
            return Err(EngineError::Invalid(format!(
                "container {} is already paused",
                record.name
            )));
        }
        cgroup
            .freeze()
            .map_err(|e| EngineError::Other(format!("pausing container {}: {e}", record.name)))?;
        events::record(&self.layout, &record, "pause", &[]);
        Ok(())
    }

    fn unpause_container(&self, id: &str) -> Result<()> {
        let record = self.find(id)?;
        let state = self.live_state(&record.id)?;
        match (&state.state, &state.cgroup) {
            (ContainerState::Running { paused: true, .. }, Some(cgroup)) => {
                cgroup.thaw().map_err(|e| {
                    EngineError::Other(format!("unpausing container {}: {e}", record.name))
                })?;
                events::record(&self.layout, &record, "unpause", &[]);
                Ok(())
            }
            _ => Err(EngineError::Invalid(format!(
                "container {} is not paused",
                record.name
            ))),
        }
    }

    fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        let _lock = self.global_lock()?;
        let record = self.find(id)?;
        let mut records = self.all_records_repairing()?;
        if records
            .iter()
            .any(|r| r.name == new_name && r.id != record.id)
        {
            return Err(EngineError::Conflict {
                kind: "container",
                name: new_name.to_string(),
            });
        }
        let mut renamed = record.clone();
        renamed.name = new_name.to_string();
        renamed.spec.name = new_name.to_string();
        store::write_json(
            &self.layout.container(&record.id).join(CONFIG_FILE),
            &renamed,
        )?;
        for r in records.iter_mut().filter(|r| r.id == record.id) {
            *r = renamed.clone();
        }
        let nets: Vec<String> = renamed
            .endpoints
            .iter()
            .map(|e| e.network_id.clone())
            .collect();
        self.refresh_dns_tables(&records, &nets);
        events::record(
            &self.layout,
            &renamed,
            "rename",
            &[("oldName", record.name.clone())],
        );
        Ok(())
    }

    fn remove_container(&self, id: &str, force: bool) -> Result<()> {
        let record = self.find(id)?;
        let state = self.settled_state(&record)?;
        if state.state.is_running() || matches!(state.state, ContainerState::Restarting) {
            if !force {
                return Err(EngineError::Invalid(format!(
                    "container {} is running: stop it first or remove it with force",
                    record.name
                )));
            }
            // Killed at once: no pre_stop hooks, as `docker rm -f`.
            self.stop_record(&record, Some(Duration::ZERO))?;
        }
        let mode =
            wharf_runtime::cgroups::detect(&self.config.cgroup_fs_root).map_err(runtime_err)?;
        let handle = wharf_runtime::CgroupHandle {
            mode,
            fs_root: self.config.cgroup_fs_root.clone(),
            path: record.cgroup_path.clone(),
        };
        handle.kill_all_and_destroy().map_err(runtime_err)?;
        // A container that ended on its own may have left its veth pairs to
        // the kernel's clean-up a moment ago.
        self.delete_veths(&record)?;
        ports::withdraw(&record)?;
        if let Some((parent, _)) = record.cgroup_path.rsplit_once('/') {
            wharf_runtime::CgroupHandle::remove_empty_parents(&self.config.cgroup_fs_root, parent);
        }
        let _lock = self.global_lock()?;
        let dir = self.layout.container(&record.id);
        // Remove the config first: a half-removed directory then reads as absent.
        let _ = fs::remove_file(dir.join(CONFIG_FILE));
        fs::remove_dir_all(&dir)
            .map_err(|e| EngineError::io(format!("removing {}", dir.display()), e))?;
        // Only containers with a monitor need their DNS table rewritten (see
        // `refresh_dns_tables`); when none has one, as during `down`, the
        // records are not even read.
        let dirs = self.finished_container_dirs_repairing()?;
        if dirs
            .iter()
            .any(|dir| lock::monitor_lock_held(&dir.join(MONITOR_LOCK)))
        {
            let records = read_configs(&dirs)?;
            let nets: Vec<String> = record
                .endpoints
                .iter()
                .map(|e| e.network_id.clone())
                .collect();
            self.refresh_dns_tables(&records, &nets);
        }
        events::record(&self.layout, &record, "destroy", &[]);
        Ok(())
    }

    fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInfo> {
        let record = self.find(id_or_name)?;
        self.info(&record)
    }

    fn list_networks(&self, wanted: &[(&str, &str)]) -> Result<Vec<NetworkInfo>> {
        Ok(network::load_networks(&self.layout)?
            .into_iter()
            .filter(|n| {
                wanted
                    .iter()
                    .all(|(k, v)| n.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|n: NetworkRecord| NetworkInfo {
                id: n.id,
                name: n.name,
                labels: n.labels,
                subnet: n.subnet,
                gateway: std::net::IpAddr::V4(n.gateway),
                bridge: n.bridge,
                ip_range: n.ip_range,
                aux_addresses: n
                    .aux_addresses
                    .into_iter()
                    .map(|(host, addr)| (host, addr.to_string()))
                    .collect(),
                mtu: n.mtu,
                ipv6: n.ipv6.map(|v6| wharf_engine_api::Ipv6Pool {
                    subnet: Some(v6.subnet),
                    gateway: Some(v6.gateway.to_string()),
                    ip_range: v6.ip_range,
                    aux_addresses: v6
                        .aux_addresses
                        .into_iter()
                        .map(|(host, addr)| (host, addr.to_string()))
                        .collect(),
                }),
            })
            .collect())
    }

    fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        let _lock = self.global_lock()?;
        Ok(network::create(&self.layout, spec)?.id)
    }

    fn remove_project_leftovers(&self, project: &str) -> Result<Vec<String>> {
        leftovers::remove_orphan_containers(
            &self.layout,
            &self.config.cgroup_fs_root,
            &self.config.cgroup_parent,
            project,
        )
    }

    fn remove_network(&self, id: &str) -> Result<()> {
        let _lock = self.global_lock()?;
        let record = network::load_networks(&self.layout)?
            .into_iter()
            .find(|n| n.id == id || n.name == id)
            .ok_or_else(|| EngineError::not_found("network", id))?;
        network::remove(&self.layout, &record, &self.all_records_repairing()?)
    }

    fn connect_network(
        &self,
        network: &str,
        container: &str,
        attachment: &wharf_engine_api::NetworkAttachment,
    ) -> Result<()> {
        self.connect(network, container, attachment)
    }

    fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()> {
        self.disconnect(network, container, force)
    }

    fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32> {
        let record = self.find(id)?;
        self.exec_in(&record, spec, None)
    }

    fn logs(
        &self,
        id: &str,
        options: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let record = self.find(id)?;
        if record.spec.logging.driver == LogDriver::None {
            return Err(EngineError::Invalid(format!(
                "configured logging driver does not support reading (container {} has logging driver none)",
                record.name
            )));
        }
        let path = self.layout.container(&record.id).join(LOG_FILE);
        let running = || {
            self.live_state(&record.id)
                .map(|s| s.state.is_running() || matches!(s.state, ContainerState::Restarting))
                .unwrap_or(false)
        };
        logs::read_log(&path, options, &running, sink)
    }

    fn stats(&self, id: &str) -> Result<StatsSample> {
        let record = self.find(id)?;
        let state = self.live_state(&record.id)?;
        let idle = || StatsSample {
            read_at_ns: monotonic_ns(),
            online_cpus: online_cpus(),
            memory_limit: host_memory(),
            ..Default::default()
        };
        let (ContainerState::Running { pid, .. }, Some(cgroup)) = (&state.state, &state.cgroup)
        else {
            return Ok(idle());
        };
        let stats = match cgroup.stats() {
            Ok(stats) => stats,
            // It ended between reading its state and its cgroup (its monitor
            // removes the cgroup before it records the exit or a restart).
            Err(_) if !Path::new(&format!("/proc/{pid}")).exists() => return Ok(idle()),
            Err(e) => return Err(runtime_err(e)),
        };
        let (net_rx_bytes, net_tx_bytes) = wharf_runtime::net_io(*pid).unwrap_or((0, 0));
        Ok(StatsSample {
            read_at_ns: monotonic_ns(),
            cpu_usage_ns: stats.cpu_usage_ns,
            online_cpus: online_cpus(),
            memory_usage: stats.memory_usage,
            memory_limit: stats
                .memory_limit
                .unwrap_or_else(host_memory)
                .min(host_memory()),
            net_rx_bytes,
            net_tx_bytes,
            block_read_bytes: stats.block_read_bytes,
            block_write_bytes: stats.block_write_bytes,
            pids: stats.pids,
        })
    }

    fn top(&self, id: &str) -> Result<Vec<ProcessInfo>> {
        let record = self.find(id)?;
        let state = self.live_state(&record.id)?;
        let (ContainerState::Running { .. }, Some(cgroup)) = (&state.state, &state.cgroup) else {
            return Err(EngineError::Invalid(format!(
                "container {} is not running",
                record.name
            )));
        };
        let mut pids = cgroup.pids().map_err(runtime_err)?;
        pids.sort_unstable();
        // A process may end while we read it: skip it.
        Ok(pids.into_iter().filter_map(process_info).collect())
    }

    fn stat_path(&self, id: &str, path: &str, follow_link: bool) -> Result<PathStat> {
        self.stat_in(id, path, follow_link)
    }

    fn copy_from_container(
        &self,
        id: &str,
        path: &str,
        follow_link: bool,
        name: Option<&str>,
        out: &mut dyn std::io::Write,
    ) -> Result<PathStat> {
        self.archive_from(id, path, follow_link, name, out)
    }

    fn copy_to_container(
        &self,
        id: &str,
        dir: &str,
        archive: &mut dyn std::io::Read,
        options: &CopyToOptions,
    ) -> Result<()> {
        self.extract_into(id, dir, archive, options)
    }

    fn remove_path(&self, id: &str, path: &str) -> Result<()> {
        self.remove_in(id, path)
    }
}

/// What /proc says of `pid`, for `top`.
fn process_info(pid: u32) -> Option<ProcessInfo> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces and parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let number = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .filter(|t| *t > 0)
        .unwrap_or(100) as u64;
    let boot = fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime ")?.trim().parse::<i64>().ok())?;
    let uid = fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix("Uid:")?
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })?;
    let cmdline = fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let command = if cmdline.is_empty() {
        let comm = stat.get(stat.find('(')? + 1..stat.rfind(')')?)?;
        format!("[{comm}]")
    } else {
        String::from_utf8_lossy(cmdline.strip_suffix(&[0]).unwrap_or(&cmdline)).replace('\0', " ")
    };
    let tty = match number(4)? {
        0 => "?".to_string(),
        nr => {
            let (major, minor) = ((nr >> 8) & 0xfff, (nr & 0xff) | ((nr >> 12) & 0xfff00));
            match major {
                136..=143 => format!("pts/{minor}"),
                4 => format!("tty{minor}"),
                _ => "?".to_string(),
            }
        }
    };
    Some(ProcessInfo {
        pid,
        ppid: number(1)? as u32,
        uid,
        started: boot + (number(19)? / ticks) as i64,
        cpu_seconds: (number(11)? + number(12)?) / ticks,
        tty,
        command,
    })
}

/// Whether the recorded monitor process still lives: it exists and is not
/// a zombie (a killed monitor's parent may not have reaped it yet).
fn monitor_alive(monitor_pid: Option<u32>) -> bool {
    monitor_pid.is_some_and(|m| {
        fs::read_to_string(format!("/proc/{m}/stat")).is_ok_and(|stat| {
            // The command name may hold spaces and parentheses; the state
            // follows the last ')'.
            let state = stat.rfind(')').and_then(|i| stat[i + 1..].split_whitespace().next());
            !matches!(state, Some("Z" | "X") | None)
        })
    })
}

fn monotonic_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

fn online_cpus() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

/// Total memory of the host in bytes, from /proc/meminfo.
fn host_memory() -> u64 {
    fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(u64::MAX)
}

/// The records of the container directories `dirs`.
fn read_configs(dirs: &[PathBuf]) -> Result<Vec<ContainerRecord>> {
    dirs.iter()
        .map(|dir| store::read_json(&dir.join(CONFIG_FILE)))
        .collect()
}

/// Remove the directory of a create (or removal) that a crash interrupted.
fn remove_unfinished_dir(dir: &Path) -> Result<()> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolv_conf_drops_loopback_servers() {
        let host = "search example.org\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n";
        let plain = ContainerSpec::default();
        assert_eq!(
            container_resolv_conf(host, &plain),
            "search example.org\nnameserver 10.0.0.2\n"
        );
        assert_eq!(
            container_resolv_conf("nameserver 127.0.0.1\n", &plain),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        let custom = ContainerSpec {
            dns: vec!["1.1.1.1".into()],
            dns_search: vec!["corp.example".into()],
            dns_opt: vec!["ndots:2".into()],
            ..Default::default()
        };
        assert_eq!(
            container_resolv_conf(host, &custom),
            "nameserver 1.1.1.1\nsearch corp.example\noptions ndots:2\n"
        );
    }

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
