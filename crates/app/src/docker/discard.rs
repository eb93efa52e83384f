//! Limits the host cannot take, discarded as docker discards them: a block
//! I/O weight without an I/O scheduler that takes one is dropped from the
//! request with docker's warning, so `inspect` shows docker's 0 and the
//! record never holds a value the cgroup does not.

use wharf_engine_api::{Engine, Resources};

/// Removes from `resources` what the engine would discard and returns
/// docker's warnings for it, in docker's order (weight, then per-device
/// weights).
pub fn discard_unsupported_limits(engine: &dyn Engine, resources: &mut Resources) -> Vec<String> {
    let mut warnings = Vec::new();
    let weight_only = Resources {
        blkio_weight: resources.blkio_weight,
        ..Default::default()
    };
    let discarded = engine.discarded_limits(&weight_only);
    if !discarded.is_empty() {
        resources.blkio_weight = None;
        warnings.extend(discarded);
    }
    let weight_devices_only = Resources {
        blkio_weight_device: resources.blkio_weight_device.clone(),
        ..Default::default()
    };
    let discarded = engine.discarded_limits(&weight_devices_only);
    if !discarded.is_empty() {
        resources.blkio_weight_device.clear();
        warnings.extend(discarded);
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_engine_api::WeightDevice;
    use wharf_testkit::FakeEngine;

    fn weighted() -> Resources {
        Resources {
            blkio_weight: Some(300),
            blkio_weight_device: vec![WeightDevice {
                path: "/dev/sda".into(),
                weight: 200,
            }],
            memory_bytes: Some(64 << 20),
            ..Default::default()
        }
    }

    #[test]
    fn weights_the_host_cannot_take_are_removed_with_dockers_warnings() {
        let engine = FakeEngine::new();
        engine.set_block_io_weight_supported(false);
        let mut resources = weighted();
        let warnings = discard_unsupported_limits(&engine, &mut resources);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(warnings[0].ends_with("Weight discarded."), "{warnings:?}");
        assert!(
            warnings[1].ends_with("Weight-device discarded."),
            "{warnings:?}"
        );
        assert_eq!(resources.blkio_weight, None);
        assert!(resources.blkio_weight_device.is_empty());
        assert_eq!(resources.memory_bytes, Some(64 << 20));
    }

    #[test]
    fn weights_the_host_takes_are_kept() {
        let engine = FakeEngine::new();
        let mut resources = weighted();
        assert!(discard_unsupported_limits(&engine, &mut resources).is_empty());
        assert_eq!(resources, weighted());
    }
}
