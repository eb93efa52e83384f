//! Run a command inside a running container (`wharf exec`): an intermediate child
//! joins the container's cgroups and namespaces, then forks so the pid namespace
//! applies; the grandchild sets up cwd, user and capabilities and execs. The
//! intermediate child relays the exit status. The command's stdio is the
//! caller's, a terminal relayed to the caller's, or descriptors the caller
//! relays itself (the Engine API's exec: pipes, or a [`crate::Pty`]'s slave).

use crate::cgroups::CgroupHandle;
use crate::child::{ExecPlan, Failure, Reporter};
use crate::options::ProcessSecurity;
use crate::{RuntimeError, Security, Ulimit};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{pipe2, ForkResult, Pid};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// Namespaces joined, in this order (mnt last: it changes the root).
const NAMESPACES: [&str; 5] = ["ipc", "uts", "net", "pid", "mnt"];

/// Exit code of a wait status: the code, or 128 + signal like a shell.
fn exit_code(status: WaitStatus) -> Option<i32> {
    match status {
        WaitStatus::Exited(_, code) => Some(code),
        WaitStatus::Signaled(_, sig, _) => Some(128 + sig as i32),
        _ => None,
    }
}

fn wait_exit(pid: Pid) -> Result<i32, RuntimeError> {
    loop {
        match waitpid(pid, None) {
            Ok(status) => {
                if let Some(code) = exit_code(status) {
                    return Ok(code);
                }
            }
            Err(Errno::EINTR) => {}
            Err(e) => return Err(RuntimeError::sys(format!("wait for exec helper {pid}"), e)),
        }
    }
}

/// How `exec_with` runs the command.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOptions {
    /// The container's security settings (its capabilities, no_new_privs and seccomp
    /// profile, as `docker exec` applies them). `privileged`, `cap_add`/`cap_drop`,
    /// `no_new_privileges` and `seccomp` are used; devices and `read_only_rootfs`
    /// belong to the container and are ignored here.
    pub security: Security,
    /// ulimits for the command (the container's, normally).
    pub ulimits: Vec<Ulimit>,
    /// Give the command a pseudo-terminal (`exec -it`) instead of the
    /// caller's stdio, and relay the caller's terminal to it.
    pub tty: bool,
    /// The container's `group_add`, added to the user's groups as in the container.
    pub group_add: Vec<String>,
    /// Send the command's stdout and stderr to this descriptor (and give it
    /// `/dev/null` as stdin) instead of the caller's stdio. The caller keeps
    /// it open until `exec_with` returns. Ignored with `tty`.
    pub output: Option<RawFd>,
}

/// Run `args` in the container whose init has host pid `pid`, with the caller's stdio,
/// Docker's default capabilities and no seccomp filter (kept for existing callers;
/// prefer [`exec_with`] with the container's security settings).
/// Returns the command's exit code (128 + signal when killed; 127 with a message on
/// stderr when the command is not found, 126 when it cannot be executed).
pub fn exec(
    pid: u32,
    cgroup: &CgroupHandle,
    args: &[String],
    env: &[String],
    cwd: &str,
    user: Option<&str>,
) -> Result<i32, RuntimeError> {
    let plan = ExecPlan::new(args, env, cwd, user)?;
    run_exec(pid, cgroup, plan)
}

/// Where [`exec_with_stdio`] connects the command, for a caller that relays
/// its input and output itself (the Engine API's exec).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecStdio {
    /// Three descriptors; no `stdin` is `/dev/null`.
    Fds {
        stdin: Option<RawFd>,
        stdout: RawFd,
        stderr: RawFd,
    },
    /// A pseudo-terminal's slave (of a [`crate::Pty`] opened in the same
    /// container), made the command's controlling terminal and stdio.
    Terminal(RawFd),
}

/// [`exec`] with the container's capabilities, no_new_privs, seccomp profile and
/// ulimits applied to the command.
pub fn exec_with(
    pid: u32,
    cgroup: &CgroupHandle,
    args: &[String],
    env: &[String],
    cwd: &str,
    user: Option<&str>,
    options: &ExecOptions,
) -> Result<i32, RuntimeError> {
    let plan = prepare(args, env, cwd, user, options)?;
    if options.tty {
        let pty = crate::pty::Pty::open_in(pid)?;
        crate::pty::copy_window_size(0, pty.master.as_raw_fd());
        run_exec_io(pid, cgroup, plan, ChildIo::RelayTerminal(pty), &|_| {})
    } else if let Some(output) = options.output {
        let stdio = ExecStdio::Fds {
            stdin: None,
            stdout: output,
            stderr: output,
        };
        run_exec_io(pid, cgroup, plan, ChildIo::Given(stdio), &|_| {})
    } else {
        run_exec(pid, cgroup, plan)
    }
}

