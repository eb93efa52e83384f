//! Signals: parse names like Docker does, send them, and wait for a process that is not
//! our child to exit (pidfd + poll).

use crate::RuntimeError;
use nix::errno::Errno;
use std::time::{Duration, Instant};

const NAMES: [(&str, i32); 31] = [
    ("HUP", libc::SIGHUP),
    ("INT", libc::SIGINT),
    ("QUIT", libc::SIGQUIT),
    ("ILL", libc::SIGILL),
    ("TRAP", libc::SIGTRAP),
    ("ABRT", libc::SIGABRT),
    ("IOT", libc::SIGIOT),
    ("BUS", libc::SIGBUS),
    ("FPE", libc::SIGFPE),
    ("KILL", libc::SIGKILL),
    ("USR1", libc::SIGUSR1),
    ("SEGV", libc::SIGSEGV),
    ("USR2", libc::SIGUSR2),
    ("PIPE", libc::SIGPIPE),
    ("ALRM", libc::SIGALRM),
    ("TERM", libc::SIGTERM),
    ("STKFLT", libc::SIGSTKFLT),
    ("CHLD", libc::SIGCHLD),
    ("CONT", libc::SIGCONT),
    ("STOP", libc::SIGSTOP),
    ("TSTP", libc::SIGTSTP),
    ("TTIN", libc::SIGTTIN),
    ("TTOU", libc::SIGTTOU),
    ("URG", libc::SIGURG),
    ("XCPU", libc::SIGXCPU),
    ("XFSZ", libc::SIGXFSZ),
    ("VTALRM", libc::SIGVTALRM),
    ("PROF", libc::SIGPROF),
    ("WINCH", libc::SIGWINCH),
    ("IO", libc::SIGIO),
    ("SYS", libc::SIGSYS),
];

/// Parse `SIGTERM`, `TERM`, `term`, `15`, `SIGRTMIN+3` into a signal number.
pub fn parse_signal(name: &str) -> Result<i32, RuntimeError> {
    let bad = || RuntimeError::InvalidSignal(name.to_string());
    let trimmed = name.trim();
    if let Ok(n) = trimmed.parse::<i32>() {
        return if (1..=64).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        };
    }
    let upper = trimmed.to_ascii_uppercase();
    let short = upper.strip_prefix("SIG").unwrap_or(&upper);
    if let Some(&(_, n)) = NAMES.iter().find(|(s, _)| *s == short) {
        return Ok(n);
    }
    if short == "PWR" {
        return Ok(libc::SIGPWR);
    }
    let (rtmin, rtmax) = (libc::SIGRTMIN(), libc::SIGRTMAX());
    let rt = |base: i32, rest: &str, sign: i32| -> Result<i32, RuntimeError> {
        let off: i32 = if rest.is_empty() {
            0
        } else {
            rest.parse().map_err(|_| bad())?
        };
        let n = base + sign * off;
        if (rtmin..=rtmax).contains(&n) {
            Ok(n)
        } else {
            Err(bad())
        }
    };
    if let Some(rest) = short.strip_prefix("RTMIN") {
        return rt(rtmin, rest.strip_prefix('+').unwrap_or(rest), 1);
    }
    if let Some(rest) = short.strip_prefix("RTMAX") {
        return rt(rtmax, rest.strip_prefix('-').unwrap_or(rest), -1);
    }
    Err(bad())
}

/// Send `signal` to `pid`; a process that is already gone is not an error.
pub fn send_signal(pid: u32, signal: i32) -> Result<(), RuntimeError> {
    if pid == 0 || pid > i32::MAX as u32 {
        return Err(RuntimeError::InvalidPid { pid });
    }
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid as i32, signal) };
    if rc == 0 {
        return Ok(());
    }
    match Errno::last() {
        Errno::ESRCH => Ok(()),
        e => Err(RuntimeError::sys(
            format!("send signal {signal} to pid {pid}"),
            e,
        )),
    }
}

/// Wait up to `timeout` for `pid` (any process, not only our children) to exit.
/// Returns true once it has exited (a zombie counts as exited), false on timeout.
pub fn wait_for_exit(pid: u32, timeout: Duration) -> Result<bool, RuntimeError> {
    let fd = match crate::sys::pidfd_open(pid) {
        Ok(fd) => fd,
        Err(Errno::ESRCH) => return Ok(true),
        Err(e) => return Err(RuntimeError::sys(format!("pidfd_open({pid})"), e)),
    };
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let ms = left.as_millis().min(i32::MAX as u128) as i32;
        let mut pfd = libc::pollfd {
            fd: std::os::fd::AsRawFd::as_raw_fd(&fd),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: pfd is a valid pollfd for the duration of the call, count is 1.
        let rc = unsafe { libc::poll(&mut pfd, 1, ms) };
        if rc > 0 {
            return Ok(true);
        }
        if rc < 0 && Errno::last() != Errno::EINTR {
            return Err(RuntimeError::sys(
                format!("poll pidfd of pid {pid}"),
                Errno::last(),
            ));
        }
        if rc == 0 && left.is_zero() {
            return Ok(false);
        }
        if rc == 0 && Instant::now() >= deadline {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_signal_accepts_names_short_names_and_numbers() {
        assert_eq!(parse_signal("SIGTERM").unwrap(), 15);
        assert_eq!(parse_signal("TERM").unwrap(), 15);
        assert_eq!(parse_signal("term").unwrap(), 15);
        assert_eq!(parse_signal("15").unwrap(), 15);
        assert_eq!(parse_signal("SIGKILL").unwrap(), 9);
        assert_eq!(parse_signal("HUP").unwrap(), 1);
        assert_eq!(parse_signal("SIGUSR1").unwrap(), libc::SIGUSR1);
        assert_eq!(parse_signal("SIGWINCH").unwrap(), libc::SIGWINCH);
        assert_eq!(parse_signal("RTMIN").unwrap(), libc::SIGRTMIN());
        assert_eq!(parse_signal("SIGRTMIN+3").unwrap(), libc::SIGRTMIN() + 3);
        assert_eq!(parse_signal("RTMAX-1").unwrap(), libc::SIGRTMAX() - 1);
    }

    #[test]
    fn parse_signal_rejects_junk() {
        for bad in ["", "0", "65", "-9", "SIGFOO", "SIG", "RTMIN+99"] {
            let err = parse_signal(bad).unwrap_err();
            assert!(err.to_string().contains("invalid signal"), "{bad}: {err}");
        }
    }

    #[test]
    fn wait_for_exit_sees_exit_and_times_out() {
        let mut quick = std::process::Command::new("/bin/true").spawn().unwrap();
        assert!(wait_for_exit(quick.id(), Duration::from_secs(10)).unwrap());
        quick.wait().unwrap();
        let mut slow = std::process::Command::new("/bin/sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let started = Instant::now();
        assert!(!wait_for_exit(slow.id(), Duration::from_millis(100)).unwrap());
        assert!(started.elapsed() >= Duration::from_millis(100));
        send_signal(slow.id(), libc::SIGKILL).unwrap();
        assert!(wait_for_exit(slow.id(), Duration::from_secs(10)).unwrap());
        slow.wait().unwrap();
    }

    #[test]
    fn signalling_a_gone_process_is_ok() {
        let mut c = std::process::Command::new("/bin/true").spawn().unwrap();
        let pid = c.id();
        c.wait().unwrap();
        send_signal(pid, libc::SIGTERM).unwrap();
        assert!(send_signal(0, libc::SIGTERM).is_err());
    }
}
