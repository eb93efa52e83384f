//! `init: true`: the container's first process becomes a minimal init, as
//! docker's `--init` (tini) does: it starts the command as its child, forwards
//! every catchable signal to it, reaps every process that ends up its child
//! (orphans are re-parented to it) and exits with the command's status.
//!
//! The init is the freshly cloned copy of wharf itself staying in this code:
//! there is no init binary to exec, so nothing of the host is exposed to the
//! container. It stays non-dumpable (no `/proc/1/exe`, `mem`, `fd`, `environ`
//! for the container's processes), closes every descriptor it inherited, and
//! keeps only CAP_KILL, to signal a command that switched to another user.
//! Like the rest of the child side it only makes raw system calls on data the
//! parent prepared (see `child`).

use crate::child::{reset_signals, ExecPlan, Reporter};
use std::os::fd::RawFd;

/// What `/proc/1/cmdline` and `/proc/1/comm` show: not the monitor's command line,
/// which would name host paths.
const NAME: &[u8] = b"wharf-init";
const COMM: &std::ffi::CStr = c"wharf-init";

/// The one capability the init keeps (linux/capability.h).
const CAP_KILL: u32 = 5;

/// Signals a process raises on itself by faulting: left at their default action.
const FAULTS: [libc::c_int; 7] = [
    libc::SIGFPE,
    libc::SIGILL,
    libc::SIGSEGV,
    libc::SIGBUS,
    libc::SIGABRT,
    libc::SIGTRAP,
    libc::SIGSYS,
];

/// Prepared by the parent before the clone.
pub(crate) struct InitPlan {
    /// `wharf-init\0--\0<arg>\0…`, cut to fit the argument area.
    title: Vec<u8>,
    /// Where this process's argv strings live (`arg_start`, `arg_end` of
    /// /proc/self/stat), overwritten with `title` in the init.
    argv_area: Option<(usize, usize)>,
}

impl InitPlan {
    pub(crate) fn new(args: &[String]) -> Self {
        let mut title = NAME.to_vec();
        title.extend_from_slice(b"\0--");
        for arg in args {
            title.push(0);
            title.extend_from_slice(arg.as_bytes());
        }
        let argv_area = std::fs::read_to_string("/proc/self/stat")
            .ok()
            .and_then(|stat| argv_area(&stat));
        if let Some((start, end)) = argv_area {
            // Keep the last byte NUL so the kernel reads the area as plain argv.
            title.truncate(end - start - 1);
        }
        InitPlan { title, argv_area }
    }
}

/// Fields 48 and 49 of `/proc/<pid>/stat` (where argv starts and ends), when
/// present and sensible.
fn argv_area(stat: &str) -> Option<(usize, usize)> {
    let fields: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    // Field N is fields[N - 3]: the list starts at field 3, after the name.
    let start: usize = fields.get(45)?.parse().ok()?;
    let end: usize = fields.get(46)?.parse().ok()?;
    (start > 0 && end > start + 1).then_some((start, end))
}

/// Become the init: fork the command (which execs as usual, reporting failures
/// through `rep`), then supervise it. Never returns.
pub(crate) fn run(
    plan: &InitPlan,
    command: &mut ExecPlan,
    rep: &Reporter,
    stdio: [RawFd; 3],
    terminal: bool,
) -> ! {
    // SAFETY: a local sigset_t, initialised by sigfillset before use; blocking is
    // per thread and this process has one.
    let waited = unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut set);
        for signal in FAULTS {
            libc::sigdelset(&mut set, signal);
        }
        // Blocked before the fork, so nothing sent in between is lost; blocked
        // signals are queued even for a namespace's pid 1, which would
        // otherwise drop those it has no handler for.
        libc::sigprocmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    };
    let child = match crate::sys::clone_fork(libc::SIGCHLD as libc::c_ulong) {
        Ok(0) => {
            if terminal {
                // The command's own process group in the terminal's
                // foreground, as tini does: Ctrl-C reaches it once, directly.
                // SAFETY: integer system calls; SIGTTOU is still blocked here.
                unsafe {
                    libc::setpgid(0, 0);
                    libc::tcsetpgrp(stdio[0], libc::getpid());
                }
            }
            reset_signals();
            command.finish(rep, Some(stdio))
        }
        Ok(pid) => pid,
        Err(e) => rep.setup(e as i32, &[b"fork the command of the container's init"]),
    };
    confine(plan, rep);
    supervise(child, &waited)
}

