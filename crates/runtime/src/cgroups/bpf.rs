//! Load a device program with bpf(2) and attach it to a v2 cgroup, replacing any
//! device program an earlier start left on the same cgroup.
//!
//! The program is attached with `BPF_F_ALLOW_MULTI`, so a manager nested below
//! (a privileged container running its own containers) can still attach its own;
//! the kernel then allows an access only when every program on the path allows it.
//! Once attached the kernel holds the program: our descriptor is closed on return.

use super::devices::{compile, DeviceRule, Insn};
use crate::RuntimeError;
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

const BPF_PROG_LOAD: libc::c_int = 5;
const BPF_PROG_ATTACH: libc::c_int = 8;
const BPF_PROG_DETACH: libc::c_int = 9;
const BPF_PROG_GET_FD_BY_ID: libc::c_int = 13;
const BPF_PROG_QUERY: libc::c_int = 16;
const BPF_PROG_TYPE_CGROUP_DEVICE: u32 = 15;
const BPF_CGROUP_DEVICE: u32 = 6;
const BPF_F_ALLOW_MULTI: u32 = 2;

/// The `BPF_PROG_LOAD` part of `union bpf_attr`, up to `expected_attach_type`.
#[repr(C)]
#[derive(Default)]
struct ProgLoadAttr {
    prog_type: u32,
    insn_cnt: u32,
    insns: u64,
    license: u64,
    log_level: u32,
    log_size: u32,
    log_buf: u64,
    kern_version: u32,
    prog_flags: u32,
    prog_name: [u8; 16],
    prog_ifindex: u32,
    expected_attach_type: u32,
}

/// The `BPF_PROG_ATTACH` / `BPF_PROG_DETACH` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct AttachAttr {
    target_fd: u32,
    attach_bpf_fd: u32,
    attach_type: u32,
    attach_flags: u32,
    replace_bpf_fd: u32,
}

/// The `BPF_PROG_QUERY` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct QueryAttr {
    target_fd: u32,
    attach_type: u32,
    query_flags: u32,
    attach_flags: u32,
    prog_ids: u64,
    prog_cnt: u32,
}

/// The `BPF_PROG_GET_FD_BY_ID` part of `union bpf_attr`.
#[repr(C)]
#[derive(Default)]
struct GetFdAttr {
    prog_id: u32,
    next_id: u32,
    open_flags: u32,
}

fn bpf<T>(cmd: libc::c_int, attr: &mut T) -> io::Result<libc::c_long> {
    // SAFETY: `attr` is a live, initialised `repr(C)` prefix of `union bpf_attr`
    // for `cmd`, and its size is passed, so the kernel reads and writes only it
    // (and the buffers its pointer fields name, which the callers keep alive).
    let ret = unsafe {
        libc::syscall(
            libc::SYS_bpf,
            cmd,
            attr as *mut T,
            std::mem::size_of::<T>() as libc::c_uint,
        )
    };
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn owned_fd(raw: libc::c_long) -> OwnedFd {
    // SAFETY: bpf(2) returned a new descriptor that nothing else owns.
    unsafe { OwnedFd::from_raw_fd(raw as i32) }
}

/// Why the kernel may refuse a step, in words a user can act on.
fn hint(step: &str, e: &io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) if step.starts_with("attach") => {
            "the kernel refused the attach: wharf needs CAP_SYS_ADMIN, and an ancestor \
             cgroup must not hold a device program attached without BPF_F_ALLOW_MULTI \
             (move the cgroup parent out of such a subtree)"
                .into()
        }
        Some(libc::EPERM) | Some(libc::EACCES) => {
            "loading BPF programs needs CAP_SYS_ADMIN (or CAP_BPF); run wharf as root on \
             the host, not inside a container without it"
                .into()
        }
        Some(libc::ENOSYS) => "this kernel has no bpf(2) (CONFIG_BPF_SYSCALL)".into(),
        Some(libc::EINVAL) => {
            "this kernel cannot attach device programs to cgroups (CONFIG_CGROUP_BPF)".into()
        }
        _ => "containers cannot start without a device filter on cgroup v2".into(),
    }
}

fn filter_error(step: &'static str, cgroup: &Path, source: io::Error) -> RuntimeError {
    RuntimeError::DeviceFilter {
        hint: hint(step, &source),
        step,
        cgroup: cgroup.to_path_buf(),
        source,
    }
}

