//! `wharf stats`: CPU, memory, network, block I/O and pids of the project's
//! containers, read from their cgroups and network namespaces.

use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::{table, units};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use std::io::Write;
use std::time::Duration;
use wharf_app::stats::{Figures, Sampler};

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
    /// Format output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Leave out the project's total row (shown when there are several containers)
    #[arg(long)]
    pub no_total: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

pub fn stats(global: &GlobalOptions, args: StatsArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let scope = wharf_app::containers::Scope {
        name: &name,
        project: project.as_ref(),
        services: &args.services,
    };
    let mut sampler = Sampler::default();
    let display = Display {
        no_stream: args.no_stream,
        format,
        no_trunc: args.no_trunc,
        no_total: args.no_total,
    };
    show(global, &display, || {
        Ok(sampler.sample(&engine, &scope, args.all)?)
    })
}

/// How [`show`] prints the figures.
pub struct Display {
    pub no_stream: bool,
    /// `--format`: a table (the default), json or a Go template.
    pub format: Format,
    pub no_trunc: bool,
    /// Leave out the total row (shown when there are several containers).
    pub no_total: bool,
}

/// Print the figures `sample` gives, once or every second (redrawn in place
/// on a terminal).
pub fn show(
    global: &GlobalOptions,
    display: &Display,
    mut sample: impl FnMut() -> Result<Vec<Figures>>,
) -> Result<i32> {
    let redraw = !display.no_stream && global.stdout_ansi();
    loop {
        let rows: Vec<Row> = sample()?
            .into_iter()
            .map(|figures| Row::new(figures, display.no_trunc))
            .collect();
        let mut out = std::io::stdout().lock();
        if redraw {
            let _ = write!(out, "\x1b[2J\x1b[H");
        }
        let entries: Vec<serde_json::Value> = rows.iter().map(Row::json).collect();
        let text = format::render(&display.format, "--format", FIELDS, &entries, || {
            let mut cells: Vec<Vec<String>> = rows.iter().map(Row::cells).collect();
            if rows.len() > 1 && !display.no_total {
                cells.push(Row::total(&rows).cells());
            }
            table::render(&Row::HEADERS, &cells)
        })?;
        let _ = write!(out, "{text}");
        let _ = out.flush();
        if display.no_stream {
            return Ok(0);
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// The fields of a `stats` row and docker's headers for them.
const FIELDS: &Headers = &[
    ("Container", "CONTAINER"),
    ("Name", "NAME"),
    ("ID", "CONTAINER ID"),
    ("CPUPerc", "CPU %"),
    ("MemUsage", "MEM USAGE / LIMIT"),
    ("MemPerc", "MEM %"),
    ("NetIO", "NET I/O"),
    ("BlockIO", "BLOCK I/O"),
    ("PIDs", "PIDS"),
];

/// One row of the table: the core's figures, the ID cut unless `--no-trunc`.
struct Row(Figures);

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

    fn new(mut figures: Figures, no_trunc: bool) -> Self {
        if !no_trunc {
            figures.id.truncate(12);
        }
        Row(figures)
    }

    fn total(rows: &[Row]) -> Row {
        let figures: Vec<Figures> = rows.iter().map(|r| r.0.clone()).collect();
        Row(Figures::total(&figures))
    }

    fn cells(&self) -> Vec<String> {
        let f = &self.0;
        vec![
            f.id.clone(),
            f.name.clone(),
            format!("{:.2}%", f.cpu_percent),
            format!(
                "{} / {}",
                units::binary_size(f.memory),
                units::binary_size(f.limit)
            ),
            format!("{:.2}%", f.mem_percent()),
            format!(
                "{} / {}",
                units::decimal_size(f.net.0),
                units::decimal_size(f.net.1)
            ),
            format!(
                "{} / {}",
                units::decimal_size(f.block.0),
                units::decimal_size(f.block.1)
            ),
            f.pids.to_string(),
        ]
    }

    fn json(&self) -> serde_json::Value {
        let f = &self.0;
        let cells = self.cells();
        json!({
            "ID": f.id, "Name": f.name, "Container": f.name,
            "CPUPerc": cells[2], "MemUsage": cells[3], "MemPerc": cells[4],
            "NetIO": cells[5], "BlockIO": cells[6], "PIDs": cells[7],
        })
    }
}
