//! The [`Engine`] trait: the only way the orchestrator touches the host.

use crate::observed::{
    ContainerInfo, ImageInfo, NetworkInfo, ProcessInfo, StatsSample, VolumeInfo,
};
use crate::spec::{ContainerSpec, ExecSpec, NetworkAttachment, NetworkSpec, Resources, VolumeSpec};
use crate::Result;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// Held while a project is being changed; dropping it releases the lock.
pub type LockGuard = Box<dyn std::any::Any + Send>;

/// Held through a teardown of many containers; see [`Engine::begin_teardown`].
pub type TeardownGuard<'a> = Box<dyn Send + 'a>;

/// Which output stream a log line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogStream {
    Stdout,
    Stderr,
}

/// One line of a container's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub stream: LogStream,
    /// Unix time in nanoseconds when the monitor read the line.
    pub time_ns: i64,
    /// The line, with its trailing newline when it had one.
    pub text: String,
}

#[derive(Debug, Clone, Default)]
pub struct LogOptions {
    /// Keep reading new lines until the container stops (or the sink says stop).
    pub follow: bool,
    /// Only the last N lines of what exists now.
    pub tail: Option<usize>,
    /// Only lines at or after this Unix time in nanoseconds.
    pub since_ns: Option<i64>,
    /// Only lines before this Unix time in nanoseconds.
    pub until_ns: Option<i64>,
}

/// What is at a path in a container (docker's `ContainerPathStat`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PathStat {
    /// The last component of the path (`/` for the root).
    pub name: String,
    pub size: u64,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    /// Modification time, seconds since the epoch.
    pub mtime: i64,
    /// For a symlink: where it finally points, an absolute path in the container.
    pub link_target: Option<String>,
}

impl PathStat {
    const TYPE_MASK: u32 = 0o170000;

    pub fn is_dir(&self) -> bool {
        self.mode & Self::TYPE_MASK == 0o040000
    }
    pub fn is_symlink(&self) -> bool {
        self.mode & Self::TYPE_MASK == 0o120000
    }
    pub fn is_regular(&self) -> bool {
        self.mode & Self::TYPE_MASK == 0o100000
    }
}

/// How [`Engine::copy_to_container`] writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CopyToOptions {
    /// Keep the uid and gid recorded in the archive (`cp -a`); otherwise
    /// everything belongs to the container's root user.
    pub keep_ownership: bool,
    /// Create the destination directory and its parents when missing.
    pub create_dir: bool,
}

/// Volumes: named ones made by `up` or `wharf volume create`, anonymous ones
/// made for a container. A supertrait of [`Engine`] (every engine has it),
/// kept apart so an engine can implement it in a module of its own.
pub trait VolumeEngine: Send + Sync {
    /// Create a volume; `Conflict` when one with that name exists.
    fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeInfo>;
    /// Volumes whose labels include every `(key, value)` pair given, by name.
    fn list_volumes(&self, labels: &[(&str, &str)]) -> Result<Vec<VolumeInfo>>;
    /// One volume by name; `NotFound` when there is none.
    fn inspect_volume(&self, name: &str) -> Result<VolumeInfo>;
    /// Remove a volume and its data. A volume mounted by a container is
    /// refused (the error names the containers); with `force` one used only
    /// by stopped containers goes, but never one a running container uses.
    fn remove_volume(&self, name: &str, force: bool) -> Result<()>;
    /// Check a container's mounts before anything is created: bind sources
    /// (missing when they must exist, a file where the image has a directory
    /// and the reverse), volume names, subpaths. The error says which mount.
    fn validate_mounts(&self, spec: &ContainerSpec) -> Result<()>;
}

/// A container engine. Calls are synchronous and safe to make from several
/// threads at once; the orchestrator runs independent steps in parallel.
pub trait Engine: VolumeEngine + Send + Sync {
    /// Serialize changes to one project across processes (two `wharf up` at once).
    fn lock_project(&self, project: &str) -> Result<LockGuard>;

    /// The local image with this reference, if any.
    fn image_inspect(&self, reference: &str) -> Result<Option<ImageInfo>>;

