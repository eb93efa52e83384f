//! `wharf volume ls|create|rm|inspect|prune`: docker's volume commands, with
//! docker's output (`DRIVER    VOLUME NAME`, inspect as a JSON array).

use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::table;
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use wharf_engine_api::{EngineError, VolumeEngine, VolumeInfo, VolumeSpec};

#[derive(Subcommand, Debug)]
pub enum VolumeCommand {
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Create a volume
    Create(CreateArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Display detailed information on one or more volumes
    Inspect(InspectArgs),
    /// Remove unused local volumes
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Provide filter values (e.g. "dangling=true", "label=KEY[=VALUE]", "name=TEXT", "driver=local")
    #[arg(short = 'f', long = "filter")]
    pub filters: Vec<String>,
    /// Format output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Volume name (a random one when not given)
    pub name: Option<String>,
    /// Specify volume driver name
    #[arg(short = 'd', long, default_value = "local")]
    pub driver: String,
    /// Set driver specific options (KEY=VALUE: type, o, device)
    #[arg(short = 'o', long = "opt")]
    pub opts: Vec<String>,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(long = "label")]
    pub labels: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of volumes used only by stopped containers
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(value_name = "VOLUME", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output: json (the default) or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(value_name = "VOLUME", required = true)]
    pub names: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Provide filter values (e.g. "label=KEY[=VALUE]")
    #[arg(long = "filter")]
    pub filters: Vec<String>,
}

pub fn volume(global: &GlobalOptions, command: VolumeCommand) -> Result<i32> {
    let engine = global.engine()?;
    match command {
        VolumeCommand::Ls(args) => ls(&engine, args),
        VolumeCommand::Create(args) => create(&engine, args),
        VolumeCommand::Rm(args) => rm(&engine, args),
        VolumeCommand::Inspect(args) => inspect(&engine, args),
        VolumeCommand::Prune(args) => prune(&engine, args),
    }
}

/// Keep the volumes that pass every filter (docker's: `dangling`, `label`,
/// `label!`, `name`, `driver`).
pub fn filter_volumes(volumes: Vec<VolumeInfo>, filters: &[String]) -> Result<Vec<VolumeInfo>> {
    let mut out = volumes;
    for filter in filters {
        let (key, value) = filter.split_once('=').with_context(|| {
            format!("bad filter {filter:?}: expected KEY=VALUE such as dangling=true")
        })?;
        let label_matches = |v: &VolumeInfo| super::label_filter_matches(&v.labels, value);
        match key {
            "dangling" => {
                let want = match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => anyhow::bail!("bad filter {filter:?}: dangling takes true or false"),
                };
                out.retain(|v| v.used_by.is_empty() == want);
            }
            "label" => out.retain(label_matches),
            "label!" => out.retain(|v| !label_matches(v)),
            "name" => out.retain(|v| v.name.contains(value)),
            "driver" => out.retain(|v| v.driver == value),
            _ => anyhow::bail!(
                "unsupported filter {key:?}: wharf supports dangling, label, label!, name and driver"
            ),
        }
    }
    Ok(out)
}

