//! The process and security options of a container (`ProcessOptions`, `Security`),
//! whose `Default` is Docker's default, and their validation and preparation in the
//! parent: everything the container process needs is turned into plain data here.

use crate::cgroups::{DeviceRule, DeviceType};
use crate::seccomp::{self, Program, SeccompProfile};
use crate::RuntimeError;
use std::ffi::CString;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::PathBuf;

/// One `ulimits:` entry. -1 means unlimited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ulimit {
    /// `nofile`, `nproc`, `core`, `memlock`, `stack`, `cpu`, `data`, `fsize`, `locks`,
    /// `msgqueue`, `nice`, `rss`, `rtprio`, `rttime`, `sigpending`, `as`.
    pub name: String,
    pub soft: i64,
    pub hard: i64,
}

/// Process options. `Default` = Docker's defaults (inherited rlimits, no sysctls, a
/// 64 MiB /dev/shm, no domain name, pid, IPC and UTS namespaces of its own, no init).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProcessOptions {
    pub ulimits: Vec<Ulimit>,
    /// Written to `/proc/<pid>/oom_score_adj` by the parent before the release.
    pub oom_score_adj: Option<i32>,
    /// Namespaced sysctls only (see [`check_sysctl`]), e.g. `net.core.somaxconn`.
    pub sysctls: Vec<(String, String)>,
    /// Size of the /dev/shm tmpfs in bytes; `None` = 64 MiB.
    pub shm_size: Option<u64>,
    pub domainname: Option<String>,
    /// Run a minimal init as the container's first process, which starts the
    /// command as its child (`init: true`; see `init`).
    pub init: bool,
    pub pid_namespace: Namespace,
    /// With [`Namespace::Join`] the container also gets the /dev/shm of the one
    /// it joins; with [`Namespace::Host`], the host's /dev/shm.
    pub ipc_namespace: Namespace,
    /// [`Namespace::Join`] is refused: the container's own, or the host's.
    pub uts_namespace: Namespace,
    /// No /dev/shm at all (`ipc: none`).
    pub no_shm: bool,
    /// Supplementary groups on top of the user's (`group_add`): names from the
    /// container's /etc/group, or numbers.
    pub group_add: Vec<String>,
}

/// Where one namespace of a container comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Namespace {
    /// A new one, the container's own.
    #[default]
    New,
    /// The caller's (the host's): none of its own.
    Host,
    /// The one the process with this pid is in (another container's first process).
    Join(u32),
}

/// A host device made available in the container (`devices:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub host_path: PathBuf,
    /// Absolute path in the container; empty = same as `host_path`.
    pub container_path: String,
    /// Any of `r`, `w`, `m`; empty = `rwm`.
    pub permissions: String,
}

/// Security options. `Default` = Docker's defaults: the 14 default capabilities, the
/// default seccomp profile, Docker's masked and read-only paths, no no_new_privs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Security {
    /// All capabilities, every host device, no seccomp, writable /sys, no masked or
    /// read-only paths.
    pub privileged: bool,
    /// Capability names (`NET_ADMIN`, `CAP_NET_ADMIN`, any case) or `ALL`.
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    /// Remount the root read-only once it is set up (mounts, /dev, /proc, /sys and
    /// tmpfs stay as configured).
    pub read_only_rootfs: bool,
    pub devices: Vec<Device>,
    /// `security_opt: [no-new-privileges]`.
    pub no_new_privileges: bool,
    pub seccomp: SeccompProfile,
    /// Where compiled seccomp programs are cached (e.g. `/var/lib/wharf/seccomp`);
    /// `None` compiles every time.
    pub seccomp_cache_dir: Option<PathBuf>,
}

impl Security {
    /// Check these settings and `ulimits` as `spawn` would (capability names,
    /// the seccomp profile, ulimit names and ranges) without starting
    /// anything, so a mistake is reported before a container is created.
    pub fn validate(&self, ulimits: &[Ulimit]) -> Result<(), RuntimeError> {
        ProcessSecurity::prepare(self, ulimits).map(|_| ())
    }
}

/// What the container process applies after the user switch preparations, shared by
/// `spawn` and `exec`.
#[derive(Debug)]
pub(crate) struct ProcessSecurity {
    pub caps: u64,
    pub no_new_privs: bool,
    pub seccomp: Option<Program>,
    /// (resource, soft, hard) for prlimit64.
    pub rlimits: Vec<(u32, u64, u64)>,
}

