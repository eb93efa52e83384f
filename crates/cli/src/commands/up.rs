//! `wharf up` and `wharf down`.

use super::logs::{stream, Printer};
use super::short_name;
use crate::context::GlobalOptions;
use crate::render::progress::Progress;
use anyhow::Result;
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use wharf_engine_api::{Engine, LogOptions};
use wharf_orchestrator::{DownOptions, Event, Status, UpOptions};

#[derive(Args, Debug)]
pub struct UpArgs {
    /// Detached mode: run containers in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub no_start: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Use this timeout in seconds for container shutdown when containers are already running
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
}

pub fn show(progress: &Progress, event: Event) {
    let (kind, name, status) = match event {
        Event::Network { name, status } => ("Network", name, status),
        Event::Container { name, status } => ("Container", name, status),
        Event::Warning(message) => {
            eprintln!("WARN[0000] {message}");
            return;
        }
    };
    let (text, done, failed) = match &status {
        Status::Creating => ("Creating".to_string(), false, false),
        Status::Created => ("Created".into(), true, false),
        Status::Recreate => ("Recreate".into(), false, false),
        Status::Recreated => ("Recreated".into(), true, false),
        Status::Starting => ("Starting".into(), false, false),
        Status::Started => ("Started".into(), true, false),
        Status::Running => ("Running".into(), true, false),
        Status::Stopping => ("Stopping".into(), false, false),
        Status::Stopped => ("Stopped".into(), true, false),
        Status::Removing => ("Removing".into(), false, false),
        Status::Removed => ("Removed".into(), true, false),
        Status::Waiting => ("Waiting".into(), false, false),
        Status::Healthy => ("Healthy".into(), true, false),
        Status::Exited => ("Exited".into(), true, false),
        Status::Error(message) => (format!("Error {message}"), true, true),
    };
    progress.update(kind, &name, &text, done, failed);
}

pub fn up(global: &GlobalOptions, args: UpArgs) -> Result<i32> {
    let project = global.load_project()?;
    let engine = global.engine()?;
    let options = UpOptions {
        services: args.services.clone(),
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        no_start: args.no_start,
        remove_orphans: args.remove_orphans,
        timeout: args.timeout.map(Duration::from_secs),
    };
    if args.dry_run {
        let observed = wharf_orchestrator::observe(&engine, &project.name)?;
        let plan = wharf_orchestrator::plan_up(&project, &observed, &options)?;
        print!("{plan}");
        return Ok(0);
    }
    // Attached, Ctrl-C must reach the signal waiter, never a helper thread:
    // block the signals before any thread exists, so every thread inherits it.
    let signals = stop_signals();
    if !args.detach && !args.no_start {
        signals.thread_block()?;
    }
    let attach_since = now_nanos();
    let progress = Progress::new(global.stderr_ansi(), "Running");
    wharf_orchestrator::up_reporting(
        &engine,
        &project,
        &options,
        &|event| show(&progress, event),
        &|warning| eprintln!("WARN[0000] {warning}"),
    )?;
    if args.detach || args.no_start {
        return Ok(0);
    }
    attach(
        global,
        &engine,
        &project.name,
        &args.services,
        signals,
        attach_since,
    )
}

fn stop_signals() -> SigSet {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// Attached `up`: print every container's output until they all stop;
/// Ctrl-C stops them.
fn attach(
    global: &GlobalOptions,
    engine: &dyn Engine,
    project: &str,
    services: &[String],
    signals: SigSet,
    since_ns: i64,
) -> Result<i32> {
    let containers = super::filter_services(
        wharf_orchestrator::project_containers(engine, project, false)?,
        services,
        None,
    )?;
    let names: Vec<String> = containers.iter().map(short_name).collect();
    println!("Attaching to {}", names.join(", "));
    let printer = Printer {
        timestamps: false,
        prefix: true,
        colour: global.stdout_ansi(),
        width: names.iter().map(String::len).max().unwrap_or(0),
    };
    let options = LogOptions {
        follow: true,
        tail: None,
        // What the containers printed since this `up` began, then new output.
        since_ns: Some(since_ns),
    };
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            if signals.wait().is_ok() && !finished.load(Ordering::SeqCst) {
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                let _ = signals.thread_unblock();
                let progress = Progress::new(global.stderr_ansi(), "Stopping");
                std::thread::scope(|inner| {
                    for c in &containers {
                        let progress = &progress;
                        inner.spawn(move || {
                            progress.update("Container", &c.name, "Stopping", false, false);
                            match engine.stop_container(&c.id, None) {
                                Ok(()) => {
                                    progress.update("Container", &c.name, "Stopped", true, false)
                                }
                                Err(e) => progress.update(
                                    "Container",
                                    &c.name,
                                    &format!("Error {e}"),
                                    true,
                                    true,
                                ),
                            }
                        });
                    }
                });
            }
        });
        let result = stream(engine, &containers, &options, &printer);
        // Everything stopped by itself: wake the signal waiter so it ends.
        finished.store(true, Ordering::SeqCst);
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), Signal::SIGTERM);
        result
    })?;
    Ok(0)
}

pub fn down(global: &GlobalOptions, args: DownArgs) -> Result<i32> {
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let options = DownOptions {
        timeout: args.timeout.map(Duration::from_secs),
        remove_orphans: args.remove_orphans,
    };
    let progress = Progress::new(global.stderr_ansi(), "Running");
    let existed = wharf_orchestrator::down_reporting(
        &engine,
        &name,
        project.as_ref(),
        &options,
        &|event| show(&progress, event),
        &|warning| eprintln!("WARN[0000] {warning}"),
    )?;
    if !existed {
        eprintln!("No resource found to remove for project \"{name}\".");
    }
    Ok(0)
}
