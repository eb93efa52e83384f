//! What runs in a new container process between clone/fork and execve: the error
//! record sent to the parent, stack-built paths, and the final steps shared by
//! `spawn` and `exec` (working directory, user, capabilities, PATH lookup, execve).
//!
//! Everything here is prepared by the parent (`ExecPlan`) and then only used through
//! raw system calls: no allocation, no locks, no panics, so it is safe after a fork of
//! a multi-threaded process. Failures are written to a close-on-exec pipe as
//! `[kind u8][errno i32 le][message]` and the process exits.

use crate::user::{resolve_user, split_spec, GroupAddError, UserError};
use crate::RuntimeError;
use libc::c_char;
use std::ffi::{CStr, CString};
use std::os::fd::RawFd;

pub(crate) const KIND_SETUP: u8 = 1;
pub(crate) const KIND_NOT_FOUND: u8 = 2;
pub(crate) const KIND_PERMISSION: u8 = 3;

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PATH_CAP: usize = 4096;
const ID_FILE_CAP: usize = 64 * 1024;

/// Writes one failure record to the error pipe, then exits the process.
pub(crate) struct Reporter {
    pub fd: RawFd,
}

impl Reporter {
    pub(crate) fn fail(&self, kind: u8, errno: i32, parts: &[&[u8]]) -> ! {
        let mut head = [0u8; 5];
        head[0] = kind;
        head[1..].copy_from_slice(&errno.to_le_bytes());
        write_all(self.fd, &head);
        for part in parts {
            write_all(self.fd, part);
        }
        // SAFETY: _exit ends the process without running any user-space cleanup.
        unsafe { libc::_exit(1) }
    }

    pub(crate) fn setup(&self, errno: i32, parts: &[&[u8]]) -> ! {
        self.fail(KIND_SETUP, errno, parts)
    }
}

fn write_all(fd: RawFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        // SAFETY: buf is a valid readable slice of buf.len() bytes.
        let rc = unsafe { libc::write(fd, buf.as_ptr().cast(), buf.len()) };
        if rc < 0 {
            if crate::sys::errno() == libc::EINTR {
                continue;
            }
            return;
        }
        buf = &buf[rc as usize..];
    }
}

/// A failure record as the parent reads it.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Failure {
    pub kind: u8,
    pub errno: i32,
    pub message: String,
}

impl Failure {
    pub(crate) fn parse(buf: &[u8]) -> Option<Failure> {
        if buf.len() < 5 {
            return None;
        }
        Some(Failure {
            kind: buf[0],
            errno: i32::from_le_bytes([buf[1], buf[2], buf[3], buf[4]]),
            message: String::from_utf8_lossy(&buf[5..]).into_owned(),
        })
    }

    /// Docker's exit code when the command itself could not be executed: 127
    /// when it was not found, 126 when it is not executable.
    pub(crate) fn command_exit_code(&self) -> Option<i32> {
        match self.kind {
            KIND_NOT_FOUND => Some(127),
            KIND_PERMISSION => Some(126),
            _ => None,
        }
    }

    pub(crate) fn into_error(self) -> RuntimeError {
        RuntimeError::Child {
            command_exit_code: self.command_exit_code(),
            step: self.message,
            errno: self.errno,
        }
    }
}

/// A NUL-terminated path assembled on the stack.
pub(crate) struct StackPath {
    buf: [u8; PATH_CAP + 1],
    len: usize,
}

impl StackPath {
    pub(crate) fn new() -> Self {
        StackPath {
            buf: [0; PATH_CAP + 1],
            len: 0,
        }
    }

    /// Append bytes; false (and unchanged) when they do not fit.
    pub(crate) fn push(&mut self, s: &[u8]) -> bool {
        if self.len + s.len() > PATH_CAP || s.contains(&0) {
            return false;
        }
        self.buf[self.len..self.len + s.len()].copy_from_slice(s);
        self.len += s.len();
        self.buf[self.len] = 0;
        true
    }

