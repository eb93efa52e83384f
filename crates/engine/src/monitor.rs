//! The per-container monitor: the `wharf` binary re-run in a hidden mode by
//! `start`. It outlives the CLI, starts the container process, publishes its
//! ports, writes its output to the log file, reaps it, records its exit status
//! and applies its restart policy. There is no other long-lived process.

use crate::lock::{MonitorLock, MONITOR_LOCK};
use crate::logs::{LogRecord, LogWriter};
use crate::resources::cgroup_config;
use crate::store::{self, ContainerRecord, Layout, RuntimeState};
use crate::{runtime_err, CONFIG_FILE, LOG_FILE, STATE_FILE, STOP_MARKER};
use nix::fcntl::OFlag;
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};
use wharf_engine_api::{
    ContainerState, EngineError, Health, Healthcheck, LogStream, MountKind, Protocol, PublishedPort,
};
use wharf_runtime::{MountSpec, ProcessOptions, Rootfs, SpawnConfig};

mod handover;
use handover::HeldPorts;

/// How the monitor talks to the CLI that started it.
pub enum Mode {
    /// In the background: `status` receives one line, `ok` once the container
    /// runs or `error: …` if it could not start, and the output goes to the log.
    Detached(File),
    /// In the foreground (`wharf run`): the container gets the monitor's own
    /// stdin, stdout and stderr; a start failure is printed and recorded.
    Attached,
}

/// The first argument that makes the `wharf` binary a monitor.
pub const MONITOR_ARG: &str = "__monitor";
/// The monitor's flag for a container that gets its published ports through
/// a handover (see `LinuxEngine::start`) instead of binding them.
pub const AWAIT_PORTS_ARG: &str = "--await-ports";

/// The monitor's entry point: when `args` (the whole command line, program
/// first) is `PROGRAM __monitor [--attached] --root ROOT --cgroup-fs PATH ID`,
/// the command line [`crate::LinuxEngine`] starts a monitor with, run the
/// monitor of container ID and return its exit code; `None` for any other
/// command line. The CLI calls it before it parses anything, so a monitor
/// neither pays for nor depends on the CLI's argument parser. In the
/// background its stdout is the status channel the starting CLI reads.
pub fn main_if_monitor(args: impl IntoIterator<Item = std::ffi::OsString>) -> Option<i32> {
    let mut args = args.into_iter().skip(1);
    if args.next()? != MONITOR_ARG {
        return None;
    }
    let (mut attached, mut root, mut cgroup_fs, mut id) = (false, None, None, None);
    let mut await_ports = false;
    while let Some(arg) = args.next() {
        match arg.to_str() {
            Some("--attached") => attached = true,
            Some(AWAIT_PORTS_ARG) => await_ports = true,
            Some("--root") => root = args.next().map(PathBuf::from),
            Some("--cgroup-fs") => cgroup_fs = args.next().map(PathBuf::from),
            Some(text) if id.is_none() && !text.starts_with('-') => id = Some(text.to_string()),
            _ => {
                eprintln!("{MONITOR_ARG}: unexpected argument {arg:?}");
                return Some(START_FAILED);
            }
        }
    }
    let (Some(root), Some(cgroup_fs), Some(id)) = (root, cgroup_fs, id) else {
        eprintln!(
            "{MONITOR_ARG}: usage: {MONITOR_ARG} [--attached] --root ROOT --cgroup-fs PATH ID"
        );
        return Some(START_FAILED);
    };
    let mode = if attached {
        Mode::Attached
    } else {
        match std::io::stdout().as_fd().try_clone_to_owned() {
            Ok(fd) => Mode::Detached(File::from(fd)),
            Err(e) => {
                eprintln!("{MONITOR_ARG}: duplicating stdout: {e}");
                return Some(1);
            }
        }
    };
    Some(run(&Layout { root }, &cgroup_fs, &id, mode, await_ports))
}

/// Exit code of an attached monitor whose container could not start.
pub const START_FAILED: i32 = 125;

