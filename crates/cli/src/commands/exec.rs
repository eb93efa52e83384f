//! `wharf exec`: run a command in a running service container.

use crate::context::GlobalOptions;
use anyhow::{bail, Result};
use clap::Args;
use wharf_engine_api::{labels, Engine, ExecSpec};

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Disable pseudo-TTY allocation (wharf never allocates one yet)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Path to workdir directory for this command
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Run the command as this user
    #[arg(short = 'u', long = "user")]
    pub user: Option<String>,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

pub fn exec(global: &GlobalOptions, args: ExecArgs) -> Result<i32> {
    let (_, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let number = args.index.to_string();
    let containers = engine.list_containers(&[
        (labels::PROJECT, &name),
        (labels::SERVICE, &args.service),
        (labels::CONTAINER_NUMBER, &number),
    ])?;
    let Some(container) = containers
        .into_iter()
        .find(|c| c.label(labels::ONEOFF) != Some("True"))
    else {
        bail!(
            "service {:?} has no container {} in project {name}: is it up? (wharf ps)",
            args.service,
            args.index
        );
    };
    if !container.state.is_running() {
        bail!("container {} is not running", container.name);
    }
    let spec = ExecSpec {
        command: args.command,
        env: args.env,
        working_dir: args.workdir,
        user: args.user,
    };
    Ok(engine.exec(&container.id, &spec)?)
}
