//! `wharf start`, `stop`, `restart`, `rm`, `kill`, `pause` and `unpause`: act
//! on the project's existing containers, in dependency order.

use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::Result;
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;
use wharf_app::containers::{Lifecycle, Scope, Signal};

#[derive(Args, Debug)]
pub struct StartArgs {
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Don't ask to confirm removal
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Stop the containers, if required, before removing
    #[arg(short = 's', long)]
    pub stop: bool,
    /// Remove any anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// SIGNAL to send to the container
    #[arg(short = 's', long, default_value = "SIGKILL")]
    pub signal: String,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PauseArgs {
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// Resolve the project and check the service names.
/// The project (when it loads) and its name, for `services`.
fn scope_of(global: &GlobalOptions) -> Result<(Option<wharf_compose::Project>, String)> {
    global.project_or_name()
}

fn run(
    global: &GlobalOptions,
    services: &[String],
    title: &'static str,
    operation: Lifecycle,
) -> Result<i32> {
    let (project, name) = scope_of(global)?;
    let scope = Scope {
        name: &name,
        project: project.as_ref(),
        services,
    };
    scope.check()?;
    let engine = global.engine()?;
    wharf_app::containers::lifecycle(&engine, &scope, operation, &View::titled(global, title))?;
    Ok(0)
}

/// `wharf start`: start the existing containers, dependencies first.
pub fn start(global: &GlobalOptions, args: StartArgs) -> Result<i32> {
    run(global, &args.services, "Running", Lifecycle::Start)
}

/// `wharf stop`: stop the running containers, dependents first.
pub fn stop(global: &GlobalOptions, args: StopArgs) -> Result<i32> {
    let timeout = args.timeout.map(Duration::from_secs);
    run(
        global,
        &args.services,
        "Stopping",
        Lifecycle::Stop { timeout },
    )
}

/// `wharf restart`.
pub fn restart(global: &GlobalOptions, args: StopArgs) -> Result<i32> {
    let timeout = args.timeout.map(Duration::from_secs);
    run(
        global,
        &args.services,
        "Restarting",
        Lifecycle::Restart { timeout },
    )
}

/// `wharf rm`: asks before removing unless `-f`.
pub fn rm(global: &GlobalOptions, args: RmArgs) -> Result<i32> {
    let (project, name) = scope_of(global)?;
    let scope = Scope {
        name: &name,
        project: project.as_ref(),
        services: &args.services,
    };
    scope.check()?;
    let engine = global.engine()?;
    let doomed = wharf_app::containers::removable(&engine, &scope, args.stop)?;
    if doomed.is_empty() {
        eprintln!("No stopped containers");
        return Ok(0);
    }
    if !args.force {
        eprint!(
            "Going to remove {}\n? Are you sure? (y/N) ",
            doomed.join(", ")
        );
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        if !std::io::stdin().is_terminal() {
            eprintln!();
            anyhow::bail!(
                "not removing anything without confirmation: add -f to remove without asking"
            );
        }
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            return Ok(0);
        }
    }
    let operation = Lifecycle::Remove {
        stop: args.stop,
        volumes: args.volumes,
    };
    let view = View::titled(global, "Removing");
    wharf_app::containers::lifecycle(&engine, &scope, operation, &view)?;
    Ok(0)
}

/// `wharf kill`.
pub fn kill(global: &GlobalOptions, args: KillArgs) -> Result<i32> {
    signal(global, &args.services, "Killing", Signal::Kill(args.signal))
}

/// `wharf pause`.
pub fn pause(global: &GlobalOptions, args: PauseArgs) -> Result<i32> {
    signal(global, &args.services, "Pausing", Signal::Pause)
}

/// `wharf unpause`.
pub fn unpause(global: &GlobalOptions, args: PauseArgs) -> Result<i32> {
    signal(global, &args.services, "Unpausing", Signal::Unpause)
}

fn signal(
    global: &GlobalOptions,
    services: &[String],
    title: &'static str,
    signal: Signal,
) -> Result<i32> {
    let (project, name) = scope_of(global)?;
    let scope = Scope {
        name: &name,
        project: project.as_ref(),
        services,
    };
    scope.check()?;
    let engine = global.engine()?;
    wharf_app::containers::signal(&engine, &scope, &signal, &View::titled(global, title))?;
    Ok(0)
}