    /// Containers whose labels include every `(key, value)` pair given.
    fn list_containers(&self, labels: &[(&str, &str)]) -> Result<Vec<ContainerInfo>>;
    /// Check, before anything is created, that the host ports `spec`
    /// publishes are free; the error names what holds a busy one. Engines
    /// that bind nothing on the host accept everything.
    fn check_ports(&self, spec: &ContainerSpec) -> Result<()> {
        let _ = spec;
        Ok(())
    }
    /// docker's warnings for limits the host cannot take, which the engine
    /// discards rather than refuses (a block I/O weight without an I/O
    /// scheduler that takes one), for the fronts to show at create and
    /// update. Engines that discard nothing have none.
    fn discarded_limits(&self, resources: &Resources) -> Vec<String> {
        let _ = resources;
        Vec::new()
    }
    /// Create a container (not started); returns its id.
    fn create_container(&self, spec: &ContainerSpec) -> Result<String>;
    /// Start a created or exited container; returns once its process runs.
    fn start_container(&self, id: &str) -> Result<()>;
    /// Start a created container that is to take over the published ports
    /// of a running one (a start-first update): it binds no host port and
    /// publishes nothing until [`Engine::hand_over_ports`] moves them to it.
    /// Engines that bind nothing on the host start it as usual.
    fn start_container_awaiting_ports(&self, id: &str) -> Result<()> {
        self.start_container(id)
    }
    /// Move the published ports of running container `from_id` to running
    /// container `to_id` (started with
    /// [`Engine::start_container_awaiting_ports`]) with no moment at which a
    /// port is closed: `to_id` serves the very listening sockets `from_id`
    /// held, the forwarding rules switch in one step, and `from_id` stops
    /// taking clients. Returns once `from_id`'s open connections finished (or
    /// a bound passed); stopping `from_id` is the caller's next step.
    fn hand_over_ports(&self, from_id: &str, to_id: &str) -> Result<()> {
        let _ = (from_id, to_id);
        Ok(())
    }
    /// Start a created container with the caller's stdin, stdout and stderr,
    /// and return its exit code once it has exited (`wharf run`).
    fn start_attached(&self, id: &str) -> Result<i32>;
    /// Send the stop signal, wait up to `timeout` (None: the container's own
    /// stop grace period, else 10 s), then SIGKILL; returns once it exited.
    /// A paused container is thawed first.
    fn stop_container(&self, id: &str, timeout: Option<Duration>) -> Result<()>;
    /// Send `signal` (a name like `SIGHUP` or a number) to the container's
    /// first process; a paused container is thawed so that it can act on it.
    fn kill_container(&self, id: &str, signal: &str) -> Result<()>;
    /// Freeze every process of a running container (`pause`); an error when
    /// it is not running or already paused.
    fn pause_container(&self, id: &str) -> Result<()>;
    /// Thaw a paused container (`unpause`); an error when it is not paused.
    fn unpause_container(&self, id: &str) -> Result<()>;
    /// Remove a container; with `force`, kill it first if it runs.
    fn remove_container(&self, id: &str, force: bool) -> Result<()>;
    /// docker's `rm -v` and `--rm`: remove the container, then the
    /// anonymous volumes it mounted (its own and those `volumes_from` gave
    /// it). Named volumes stay, and so does an anonymous one another
    /// container still mounts, as docker leaves it.
    fn remove_container_and_anonymous_volumes(&self, id: &str, force: bool) -> Result<()> {
        remove_with_anonymous_volumes(self, id, force)
    }
    /// docker's `restart`: stop the container (a no-op when it is not
    /// running), then start it. A `--rm` container is kept, as docker keeps
    /// it: only an end that no restart asked for removes it.
    fn restart_container(&self, id: &str, timeout: Option<Duration>) -> Result<()> {
        self.stop_container(id, timeout)?;
        self.start_container(id)
    }
    /// Give a container another name, unused by any other container; its
    /// id, state and processes stay as they are (a recreate moves the old
    /// container aside this way until the new one exists).
    fn rename_container(&self, id: &str, new_name: &str) -> Result<()>;
    /// Full details of one container, by id or name.
    fn inspect_container(&self, id_or_name: &str) -> Result<ContainerInfo>;