/// Give up everything the init does not need, reporting failures while the
/// parent still listens; the last step closes the report pipe with every other
/// descriptor.
fn confine(plan: &InitPlan, rep: &Reporter) {
    if let Some((start, end)) = plan.argv_area {
        // SAFETY: [start, end) is this process's own argv area (from
        // /proc/self/stat, inherited through the fork), writable stack memory that
        // nothing reads any more; `title` is shorter than it.
        unsafe {
            std::ptr::write_bytes(start as *mut u8, 0, end - start);
            std::ptr::copy_nonoverlapping(plan.title.as_ptr(), start as *mut u8, plan.title.len());
        }
    }
    // SAFETY: prctl calls with integer arguments and a NUL-terminated name.
    unsafe {
        libc::prctl(libc::PR_SET_NAME, COMM.as_ptr(), 0, 0, 0);
        // Orphans come to us even where we are not a namespace's pid 1 (`pid:
        // host`, or another container's pid namespace).
        if libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0 {
            rep.setup(crate::sys::errno(), &[b"prctl(PR_SET_CHILD_SUBREAPER)"]);
        }
    }
    let kill_only = 1u64 << CAP_KILL;
    if let Err((e, _)) = crate::caps::limit_bounding_set(kill_only) {
        rep.setup(e, &[b"drop the init's capabilities (bounding set)"]);
    }
    if let Err(e) = crate::sys::capset(kill_only, kill_only, 0) {
        rep.setup(e, &[b"drop the init's capabilities (capset)"]);
    }
    // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integers only.
    if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
        rep.setup(crate::sys::errno(), &[b"prctl(PR_SET_NO_NEW_PRIVS)"]);
    }
    // Again: credential changes may reset it to fs.suid_dumpable.
    crate::sys::set_non_dumpable();
    // The monitor's log, sockets and pipes: none of it belongs in the container.
    if let Err(e) = crate::sys::close_from(0) {
        rep.setup(e, &[b"close the init's inherited descriptors"]);
    }
}

/// Forward signals to `child` and reap until it has exited; exit with its code
/// (128 + signal when a signal killed it).
fn supervise(child: libc::pid_t, waited: &libc::sigset_t) -> ! {
    loop {
        // SAFETY: sigwaitinfo fills a local siginfo_t; the set is initialised.
        let signal = unsafe {
            let mut info: libc::siginfo_t = std::mem::zeroed();
            libc::sigwaitinfo(waited, &mut info)
        };
        if signal < 0 {
            continue; // EINTR
        }
        if signal == libc::SIGCHLD {
            if let Some(code) = reap(child) {
                // SAFETY: _exit ends the process; the kernel kills what is left in
                // a pid namespace whose init exits.
                unsafe { libc::_exit(code) }
            }
        } else {
            // SAFETY: kill takes integers; a child that is already gone is fine.
            unsafe { libc::kill(child, signal) };
        }
    }
}

/// Reap every exited child; the exit code of `child` if it was among them.
fn reap(child: libc::pid_t) -> Option<i32> {
    let mut code = None;
    loop {
        let mut status = 0;
        // SAFETY: waitpid writes the status into a local integer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return code;
        }
        if pid == child {
            code = Some(exit_code(status));
        }
    }
}

/// A shell's exit code for a wait status: the code, or 128 + the signal.
fn exit_code(status: libc::c_int) -> i32 {
    if libc::WIFSIGNALED(status) {
        128 + libc::WTERMSIG(status)
    } else {
        libc::WEXITSTATUS(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argv_area_reads_fields_48_and_49() {
        let mut stat = String::from("42 (we ird) name) S");
        for field in 4..=52 {
            stat.push_str(&format!(
                " {}",
                if field == 48 {
                    1000
                } else if field == 49 {
                    1100
                } else {
                    field
                }
            ));
        }
        assert_eq!(argv_area(&stat), Some((1000, 1100)));
        assert_eq!(argv_area("42 (x) S 1 2"), None);
        let own = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (start, end) = argv_area(&own).expect("this process's argv area");
        assert!(end > start);
    }

    #[test]
    fn title_names_init_and_command_and_fits_the_area() {
        let plan = InitPlan::new(&["sleep".to_string(), "60".to_string()]);
        let (start, end) = plan.argv_area.unwrap();
        let full = b"wharf-init\0--\0sleep\x0060";
        assert_eq!(plan.title, full[..full.len().min(end - start - 1)]);
        let long = InitPlan::new(&["x".repeat(100_000)]);
        assert!(long.title.len() < end - start);
    }

    #[test]
    fn exit_codes_are_a_shells() {
        assert_eq!(exit_code(3 << 8), 3);
        assert_eq!(exit_code(libc::SIGKILL), 137);
        assert_eq!(exit_code(libc::SIGTERM), 143);
    }
}