    pub(crate) fn push_num(&mut self, mut n: u64) -> bool {
        let mut digits = [0u8; 20];
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        self.push(&digits[i..])
    }

    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    pub(crate) fn as_cstr(&self) -> &CStr {
        CStr::from_bytes_until_nul(&self.buf).unwrap_or(c"")
    }
}

/// Read a whole small file into `buf`; a missing file reads as empty.
fn read_small_file(path: &CStr, buf: &mut [u8]) -> Result<usize, i32> {
    // SAFETY: path is NUL-terminated.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        let e = crate::sys::errno();
        return if e == libc::ENOENT { Ok(0) } else { Err(e) };
    }
    let mut len = 0;
    let result = loop {
        if len == buf.len() {
            break Err(libc::EFBIG);
        }
        // SAFETY: the destination is the unused tail of buf.
        let rc = unsafe { libc::read(fd, buf[len..].as_mut_ptr().cast(), buf.len() - len) };
        if rc < 0 {
            let e = crate::sys::errno();
            if e == libc::EINTR {
                continue;
            }
            break Err(e);
        }
        if rc == 0 {
            break Ok(len);
        }
        len += rc as usize;
    };
    // SAFETY: fd was opened above and is closed once.
    unsafe { libc::close(fd) };
    result
}

/// Put every signal back to its default action and unblock all signals (the parent
/// may ignore SIGPIPE, as Rust programs do, and ignored signals survive execve).
pub(crate) fn reset_signals() {
    for sig in 1..=64 {
        if sig == libc::SIGKILL || sig == libc::SIGSTOP {
            continue;
        }
        // SAFETY: installing SIG_DFL involves no handler code; invalid numbers fail harmlessly.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
    // SAFETY: set is a local sigset_t initialised by sigemptyset before use.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigprocmask(libc::SIG_SETMASK, &set, std::ptr::null_mut());
    }
}

/// Everything the child needs to become the container's command, prepared by the
/// parent so the child only reads it.
pub(crate) struct ExecPlan {
    argv: Vec<CString>,
    argv_ptrs: Vec<*const c_char>,
    _env: Vec<CString>,
    envp_ptrs: Vec<*const c_char>,
    /// Index in `envp_ptrs` reserved for `HOME=` when the environment has none.
    home_slot: Option<usize>,
    path_env: Vec<u8>,
    cwd: CString,
    user: Vec<u8>,
    /// `group_add`: names or numbers, resolved in the container.
    extra_groups: Vec<Vec<u8>>,
    security: crate::options::ProcessSecurity,
}

// SAFETY: the raw pointers of an ExecPlan point into the CStrings it owns, which
// move with it; nothing else refers to them, so handing the plan to another thread
// (the one that clones a container from inside the namespaces it joins) is sound.
unsafe impl Send for ExecPlan {}

fn cstring(what: &'static str, s: &str) -> Result<CString, RuntimeError> {
    CString::new(s).map_err(|_| RuntimeError::NulByte {
        what,
        value: s.to_string(),
    })
}

