//! `wharf stats`: CPU, memory, network, block I/O and pids of the project's
//! containers, read from their cgroups and network namespaces.

use super::filter_services;
use crate::context::GlobalOptions;
use crate::render::{table, units};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::collections::HashMap;
use std::io::Write;
use std::time::Duration;
use wharf_engine_api::{ContainerInfo, Engine, StatsSample};

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Leave out the project's total row (shown when there are several containers)
    #[arg(long)]
    pub no_total: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// Time between the two readings that give CPU %.
const WINDOW: Duration = Duration::from_millis(500);

pub fn stats(global: &GlobalOptions, args: StatsArgs) -> Result<i32> {
    if !matches!(args.format.as_str(), "table" | "json") {
        anyhow::bail!("unknown format {:?}: use table or json", args.format);
    }
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let redraw = !args.no_stream && global.stdout_ansi();
    let mut previous: HashMap<String, StatsSample> = HashMap::new();
    loop {
        let containers = wharf_orchestrator::project_containers(&engine, &name, args.all)?;
        let containers = filter_services(containers, &args.services, project.as_ref())?;
        if previous.is_empty() {
            for c in &containers {
                previous.insert(c.id.clone(), engine.stats(&c.id)?);
            }
            std::thread::sleep(WINDOW);
        }
        let mut rows = Vec::new();
        for c in &containers {
            let now = engine.stats(&c.id)?;
            let before = previous.get(&c.id).cloned().unwrap_or_else(|| now.clone());
            rows.push(Row::new(c, &before, &now, args.no_trunc));
            previous.insert(c.id.clone(), now);
        }
        let mut out = std::io::stdout().lock();
        if redraw {
            let _ = write!(out, "\x1b[2J\x1b[H");
        }
        if args.format == "json" {
            for row in &rows {
                let _ = writeln!(out, "{}", row.json());
            }
        } else {
            let mut cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
            if rows.len() > 1 && !args.no_total {
                cells.push(Row::total(&rows).cells());
            }
            let _ = write!(out, "{}", table::render(&Row::HEADERS, &cells));
        }
        let _ = out.flush();
        if args.no_stream {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

struct Row {
    id: String,
    name: String,
    cpu_percent: f64,
    memory: u64,
    limit: u64,
    net: (u64, u64),
    block: (u64, u64),
    pids: u64,
}

impl Row {
    const HEADERS: [&'static str; 8] = [
        "CONTAINER ID",
        "NAME",
        "CPU %",
        "MEM USAGE / LIMIT",
        "MEM %",
        "NET I/O",
        "BLOCK I/O",
        "PIDS",
    ];

    fn new(c: &ContainerInfo, before: &StatsSample, now: &StatsSample, no_trunc: bool) -> Self {
        Row {
            id: if no_trunc {
                c.id.clone()
            } else {
                c.id[..12.min(c.id.len())].to_string()
            },
            name: c.name.clone(),
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
    fn total(rows: &[Row]) -> Row {
        let sum = |f: &dyn Fn(&Row) -> u64| rows.iter().map(f).fold(0u64, u64::saturating_add);
        Row {
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

    fn mem_percent(&self) -> f64 {
        if self.limit == 0 {
            0.0
        } else {
            self.memory as f64 / self.limit as f64 * 100.0
        }
    }

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.clone(),
            self.name.clone(),
            format!("{:.2}%", self.cpu_percent),
            format!(
                "{} / {}",
                units::binary_size(self.memory),
                units::binary_size(self.limit)
            ),
            format!("{:.2}%", self.mem_percent()),
            format!(
                "{} / {}",
                units::decimal_size(self.net.0),
                units::decimal_size(self.net.1)
            ),
            format!(
                "{} / {}",
                units::decimal_size(self.block.0),
                units::decimal_size(self.block.1)
            ),
            self.pids.to_string(),
        ]
    }

    fn json(&self) -> serde_json::Value {
        let cells = self.cells();
        json!({
            "ID": self.id, "Name": self.name, "Container": self.name,
            "CPUPerc": cells[2], "MemUsage": cells[3], "MemPerc": cells[4],
            "NetIO": cells[5], "BlockIO": cells[6], "PIDs": cells[7],
        })
    }
}

/// CPU use over the window, in percent of one CPU (docker's figure: 50% is
/// half a core; 200% is two cores busy).
fn cpu_percent(before: &StatsSample, now: &StatsSample) -> f64 {
    let wall = now.read_at_ns.saturating_sub(before.read_at_ns);
    if wall == 0 {
        return 0.0;
    }
    now.cpu_usage_ns.saturating_sub(before.cpu_usage_ns) as f64 / wall as f64 * 100.0
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