/// The fields of a `volume ls` row and docker's headers for them.
const LS_HEADERS: &Headers = &[
    ("Name", "VOLUME NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Labels", "LABELS"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("Availability", "AVAILABILITY"),
    ("Group", "GROUP"),
    ("Status", "STATUS"),
];

fn ls(engine: &dyn VolumeEngine, args: LsArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    let volumes = filter_volumes(engine.list_volumes(&[])?, &args.filters)?;
    if args.quiet {
        for v in &volumes {
            println!("{}", v.name);
        }
        return Ok(0);
    }
    let entries: Vec<serde_json::Value> = volumes.iter().map(ls_json).collect();
    let text = format::render(&format, "--format", LS_HEADERS, &entries, || {
        let rows: Vec<Vec<String>> = volumes
            .iter()
            .map(|v| vec![v.driver.clone(), v.name.clone()])
            .collect();
        table::render(&["DRIVER", "VOLUME NAME"], &rows)
    })?;
    print!("{text}");
    Ok(0)
}

/// `docker volume ls --format json`'s fields.
fn ls_json(v: &VolumeInfo) -> serde_json::Value {
    serde_json::json!({
        "Availability": "N/A",
        "Driver": v.driver,
        "Group": "N/A",
        "Labels": super::labels_text(&v.labels),
        "Links": v.used_by.len().to_string(),
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Scope": v.scope,
        "Size": "N/A",
        "Status": "N/A",
    })
}

/// `docker volume inspect`'s fields.
pub fn inspect_json(v: &VolumeInfo) -> serde_json::Value {
    serde_json::json!({
        "CreatedAt": crate::render::units::docker_time(v.created),
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": v.scope,
        "UsedBy": v.used_by.iter().map(|u| serde_json::json!({
            "Container": u.container_name,
            "ContainerID": u.container_id,
            "Destination": u.target,
            "Running": u.running,
        })).collect::<Vec<_>>(),
    })
}

fn create(engine: &dyn VolumeEngine, args: CreateArgs) -> Result<i32> {
    let name = match args.name {
        Some(name) => name,
        None => random_name()?,
    };
    let spec = VolumeSpec {
        name: name.clone(),
        driver: Some(args.driver.clone()),
        driver_opts: super::key_values(&args.opts, "option")?,
        labels: super::key_values(&args.labels, "label")?,
    };
    match engine.create_volume(&spec) {
        Ok(_) => {}
        // docker: creating an existing volume of the same driver is a no-op.
        Err(EngineError::Conflict { .. }) => {
            let existing = engine.inspect_volume(&name)?;
            if existing.driver != args.driver {
                anyhow::bail!(
                    "volume {name} already exists with driver {}, not {}",
                    existing.driver,
                    args.driver
                );
            }
        }
        Err(e) => return Err(e.into()),
    }
    println!("{name}");
    Ok(0)
}

fn random_name() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for a volume name")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

fn rm(engine: &dyn VolumeEngine, args: RmArgs) -> Result<i32> {
    let mut failures = Vec::new();
    for name in &args.names {
        match engine.remove_volume(name, args.force) {
            Ok(()) => println!("{name}"),
            Err(EngineError::NotFound { .. }) if args.force => {}
            Err(e) => failures.push(e.to_string()),
        }
    }
    if failures.is_empty() {
        Ok(0)
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

fn inspect(engine: &dyn VolumeEngine, args: InspectArgs) -> Result<i32> {
    // A bad template fails before any volume is read.
    format::inspect("--format", args.format.as_deref(), &[])?;
    let mut found = Vec::new();
    let mut failures = Vec::new();
    for name in &args.names {
        match engine.inspect_volume(name) {
            Ok(v) => found.push(inspect_json(&v)),
            Err(e) => failures.push(format!("no such volume: {name} ({e})")),
        }
    }
    print!(
        "{}",
        format::inspect("--format", args.format.as_deref(), &found)?
    );
    if failures.is_empty() {
        Ok(0)
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

fn prune(engine: &dyn VolumeEngine, args: PruneArgs) -> Result<i32> {
    use std::io::{BufRead, IsTerminal, Write};
    if !args.force {
        eprint!(
            "WARNING! This will remove {}.\nAre you sure you want to continue? [y/N] ",
            if args.all {
                "all local volumes not used by at least one container"
            } else {
                "anonymous local volumes not used by at least one container"
            }
        );
        let _ = std::io::stderr().flush();
        if !std::io::stdin().is_terminal() {
            eprintln!();
            anyhow::bail!(
                "not removing anything without confirmation: add -f to prune without asking"
            );
        }
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let unused = filter_volumes(engine.list_volumes(&[])?, &args.filters)?
        .into_iter()
        .filter(|v| v.used_by.is_empty() && (args.all || v.anonymous));
    let mut removed = Vec::new();
    let mut failures = Vec::new();
    for v in unused {
        match engine.remove_volume(&v.name, false) {
            Ok(()) => removed.push(v.name),
            Err(e) => failures.push(e.to_string()),
        }
    }
    if !removed.is_empty() {
        println!("Deleted Volumes:");
        for name in &removed {
            println!("{name}");
        }
        println!();
    }
    println!("Total reclaimed space: 0B");
    if failures.is_empty() {
        Ok(0)
    } else {
        anyhow::bail!(failures.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_engine_api::VolumeUser;

    fn volume(name: &str, labels: &[(&str, &str)], used: bool) -> VolumeInfo {
        VolumeInfo {
            name: name.into(),
            driver: "local".into(),
            mountpoint: String::new(),
            created: 0,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            options: std::collections::BTreeMap::new(),
            scope: "local".into(),
            anonymous: false,
            used_by: if used {
                vec![VolumeUser {
                    container_id: "x".into(),
                    container_name: "c".into(),
                    target: "/d".into(),
                    running: true,
                }]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn filters_by_label_and_dangling() {
        let all = vec![
            volume("a_data", &[("com.docker.compose.project", "a")], true),
            volume("b_data", &[("com.docker.compose.project", "b")], false),
            volume("plain", &[], false),
        ];
        let names = |filters: &[&str]| -> Vec<String> {
            let filters: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
            filter_volumes(all.clone(), &filters)
                .unwrap()
                .into_iter()
                .map(|v| v.name)
                .collect()
        };
        assert_eq!(names(&["dangling=true"]), ["b_data", "plain"]);
        assert_eq!(names(&["dangling=false"]), ["a_data"]);
        assert_eq!(
            names(&["label=com.docker.compose.project"]),
            ["a_data", "b_data"]
        );
        assert_eq!(names(&["label=com.docker.compose.project=b"]), ["b_data"]);
        assert_eq!(names(&["name=data", "dangling=true"]), ["b_data"]);
        assert!(filter_volumes(all.clone(), &["color=red".into()]).is_err());
    }
}
