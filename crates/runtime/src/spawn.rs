//! Start a container: prepare everything in the parent, clone the child into new
//! pid/mount/uts/ipc(/net) namespaces, put it in its cgroups, run the engine's hook,
//! release it through a sync pipe and wait for execve (or a failure record) on a
//! close-on-exec pipe.

use crate::cgroups::{CgroupConfig, CgroupHandle};
use crate::child::{ExecPlan, Failure, Reporter};
use crate::init::InitPlan;
use crate::mount_options;
use crate::mount_spec::{MountKind, MountSpec};
use crate::rootfs::{PreparedMount, RootfsPlan, ShmPlan};
use crate::{Namespace, ProcessOptions, RuntimeError};
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::waitpid;
use nix::unistd::{pipe2, Pid};
use std::convert::Infallible;
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

/// Everything needed to start one container.
#[derive(Debug)]
pub struct SpawnConfig {
    /// Container id (64 hex digits).
    pub id: String,
    /// Overlay mounted inside the container's mount namespace.
    pub rootfs: Rootfs,
    /// argv; `args[0]` without '/' is looked up in `PATH` from `env` inside the root.
    pub args: Vec<String>,
    /// `KEY=VALUE` entries.
    pub env: Vec<String>,
    /// Working directory inside the container, created if missing.
    pub cwd: String,
    /// "uid", "uid:gid", "name", "name:group"; `None` = root.
    pub user: Option<String>,
    pub hostname: String,
    /// Applied after /proc, /dev and /sys, in order.
    pub mounts: Vec<MountSpec>,
    pub cgroup: CgroupConfig,
    /// A private network namespace (configured by the engine in `before_start`).
    pub new_netns: bool,
    /// Give the first process a pseudo-terminal of this size, in the
    /// container's devpts, as its controlling terminal and its stdin, stdout
    /// and stderr (the three below are then unused); the master is returned
    /// in [`Spawned::terminal`].
    pub terminal: Option<crate::WindowSize>,
    /// The container's fd 0; `/dev/null` when `None`.
    pub stdin: Option<OwnedFd>,
    /// The container's fd 1.
    pub stdout: OwnedFd,
    /// The container's fd 2.
    pub stderr: OwnedFd,
    /// ulimits, oom_score_adj, sysctls, shm_size, domainname (`Default`: Docker's).
    pub process: crate::ProcessOptions,
    /// Capabilities, privileged, read-only root, devices, no_new_privs, seccomp
    /// (`Default`: Docker's).
    pub security: crate::Security,
}

/// The layers of a container's root file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rootfs {
    /// Image layers, bottom layer first.
    pub lower_dirs: Vec<PathBuf>,
    pub upper_dir: PathBuf,
    pub work_dir: PathBuf,
    pub merged_dir: PathBuf,
}

/// A started container.
#[derive(Debug)]
pub struct Spawned {
    /// Host pid of the container's init (pid 1 inside).
    pub pid: u32,
    pub cgroup: CgroupHandle,
    /// The master side of the container's terminal (with `terminal`).
    pub terminal: Option<std::fs::File>,
}

fn path_cstring(what: &'static str, p: &std::path::Path) -> Result<CString, RuntimeError> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| RuntimeError::NulByte {
        what,
        value: p.display().to_string(),
    })
}

/// The overlayfs mount options: lowerdir is top layer first. A layer that
/// appears twice (two steps that made the same diff) is given once, at its
/// topmost place: overlayfs refuses a directory listed twice (ELOOP), and the
/// lower copy adds nothing the upper one does not cover.
pub fn overlay_options(rootfs: &Rootfs) -> Result<String, RuntimeError> {
    if rootfs.lower_dirs.is_empty() {
        return Err(RuntimeError::NoLowerLayer);
    }
    let check = |p: &PathBuf| {
        let s = p.to_string_lossy();
        if s.contains([',', ':']) || !p.is_absolute() {
            Err(RuntimeError::InvalidOverlayDir { path: p.clone() })
        } else {
            Ok(s.into_owned())
        }
    };
    let mut lowers: Vec<String> = Vec::new();
    for dir in rootfs.lower_dirs.iter().rev() {
        let dir = check(dir)?;
        if !lowers.contains(&dir) {
            lowers.push(dir);
        }
    }
    Ok(format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        check(&rootfs.upper_dir)?,
        check(&rootfs.work_dir)?
    ))
}