impl ExecPlan {
    pub(crate) fn new(
        args: &[String],
        env: &[String],
        cwd: &str,
        user: Option<&str>,
    ) -> Result<Self, RuntimeError> {
        if args.is_empty() || args[0].is_empty() {
            return Err(RuntimeError::EmptyCommand);
        }
        let argv = args
            .iter()
            .map(|a| cstring("argument", a))
            .collect::<Result<Vec<_>, _>>()?;
        let env_c = env
            .iter()
            .map(|e| cstring("environment entry", e))
            .collect::<Result<Vec<_>, _>>()?;
        let mut argv_ptrs: Vec<*const c_char> = argv.iter().map(|a| a.as_ptr()).collect();
        argv_ptrs.push(std::ptr::null());
        let mut envp_ptrs: Vec<*const c_char> = env_c.iter().map(|e| e.as_ptr()).collect();
        let home_slot = if env.iter().any(|e| e.starts_with("HOME=")) {
            None
        } else {
            envp_ptrs.push(std::ptr::null());
            Some(envp_ptrs.len() - 1)
        };
        envp_ptrs.push(std::ptr::null());
        let path_env = env
            .iter()
            .rev()
            .find_map(|e| e.strip_prefix("PATH="))
            .unwrap_or(DEFAULT_PATH)
            .as_bytes()
            .to_vec();
        let cwd = if cwd.is_empty() {
            "/".to_string()
        } else if cwd.starts_with('/') {
            cwd.to_string()
        } else {
            format!("/{cwd}")
        };
        Ok(ExecPlan {
            argv,
            argv_ptrs,
            _env: env_c,
            envp_ptrs,
            home_slot,
            path_env,
            cwd: cstring("working directory", &cwd)?,
            user: user.unwrap_or("").as_bytes().to_vec(),
            extra_groups: Vec::new(),
            security: crate::options::ProcessSecurity::docker_default(),
        })
    }

    /// Add these supplementary groups (`group_add`: names or numbers).
    pub(crate) fn with_groups(mut self, groups: &[String]) -> Result<Self, RuntimeError> {
        for group in groups {
            let group = group.trim();
            if group.is_empty() || group.contains([':', ',', '\n', '\0']) {
                return Err(RuntimeError::UnknownGroup {
                    group: group.to_string(),
                });
            }
        }
        self.extra_groups = groups
            .iter()
            .map(|g| g.trim().as_bytes().to_vec())
            .collect();
        Ok(self)
    }

    /// Use these capabilities, rlimits, no_new_privs and seccomp program.
    pub(crate) fn with_security(mut self, security: crate::options::ProcessSecurity) -> Self {
        self.security = security;
        self
    }

    pub(crate) fn cwd(&self) -> &CStr {
        &self.cwd
    }

