//! Pseudo-terminals for `exec -it` and for containers started with a
//! terminal: the pair is made in the container's own devpts instance (so the
//! terminal has a name inside the container), the command gets the slave as
//! its controlling terminal, and the caller's terminal is put in raw mode and
//! copied to and from the master.
//!
//! A container's own terminal is opened by its first process itself, after
//! its root is in place, and the master is passed back to the parent over a
//! socket (`SCM_RIGHTS`): the parent cannot reach the container's devpts
//! before the child has mounted it.

use crate::RuntimeError;
use nix::sys::termios::{self, SetArg, Termios};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;

/// A pseudo-terminal pair inside a running container (for an exec's
/// terminal): the slave goes to the command, the master stays with whoever
/// relays it.
#[derive(Debug)]
pub struct Pty {
    pub master: File,
    pub slave: OwnedFd,
}

impl Pty {
    /// A new pair in the devpts of the container whose init has host pid `pid`.
    pub fn open_in(pid: u32) -> Result<Self, RuntimeError> {
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
        Ok(Pty {
            master,
            slave: slave.into(),
        })
    }
}

/// Rows and columns of a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowSize {
    pub rows: u16,
    pub cols: u16,
}

impl WindowSize {
    /// The size of the terminal open on `fd`, if it is one.
    pub fn of(fd: RawFd) -> Option<WindowSize> {
        let mut size = empty_winsize();
        // SAFETY: TIOCGWINSZ fills a winsize local to this frame.
        let ok = unsafe { libc::ioctl(fd, libc::TIOCGWINSZ, &mut size) } == 0;
        ok.then_some(WindowSize {
            rows: size.ws_row,
            cols: size.ws_col,
        })
    }

    /// Give the terminal open on `fd` this size (its foreground processes get SIGWINCH).
    pub fn apply_to(self, fd: RawFd) {
        let size = libc::winsize {
            ws_row: self.rows,
            ws_col: self.cols,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads a winsize local to this frame.
        unsafe { libc::ioctl(fd, libc::TIOCSWINSZ, &size) };
    }
}

fn empty_winsize() -> libc::winsize {
    libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    }
}

/// Copy the terminal size of `from` to `to` (SIGWINCH relaying).
pub fn copy_window_size(from: RawFd, to: RawFd) {
    let mut size = empty_winsize();
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

/// In a container's first process, once its root is in place: open a pair
/// in its devpts instance, give the slave `size`, send the master to the
/// parent over `socket`, and make the slave the controlling terminal of a
/// new session. Returns the slave, for stdin, stdout and stderr. Raw system
/// calls on the stack only (this runs between clone and exec).
pub(crate) fn open_in_child(
    rep: &crate::child::Reporter,
    socket: RawFd,
    size: WindowSize,
) -> RawFd {
    let flags = libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC;
    // SAFETY: open with a NUL-terminated path.
    let master = unsafe { libc::open(c"/dev/pts/ptmx".as_ptr(), flags) };
    if master < 0 {
        rep.setup(crate::sys::errno(), &[b"open /dev/pts/ptmx"]);
    }
    let unlock: libc::c_int = 0;
    let mut number: libc::c_uint = 0;
    // SAFETY: TIOCSPTLCK reads an int and TIOCGPTN writes an unsigned int, both
    // locals that outlive the calls; master is an open ptmx.
    let ok = unsafe {
        libc::ioctl(master, libc::TIOCSPTLCK, &unlock) == 0
            && libc::ioctl(master, libc::TIOCGPTN, &mut number) == 0
    };
    if !ok {
        rep.setup(crate::sys::errno(), &[b"unlock the pseudo-terminal"]);
    }
    let mut path = crate::child::StackPath::new();
    path.push(b"/dev/pts/");
    path.push_num(u64::from(number));
    // SAFETY: open with a NUL-terminated path.
    let slave = unsafe { libc::open(path.as_cstr().as_ptr(), flags) };
    if slave < 0 {
        rep.setup(crate::sys::errno(), &[b"open ", path.bytes()]);
    }
    size.apply_to(slave);
    if let Err(e) = send_fd(socket, master) {
        rep.setup(e, &[b"pass the terminal to the monitor"]);
    }
    // SAFETY: plain system calls on integers and descriptors we own.
    unsafe {
        libc::close(master);
        libc::close(socket);
        if libc::setsid() < 0 {
            rep.setup(crate::sys::errno(), &[b"setsid"]);
        }
        if libc::ioctl(slave, libc::TIOCSCTTY, 0) < 0 {
            rep.setup(
                crate::sys::errno(),
                &[b"make ", path.bytes(), b" the controlling terminal"],
            );
        }
    }
    slave
}

/// Send `fd` as one `SCM_RIGHTS` message with a one-byte payload, without allocating.
fn send_fd(socket: RawFd, fd: RawFd) -> Result<(), i32> {
    // Room for one cmsghdr and one int, aligned as cmsghdr needs.
    let mut control = [0u64; 4];
    let mut payload = [0u8; 1];
    let mut iov = libc::iovec {
        iov_base: payload.as_mut_ptr().cast(),
        iov_len: 1,
    };
    // SAFETY: msghdr is plain data; every pointer set below refers to locals
    // of this frame that outlive sendmsg, and CMSG_SPACE(4) fits `control`.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) as usize;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as usize;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        loop {
            if libc::sendmsg(socket, &msg, libc::MSG_NOSIGNAL) >= 0 {
                return Ok(());
            }
            let e = crate::sys::errno();
            if e != libc::EINTR {
                return Err(e);
            }
        }
    }
}

