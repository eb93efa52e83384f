//! Static checks of [`Limits`]: the combinations and ranges docker refuses, decided
//! without touching a cgroup file system, so the engine can refuse a container at
//! create time and the start can check again before writing anything. Errors name
//! the field of the engine's container spec (`memory`, `memory_swap`, …), not a
//! Compose key: the orchestrator knows which key a field came from.

use super::Limits;
use std::sync::OnceLock;

/// A limit that can never be applied: the spec field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct LimitError {
    /// The field of the container spec's resources, e.g. `memory`, `memory_swap`,
    /// `cpu_quota`.
    pub field: &'static str,
    /// What is wrong and what to do, without the field's name.
    pub reason: String,
}

/// What the static checks need to know about the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFacts {
    /// CPUs this process may run on (docker's `NumCPU`).
    pub cpus: u64,
}

impl HostFacts {
    /// The host's facts, read once per process.
    pub fn current() -> HostFacts {
        static FACTS: OnceLock<HostFacts> = OnceLock::new();
        *FACTS.get_or_init(|| HostFacts {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get() as u64),
        })
    }
}

const NANOS_PER_CPU: u64 = 1_000_000_000;

impl Limits {
    /// Refuse what docker refuses, before anything is written: swap without a
    /// memory limit or below it, a reservation above the limit, `nano_cpus`
    /// together with an explicit quota or period, values out of range, more CPUs
    /// than `host` has, malformed cpusets. Pure: no file is read.
    pub fn validate(&self, host: &HostFacts) -> Result<(), LimitError> {
        let bad = |field: &'static str, reason: String| Err(LimitError { field, reason });
        let mem = self.memory_bytes.unwrap_or(0);
        if let Some(swap) = self.memory_swap_bytes {
            if swap < -1 {
                return bad(
                    "memory_swap",
                    format!("{swap} is invalid: use -1 for unlimited swap or a byte count"),
                );
            }
            if swap != 0 && mem == 0 {
                return bad(
                    "memory_swap",
                    "it needs a memory limit (field memory) as well".into(),
                );
            }
            if swap > 0 && (swap as u64) < mem {
                return bad("memory_swap", format!("{swap} is below the memory limit {mem}: it counts memory plus swap, so it must be at least the memory limit"));
            }
        }
        if let Some(s) = self.swappiness {
            if s > 100 {
                return bad("mem_swappiness", format!("{s} is outside 0..=100"));
            }
        }
        if let Some(r) = self.memory_reservation_bytes {
            if mem > 0 && r > mem {
                return bad("memory_reservation", format!("{r} is above the memory limit {mem}: the soft limit must not exceed the hard one"));
            }
        }
        if let Some(s) = self.cpu_shares {
            if s != 0 && !(2..=262_144).contains(&s) {
                return bad("cpu_shares", format!("{s} is outside 2..=262144"));
            }
        }
        let explicit =
            self.cpu_quota_us.is_some_and(|q| q != 0) || self.cpu_period_us.is_some_and(|p| p != 0);
        if let Some(nano) = self.nano_cpus.filter(|n| *n != 0) {
            if explicit {
                return bad(
                    "nano_cpus",
                    "it and cpu_quota/cpu_period cannot both be set: use one or the other".into(),
                );
            }
            if nano > host.cpus.saturating_mul(NANOS_PER_CPU) {
                return bad(
                    "nano_cpus",
                    format!(
                        "{} CPUs requested, but the host has only {}: give at most {}.00",
                        cpus_text(nano),
                        host.cpus,
                        host.cpus
                    ),
                );
            }
        }
        if let Some(p) = self.cpu_period_us.filter(|p| *p != 0) {
            if !(1000..=1_000_000).contains(&p) {
                return bad("cpu_period", format!("{p} is outside 1000..=1000000 µs"));
            }
        }
        if let Some(q) = self.cpu_quota_us {
            if q != 0 && q != -1 && q < 1000 {
                return bad(
                    "cpu_quota",
                    format!("{q} is invalid: at least 1000 µs, or -1 for unlimited"),
                );
            }
        }
        for (field, v) in [
            ("cpuset_cpus", &self.cpuset_cpus),
            ("cpuset_mems", &self.cpuset_mems),
        ] {
            if let Some(v) = v {
                if !valid_cpu_list(v) {
                    return bad(
                        field,
                        format!("{v:?} is not a list of numbers and ranges such as 0-2,4"),
                    );
                }
            }
        }
        super::io::validate(&self.block_io)
    }
}