impl RootfsPlan {
    fn new(
        cfg: &SpawnConfig,
        devices: Vec<crate::options::DeviceNode>,
        shm: ShmPlan,
    ) -> Result<Self, RuntimeError> {
        for dir in [
            &cfg.rootfs.upper_dir,
            &cfg.rootfs.work_dir,
            &cfg.rootfs.merged_dir,
        ] {
            std::fs::create_dir_all(dir)
                .map_err(|e| RuntimeError::io("create directory", dir, e))?;
        }
        let mut mounts = Vec::new();
        let mut options = Vec::new();
        for m in &cfg.mounts {
            if !m.target.starts_with('/') {
                return Err(RuntimeError::InvalidMount {
                    target: m.target.clone(),
                    reason: "the target must be an absolute path in the container".into(),
                });
            }
            let parsed =
                mount_options::parse(&m.options).map_err(|e| RuntimeError::InvalidMount {
                    target: m.target.clone(),
                    reason: e.to_string(),
                })?;
            check_options(m, &parsed)?;
            options.push(parsed);
        }
        // Binds that receive the host's mount events need the copies of the
        // host's mounts to stay slaves of them; the others are made private.
        let slave_root = options
            .iter()
            .any(|o| mount_options::is_slave(o.propagation));
        for (m, parsed) in cfg.mounts.iter().zip(options) {
            let is_dir = match m.kind {
                MountKind::Tmpfs => true,
                MountKind::Bind => std::fs::metadata(&m.source)
                    .map_err(|e| RuntimeError::io("bind mount source", &m.source, e))?
                    .is_dir(),
            };
            let (flags, propagation) = match m.kind {
                MountKind::Tmpfs => {
                    let defaults = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
                    let ro = if m.read_only { libc::MS_RDONLY } else { 0 };
                    ((defaults | parsed.set | ro) & !parsed.clear, 0)
                }
                MountKind::Bind if parsed.propagation == 0 && slave_root => {
                    (0, libc::MS_PRIVATE | libc::MS_REC)
                }
                MountKind::Bind => (0, parsed.propagation),
            };
            let data = (!parsed.data.is_empty())
                .then(|| CString::new(parsed.data))
                .transpose()
                .map_err(|_| RuntimeError::NulByte {
                    what: "mount options",
                    value: m.options.join(","),
                })?;
            mounts.push(PreparedMount {
                kind: m.kind,
                source: path_cstring("mount source", &m.source)?,
                target: CString::new(m.target.trim_start_matches('/')).map_err(|_| {
                    RuntimeError::NulByte {
                        what: "mount target",
                        value: m.target.clone(),
                    }
                })?,
                is_dir,
                read_only: m.read_only,
                flags,
                data,
                propagation,
            });
        }
        Ok(RootfsPlan {
            merged: path_cstring("merged directory", &cfg.rootfs.merged_dir)?,
            overlay_data: CString::new(overlay_options(&cfg.rootfs)?).map_err(|e| {
                RuntimeError::NulByte {
                    what: "overlay options",
                    value: String::from_utf8_lossy(&e.into_vec()).into_owned(),
                }
            })?,
            new_netns: cfg.new_netns,
            // The host's UTS namespace keeps the host's names.
            hostname: match cfg.process.uts_namespace {
                Namespace::Host => CString::default(),
                _ => CString::new(cfg.hostname.as_str()).map_err(|_| RuntimeError::NulByte {
                    what: "hostname",
                    value: cfg.hostname.clone(),
                })?,
            },
            mounts,
            root_propagation: if slave_root {
                libc::MS_SLAVE | libc::MS_REC
            } else {
                libc::MS_PRIVATE | libc::MS_REC
            },
            shm,
            domainname: CString::new(cfg.process.domainname.clone().unwrap_or_default()).map_err(
                |_| RuntimeError::NulByte {
                    what: "domainname",
                    value: cfg.process.domainname.clone().unwrap_or_default(),
                },
            )?,
            sysctls: crate::options::sysctl_files(
                &cfg.process.sysctls,
                cfg.new_netns,
                cfg.process.ipc_namespace == Namespace::New,
            )?,
            privileged: cfg.security.privileged,
            devices,
        })
    }
}

