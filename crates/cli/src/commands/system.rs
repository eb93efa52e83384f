//! `wharf system`: `df` (disk usage of images, containers, volumes and the build
//! cache, in docker's table or JSON, with `-v` the detail of each) and `service`.

use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::{table, units};
use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};
use wharf_engine::{DiskUsage, UsageSummary};

#[derive(Subcommand, Debug)]
pub enum SystemCommand {
    /// Show docker disk usage
    Df(DfArgs),
    /// Start the containers whose restart policy says they run after the host restarted
    Boot(super::boot::BootArgs),
    /// Serve the Docker Engine API on a socket (the docker CLI and SDKs then drive wharf)
    Service(super::service::ServiceArgs),
}

#[derive(Args, Debug)]
pub struct DfArgs {
    /// Show detailed information on space usage
    #[arg(short = 'v', long)]
    pub verbose: bool,
    /// Format output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
}

pub fn system(global: &GlobalOptions, command: SystemCommand) -> Result<i32> {
    match command {
        SystemCommand::Df(args) => df(global, args),
        SystemCommand::Boot(args) => super::boot::boot(global, args),
        SystemCommand::Service(args) => super::service::service(global, args),
    }
}

fn df(global: &GlobalOptions, args: DfArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    if args.verbose {
        format::only_table_or_json("--format", &args.format)?;
    }
    let usage = wharf_app::disk::usage(&global.engine()?)?;
    let now = units::now_secs();
    match (format, args.verbose) {
        (Format::Json, true) => println!("{}", verbose_json(&usage, now)),
        (_, true) => print!("{}", verbose_table(&usage, now)),
        (format, false) => {
            let summary = usage.summary();
            let entries: Vec<Value> = summary.iter().map(summary_json).collect();
            let text = format::render(&format, "--format", SUMMARY_HEADERS, &entries, || {
                summary_table(&summary)
            })?;
            print!("{text}");
        }
    }
    Ok(0)
}

/// `1.2MB (40%)`: the reclaimable bytes and their share of the size (docker
/// leaves the share out for the build cache and for an empty type).
fn reclaimable_text(row: &UsageSummary) -> String {
    let bytes = units::decimal_size(row.reclaimable);
    match wharf_app::disk::reclaimable_percent(row) {
        Some(percent) => format!("{bytes} ({percent}%)"),
        None => bytes,
    }
}

/// The fields of a `system df` row and docker's headers for them.
const SUMMARY_HEADERS: &Headers = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

fn summary_table(rows: &[UsageSummary]) -> String {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.kind.to_string(),
                r.total.to_string(),
                r.active.to_string(),
                units::decimal_size(r.size),
                reclaimable_text(r),
            ]
        })
        .collect();
    table::render(&["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"], &rows)
}

fn summary_json(row: &UsageSummary) -> Value {
    json!({
        "Active": row.active.to_string(),
        "Reclaimable": reclaimable_text(row),
        "Size": units::decimal_size(row.size),
        "TotalCount": row.total.to_string(),
        "Type": row.kind,
    })
}

fn short_id(id: &str) -> String {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    hex.chars().take(12).collect()
}

fn ago(now: i64, then: i64) -> String {
    format!("{} ago", units::human_duration(now - then))
}

/// (repository, tag) of an image's first name, `<none>` for a dangling one.
fn first_name(tags: &[String]) -> (String, String) {
    let Some(tag) = tags.first() else {
        return ("<none>".into(), "<none>".into());
    };
    match tag.rsplit_once(':') {
        Some((repo, t)) if !t.contains('/') => (repo.to_string(), t.to_string()),
        _ => (tag.clone(), "latest".into()),
    }
}

/// `"sh -c 'sleep 1…"`: docker's quoted, cut command column.
fn quoted_command(command: &[String]) -> String {
    let text = command.join(" ");
    if text.chars().count() > 20 {
        format!("\"{}…\"", text.chars().take(19).collect::<String>())
    } else {
        format!("\"{text}\"")
    }
}

fn cache_created(created: &str, now: i64) -> String {
    wharf_image::oci::parse_rfc3339(created).map_or_else(|| "N/A".into(), |t| ago(now, t))
}

