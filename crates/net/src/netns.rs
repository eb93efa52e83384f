//! Running code inside another process's network namespace: a short-lived thread enters
//! the namespace with `setns(CLONE_NEWNET)`, so the calling thread never changes namespace.

use std::fs::File;
use std::os::fd::AsFd;

use nix::sched::CloneFlags;

use crate::NetError;

/// Open `/proc/<pid>/ns/net`.
pub(crate) fn open_netns_of_pid(pid: u32) -> Result<File, NetError> {
    let path = format!("/proc/{pid}/ns/net");
    File::open(&path).map_err(|source| NetError::Namespace {
        pid,
        action: format!("opening {path}"),
        source,
    })
}

/// Run `f` on a fresh thread that has joined the network namespace `ns` (of process `pid`,
/// used in error messages). Netlink sockets opened by `f` belong to that namespace.
pub(crate) fn run_in_netns<T, F>(ns: &File, pid: u32, f: F) -> Result<T, NetError>
where
    T: Send,
    F: FnOnce() -> Result<T, NetError> + Send,
{
    std::thread::scope(|scope| {
        let worker = scope.spawn(move || {
            nix::sched::setns(ns.as_fd(), CloneFlags::CLONE_NEWNET).map_err(|errno| {
                NetError::Namespace {
                    pid,
                    action: "setns(CLONE_NEWNET)".to_string(),
                    source: errno.into(),
                }
            })?;
            f()
        });
        match worker.join() {
            Ok(result) => result,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// Run `f` inside the network namespace of process `pid` (on a helper thread) and return
/// its result. Used for the container side of `attach_container`; the engine can use it
/// for anything else that must happen inside a container's network namespace.
pub fn in_netns_of_pid<T, F>(pid: u32, f: F) -> Result<T, NetError>
where
    T: Send,
    F: FnOnce() -> Result<T, NetError> + Send,
{
    let ns = open_netns_of_pid(pid)?;
    run_in_netns(&ns, pid, f)
}
