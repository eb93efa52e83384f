//! A container's resource use (`stats`, `/metrics`): its cgroup's figures and
//! its network namespace's counters, for one container, or for every
//! container of a listing with each record and state read once and the host's
//! figures once for all.

use crate::procfs::{host_memory, monotonic_ns, online_cpus};
use crate::store::{ContainerRecord, RuntimeState};
use crate::{runtime_err, LinuxEngine};
use std::path::Path;
use wharf_engine_api::{ContainerInfo, ContainerState, Result, StatsSample};

/// Threads that read the containers of one listing at once: each reading is
/// a few dozen small file reads, mostly waiting on the kernel.
const READERS: usize = 4;

/// What every reading of one pass shares: the host's CPUs and memory.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HostFigures {
    online_cpus: u32,
    memory: u64,
}

impl HostFigures {
    pub(crate) fn read() -> Self {
        HostFigures {
            online_cpus: online_cpus(),
            memory: host_memory(),
        }
    }
}

impl LinuxEngine {
    /// A reading of the container whose live state is `state`.
    pub(crate) fn sample(&self, state: &RuntimeState, host: HostFigures) -> Result<StatsSample> {
        let idle = || StatsSample {
            read_at_ns: monotonic_ns(),
            online_cpus: host.online_cpus,
            memory_limit: host.memory,
            ..Default::default()
        };
        let (ContainerState::Running { pid, .. }, Some(cgroup)) = (&state.state, &state.cgroup)
        else {
            return Ok(idle());
        };
        let stats = match cgroup.stats() {
            Ok(stats) => stats,
            // It ended between reading its state and its cgroup (its monitor
            // removes the cgroup before it records the exit or a restart).
            Err(_) if !Path::new(&format!("/proc/{pid}")).exists() => return Ok(idle()),
            Err(e) => return Err(runtime_err(e)),
        };
        let net = wharf_runtime::net_counters(*pid).unwrap_or_default();
        Ok(StatsSample {
            read_at_ns: monotonic_ns(),
            cpu_usage_ns: stats.cpu_usage_ns,
            online_cpus: host.online_cpus,
            memory_usage: stats.memory_usage,
            memory_limit: stats.memory_limit.unwrap_or(host.memory).min(host.memory),
            net_rx_bytes: net.rx_bytes,
            net_tx_bytes: net.tx_bytes,
            block_read_bytes: stats.block_read_bytes,
            block_write_bytes: stats.block_write_bytes,
            pids: stats.pids,
            memory_usage_total: stats.memory_usage_total,
            memory_rss: stats.memory_rss,
            memory_cache: stats.memory_cache,
            memory_limit_set: stats.memory_limit,
            oom_kills: stats.oom_kills,
            cpu_throttled_ns: stats.cpu_throttled_ns,
            cpu_quota_us: stats.cpu_quota.map(|q| (q.quota_us, q.period_us)),
            net_rx_packets: net.rx_packets,
            net_tx_packets: net.tx_packets,
            net_rx_errors: net.rx_errors,
            net_tx_errors: net.tx_errors,
        })
    }

    /// Every container whose labels include `wanted`, sorted by name, each
    /// running one with a reading (see `Engine::list_with_stats`).
    pub(crate) fn list_with_readings(
        &self,
        wanted: &[(&str, &str)],
    ) -> Result<Vec<(ContainerInfo, Option<StatsSample>)>> {
        let records: Vec<ContainerRecord> = self
            .all_records()?
            .into_iter()
            .filter(|record| {
                wanted
                    .iter()
                    .all(|(k, v)| record.spec.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .collect();
        let host = HostFigures::read();
        let chunk = records.len().div_ceil(READERS).max(1);
        let parts: Vec<Result<Vec<_>>> = std::thread::scope(|scope| {
            let workers: Vec<_> = records
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|record| self.listed_with_reading(record, host))
                            .collect::<Result<Vec<_>>>()
                    })
                })
                .collect();
            workers
                .into_iter()
                .map(|w| {
                    w.join().unwrap_or_else(|_| {
                        Err(wharf_engine_api::EngineError::Invalid(
                            "a thread reading containers' figures panicked".into(),
                        ))
                    })
                })
                .collect()
        });
        let mut out = Vec::with_capacity(records.len());
        for part in parts {
            out.extend(part?.into_iter().flatten());
        }
        out.sort_by(|a, b| a.0.name.cmp(&b.0.name));
        Ok(out)
    }

    /// `record` as listed, with its reading; None when it was removed since
    /// its record was read (a scrape during `down`).
    fn listed_with_reading(
        &self,
        record: &ContainerRecord,
        host: HostFigures,
    ) -> Result<Option<(ContainerInfo, Option<StatsSample>)>> {
        let state = match self.live_state(&record.id) {
            Ok(state) => state,
            Err(_) if !self.layout.container(&record.id).exists() => return Ok(None),
            Err(e) => return Err(e),
        };
        let sample = if state.state.is_running() {
            self.sample(&state, host).ok()
        } else {
            None
        };
        Ok(Some((self.info_with_state(record, state), sample)))
    }
}