/// [`exec_with`] with the command connected to `stdio` (`options.tty` and
/// `options.output` are not used). The caller keeps the descriptors open
/// until this returns, when the command has ended. `started` is told the
/// command's host pid once it runs, so that the caller can signal it (the
/// Engine API kills an exec whose client went away).
#[allow(clippy::too_many_arguments)]
pub fn exec_with_stdio(
    pid: u32,
    cgroup: &CgroupHandle,
    args: &[String],
    env: &[String],
    cwd: &str,
    user: Option<&str>,
    options: &ExecOptions,
    stdio: ExecStdio,
    started: &dyn Fn(u32),
) -> Result<i32, RuntimeError> {
    let plan = prepare(args, env, cwd, user, options)?;
    run_exec_io(pid, cgroup, plan, ChildIo::Given(stdio), started)
}

fn prepare(
    args: &[String],
    env: &[String],
    cwd: &str,
    user: Option<&str>,
    options: &ExecOptions,
) -> Result<ExecPlan, RuntimeError> {
    let security = ProcessSecurity::prepare(&options.security, &options.ulimits)?;
    ExecPlan::new(args, env, cwd, user)?
        .with_security(security)
        .with_groups(&options.group_add)
}

/// The command's stdio.
enum ChildIo {
    /// The caller's own.
    Inherit,
    /// A new terminal, relayed to and from the caller's.
    RelayTerminal(crate::pty::Pty),
    /// Given by the caller.
    Given(ExecStdio),
}

/// The helper joins the container's cgroup and namespaces and forks the command.
///
/// Protection of the host binary (CVE-2019-5736 class): the helper makes itself
/// non-dumpable before it joins anything. Its child (the only wharf process ever
/// inside the container's pid namespace, until its execve) inherits that, so no
/// process in the container, root with CAP_DAC_OVERRIDE included, can open
/// `/proc/<pid>/exe` (for writing, or as O_PATH to reopen later through
/// /proc/self/fd): that needs ptrace access, which a non-dumpable target grants only
/// to holders of CAP_SYS_PTRACE in its user namespace. execve replaces the image and
/// resets dumpability only once the host binary is no longer the process's exe.
fn run_exec(pid: u32, cgroup: &CgroupHandle, plan: ExecPlan) -> Result<i32, RuntimeError> {
    run_exec_io(pid, cgroup, plan, ChildIo::Inherit, &|_| {})
}

/// The host pid of `parent`'s first living child, from procfs.
fn first_child(parent: u32) -> Option<u32> {
    let path = format!("/proc/{parent}/task/{parent}/children");
    let children = std::fs::read_to_string(path).ok()?;
    children.split_whitespace().next()?.parse().ok()
}

