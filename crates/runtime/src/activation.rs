//! systemd's socket activation: the listening socket a service manager
//! handed over as fd 3 (`LISTEN_FDS`, `LISTEN_PID`), taken once.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_PASSED_FD: RawFd = 3;

static TAKEN: AtomicBool = AtomicBool::new(false);

/// The activated socket when `LISTEN_PID` names this process and
/// `LISTEN_FDS` is at least 1 and fd 3 is a socket; `None` otherwise, and on
/// every call after the first that returned it. The descriptor is made
/// close-on-exec so that containers and monitors never inherit it.
pub fn activated_socket() -> Option<OwnedFd> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<u32>().ok())
        .unwrap_or(0);
    if !for_us || count == 0 {
        return None;
    }
    let stat = nix::sys::stat::fstat(FIRST_PASSED_FD).ok()?;
    if stat.st_mode & libc::S_IFMT != libc::S_IFSOCK {
        return None;
    }
    if TAKEN.swap(true, Ordering::SeqCst) {
        return None;
    }
    // SAFETY: fd 3 was passed open by the service manager (checked above to
    // be a socket) and nothing else in the process owns it: the flag above
    // lets only one caller ever wrap it.
    let fd = unsafe { OwnedFd::from_raw_fd(FIRST_PASSED_FD) };
    nix::fcntl::fcntl(
        FIRST_PASSED_FD,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .ok()?;
    Some(fd)
}