/// What a mount of its kind cannot take: flags or data on a bind (only a
/// propagation), a propagation on a tmpfs, and shared propagation, which
/// would let the container's mounts reach the host.
fn check_options(m: &MountSpec, parsed: &mount_options::MountOptions) -> Result<(), RuntimeError> {
    let invalid = |message: &str| {
        Err(RuntimeError::InvalidMount {
            target: m.target.clone(),
            reason: format!("{message} (options {:?})", m.options),
        })
    };
    match m.kind {
        MountKind::Bind if parsed.set | parsed.clear != 0 || !parsed.data.is_empty() => {
            invalid("a bind mount takes only a propagation option")
        }
        MountKind::Bind if parsed.propagation & libc::MS_SHARED != 0 => {
            invalid("shared propagation is not supported")
        }
        MountKind::Tmpfs if parsed.propagation & !(libc::MS_PRIVATE | libc::MS_REC) != 0 => {
            invalid("a tmpfs is always private")
        }
        _ => Ok(()),
    }
}

/// The namespaces a new container shares instead of creating them: the clone
/// flags for the ones it creates, and descriptors (opened before the clone) for
/// the ones it joins.
struct SharedNamespaces {
    clone_flags: libc::c_int,
    /// (namespace, its `CLONE_NEW*` type, what it is) to enter before the clone.
    join: Vec<(OwnedFd, libc::c_int, &'static str)>,
    /// The mount namespace of the container whose IPC namespace is joined, for
    /// its /dev/shm.
    shm_donor: Option<OwnedFd>,
}

fn open_namespace(pid: u32, name: &str) -> Result<OwnedFd, RuntimeError> {
    let path = format!("/proc/{pid}/ns/{name}");
    std::fs::File::open(&path)
        .map(OwnedFd::from)
        .map_err(|e| RuntimeError::io("open the namespace to join", path, e))
}

impl SharedNamespaces {
    fn open(process: &ProcessOptions, new_netns: bool) -> Result<Self, RuntimeError> {
        let mut shared = SharedNamespaces {
            clone_flags: libc::CLONE_NEWNS,
            join: Vec::new(),
            shm_donor: None,
        };
        if new_netns {
            shared.clone_flags |= libc::CLONE_NEWNET;
        }
        let kinds = [
            (process.pid_namespace, libc::CLONE_NEWPID, "pid"),
            (process.ipc_namespace, libc::CLONE_NEWIPC, "ipc"),
            (process.uts_namespace, libc::CLONE_NEWUTS, "uts"),
        ];
        for (namespace, flag, name) in kinds {
            match namespace {
                Namespace::New => shared.clone_flags |= flag,
                Namespace::Host => {}
                Namespace::Join(_) if flag == libc::CLONE_NEWUTS => {
                    return Err(RuntimeError::NamespaceConflict { setting: "uts", reason: "a container's UTS namespace is its own or the host's; it cannot join another container's" })
                }
                Namespace::Join(pid) => {
                    shared.join.push((open_namespace(pid, name)?, flag, name));
                    if flag == libc::CLONE_NEWIPC && !process.no_shm {
                        shared.shm_donor = Some(open_namespace(pid, "mnt")?);
                    }
                }
            }
        }
        if process.uts_namespace == Namespace::Host && process.domainname.is_some() {
            return Err(RuntimeError::NamespaceConflict { setting: "domainname", reason: "a domainname cannot be set in the host's UTS namespace: it would rename the host" });
        }
        Ok(shared)
    }

