//! `wharf container …`: docker's single-container commands, on containers
//! named by name or id (a unique prefix is enough) in any project. Flags are
//! parsed here; what they mean is the core's (`wharf_app::docker`).

pub mod create;
pub mod files;
pub mod inspect;
pub mod lifecycle;
pub mod limits;
pub mod list;
pub mod streams;

use crate::context::GlobalOptions;
use anyhow::Result;
use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum ContainerCommand {
    /// Create and run a new container from an image
    Run(Box<create::RunArgs>),
    /// Create a new container
    Create(Box<create::CreateFlags>),
    /// Start one or more stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers
    Restart(lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(lifecycle::KillArgs),
    /// Remove one or more containers
    Rm(lifecycle::RmArgs),
    /// List containers
    #[command(visible_alias = "ps", visible_alias = "list")]
    Ls(list::LsArgs),
    /// Display detailed information on one or more containers
    Inspect(inspect::InspectArgs),
    /// Fetch the logs of a container
    Logs(streams::LogsArgs),
    /// Execute a command in a running container
    Exec(streams::ExecArgs),
    /// Display the running processes of a container
    Top(streams::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(streams::StatsArgs),
    /// List port mappings or a specific mapping for the container
    Port(streams::PortArgs),
    /// Rename a container
    Rename(lifecycle::RenameArgs),
    /// Update configuration of one or more containers
    Update(lifecycle::UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(lifecycle::ContainersArgs),
    /// Remove all stopped containers
    Prune(lifecycle::PruneArgs),
    /// Pause all processes within one or more containers
    Pause(lifecycle::ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(lifecycle::ContainersArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(streams::CpArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(streams::AttachArgs),
    /// Export a container's filesystem as a tar archive
    Export(files::ExportArgs),
    /// Create a new image from a container's changes
    Commit(files::CommitArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(files::DiffArgs),
}

pub fn container(global: &GlobalOptions, command: ContainerCommand) -> Result<i32> {
    match command {
        ContainerCommand::Run(args) => create::run(global, *args),
        ContainerCommand::Create(args) => create::create(global, *args),
        ContainerCommand::Start(args) => lifecycle::start(global, args),
        ContainerCommand::Stop(args) => lifecycle::stop(global, args),
        ContainerCommand::Restart(args) => lifecycle::restart(global, args),
        ContainerCommand::Kill(args) => lifecycle::kill(global, args),
        ContainerCommand::Rm(args) => lifecycle::rm(global, args),
        ContainerCommand::Ls(args) => list::ls(global, args),
        ContainerCommand::Inspect(args) => inspect::inspect(global, args, true),
        ContainerCommand::Logs(args) => streams::logs(global, args),
        ContainerCommand::Exec(args) => streams::exec(global, args),
        ContainerCommand::Top(args) => streams::top(global, args),
        ContainerCommand::Stats(args) => streams::stats(global, args),
        ContainerCommand::Port(args) => streams::port(global, args),
        ContainerCommand::Rename(args) => lifecycle::rename(global, args),
        ContainerCommand::Update(args) => lifecycle::update(global, args),
        ContainerCommand::Wait(args) => lifecycle::wait(global, args),
        ContainerCommand::Prune(args) => lifecycle::prune(global, args),
        ContainerCommand::Pause(args) => lifecycle::pause(global, args),
        ContainerCommand::Unpause(args) => lifecycle::unpause(global, args),
        ContainerCommand::Cp(args) => {
            let engine = global.engine()?;
            streams::cp(global, &engine, args)
        }
        ContainerCommand::Attach(args) => {
            let engine = global.engine()?;
            streams::attach(global, &engine, &args.container, args.no_stdin)
        }
        ContainerCommand::Export(args) => files::export(global, args),
        ContainerCommand::Commit(args) => files::commit(global, args),
        ContainerCommand::Diff(args) => files::diff(global, args),
    }
}

/// Ask before a destructive command; refuses without a terminal to ask on.
pub fn confirm(warning: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    eprint!("{warning}\nAre you sure you want to continue? [y/N] ");
    let _ = std::io::stderr().flush();
    if !std::io::stdin().is_terminal() {
        eprintln!();
        anyhow::bail!(
            "not removing anything without confirmation: add -f to go ahead without asking"
        );
    }
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
