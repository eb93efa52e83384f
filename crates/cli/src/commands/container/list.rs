//! `wharf container ls` (docker's `ps`): every container of the engine, in
//! docker's columns (`CONTAINER ID IMAGE COMMAND CREATED STATUS PORTS NAMES`).

use crate::context::GlobalOptions;
use crate::render::{table, units};
use anyhow::Result;
use clap::Args;
use std::collections::BTreeMap;
use wharf_app::docker::list::ListOptions;
use wharf_engine::DiskUsage;
use wharf_engine_api::ContainerInfo;

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display container IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show n last created containers (includes all states)
    #[arg(short = 'n', long = "last")]
    pub last: Option<usize>,
    /// Show the latest created container (includes all states)
    #[arg(short = 'l', long)]
    pub latest: bool,
    /// Display total file sizes
    #[arg(short = 's', long)]
    pub size: bool,
    /// Filter output based on conditions provided
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
}

pub fn ls(global: &GlobalOptions, args: LsArgs) -> Result<i32> {
    let format = crate::render::format::Format::parse("--format", &args.format)?;
    let engine = global.engine()?;
    let options = ListOptions {
        all: args.all,
        last: if args.latest { Some(1) } else { args.last },
        filters: args.filters.clone(),
    };
    let containers = wharf_app::docker::list::list(&engine, &options)?;
    let id = |c: &ContainerInfo| {
        if args.no_trunc {
            c.id.clone()
        } else {
            c.id[..12.min(c.id.len())].to_string()
        }
    };
    if args.quiet {
        for c in &containers {
            println!("{}", id(c));
        }
        return Ok(0);
    }
    let sizes = if args.size {
        size_texts(&engine.disk_usage()?)
    } else {
        BTreeMap::new()
    };
    let size_of = |c: &ContainerInfo| sizes.get(&c.id).cloned().unwrap_or_else(|| "0B".into());
    let now = units::now_secs();
    let entries: Vec<serde_json::Value> = containers
        .iter()
        .map(|c| {
            let mut entry = super::super::ps::json_entry(c, now);
            if args.size {
                entry["Size"] = size_of(c).into();
            }
            entry
        })
        .collect();
    let text = crate::render::format::render(
        &format,
        "--format",
        super::super::ps::HEADERS,
        &entries,
        || {
            let mut headers = vec![
                "CONTAINER ID",
                "IMAGE",
                "COMMAND",
                "CREATED",
                "STATUS",
                "PORTS",
                "NAMES",
            ];
            if args.size {
                headers.push("SIZE");
            }
            let rows: Vec<Vec<String>> = containers
                .iter()
                .map(|c| {
                    let mut row = vec![
                        id(c),
                        c.image.clone(),
                        super::super::ps::quoted_command(
                            c,
                            if args.no_trunc { usize::MAX } else { 20 },
                        ),
                        format!("{} ago", units::human_duration(now - c.created)),
                        super::super::ps::status_text(&c.state, c.health, now),
                        super::super::ps::ports_text(&c.ports),
                        c.name.clone(),
                    ];
                    if args.size {
                        row.push(size_of(c));
                    }
                    row
                })
                .collect();
            table::render(&headers, &rows)
        },
    )?;
    print!("{text}");
    Ok(0)
}

/// docker's `SIZE` of each container by id: what it wrote, and with its
/// image's layers the size it sees (`12B (virtual 4.3MB)`).
fn size_texts(usage: &DiskUsage) -> BTreeMap<String, String> {
    let image_sizes: BTreeMap<&str, u64> = usage
        .images
        .iter()
        .map(|i| (i.id.as_str(), i.size()))
        .collect();
    usage
        .containers
        .iter()
        .map(|c| {
            let virtual_size = c.size + image_sizes.get(c.info.image_id.as_str()).unwrap_or(&0);
            (c.info.id.clone(), size_text(c.size, virtual_size))
        })
        .collect()
}

fn size_text(written: u64, virtual_size: u64) -> String {
    let written = units::decimal_size_3(written);
    if virtual_size == 0 {
        return written;
    }
    format!(
        "{written} (virtual {})",
        units::decimal_size_3(virtual_size)
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn size_shows_the_written_and_the_virtual_size() {
        assert_eq!(super::size_text(12, 4_300_012), "12B (virtual 4.3MB)");
        assert_eq!(super::size_text(0, 0), "0B");
    }
}