/// In the parent: the master sent by [`open_in_child`], or `None` when the
/// child ended (or failed) before sending it.
pub(crate) fn receive_master(socket: &OwnedFd) -> Option<File> {
    use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags};
    let mut payload = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut payload)];
    let mut space = nix::cmsg_space!(RawFd);
    loop {
        match recvmsg::<()>(
            socket.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(msg) => {
                for cmsg in msg.cmsgs().ok()? {
                    if let ControlMessageOwned::ScmRights(fds) = cmsg {
                        let mut fds = fds.into_iter();
                        let first = fds.next()?;
                        for extra in fds {
                            let _ = nix::unistd::close(extra);
                        }
                        // SAFETY: the descriptor was just received and is owned by nobody else.
                        return Some(unsafe {
                            <File as std::os::fd::FromRawFd>::from_raw_fd(first)
                        });
                    }
                }
                return None;
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Our stdin's terminal in raw mode until dropped (so every exit path, errors
/// included, gives the user their terminal back). Does nothing when stdin is
/// not a terminal.
#[derive(Debug)]
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    pub fn enter() -> Self {
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

/// For a container started in the foreground with a terminal: copy our
/// stdin to `master` (until its end), keep the terminal's size that of our
/// stdin (at start and on every SIGWINCH, which the caller must have blocked
/// in all its threads), and copy `master` to our stdout on the returned
/// thread, which ends when no process of the container holds the terminal
/// any more. Raw mode is the caller's business: it outlives us.
pub fn relay_terminal(master: File) -> std::thread::JoinHandle<()> {
    copy_window_size(0, master.as_raw_fd());
    if let Ok(mut input) = master.try_clone() {
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 4096];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    // A terminal has no end of input of its own: type the
                    // end-of-file key, so `echo hi | wharf run svc cat` ends.
                    let _ = input.write_all(&[4]);
                    break;
                }
                if input.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    if let Ok(resized) = master.try_clone() {
        std::thread::spawn(move || {
            let mut winch = nix::sys::signal::SigSet::empty();
            winch.add(nix::sys::signal::Signal::SIGWINCH);
            while winch.wait().is_ok() {
                copy_window_size(0, resized.as_raw_fd());
            }
        });
    }
    std::thread::spawn(move || copy_to_stdout(master))
}

/// Copy what the terminal's master reads to our stdout, as it comes, until
/// the command's side closes (EIO once no process holds the slave).
fn copy_to_stdout(mut master: File) {
    let mut stdout = std::io::stdout();
    let mut buf = [0u8; 8192];
    while let Ok(n) = master.read(&mut buf) {
        if n == 0 || stdout.write_all(&buf[..n]).is_err() {
            break;
        }
        let _ = stdout.flush();
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
    copy_to_stdout(master);
}
