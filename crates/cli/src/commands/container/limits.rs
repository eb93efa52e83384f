//! The resource-limit flags `run`/`create` and `update` share (`--memory`,
//! `--cpus`, `--pids-limit`, …): declared once, parsed into the engine's
//! `Resources` by the core's flag parsers.

use anyhow::Result;
use clap::Args;
use wharf_app::docker::flags;
use wharf_engine_api::Resources;

#[derive(Args, Debug, Default, Clone)]
pub struct LimitArgs {
    /// Memory limit
    #[arg(short = 'm', long)]
    pub memory: Option<String>,
    /// Swap limit equal to memory plus swap: -1 to enable unlimited swap
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Memory soft limit
    #[arg(long = "memory-reservation")]
    pub memory_reservation: Option<String>,
    /// Number of CPUs
    #[arg(long)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight)
    #[arg(short = 'c', long = "cpu-shares")]
    pub cpu_shares: Option<u64>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Tune container pids limit (set -1 for unlimited)
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO (relative weight), between 10 and 1000, or 0 to disable
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
}

impl LimitArgs {
    /// The limits given; a bad value names its flag. A pids limit of 0 or
    /// less is docker's "unlimited", which is no limit set.
    pub fn resources(&self) -> Result<Resources> {
        let mut resources = Resources::default();
        flags::LimitFlags {
            memory: self.memory.as_deref(),
            memory_swap: self.memory_swap.as_deref(),
            memory_reservation: self.memory_reservation.as_deref(),
            cpus: self.cpus.as_deref(),
        }
        .apply(&mut resources)?;
        resources.cpu_shares = self.cpu_shares;
        resources.cpuset_cpus = self.cpuset_cpus.clone();
        resources.pids_limit = self.pids_limit.filter(|n| *n > 0).map(|n| n as u64);
        resources.blkio_weight = self
            .blkio_weight
            .map(|w| flags::blkio_weight(w.into()))
            .transpose()?;
        Ok(resources)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_into_resources_and_unlimited_pids_is_none() {
        let args = LimitArgs {
            memory: Some("64m".into()),
            cpus: Some("1.5".into()),
            pids_limit: Some(-1),
            ..Default::default()
        };
        let r = args.resources().unwrap();
        assert_eq!(r.memory_bytes, Some(64 << 20));
        assert_eq!(r.nano_cpus, Some(1_500_000_000));
        assert_eq!(r.pids_limit, None);
        let args = LimitArgs {
            pids_limit: Some(20),
            memory: Some("1x".into()),
            ..Default::default()
        };
        let error = args.resources().unwrap_err().to_string();
        assert!(error.contains("--memory"), "{error}");
    }
}
