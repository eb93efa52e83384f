//! `wharf push` (the project's service images) and `wharf image push NAME`.

use super::pull::{credentials_for, registry_options, TransferView};
use crate::context::GlobalOptions;
use anyhow::{Context, Result};
use clap::Args;
use wharf_image::push::PushOptions;
use wharf_image::Reference;

#[derive(Args, Debug)]
pub struct ImagePushArgs {
    /// Image to push (NAME[:TAG])
    pub name: String,
    /// Suppress verbose output
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Args, Debug)]
pub struct PushArgs {
    /// Push what it can and ignores images with push failures
    #[arg(long)]
    pub ignore_push_failures: bool,
    /// Push without printing progress information
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Services to push (all by default)
    pub services: Vec<String>,
}

/// Push options for `reference` with its stored credentials. `WHARF_PUSH_CHUNK_SIZE`
/// (bytes) sets the size above which blobs go up in chunks.
pub fn push_options(reference: &str) -> Result<PushOptions> {
    let r = Reference::parse(reference)?;
    let mut opts = PushOptions {
        registry: registry_options(),
        credentials: credentials_for(&r.domain)?,
        ..PushOptions::default()
    };
    if let Ok(v) = std::env::var("WHARF_PUSH_CHUNK_SIZE") {
        opts.chunk_size = v
            .parse()
            .with_context(|| format!("WHARF_PUSH_CHUNK_SIZE={v:?} is not a number of bytes"))?;
    }
    Ok(opts)
}

/// `wharf image push NAME`.
pub fn image_push(global: &GlobalOptions, args: ImagePushArgs) -> Result<i32> {
    let engine = global.engine()?;
    let opts = push_options(&args.name)?;
    let view = TransferView::new(global, args.quiet);
    let outcome = engine.images().push(&args.name, &opts, &|p| view.event(p));
    view.finish();
    outcome?;
    Ok(0)
}

/// `wharf push`: push the image of every service that names one.
pub fn push(global: &GlobalOptions, args: PushArgs) -> Result<i32> {
    let project = global.load_project()?;
    super::check_services(&project, &args.services)?;
    let engine = global.engine()?;
    let board = global.progress("Pushing");
    let mut done: Vec<String> = Vec::new();
    let mut failed = false;
    for (name, service) in &project.services {
        if !args.services.is_empty() && !args.services.contains(name) {
            continue;
        }
        let Some(image) = service.image.clone() else {
            continue;
        };
        if done.contains(&image) {
            continue;
        }
        done.push(image.clone());
        if !args.quiet {
            board.update("Image", &image, "Pushing", false, false);
        }
        let result = push_options(&image).and_then(|opts| {
            engine
                .images()
                .push(&image, &opts, &|_| {})
                .with_context(|| format!("pushing {image} for service {name}"))
        });
        match result {
            Ok(_) => {
                if !args.quiet {
                    board.update("Image", &image, "Pushed", true, false);
                }
            }
            Err(e) => {
                if !args.quiet {
                    board.update("Image", &image, "Error", true, true);
                }
                if args.ignore_push_failures {
                    eprintln!("WARN[0000] {e:#}");
                } else {
                    eprintln!("error: {e:#}");
                    failed = true;
                }
            }
        }
    }
    Ok(i32::from(failed))
}
