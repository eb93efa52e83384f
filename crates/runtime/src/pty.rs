//! Pseudo-terminals for `exec -it`: the pair is made in the container's own
//! devpts instance (so the terminal has a name inside the container), the
//! command gets the slave as its controlling terminal, and the caller's
//! terminal is put in raw mode and copied to and from the master.

use crate::RuntimeError;
use nix::sys::termios::{self, SetArg, Termios};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// A pseudo-terminal pair inside the container whose init has host pid `pid`.
pub(crate) struct Pty {
    pub master: File,
    pub slave: OwnedFd,
}

impl Pty {
    pub(crate) fn open_in(pid: u32) -> Result<Self, RuntimeError> {
        let ptmx = format!("/proc/{pid}/root/dev/pts/ptmx");
        let master = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(&ptmx)
            .map_err(|e| RuntimeError::io("open the terminal multiplexer", &ptmx, e))?;
        let unlock: libc::c_int = 0;
        let mut number: libc::c_uint = 0;
        // SAFETY: TIOCSPTLCK reads an int and TIOCGPTN writes an unsigned int, both
        // locals that outlive the calls; the fd is an open ptmx.
        let ok = unsafe {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) == 0
                && libc::ioctl(master.as_raw_fd(), libc::TIOCGPTN, &mut number) == 0
        };
        if !ok {
            return Err(RuntimeError::io(
                "unlock the pseudo-terminal",
                &ptmx,
                std::io::Error::last_os_error(),
            ));
        }
        let path = format!("/proc/{pid}/root/dev/pts/{number}");
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY | libc::O_CLOEXEC)
            .open(&path)
            .map_err(|e| RuntimeError::io("open the pseudo-terminal", &path, e))?;
        copy_window_size(0, master.as_raw_fd());
        Ok(Pty {
            master,
            slave: slave.into(),
        })
    }
}

/// The caller's terminal size, if it has one, given to the pseudo-terminal.
fn copy_window_size(from: RawFd, to: RawFd) {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ fills and TIOCSWINSZ reads a winsize local to this frame.
    unsafe {
        if libc::ioctl(from, libc::TIOCGWINSZ, &mut size) == 0 {
            libc::ioctl(to, libc::TIOCSWINSZ, &size);
        }
    }
}

/// In the command's process, before exec: a new session whose controlling
/// terminal is `slave`, which also becomes stdin, stdout and stderr. Raw
/// system calls only (this runs between fork and exec).
pub(crate) fn attach_in_child(slave: RawFd) {
    // SAFETY: plain system calls on an inherited descriptor; failures leave the
    // process without a terminal, which the command then reports itself.
    unsafe {
        libc::setsid();
        libc::ioctl(slave, libc::TIOCSCTTY, 0);
        for fd in 0..3 {
            libc::dup2(slave, fd);
        }
        if slave > 2 {
            libc::close(slave);
        }
    }
}

/// The caller's terminal in raw mode until dropped.
struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    fn enter() -> Self {
        let stdin = std::io::stdin();
        let Ok(saved) = termios::tcgetattr(stdin.as_fd()) else {
            return RawMode { saved: None };
        };
        let mut raw = saved.clone();
        termios::cfmakeraw(&mut raw);
        let _ = termios::tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(saved) = &self.saved {
            let _ = termios::tcsetattr(std::io::stdin().as_fd(), SetArg::TCSANOW, saved);
        }
    }
}

/// Copy the caller's stdin to the master and the master to the caller's
/// stdout until the command's side closes (EIO once no process holds the slave).
pub(crate) fn relay(master: File) {
    let _raw = RawMode::enter();
    if let Ok(mut input) = master.try_clone() {
        // Ends with the process: a read of our stdin may still be pending then.
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 || input.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    let mut output = master;
    let mut stdout = std::io::stdout();
    let mut buf = [0u8; 8192];
    while let Ok(n) = output.read(&mut buf) {
        if n == 0 || stdout.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = stdout.flush();
    }
}