/// Run the monitor of container `id`; with `await_ports` its published
/// ports come from another container's monitor through a handover.
pub fn run(layout: &Layout, cgroup_fs_root: &Path, id: &str, mode: Mode, await_ports: bool) -> i32 {
    wharf_runtime::memory::limit_allocator_arenas();
    let dir = layout.container(id);
    let lock_path = dir.join(MONITOR_LOCK);
    // In the background the starting CLI passes the container's monitor lock
    // down as our stdin; in the foreground (or started by hand) we take it.
    let passed = match &mode {
        Mode::Detached(_) => std::io::stdin()
            .as_fd()
            .try_clone_to_owned()
            .ok()
            .and_then(|fd| MonitorLock::adopt(File::from(fd), &lock_path)),
        Mode::Attached => None,
    };
    let mut status = match mode {
        Mode::Detached(status) => {
            let _ = nix::unistd::setsid();
            Some(status)
        }
        Mode::Attached => {
            // Ctrl-C is for the container (the CLI forwards it); the monitor
            // must live on to record the exit. Blocked before any thread exists.
            let mut signals = nix::sys::signal::SigSet::empty();
            for signal in [
                nix::sys::signal::Signal::SIGINT,
                nix::sys::signal::Signal::SIGTERM,
                nix::sys::signal::Signal::SIGQUIT,
                nix::sys::signal::Signal::SIGHUP,
                // Relayed to the container's terminal, when it has one.
                nix::sys::signal::Signal::SIGWINCH,
            ] {
                signals.add(signal);
            }
            let _ = signals.thread_block();
            None
        }
    };
    let fail = |status: &mut Option<File>, message: &str| {
        let message = message.replace('\n', " ");
        match status {
            Some(status) => {
                let _ = writeln!(status, "error: {message}");
                1
            }
            None => {
                eprintln!("error: {message}");
                START_FAILED
            }
        }
    };
    // Held until this process ends: while it is, no other monitor starts.
    let _monitor_lock = match passed {
        Some(lock) => lock,
        None => match MonitorLock::try_acquire(&lock_path) {
            Ok(Some(lock)) => lock,
            Ok(None) => {
                return fail(
                    &mut status,
                    &format!("container {id} already has a monitor: another start is in progress"),
                )
            }
            Err(e) => return fail(&mut status, &e.to_string()),
        },
    };
    let record: ContainerRecord = match store::read_json(&dir.join(CONFIG_FILE)) {
        Ok(r) => r,
        Err(e) => return fail(&mut status, &e.to_string()),
    };
    let auto_remove = status.is_some() && record.spec.auto_remove;
    let restart_marker = dir.join(crate::RESTART_MARKER);
    let monitor = Arc::new(Monitor {
        layout: layout.clone(),
        cgroup_fs_root: cgroup_fs_root.to_path_buf(),
        dir,
        record,
        state_lock: Mutex::new(()),
        held_ports: HeldPorts::default(),
        await_ports,
    });
    let code = match monitor.serve(status.as_mut()) {
        Ok(code) => code,
        Err(e) => {
            let message = e.to_string();
            let recorded = monitor.record_failure(&message).is_ok();
            match (&status, &e) {
                // In the foreground the CLI reports the recorded failure itself.
                (None, EngineError::CommandNotRunnable { code, .. }) if recorded => *code,
                (None, _) if recorded => START_FAILED,
                _ => fail(&mut status, &message),
            }
        }
    };
    // A `restart` ended it to start it again: kept, as docker keeps it.
    if auto_remove && !restart_marker.exists() {
        // The removal waits for a free monitor lock, so ours goes first:
        // both its descriptors, the adopted one and our stdin.
        drop(_monitor_lock);
        let _ = release_stdin();
        // A client still reading the output from the log keeps it.
        crate::removal_hold::wait_for_holds(
            &layout.container(id),
            crate::removal_hold::HOLD_AT_MOST,
        );
        let _ = remove_ended(layout, cgroup_fs_root, id);
    }
    code
}

/// Point standard input at /dev/null, closing the monitor lock the starting
/// CLI handed over on it.
fn release_stdin() -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let null = File::open("/dev/null")?;
    nix::unistd::dup2(null.as_raw_fd(), 0)?;
    Ok(())
}

/// docker's `--rm` with no daemon: the detached monitor of an ended
/// container removes it as `rm -v` would (cgroups, rules, veths, its state,
/// its anonymous volumes).
fn remove_ended(layout: &Layout, cgroup_fs_root: &Path, id: &str) -> Result<(), EngineError> {
    use wharf_engine_api::Engine;
    let engine = crate::LinuxEngine::open(crate::EngineConfig {
        root: layout.root.clone(),
        cgroup_fs_root: cgroup_fs_root.to_path_buf(),
        // Unused by a removal, which takes the cgroup path from the record.
        cgroup_parent: String::new(),
        monitor_program: std::env::current_exe()
            .map_err(|e| EngineError::io("finding the wharf executable", e))?,
        timings: false,
    })?;
    engine.remove_container_and_anonymous_volumes(id, true)
}

struct Monitor {
    layout: Layout,
    cgroup_fs_root: PathBuf,
    dir: PathBuf,
    record: ContainerRecord,
    /// Serializes the state file's read-modify-write between the main thread
    /// and the health checker.
    state_lock: Mutex<()>,
    /// The published ports this monitor's proxy serves, for a handover.
    held_ports: HeldPorts,
    /// Started to take the ports over from another container.
    await_ports: bool,
}

enum Listener {
    Tcp(std::net::TcpListener, SocketAddr),
    Udp(std::net::UdpSocket, SocketAddr),
}

/// A bound listening socket of a published port and what it publishes.
struct Bound {
    listener: Listener,
    /// The port as bound (an ephemeral host port resolved).
    port: PublishedPort,
    /// The `[::]` companion of a port published on every address.
    v6only: bool,
}