/// `1.5` for 1_500_000_000 nano CPUs.
fn cpus_text(nano: u64) -> String {
    let whole = nano / NANOS_PER_CPU;
    let hundredths = (nano % NANOS_PER_CPU) / 10_000_000;
    format!("{whole}.{hundredths:02}")
}

/// `0`, `0-3`, `0,2-4,7`.
fn valid_cpu_list(s: &str) -> bool {
    !s.is_empty()
        && s.split(',').all(|part| {
            let mut it = part.splitn(2, '-');
            let lo = it.next().and_then(|a| a.parse::<u32>().ok());
            match (lo, it.next()) {
                (Some(_), None) => true,
                (Some(a), Some(b)) => b.parse::<u32>().is_ok_and(|b| b >= a),
                _ => false,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOST: HostFacts = HostFacts { cpus: 2 };

    fn field_of(limits: Limits) -> &'static str {
        limits.validate(&HOST).unwrap_err().field
    }

    #[test]
    fn errors_name_the_spec_field_not_a_compose_key() {
        let e = Limits {
            memory_swap_bytes: Some(1 << 30),
            ..Limits::default()
        }
        .validate(&HOST)
        .unwrap_err();
        assert_eq!(e.field, "memory_swap");
        assert_eq!(
            e.to_string(),
            "memory_swap: it needs a memory limit (field memory) as well"
        );
        for key in ["mem_limit", "memswap_limit", "deploy.", "cpus"] {
            assert!(!e.to_string().contains(key), "{e}");
        }
    }

    #[test]
    fn each_check_names_its_field() {
        let cases = [
            (
                Limits {
                    memory_bytes: Some(2 << 20),
                    memory_swap_bytes: Some(1 << 20),
                    ..Limits::default()
                },
                "memory_swap",
            ),
            (
                Limits {
                    memory_bytes: Some(1 << 20),
                    memory_reservation_bytes: Some(2 << 20),
                    ..Limits::default()
                },
                "memory_reservation",
            ),
            (
                Limits {
                    swappiness: Some(101),
                    ..Limits::default()
                },
                "mem_swappiness",
            ),
            (
                Limits {
                    cpu_shares: Some(1),
                    ..Limits::default()
                },
                "cpu_shares",
            ),
            (
                Limits {
                    cpu_quota_us: Some(10),
                    ..Limits::default()
                },
                "cpu_quota",
            ),
            (
                Limits {
                    cpu_period_us: Some(10),
                    ..Limits::default()
                },
                "cpu_period",
            ),
            (
                Limits {
                    cpuset_mems: Some("x".into()),
                    ..Limits::default()
                },
                "cpuset_mems",
            ),
        ];
        for (limits, field) in cases {
            assert_eq!(field_of(limits), field);
        }
    }

    #[test]
    fn more_cpus_than_the_host_has_are_refused() {
        let ok = Limits {
            nano_cpus: Some(2 * NANOS_PER_CPU),
            ..Limits::default()
        };
        assert_eq!(ok.validate(&HOST), Ok(()));
        let e = Limits {
            nano_cpus: Some(2_500_000_000),
            ..Limits::default()
        }
        .validate(&HOST)
        .unwrap_err();
        assert_eq!(e.field, "nano_cpus");
        assert_eq!(
            e.reason,
            "2.50 CPUs requested, but the host has only 2: give at most 2.00"
        );
    }

    #[test]
    fn unset_and_unlimited_values_pass() {
        assert_eq!(Limits::default().validate(&HOST), Ok(()));
        let unlimited = Limits {
            memory_bytes: Some(0),
            memory_swap_bytes: Some(0),
            nano_cpus: Some(0),
            cpu_quota_us: Some(-1),
            cpu_shares: Some(0),
            ..Limits::default()
        };
        assert_eq!(unlimited.validate(&HOST), Ok(()));
    }
}
