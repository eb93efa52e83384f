//! Spec field → the Compose keys that set it. The runtime and the engine
//! name an invalid limit by its field of the engine's spec (`memory`,
//! `memory_swap`, `cpu_quota`); the user wrote Compose keys
//! (`deploy.resources.limits.memory` or `mem_limit`), so what the
//! orchestrator reports names those.

use wharf_engine_api::EngineError;

/// The Compose keys that set spec field `field` (the runtime's names and
/// the fields of [`wharf_engine_api::Resources`]), most common first;
/// empty for a field this table does not know.
pub fn compose_keys(field: &str) -> &'static [&'static str] {
    match field {
        "memory" | "memory_bytes" => &["deploy.resources.limits.memory", "mem_limit"],
        "memory_swap" | "memory_swap_bytes" => &["memswap_limit"],
        "memory_reservation" | "memory_reservation_bytes" => {
            &["deploy.resources.reservations.memory", "mem_reservation"]
        }
        "nano_cpus" => &["deploy.resources.limits.cpus", "cpus"],
        "cpu_shares" => &["cpu_shares", "deploy.resources.reservations.cpus"],
        "cpu_quota" | "cpu_quota_us" => &["cpu_quota"],
        "cpu_period" | "cpu_period_us" => &["cpu_period"],
        "cpuset_cpus" => &["cpuset"],
        "pids_limit" | "pids" => &["deploy.resources.limits.pids", "pids_limit"],
        "oom_kill_disable" => &["oom_kill_disable"],
        "mem_swappiness" | "swappiness" => &["mem_swappiness"],
        "shm_size" => &["shm_size"],
        "oom_score_adj" => &["oom_score_adj"],
        "blkio_weight" => &["blkio_config.weight"],
        "blkio_weight_device" => &["blkio_config.weight_device"],
        "blkio_device_read_bps" => &["blkio_config.device_read_bps"],
        "blkio_device_write_bps" => &["blkio_config.device_write_bps"],
        "blkio_device_read_iops" => &["blkio_config.device_read_iops"],
        "blkio_device_write_iops" => &["blkio_config.device_write_iops"],
        _ => &[],
    }
}

/// The Compose keys to add to an engine error that names a spec field at
/// its start (`memory 4096 is below …`), unless the message already names
/// them or the field is spelt as its Compose key.
pub(crate) fn keys_for(error: &EngineError) -> Option<&'static [&'static str]> {
    let (field, message) = match error {
        EngineError::InvalidSpec { field, source, .. } => {
            let text = source.to_string();
            let reason = text
                .strip_prefix(field.as_str())
                .unwrap_or(&text)
                .to_string();
            (field.clone(), reason)
        }
        EngineError::Invalid(message) => (
            message.split([' ', ':']).next()?.to_string(),
            message.clone(),
        ),
        _ => return None,
    };
    let field = field.as_str();
    let keys = compose_keys(field);
    let worth_adding =
        !keys.is_empty() && keys != [field] && !keys.iter().any(|key| message.contains(key));
    worth_adding.then_some(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_map_to_the_keys_a_user_writes() {
        assert_eq!(
            compose_keys("memory"),
            ["deploy.resources.limits.memory", "mem_limit"]
        );
        assert_eq!(compose_keys("memory_swap"), ["memswap_limit"]);
        assert_eq!(compose_keys("cpu_quota"), ["cpu_quota"]);
        assert_eq!(
            compose_keys("pids_limit"),
            ["deploy.resources.limits.pids", "pids_limit"]
        );
        assert_eq!(
            compose_keys("nano_cpus"),
            ["deploy.resources.limits.cpus", "cpus"]
        );
        assert_eq!(
            compose_keys("blkio_device_write_bps"),
            ["blkio_config.device_write_bps"]
        );
        assert!(compose_keys("colour").is_empty());
    }

    #[test]
    fn only_messages_that_need_the_keys_get_them() {
        let invalid = |text: &str| EngineError::Invalid(text.into());
        assert_eq!(
            keys_for(&invalid("memory 4096 is below the 6 MiB the kernel needs")),
            Some(&["deploy.resources.limits.memory", "mem_limit"][..])
        );
        assert_eq!(
            keys_for(&invalid("memory_swap: 10 is below the memory limit")),
            Some(&["memswap_limit"][..])
        );
        // Spelt as its Compose key already, or naming the keys itself.
        assert_eq!(keys_for(&invalid("cpu_quota 500 is invalid")), None);
        assert_eq!(
            keys_for(&invalid(
                "memory 10 is too low: raise mem_limit or deploy.resources.limits.memory"
            )),
            None
        );
        assert_eq!(keys_for(&invalid("the image is gone")), None);
        assert_eq!(keys_for(&EngineError::Unavailable("memory".into())), None);
    }

    #[test]
    fn the_engine_s_typed_spec_error_gets_the_keys_of_its_field() {
        let spec_error = |field: &str, text: &str| EngineError::InvalidSpec {
            container: "p-a-1".into(),
            field: field.into(),
            source: text.to_string().into(),
        };
        assert_eq!(
            keys_for(&spec_error(
                "memory_swap",
                "memory_swap: 10 is below the memory limit"
            )),
            Some(&["memswap_limit"][..])
        );
        assert_eq!(
            keys_for(&spec_error("nano_cpus", "nano_cpus: 99.00 CPUs requested")),
            Some(&["deploy.resources.limits.cpus", "cpus"][..])
        );
        assert_eq!(keys_for(&spec_error("cpu_quota", "cpu_quota: 500")), None);
    }
}
