//! `wharf image …` and `wharf images`: the local image store.

use crate::context::GlobalOptions;
use crate::render::{table, units};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::json;

#[derive(Subcommand, Debug)]
pub enum ImageCommand {
    /// Import the contents from a tarball to create a filesystem image
    Import(ImportArgs),
    /// List images
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Remove one or more images
    #[command(alias = "remove")]
    Rm(RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
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
    /// Only show image IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Don't truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    #[arg(required = true)]
    pub images: Vec<String>,
}

pub fn image(global: &GlobalOptions, command: ImageCommand) -> Result<i32> {
    match command {
        ImageCommand::Import(args) => import(global, args),
        ImageCommand::Ls(args) => ls(global, args),
        ImageCommand::Rm(args) => {
            let engine = global.engine()?;
            let mut failed = false;
            for image in &args.images {
                match engine.images().remove(image) {
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

/// `busybox:latest` from `docker.io/library/busybox:latest`.
fn split_reference(reference: &str) -> (String, String) {
    match wharf_engine::wharf_image::reference::Reference::parse(reference) {
        Ok(r) => (r.familiar_repository(), r.tag_or_latest().to_string()),
        Err(_) => (reference.to_string(), String::new()),
    }
}

pub fn ls(global: &GlobalOptions, args: LsArgs) -> Result<i32> {
    let engine = global.engine()?;
    let images = engine.images().list()?;
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
        let tags: Vec<(String, String)> = if image.repo_tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            image.repo_tags.iter().map(|t| split_reference(t)).collect()
        };
        for (repository, tag) in tags {
            if args.quiet {
                println!("{shown_id}");
                break;
            }
            let created = format!("{} ago", units::human_duration(now - image.created));
            let size = units::decimal_size(image.size);
            entries.push(json!({
                "Containers": "N/A", "CreatedAt": units::docker_time(image.created),
                "CreatedSince": created, "Digest": "<none>", "ID": shown_id,
                "Repository": repository, "SharedSize": "N/A", "Size": size,
                "Tag": tag, "UniqueSize": "N/A", "VirtualSize": size,
            }));
            rows.push(vec![repository, tag, shown_id.clone(), created, size]);
        }
    }
    if args.quiet {
        return Ok(0);
    }
    match args.format.as_str() {
        "json" => entries.iter().for_each(|e| println!("{e}")),
        "table" => print!(
            "{}",
            table::render(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows)
        ),
        other => anyhow::bail!("unknown format {other:?}: use table or json"),
    }
    Ok(0)
}