fn run_exec_io(
    pid: u32,
    cgroup: &CgroupHandle,
    mut plan: ExecPlan,
    io: ChildIo,
    started: &dyn Fn(u32),
) -> Result<i32, RuntimeError> {
    let (pty, given) = match io {
        ChildIo::Inherit => (None, None),
        ChildIo::RelayTerminal(pty) => (Some(pty), None),
        ChildIo::Given(stdio) => (None, Some(stdio)),
    };
    let null = match given {
        Some(ExecStdio::Fds { stdin: None, .. }) => Some(OwnedFd::from(
            std::fs::File::open("/dev/null")
                .map_err(|e| RuntimeError::io("open", "/dev/null", e))?,
        )),
        _ => None,
    };
    let slave = match given {
        Some(ExecStdio::Terminal(slave)) => Some(slave),
        _ => pty.as_ref().map(|p| p.slave.as_raw_fd()),
    };
    // Where a command that cannot be run is reported: the command's stderr.
    let message_fd = match given {
        Some(ExecStdio::Fds { stderr, .. }) => Some(stderr),
        Some(ExecStdio::Terminal(slave)) => Some(slave),
        None => None,
    };
    let redirect_fds = match given {
        Some(ExecStdio::Fds {
            stdin,
            stdout,
            stderr,
        }) => Some((
            stdin.or(null.as_ref().map(|n| n.as_raw_fd())).unwrap_or(-1),
            stdout,
            stderr,
        )),
        _ => None,
    };
    let mut ns_fds: Vec<(OwnedFd, &str)> = Vec::new();
    for ns in NAMESPACES {
        let path = format!("/proc/{pid}/ns/{ns}");
        let f =
            std::fs::File::open(&path).map_err(|e| RuntimeError::io("open namespace", &path, e))?;
        ns_fds.push((f.into(), ns));
    }
    let raw_ns: Vec<(RawFd, &str)> = ns_fds.iter().map(|(f, n)| (f.as_raw_fd(), *n)).collect();
    let (sync_r, sync_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("create sync pipe", e))?;
    let (err_r, err_w) =
        pipe2(OFlag::O_CLOEXEC).map_err(|e| RuntimeError::sys("create error pipe", e))?;

    // SAFETY: the child only makes async-signal-safe calls (raw system calls, fork,
    // waitpid, _exit) on data prepared above, so forking a multi-threaded caller is sound.
    let helper = match unsafe { nix::unistd::fork() } {
        Err(e) => return Err(RuntimeError::sys("fork the exec helper", e)),
        Ok(ForkResult::Parent { child }) => child,
        Ok(ForkResult::Child) => {
            // SAFETY: closing this process's copies of the parent's pipe ends.
            unsafe {
                libc::close(sync_w.as_raw_fd());
                libc::close(err_r.as_raw_fd());
            }
            let rep = Reporter {
                fd: err_w.as_raw_fd(),
            };
            crate::sys::set_non_dumpable();
            let mut byte = [0u8; 1];
            loop {
                // SAFETY: reading one byte into a local buffer.
                let n = unsafe { libc::read(sync_r.as_raw_fd(), byte.as_mut_ptr().cast(), 1) };
                if n == 1 {
                    break;
                }
                if n < 0 && crate::sys::errno() == libc::EINTR {
                    continue;
                }
                // SAFETY: the caller gave up; leave without cleanup.
                unsafe { libc::_exit(1) };
            }
            for (fd, name) in &raw_ns {
                // SAFETY: fd is an open namespace descriptor inherited from the caller.
                if unsafe { libc::setns(*fd, 0) } < 0 {
                    rep.setup(
                        crate::sys::errno(),
                        &[b"join the container's ", name.as_bytes(), b" namespace"],
                    );
                }
            }
            // SAFETY: fork in a single-threaded process; see above for what follows.
            let grandchild = unsafe { libc::fork() };
            if grandchild < 0 {
                rep.setup(
                    crate::sys::errno(),
                    &[b"fork into the container's pid namespace"],
                );
            }
            if grandchild == 0 {
                crate::child::reset_signals();
                if let Some(slave) = slave {
                    crate::pty::attach_in_child(slave);
                }
                if let Some((stdin, stdout, stderr)) = redirect_fds {
                    // SAFETY: dup2 on descriptors the parent opened and keeps open.
                    unsafe {
                        libc::dup2(stdin, 0);
                        libc::dup2(stdout, 1);
                        libc::dup2(stderr, 2);
                    }
                }
                plan.finish(&rep, None);
            }
            // SAFETY: plain system calls on integers and a local status word; this
            // helper only relays the command's status and must not die of ^C first.
            // It closes every descriptor it inherited: a caller running several
            // commands at once (the API service) must see the end of one
            // command's pipes and terminal while the helper of another waits.
            unsafe {
                libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, 0u32);
                libc::close(err_w.as_raw_fd());
                libc::signal(libc::SIGINT, libc::SIG_IGN);
                libc::signal(libc::SIGQUIT, libc::SIG_IGN);
                let mut status = 0;
                loop {
                    let rc = libc::waitpid(grandchild, &mut status, 0);
                    if rc == grandchild {
                        break;
                    }
                    if rc < 0 && crate::sys::errno() != libc::EINTR {
                        libc::_exit(125);
                    }
                }
                let code = if libc::WIFEXITED(status) {
                    libc::WEXITSTATUS(status)
                } else if libc::WIFSIGNALED(status) {
                    128 + libc::WTERMSIG(status)
                } else {
                    125
                };
                libc::_exit(code)
            }
        }
    };
    drop((sync_r, err_w, ns_fds, null));
    // The command holds the slave now; the relay ends when it is gone.
    let master = pty.map(|p| {
        drop(p.slave);
        p.master
    });
    let abort = |err: RuntimeError| -> Result<i32, RuntimeError> {
        let _ = kill(helper, Signal::SIGKILL);
        let _ = waitpid(helper, None);
        Err(err)
    };
    if let Err(e) = cgroup.add_process(helper.as_raw() as u32) {
        return abort(e);
    }
    let mut sync = std::fs::File::from(sync_w);
    if let Err(e) = sync.write_all(&[1]) {
        return abort(RuntimeError::io(
            "release the exec helper through",
            "its sync pipe",
            e,
        ));
    }
    drop(sync);
    let mut report = Vec::new();
    if let Err(e) = std::fs::File::from(err_r).read_to_end(&mut report) {
        return abort(RuntimeError::io("read the exec error pipe", "(pipe)", e));
    }
    // The error pipe's end means the helper has forked the command (and the
    // command ran or failed): the helper's only child is the command.
    if let Some(command) = first_child(helper.as_raw() as u32) {
        started(command);
    }
    if let Some(master) = master {
        crate::pty::relay(master);
    }
    let code = wait_exit(helper)?;
    match Failure::parse(&report) {
        None => Ok(code),
        Some(f) => match f.command_exit_code() {
            Some(code) => {
                let line = format!("{}\n", f.message);
                match message_fd {
                    // SAFETY: writing a local buffer to a descriptor the caller keeps open.
                    Some(fd) => unsafe {
                        libc::write(fd, line.as_ptr().cast(), line.len());
                    },
                    None => {
                        let _ = std::io::stderr().write_all(line.as_bytes());
                    }
                }
                Ok(code)
            }
            None => Err(f.into_error()),
        },
    }
}