fn verbose_table(usage: &DiskUsage, now: i64) -> String {
    let mut out = String::from("Images space usage:\n\n");
    let images: Vec<Vec<String>> = usage
        .images
        .iter()
        .map(|i| {
            let (repository, tag) = first_name(&i.repo_tags);
            let shared = usage.shared_size(i);
            vec![
                repository,
                tag,
                short_id(&i.id),
                ago(now, i.created),
                units::decimal_size(i.size()),
                units::decimal_size(shared),
                units::decimal_size(i.size() - shared),
                i.containers.to_string(),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &images,
    ));
    out.push_str("\nContainers space usage:\n\n");
    let containers: Vec<Vec<String>> = usage
        .containers
        .iter()
        .map(|c| {
            vec![
                short_id(&c.info.id),
                c.info.image.clone(),
                quoted_command(&c.info.command),
                c.volumes.to_string(),
                units::decimal_size(c.size),
                ago(now, c.info.created),
                super::ps::status_text(&c.info.state, c.info.health, now),
                c.info.name.clone(),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &containers,
    ));
    out.push_str("\nLocal Volumes space usage:\n\n");
    let volumes: Vec<Vec<String>> = usage
        .volumes
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                v.links.to_string(),
                units::decimal_size(v.size),
            ]
        })
        .collect();
    out.push_str(&table::render(&["VOLUME NAME", "LINKS", "SIZE"], &volumes));
    let [.., cache] = usage.summary();
    out.push_str(&format!(
        "\nBuild cache usage: {}\n\n",
        units::decimal_size(cache.size)
    ));
    let records: Vec<Vec<String>> = usage
        .build_cache
        .iter()
        .map(|r| {
            vec![
                short_id(&r.id),
                "regular".into(),
                units::decimal_size(r.size),
                cache_created(&r.created, now),
                "N/A".into(),
                "N/A".into(),
                r.shared.to_string(),
            ]
        })
        .collect();
    out.push_str(&table::render(
        &[
            "CACHE ID",
            "CACHE TYPE",
            "SIZE",
            "CREATED",
            "LAST USED",
            "USAGE",
            "SHARED",
        ],
        &records,
    ));
    out
}

fn verbose_json(usage: &DiskUsage, now: i64) -> Value {
    let images: Vec<Value> = usage
        .images
        .iter()
        .map(|i| {
            let (repository, tag) = first_name(&i.repo_tags);
            let shared = usage.shared_size(i);
            json!({
                "Containers": i.containers.to_string(),
                "CreatedAt": units::docker_time(i.created),
                "CreatedSince": ago(now, i.created),
                "ID": short_id(&i.id),
                "Repository": repository,
                "SharedSize": units::decimal_size(shared),
                "Size": units::decimal_size(i.size()),
                "Tag": tag,
                "UniqueSize": units::decimal_size(i.size() - shared),
            })
        })
        .collect();
    let containers: Vec<Value> = usage
        .containers
        .iter()
        .map(|c| {
            json!({
                "Command": quoted_command(&c.info.command),
                "CreatedAt": units::docker_time(c.info.created),
                "ID": short_id(&c.info.id),
                "Image": c.info.image,
                "LocalVolumes": c.volumes.to_string(),
                "Names": c.info.name,
                "Size": units::decimal_size(c.size),
                "State": c.info.state.name(),
                "Status": super::ps::status_text(&c.info.state, c.info.health, now),
            })
        })
        .collect();
    let volumes: Vec<Value> = usage
        .volumes
        .iter()
        .map(|v| {
            json!({
                "Links": v.links.to_string(),
                "Name": v.name,
                "Size": units::decimal_size(v.size),
            })
        })
        .collect();
    let cache: Vec<Value> = usage
        .build_cache
        .iter()
        .map(|r| {
            json!({
                "CacheType": "regular",
                "CreatedSince": cache_created(&r.created, now),
                "ID": short_id(&r.id),
                "Shared": r.shared,
                "Size": units::decimal_size(r.size),
            })
        })
        .collect();
    json!({"Images": images, "Containers": containers, "Volumes": volumes, "BuildCache": cache})
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(kind: &'static str, size: u64, reclaimable: u64) -> UsageSummary {
        UsageSummary {
            kind,
            total: 2,
            active: 1,
            size,
            reclaimable,
        }
    }

    #[test]
    fn reclaimable_shows_docker_share_except_for_the_build_cache() {
        assert_eq!(reclaimable_text(&row("Images", 3000, 1000)), "1kB (33%)");
        assert_eq!(reclaimable_text(&row("Containers", 0, 0)), "0B");
        assert_eq!(reclaimable_text(&row("Build Cache", 500, 500)), "500B");
    }

    #[test]
    fn summary_table_and_json_read_as_docker_prints_them() {
        let rows = [row("Images", 4_260_000, 0), row("Local Volumes", 36, 36)];
        assert_eq!(
            summary_table(&rows),
            "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\n\
             Images          2         1         4.26MB    0B (0%)\n\
             Local Volumes   2         1         36B       36B (100%)\n"
        );
        assert_eq!(
            summary_json(&rows[1]),
            json!({"Active": "1", "Reclaimable": "36B (100%)", "Size": "36B", "TotalCount": "2", "Type": "Local Volumes"})
        );
    }

    #[test]
    fn names_and_commands_as_docker_shows_them() {
        assert_eq!(
            first_name(&["127.0.0.1:5000/app:v1".into()]),
            ("127.0.0.1:5000/app".into(), "v1".into())
        );
        assert_eq!(first_name(&[]), ("<none>".into(), "<none>".into()));
        assert_eq!(
            quoted_command(&["sh".into(), "-c".into(), "sleep 1000000000".into()]),
            "\"sh -c sleep 1000000…\""
        );
    }
}
