//! `wharf search [REGISTRY/]TERM`: repositories of a registry's catalog whose
//! name contains TERM, in docker's columns (NAME DESCRIPTION STARS OFFICIAL).
//! The search itself is the core's (`wharf_app::search`).

use crate::render::format::{self, Format, Headers};
use crate::render::table;
use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// Max number of search results
    #[arg(long, default_value_t = 25)]
    pub limit: usize,
    /// Filter output based on conditions provided (stars=N, is-official=BOOL, is-automated=BOOL)
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// What to look for, after the registry's address (127.0.0.1:5000/busybox)
    #[arg(value_name = "TERM")]
    pub term: String,
}

/// The fields of a `search` row and docker's headers for them.
const HEADERS: &Headers = &[
    ("Name", "NAME"),
    ("Description", "DESCRIPTION"),
    ("StarCount", "STARS"),
    ("IsOfficial", "OFFICIAL"),
    ("IsAutomated", "AUTOMATED"),
];

pub fn search(args: SearchArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    if !(1..=100).contains(&args.limit) {
        bail!("--limit {}: give a number from 1 to 100", args.limit);
    }
    let names = wharf_app::search::search(
        &args.term,
        args.limit,
        &args.filters,
        &crate::context::registry_settings()?,
    )?;
    let entries: Vec<serde_json::Value> = names
        .iter()
        .map(|name| {
            json!({
                "Name": name, "Description": "", "StarCount": "0",
                "IsOfficial": "", "IsAutomated": "",
            })
        })
        .collect();
    let text = format::render(&format, "--format", HEADERS, &entries, || {
        let rows: Vec<Vec<String>> = names
            .iter()
            .map(|name| vec![name.clone(), String::new(), "0".into(), String::new()])
            .collect();
        table::render(&["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], &rows)
    })?;
    print!("{text}");
    Ok(0)
}
