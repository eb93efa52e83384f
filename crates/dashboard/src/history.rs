//! The last 15 minutes of every running container's CPU and memory, kept in
//! memory for the sparklines: one point a container every [`INTERVAL`],
//! at most [`POINTS`] of them, dropped with the container.

use crate::metrics::Reading;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;
use wharf_engine_api::StatsSample;

pub const INTERVAL: Duration = Duration::from_secs(5);
/// 15 minutes of points.
pub const POINTS: usize = 180;

/// One point: CPU % (of one core) over the interval, and the working set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub cpu_percent: f64,
    pub memory: u64,
}

#[derive(Debug, Default)]
struct Series {
    last: Option<StatsSample>,
    points: VecDeque<Point>,
}

#[derive(Debug, Default)]
pub struct History {
    series: Mutex<BTreeMap<String, Series>>,
}

impl History {
    /// Add a reading of every running container; containers not in
    /// `readings` any more are forgotten.
    pub fn record(&self, readings: &[Reading]) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series.retain(|id, _| readings.iter().any(|r| &r.container.id == id));
        for r in readings {
            let s = series.entry(r.container.id.clone()).or_default();
            if let Some(before) = &s.last {
                s.points.push_back(Point {
                    cpu_percent: wharf_app::stats::cpu_percent(before, &r.sample),
                    memory: r.sample.memory_usage,
                });
                while s.points.len() > POINTS {
                    s.points.pop_front();
                }
            }
            s.last = Some(r.sample.clone());
        }
    }

    /// The container's points, oldest first.
    pub fn points(&self, id: &str) -> Vec<Point> {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        series
            .get(id)
            .map(|s| s.points.iter().copied().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_engine_api::{ContainerInfo, ContainerState};

    fn reading(id: &str, at_s: u64, cpu_s: u64) -> Reading {
        Reading {
            container: ContainerInfo {
                id: id.into(),
                name: id.into(),
                image: String::new(),
                image_id: String::new(),
                command: vec![],
                created: 0,
                state: ContainerState::Created,
                labels: Default::default(),
                ports: vec![],
                addresses: Default::default(),
                addresses_v6: Default::default(),
                health: None,
            },
            sample: StatsSample {
                read_at_ns: at_s * 1_000_000_000,
                cpu_usage_ns: cpu_s * 1_000_000_000,
                memory_usage: 42,
                ..Default::default()
            },
        }
    }

    #[test]
    fn keeps_at_most_fifteen_minutes_and_forgets_gone_containers() {
        let h = History::default();
        for i in 0..(POINTS as u64 + 20) {
            h.record(&[reading("a", i * 5, i)]);
        }
        let points = h.points("a");
        assert_eq!(points.len(), POINTS);
        assert!((points[0].cpu_percent - 20.0).abs() < 1e-9);
        h.record(&[reading("b", 0, 0)]);
        assert!(h.points("a").is_empty());
    }
}
