//! `/metrics`: the Prometheus text exposition of the host's containers, with
//! cAdvisor's metric names, units and labels (so existing dashboards and
//! alerts work), the Compose labels cAdvisor lacks, per-project totals
//! (`wharf_project_*`) and the count of containers by state.

use std::collections::BTreeMap;
use std::fmt::Write;
use wharf_engine_api::{labels, ContainerInfo, ContainerState, Health, StatsSample};

/// The content type Prometheus expects for the text format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The states `wharf_containers` always reports (0 when none), so a state's
/// series never disappears.
const STATES: [&str; 6] = [
    "created",
    "running",
    "paused",
    "restarting",
    "exited",
    "dead",
];

/// A running container and one reading of its cgroup and network namespace.
#[derive(Debug, Clone)]
pub struct Reading {
    pub container: ContainerInfo,
    pub sample: StatsSample,
}

#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
}

/// One metric family: its name, help, type, and how a reading gives its value
/// (`None`: the container has no such series, like a quota it does not set).
struct Family {
    name: &'static str,
    help: &'static str,
    kind: Kind,
    value: fn(&Reading) -> Option<f64>,
}

const NS_PER_S: f64 = 1e9;

const CONTAINER_FAMILIES: &[Family] = &[
    Family {
        name: "container_cpu_usage_seconds_total",
        help: "Cumulative cpu time consumed in seconds.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.cpu_usage_ns as f64 / NS_PER_S),
    },
    Family {
        name: "container_cpu_cfs_throttled_seconds_total",
        help: "Total time duration the container has been throttled.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.cpu_throttled_ns as f64 / NS_PER_S),
    },
    Family {
        name: "container_memory_usage_bytes",
        help: "Current memory usage in bytes, including all memory regardless of when it was accessed.",
        kind: Kind::Gauge,
        value: |r| Some(r.sample.memory_usage_total as f64),
    },
    Family {
        name: "container_memory_working_set_bytes",
        help: "Current working set in bytes.",
        kind: Kind::Gauge,
        value: |r| Some(r.sample.memory_usage as f64),
    },
    Family {
        name: "container_memory_rss",
        help: "Size of RSS in bytes.",
        kind: Kind::Gauge,
        value: |r| Some(r.sample.memory_rss as f64),
    },
    Family {
        name: "container_memory_cache",
        help: "Number of bytes of page cache memory.",
        kind: Kind::Gauge,
        value: |r| Some(r.sample.memory_cache as f64),
    },
    Family {
        name: "container_spec_memory_limit_bytes",
        help: "Memory limit for the container.",
        kind: Kind::Gauge,
        value: |r| Some(r.sample.memory_limit_set.unwrap_or(0) as f64),
    },
    Family {
        name: "container_spec_cpu_quota",
        help: "CPU quota of the container.",
        kind: Kind::Gauge,
        value: |r| r.sample.cpu_quota_us.map(|(quota, _)| quota as f64),
    },
    Family {
        name: "container_spec_cpu_period",
        help: "CPU period of the container.",
        kind: Kind::Gauge,
        value: |r| r.sample.cpu_quota_us.map(|(_, period)| period as f64),
    },
    Family {
        name: "container_network_receive_bytes_total",
        help: "Cumulative count of bytes received.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.net_rx_bytes as f64),
    },
    Family {
        name: "container_network_transmit_bytes_total",
        help: "Cumulative count of bytes transmitted.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.net_tx_bytes as f64),
    },
    Family {
        name: "container_network_receive_packets_total",
        help: "Cumulative count of packets received.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.net_rx_packets as f64),
    },
    Family {
        name: "container_network_transmit_packets_total",
        help: "Cumulative count of packets transmitted.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.net_tx_packets as f64),
    },
    Family {
        name: "container_network_receive_errors_total",
        help: "Cumulative count of errors encountered while receiving.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.net_rx_errors as f64),
    },
    Family {
        name: "container_network_transmit_errors_total",
        help: "Cumulative count of errors encountered while transmitting.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.net_tx_errors as f64),
    },
    Family {
        name: "container_fs_reads_bytes_total",
        help: "Cumulative count of bytes read.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.block_read_bytes as f64),
    },
    Family {
        name: "container_fs_writes_bytes_total",
        help: "Cumulative count of bytes written.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.block_write_bytes as f64),
    },
    Family {
        name: "container_pids",
        help: "Number of processes and threads in the container.",
        kind: Kind::Gauge,
        value: |r| Some(r.sample.pids as f64),
    },
    Family {
        name: "container_start_time_seconds",
        help: "Start time of the container since unix epoch in seconds.",
        kind: Kind::Gauge,
        value: |r| match r.container.state {
            ContainerState::Running { started_at, .. } => Some(started_at as f64),
            _ => None,
        },
    },
    Family {
        name: "container_oom_events_total",
        help: "Count of out of memory events observed for the container.",
        kind: Kind::Counter,
        value: |r| Some(r.sample.oom_kills as f64),
    },
    Family {
        name: "container_health_status",
        help: "Health check verdict: 1 healthy, 0 unhealthy, 0.5 starting; absent without a health check.",
        kind: Kind::Gauge,
        value: |r| {
            r.container.health.map(|h| match h {
                Health::Healthy => 1.0,
                Health::Unhealthy => 0.0,
                Health::Starting => 0.5,
            })
        },
    },
];

