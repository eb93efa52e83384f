//! `wharf start`, `stop`, `restart`, `rm`, `kill`, `pause` and `unpause`: act
//! on the project's existing containers, in dependency order.

use crate::context::GlobalOptions;
use crate::render::events::show;
use anyhow::Result;
use clap::Args;
use std::io::{BufRead, IsTerminal, Write};
use std::time::Duration;
use wharf_engine_api::{labels, Engine};
use wharf_orchestrator::{Observed, Target};

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
fn target(
    global: &GlobalOptions,
    services: &[String],
) -> Result<(Option<wharf_compose::Project>, String)> {
    let (project, name) = global.project_or_name()?;
    if let Some(project) = &project {
        super::filter_services(Vec::new(), services, Some(project))?;
    }
    Ok((project, name))
}

fn run(
    global: &GlobalOptions,
    services: &[String],
    title: &'static str,
    plan: impl FnOnce(&Target, &Observed) -> wharf_orchestrator::Plan,
) -> Result<i32> {
    let (project, name) = target(global, services)?;
    let engine = global.engine()?;
    let target = Target {
        project_name: &name,
        project: project.as_ref(),
        services,
    };
    let progress = global.progress(title);
    wharf_orchestrator::run_lifecycle(
        &engine,
        &target,
        |observed| plan(&target, observed),
        &|event| show(&progress, event),
    )?;
    Ok(0)
}

pub fn start(global: &GlobalOptions, args: StartArgs) -> Result<i32> {
    run(
        global,
        &args.services,
        "Running",
        wharf_orchestrator::plan_start,
    )
}

pub fn stop(global: &GlobalOptions, args: StopArgs) -> Result<i32> {
    let timeout = args.timeout.map(Duration::from_secs);
    run(global, &args.services, "Stopping", |target, observed| {
        wharf_orchestrator::plan_stop(target, observed, timeout)
    })
}

pub fn restart(global: &GlobalOptions, args: StopArgs) -> Result<i32> {
    let timeout = args.timeout.map(Duration::from_secs);
    run(global, &args.services, "Restarting", |target, observed| {
        wharf_orchestrator::plan_restart(target, observed, timeout)
    })
}

pub fn rm(global: &GlobalOptions, args: RmArgs) -> Result<i32> {
    let (project, name) = target(global, &args.services)?;
    let engine = global.engine()?;
    let containers = super::filter_services(
        wharf_orchestrator::project_containers(&engine, &name, true)?,
        &args.services,
        project.as_ref(),
    )?;
    let doomed: Vec<&str> = containers
        .iter()
        .filter(|c| args.stop || !c.state.is_running())
        .map(|c| c.name.as_str())
        .collect();
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
    let target = Target {
        project_name: &name,
        project: project.as_ref(),
        services: &args.services,
    };
    let progress = global.progress("Removing");
    wharf_orchestrator::run_lifecycle(
        &engine,
        &target,
        |observed| {
            wharf_orchestrator::plan_rm_volumes(&target, observed, args.stop, None, args.volumes)
        },
        &|event| show(&progress, event),
    )?;
    Ok(0)
}

pub fn kill(global: &GlobalOptions, args: KillArgs) -> Result<i32> {
    let (project, name) = target(global, &args.services)?;
    let engine = global.engine()?;
    let containers = super::filter_services(
        wharf_orchestrator::project_containers(&engine, &name, false)?,
        &args.services,
        project.as_ref(),
    )?;
    let progress = global.progress("Killing");
    let mut failures = Vec::new();
    for container in containers
        .iter()
        .filter(|c| c.label(labels::ONEOFF) != Some("True"))
    {
        progress.update("Container", &container.name, "Killing", false, false);
        match engine.kill_container(&container.id, &args.signal) {
            Ok(()) => progress.update("Container", &container.name, "Killed", true, false),
            Err(e) => {
                progress.update("Container", &container.name, "Error", true, true);
                failures.push(format!("{}: {e}", container.name));
            }
        }
    }
    if failures.is_empty() {
        Ok(0)
    } else {
        anyhow::bail!(failures.join("; "))
    }
}

pub fn pause(global: &GlobalOptions, args: PauseArgs) -> Result<i32> {
    set_paused(global, &args.services, true)
}

pub fn unpause(global: &GlobalOptions, args: PauseArgs) -> Result<i32> {
    set_paused(global, &args.services, false)
}

/// Freeze or thaw the running containers of the services, as docker compose
/// does: one that is already (or not) paused is an error, the others go on.
fn set_paused(global: &GlobalOptions, services: &[String], pause: bool) -> Result<i32> {
    let (project, name) = target(global, services)?;
    let engine = global.engine()?;
    let containers = super::filter_services(
        wharf_orchestrator::project_containers(&engine, &name, false)?,
        services,
        project.as_ref(),
    )?;
    let (title, done) = if pause {
        ("Pausing", "Paused")
    } else {
        ("Unpausing", "Unpaused")
    };
    let progress = global.progress(title);
    let mut failures = Vec::new();
    for container in containers
        .iter()
        .filter(|c| c.label(labels::ONEOFF) != Some("True"))
    {
        let result = if pause {
            engine.pause_container(&container.id)
        } else {
            engine.unpause_container(&container.id)
        };
        match result {
            Ok(()) => progress.update("Container", &container.name, done, true, false),
            Err(e) => {
                progress.update("Container", &container.name, "Error", true, true);
                failures.push(e.to_string());
            }
        }
    }
    if failures.is_empty() {
        Ok(0)
    } else {
        anyhow::bail!(failures.join("; "))
    }
}
