//! A container's resource limits: checked at create time, before anything is
//! written, and turned into the runtime's cgroup [`wharf_runtime::Limits`]
//! (the runtime writes them to the cgroup when the monitor starts the
//! container). Block I/O devices are given by path and resolved to their
//! numbers here, at create and again at each start (a disk may come back
//! under another number). A weight the host cannot take is discarded with
//! docker's warning, which the fronts show.

use crate::store::ContainerRecord;
use crate::MIN_MEMORY;
use std::path::Path;
use wharf_engine_api::{ContainerSpec, EngineError, Resources, ThrottleDevice};
use wharf_runtime::cgroups::{block_device, BlockIo, DeviceRate, DeviceWeight};

/// docker's warning when the host takes no block I/O weight: the weight
/// is discarded (the runtime writes none), the container runs.
pub(crate) const WEIGHT_DISCARDED: &str =
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded.";
/// docker's warning for per-device weights the host cannot take.
pub(crate) const WEIGHT_DEVICE_DISCARDED: &str = "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. Weight-device discarded.";

/// docker's warnings for the limits of `resources` the host cannot take.
pub(crate) fn discarded(resources: &Resources, cgroup_fs_root: &Path) -> Vec<String> {
    let weight = resources.blkio_weight.is_some_and(|w| w != 0);
    let weight_device = !resources.blkio_weight_device.is_empty();
    if !(weight || weight_device)
        || wharf_runtime::cgroups::block_io_weight_supported(cgroup_fs_root)
    {
        return Vec::new();
    }
    let mut warnings = Vec::new();
    if weight {
        warnings.push(WEIGHT_DISCARDED.to_string());
    }
    if weight_device {
        warnings.push(WEIGHT_DEVICE_DISCARDED.to_string());
    }
    warnings
}

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
    limits(spec)?
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
) -> Result<wharf_runtime::CgroupConfig, EngineError> {
    Ok(wharf_runtime::CgroupConfig {
        fs_root: fs_root.to_path_buf(),
        path: record.cgroup_path.clone(),
        limits: limits(&record.spec)?,
    })
}

/// The spec's limits as the runtime's cgroup [`wharf_runtime::Limits`]; an
/// error names the block I/O field whose device path is not a block device.
pub(crate) fn limits(spec: &ContainerSpec) -> Result<wharf_runtime::Limits, EngineError> {
    let resources = &spec.resources;
    Ok(wharf_runtime::Limits {
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
        block_io: block_io(spec)?,
    })
}

fn block_io(spec: &ContainerSpec) -> Result<BlockIo, EngineError> {
    let resources = &spec.resources;
    let device = |field: &str, path: &str| {
        block_device(Path::new(path)).map_err(|e| EngineError::InvalidSpec {
            container: spec.name.clone(),
            field: field.into(),
            source: format!("{field}: {e}").into(),
        })
    };
    let rates = |field: &str, list: &[ThrottleDevice]| {
        list.iter()
            .map(|t| {
                Ok(DeviceRate {
                    device: device(field, &t.path)?,
                    rate: t.rate,
                })
            })
            .collect::<Result<Vec<_>, EngineError>>()
    };
    Ok(BlockIo {
        weight: resources.blkio_weight,
        weight_device: resources
            .blkio_weight_device
            .iter()
            .map(|w| {
                Ok(DeviceWeight {
                    device: device("blkio_weight_device", &w.path)?,
                    weight: w.weight,
                })
            })
            .collect::<Result<_, EngineError>>()?,
        read_bps: rates("blkio_device_read_bps", &resources.blkio_device_read_bps)?,
        write_bps: rates("blkio_device_write_bps", &resources.blkio_device_write_bps)?,
        read_iops: rates("blkio_device_read_iops", &resources.blkio_device_read_iops)?,
        write_iops: rates(
            "blkio_device_write_iops",
            &resources.blkio_device_write_iops,
        )?,
    })
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

    #[test]
    fn a_throttled_device_that_is_no_block_device_names_the_field_and_path() {
        let mut spec = ContainerSpec {
            name: "p-db-1".into(),
            ..Default::default()
        };
        spec.resources.blkio_device_write_bps = vec![ThrottleDevice {
            path: "/dev/null".into(),
            rate: 1 << 20,
        }];
        let err = validate(&spec, Path::new("/nonexistent")).unwrap_err();
        let EngineError::InvalidSpec { field, .. } = &err else {
            panic!("{err:?}");
        };
        assert_eq!(field, "blkio_device_write_bps");
        let text = err.to_string();
        assert!(text.contains("/dev/null is not a block device"), "{text}");
        spec.resources.blkio_device_write_bps[0].path = "/dev/wharf-no-such-disk".into();
        let text = validate(&spec, Path::new("/nonexistent"))
            .unwrap_err()
            .to_string();
        assert!(text.contains("/dev/wharf-no-such-disk"), "{text}");
    }
}
