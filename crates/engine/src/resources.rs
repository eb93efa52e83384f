//! A container's resource limits: checked at create time, before anything is
//! written, and turned into the runtime's cgroup [`wharf_runtime::Limits`]
//! (the runtime writes them to the cgroup when the monitor starts the
//! container).

use crate::store::ContainerRecord;
use crate::MIN_MEMORY;
use std::path::Path;
use wharf_engine_api::{ContainerSpec, EngineError};

/// Refuse limits the container could not start or run with. An error names
/// the spec's field (`memory`), which the orchestrator maps back to the
/// Compose key.
pub(crate) fn validate(spec: &ContainerSpec, cgroup_fs_root: &Path) -> Result<(), EngineError> {
    if let Some(memory) = spec.resources.memory_bytes.filter(|m| *m < MIN_MEMORY) {
        return Err(EngineError::InvalidSpec {
            container: spec.name.clone(),
            field: "memory".into(),
            source: format!(
                "a memory limit of {memory} bytes is below the 6 MiB a container needs: raise it"
            )
            .into(),
        });
    }
    limits(spec)
        .validate(&wharf_runtime::HostFacts::current())
        .map_err(|e| EngineError::InvalidSpec {
            container: spec.name.clone(),
            field: e.field.into(),
            source: e.into(),
        })?;
    if let Ok(mode) = wharf_runtime::cgroups::detect(cgroup_fs_root) {
        crate::security::validate_cgroup_settings(spec, mode)?;
    }
    Ok(())
}

pub(crate) fn cgroup_config(
    fs_root: &Path,
    record: &ContainerRecord,
) -> wharf_runtime::CgroupConfig {
    wharf_runtime::CgroupConfig {
        fs_root: fs_root.to_path_buf(),
        path: record.cgroup_path.clone(),
        limits: limits(&record.spec),
    }
}

/// The spec's limits as the runtime's cgroup [`wharf_runtime::Limits`].
pub(crate) fn limits(spec: &ContainerSpec) -> wharf_runtime::Limits {
    let resources = &spec.resources;
    wharf_runtime::Limits {
        memory_bytes: resources.memory_bytes,
        nano_cpus: resources.nano_cpus,
        pids: resources.pids_limit,
        memory_swap_bytes: resources.memory_swap,
        memory_reservation_bytes: resources.memory_reservation,
        cpu_shares: resources.cpu_shares,
        cpu_quota_us: resources.cpu_quota,
        cpu_period_us: resources.cpu_period,
        cpuset_cpus: resources.cpuset_cpus.clone(),
        cpuset_mems: None,
        oom_kill_disable: resources.oom_kill_disable,
        swappiness: resources.mem_swappiness,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_memory_limit_too_small_to_start_names_the_spec_field() {
        let mut spec = ContainerSpec {
            name: "p-web-1".into(),
            ..Default::default()
        };
        spec.resources.memory_bytes = Some(4 * 1024 * 1024);
        let err = validate(&spec, Path::new("/nonexistent")).unwrap_err();
        let EngineError::InvalidSpec { field, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(field, "memory");
        assert!(err.to_string().starts_with("container p-web-1: "), "{err}");
        spec.resources.memory_bytes = Some(MIN_MEMORY);
        validate(&spec, Path::new("/nonexistent")).unwrap();
    }
}