impl ProcessSecurity {
    /// Docker's defaults without seccomp (the compatible `exec`).
    pub(crate) fn docker_default() -> Self {
        ProcessSecurity {
            caps: crate::caps::default_mask(),
            no_new_privs: false,
            seccomp: None,
            rlimits: Vec::new(),
        }
    }

    pub(crate) fn prepare(sec: &Security, ulimits: &[Ulimit]) -> Result<Self, RuntimeError> {
        let caps = crate::caps::resolve_capabilities(sec.privileged, &sec.cap_add, &sec.cap_drop)?;
        let seccomp = if sec.privileged {
            None
        } else {
            seccomp::prepare(&sec.seccomp, caps, sec.seccomp_cache_dir.as_deref())?
        };
        Ok(ProcessSecurity {
            caps,
            no_new_privs: sec.no_new_privileges,
            seccomp,
            rlimits: prepare_ulimits(ulimits)?,
        })
    }
}

const RLIMITS: [(&str, u32); 16] = [
    ("cpu", libc::RLIMIT_CPU),
    ("fsize", libc::RLIMIT_FSIZE),
    ("data", libc::RLIMIT_DATA),
    ("stack", libc::RLIMIT_STACK),
    ("core", libc::RLIMIT_CORE),
    ("rss", libc::RLIMIT_RSS),
    ("nproc", libc::RLIMIT_NPROC),
    ("nofile", libc::RLIMIT_NOFILE),
    ("memlock", libc::RLIMIT_MEMLOCK),
    ("as", libc::RLIMIT_AS),
    ("locks", libc::RLIMIT_LOCKS),
    ("sigpending", libc::RLIMIT_SIGPENDING),
    ("msgqueue", libc::RLIMIT_MSGQUEUE),
    ("nice", libc::RLIMIT_NICE),
    ("rtprio", libc::RLIMIT_RTPRIO),
    ("rttime", libc::RLIMIT_RTTIME),
];

fn prepare_ulimits(ulimits: &[Ulimit]) -> Result<Vec<(u32, u64, u64)>, RuntimeError> {
    let conv = |v: i64, u: &Ulimit| -> Result<u64, RuntimeError> {
        match v {
            -1 => Ok(libc::RLIM_INFINITY),
            v if v >= 0 => Ok(v as u64),
            _ => Err(RuntimeError::InvalidUlimit {
                name: u.name.clone(),
                reason: format!("{v} is not a limit (use a number, or -1 for unlimited)"),
            }),
        }
    };
    ulimits
        .iter()
        .map(|u| {
            let name = u.name.trim().to_ascii_lowercase();
            let name = name.strip_prefix("rlimit_").unwrap_or(&name);
            let Some((_, res)) = RLIMITS.iter().find(|(n, _)| *n == name) else {
                let known: Vec<&str> = RLIMITS.iter().map(|(n, _)| *n).collect();
                return Err(RuntimeError::UnknownUlimit {
                    name: u.name.clone(),
                    known: known.join(", "),
                });
            };
            let (soft, hard) = (conv(u.soft, u)?, conv(u.hard, u)?);
            if soft > hard {
                return Err(RuntimeError::InvalidUlimit {
                    name: u.name.clone(),
                    reason: format!(
                        "the soft limit {} is above the hard limit {}",
                        u.soft, u.hard
                    ),
                });
            }
            Ok((*res, soft, hard))
        })
        .collect()
}

/// Whether a sysctl may be set for a container: only ones the kernel namespaces (as
/// Docker allows): `kernel.shm*`, `kernel.msg*`, `kernel.sem`, `fs.mqueue.*` (ipc
/// namespace) and `net.*` when the container has its own network namespace.
pub fn check_sysctl(key: &str, new_netns: bool) -> Result<(), RuntimeError> {
    check_sysctl_in(key, new_netns, true)
}

/// [`check_sysctl`] for a container that may share its IPC namespace: the IPC
/// ones need one of its own (`new_ipcns`), or they would change the host's or
/// another container's.
pub fn check_sysctl_in(key: &str, new_netns: bool, new_ipcns: bool) -> Result<(), RuntimeError> {
    let ipc = matches!(
        key,
        "kernel.sem" | "kernel.shmall" | "kernel.shmmax" | "kernel.shmmni"
    ) || key == "kernel.shm_rmid_forced"
        || key.starts_with("kernel.msg")
        || key.starts_with("fs.mqueue.");
    let valid_chars = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-' || b == b'/')
        && !key.contains("..")
        && !key.starts_with('.');
    if valid_chars && ipc {
        return if new_ipcns {
            Ok(())
        } else {
            Err(RuntimeError::SysctlNotAllowed { key: key.to_string(), reason: "cannot be set: the container shares the IPC namespace of the host or of another container (ipc), so it would change theirs" })
        };
    }
    if valid_chars && key.starts_with("net.") {
        return if new_netns {
            Ok(())
        } else {
            Err(RuntimeError::SysctlNotAllowed { key: key.to_string(), reason: "cannot be set: the container shares the host's network namespace (network_mode: host), so it would change the host" })
        };
    }
    Err(RuntimeError::SysctlNotAllowed { key: key.to_string(), reason: "is not allowed: it is not namespaced, so setting it would change the whole host; only net.* (with a private network), kernel.shm*, kernel.msg*, kernel.sem and fs.mqueue.* can be set per container" })
}

