//! `wharf image …` and `wharf images`: the local image store.

use super::pull::ImagePullArgs;
use super::push::ImagePushArgs;
use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::{table, units};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;
use std::io::IsTerminal;
use wharf_app::filters::Filters;
use wharf_app::image_store;
use wharf_image::ImageDetails;

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// Build an image from a Dockerfile
    Build(super::build::ImageBuildArgs),
    /// List images
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Download an image from a registry
    Pull(ImagePullArgs),
    /// Upload an image to a registry
    Push(ImagePushArgs),
    /// Save one or more images to a tar archive (docker-archive and OCI layout)
    Save(SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(LoadArgs),
    /// Display detailed information on one or more images
    Inspect(InspectArgs),
    /// Show the history of an image
    History(HistoryArgs),
    /// Remove unused images
    Prune(PruneArgs),
}

#[derive(Args, Debug)]
pub struct SaveArgs {
    /// Write to a file, instead of STDOUT
    #[arg(short = 'o', long)]
    pub output: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct LoadArgs {
    /// Read from tar archive file, instead of STDIN
    #[arg(short = 'i', long)]
    pub input: Option<String>,
    /// Suppress the load output
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Load this platform from a multi-platform archive (os/arch[/variant])
    #[arg(long)]
    pub platform: Option<String>,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// Format output: json (the default) or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub images: Vec<String>,
}

#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Print sizes and dates in human readable format
    #[arg(short = 'H', long, default_value_t = true, action = clap::ArgAction::Set)]
    pub human: bool,
    /// Format output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
    pub image: String,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused images, not just dangling ones
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// Apply Dockerfile instruction to the created image
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// File (tar or tar.gz) holding the root filesystem, or - for standard input
    pub file: String,
    /// Name and tag of the new image
    pub reference: Option<String>,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all images (default hides intermediate images)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Show digests
    #[arg(long)]
    pub digests: bool,
    /// Filter output based on conditions provided (dangling=true|false, reference=PATTERN)
    #[arg(long = "filter")]
    pub filters: Vec<String>,
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force removal of the image
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub fn image(global: &GlobalOptions, command: ImageCommand) -> Result<i32> {
    match command {
        ImageCommand::Import(args) => import(global, args),
        ImageCommand::Build(args) => super::build::image_build(global, args),
        ImageCommand::Ls(args) => ls(global, args),
        ImageCommand::Rm(args) => {
            let engine = global.engine()?;
            let mut failed = false;
            for image in &args.images {
                match image_store::remove(&engine, image, args.force) {
                    Ok(lines) => lines.iter().for_each(|l| println!("{l}")),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            Ok(i32::from(failed))
        }
        ImageCommand::Tag { source, target } => {
            global.engine()?.images().tag(&source, &target)?;
            Ok(0)
        }
        ImageCommand::Pull(args) => super::pull::image_pull(global, args),
        ImageCommand::Push(args) => super::push::image_push(global, args),
        ImageCommand::Save(args) => save(global, args),
        ImageCommand::Load(args) => load(global, args),
        ImageCommand::Inspect(args) => inspect(global, args),
        ImageCommand::History(args) => history(global, args),
        ImageCommand::Prune(args) => prune(global, args),
    }
}

fn import(global: &GlobalOptions, args: ImportArgs) -> Result<i32> {
    let engine = global.engine()?;
    let id = if args.file == "-" {
        engine.images().import(
            std::io::stdin().lock(),
            args.reference.as_deref(),
            &args.changes,
        )?
    } else {
        let file =
            std::fs::File::open(&args.file).with_context(|| format!("opening {}", args.file))?;
        engine.images().import(
            std::io::BufReader::new(file),
            args.reference.as_deref(),
            &args.changes,
        )?
    };
    println!("{id}");
    Ok(0)
}

pub fn ls(global: &GlobalOptions, args: LsArgs) -> Result<i32> {
    let filters = Filters::from_flags(&args.filters, "dangling=true")?;
    let images = image_store::list(&global.engine()?, &filters)?;
    render_images(images, &args)
}

/// `wharf images`: the images the project's containers use, as docker compose.
pub fn project_images(global: &GlobalOptions, args: LsArgs) -> Result<i32> {
    let (_, project) = global.project_or_name()?;
    let filters = Filters::from_flags(&args.filters, "dangling=true")?;
    let images = image_store::project_images(&global.engine()?, &project, &filters)?;
    render_images(images, &args)
}

/// The fields of an `images` row and docker's headers for them.
const LS_HEADERS: &Headers = &[
    ("ID", "IMAGE ID"),
    ("Repository", "REPOSITORY"),
    ("Tag", "TAG"),
    ("Digest", "DIGEST"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("Size", "SIZE"),
    ("Containers", "CONTAINERS"),
    ("SharedSize", "SHARED SIZE"),
    ("UniqueSize", "UNIQUE SIZE"),
    ("VirtualSize", "VIRTUAL SIZE"),
];

fn render_images(images: Vec<ImageDetails>, args: &LsArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    let now = units::now_secs();
    let mut rows = Vec::new();
    let mut entries = Vec::new();
    for image in &images {
        let short_id = image.id.trim_start_matches("sha256:");
        let shown_id = if args.no_trunc {
            image.id.clone()
        } else {
            short_id[..12.min(short_id.len())].to_string()
        };
        if args.quiet {
            println!("{shown_id}");
            continue;
        }
        let tags: Vec<(String, String)> = if image.repo_tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            image
                .repo_tags
                .iter()
                .map(|t| image_store::split_reference(t))
                .collect()
        };
        for (repository, tag) in tags {
            let digest = image
                .repo_digests
                .iter()
                .find(|d| d.split('@').next() == Some(repository.as_str()))
                .and_then(|d| d.split('@').nth(1))
                .unwrap_or("<none>")
                .to_string();
            let created = format!("{} ago", units::human_duration(now - image.created));
            let size = units::decimal_size(image.size);
            entries.push(json!({
                "Containers": "N/A", "CreatedAt": units::docker_time(image.created),
                "CreatedSince": created, "Digest": digest, "ID": shown_id,
                "Repository": repository, "SharedSize": "N/A", "Size": size,
                "Tag": tag, "UniqueSize": "N/A", "VirtualSize": size,
            }));
            let mut row = vec![repository, tag];
            if args.digests {
                row.push(digest);
            }
            row.extend([shown_id.clone(), created, size]);
            rows.push(row);
        }
    }
    if args.quiet {
        return Ok(0);
    }
    let text = format::render(&format, "--format", LS_HEADERS, &entries, || {
        let mut headers = vec!["REPOSITORY", "TAG"];
        if args.digests {
            headers.push("DIGEST");
        }
        headers.extend(["IMAGE ID", "CREATED", "SIZE"]);
        table::render(&headers, &rows)
    })?;
    print!("{text}");
    Ok(0)
}

fn save(global: &GlobalOptions, args: SaveArgs) -> Result<i32> {
    let engine = global.engine()?;
    super::write_archive(args.output.as_deref(), |out| {
        Ok(engine.images().save(&args.images, out)?)
    })?;
    Ok(0)
}

fn load(global: &GlobalOptions, args: LoadArgs) -> Result<i32> {
    let engine = global.engine()?;
    let platform = args
        .platform
        .as_deref()
        .map(wharf_image::pull::parse_platform)
        .transpose()?;
    let lines = match &args.input {
        Some(path) => {
            let file = std::fs::File::open(path).with_context(|| format!("opening {path}"))?;
            engine
                .images()
                .load(std::io::BufReader::new(file), path, platform.as_ref())?
        }
        None => {
            if std::io::stdin().is_terminal() {
                anyhow::bail!("requested load from stdin, but stdin is empty: use -i FILE or pipe an archive in");
            }
            engine
                .images()
                .load(std::io::stdin().lock(), "standard input", platform.as_ref())?
        }
    };
    if !args.quiet {
        lines.iter().for_each(|l| println!("{l}"));
    }
    Ok(0)
}

/// docker's `image inspect` document (also `docker inspect`'s).
pub use image_store::inspect_document as inspect_json;

fn inspect(global: &GlobalOptions, args: InspectArgs) -> Result<i32> {
    // A bad template fails before any image is read.
    format::inspect("--format", args.format.as_deref(), &[])?;
    let engine = global.engine()?;
    let mut out = Vec::new();
    let mut failed = false;
    for image in &args.images {
        match engine.images().inspect(image) {
            Ok(d) => out.push(inspect_json(&d)),
            Err(e) => {
                eprintln!("error: {e}");
                failed = true;
            }
        }
    }
    print!(
        "{}",
        format::inspect("--format", args.format.as_deref(), &out)?
    );
    Ok(i32::from(failed))
}

/// The fields of an `image history` row and docker's headers for them.
const HISTORY_HEADERS: &Headers = &[
    ("ID", "IMAGE"),
    ("CreatedSince", "CREATED"),
    ("CreatedAt", "CREATED AT"),
    ("CreatedBy", "CREATED BY"),
    ("Size", "SIZE"),
    ("Comment", "COMMENT"),
];

fn history(global: &GlobalOptions, args: HistoryArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    let engine = global.engine()?;
    let rows = engine.images().history(&args.image)?;
    let now = units::now_secs();
    if args.quiet {
        for r in &rows {
            println!("{}", shorten(&r.id, args.no_trunc));
        }
        return Ok(0);
    }
    let created = |c: Option<i64>| match c {
        Some(t) if args.human => format!("{} ago", units::human_duration(now - t)),
        Some(t) => units::docker_time(t),
        None => "N/A".into(),
    };
    let size = |s: u64| {
        if args.human {
            units::decimal_size(s)
        } else {
            s.to_string()
        }
    };
    let entries: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "ID": shorten(&r.id, args.no_trunc), "CreatedSince": created(r.created),
                "CreatedAt": r.created.map(units::docker_time).unwrap_or_default(),
                "CreatedBy": r.created_by, "Size": size(r.size), "Comment": r.comment,
            })
        })
        .collect();
    let text = format::render(&format, "--format", HISTORY_HEADERS, &entries, || {
        let table_rows: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                let by = if args.no_trunc || r.created_by.chars().count() <= 45 {
                    r.created_by.clone()
                } else {
                    format!("{}…", r.created_by.chars().take(44).collect::<String>())
                };
                vec![
                    shorten(&r.id, args.no_trunc),
                    created(r.created),
                    by,
                    size(r.size),
                    r.comment.clone(),
                ]
            })
            .collect();
        table::render(
            &["IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"],
            &table_rows,
        )
    })?;
    print!("{text}");
    Ok(0)
}

fn shorten(id: &str, no_trunc: bool) -> String {
    match id.strip_prefix("sha256:") {
        Some(h) if !no_trunc => h[..12.min(h.len())].to_string(),
        _ => id.to_string(),
    }
}

fn prune(global: &GlobalOptions, args: PruneArgs) -> Result<i32> {
    if !args.force && std::io::stdin().is_terminal() {
        eprint!(
            "WARNING! This will remove all {}images without at least one container associated to them.\nAre you sure you want to continue? [y/N] ",
            if args.all { "" } else { "dangling " }
        );
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let report = image_store::prune(&global.engine()?, args.all)?;
    if !report.lines.is_empty() {
        println!("Deleted Images:");
        report.lines.iter().for_each(|l| println!("{l}"));
        println!();
    }
    println!(
        "Total reclaimed space: {}",
        units::decimal_size(report.reclaimed_bytes)
    );
    Ok(0)
}
