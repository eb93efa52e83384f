//! `wharf search [REGISTRY/]TERM`: repositories of a registry's catalog whose
//! name contains TERM, in docker's columns (NAME DESCRIPTION STARS OFFICIAL).
//! Private registries have no Docker Hub search API, so the catalog
//! (`/v2/_catalog`) is read instead; it carries no descriptions or stars.

use crate::render::format::{self, Format, Headers};
use crate::render::table;
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use wharf_image::reference::DEFAULT_DOMAIN;
use wharf_image::registry::Registry;

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

/// `127.0.0.1:5000/bus` → (`127.0.0.1:5000`, `bus`); a term without a
/// registry address searches Docker Hub, as docker's does.
fn split_term(term: &str) -> (&str, &str) {
    match term.split_once('/') {
        Some((host, rest)) if host.contains(['.', ':']) || host == "localhost" => (host, rest),
        _ => (DEFAULT_DOMAIN, term),
    }
}

/// What the filters leave: the catalog has no stars and no official or
/// automated repositories, so a filter asking for any of those keeps none.
fn filters_keep_all(filters: &[String]) -> Result<bool> {
    let mut keep = true;
    for filter in filters {
        let (key, value) = filter.split_once('=').with_context(|| {
            format!("bad --filter {filter:?}: expected KEY=VALUE such as stars=3")
        })?;
        match key {
            "stars" => {
                let stars: u64 = value.parse().with_context(|| {
                    format!("bad --filter {filter:?}: stars takes a whole number")
                })?;
                keep &= stars == 0;
            }
            "is-official" | "is-automated" => match value {
                "true" | "1" => keep = false,
                "false" | "0" => {}
                _ => bail!("bad --filter {filter:?}: {key} takes true or false"),
            },
            _ => bail!(
                "unsupported --filter {key:?}: wharf supports stars, is-official and is-automated"
            ),
        }
    }
    Ok(keep)
}

pub fn search(args: SearchArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    if !(1..=100).contains(&args.limit) {
        bail!("--limit {}: give a number from 1 to 100", args.limit);
    }
    let keep_any = filters_keep_all(&args.filters)?;
    let (domain, term) = split_term(&args.term);
    let needle = term.to_lowercase();
    let names = if keep_any {
        let settings = crate::context::registry_settings()?;
        let credentials = settings.credentials_for(domain)?;
        let registry = Registry::connect(domain, &settings.registry_options(), credentials)?;
        wharf_image::catalog::repositories(&registry, args.limit, &|name| {
            name.to_lowercase().contains(&needle)
        })?
    } else {
        Vec::new()
    };
    let shown = |name: &str| {
        if domain == DEFAULT_DOMAIN {
            name.to_string()
        } else {
            format!("{domain}/{name}")
        }
    };
    let entries: Vec<serde_json::Value> = names
        .iter()
        .map(|name| {
            json!({
                "Name": shown(name), "Description": "", "StarCount": "0",
                "IsOfficial": "", "IsAutomated": "",
            })
        })
        .collect();
    let text = format::render(&format, "--format", HEADERS, &entries, || {
        let rows: Vec<Vec<String>> = names
            .iter()
            .map(|name| vec![shown(name), String::new(), "0".into(), String::new()])
            .collect();
        table::render(&["NAME", "DESCRIPTION", "STARS", "OFFICIAL"], &rows)
    })?;
    print!("{text}");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_is_read_from_the_term() {
        assert_eq!(
            split_term("127.0.0.1:5000/busy"),
            ("127.0.0.1:5000", "busy")
        );
        assert_eq!(split_term("localhost/app"), ("localhost", "app"));
        assert_eq!(
            split_term("reg.example/team/app"),
            ("reg.example", "team/app")
        );
        assert_eq!(split_term("busybox"), (DEFAULT_DOMAIN, "busybox"));
        assert_eq!(
            split_term("library/busybox"),
            (DEFAULT_DOMAIN, "library/busybox")
        );
    }

    #[test]
    fn filters_are_docker_s() {
        assert!(filters_keep_all(&["stars=0".into(), "is-official=false".into()]).unwrap());
        assert!(!filters_keep_all(&["stars=3".into()]).unwrap());
        assert!(!filters_keep_all(&["is-official=true".into()]).unwrap());
        assert!(filters_keep_all(&["stars=x".into()]).is_err());
        assert!(filters_keep_all(&["colour=red".into()]).is_err());
    }
}
