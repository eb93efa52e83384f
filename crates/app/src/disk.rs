//! `system df`: the disk usage of images, containers, volumes and the build
//! cache as the engine measures it, and the share of each type a prune
//! would reclaim, as docker states it.

use crate::AppError;
use wharf_engine::{DiskUsage, LinuxEngine, UsageSummary};

/// What the engine's objects take on disk.
pub fn usage(engine: &LinuxEngine) -> Result<DiskUsage, AppError> {
    engine
        .disk_usage()
        .map_err(|e| AppError::engine("measuring disk usage", e))
}

/// The percentage of a type's size a prune would reclaim; docker states
/// none for the build cache or for a type that takes no space.
pub fn reclaimable_percent(row: &UsageSummary) -> Option<u64> {
    (row.size != 0 && row.kind != "Build Cache").then(|| row.reclaimable * 100 / row.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &'static str, size: u64, reclaimable: u64) -> UsageSummary {
        UsageSummary {
            kind,
            total: 2,
            active: 1,
            size,
            reclaimable,
        }
    }

    #[test]
    fn the_share_is_left_out_for_the_build_cache_and_empty_types() {
        assert_eq!(reclaimable_percent(&row("Images", 3000, 1000)), Some(33));
        assert_eq!(reclaimable_percent(&row("Containers", 0, 0)), None);
        assert_eq!(reclaimable_percent(&row("Build Cache", 500, 500)), None);
    }
}