    fn shm(&self, process: &ProcessOptions) -> Result<ShmPlan, RuntimeError> {
        let plan = if process.no_shm {
            ShmPlan::Absent
        } else {
            match (&self.shm_donor, process.ipc_namespace) {
                (Some(donor), _) => ShmPlan::Joined(donor.as_raw_fd()),
                (None, Namespace::Host) => ShmPlan::Host,
                _ => {
                    return Ok(ShmPlan::Tmpfs(crate::options::shm_options(
                        process.shm_size,
                    )?))
                }
            }
        };
        match process.shm_size {
            Some(_) => Err(RuntimeError::NamespaceConflict { setting: "shm_size", reason: "shm_size needs a /dev/shm of the container's own: it shares the host's or another container's, or has none" }),
            None => Ok(plan),
        }
    }
}

/// Clone the container process with `flags`. With namespaces to join, a helper
/// thread enters them first and clones from there (a clone starts in its
/// creator's namespaces, and a pid namespace can only be entered for children),
/// so the calling thread never changes namespace. The child runs `child`.
fn clone_container(
    flags: libc::c_int,
    join: &[(OwnedFd, libc::c_int, &'static str)],
    child: impl FnOnce() -> Infallible + Send,
) -> Result<libc::pid_t, RuntimeError> {
    let fork = move || -> Result<libc::pid_t, RuntimeError> {
        for (namespace, nstype, name) in join {
            crate::sys::setns(namespace.as_raw_fd(), *nstype).map_err(|e| {
                RuntimeError::sys(
                    format!("join the {name} namespace the container shares"),
                    nix::errno::Errno::from_raw(e),
                )
            })?;
        }
        match crate::sys::clone_fork((flags | libc::SIGCHLD) as libc::c_ulong) {
            Ok(0) => match child() {},
            Ok(pid) => Ok(pid),
            Err(e) => Err(RuntimeError::sys(
                "clone the container process into its namespaces",
                e,
            )),
        }
    };
    if join.is_empty() {
        return fork();
    }
    std::thread::scope(|scope| match scope.spawn(fork).join() {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Duplicate `fd` to a close-on-exec descriptor numbered 3 or above, so the child's
/// dup2 onto 0, 1 and 2 never clobbers a source.
fn dup_high(fd: RawFd, what: &str) -> Result<OwnedFd, RuntimeError> {
    nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(3))
        // SAFETY: F_DUPFD_CLOEXEC returned a new descriptor that nothing else owns.
        .map(|n| unsafe { OwnedFd::from_raw_fd(n) })
        .map_err(|e| {
            RuntimeError::sys(
                format!("duplicate the container's {what} descriptor {fd}"),
                e,
            )
        })
}

fn close_raw(fd: RawFd) {
    // SAFETY: closing the child's copy of a descriptor the parent keeps owning.
    unsafe { libc::close(fd) };
}

/// Start a container.
///
/// The parent creates the cgroup, clones the child into a new mount namespace and
/// new or shared pid, uts and ipc (and, with `new_netns`, net) namespaces (see
/// [`ProcessOptions`]), writes its pid into the cgroup, calls `before_start(pid)` and
/// only then releases it through a sync pipe. The child makes `/` rprivate, mounts
/// the overlay, /proc, /sys, /dev (nodes, links, pts, shm, mqueue) and `mounts`, sets
/// the hostname, pivots into the root, masks Docker's paths, creates and enters
/// `cwd`, switches user, sets Docker's default capabilities and execs (with `init`,
/// it forks the command and stays its init). Returns once execve succeeded; a
/// failing step is reported through a close-on-exec pipe as [`RuntimeError::Child`].
/// On any failure the child is killed and reaped and the cgroup removed.
///
/// `before_start`'s error becomes the source of [`RuntimeError::BeforeStart`].
pub fn spawn<F, E>(cfg: SpawnConfig, before_start: &mut F) -> Result<Spawned, RuntimeError>
where
    F: FnMut(u32) -> Result<(), E> + ?Sized,
    E: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    spawn_with_hook(cfg, &mut |pid| before_start(pid).map_err(Into::into))
}

/// The error a `before_start` hook returns, kept as the failure's source.
type HookError = Box<dyn std::error::Error + Send + Sync>;

fn spawn_with_hook(
    cfg: SpawnConfig,
    before_start: &mut dyn FnMut(u32) -> Result<(), HookError>,
) -> Result<Spawned, RuntimeError> {
    let mut devices = cfg.security.devices.clone();
    if cfg.security.privileged {
        devices.splice(0..0, crate::options::host_devices()?);
    }
    let (device_nodes, mut device_rules) = crate::options::prepare_devices(&devices)?;
    if cfg.security.privileged {
        device_rules = vec![crate::cgroups::DeviceRule::ALLOW_ALL];
    }
    let namespaces = SharedNamespaces::open(&cfg.process, cfg.new_netns)?;
    let rootfs = RootfsPlan::new(&cfg, device_nodes, namespaces.shm(&cfg.process)?)?;
    let security = crate::options::ProcessSecurity::prepare(&cfg.security, &cfg.process.ulimits)?;
    let read_only_root = cfg.security.read_only_rootfs;
    let mut exec_plan = ExecPlan::new(&cfg.args, &cfg.env, &cfg.cwd, cfg.user.as_deref())?
        .with_security(security)
        .with_groups(&cfg.process.group_add)?;
    let init = cfg.process.init.then(|| InitPlan::new(&cfg.args));
    let devnull =
        std::fs::File::open("/dev/null").map_err(|e| RuntimeError::io("open", "/dev/null", e))?;
    let stdin = cfg
        .stdin
        .as_ref()
        .map_or(devnull.as_raw_fd(), |fd| fd.as_raw_fd());
    let stdio = [
        dup_high(stdin, "stdin")?,
        dup_high(cfg.stdout.as_raw_fd(), "stdout")?,
        dup_high(cfg.stderr.as_raw_fd(), "stderr")?,
    ];
    let (sync_r, sync_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("create sync pipe", e))?;
    let (err_r, err_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("create error pipe", e))?;
    let terminal_sockets = cfg
        .terminal
        .map(|_| {
            nix::sys::socket::socketpair(
                nix::sys::socket::AddressFamily::Unix,
                nix::sys::socket::SockType::Stream,
                None,
                nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            )
            .map_err(|e| RuntimeError::sys("create the terminal socket", e))
        })
        .transpose()?;
    let terminal = cfg.terminal.zip(
        terminal_sockets
            .as_ref()
            .map(|(ours, theirs)| (ours.as_raw_fd(), theirs.as_raw_fd())),
    );
    let cgroup = CgroupHandle::create(&cfg.cgroup)?;
    if let Err(e) = cgroup.allow_devices(&device_rules) {
        let _ = cgroup.kill_all_and_destroy();
        return Err(e);
    }

    let (sync_fd, err_fd, report_fd) = (sync_w.as_raw_fd(), err_r.as_raw_fd(), err_w.as_raw_fd());
    let (sync_in, stdio_fds) = (
        sync_r.as_raw_fd(),
        [
            stdio[0].as_raw_fd(),
            stdio[1].as_raw_fd(),
            stdio[2].as_raw_fd(),
        ],
    );
    let (rootfs, exec_plan, init) = (&rootfs, &mut exec_plan, &init);
    let child = move || -> Infallible {
        // Child: from here on only raw system calls on prepared data.
        close_raw(sync_fd);
        close_raw(err_fd);
        if let Some((_, (ours, _))) = terminal {
            close_raw(ours);
        }
        let rep = Reporter { fd: report_fd };
        // Not dumpable until execve: nothing in the container (which shares
        // this pid namespace with `pid: host`, or joins it later) can open
        // /proc/<pid>/exe of this copy of the host binary.
        crate::sys::set_non_dumpable();
        crate::child::reset_signals();
        let mut byte = [0u8; 1];
        loop {
            // SAFETY: reading one byte into a local buffer.
            let n = unsafe { libc::read(sync_in, byte.as_mut_ptr().cast(), 1) };
            if n == 1 {
                break;
            }
            if n < 0 && crate::sys::errno() == libc::EINTR {
                continue;
            }
            // SAFETY: the parent gave up (pipe closed): leave without cleanup.
            unsafe { libc::_exit(1) };
        }
        close_raw(sync_in);
        crate::rootfs::build(rootfs, &rep);
        // SAFETY: opening "/" (now the container root) as an O_PATH descriptor.
        let root = unsafe {
            libc::open(
                c"/".as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if let Err(e) = crate::rootfs::ensure_path(root, exec_plan.cwd().to_bytes(), true) {
            rep.setup(
                e,
                &[b"create working directory ", exec_plan.cwd().to_bytes()],
            );
        }
        close_raw(root);
        if read_only_root {
            crate::rootfs::remount_root_readonly(&rep);
        }
        let stdio_fds = match terminal {
            Some((size, (_, theirs))) => [crate::pty::open_in_child(&rep, theirs, size); 3],
            None => stdio_fds,
        };
        match init {
            Some(init) => crate::init::run(init, exec_plan, &rep, stdio_fds, terminal.is_some()),
            None => exec_plan.finish(&rep, Some(stdio_fds)),
        }
    };
    let id = &cfg.id;
    let pid = match clone_container(namespaces.clone_flags, &namespaces.join, child) {
        Ok(pid) => pid,
        Err(RuntimeError::Sys { op, source }) => {
            let _ = cgroup.kill_all_and_destroy();
            return Err(RuntimeError::sys(format!("{op} (container {id})"), source));
        }
        Err(e) => {
            let _ = cgroup.kill_all_and_destroy();
            return Err(e);
        }
    };
    drop((sync_r, err_w, stdio, namespaces));
    let terminal_socket = terminal_sockets.map(|(ours, theirs)| {
        drop(theirs);
        ours
    });
    let pid_u = pid as u32;
    let abort = |err: RuntimeError| -> Result<Spawned, RuntimeError> {
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
        let _ = waitpid(Pid::from_raw(pid), None);
        let _ = cgroup.kill_all_and_destroy();
        Err(err)
    };
    if let Err(e) = cgroup.add_process(pid_u) {
        return abort(e);
    }
    if let Some(adj) = cfg.process.oom_score_adj {
        let file = format!("/proc/{pid_u}/oom_score_adj");
        if let Err(e) = std::fs::write(&file, adj.to_string()) {
            return abort(RuntimeError::Limit {
                what: "oom_score_adj",
                value: adj.to_string(),
                file: file.into(),
                source: e,
                hint: "the value must be between -1000 and 1000",
            });
        }
    }
    if let Err(source) = before_start(pid_u) {
        return abort(RuntimeError::BeforeStart { pid: pid_u, source });
    }
    let mut sync = std::fs::File::from(sync_w);
    if let Err(e) = sync.write_all(&[1]) {
        return abort(RuntimeError::io(
            "release the container process through",
            "its sync pipe",
            e,
        ));
    }
    drop(sync);
    // Sent by the child before it execs, or never if it failed first.
    let master = terminal_socket
        .as_ref()
        .and_then(crate::pty::receive_master);
    let mut report = Vec::new();
    if let Err(e) = std::fs::File::from(err_r).read_to_end(&mut report) {
        return abort(RuntimeError::io(
            "read the container's error pipe",
            "(pipe)",
            e,
        ));
    }
    match Failure::parse(&report) {
        None if terminal_socket.is_some() && master.is_none() => abort(RuntimeError::io(
            "receive the container's terminal from",
            "its first process",
            std::io::Error::other("it ended before sending it"),
        )),
        None => Ok(Spawned {
            pid: pid_u,
            cgroup,
            terminal: master,
        }),
        Some(f) => abort(f.into_error()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_lowerdir_is_top_layer_first() {
        let r = Rootfs {
            lower_dirs: vec!["/l/base".into(), "/l/mid".into(), "/l/top".into()],
            upper_dir: "/c/upper".into(),
            work_dir: "/c/work".into(),
            merged_dir: "/c/merged".into(),
        };
        assert_eq!(
            overlay_options(&r).unwrap(),
            "lowerdir=/l/top:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
        let repeated = Rootfs {
            lower_dirs: vec![
                "/l/base".into(),
                "/l/same".into(),
                "/l/mid".into(),
                "/l/same".into(),
            ],
            ..r.clone()
        };
        assert_eq!(
            overlay_options(&repeated).unwrap(),
            "lowerdir=/l/same:/l/mid:/l/base,upperdir=/c/upper,workdir=/c/work"
        );
        let bad = Rootfs {
            lower_dirs: vec!["/a:b".into()],
            ..r.clone()
        };
        assert!(overlay_options(&bad).is_err());
        let none = Rootfs {
            lower_dirs: vec![],
            ..r
        };
        assert!(overlay_options(&none).is_err());
    }
}
