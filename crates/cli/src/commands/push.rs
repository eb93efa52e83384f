//! `wharf push` (the project's service images) and `wharf image push NAME`.

use super::pull::TransferView;
use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::Result;
use clap::Args;
use wharf_app::push::PushRequest;
use wharf_app::{AppError, LocalImages};

#[derive(Args, Debug)]
pub struct ImagePushArgs {
    #[arg(help = "Image to push (NAME[:TAG])")]
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

/// `wharf image push NAME`.
pub fn image_push(global: &GlobalOptions, args: ImagePushArgs) -> Result<i32> {
    let engine = global.engine()?;
    let opts = global.registry()?.push_options(&args.name)?;
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
    let request = PushRequest {
        services: args.services,
        ignore_failures: args.ignore_push_failures,
    };
    let mut view = View::new(global);
    view.quiet_push = args.quiet;
    let images = LocalImages::new(&engine, global.registry()?);
    match wharf_app::push::push_images(&images, &project, &request, &view) {
        // Each failure was printed as it happened.
        Err(AppError::Push(_)) => Ok(1),
        other => other.map(|()| 0).map_err(Into::into),
    }
}