    /// Final steps inside the container root: chdir, user and groups, capabilities,
    /// stdio (spawn only), close-on-exec for inherited descriptors, PATH lookup and
    /// execve. Never returns: on failure the record goes to `rep`.
    pub(crate) fn finish(&mut self, rep: &Reporter, stdio: Option<[RawFd; 3]>) -> ! {
        // SAFETY: cwd is NUL-terminated.
        if unsafe { libc::chdir(self.cwd.as_ptr()) } < 0 {
            rep.setup(
                crate::sys::errno(),
                &[b"chdir to working directory ", self.cwd.to_bytes()],
            );
        }

        let mut passwd = [0u8; ID_FILE_CAP];
        let mut group = [0u8; ID_FILE_CAP];
        let pw_len = read_small_file(c"/etc/passwd", &mut passwd)
            .unwrap_or_else(|e| rep.setup(e, &[b"read /etc/passwd"]));
        let gr_len = read_small_file(c"/etc/group", &mut group)
            .unwrap_or_else(|e| rep.setup(e, &[b"read /etc/group"]));
        let (user_arg, group_arg) = split_spec(&self.user);
        let mut user = match resolve_user(&self.user, &passwd[..pw_len], &group[..gr_len]) {
            Ok(u) => u,
            Err(UserError::NoSuchUser) => rep.setup(
                0,
                &[
                    b"unable to find user ",
                    user_arg,
                    b": no matching entries in passwd file",
                ],
            ),
            Err(UserError::NoSuchGroup) => rep.setup(
                0,
                &[
                    b"unable to find group ",
                    group_arg,
                    b": no matching entries in group file",
                ],
            ),
        };
        let extra = self.extra_groups.iter().map(Vec::as_slice);
        match user.add_groups(extra, &group[..gr_len]) {
            Ok(()) => {}
            Err(GroupAddError::NoSuchGroup(name)) => rep.setup(
                0,
                &[
                    b"unable to find group ",
                    name,
                    b" (group_add): no matching entries in group file",
                ],
            ),
            Err(GroupAddError::TooMany) => {
                rep.setup(libc::E2BIG, &[b"too many supplementary groups (group_add)"])
            }
        }
        let mut home = StackPath::new();
        if let Some(slot) = self.home_slot {
            if home.push(b"HOME=") && home.push(user.home()) {
                self.envp_ptrs[slot] = home.as_cstr().as_ptr();
            }
        }

        for &(resource, soft, hard) in &self.security.rlimits {
            let lim = libc::rlimit64 {
                rlim_cur: soft,
                rlim_max: hard,
            };
            // SAFETY: prlimit64 on ourselves (pid 0) with a valid new limit and no old one.
            let rc = unsafe {
                libc::syscall(
                    libc::SYS_prlimit64,
                    0,
                    resource,
                    &lim as *const libc::rlimit64,
                    std::ptr::null_mut::<libc::rlimit64>(),
                )
            };
            if rc < 0 {
                let mut n = StackPath::new();
                n.push_num(u64::from(resource));
                rep.setup(
                    crate::sys::errno(),
                    &[b"set ulimit (resource ", n.bytes(), b")"],
                );
            }
        }
        let caps = self.security.caps;
        if let Err((e, cap)) = crate::caps::limit_bounding_set(caps) {
            let mut n = StackPath::new();
            n.push_num(u64::from(cap));
            rep.setup(
                e,
                &[b"drop capability ", n.bytes(), b" from the bounding set"],
            );
        }
        if self.security.no_new_privs {
            // SAFETY: prctl(PR_SET_NO_NEW_PRIVS) takes integers only.
            if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } < 0 {
                rep.setup(crate::sys::errno(), &[b"prctl(PR_SET_NO_NEW_PRIVS)"]);
            }
        }
        // The filter goes in while CAP_SYS_ADMIN is still held, so it needs no
        // no_new_privs; everything after this point is allowed by Docker's profile.
        if let Some(program) = &self.security.seccomp {
            if let Err(e) = program.install() {
                rep.setup(e, &[b"install the seccomp filter"]);
            }
        }
        // SAFETY: the following are plain system calls on integers and on the
        // sgids slice, valid for its length. Raw syscalls (not glibc's wrappers) so
        // that only this thread changes ids, with no cross-thread signalling.
        unsafe {
            if libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 {
                rep.setup(crate::sys::errno(), &[b"prctl(PR_SET_KEEPCAPS)"]);
            }
            let sg = user.sgids();
            if libc::syscall(libc::SYS_setgroups, sg.len(), sg.as_ptr()) < 0 {
                rep.setup(crate::sys::errno(), &[b"setgroups"]);
            }
            if libc::syscall(libc::SYS_setresgid, user.gid, user.gid, user.gid) < 0 {
                rep.setup(crate::sys::errno(), &[b"setgid"]);
            }
            if libc::syscall(libc::SYS_setresuid, user.uid, user.uid, user.uid) < 0 {
                rep.setup(crate::sys::errno(), &[b"setuid"]);
            }
        }
        if let Err(e) = crate::sys::capset(caps, caps, 0) {
            rep.setup(e, &[b"set capabilities (capset)"]);
        }
        // SAFETY: umask only changes the process file creation mask.
        unsafe { libc::umask(0o022) };