impl Monitor {
    fn serve(self: &Arc<Self>, status: Option<&mut File>) -> Result<i32, EngineError> {
        let attached = status.is_none();
        let (listeners, ports) = if self.await_ports {
            (Vec::new(), Vec::new())
        } else {
            self.bind_ports()?
        };
        // Removed when this function returns, however it does.
        let endpoint = (!ports.is_empty())
            .then(|| self.publishing_endpoint())
            .flatten();
        let _port_rules = if self.await_ports {
            crate::ports::PortRules::owned_by(&self.record)
        } else {
            crate::ports::publish(&self.record, endpoint, &ports)?
        };
        let _handover = self.listen_for_handover()?;
        let log = Arc::new(Mutex::new(LogWriter::open(
            &self.dir.join(LOG_FILE),
            self.record.spec.logging,
        )?));
        let spec = &self.record.spec;
        let hub = if !attached && (spec.tty || spec.stdin_open) {
            Some(crate::attach::Hub::listen(&self.dir)?)
        } else {
            None
        };
        let result = self.run_container(status, &log, Some(listeners), ports, hub.as_ref());
        if hub.is_some() {
            let _ = std::fs::remove_file(self.dir.join(crate::attach::SOCKET));
        }
        result
    }

    /// Start the container and restart it as its policy says; its exit code
    /// (for the attached mode) once it stays stopped.
    fn run_container(
        &self,
        mut status: Option<&mut File>,
        log: &Arc<Mutex<LogWriter>>,
        mut listeners: Option<Vec<Bound>>,
        ports: Vec<PublishedPort>,
        hub: Option<&Arc<crate::attach::Hub>>,
    ) -> Result<i32, EngineError> {
        let attached = status.is_none();
        self.held_ports.set_published(ports);
        let mut restarts = 0u32;
        let mut backoff = Duration::from_millis(100);
        let unhealthy = self
            .record
            .spec
            .unhealthy_restart
            .map(crate::unhealthy::UnhealthyRestarts::new);
        loop {
            let started = Instant::now();
            let (pid, cgroup, pumps) = self.start_once(log, attached, hub)?;
            self.write_state(|s| {
                s.state = ContainerState::Running {
                    pid,
                    started_at: store::now_secs(),
                    paused: false,
                };
                s.monitor_pid = Some(std::process::id());
                // A start by hand (or by `system boot`) counts anew, as docker's.
                s.restart_count = restarts;
                s.pid_start_ticks = crate::procfs::process_start_ticks(pid);
                s.ports = self.held_ports.published();
                s.cgroup = Some(cgroup.clone());
                s.error = None;
                s.health = self.health_check().map(|_| Health::Starting);
                s.failing_streak = 0;
            })?;
            if restarts > 0 {
                self.event("restart", &[]);
            }
            self.event("start", &[]);
            let running_marker = self.dir.join(crate::dns_data::RUNNING_MARKER);
            let _ = std::fs::write(&running_marker, b"");
            let mut shed = false;
            if let Some(listeners) = listeners.take() {
                self.held_ports.serve(listeners);
                if let Some(status) = status.take() {
                    let _ = writeln!(status, "ok");
                    let _ = status.flush();
                    detach_stdio();
                    shed = true;
                }
            }

            let exit_code = std::thread::scope(|scope| {
                // Dropping the sender wakes the checker at once when the container ends.
                let (stop, stopped) = mpsc::channel::<()>();
                if let Some(check) = self.health_check() {
                    let (cgroup, unhealthy) = (&cgroup, unhealthy.as_ref());
                    scope.spawn(move || self.check_health(pid, cgroup, check, stopped, unhealthy));
                }
                if shed {
                    // From here on the monitor mostly sleeps: keep it small.
                    // Last before the wait, so that little code runs between
                    // the shed and the sleep to fault pages back in.
                    // A container that already ended (a one-off `true`) is
                    // reaped at once instead.
                    wharf_runtime::memory::shed_startup_pages(&|| !has_exited(pid));
                }
                let code = wait_exit(pid);
                drop(stop);
                code
            });
            // Other containers stop resolving its names now.
            let _ = std::fs::remove_file(&running_marker);
            for pump in pumps {
                let _ = pump.join();
            }
            if let Some(hub) = hub {
                hub.set_input(None);
                hub.set_terminal(None);
                hub.end_output();
            }
            let oom_killed = cgroup.stats().map(|s| s.oom_kills > 0).unwrap_or(false);
            let _ = cgroup.kill_all_and_destroy();
            if oom_killed {
                self.event("oom", &[]);
            }
            self.event("die", &[("exitCode", exit_code.to_string())]);
            let stop_requested = self.dir.join(STOP_MARKER).exists();
            let unhealthy_restart = unhealthy.as_ref().is_some_and(|u| u.take_pending());
            let restart = !stop_requested
                && (unhealthy_restart
                    || self
                        .record
                        .spec
                        .restart
                        .restarts_after(exit_code, restarts, false));
            self.write_state(|s| {
                s.state = if restart {
                    ContainerState::Restarting
                } else {
                    ContainerState::Exited {
                        exit_code,
                        finished_at: store::now_secs(),
                        oom_killed,
                    }
                };
                s.last_exit_code = Some(exit_code);
                s.last_oom_killed = oom_killed;
                if !restart {
                    s.monitor_pid = None;
                }
            })?;
            if !restart {
                return Ok(0);
            }
            // Docker's back-off: double the delay after each quick failure, reset
            // it once the container stayed up for a while.
            if started.elapsed() > Duration::from_secs(10) {
                backoff = Duration::from_millis(100);
            }
            match unhealthy.as_ref().filter(|_| unhealthy_restart) {
                Some(policy) => std::thread::sleep(policy.delay()),
                None => {
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(60));
                }
            }
            restarts += 1;
            if self.dir.join(STOP_MARKER).exists() {
                self.write_state(|s| {
                    s.state = ContainerState::Exited {
                        exit_code,
                        finished_at: store::now_secs(),
                        oom_killed,
                    };
                    s.monitor_pid = None;
                })?;
                return Ok(0);
            }
            self.write_state(|s| s.restart_count = restarts)?;
        }
    }

    /// Bind every published port now, so a port in use fails the start.
    fn bind_ports(&self) -> Result<(Vec<Bound>, Vec<PublishedPort>), EngineError> {
        self.listeners_for_ports(&mut Vec::new())
    }

    /// The publishing endpoint (see [`crate::ports::publishing_endpoint`]).
    fn publishing_endpoint(&self) -> Option<&crate::store::Endpoint> {
        let endpoints = &self.record.endpoints;
        crate::ports::publishing_endpoint(&self.layout, endpoints).map(|index| &endpoints[index])
    }

    /// A listening socket for every published port, each taken from
    /// `offered` (the sockets a handover brought) when one publishes the
    /// same host address, port and protocol, else bound now.
    fn listeners_for_ports(
        &self,
        offered: &mut Vec<handover::Offer>,
    ) -> Result<(Vec<Bound>, Vec<PublishedPort>), EngineError> {
        let mut listeners = Vec::new();
        let mut published = Vec::new();
        if self.record.spec.ports.is_empty() {
            return Ok((listeners, published));
        }
        if self.record.endpoints.is_empty() {
            return Err(EngineError::Invalid(format!(
                "container {} publishes ports but is on no network",
                self.record.name
            )));
        }
        // Docker publishes through a network that is not internal, and
        // nothing when every network of the container is internal.
        let Some(endpoint) = self.publishing_endpoint() else {
            return Ok((listeners, published));
        };
        let target_ip = IpAddr::V4(endpoint.address);
        let net_err = crate::network::net_err;
        for port in &self.record.spec.ports {
            let listen = port.listen_addr();
            let target = SocketAddr::new(target_ip, port.container_port);
            let udp = port.protocol == Protocol::Udp;
            let taken = handover::take_offer(offered, port, false);
            let (main, bound) = match (taken, port.protocol) {
                (Some(offer), Protocol::Tcp) => {
                    let port = offer.port.host_port;
                    (Listener::Tcp(offer.socket.into(), target), port)
                }
                (Some(offer), Protocol::Udp) => {
                    let port = offer.port.host_port;
                    (Listener::Udp(offer.socket.into(), target), port)
                }
                (None, Protocol::Tcp) => {
                    let l = wharf_net::proxy::bind_tcp(listen).map_err(net_err)?;
                    let bound = l.local_addr().map(|a| a.port()).unwrap_or(port.host_port);
                    (Listener::Tcp(l, target), bound)
                }
                (None, Protocol::Udp) => {
                    let s = wharf_net::proxy::bind_udp(listen).map_err(net_err)?;
                    let bound = s.local_addr().map(|a| a.port()).unwrap_or(port.host_port);
                    (Listener::Udp(s, target), bound)
                }
            };
            let published_port = PublishedPort {
                host_ip: port.host_ip,
                host_port: bound,
                container_port: port.container_port,
                protocol: port.protocol,
            };
            listeners.push(Bound {
                listener: main,
                port: published_port.clone(),
                v6only: false,
            });
            // Without a host address docker listens on 0.0.0.0 and on [::] (when
            // the host has IPv6), both forwarding to the container's IPv4 address.
            if port.host_ip.is_none() {
                let mut bound_port = port.clone();
                bound_port.host_port = bound;
                let v6 = match handover::take_offer(offered, &bound_port, true) {
                    Some(offer) if udp => Some(Listener::Udp(offer.socket.into(), target)),
                    Some(offer) => Some(Listener::Tcp(offer.socket.into(), target)),
                    None if udp => wharf_net::proxy::bind_udp_ipv6_only(bound)
                        .map_err(net_err)?
                        .map(|s| Listener::Udp(s, target)),
                    None => wharf_net::proxy::bind_tcp_ipv6_only(bound)
                        .map_err(net_err)?
                        .map(|l| Listener::Tcp(l, target)),
                };
                if let Some(listener) = v6 {
                    listeners.push(Bound {
                        listener,
                        port: published_port.clone(),
                        v6only: true,
                    });
                }
            }
            published.push(published_port);
        }
        Ok((listeners, published))
    }

    fn start_once(
        &self,
        log: &Arc<Mutex<LogWriter>>,
        attached: bool,
        hub: Option<&Arc<crate::attach::Hub>>,
    ) -> Result<
        (
            u32,
            wharf_runtime::CgroupHandle,
            Vec<std::thread::JoinHandle<()>>,
        ),
        EngineError,
    > {
        let record = &self.record;
        // Attached, the container writes to the monitor's own stdout and
        // stderr (the terminal of `wharf run`); else into the log, line by line.
        let tty = record.spec.tty;
        let mut stdin_writer = None;
        let (stdin, (out_r, out_w), (err_r, err_w)) = if attached {
            let dup = |fd: std::os::fd::BorrowedFd<'_>| {
                fd.try_clone_to_owned()
                    .map_err(|e| EngineError::io("duplicating the standard streams", e))
            };
            // `run -i=false`: the container's stdin is /dev/null.
            let stdin = if record.spec.stdin_open {
                Some(dup(std::io::stdin().as_fd())?)
            } else {
                None
            };
            (
                stdin,
                (None, dup(std::io::stdout().as_fd())?),
                (None, dup(std::io::stderr().as_fd())?),
            )
        } else {
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            // Held by us, so the container's stdin stays open (`stdin_open`).
            let stdin = if record.spec.stdin_open && !tty {
                let (stdin_r, stdin_w) = pipe()?;
                stdin_writer = Some(File::from(stdin_w));
                Some(stdin_r)
            } else {
                None
            };
            if tty {
                (stdin, (None, out_w), (None, err_w))
            } else {
                (stdin, (Some(out_r), out_w), (Some(err_r), err_w))
            }
        };
        // The size of our terminal when we run in the foreground on one; a
        // detached terminal starts at 0x0, as docker's.
        let terminal = tty.then(|| {
            if attached {
                wharf_runtime::WindowSize::of(0).unwrap_or_default()
            } else {
                wharf_runtime::WindowSize::default()
            }
        });
        let config = SpawnConfig {
            id: record.id.clone(),
            rootfs: Rootfs {
                lower_dirs: record.layers.clone(),
                upper_dir: self.dir.join("upper"),
                work_dir: self.dir.join("work"),
                merged_dir: self.dir.join("merged"),
            },
            args: record.args.clone(),
            env: record.env.clone(),
            cwd: record.cwd.clone(),
            user: record.user.clone(),
            hostname: record.hostname.clone(),
            mounts: self.mounts()?,
            cgroup: cgroup_config(&self.cgroup_fs_root, record)?,
            new_netns: crate::netmode::new_netns(&record.spec.network_mode),
            terminal,
            stdin,
            stdout: out_w,
            stderr: err_w,
            process: ProcessOptions {
                pid_namespace: crate::netmode::pid_namespace(&self.layout, record)?,
                ipc_namespace: crate::netmode::ipc_namespace(&self.layout, record)?,
                ..crate::security::process(&record.spec)
            },
            security: crate::security::security(&record.spec, &self.layout.seccomp_cache())?,
        };
        let joined = crate::netmode::joined_pid(&self.layout, record)?;
        // `network connect` and `disconnect` rewrite the endpoints: a restart
        // by the restart policy attaches the current ones.
        let endpoints = store::read_json::<ContainerRecord>(&self.dir.join(CONFIG_FILE))
            .map(|current| current.endpoints)
            .unwrap_or_else(|_| record.endpoints.clone());
        let dns_table = self.dir.join(crate::dns_data::FILE);
        // The default route goes through the network the ports are published
        // on; an internal network never carries it while another one could.
        let routed = crate::ports::publishing_endpoint(&self.layout, &endpoints).unwrap_or(0);
        let mut attach = |pid: u32| -> Result<(), String> {
            for (index, endpoint) in endpoints.iter().enumerate() {
                wharf_net::ensure_bridge(&endpoint.bridge, endpoint.gateway, endpoint.prefix)
                    .map_err(|e| e.to_string())?;
                // When a container ends, the kernel removes its veth pair with
                // its network namespace, a moment after the monitor exits
                // (deleting it there made every stop about 12 ms slower). A
                // start right after a stop, or a restart, may still find the
                // old host end under the same name: it goes now.
                let _ = wharf_net::delete_link(&endpoint.host_ifname);
                if let Some(v6) = &endpoint.ipv6 {
                    wharf_net::ensure_bridge_ipv6(&endpoint.bridge, v6.gateway, v6.prefix)
                        .map_err(|e| e.to_string())?;
                }
                wharf_net::attach_container(
                    pid,
                    &endpoint.bridge,
                    &endpoint.host_ifname,
                    &format!("eth{index}"),
                    endpoint.address,
                    endpoint.prefix,
                    (index == routed).then_some(endpoint.gateway),
                    endpoint.mac,
                    endpoint.mtu,
                    endpoint.ipv6.map(|v6| wharf_net::Ipv6Endpoint {
                        address: v6.address,
                        prefix: v6.prefix,
                        gateway: (index == routed).then_some(v6.gateway),
                    }),
                )
                .map_err(|e| e.to_string())?;
            }
            if endpoints.is_empty() {
                // Own namespace (none): loopback only. The host's or a joined
                // one: already up.
                wharf_net::loopback_up_in(pid).map_err(|e| e.to_string())?;
            } else {
                start_dns(pid, &dns_table)?;
            }
            Ok(())
        };
        let spawned = spawn_in_netns(config, joined, &mut attach)?;
        if let Some(hub) = hub {
            hub.begin_output();
        }
        let mut pumps = Vec::new();
        if let Some(master) = spawned.terminal {
            if attached {
                pumps.push(wharf_runtime::relay_terminal(master));
            } else {
                if let Some(hub) = hub {
                    if record.spec.stdin_open {
                        hub.set_input(master.try_clone().ok());
                    }
                    hub.set_terminal(master.try_clone().ok());
                }
                pumps.push(pump(
                    master.into(),
                    LogStream::Stdout,
                    log.clone(),
                    hub.cloned(),
                ));
            }
        }
        if let Some(hub) = hub {
            if stdin_writer.is_some() {
                hub.set_input(stdin_writer);
            }
        }
        if let Some(out_r) = out_r {
            pumps.push(pump(out_r, LogStream::Stdout, log.clone(), hub.cloned()));
        }
        if let Some(err_r) = err_r {
            pumps.push(pump(err_r, LogStream::Stderr, log.clone(), hub.cloned()));
        }
        Ok((spawned.pid, spawned.cgroup, pumps))
    }

    /// The container's mounts for one start: binds (a missing host path is
    /// created as a directory unless the mount requires it), volumes (named
    /// ones created on first use, anonymous ones for mounts without a source
    /// and for the image's `VOLUME`s, copy-up on first mount, subpaths
    /// pinned), tmpfs, those of its `volumes_from` containers, then its
    /// secrets and configs and the `/etc` files.
    fn mounts(&self) -> Result<Vec<MountSpec>, EngineError> {
        crate::mounts::begin_start();
        let spec = &self.record.spec;
        let mut wanted = spec.mounts.clone();
        // Its own mounts win over those of volumes_from on the same target.
        for mount in crate::mounts::inherited_mounts(&self.layout, &self.record)? {
            let target = crate::mounts::normalize_target(&mount.target);
            if !wanted
                .iter()
                .any(|m| crate::mounts::normalize_target(&m.target) == target)
            {
                wanted.push(mount);
            }
        }
        // The image's VOLUMEs not covered by a mount of the service.
        for target in crate::mounts::image_volumes(&self.layout, &self.record) {
            let target = crate::mounts::normalize_target(&target);
            if !wanted
                .iter()
                .any(|m| crate::mounts::normalize_target(&m.target) == target)
            {
                wanted.push(wharf_engine_api::Mount::new(MountKind::Volume, "", target));
            }
        }
        // Parents before children (docker sorts by depth too), so that a
        // mount never hides one meant to be inside it.
        wanted.sort_by_key(|m| {
            crate::mounts::normalize_target(&m.target)
                .matches('/')
                .count()
        });
        let mut mounts = Vec::new();
        for mount in &wanted {
            let spec = match mount.kind {
                MountKind::Bind => {
                    let source = PathBuf::from(&mount.source);
                    if !source.exists() {
                        if mount.require_host_path {
                            return Err(EngineError::Invalid(format!(
                                "bind source path {} does not exist (for {}): create it, or set bind.create_host_path: true",
                                source.display(),
                                mount.target
                            )));
                        }
                        // Compose's short syntax creates a missing host directory.
                        std::fs::create_dir_all(&source).map_err(|e| {
                            EngineError::io(format!("creating bind source {}", source.display()), e)
                        })?;
                    }
                    crate::paths::check_propagation(&source, mount)?;
                    MountSpec {
                        kind: wharf_runtime::MountKind::Bind,
                        source,
                        target: mount.target.clone(),
                        read_only: mount.read_only,
                        options: mount.options.clone(),
                    }
                }
                MountKind::Volume => {
                    let prepared = crate::mounts::prepare_volume(
                        &self.layout,
                        &self.record,
                        &self.dir,
                        &mount.source,
                        &mount.target,
                        mount.no_copy,
                        mount.subpath.as_deref(),
                    )?;
                    MountSpec {
                        kind: wharf_runtime::MountKind::Bind,
                        source: prepared.source,
                        target: mount.target.clone(),
                        read_only: mount.read_only,
                        options: Vec::new(),
                    }
                }
                MountKind::Tmpfs => MountSpec {
                    kind: wharf_runtime::MountKind::Tmpfs,
                    source: PathBuf::from("tmpfs"),
                    target: mount.target.clone(),
                    read_only: mount.read_only,
                    options: mount.options.clone(),
                },
            };
            mounts.push(spec);
        }
        mounts.extend(crate::files::mounts(&self.dir, spec)?);
        for file in ["hosts", "hostname", "resolv.conf"] {
            mounts.push(MountSpec {
                kind: wharf_runtime::MountKind::Bind,
                source: self.dir.join(file),
                target: format!("/etc/{file}"),
                read_only: false,
                options: Vec::new(),
            });
        }
        Ok(mounts)
    }

    /// The health check to run, if any (`NONE` disables the image's).
    fn health_check(&self) -> Option<&Healthcheck> {
        self.record
            .spec
            .healthcheck
            .as_ref()
            .filter(|c| c.test.first().is_some_and(|t| t != "NONE"))
    }

    /// Run the health check until `stopped` says the container ended,
    /// recording the verdict as docker does: healthy after a success,
    /// unhealthy after `retries` failures in a row (failures within the start
    /// period do not count).
    fn check_health(
        &self,
        pid: u32,
        cgroup: &wharf_runtime::CgroupHandle,
        check: &Healthcheck,
        stopped: mpsc::Receiver<()>,
        unhealthy: Option<&crate::unhealthy::UnhealthyRestarts>,
    ) {
        let ms = |v: Option<u64>, default: u64| Duration::from_millis(v.unwrap_or(default));
        let interval = ms(check.interval_ms, 30_000);
        let timeout = ms(check.timeout_ms, 30_000);
        let start_period = ms(check.start_period_ms, 0);
        let start_interval = ms(check.start_interval_ms, 5_000);
        let retries = check.retries.unwrap_or(3).max(1);
        let args: Vec<String> = match check.test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), check.test[1..].join(" ")],
            Some("CMD") => check.test[1..].to_vec(),
            _ => check.test.clone(),
        };
        let started = Instant::now();
        loop {
            let in_start_period = started.elapsed() < start_period;
            let pause = if in_start_period {
                start_interval.min(interval)
            } else {
                interval
            };
            match stopped.recv_timeout(pause) {
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                _ => return,
            }
            // A paused container is neither probed nor judged until it thaws.
            if cgroup.is_frozen().unwrap_or(false) {
                continue;
            }
            let passed = self.probe(pid, cgroup, &args, timeout);
            let counts = started.elapsed() >= start_period;
            let mut verdict = None;
            let _ = self.write_state(|s| {
                if !s.state.is_running() {
                    return;
                }
                let before = s.health;
                if passed {
                    s.failing_streak = 0;
                    s.health = Some(Health::Healthy);
                } else if counts {
                    s.failing_streak += 1;
                    if s.failing_streak >= retries {
                        s.health = Some(Health::Unhealthy);
                    }
                }
                if s.health != before {
                    verdict = s.health;
                }
            });
            match verdict {
                Some(Health::Healthy) => self.event("health_status: healthy", &[]),
                Some(Health::Unhealthy) => {
                    self.event("health_status: unhealthy", &[]);
                    if unhealthy.is_some_and(|u| u.begin(Instant::now())) {
                        self.stop_unhealthy(pid, &stopped);
                        return;
                    }
                }
                _ => {}
            }
        }
    }

    /// Stop a container that turned unhealthy so that its restart policy
    /// starts it again: its stop signal, then SIGKILL after its grace period.
    fn stop_unhealthy(&self, pid: u32, stopped: &mpsc::Receiver<()>) {
        let spec = &self.record.spec;
        let grace = Duration::from_secs(spec.stop_grace_period_secs.unwrap_or(10));
        let signal = spec.stop_signal.as_deref().unwrap_or("SIGTERM");
        let signal = wharf_runtime::parse_signal(signal).unwrap_or(libc::SIGTERM);
        let _ = wharf_runtime::send_signal(pid, signal);
        if let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(grace) {
            let _ = wharf_runtime::send_signal(pid, libc::SIGKILL);
        }
    }

    /// One run of the check inside the container: passed when it exits 0
    /// within `timeout`.
    fn probe(
        &self,
        pid: u32,
        cgroup: &wharf_runtime::CgroupHandle,
        args: &[String],
        timeout: Duration,
    ) -> bool {
        let (done, result) = mpsc::channel();
        let (cgroup, args) = (cgroup.clone(), args.to_vec());
        let (env, cwd, user) = (
            self.record.env.clone(),
            self.record.cwd.clone(),
            self.record.user.clone(),
        );
        let Ok(security) =
            crate::security::security(&self.record.spec, &self.layout.seccomp_cache())
        else {
            return false;
        };
        let options = wharf_runtime::ExecOptions {
            security,
            ulimits: crate::security::ulimits(&self.record.spec),
            tty: false,
            group_add: self.record.spec.group_add.clone(),
            output: None,
        };
        // A check that overruns its timeout fails; it ends with the container at the latest.
        std::thread::spawn(move || {
            let code = wharf_runtime::exec_with(
                pid,
                &cgroup,
                &args,
                &env,
                &cwd,
                user.as_deref(),
                &options,
            );
            let _ = done.send(code.ok());
        });
        matches!(result.recv_timeout(timeout), Ok(Some(0)))
    }

    fn event(&self, action: &str, extra: &[(&str, String)]) {
        crate::events::record(&self.layout, &self.record, action, extra);
    }

    fn write_state(&self, change: impl FnOnce(&mut RuntimeState)) -> Result<(), EngineError> {
        let _guard = self.state_lock.lock().unwrap_or_else(|p| p.into_inner());
        let path = self.dir.join(STATE_FILE);
        let mut state: RuntimeState =
            store::read_json(&path).unwrap_or_else(|_| RuntimeState::created());
        change(&mut state);
        store::write_json_unflushed(&path, &state)
    }

    fn record_failure(&self, message: &str) -> Result<(), EngineError> {
        self.write_state(|s| {
            s.error = Some(message.to_string());
            s.monitor_pid = None;
            if !matches!(s.state, ContainerState::Exited { .. }) {
                s.state = ContainerState::Created;
            }
        })
    }
}

