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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_mask_matches_docker_capbnd() {
        assert_eq!(default_mask(), 0xa804_25fb);
        assert_eq!(DEFAULT_CAPABILITIES.len(), DEFAULT_NUMBERS.len());
    }
}
