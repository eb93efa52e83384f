//! Thin wrappers over system calls that `nix` 0.29 does not offer (clone without a
//! stack, openat2, mount_setattr, pidfd_open, capset, close_range). The ones used in
//! a freshly cloned child take C strings and return raw errnos: no allocation.

use nix::errno::Errno;
use std::ffi::CStr;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// The calling thread's errno.
pub(crate) fn errno() -> i32 {
    Errno::last_raw()
}

/// `clone(2)` with namespace flags and no new stack: fork semantics (the child gets a
/// copy-on-write copy of the address space and returns from this call with 0).
///
/// Why the raw syscall: glibc's `fork()` cannot take namespace flags, and
/// `nix::sched::clone` (glibc `clone()`) needs a separately allocated stack and runs a
/// callback on it. The raw syscall with a NULL stack behaves like fork, so the child
/// simply continues on its copy of the current stack. It skips glibc's atfork handlers,
/// which is fine because the child only makes raw system calls until `execve`.
pub(crate) fn clone_fork(flags: libc::c_ulong) -> Result<libc::pid_t, Errno> {
    // SAFETY: clone with a NULL stack pointer and without CLONE_VM/CLONE_THREAD
    // duplicates the process like fork(); no pointers are passed to the kernel (the
    // tid/tls arguments are unused without the matching flags).
    let rc = unsafe { libc::syscall(libc::SYS_clone, flags, 0usize, 0usize, 0usize, 0usize) };
    if rc < 0 {
        Err(Errno::last())
    } else {
        Ok(rc as libc::pid_t)
    }
}

/// A pidfd for `pid` (kernel 5.3+).
pub(crate) fn pidfd_open(pid: u32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes two integers and returns a new descriptor or -1.
    let rc = unsafe { libc::syscall(libc::SYS_pidfd_open, pid as libc::pid_t, 0u32) };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: rc is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}

#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

const RESOLVE_NO_MAGICLINKS: u64 = 0x02;
const RESOLVE_IN_ROOT: u64 = 0x10;

/// Open `path` below the directory `root` as if `root` were `/`: `..` and absolute
/// symlinks cannot leave it (openat2 with RESOLVE_IN_ROOT). Returns an O_PATH fd.
pub(crate) fn open_in_root(root: RawFd, path: &CStr) -> Result<RawFd, i32> {
    let how = OpenHow {
        flags: (libc::O_PATH | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve: RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    };
    // SAFETY: path is NUL-terminated, how is a valid open_how of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            root,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc as RawFd)
    }
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

const MOUNT_ATTR_RDONLY: u64 = 0x1;

/// Make the mount at `dirfd`/`path` and every mount below it read-only
/// (mount_setattr, kernel 5.12+). `path` may be empty with `AT_EMPTY_PATH` in `flags`.
pub(crate) fn make_readonly_recursive(
    dirfd: RawFd,
    path: &CStr,
    flags: libc::c_uint,
) -> Result<(), i32> {
    let attr = MountAttr {
        attr_set: MOUNT_ATTR_RDONLY,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    // SAFETY: path is NUL-terminated, attr is a valid mount_attr of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            dirfd,
            path.as_ptr(),
            flags | libc::AT_RECURSIVE as libc::c_uint,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// Set the calling thread's effective, permitted and inheritable capability sets.
pub(crate) fn capset(effective: u64, permitted: u64, inheritable: u64) -> Result<(), i32> {
    let mut header = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let lo = |v: u64| v as u32;
    let hi = |v: u64| (v >> 32) as u32;
    let data = [
        CapData {
            effective: lo(effective),
            permitted: lo(permitted),
            inheritable: lo(inheritable),
        },
        CapData {
            effective: hi(effective),
            permitted: hi(permitted),
            inheritable: hi(inheritable),
        },
    ];
    // SAFETY: header and data are valid v3 structures (two data elements) for the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Mark every descriptor from `first` up close-on-exec (kernel 5.11+).
pub(crate) fn cloexec_from(first: u32) -> Result<(), i32> {
    // SAFETY: close_range with CLOSE_RANGE_CLOEXEC only sets flags on descriptors.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_close_range,
            first,
            u32::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Make the calling process non-dumpable (PR_SET_DUMPABLE 0): other processes of the
/// same user without CAP_SYS_PTRACE can no longer open its `/proc/<pid>/` files, among
/// them `exe`. Kept across fork, reset by execve.
pub(crate) fn set_non_dumpable() {
    // SAFETY: prctl(PR_SET_DUMPABLE) takes integers only.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
}

/// Close every descriptor from `first` up (kernel 5.9+).
pub(crate) fn close_from(first: u32) -> Result<(), i32> {
    // SAFETY: close_range only closes descriptors of the calling process.
    let rc = unsafe { libc::syscall(libc::SYS_close_range, first, u32::MAX, 0u32) };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// Move the calling thread into the namespace `fd` refers to (`nstype` is its
/// `CLONE_NEW*` flag).
pub(crate) fn setns(fd: RawFd, nstype: libc::c_int) -> Result<(), i32> {
    // SAFETY: setns takes a descriptor and a flag; it touches no memory of ours.
    if unsafe { libc::setns(fd, nstype) } < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

const OPEN_TREE_CLONE: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;

/// A detached copy of the mount at the O_PATH descriptor `fd` (open_tree with
/// OPEN_TREE_CLONE, kernel 5.2+), not recursive.
pub(crate) fn clone_mount(fd: RawFd) -> Result<RawFd, i32> {
    let flags =
        OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint | libc::AT_EMPTY_PATH as libc::c_uint;
    // SAFETY: an empty NUL-terminated path relative to a descriptor we own.
    let rc = unsafe { libc::syscall(libc::SYS_open_tree, fd, c"".as_ptr(), flags) };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(rc as RawFd)
    }
}

/// Attach the detached mount `tree` onto the directory descriptor `target`.
pub(crate) fn attach_mount(tree: RawFd, target: RawFd) -> Result<(), i32> {
    // SAFETY: empty NUL-terminated paths relative to descriptors we own.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree,
            c"".as_ptr(),
            target,
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if rc < 0 {
        Err(errno())
    } else {
        Ok(())
    }
}

/// `RESOLVE_*` flags of openat2(2).
pub(crate) mod resolve {
    pub const NO_MAGICLINKS: u64 = 0x02;
    pub const NO_SYMLINKS: u64 = 0x04;
    pub const BENEATH: u64 = 0x08;
    pub const IN_ROOT: u64 = 0x10;
}

/// openat2(2) with any open flags and resolve flags; an owned descriptor.
pub(crate) fn openat2(
    dirfd: RawFd,
    path: &CStr,
    flags: libc::c_int,
    resolve: u64,
) -> Result<OwnedFd, Errno> {
    let how = OpenHow {
        flags: (flags | libc::O_CLOEXEC) as u64,
        mode: 0,
        resolve,
    };
    // SAFETY: path is NUL-terminated, how is a valid open_how of the size passed.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dirfd,
            path.as_ptr(),
            &how as *const OpenHow,
            std::mem::size_of::<OpenHow>(),
        )
    };
    if rc < 0 {
        return Err(Errno::last());
    }
    // SAFETY: rc is a freshly created descriptor that nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(rc as RawFd) })
}
