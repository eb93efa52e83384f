//! `wharf cp`: `docker compose cp`'s arguments; docker's path rules and the
//! copy itself are the application core's (`wharf_app::cp`).

use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::{Context as _, Result};
use clap::Args;
use wharf_app::cp::{location, CopyRequest, Streams};

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Index of the container if the service has multiple replicas (copying
    /// into a service without it writes to every replica)
    #[arg(long, default_value_t = 0)]
    pub index: u32,
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// Include containers created by the run command (deprecated in Compose)
    #[arg(long, hide = true)]
    pub all: bool,
    /// SERVICE:SRC_PATH or SRC_PATH|-
    #[arg(value_name = "SRC")]
    pub source: String,
    /// DEST_PATH|- or SERVICE:DEST_PATH
    #[arg(value_name = "DEST")]
    pub destination: String,
}

pub fn cp(global: &GlobalOptions, args: CpArgs) -> Result<i32> {
    let (project, name) = global.project_or_name()?;
    let request = CopyRequest {
        source: location(&args.source),
        destination: location(&args.destination),
        index: args.index,
        archive: args.archive,
        follow_link: args.follow_link,
        include_oneoff: args.all,
        cwd: std::env::current_dir().context("reading the current directory")?,
    };
    let engine = global.engine()?;
    let streams = Streams {
        input: &mut std::io::stdin().lock(),
        output: &mut std::io::stdout().lock(),
    };
    let view = View::new(global);
    wharf_app::cp::copy(&engine, &name, project.as_ref(), &request, streams, &view)?;
    Ok(0)
}
