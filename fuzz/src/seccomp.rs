//! Seccomp profiles in Docker's JSON format (`security_opt: [seccomp=FILE.json]`):
//! parsed and compiled to BPF for every architecture, as at container start.

/// Parse and compile `data` for a container with no capabilities, Docker's
/// default set, and all of them.
pub fn run(data: &[u8]) {
    let default_caps = wharf_runtime::resolve_capabilities(false, &[], &[]).unwrap_or(0);
    for caps in [0, default_caps, u64::MAX] {
        let _ = wharf_runtime::check_docker_profile(data, caps);
    }
}