/// Spawn the container; with `joined`, from a thread inside the network
/// namespace of that process, so the clone (without a namespace of its own)
/// lands in it: docker's `network_mode: container:X`.
/// A spawn failure as the engine reports it: a command that cannot be run
/// keeps docker's exit code for it.
fn spawn_err(e: wharf_runtime::RuntimeError) -> EngineError {
    match e.command_exit_code() {
        Some(code) => EngineError::CommandNotRunnable {
            code,
            message: e.to_string(),
        },
        None => runtime_err(e),
    }
}

fn spawn_in_netns<F>(
    config: SpawnConfig,
    joined: Option<u32>,
    attach: &mut F,
) -> Result<wharf_runtime::Spawned, EngineError>
where
    F: FnMut(u32) -> Result<(), String> + Send,
{
    let Some(target) = joined else {
        return wharf_runtime::spawn(config, attach).map_err(spawn_err);
    };
    wharf_net::in_netns_of_pid(target, move || Ok(wharf_runtime::spawn(config, attach)))
        .map_err(crate::network::net_err)?
        .map_err(spawn_err)
}

/// Start the embedded DNS server (127.0.0.11:53) in the network namespace of
/// the container `pid`, serving `table` until the container exits.
fn start_dns(pid: u32, table: &Path) -> Result<(), String> {
    wharf_net::dns::spawn_in_netns_of(pid, table.to_path_buf())
        .map_err(|e| format!("starting the embedded DNS server: {e}"))
}