/// A sysctl as the container process writes it: `/proc/sys/net/core/somaxconn`.
pub(crate) fn sysctl_files(
    sysctls: &[(String, String)],
    new_netns: bool,
    new_ipcns: bool,
) -> Result<Vec<(CString, CString)>, RuntimeError> {
    sysctls
        .iter()
        .map(|(k, v)| {
            check_sysctl_in(k, new_netns, new_ipcns)?;
            let path = format!("/proc/sys/{}", k.replace('.', "/"));
            let nul = || RuntimeError::NulByte {
                what: "sysctl",
                value: format!("{k}={v}"),
            };
            Ok((
                CString::new(path).map_err(|_| nul())?,
                CString::new(v.as_str()).map_err(|_| nul())?,
            ))
        })
        .collect()
}

/// A device node the container process creates (relative to the container root).
#[derive(Debug)]
pub(crate) struct DeviceNode {
    pub path: CString,
    pub mode: u32,
    pub rdev: u64,
    pub uid: u32,
    pub gid: u32,
}

/// Stat the host devices, giving the nodes to create and the v1 devices cgroup rules.
pub(crate) fn prepare_devices(
    devices: &[Device],
) -> Result<(Vec<DeviceNode>, Vec<DeviceRule>), RuntimeError> {
    let mut nodes = Vec::new();
    let mut rules = Vec::new();
    for d in devices {
        let meta = std::fs::metadata(&d.host_path)
            .map_err(|e| RuntimeError::io("stat device", &d.host_path, e))?;
        let ft = meta.file_type();
        let kind = if ft.is_char_device() {
            DeviceType::Char
        } else if ft.is_block_device() {
            DeviceType::Block
        } else {
            return Err(RuntimeError::InvalidDevice {
                device: d.host_path.display().to_string(),
                reason: "not a character or block device".into(),
            });
        };
        let perms = if d.permissions.is_empty() {
            "rwm"
        } else {
            d.permissions.as_str()
        };
        let Some(access) = DeviceRule::parse_access(perms) else {
            return Err(RuntimeError::InvalidDevice {
                device: d.host_path.display().to_string(),
                reason: format!("permissions {perms:?} must be made of r, w and m"),
            });
        };
        let target = if d.container_path.is_empty() {
            d.host_path.to_string_lossy().into_owned()
        } else {
            d.container_path.clone()
        };
        if !target.starts_with('/') {
            return Err(RuntimeError::InvalidDevice {
                device: d.host_path.display().to_string(),
                reason: format!("the target {target:?} must be an absolute path in the container"),
            });
        }
        let rdev = meta.rdev();
        let (major, minor) = (libc::major(rdev), libc::minor(rdev));
        rules.push(DeviceRule {
            kind,
            major: Some(major),
            minor: Some(minor),
            access,
        });
        nodes.push(DeviceNode {
            path: CString::new(target.trim_start_matches('/')).map_err(|_| {
                RuntimeError::NulByte {
                    what: "device target",
                    value: target.clone(),
                }
            })?,
            mode: meta.mode(),
            rdev,
            uid: meta.uid(),
            gid: meta.gid(),
        });
    }
    Ok((nodes, rules))
}

