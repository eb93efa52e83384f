//! `wharf exec`: run a command in a running service container.

use crate::context::GlobalOptions;
use anyhow::Result;
use clap::Args;
use std::io::IsTerminal;
use wharf_app::containers::{ExecRequest, Scope};
use wharf_engine_api::ExecSpec;

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
    let (project, name) = global.project_or_name()?;
    let scope = Scope {
        name: &name,
        project: project.as_ref(),
        services: &[],
    };
    let engine = global.engine()?;
    // docker compose gives exec a terminal when we have one, unless -T.
    let tty = !args.no_tty && std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let request = ExecRequest {
        service: args.service,
        index: args.index,
        spec: ExecSpec {
            command: args.command,
            env: args.env,
            working_dir: args.workdir,
            user: args.user,
            tty,
            privileged: false,
        },
    };
    Ok(wharf_app::containers::exec(&engine, &scope, &request)?)
}
