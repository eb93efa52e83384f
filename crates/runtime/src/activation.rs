//! systemd's socket activation: the listening sockets a service manager
//! handed over from fd 3 on (`LISTEN_FDS`, `LISTEN_PID`) with their names
//! (`LISTEN_FDNAMES`, set by a socket unit's `FileDescriptorName=`), taken
//! once.

use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The first descriptor systemd passes (`SD_LISTEN_FDS_START`).
const FIRST_PASSED_FD: RawFd = 3;

/// The name systemd gives a descriptor whose socket unit names none and
/// when `LISTEN_FDNAMES` is missing.
pub const UNNAMED: &str = "unknown";

static TAKEN: AtomicBool = AtomicBool::new(false);

/// One socket passed by the service manager.
#[derive(Debug)]
pub struct PassedSocket {
    /// Its `FileDescriptorName=` (the socket unit's name by default;
    /// [`UNNAMED`] without `LISTEN_FDNAMES`).
    pub name: String,
    pub fd: OwnedFd,
}

/// The activated sockets when `LISTEN_PID` names this process, in the order
/// passed; empty otherwise, and on every call after the first. Descriptors
/// that are not sockets are left alone. Each one taken is made
/// close-on-exec so that containers and monitors never inherit it.
pub fn activated_sockets() -> Vec<PassedSocket> {
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|pid| pid.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let count = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse::<RawFd>().ok())
        .unwrap_or(0);
    if !for_us || count <= 0 || TAKEN.swap(true, Ordering::SeqCst) {
        return Vec::new();
    }
    let names = passed_names(
        count as usize,
        std::env::var("LISTEN_FDNAMES").ok().as_deref(),
    );
    let mut sockets = Vec::new();
    for (raw, name) in (FIRST_PASSED_FD..FIRST_PASSED_FD + count).zip(names) {
        let is_socket = nix::sys::stat::fstat(raw)
            .is_ok_and(|stat| stat.st_mode & libc::S_IFMT == libc::S_IFSOCK);
        if !is_socket {
            continue;
        }
        // SAFETY: the service manager passed this descriptor open (checked
        // above to be a socket) and nothing else in the process owns it:
        // the flag above lets only one caller ever wrap the passed range.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        let _ = nix::fcntl::fcntl(
            raw,
            nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
        );
        sockets.push(PassedSocket { name, fd });
    }
    sockets
}

/// `count` names from `LISTEN_FDNAMES` (colon-separated); missing or empty
/// ones are [`UNNAMED`], as `sd_listen_fds_with_names` reads them.
pub fn passed_names(count: usize, fdnames: Option<&str>) -> Vec<String> {
    let mut given = fdnames.map(|n| n.split(':')).into_iter().flatten();
    (0..count)
        .map(|_| match given.next() {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => UNNAMED.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_read_in_order_and_missing_ones_are_unknown() {
        assert_eq!(
            passed_names(2, Some("api:dashboard")),
            vec!["api", "dashboard"]
        );
        assert_eq!(passed_names(2, None), vec![UNNAMED, UNNAMED]);
        assert_eq!(passed_names(3, Some("a::")), vec!["a", UNNAMED, UNNAMED]);
        assert_eq!(passed_names(1, Some("a:b")), vec!["a"]);
    }
}