    fn list_networks(&self, labels: &[(&str, &str)]) -> Result<Vec<NetworkInfo>>;
    /// Create a network; returns its id.
    fn create_network(&self, spec: &NetworkSpec) -> Result<String>;
    fn remove_network(&self, id: &str) -> Result<()>;
    /// Begin a teardown of many containers (`down`): until the guard drops,
    /// the engine may gather work that costs less done once for all of them
    /// than once each (the kernel deletes network interfaces in one batch
    /// far faster than one by one). All of it is done when the guard drops.
    fn begin_teardown(&self) -> TeardownGuard<'_> {
        Box::new(())
    }
    /// Remove what is left of `project`'s containers beyond their records (a
    /// state directory deleted by hand leaves processes and a cgroup behind);
    /// the ids of the containers removed so.
    fn remove_project_leftovers(&self, project: &str) -> Result<Vec<String>> {
        let _ = project;
        Ok(Vec::new())
    }
    /// Attach a container, running or not, to one more network (`docker
    /// network connect`): a running one gets the new interface at once, and
    /// the attachment (its `aliases`, `ipv4_address`, `ipv6_address`) is kept
    /// across restarts. An error when the container is already on it or does
    /// not have a network namespace of its own (`network_mode` host, none,
    /// container:…).
    fn connect_network(
        &self,
        network: &str,
        container: &str,
        attachment: &NetworkAttachment,
    ) -> Result<()>;
    /// Detach a container from a network (`docker network disconnect`): its
    /// interface there goes, its names stop resolving there and its addresses
    /// are released. An error when it is not connected; with `force`, a
    /// network that no longer exists is no error.
    fn disconnect_network(&self, network: &str, container: &str, force: bool) -> Result<()>;

    /// Run a command in a running container with the caller's stdio; returns its exit code.
    fn exec(&self, id: &str, spec: &ExecSpec) -> Result<i32>;
    /// Feed the container's output to `sink` until it returns false, the
    /// output ends (not following), or the container stops (following).
    fn logs(
        &self,
        id: &str,
        options: &LogOptions,
        sink: &mut dyn FnMut(LogLine) -> bool,
    ) -> Result<()>;
    /// One reading of the container's resource use.
    fn stats(&self, id: &str) -> Result<StatsSample>;
    /// Containers whose labels include every pair given, each running one
    /// with a reading taken now (`None` for the others, and for one that
    /// ended between the listing and its reading): what `/metrics` shows.
    /// Engines that can read a container's records once for both override it.
    fn list_with_stats(
        &self,
        labels: &[(&str, &str)],
    ) -> Result<Vec<(ContainerInfo, Option<StatsSample>)>> {
        Ok(self
            .list_containers(labels)?
            .into_iter()
            .map(|c| {
                let sample = c.state.is_running().then(|| self.stats(&c.id).ok());
                (c, sample.flatten())
            })
            .collect())
    }
    /// The processes running in the container.
    fn top(&self, id: &str) -> Result<Vec<ProcessInfo>>;

    /// What is at `path` in the container, running or not. With
    /// `follow_link` a symlink at the end is followed. A missing path is
    /// `NotFound` of kind `"file"`.
    fn stat_path(&self, id: &str, path: &str, follow_link: bool) -> Result<PathStat>;
    /// Write a tar stream of `path` in the container to `out` (docker's
    /// `GET /archive`): the top entry is named after the path's last
    /// component, or `name` when given; `dir/.` archives the contents.
    fn copy_from_container(
        &self,
        id: &str,
        path: &str,
        follow_link: bool,
        name: Option<&str>,
        out: &mut dyn std::io::Write,
    ) -> Result<PathStat>;
    /// Extract the tar stream `archive` into the directory `dir` of the
    /// container (docker's `PUT /archive`). Nothing is written outside the
    /// container's root, whatever the archive or the container's symlinks say.
    fn copy_to_container(
        &self,
        id: &str,
        dir: &str,
        archive: &mut dyn std::io::Read,
        options: &CopyToOptions,
    ) -> Result<()>;
    /// Remove `path` in the container and everything below it; a missing
    /// path is not an error, a symlink is removed, not followed.
    fn remove_path(&self, id: &str, path: &str) -> Result<()>;
}

/// [`Engine::remove_container_and_anonymous_volumes`] over the engine's own
/// listings, for any engine; one that knows cheaper whether a container has
/// anonymous volumes checks that first and calls this only when it has.
pub fn remove_with_anonymous_volumes<E: Engine + ?Sized>(
    engine: &E,
    id: &str,
    force: bool,
) -> Result<()> {
    let container = engine.inspect_container(id)?;
    let anonymous: Vec<String> = engine
        .list_volumes(&[])?
        .into_iter()
        .filter(|v| v.anonymous && v.used_by.iter().any(|u| u.container_id == container.id))
        .map(|v| v.name)
        .collect();
    engine.remove_container(&container.id, force)?;
    let gone = |result: Result<()>| match result {
        // A `--rm` container's monitor may have removed it meanwhile.
        Err(crate::EngineError::NotFound { .. }) => Ok(()),
        other => other,
    };
    for name in anonymous {
        match engine.inspect_volume(&name) {
            Ok(volume) if volume.used_by.is_empty() => gone(engine.remove_volume(&name, false))?,
            // Another container mounts it: kept.
            Ok(_) => {}
            other => gone(other.map(|_| ()))?,
        }
    }
    Ok(())
}