fn pipe() -> Result<(OwnedFd, OwnedFd), EngineError> {
    nix::unistd::pipe2(OFlag::O_CLOEXEC)
        .map_err(|e| EngineError::io("creating an output pipe", e.into()))
}

/// Copy one output stream of the container into the log file, a line a
/// record, and as it comes to the attached clients. A terminal's master reads
/// EIO once no process holds the terminal: that is its end.
fn pump(
    fd: OwnedFd,
    stream: LogStream,
    log: Arc<Mutex<LogWriter>>,
    hub: Option<Arc<crate::attach::Hub>>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        // A BufReader's buffer is not zeroed, so its pages become resident
        // only as output arrives: a quiet container costs the monitor nothing.
        let mut reader = BufReader::with_capacity(64 * 1024, File::from(fd));
        let mut pending: Vec<u8> = Vec::new();
        let write = |line: &[u8]| {
            let record = LogRecord {
                log: String::from_utf8_lossy(line).into_owned(),
                stream,
                time: store::now_nanos(),
            };
            if let Ok(mut line) = serde_json::to_vec(&record) {
                line.push(b'\n');
                if let Ok(mut log) = log.lock() {
                    let _ = log.write_line(&line);
                }
            }
        };
        loop {
            let bytes = match reader.fill_buf() {
                Ok([]) => break,
                Ok(bytes) => bytes,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => break,
            };
            let n = bytes.len();
            if let Some(hub) = &hub {
                hub.broadcast(stream, bytes);
            }
            let mut rest = bytes;
            while let Some(end) = rest.iter().position(|b| *b == b'\n') {
                if pending.is_empty() {
                    write(&rest[..=end]);
                } else {
                    pending.extend_from_slice(&rest[..=end]);
                    write(&pending);
                    pending.clear();
                }
                rest = &rest[end + 1..];
            }
            pending.extend_from_slice(rest);
            reader.consume(n);
        }
        if !pending.is_empty() {
            write(&pending);
        }
    })
}

/// Wait for the container's init; its exit code, or 128 + signal.
fn wait_exit(pid: u32) -> i32 {
    loop {
        match waitpid(Pid::from_raw(pid as i32), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, signal, _)) => return 128 + signal as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}

/// Whether child `pid` has ended, without reaping it.
fn has_exited(pid: u32) -> bool {
    use nix::sys::wait::{waitid, Id, WaitPidFlag};
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    !matches!(
        waitid(Id::Pid(Pid::from_raw(pid as i32)), flags),
        Ok(WaitStatus::StillAlive) | Err(nix::errno::Errno::EINTR)
    )
}

/// After the CLI has its answer it may exit; stdio must not point at it.
fn detach_stdio() {
    if let Ok(null) = OpenOptions::new().read(true).write(true).open("/dev/null") {
        use std::os::fd::AsRawFd;
        let _ = nix::unistd::dup2(null.as_raw_fd(), 0);
        let _ = nix::unistd::dup2(null.as_raw_fd(), 1);
    }
}
