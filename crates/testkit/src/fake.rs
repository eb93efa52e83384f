//! [`FakeEngine`]: an in-memory engine that records every call by name, can
//! be told to fail a given call, and can slow calls down to make parallelism
//! observable.

use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Duration;
use wharf_engine_api::{
    ContainerInfo, ContainerSpec, ContainerState, CopyToOptions, Engine, EngineError, ExecSpec,
    Health, ImageInfo, LockGuard, LogLine, LogOptions, MountKind, NetworkAttachment, NetworkInfo,
    NetworkMode, NetworkSpec, PathStat, PublishedPort, Resources, Result, StatsSample,
    VolumeEngine, VolumeInfo, VolumeSpec, VolumeUser,
};

/// 64 hex characters derived from `n` (deterministic, well mixed, so id
/// prefixes differ as real ones do).
pub(crate) fn hex_id(n: u64) -> String {
    let mut state = n;
    let mut out = String::with_capacity(64);
    for _ in 0..4 {
        // splitmix64
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        out.push_str(&format!("{z:016x}"));
    }
    out
}

/// `busybox` → `busybox:latest`; references with a tag or digest stay.
fn normalize_reference(reference: &str) -> String {
    let last = reference.rsplit('/').next().unwrap_or(reference);
    if last.contains(':') || last.contains('@') {
        reference.to_string()
    } else {
        format!("{reference}:latest")
    }
}

/// A failure injected into the fake engine, shown as exactly `message`.
#[derive(Debug)]
struct InjectedFault(String);

impl std::fmt::Display for InjectedFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InjectedFault {}

/// The error of an injected fault: a runtime failure whose message is
/// exactly `message`, as the engine's carry the runtime's own.
pub fn injected(message: &str) -> EngineError {
    EngineError::Runtime(Box::new(InjectedFault(message.to_string())))
}

enum Fault {
    /// Fail once with this error, then forget the fault.
    Once(Option<EngineError>),
    /// Fail every matching call with [`injected`]`(message)`.
    Always(String),
}

struct FaultRule {
    call: String,
    /// Container name, network name, image reference or project; `*` for any.
    name: String,
    fault: Fault,
}

struct FakeContainer {
    info: ContainerInfo,
    spec: ContainerSpec,
    /// Anonymous volumes made for it: target → volume name.
    anonymous: BTreeMap<String, String>,
}

#[derive(Default)]
struct State {
    counter: u64,
    /// Containers by id.
    containers: BTreeMap<String, FakeContainer>,
    /// Networks by id.
    networks: BTreeMap<String, NetworkInfo>,
    /// Volumes by name (`used_by` is filled when listed).
    volumes: BTreeMap<String, VolumeInfo>,
    /// Images by normalized reference.
    images: BTreeMap<String, ImageInfo>,
    calls: Vec<String>,
    faults: Vec<FaultRule>,
    delay: Duration,
    logs: BTreeMap<String, Vec<LogLine>>,
    exec_code: i32,
    execs: Vec<(String, ExecSpec)>,
    /// Regular files in each container (by name): absolute path → content.
    /// Directories exist implicitly above files.
    files: BTreeMap<String, BTreeMap<String, Vec<u8>>>,
    /// Health verdicts that containers get when they start, by name.
    health_on_start: BTreeMap<String, Health>,
    /// Whether the host is made to take no block I/O weight (docker's
    /// warnings from `discarded_limits`).
    block_io_weight_unsupported: bool,
}