/// Replace the device program of the v2 cgroup at `dir` with one that allows
/// exactly `rules`.
pub(crate) fn install_device_filter(dir: &Path, rules: &[DeviceRule]) -> Result<(), RuntimeError> {
    let path = CString::new(dir.as_os_str().as_bytes()).map_err(|_| RuntimeError::NulByte {
        what: "cgroup path",
        value: dir.display().to_string(),
    })?;
    // SAFETY: opening a NUL-terminated path; the result is checked.
    let raw = unsafe {
        libc::open(
            path.as_ptr(),
            libc::O_DIRECTORY | libc::O_RDONLY | libc::O_CLOEXEC,
        )
    };
    if raw < 0 {
        return Err(RuntimeError::io(
            "open cgroup directory",
            dir,
            io::Error::last_os_error(),
        ));
    }
    let cgroup = owned_fd(raw.into());
    let program = load(&compile(rules)).map_err(|(e, log)| {
        let mut err = filter_error("load the device program", dir, e);
        if let (RuntimeError::DeviceFilter { hint, .. }, false) = (&mut err, log.is_empty()) {
            *hint = format!("the verifier said: {log}");
        }
        err
    })?;
    let previous =
        attached_programs(&cgroup).map_err(|e| filter_error("list the device programs", dir, e))?;
    let mut attach = AttachAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_bpf_fd: program.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        attach_flags: BPF_F_ALLOW_MULTI,
        ..AttachAttr::default()
    };
    bpf(BPF_PROG_ATTACH, &mut attach)
        .map_err(|e| filter_error("attach the device program", dir, e))?;
    for id in previous {
        let mut get = GetFdAttr {
            prog_id: id,
            ..GetFdAttr::default()
        };
        let old = match bpf(BPF_PROG_GET_FD_BY_ID, &mut get) {
            Ok(fd) => owned_fd(fd),
            // Detached and freed since we listed it.
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => continue,
            Err(e) => return Err(filter_error("open an earlier device program", dir, e)),
        };
        let mut detach = AttachAttr {
            target_fd: cgroup.as_raw_fd() as u32,
            attach_bpf_fd: old.as_raw_fd() as u32,
            attach_type: BPF_CGROUP_DEVICE,
            ..AttachAttr::default()
        };
        match bpf(BPF_PROG_DETACH, &mut detach) {
            Ok(_) => {}
            Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
            Err(e) => return Err(filter_error("detach an earlier device program", dir, e)),
        }
    }
    Ok(())
}

/// Load the program; on failure the error and the verifier's log (from a second
/// attempt with logging, so a successful load never pays for the log).
fn load(program: &[Insn]) -> Result<OwnedFd, (io::Error, String)> {
    let code: Vec<u8> = program.iter().flat_map(Insn::encode).collect();
    let license = c"Apache-2.0";
    let mut name = [0u8; 16];
    name[..13].copy_from_slice(b"wharf_devices");
    let attr = || ProgLoadAttr {
        prog_type: BPF_PROG_TYPE_CGROUP_DEVICE,
        insn_cnt: program.len() as u32,
        insns: code.as_ptr() as u64,
        license: license.as_ptr() as u64,
        prog_name: name,
        ..ProgLoadAttr::default()
    };
    let error = match bpf(BPF_PROG_LOAD, &mut attr()) {
        Ok(fd) => return Ok(owned_fd(fd)),
        Err(e) => e,
    };
    let mut log = vec![0u8; 64 * 1024];
    let mut logged = ProgLoadAttr {
        log_level: 1,
        log_size: log.len() as u32,
        log_buf: log.as_mut_ptr() as u64,
        ..attr()
    };
    if let Ok(fd) = bpf(BPF_PROG_LOAD, &mut logged) {
        return Ok(owned_fd(fd));
    }
    let end = log.iter().position(|b| *b == 0).unwrap_or(log.len());
    let text = String::from_utf8_lossy(&log[..end]).trim().to_string();
    Err((error, text))
}

/// The ids of the device programs attached to `cgroup` itself.
fn attached_programs(cgroup: &OwnedFd) -> io::Result<Vec<u32>> {
    let mut ids = vec![0u32; 64];
    let mut query = QueryAttr {
        target_fd: cgroup.as_raw_fd() as u32,
        attach_type: BPF_CGROUP_DEVICE,
        prog_ids: ids.as_mut_ptr() as u64,
        prog_cnt: ids.len() as u32,
        ..QueryAttr::default()
    };
    bpf(BPF_PROG_QUERY, &mut query)?;
    ids.truncate(query.prog_cnt as usize);
    Ok(ids)
}
