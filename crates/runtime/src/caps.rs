//! Docker's default capability set and the code that applies it to the calling thread.

/// Docker's 14 default capabilities, by name.
pub const DEFAULT_CAPABILITIES: [&str; 14] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
];

/// The same capabilities by number (linux/capability.h), in the order above.
const DEFAULT_NUMBERS: [u32; 14] = [0, 1, 4, 3, 27, 13, 6, 7, 31, 8, 10, 18, 5, 29];

/// Bit mask of the default set (Docker shows it as CapBnd 00000000a80425fb).
pub(crate) const fn default_mask() -> u64 {
    let mut mask = 0u64;
    let mut i = 0;
    while i < DEFAULT_NUMBERS.len() {
        mask |= 1 << DEFAULT_NUMBERS[i];
        i += 1;
    }
    mask
}

/// Drop every capability outside `keep` from the bounding set and clear the ambient
/// set. Needs CAP_SETPCAP. Returns (errno, capability) on failure. Allocation-free.
pub(crate) fn limit_bounding_set(keep: u64) -> Result<(), (i32, u32)> {
    for cap in 0..64u32 {
        // SAFETY: prctl(PR_CAPBSET_READ) takes integers only.
        let present = unsafe { libc::prctl(libc::PR_CAPBSET_READ, cap as libc::c_ulong, 0, 0, 0) };
        if present < 0 {
            break; // EINVAL: past the last capability this kernel knows
        }
        if present == 1 && keep & (1 << cap) == 0 {
            // SAFETY: prctl(PR_CAPBSET_DROP) takes integers only.
            let rc = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            if rc < 0 {
                return Err((crate::sys::errno(), cap));
            }
        }
    }
    // SAFETY: prctl(PR_CAP_AMBIENT, CLEAR_ALL) takes integers only.
    let rc = unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    if rc < 0 && crate::sys::errno() != libc::EINVAL {
        return Err((crate::sys::errno(), u32::MAX));
    }
    Ok(())
}

/// Every capability by number (linux/capability.h, up to CAP_CHECKPOINT_RESTORE).
const NAMES: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

/// The number of a capability named `CAP_NET_ADMIN`, `NET_ADMIN` or `net_admin`.
pub(crate) fn cap_number(name: &str) -> Option<u32> {
    let upper = name.trim().to_ascii_uppercase();
    let short = upper.strip_prefix("CAP_").unwrap_or(&upper);
    NAMES.iter().position(|n| *n == short).map(|i| i as u32)
}

/// Every capability this kernel knows (`/proc/sys/kernel/cap_last_cap`, or all we
/// know when it cannot be read) that wharf itself holds (its permitted set: a
/// privileged container gets all the engine has, as with Docker).
pub(crate) fn all_mask() -> u64 {
    let own = std::fs::read_to_string("/proc/thread-self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("CapPrm:"))
                .and_then(|v| u64::from_str_radix(v.trim(), 16).ok())
        })
        .unwrap_or(u64::MAX);
    known_mask() & own
}

fn known_mask() -> u64 {
    let last = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
        .unwrap_or(NAMES.len() as u32 - 1)
        .min(63);
    if last == 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    }
}

/// Docker's capability arithmetic: start from the default set (every capability with
/// `ALL` in `cap_add` or with `privileged`, none with `ALL` in `cap_drop`), remove the
/// named drops, then add the named adds (an add wins over a drop of the same name, as
/// in Docker 20.10+). Unknown names are an error naming all of them.
pub fn resolve_capabilities(
    privileged: bool,
    cap_add: &[String],
    cap_drop: &[String],
) -> Result<u64, crate::RuntimeError> {
    let is_all = |n: &String| n.trim().eq_ignore_ascii_case("ALL");
    let unknown: Vec<&str> = cap_add
        .iter()
        .chain(cap_drop)
        .filter(|n| !is_all(n) && cap_number(n).is_none())
        .map(|n| n.as_str())
        .collect();
    if !unknown.is_empty() {
        return Err(crate::RuntimeError::UnknownCapability {
            names: unknown.iter().map(|n| n.to_string()).collect(),
        });
    }
    let all = all_mask();
    if privileged || cap_add.iter().any(is_all) {
        let mut caps = all;
        if !privileged {
            for n in cap_drop.iter().filter(|n| !is_all(n)) {
                caps &= !(1 << cap_number(n).unwrap_or(0));
            }
        }
        return Ok(caps);
    }
    let mut caps = if cap_drop.iter().any(is_all) {
        0
    } else {
        default_mask()
    };
    for n in cap_drop.iter().filter(|n| !is_all(n)) {
        caps &= !(1 << cap_number(n).unwrap_or(0));
    }
    for n in cap_add {
        caps |= 1 << cap_number(n).unwrap_or(0);
    }
    Ok(caps & all)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn capability_names_resolve_like_docker() {
        assert_eq!(cap_number("CAP_SYS_ADMIN"), Some(21));
        assert_eq!(cap_number("sys_admin"), Some(21));
        assert_eq!(cap_number("cap_net_raw"), Some(13));
        assert_eq!(cap_number("NOPE"), None);
        for (i, name) in DEFAULT_CAPABILITIES.iter().enumerate() {
            assert_eq!(cap_number(name), Some(DEFAULT_NUMBERS[i]), "{name}");
        }
        let def = default_mask();
        assert_eq!(resolve_capabilities(false, &[], &[]).unwrap(), def);
        let r =
            resolve_capabilities(false, &s(&["net_admin"]), &s(&["CAP_MKNOD", "chown"])).unwrap();
        assert_eq!(r, (def | 1 << 12) & !(1 << 27) & !1);
        assert_eq!(
            resolve_capabilities(false, &s(&["NET_BIND_SERVICE"]), &s(&["all"])).unwrap(),
            1 << 10
        );
        let all = all_mask();
        assert_eq!(
            resolve_capabilities(false, &s(&["ALL"]), &s(&["SYS_ADMIN"])).unwrap(),
            all & !(1 << 21)
        );
        assert_eq!(
            resolve_capabilities(true, &[], &s(&["SYS_ADMIN"])).unwrap(),
            all
        );
        assert_eq!(
            resolve_capabilities(false, &s(&["KILL"]), &s(&["KILL"])).unwrap(),
            def,
            "add wins over drop"
        );
        let err =
            resolve_capabilities(false, &s(&["NET_ADMN", "CAP_FOO"]), &s(&["MKNOD"])).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("unknown capabilities NET_ADMN, CAP_FOO"),
            "{msg}"
        );
        assert!(
            matches!(&err, crate::RuntimeError::UnknownCapability { names } if names == &["NET_ADMN", "CAP_FOO"]),
            "{err:?}"
        );
    }

    #[test]
    fn default_mask_matches_docker_capbnd() {
        assert_eq!(default_mask(), 0xa804_25fb);
        assert_eq!(DEFAULT_CAPABILITIES.len(), DEFAULT_NUMBERS.len());
    }
}