        if let Some([stdin, stdout, stderr]) = stdio {
            for (from, to) in [(stdin, 0), (stdout, 1), (stderr, 2)] {
                // SAFETY: dup2 on descriptors the parent prepared (all >= 3).
                if unsafe { libc::dup2(from, to) } < 0 {
                    rep.setup(crate::sys::errno(), &[b"set up stdio (dup2)"]);
                }
            }
        }
        if let Err(e) = crate::sys::cloexec_from(3) {
            rep.setup(e, &[b"close inherited descriptors (close_range)"]);
        }
        self.execute(rep)
    }

    fn execute(&self, rep: &Reporter) -> ! {
        let arg0 = self.argv[0].to_bytes();
        let envp = self.envp_ptrs.as_ptr();
        let argv = self.argv_ptrs.as_ptr();
        if arg0.contains(&b'/') {
            // SAFETY: argv and envp are NULL-terminated arrays of valid C strings.
            unsafe { libc::execve(self.argv[0].as_ptr(), argv, envp) };
            let e = crate::sys::errno();
            match e {
                libc::ENOENT => rep.fail(
                    KIND_NOT_FOUND,
                    e,
                    &[
                        b"exec: \"",
                        arg0,
                        b"\": stat ",
                        arg0,
                        b": no such file or directory",
                    ],
                ),
                libc::EACCES => rep.fail(
                    KIND_PERMISSION,
                    e,
                    &[b"exec: \"", arg0, b"\": permission denied"],
                ),
                _ => rep.setup(e, &[b"exec ", arg0]),
            }
        }
        let mut denied = false;
        for dir in self.path_env.split(|b| *b == b':') {
            let mut candidate = StackPath::new();
            let dir: &[u8] = if dir.is_empty() { b"." } else { dir };
            if !(candidate.push(dir) && candidate.push(b"/") && candidate.push(arg0)) {
                continue;
            }
            // SAFETY: candidate is NUL-terminated; argv and envp as above.
            unsafe { libc::execve(candidate.as_cstr().as_ptr(), argv, envp) };
            match crate::sys::errno() {
                libc::ENOENT | libc::ENOTDIR | libc::ELOOP | libc::ENAMETOOLONG => {}
                libc::EACCES => denied = true,
                e => rep.setup(e, &[b"exec ", candidate.bytes()]),
            }
        }
        if denied {
            rep.fail(
                KIND_PERMISSION,
                libc::EACCES,
                &[b"exec: \"", arg0, b"\": permission denied"],
            )
        }
        rep.fail(
            KIND_NOT_FOUND,
            libc::ENOENT,
            &[b"exec: \"", arg0, b"\": executable file not found in $PATH"],
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stack_path_builds_fd_paths_and_refuses_overflow() {
        let mut p = StackPath::new();
        assert!(p.push(b"/proc/self/fd/") && p.push_num(42));
        assert_eq!(p.as_cstr(), c"/proc/self/fd/42");
        let mut q = StackPath::new();
        assert!(q.push_num(0));
        assert_eq!(q.bytes(), b"0");
        assert!(!q.push(&[b'a'; PATH_CAP]));
        assert_eq!(q.bytes(), b"0");
    }

    #[test]
    fn failure_record_round_trip() {
        let mut buf = vec![KIND_NOT_FOUND];
        buf.extend_from_slice(&2i32.to_le_bytes());
        buf.extend_from_slice(b"exec: \"x\": not found");
        let f = Failure::parse(&buf).unwrap();
        assert_eq!(
            (f.kind, f.errno, f.message.as_str()),
            (KIND_NOT_FOUND, 2, "exec: \"x\": not found")
        );
        assert!(Failure::parse(b"").is_none());
    }

    #[test]
    fn exec_plan_reserves_home_and_finds_path() {
        let p = ExecPlan::new(
            &["sh".into()],
            &["PATH=/bin".into(), "A=b".into()],
            "work",
            None,
        )
        .unwrap();
        assert_eq!(p.home_slot, Some(2));
        assert_eq!(p.envp_ptrs.len(), 4);
        assert_eq!(p.path_env, b"/bin");
        assert_eq!(p.cwd(), c"/work");
        let p = ExecPlan::new(&["sh".into()], &["HOME=/x".into()], "", Some("1:2")).unwrap();
        assert_eq!(p.home_slot, None);
        assert_eq!(p.path_env, DEFAULT_PATH.as_bytes());
        assert!(ExecPlan::new(&[], &[], "/", None).is_err());
    }
}