/// Every device node below the host's /dev (for privileged containers), skipping the
/// directories the container gets its own instances of.
pub(crate) fn host_devices() -> Result<Vec<Device>, RuntimeError> {
    fn walk(dir: &std::path::Path, out: &mut Vec<Device>) -> Result<(), RuntimeError> {
        let entries =
            std::fs::read_dir(dir).map_err(|e| RuntimeError::io("list devices in", dir, e))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Ok(ft) = entry.file_type() else { continue };
            let name = entry.file_name();
            if ft.is_dir() {
                if !matches!(
                    name.to_str(),
                    Some("pts" | "shm" | "mqueue" | "fd" | ".lxc" | ".udev")
                ) {
                    walk(&path, out)?;
                }
            } else if (ft.is_char_device() || ft.is_block_device())
                && name.to_str() != Some("console")
            {
                out.push(Device {
                    container_path: path.to_string_lossy().into_owned(),
                    host_path: path,
                    permissions: "rwm".into(),
                });
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(std::path::Path::new("/dev"), &mut out)?;
    Ok(out)
}

/// `mode=1777,size=N` for the /dev/shm tmpfs.
pub(crate) fn shm_options(size: Option<u64>) -> Result<CString, RuntimeError> {
    let size = size.unwrap_or(64 << 20);
    if size == 0 {
        return Err(RuntimeError::InvalidShmSize);
    }
    CString::new(format!("mode=1777,size={size}")).map_err(|_| RuntimeError::NulByte {
        what: "shm options",
        value: format!("mode=1777,size={size}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_namespaced_sysctls_pass() {
        for ok in [
            "kernel.shmmax",
            "kernel.msgmax",
            "kernel.sem",
            "fs.mqueue.msg_max",
            "net.core.somaxconn",
            "net.ipv4.ip_forward",
        ] {
            check_sysctl(ok, true).unwrap();
        }
        let err = check_sysctl("net.core.somaxconn", false).unwrap_err();
        assert!(err.to_string().contains("network_mode: host"), "{err}");
        for bad in [
            "kernel.domainname",
            "vm.swappiness",
            "kernel.pid_max",
            "net/../../x",
            "",
        ] {
            let err = check_sysctl(bad, true).unwrap_err();
            assert!(err.to_string().contains("not allowed"), "{bad}: {err}");
        }
        let err = check_sysctl_in("kernel.shmmax", true, false).unwrap_err();
        assert!(
            err.to_string().contains("shares the IPC namespace"),
            "{err}"
        );
        check_sysctl_in("net.core.somaxconn", true, false).unwrap();
        let files =
            sysctl_files(&[("net.ipv4.ip_forward".into(), "1".into())], true, true).unwrap();
        assert_eq!(files[0].0.as_c_str(), c"/proc/sys/net/ipv4/ip_forward");
    }

    #[test]
    fn ulimits_are_named_and_checked() {
        let u = |name: &str, soft, hard| Ulimit {
            name: name.into(),
            soft,
            hard,
        };
        let r = prepare_ulimits(&[u("nofile", 1024, 2048), u("CORE", -1, -1)]).unwrap();
        assert_eq!(r[0], (libc::RLIMIT_NOFILE, 1024, 2048));
        assert_eq!(
            r[1],
            (libc::RLIMIT_CORE, libc::RLIM_INFINITY, libc::RLIM_INFINITY)
        );
        let err = prepare_ulimits(&[u("nofiles", 1, 1)]).unwrap_err();
        assert!(
            err.to_string().contains("unknown ulimit \"nofiles\""),
            "{err}"
        );
        let err = prepare_ulimits(&[u("nproc", 10, 5)]).unwrap_err();
        assert!(err.to_string().contains("above the hard limit"), "{err}");
        let err = prepare_ulimits(&[u("nproc", -5, 5)]).unwrap_err();
        assert!(
            matches!(&err, RuntimeError::InvalidUlimit { name, .. } if name == "nproc"),
            "{err}"
        );
    }

    #[test]
    fn devices_are_stat_and_turned_into_rules() {
        let (nodes, rules) = prepare_devices(&[Device {
            host_path: "/dev/null".into(),
            container_path: "/dev/mynull".into(),
            permissions: "rw".into(),
        }])
        .unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].to_string(), "c 1:3 rw");
        assert_eq!(nodes[0].path.as_c_str(), c"dev/mynull");
        let err = prepare_devices(&[Device {
            host_path: "/etc/passwd".into(),
            container_path: String::new(),
            permissions: String::new(),
        }])
        .unwrap_err();
        assert!(
            err.to_string().contains("not a character or block device"),
            "{err}"
        );
        assert!(
            matches!(&err, RuntimeError::InvalidDevice { device, .. } if device == "/etc/passwd"),
            "{err}"
        );
        assert!(host_devices()
            .unwrap()
            .iter()
            .any(|d| d.host_path == std::path::Path::new("/dev/null")));
        assert_eq!(
            shm_options(None).unwrap().as_c_str(),
            c"mode=1777,size=67108864"
        );
        assert!(shm_options(Some(0)).is_err());
    }
}
