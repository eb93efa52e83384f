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
                match engine.remove_image(image, args.force) {
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

/// `busybox:latest` from `docker.io/library/busybox:latest`.
fn split_reference(reference: &str) -> (String, String) {
    match wharf_image::reference::Reference::parse(reference) {
        Ok(r) => (r.familiar_repository(), r.tag_or_latest().to_string()),
        Err(_) => (reference.to_string(), String::new()),
    }
}

pub fn ls(global: &GlobalOptions, args: LsArgs) -> Result<i32> {
    let engine = global.engine()?;
    let images = engine.images().list_details()?;
    render_images(images, &args)
}

/// `wharf images`: the images the project's containers use, as docker compose.
pub fn project_images(global: &GlobalOptions, args: LsArgs) -> Result<i32> {
    let (_, project) = global.project_or_name()?;
    let engine = global.engine()?;
    let containers = wharf_engine_api::Engine::list_containers(
        &engine,
        &[(wharf_engine_api::labels::PROJECT, project.as_str())],
    )?;
    let ids: Vec<String> = containers.iter().map(|c| c.image_id.clone()).collect();
    let images = engine
        .images()
        .list_details()?
        .into_iter()
        .filter(|i| ids.contains(&i.id))
        .collect();
    render_images(images, &args)
}

fn filter_images(mut images: Vec<ImageDetails>, filters: &[String]) -> Result<Vec<ImageDetails>> {
    for f in filters {
        let (key, value) = f.split_once('=').with_context(|| {
            format!("bad filter {f:?}: expected KEY=VALUE such as dangling=true")
        })?;
        match key {
            "dangling" => {
                let want = match value {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => anyhow::bail!("bad filter {f:?}: dangling takes true or false"),
                };
                images.retain(|i| i.repo_tags.is_empty() == want);
            }
            "reference" => {
                images.retain(|i| {
                    i.repo_tags.iter().any(|t| {
                        glob_match(value, t) || glob_match(value, split_reference(t).0.as_str())
                    })
                });
            }
            _ => anyhow::bail!("unsupported filter {key:?}: wharf supports dangling and reference"),
        }
    }
    Ok(images)
}

/// `*` matches any run of characters except `/`; `?` one character.
fn glob_match(pattern: &str, text: &str) -> bool {
    fn go(p: &[u8], t: &[u8]) -> bool {
        match (p.first(), t.first()) {
            (None, None) => true,
            (Some(b'*'), _) => go(&p[1..], t) || (!t.is_empty() && t[0] != b'/' && go(p, &t[1..])),
            (Some(b'?'), Some(_)) => go(&p[1..], &t[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &t[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), text.as_bytes())
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
    let images = filter_images(images, &args.filters)?;
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
            image.repo_tags.iter().map(|t| split_reference(t)).collect()
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

/// Docker's `image inspect` object.
pub fn inspect_json(d: &ImageDetails) -> serde_json::Value {
    let c = &d.config_json;
    let field = |k: &str| c.get(k).cloned().unwrap_or(serde_json::Value::Null);
    json!({
        "Id": d.id,
        "RepoTags": d.repo_tags,
        "RepoDigests": d.repo_digests,
        "Parent": "",
        "Comment": d.config.history.last().and_then(|h| h.comment.clone()).unwrap_or_default(),
        "Created": field("created"),
        "DockerVersion": c.get("docker_version").cloned().unwrap_or(json!("")),
        "Author": c.get("author").cloned().unwrap_or(json!("")),
        "Config": field("config"),
        "Architecture": field("architecture"),
        "Variant": c.get("variant").cloned(),
        "Os": field("os"),
        "Size": d.size,
        "GraphDriver": {"Name": "overlay2", "Data": null},
        "RootFS": {"Type": "layers", "Layers": d.config.rootfs.diff_ids},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
        "Descriptor": {"mediaType": d.manifest.media_type, "digest": d.manifest.digest, "size": d.manifest.size},
    })
}

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
    let engine = global.engine()?;
    let (lines, reclaimed) = engine.prune_images(args.all)?;
    if !lines.is_empty() {
        println!("Deleted Images:");
        lines.iter().for_each(|l| println!("{l}"));
        println!();
    }
    println!("Total reclaimed space: {}", units::decimal_size(reclaimed));
    Ok(0)
}