impl State {
    fn next(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    fn find_container(&self, id_or_name: &str) -> Option<&FakeContainer> {
        self.containers.get(id_or_name).or_else(|| {
            self.containers.values().find(|c| {
                c.info.name == id_or_name
                    || (id_or_name.len() >= 12 && c.info.id.starts_with(id_or_name))
            })
        })
    }

    fn container_id(&self, id_or_name: &str) -> Option<String> {
        self.find_container(id_or_name).map(|c| c.info.id.clone())
    }

    /// A volume with its users filled in from the containers' mounts.
    fn volume_with_users(&self, volume: &VolumeInfo) -> VolumeInfo {
        let mut out = volume.clone();
        out.used_by = Vec::new();
        for c in self.containers.values() {
            let user = |target: &str| VolumeUser {
                container_id: c.info.id.clone(),
                container_name: c.info.name.clone(),
                target: target.to_string(),
                running: c.info.state.is_running(),
            };
            for m in &c.spec.mounts {
                if m.kind == MountKind::Volume && m.source == volume.name {
                    out.used_by.push(user(&m.target));
                }
            }
            for (target, name) in &c.anonymous {
                if *name == volume.name {
                    out.used_by.push(user(target));
                }
            }
        }
        out
    }

    fn find_network_id(&self, id_or_name: &str) -> Option<String> {
        if self.networks.contains_key(id_or_name) {
            return Some(id_or_name.to_string());
        }
        self.networks
            .values()
            .find(|n| n.name == id_or_name)
            .map(|n| n.id.clone())
    }

    fn take_fault(&mut self, call: &str, name: &str) -> Option<EngineError> {
        let position = self
            .faults
            .iter()
            .position(|f| f.call == call && (f.name == name || f.name == "*"))?;
        match &mut self.faults[position].fault {
            Fault::Always(message) => Some(injected(message)),
            Fault::Once(error) => {
                let error = error.take().unwrap_or_else(|| injected("injected failure"));
                self.faults.remove(position);
                Some(error)
            }
        }
    }
}

/// Per-project locks that can be held by a `Send + 'static` guard.
#[derive(Default)]
struct ProjectLocks {
    held: Mutex<BTreeSet<String>>,
    released: Condvar,
}

struct ProjectLockGuard {
    locks: Arc<ProjectLocks>,
    project: String,
}

impl Drop for ProjectLockGuard {
    fn drop(&mut self) {
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        held.remove(&self.project);
        self.locks.released.notify_all();
    }
}

/// Decrements the in-flight gauge when a call ends.
struct InFlight<'a>(&'a AtomicUsize);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// An in-memory [`Engine`].
///
/// Every trait call is appended to [`calls`](FakeEngine::calls) as
/// `"<method> <name>"` (container and network calls by name, so assertions
/// read well). Setup helpers (`add_*`) are not logged.
#[derive(Default)]
pub struct FakeEngine {
    state: Mutex<State>,
    locks: Arc<ProjectLocks>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

impl std::fmt::Debug for FakeEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("FakeEngine")
            .field("containers", &state.containers.len())
            .field("networks", &state.networks.len())
            .field("images", &state.images.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl FakeEngine {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    // ---- setup -----------------------------------------------------------

    /// Put a regular file at `path` in the container `name`.
    pub fn add_file(&self, name: &str, path: &str, content: &[u8]) {
        self.state()
            .files
            .entry(name.to_string())
            .or_default()
            .insert(clean_path(path), content.to_vec());
    }

    /// The regular files of the container `name`: absolute path → content.
    pub fn files(&self, name: &str) -> BTreeMap<String, Vec<u8>> {
        self.state().files.get(name).cloned().unwrap_or_default()
    }

    /// Make `reference` a local image; returns its id (`sha256:…`).
    pub fn add_image(&self, reference: &str) -> String {
        let mut state = self.state();
        let n = state.next();
        let id = format!("sha256:{}", hex_id(n));
        let reference = normalize_reference(reference);
        state.images.insert(
            reference.clone(),
            ImageInfo {
                id: id.clone(),
                repo_tags: vec![reference],
                created: 1_700_000_000,
                size: 1 << 20,
            },
        );
        id
    }

    /// A network that exists before the test runs; returns its id.
    pub fn add_network(&self, name: &str, labels: &[(&str, &str)]) -> String {
        let mut state = self.state();
        let n = state.next();
        let info = new_network(n, name, labels_map(labels), None);
        let id = info.id.clone();
        state.networks.insert(id.clone(), info);
        id
    }

    /// A container that exists before the test runs (its image and networks
    /// need not exist); returns its id.
    pub fn add_container(&self, spec: &ContainerSpec, running: bool) -> String {
        let mut state = self.state();
        let n = state.next();
        let mut container = new_container(n, spec, String::new());
        if running {
            start(&mut container, n);
        }
        let id = container.info.id.clone();
        state.containers.insert(id.clone(), container);
        id
    }

    /// A volume that exists before the test runs.
    pub fn add_volume(&self, name: &str, labels: &[(&str, &str)]) {
        let info = new_volume(name, labels_map(labels), BTreeMap::new(), false);
        self.state().volumes.insert(name.to_string(), info);
    }

    /// Every volume, by name, with its users.
    pub fn volumes(&self) -> Vec<VolumeInfo> {
        let state = self.state();
        state
            .volumes
            .values()
            .map(|v| state.volume_with_users(v))
            .collect()
    }

    pub fn volume_names(&self) -> Vec<String> {
        self.state().volumes.keys().cloned().collect()
    }

    /// Canned output for `logs` of the container with this name.
    pub fn set_logs(&self, name: &str, lines: Vec<LogLine>) {
        self.state().logs.insert(name.to_string(), lines);
    }

    /// The exit code `exec` returns (0 by default).
    /// A container started under `name` from now on reports `health`
    /// (the fake runs no health checks).
    pub fn set_health_on_start(&self, name: &str, health: Health) {
        self.state()
            .health_on_start
            .insert(name.to_string(), health);
    }

    pub fn set_exec_code(&self, code: i32) {
        self.state().exec_code = code;
    }

    /// Make the host take block I/O weights or not: without, weights are
    /// discarded with docker's warnings.
    pub fn set_block_io_weight_supported(&self, supported: bool) {
        self.state().block_io_weight_unsupported = !supported;
    }

    /// Make every container and network call (create/start/stop/remove)
    /// sleep this long, so overlapping calls can be observed.
    pub fn set_delay(&self, delay: Duration) {
        self.state().delay = delay;
    }

    // ---- fault injection -------------------------------------------------

    /// The next call of `call` (`"start_container"`, …) on `name` (container
    /// or network name, image reference, project; `"*"` for any) fails with
    /// `error`. The call is still logged; nothing changes.
    pub fn fail_next(&self, call: &str, name: &str, error: EngineError) {
        self.state().faults.push(FaultRule {
            call: call.to_string(),
            name: name.to_string(),
            fault: Fault::Once(Some(error)),
        });
    }

    /// Every call of `call` on `name` fails with `injected(message)`.
    pub fn fail_on(&self, call: &str, name: &str, message: &str) {
        self.state().faults.push(FaultRule {
            call: call.to_string(),
            name: name.to_string(),
            fault: Fault::Always(message.to_string()),
        });
    }

    /// Forget every injected fault.
    pub fn clear_faults(&self) {
        self.state().faults.clear();
    }

    // ---- inspection ------------------------------------------------------

    /// Every engine call so far, e.g. `create_container hello-web-1`.
    pub fn calls(&self) -> Vec<String> {
        self.state().calls.clone()
    }

    /// Only the calls that change something: create, start, stop, remove
    /// and rename of containers and networks, and port handovers.
    pub fn changes(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter(|c| {
                [
                    "create_",
                    "start_",
                    "stop_",
                    "remove_",
                    "rename_",
                    "hand_over_",
                ]
                .iter()
                .any(|p| c.starts_with(p))
            })
            .collect()
    }

    pub fn clear_calls(&self) {
        self.state().calls.clear();
    }

    /// All containers, sorted by name.
    pub fn containers(&self) -> Vec<ContainerInfo> {
        let mut all: Vec<_> = self
            .state()
            .containers
            .values()
            .map(|c| c.info.clone())
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Names of all containers, sorted.
    pub fn container_names(&self) -> Vec<String> {
        self.containers().into_iter().map(|c| c.name).collect()
    }

    pub fn container(&self, name: &str) -> Option<ContainerInfo> {
        self.state().find_container(name).map(|c| c.info.clone())
    }

    /// Put a container in `state`, as if it had ended with some exit code
    /// (the fake's own stops end with 0).
    pub fn set_state(&self, name: &str, state: ContainerState) {
        let mut fake = self.state();
        if let Some(id) = fake.container_id(name) {
            if let Some(container) = fake.containers.get_mut(&id) {
                container.info.state = state;
            }
        }
    }

    /// The spec a container was created from.
    pub fn spec(&self, name: &str) -> Option<ContainerSpec> {
        self.state().find_container(name).map(|c| c.spec.clone())
    }

    /// All networks, sorted by name.
    pub fn networks(&self) -> Vec<NetworkInfo> {
        let mut all: Vec<_> = self.state().networks.values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Names of all networks, sorted.
    pub fn network_names(&self) -> Vec<String> {
        self.networks().into_iter().map(|n| n.name).collect()
    }

    /// Commands run with `exec`, with the container name.
    pub fn execs(&self) -> Vec<(String, ExecSpec)> {
        self.state().execs.clone()
    }

    /// The most container/network calls that were ever in progress at once.
    pub fn max_in_flight(&self) -> usize {
        self.max_in_flight.load(Ordering::SeqCst)
    }

    // ---- call plumbing ---------------------------------------------------

    /// Log the call and apply an injected fault, under the state lock.
    fn record(state: &mut State, call: &str, name: &str) -> Result<()> {
        state.calls.push(format!("{call} {name}"));
        match state.take_fault(call, name) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }

    /// For slow calls: log, check faults, then count the call as in flight
    /// and sleep the configured delay with the state unlocked.
    fn enter_slow(&self, call: &str, name: &str) -> Result<InFlight<'_>> {
        let delay = {
            let mut state = self.state();
            Self::record(&mut state, call, name)?;
            state.delay
        };
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let guard = InFlight(&self.in_flight);
        if !delay.is_zero() {
            std::thread::sleep(delay);
        }
        Ok(guard)
    }

    /// Pause or unpause: docker's errors for a container that is not
    /// running, already paused or not paused.
    fn set_paused(&self, id: &str, call: &str, pause: bool) -> Result<()> {
        let name = self.container_name(id);
        let _in_flight = self.enter_slow(call, &name)?;
        let mut state = self.state();
        let id = state.container_id(id).ok_or_else(|| no_container(id))?;
        let container = state
            .containers
            .get_mut(&id)
            .ok_or_else(|| no_container(&id))?;
        let ContainerState::Running { paused, .. } = &mut container.info.state else {
            return Err(EngineError::Invalid(format!(
                "container {name} is not running"
            )));
        };
        if *paused == pause {
            return Err(EngineError::Invalid(format!(
                "container {name} is {}",
                if pause {
                    "already paused"
                } else {
                    "not paused"
                }
            )));
        }
        *paused = pause;
        Ok(())
    }

    fn container_name(&self, id_or_name: &str) -> String {
        self.state()
            .find_container(id_or_name)
            .map(|c| c.info.name.clone())
            .unwrap_or_else(|| id_or_name.to_string())
    }

    fn network_name(&self, id_or_name: &str) -> String {
        let state = self.state();
        state
            .find_network_id(id_or_name)
            .and_then(|id| state.networks.get(&id).map(|n| n.name.clone()))
            .unwrap_or_else(|| id_or_name.to_string())
    }
}

fn labels_map(labels: &[(&str, &str)]) -> BTreeMap<String, String> {
    labels
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn matches_labels(have: &BTreeMap<String, String>, want: &[(&str, &str)]) -> bool {
    want.iter()
        .all(|(k, v)| have.get(*k).map(String::as_str) == Some(*v))
}

fn new_network(
    n: u64,
    name: &str,
    labels: BTreeMap<String, String>,
    subnet: Option<String>,
) -> NetworkInfo {
    let octet = (20 + n % 200) as u8;
    let id = hex_id(n);
    NetworkInfo {
        bridge: format!("br-{}", &id[..12]),
        id,
        name: name.to_string(),
        labels,
        subnet: subnet.unwrap_or_else(|| format!("172.{octet}.0.0/16")),
        gateway: IpAddr::V4(Ipv4Addr::new(172, octet, 0, 1)),
        ip_range: None,
        aux_addresses: Default::default(),
        mtu: None,
        ipv6: None,
    }
}

fn new_volume(
    name: &str,
    labels: BTreeMap<String, String>,
    options: BTreeMap<String, String>,
    anonymous: bool,
) -> VolumeInfo {
    VolumeInfo {
        name: name.to_string(),
        driver: "local".into(),
        mountpoint: format!("/var/lib/wharf/volumes/{name}/_data"),
        created: 1_700_000_000,
        labels,
        options,
        scope: "local".into(),
        anonymous,
        used_by: Vec::new(),
    }
}

fn new_container(n: u64, spec: &ContainerSpec, image_id: String) -> FakeContainer {
    let mut command = spec.entrypoint.clone().unwrap_or_default();
    command.extend(spec.command.clone().unwrap_or_default());
    FakeContainer {
        info: ContainerInfo {
            id: hex_id(n),
            name: spec.name.clone(),
            image: spec.image.clone(),
            image_id,
            command,
            created: 1_700_000_000 + n as i64,
            state: ContainerState::Created,
            labels: spec.labels.clone(),
            ports: Vec::new(),
            addresses: BTreeMap::new(),
            addresses_v6: BTreeMap::new(),
            health: None,
        },
        spec: spec.clone(),
        anonymous: BTreeMap::new(),
    }
}

fn start(container: &mut FakeContainer, n: u64) {
    container.info.state = ContainerState::Running {
        pid: 1000 + n as u32,
        started_at: 1_700_000_000 + n as i64,
        paused: false,
    };
    let mut next_free = 32768 + (n as u16 % 1000) * 10;
    container.info.ports = container
        .spec
        .ports
        .iter()
        .map(|p| PublishedPort {
            host_ip: p.host_ip,
            host_port: if p.host_port == 0 {
                next_free += 1;
                next_free
            } else {
                p.host_port
            },
            container_port: p.container_port,
            protocol: p.protocol,
        })
        .collect();
    container.info.addresses = container
        .spec
        .networks
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let ip =
                a.ipv4_address
                    .unwrap_or(Ipv4Addr::new(172, 20 + i as u8, 0, 2 + (n % 250) as u8));
            (a.network.clone(), IpAddr::V4(ip))
        })
        .collect();
}

fn stop(container: &mut FakeContainer, n: u64) {
    if container.info.state.is_running() {
        container.info.state = ContainerState::Exited {
            exit_code: 0,
            finished_at: 1_700_000_000 + n as i64,
            oom_killed: false,
        };
        container.info.ports.clear();
        container.info.addresses.clear();
    }
}

fn no_container(id_or_name: &str) -> EngineError {
    EngineError::not_found("container", id_or_name)
}

impl VolumeEngine for FakeEngine {
    fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo> {
        let _in_flight = self.enter_slow("create_volume", &spec.name)?;
        let mut state = self.state();
        if state.volumes.contains_key(&spec.name) {
            return Err(EngineError::Conflict {
                kind: "volume",
                name: spec.name.clone(),
            });
        }
        if let Some(driver) = spec.driver.as_deref().filter(|d| *d != "local") {
            return Err(EngineError::Invalid(format!(
                "volume {}: driver {driver:?} is not supported",
                spec.name
            )));
        }
        let anonymous = spec.labels.contains_key("com.docker.volume.anonymous");
        let info = new_volume(
            &spec.name,
            spec.labels.clone(),
            spec.driver_opts.clone(),
            anonymous,
        );
        state.volumes.insert(spec.name.clone(), info.clone());
        Ok(info)
    }

    fn list_volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<VolumeInfo>> {
        let mut state = self.state();
        Self::record(&mut state, "list_volumes", &format_labels(labels))?;
        Ok(state
            .volumes
            .values()
            .filter(|v| matches_labels(&v.labels, labels))
            .map(|v| state.volume_with_users(v))
            .collect())
    }

    fn inspect_volume(&self, name: &str) -> Result<VolumeInfo> {
        let mut state = self.state();
        Self::record(&mut state, "inspect_volume", name)?;
        let volume = state
            .volumes
            .get(name)
            .ok_or_else(|| EngineError::not_found("volume", name))?;
        Ok(state.volume_with_users(volume))
    }

    fn remove_volume(&self, name: &str, force: bool) -> Result<()> {
        let _in_flight = self.enter_slow("remove_volume", name)?;
        let mut state = self.state();
        let volume = state
            .volumes
            .get(name)
            .ok_or_else(|| EngineError::not_found("volume", name))?;
        let users = state.volume_with_users(volume).used_by;
        if users.iter().any(|u| u.running) || (!users.is_empty() && !force) {
            let names: Vec<&str> = users.iter().map(|u| u.container_name.as_str()).collect();
            return Err(EngineError::Invalid(format!(
                "volume {name} is in use by container {}",
                names.join(", ")
            )));
        }
        state.volumes.remove(name);
        Ok(())
    }

    /// The fake has no file system to check; only injected faults fail.
    fn validate_mounts(&self, spec: &ContainerSpec) -> Result<()> {
        match self.state().take_fault("validate_mounts", &spec.name) {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Engine for FakeEngine {
    fn discarded_limits(&self, resources: &Resources) -> Vec<String> {
        if !self.state().block_io_weight_unsupported {
            return Vec::new();
        }
        let mut warnings = Vec::new();
        if resources.blkio_weight.is_some_and(|w| w != 0) {
            warnings.push("Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.".to_string());
        }
        if !resources.blkio_weight_device.is_empty() {
            warnings.push("Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.".to_string());
        }
        warnings
    }

    fn lock_project(&self, project: &str) -> Result<LockGuard> {
        Self::record(&mut self.state(), "lock_project", project)?;
        let mut held = self
            .locks
            .held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        while held.contains(project) {
            held = self
                .locks
                .released
                .wait(held)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
        }
        held.insert(project.to_string());
        Ok(Box::new(ProjectLockGuard {
            locks: Arc::clone(&self.locks),
            project: project.to_string(),
        }))
    }

    fn image_inspect(&self, reference: &str) -> Result<Option<ImageInfo>> {
        let mut state = self.state();
        Self::record(&mut state, "image_inspect", reference)?;
        Ok(state.images.get(&normalize_reference(reference)).cloned())
    }

    fn list_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>> {
        let mut state = self.state();
        Self::record(&mut state, "list_containers", &format_labels(labels))?;
        let mut found: Vec<_> = state
            .containers
            .values()
            .filter(|c| matches_labels(&c.info.labels, labels))
            .map(|c| c.info.clone())
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    fn create_container(&self, spec: &ContainerSpec) -> Result<String> {
        let _in_flight = self.enter_slow("create_container", &spec.name)?;
        let mut state = self.state();
        if state.containers.values().any(|c| c.info.name == spec.name) {
            return Err(EngineError::Conflict {
                kind: "container",
                name: spec.name.clone(),
            });
        }
        let image_id = match state.images.get(&normalize_reference(&spec.image)) {
            Some(image) => image.id.clone(),
            None => {
                return Err(EngineError::NotFound {
                    kind: "image",
                    name: spec.image.clone(),
                    hint: "; import or pull it first".into(),
                })
            }
        };
        for attachment in &spec.networks {
            if state.find_network_id(&attachment.network).is_none() {
                return Err(EngineError::not_found("network", &attachment.network));
            }
        }
        for source in &spec.volumes_from {
            if state.find_container(&source.container).is_none() {
                return Err(EngineError::not_found("container", &source.container));
            }
        }
        let n = state.next();
        let mut container = new_container(n, spec, image_id);
        // Like the real engine: named volumes made on first use, anonymous
        // ones for mounts without a source.
        for mount in spec.mounts.iter().filter(|m| m.kind == MountKind::Volume) {
            if mount.source.is_empty() {
                let n = state.next();
                let name = hex_id(n);
                let mut labels = BTreeMap::new();
                labels.insert("com.docker.volume.anonymous".to_string(), String::new());
                let volume = new_volume(&name, labels, BTreeMap::new(), true);
                state.volumes.insert(name.clone(), volume);
                container.anonymous.insert(mount.target.clone(), name);
            } else if !state.volumes.contains_key(&mount.source) {
                let volume = new_volume(&mount.source, BTreeMap::new(), BTreeMap::new(), false);
                state.volumes.insert(mount.source.clone(), volume);
            }
        }
        let id = container.info.id.clone();
        state.containers.insert(id.clone(), container);
        Ok(id)
    }

    fn rename_container(&self, id: &str, new_name: &str) -> Result<()> {
        let name = self.container_name(id);
        let mut state = self.state();
        Self::record(&mut state, "rename_container", &name)?;
        let id = state.container_id(id).ok_or_else(|| no_container(id))?;
        if state
            .containers
            .values()
            .any(|c| c.info.name == new_name && c.info.id != id)
        {
            return Err(EngineError::Conflict {
                kind: "container",
                name: new_name.to_string(),
            });
        }
        let container = state
            .containers
            .get_mut(&id)
            .ok_or_else(|| no_container(&id))?;
        container.info.name = new_name.to_string();
        container.spec.name = new_name.to_string();
        Ok(())
    }

    fn start_container(&self, id: &str) -> Result<()> {
        let name = self.container_name(id);
        let _in_flight = self.enter_slow("start_container", &name)?;
        let mut state = self.state();
        let id = state.container_id(id).ok_or_else(|| no_container(id))?;
        let n = state.next();
        let container = state
            .containers
            .get_mut(&id)
            .ok_or_else(|| no_container(&id))?;
        if !container.info.state.is_running() {
            start(container, n);
        }
        let name = container.info.name.clone();
        let health = state.health_on_start.get(&name).copied();
        if let Some(container) = state.containers.get_mut(&id) {
            container.info.health = health;
        }
        Ok(())
    }

    fn start_container_awaiting_ports(&self, id: &str) -> Result<()> {
        let name = self.container_name(id);
        Self::record(&mut self.state(), "start_container_awaiting_ports", &name)?;
        self.start_container(id)
    }

    /// Logged as `hand_over_ports FROM TO`; a fault is set for the name `FROM TO`.
    fn hand_over_ports(&self, from_id: &str, to_id: &str) -> Result<()> {
        let names = format!(
            "{} {}",
            self.container_name(from_id),
            self.container_name(to_id)
        );
        Self::record(&mut self.state(), "hand_over_ports", &names)
    }

    /// The fake's attached containers run and exit at once with code 0.
    fn start_attached(&self, id: &str) -> Result<i32> {
        let name = self.container_name(id);
        let _in_flight = self.enter_slow("start_attached", &name)?;
        let mut state = self.state();
        let id = state.container_id(id).ok_or_else(|| no_container(id))?;
        let n = state.next();
        let container = state
            .containers
            .get_mut(&id)
            .ok_or_else(|| no_container(&id))?;
        start(container, n);
        stop(container, n);
        Ok(0)
    }

    fn stop_container(&self, id: &str, _timeout: Option<Duration>) -> Result<()> {
        let name = self.container_name(id);
        let _in_flight = self.enter_slow("stop_container", &name)?;
        let mut state = self.state();
        let id = state.container_id(id).ok_or_else(|| no_container(id))?;
        let n = state.next();
        let container = state
            .containers
            .get_mut(&id)
            .ok_or_else(|| no_container(&id))?;
        stop(container, n);
        Ok(())
    }

    fn kill_container(&self, id: &str, signal: &str) -> Result<()> {
        let name = self.container_name(id);
        let _in_flight = self.enter_slow("kill_container", &name)?;
        let mut state = self.state();
        let id = state.container_id(id).ok_or_else(|| no_container(id))?;
        let n = state.next();
        let container = state
            .containers
            .get_mut(&id)
            .ok_or_else(|| no_container(&id))?;
        if !container.info.state.is_running() {
            return Err(EngineError::Invalid(format!(
                "container {name} is not running"
            )));
        }
        // The fake's processes die of every signal but the harmless ones;
        // a paused container is thawed to receive it, as docker does.
        if let ContainerState::Running { paused, .. } = &mut container.info.state {
            *paused = false;
        }
        if !matches!(
            signal,
            "SIGHUP" | "HUP" | "SIGUSR1" | "USR1" | "SIGUSR2" | "USR2"
        ) {
            stop(container, n);
        }
        Ok(())
    }

    fn pause_container(&self, id: &str) -> Result<()> {
        self.set_paused(id, "pause_container", true)
    }

    fn unpause_container(&self, id: &str) -> Result<()> {
        self.set_paused(id, "unpause_container", false)
    }

    fn remove_container(&self, id: &str, force: bool) -> Result<()> {
        let name = self.container_name(id);
        let _in_flight = self.enter_slow("remove_container", &name)?;
        let mut state = self.state();
        let id = state.container_id(id).ok_or_else(|| no_container(id))?;
        let running = state
            .containers
            .get(&id)
            .is_some_and(|c| c.info.state.is_running());
        if running && !force {
            return Err(EngineError::Invalid(format!(
                "container {name} is running: stop it first or remove it with force"
            )));
        }
        state.containers.remove(&id);
        Ok(())
    }

    fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInfo> {
        let name = self.container_name(id_or_name);
        let mut state = self.state();
        Self::record(&mut state, "inspect_container", &name)?;
        state
            .find_container(id_or_name)
            .map(|c| c.info.clone())
            .ok_or_else(|| no_container(id_or_name))
    }

    fn list_networks(&self, labels: &[(&str, &str)]) -> Result<Vec<NetworkInfo>> {
        let mut state = self.state();
        Self::record(&mut state, "list_networks", &format_labels(labels))?;
        let mut found: Vec<_> = state
            .networks
            .values()
            .filter(|n| matches_labels(&n.labels, labels))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    fn create_network(&self, spec: &NetworkSpec) -> Result<String> {
        let _in_flight = self.enter_slow("create_network", &spec.name)?;
        let mut state = self.state();
        if state.find_network_id(&spec.name).is_some() {
            return Err(EngineError::Conflict {
                kind: "network",
                name: spec.name.clone(),
            });
        }
        let n = state.next();
        let mut info = new_network(n, &spec.name, spec.labels.clone(), spec.subnet.clone());
        info.ipv6 = spec.ipv6.clone();
        let id = info.id.clone();
        state.networks.insert(id.clone(), info);
        Ok(id)
    }

    fn connect_network(
        &self,
        network: &str,
        container: &str,
        attachment: &NetworkAttachment,
    ) -> Result<()> {
        let mut state = self.state();
        Self::record(
            &mut state,
            "connect_network",
            &format!("{network} {container}"),
        )?;
        let network_id = state
            .find_network_id(network)
            .ok_or_else(|| EngineError::not_found("network", network))?;
        let network_name = state.networks[&network_id].name.clone();
        let id = state
            .container_id(container)
            .ok_or_else(|| no_container(container))?;
        let target = state
            .containers
            .get_mut(&id)
            .ok_or_else(|| no_container(&id))?;
        if target.spec.network_mode != NetworkMode::Bridge {
            return Err(EngineError::Invalid(format!(
                "container {} does not have a network namespace of its own (network_mode): it cannot be connected to network {network_name}",
                target.info.name
            )));
        }
        if target
            .spec
            .networks
            .iter()
            .any(|a| a.network == network_name)
        {
            return Err(EngineError::Invalid(format!(
                "container {} is already connected to network {network_name}",
                target.info.name
            )));
        }
        target.spec.networks.push(NetworkAttachment {
            network: network_name,
            ..attachment.clone()
        });
        Ok(())
    }

    fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()> {
        let mut state = self.state();
        Self::record(
            &mut state,
            "disconnect_network",
            &format!("{network} {container}"),
        )?;
        let network_name = match state.find_network_id(network) {
            Some(id) => state.networks[&id].name.clone(),
            None if force => network.to_string(),
            None => return Err(EngineError::not_found("network", network)),
        };
        let id = state
            .container_id(container)
            .ok_or_else(|| no_container(container))?;
        let target = state
            .containers
            .get_mut(&id)
            .ok_or_else(|| no_container(&id))?;
        let before = target.spec.networks.len();
        target.spec.networks.retain(|a| a.network != network_name);
        target.info.addresses.remove(&network_name);
        target.info.addresses_v6.remove(&network_name);
        if target.spec.networks.len() == before && !force {
            return Err(EngineError::Invalid(format!(
                "container {} is not connected to network {network_name}",
                target.info.name
            )));
        }
        Ok(())
    }

    fn remove_network(&self, id: &str) -> Result<()> {
        let name = self.network_name(id);
        let _in_flight = self.enter_slow("remove_network", &name)?;
        let mut state = self.state();
        let id = state
            .find_network_id(id)
            .ok_or_else(|| EngineError::not_found("network", id))?;
        let attached: Vec<_> = state
            .containers
            .values()
            .filter(|c| c.spec.networks.iter().any(|a| a.network == name))
            .map(|c| c.info.name.clone())
            .collect();
        if !attached.is_empty() {
            return Err(EngineError::Invalid(format!(
                "network {name} has active endpoints ({})",
                attached.join(", ")
            )));
        }
        state.networks.remove(&id);
        Ok(())
    }

    fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32> {
        let name = self.container_name(id);
        let mut state = self.state();
        Self::record(&mut state, "exec", &name)?;
        let container_state = state
            .find_container(id)
            .map(|c| c.info.state.clone())
            .ok_or_else(|| no_container(id))?;
        if !container_state.is_running() {
            return Err(EngineError::Invalid(format!(
                "container {name} is not running"
            )));
        }
        if container_state.is_paused() {
            return Err(EngineError::Invalid(format!(
                "container {name} is paused: unpause it first"
            )));
        }
        state.execs.push((name, spec.clone()));
        Ok(state.exec_code)
    }

    fn logs(
        &self,
        id: &str,
        options: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()> {
        let name = self.container_name(id);
        let lines = {
            let mut state = self.state();
            Self::record(&mut state, "logs", &name)?;
            if state.find_container(id).is_none() {
                return Err(no_container(id));
            }
            state.logs.get(&name).cloned().unwrap_or_default()
        };
        let lines: Vec<_> = lines
            .into_iter()
            .filter(|l| match options.since_ns {
                Some(since) => l.time_ns >= since,
                None => true,
            })
            .collect();
        let skip = options
            .tail
            .map_or(0, |tail| lines.len().saturating_sub(tail));
        for line in lines.into_iter().skip(skip) {
            if !sink(line) {
                break;
            }
        }
        Ok(())
    }

    /// One process: the container's command.
    fn top(&self, id: &str) -> Result<Vec<wharf_engine_api::ProcessInfo>> {
        let name = self.container_name(id);
        let mut state = self.state();
        Self::record(&mut state, "top", &name)?;
        let container = state.find_container(id).ok_or_else(|| no_container(id))?;
        if !container.info.state.is_running() {
            return Err(EngineError::Invalid(format!(
                "container {name} is not running"
            )));
        }
        Ok(vec![wharf_engine_api::ProcessInfo {
            pid: 4242,
            ppid: 4241,
            uid: 0,
            started: 1_700_000_000,
            cpu_seconds: 0,
            tty: "?".into(),
            command: container.info.command.join(" "),
        }])
    }

    fn stats(&self, id: &str) -> Result<StatsSample> {
        let name = self.container_name(id);
        let mut state = self.state();
        Self::record(&mut state, "stats", &name)?;
        let n = state.next();
        let container = state.find_container(id).ok_or_else(|| no_container(id))?;
        if !container.info.state.is_running() {
            return Err(EngineError::Invalid(format!(
                "container {name} is not running"
            )));
        }
        Ok(StatsSample {
            read_at_ns: n * 1_000_000_000,
            cpu_usage_ns: n * 10_000_000,
            online_cpus: 2,
            memory_usage: 8 << 20,
            memory_limit: container.spec.resources.memory_bytes.unwrap_or(1 << 30),
            net_rx_bytes: 1024,
            net_tx_bytes: 512,
            block_read_bytes: 4096,
            block_write_bytes: 0,
            pids: 1,
            memory_usage_total: 12 << 20,
            memory_rss: 7 << 20,
            memory_cache: 4 << 20,
            memory_limit_set: container.spec.resources.memory_bytes,
            net_rx_packets: 10,
            net_tx_packets: 5,
            ..Default::default()
        })
    }

    fn stat_path(&self, id: &str, path: &str, _follow_link: bool) -> Result<PathStat> {
        let name = self.container_name(id);
        let mut state = self.state();
        Self::record(&mut state, "stat_path", &name)?;
        state.find_container(id).ok_or_else(|| no_container(id))?;
        fake_stat(state.files.get(&name), path)
    }

    fn copy_from_container(
        &self,
        id: &str,
        path: &str,
        follow_link: bool,
        top: Option<&str>,
        out: &mut dyn std::io::Write,
    ) -> Result<PathStat> {
        let stat = self.stat_path(id, path, follow_link)?;
        let name = self.container_name(id);
        let files = self.files(&name);
        let base = clean_path(path);
        let top = top.unwrap_or(&stat.name).to_string();
        let mut builder = tar::Builder::new(out);
        let io = |e| EngineError::io("writing the archive", e);
        let mut append = |entry: &str, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            builder.append_data(&mut header, entry, data)
        };
        if stat.is_dir() {
            let prefix = if base == "/" {
                "/".to_string()
            } else {
                format!("{base}/")
            };
            for (file, data) in files.range(prefix.clone()..) {
                let Some(rel) = file.strip_prefix(&prefix) else {
                    break;
                };
                append(&format!("{top}/{rel}"), data).map_err(io)?;
            }
        } else {
            append(&top, &files[&base]).map_err(io)?;
        }
        builder.finish().map_err(io)?;
        Ok(stat)
    }

    fn copy_to_container(
        &self,
        id: &str,
        dir: &str,
        archive: &mut dyn std::io::Read,
        options: &CopyToOptions,
    ) -> Result<()> {
        let name = self.container_name(id);
        let mut state = self.state();
        Self::record(&mut state, "copy_to_container", &name)?;
        state.find_container(id).ok_or_else(|| no_container(id))?;
        let dir = clean_path(dir);
        if !options.create_dir && !fake_stat(state.files.get(&name), &dir)?.is_dir() {
            return Err(EngineError::Invalid(format!("{dir} is not a directory")));
        }
        let io = |e| EngineError::io("reading the archive", e);
        let files = state.files.entry(name).or_default();
        for entry in tar::Archive::new(archive).entries().map_err(io)? {
            let mut entry = entry.map_err(io)?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let rel = entry.path().map_err(io)?.to_string_lossy().into_owned();
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut entry, &mut data).map_err(io)?;
            files.insert(clean_path(&format!("{dir}/{rel}")), data);
        }
        Ok(())
    }

    fn remove_path(&self, id: &str, path: &str) -> Result<()> {
        let name = self.container_name(id);
        let mut state = self.state();
        Self::record(&mut state, "remove_path", &name)?;
        let path = clean_path(path);
        if let Some(files) = state.files.get_mut(&name) {
            files.retain(|file, _| file != &path && !file.starts_with(&format!("{path}/")));
        }
        Ok(())
    }
}

/// `/a/b` for `a//b/./`: absolute, no empty or `.` components, `..` applied.
fn clean_path(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

fn fake_stat(files: Option<&BTreeMap<String, Vec<u8>>>, path: &str) -> Result<PathStat> {
    let path = clean_path(path);
    let name = path
        .rsplit('/')
        .next()
        .filter(|n| !n.is_empty())
        .unwrap_or("/");
    let stat = |mode, size| PathStat {
        name: name.to_string(),
        size,
        mode,
        ..Default::default()
    };
    let empty = BTreeMap::new();
    let files = files.unwrap_or(&empty);
    if let Some(data) = files.get(&path) {
        return Ok(stat(0o100644, data.len() as u64));
    }
    let prefix = if path == "/" {
        path.clone()
    } else {
        format!("{path}/")
    };
    if path == "/" || files.keys().any(|f| f.starts_with(&prefix)) {
        return Ok(stat(0o040755, 4096));
    }
    Err(EngineError::not_found("file", path))
}

fn format_labels(labels: &[(&str, &str)]) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> ContainerSpec {
        ContainerSpec {
            name: name.into(),
            image: "busybox".into(),
            networks: vec![NetworkAttachment {
                network: "p_default".into(),
                aliases: vec![],
                ipv4_address: None,
                ipv6_address: None,
                mac_address: None,
            }],
            labels: labels_map(&[("com.docker.compose.project", "p")]),
            ..Default::default()
        }
    }

    #[test]
    fn pause_unpause_and_what_a_paused_container_refuses() {
        let engine = FakeEngine::new();
        engine.add_image("busybox:latest");
        engine.add_network("p_default", &[]);
        let id = engine.create_container(&spec("p-a-1")).unwrap();
        let err = engine.pause_container(&id).unwrap_err();
        assert!(err.to_string().contains("is not running"), "{err}");
        engine.start_container(&id).unwrap();
        engine.pause_container(&id).unwrap();
        let state = engine.container("p-a-1").unwrap().state;
        assert!(state.is_paused() && state.is_running());
        assert_eq!(state.name(), "paused");
        let err = engine.pause_container(&id).unwrap_err();
        assert!(err.to_string().contains("already paused"), "{err}");
        let err = engine.exec(&id, &ExecSpec::default()).unwrap_err();
        assert!(err.to_string().contains("is paused"), "{err}");
        engine.unpause_container(&id).unwrap();
        let err = engine.unpause_container(&id).unwrap_err();
        assert!(err.to_string().contains("not paused"), "{err}");
        engine.pause_container(&id).unwrap();
        engine.kill_container(&id, "SIGHUP").unwrap();
        assert_eq!(engine.container("p-a-1").unwrap().state.name(), "running");
    }

    #[test]
    fn connect_and_disconnect_follow_dockers_rules() {
        let engine = FakeEngine::new();
        engine.add_image("busybox:latest");
        engine.add_network("p_default", &[]);
        engine.add_network("p_back", &[]);
        let id = engine.create_container(&spec("p-a-1")).unwrap();
        let attach = NetworkAttachment::default();
        let err = engine
            .connect_network("p_default", "p-a-1", &attach)
            .unwrap_err();
        assert!(err.to_string().contains("already connected"), "{err}");
        let err = engine
            .connect_network("nope", "p-a-1", &attach)
            .unwrap_err();
        assert!(err.to_string().contains("nope"), "{err}");
        let err = engine
            .disconnect_network("p_back", "p-a-1", false)
            .unwrap_err();
        assert!(err.to_string().contains("not connected"), "{err}");
        engine.disconnect_network("p_back", "p-a-1", true).unwrap();

        engine.connect_network("p_back", &id, &attach).unwrap();
        engine.disconnect_network("p_back", "p-a-1", false).unwrap();

        let mut host = spec("p-h-1");
        host.network_mode = NetworkMode::Host;
        host.networks.clear();
        engine.create_container(&host).unwrap();
        let err = engine
            .connect_network("p_back", "p-h-1", &attach)
            .unwrap_err();
        assert!(err.to_string().contains("network_mode"), "{err}");
        assert!(engine
            .calls()
            .contains(&"connect_network p_back p-h-1".to_string()));
    }

    #[test]
    fn lifecycle_and_call_log() {
        let engine = FakeEngine::new();
        engine.add_image("busybox:latest");
        let net = engine
            .create_network(&NetworkSpec {
                name: "p_default".into(),
                ..Default::default()
            })
            .unwrap();
        let id = engine.create_container(&spec("p-a-1")).unwrap();
        assert_eq!(id.len(), 64);
        engine.start_container(&id).unwrap();
        assert!(engine.container("p-a-1").unwrap().state.is_running());
        assert!(engine.remove_container(&id, false).is_err());
        assert!(engine.remove_network(&net).is_err());
        engine.stop_container(&id, Some(Duration::ZERO)).unwrap();
        engine.remove_container(&id, false).unwrap();
        engine.remove_network(&net).unwrap();
        assert_eq!(
            engine.changes(),
            [
                "create_network p_default",
                "create_container p-a-1",
                "start_container p-a-1",
                "remove_container p-a-1",
                "remove_network p_default",
                "stop_container p-a-1",
                "remove_container p-a-1",
                "remove_network p_default",
            ]
        );
        assert!(engine.containers().is_empty() && engine.networks().is_empty());
    }

    #[test]
    fn create_needs_image_and_network() {
        let engine = FakeEngine::new();
        let err = engine.create_container(&spec("p-a-1")).unwrap_err();
        assert!(
            err.to_string().contains("image \"busybox\" not found"),
            "{err}"
        );
        engine.add_image("busybox");
        let err = engine.create_container(&spec("p-a-1")).unwrap_err();
        assert!(err.to_string().contains("network"), "{err}");
    }

    #[test]
    fn faults_once_and_always() {
        let engine = FakeEngine::new();
        engine.add_image("busybox");
        engine.add_network("p_default", &[]);
        engine.fail_next(
            "create_container",
            "p-a-1",
            EngineError::Unavailable("port taken".into()),
        );
        let err = engine.create_container(&spec("p-a-1")).unwrap_err();
        assert_eq!(err.to_string(), "port taken");
        let id = engine.create_container(&spec("p-a-1")).unwrap();
        engine.fail_on("start_container", "*", "boom");
        assert!(engine.start_container(&id).is_err());
        assert!(engine.start_container(&id).is_err());
        engine.clear_faults();
        engine.start_container(&id).unwrap();
    }

    #[test]
    fn lock_is_per_project_and_released_on_drop() {
        let engine = FakeEngine::new();
        let a = engine.lock_project("a").unwrap();
        let _b = engine.lock_project("b").unwrap();
        drop(a);
        let _a = engine.lock_project("a").unwrap();
    }

    #[test]
    fn list_filters_by_labels() {
        let engine = FakeEngine::new();
        engine.add_container(&spec("p-a-1"), true);
        assert_eq!(
            engine
                .list_containers(&[("com.docker.compose.project", "p")])
                .unwrap()
                .len(),
            1
        );
        assert!(engine
            .list_containers(&[("com.docker.compose.project", "q")])
            .unwrap()
            .is_empty());
    }
}
