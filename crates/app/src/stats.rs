//! `stats`: the figures of a project's containers (CPU %, memory, network,
//! block I/O, pids) from two readings of their cgroups and network
//! namespaces, and the project's total. Fronts format and redraw them.

use crate::containers::{filter_services, Scope};
use crate::AppError;
use std::collections::HashMap;
use std::time::Duration;
use wharf_engine_api::{ContainerInfo, Engine, StatsSample};

/// Time between the first two readings that give CPU %.
pub const WINDOW: Duration = Duration::from_millis(500);

/// One container's figures (or the project's total).
#[derive(Debug, Clone, PartialEq)]
pub struct Figures {
    pub id: String,
    pub name: String,
    /// CPU use over the window, in percent of one CPU.
    pub cpu_percent: f64,
    pub memory: u64,
    pub limit: u64,
    /// Bytes received and sent.
    pub net: (u64, u64),
    /// Bytes read and written.
    pub block: (u64, u64),
    pub pids: u64,
}

impl Figures {
    /// The figures of `container` between two readings.
    pub fn new(container: &ContainerInfo, before: &StatsSample, now: &StatsSample) -> Self {
        Figures {
            id: container.id.clone(),
            name: container.name.clone(),
            cpu_percent: cpu_percent(before, now),
            memory: now.memory_usage,
            limit: now.memory_limit,
            net: (now.net_rx_bytes, now.net_tx_bytes),
            block: (now.block_read_bytes, now.block_write_bytes),
            pids: now.pids,
        }
    }

    /// The project as a whole: sums of every column; the limit is the sum of
    /// the limits (so MEM % is the project's share of what it may use).
    pub fn total(rows: &[Figures]) -> Figures {
        let sum = |f: &dyn Fn(&Figures) -> u64| rows.iter().map(f).fold(0u64, u64::saturating_add);
        Figures {
            id: "-".into(),
            name: "TOTAL".into(),
            cpu_percent: rows.iter().map(|r| r.cpu_percent).sum(),
            memory: sum(&|r| r.memory),
            limit: sum(&|r| r.limit),
            net: (sum(&|r| r.net.0), sum(&|r| r.net.1)),
            block: (sum(&|r| r.block.0), sum(&|r| r.block.1)),
            pids: sum(&|r| r.pids),
        }
    }

    /// Memory use in percent of the limit (0 without one).
    pub fn mem_percent(&self) -> f64 {
        if self.limit == 0 {
            0.0
        } else {
            self.memory as f64 / self.limit as f64 * 100.0
        }
    }
}

/// CPU use over the window, in percent of one CPU (docker's figure: 50% is
/// half a core; 200% is two cores busy).
pub fn cpu_percent(before: &StatsSample, now: &StatsSample) -> f64 {
    let wall = now.read_at_ns.saturating_sub(before.read_at_ns);
    if wall == 0 {
        return 0.0;
    }
    now.cpu_usage_ns.saturating_sub(before.cpu_usage_ns) as f64 / wall as f64 * 100.0
}

/// Successive readings of a project's containers: each call to
/// [`Sampler::sample`] gives the figures since the previous one (the first
/// call reads twice, [`WINDOW`] apart).
#[derive(Debug, Default)]
pub struct Sampler {
    previous: HashMap<String, StatsSample>,
}

impl Sampler {
    /// The figures of the scope's containers (stopped ones too when `all`).
    pub fn sample(
        &mut self,
        engine: &dyn Engine,
        scope: &Scope<'_>,
        all: bool,
    ) -> Result<Vec<Figures>, AppError> {
        let containers = wharf_orchestrator::project_containers(engine, scope.name, all)?;
        let containers = filter_services(containers, scope)?;
        self.sample_containers(engine, &containers)
    }

    /// The figures of `containers`, whatever project they are in (docker's
    /// `stats CONTAINER…`).
    pub fn sample_containers(
        &mut self,
        engine: &dyn Engine,
        containers: &[ContainerInfo],
    ) -> Result<Vec<Figures>, AppError> {
        let read = |c: &ContainerInfo| {
            engine
                .stats(&c.id)
                .map_err(|e| AppError::engine(format!("stats of {}", c.name), e))
        };
        if self.previous.is_empty() {
            for c in containers {
                self.previous.insert(c.id.clone(), read(c)?);
            }
            std::thread::sleep(WINDOW);
        }
        let mut rows = Vec::new();
        for c in containers {
            let now = read(c)?;
            let before = self
                .previous
                .get(&c.id)
                .cloned()
                .unwrap_or_else(|| now.clone());
            rows.push(Figures::new(c, &before, &now));
            self.previous.insert(c.id.clone(), now);
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_a_core_is_fifty_percent() {
        let before = StatsSample {
            read_at_ns: 1_000_000_000,
            cpu_usage_ns: 0,
            ..Default::default()
        };
        let now = StatsSample {
            read_at_ns: 2_000_000_000,
            cpu_usage_ns: 500_000_000,
            ..Default::default()
        };
        assert!((cpu_percent(&before, &now) - 50.0).abs() < 1e-9);
    }
}
