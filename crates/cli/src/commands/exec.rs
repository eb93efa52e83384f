//! `wharf exec`: run a command in a running service container.

use crate::context::GlobalOptions;
use anyhow::{bail, Result};
use clap::Args;
use std::io::IsTerminal;
use wharf_engine_api::{labels, Engine, ExecSpec};

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Disable pseudo-TTY allocation. By default `wharf exec` allocates a TTY
    /// when its stdin and stdout are terminals
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open (always the case)
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY (the default on a terminal)
    #[arg(short = 't', long)]
    pub tty: bool,
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
    // docker compose gives exec a terminal when we have one, unless -T.
    let tty = !args.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let spec = ExecSpec {
        command: args.command,
        env: args.env,
        working_dir: args.workdir,
        user: args.user,
        tty,
        privileged: false,
    };
    Ok(engine.exec(&container.id, &spec)?)
}
