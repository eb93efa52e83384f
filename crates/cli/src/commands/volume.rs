//! `wharf volume ls|create|rm|inspect|prune`: docker's volume commands, with
//! docker's output (`DRIVER    VOLUME NAME`, inspect as a JSON array).

use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::table;
use anyhow::Result;
use clap::{Args, Subcommand};
use wharf_app::filters::Filters;
use wharf_app::volumes;
use wharf_engine_api::{VolumeEngine, VolumeInfo};

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

/// docker's `volume inspect` document (also `docker inspect`'s).
pub use wharf_app::volumes::inspect_document as inspect_json;

fn filters(flags: &[String]) -> Result<Filters> {
    Ok(Filters::from_flags(flags, "dangling=true")?)
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
    let volumes = volumes::list(engine, &filters(&args.filters)?)?;
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

fn create(engine: &dyn VolumeEngine, args: CreateArgs) -> Result<i32> {
    let options = volumes::CreateOptions {
        name: args.name,
        driver: args.driver,
        driver_opts: super::key_values(&args.opts, "option")?,
        labels: super::key_values(&args.labels, "label")?,
    };
    println!("{}", volumes::create(engine, options)?.name);
    Ok(0)
}

fn rm(engine: &dyn VolumeEngine, args: RmArgs) -> Result<i32> {
    let mut failures = Vec::new();
    for name in &args.names {
        match volumes::remove(engine, name, args.force) {
            Ok(true) => println!("{name}"),
            Ok(false) => {}
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
    let report = volumes::prune(engine, args.all, &filters(&args.filters)?)?;
    let removed = report.removed;
    let failures: Vec<String> = report.failures.iter().map(|e| e.to_string()).collect();
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