/// A project's sums over its running containers.
#[derive(Debug, Default, Clone, Copy)]
struct ProjectTotals {
    cpu_ns: u64,
    working_set: u64,
    usage: u64,
    limit: u64,
    rx: u64,
    tx: u64,
    pids: u64,
    running: u64,
}

/// The whole exposition: every running container's series, the projects'
/// totals and the count of every container (`all`) by state.
pub fn render(readings: &[Reading], all: &[ContainerInfo]) -> String {
    let mut out = String::with_capacity(256 + readings.len() * CONTAINER_FAMILIES.len() * 200);
    let label_sets: Vec<String> = readings
        .iter()
        .map(|r| container_labels(&r.container))
        .collect();
    for family in CONTAINER_FAMILIES {
        header(&mut out, family.name, family.help, family.kind);
        for (reading, labels) in readings.iter().zip(&label_sets) {
            if let Some(value) = (family.value)(reading) {
                sample(&mut out, family.name, labels, value);
            }
        }
    }
    project_totals(&mut out, readings);
    header(
        &mut out,
        "wharf_containers",
        "Containers on the host by state.",
        Kind::Gauge,
    );
    for state in STATES {
        let count = all.iter().filter(|c| c.state.name() == state).count();
        sample(
            &mut out,
            "wharf_containers",
            &format!("state=\"{state}\""),
            count as f64,
        );
    }
    out
}

/// A `wharf_project_*` family: name, help, type, and its value from the totals.
type ProjectFamily = (&'static str, &'static str, Kind, fn(&ProjectTotals) -> f64);

fn project_totals(out: &mut String, readings: &[Reading]) {
    let mut projects: BTreeMap<&str, ProjectTotals> = BTreeMap::new();
    for r in readings {
        let Some(project) = r.container.label(labels::PROJECT) else {
            continue;
        };
        let t = projects.entry(project).or_default();
        let s = &r.sample;
        t.cpu_ns = t.cpu_ns.saturating_add(s.cpu_usage_ns);
        t.working_set = t.working_set.saturating_add(s.memory_usage);
        t.usage = t.usage.saturating_add(s.memory_usage_total);
        t.limit = t.limit.saturating_add(s.memory_limit_set.unwrap_or(0));
        t.rx = t.rx.saturating_add(s.net_rx_bytes);
        t.tx = t.tx.saturating_add(s.net_tx_bytes);
        t.pids = t.pids.saturating_add(s.pids);
        t.running += 1;
    }
    let families: [ProjectFamily; 8] = [
        (
            "wharf_project_cpu_usage_seconds_total",
            "CPU time consumed by the project's running containers, in seconds.",
            Kind::Counter,
            |t| t.cpu_ns as f64 / NS_PER_S,
        ),
        (
            "wharf_project_memory_working_set_bytes",
            "Working set of the project's running containers.",
            Kind::Gauge,
            |t| t.working_set as f64,
        ),
        (
            "wharf_project_memory_usage_bytes",
            "Memory of the project's running containers, page cache included.",
            Kind::Gauge,
            |t| t.usage as f64,
        ),
        (
            "wharf_project_memory_limit_bytes",
            "Sum of the memory limits of the project's running containers (0 for unlimited ones).",
            Kind::Gauge,
            |t| t.limit as f64,
        ),
        (
            "wharf_project_network_receive_bytes_total",
            "Bytes received by the project's running containers.",
            Kind::Counter,
            |t| t.rx as f64,
        ),
        (
            "wharf_project_network_transmit_bytes_total",
            "Bytes sent by the project's running containers.",
            Kind::Counter,
            |t| t.tx as f64,
        ),
        (
            "wharf_project_pids",
            "Processes and threads in the project's running containers.",
            Kind::Gauge,
            |t| t.pids as f64,
        ),
        (
            "wharf_project_containers_running",
            "Running containers of the project.",
            Kind::Gauge,
            |t| t.running as f64,
        ),
    ];
    for (name, help, kind, value) in families {
        header(out, name, help, kind);
        for (project, totals) in &projects {
            let labels = format!("compose_project=\"{}\"", escape_label(project));
            sample(out, name, &labels, value(totals));
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: Kind) {
    let kind = match kind {
        Kind::Counter => "counter",
        Kind::Gauge => "gauge",
    };
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, labels: &str, value: f64) {
    let _ = writeln!(out, "{name}{{{labels}}} {value}");
}

/// `id`, `name`, `image` as cAdvisor labels a container, and the Compose
/// labels (empty for a container Compose did not make).
fn container_labels(c: &ContainerInfo) -> String {
    let compose = |key| escape_label(c.label(key).unwrap_or(""));
    format!(
        "id=\"{}\",name=\"{}\",image=\"{}\",compose_project=\"{}\",compose_service=\"{}\",container_number=\"{}\"",
        escape_label(&c.id),
        escape_label(&c.name),
        escape_label(&c.image),
        compose(labels::PROJECT),
        compose(labels::SERVICE),
        compose(labels::CONTAINER_NUMBER),
    )
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
pub fn escape_label(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for ch in value.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            _ => out.push(ch),
        }
    }
    out
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
mod tests;
