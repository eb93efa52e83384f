//! `wharf container start|stop|restart|kill|rm|rename|pause|unpause|wait|
//! prune|update`: docker's commands on containers named by name or id (a
//! unique prefix is enough), in any project. Like docker, each name is tried
//! and printed on success; the failures are reported together at the end.

use crate::context::GlobalOptions;
use anyhow::{bail, Result};
use clap::Args;
use std::time::Duration;
use wharf_app::docker::flags;
use wharf_engine::{LinuxEngine, ResourceUpdate};
use wharf_engine_api::{ContainerState, Engine};

#[derive(Args, Debug)]
pub struct StartArgs {
    /// Attach STDOUT/STDERR and forward signals
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach container's STDIN
    #[arg(short = 'i', long)]
    pub interactive: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct StopArgs {
    /// Signal to send to the container
    #[arg(short = 's', long)]
    pub signal: Option<String>,
    /// Seconds to wait before killing the container
    #[arg(short = 't', long = "time", alias = "timeout")]
    pub time: Option<u64>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal to send to the container
    #[arg(short = 's', long, default_value = "KILL")]
    pub signal: String,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RmArgs {
    /// Force the removal of a running container (uses SIGKILL)
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove anonymous volumes associated with the container
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove the specified link (refused: wharf has no links)
    #[arg(short = 'l', long)]
    pub link: bool,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

#[derive(Args, Debug)]
pub struct ContainersArgs {
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PruneArgs {
    /// Do not prompt for confirmation
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(
        long = "filter",
        help = "Provide filter values (e.g. \"label=<key>=<value>\")"
    )]
    pub filters: Vec<String>,
}

#[derive(Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    pub limits: super::limits::LimitArgs,
    /// Restart policy to apply when a container exits
    #[arg(long)]
    pub restart: Option<String>,
    #[arg(required = true, value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// Run `work` on each container, printing its name as given when it
/// succeeds; the failures together make the error (exit 1), as docker.
fn each(containers: &[String], mut work: impl FnMut(&str) -> Result<()>) -> Result<i32> {
    let mut failures = Vec::new();
    for c in containers {
        match work(c) {
            Ok(()) => println!("{c}"),
            Err(e) => failures.push(format!("{c}: {e:#}")),
        }
    }
    if failures.is_empty() {
        Ok(0)
    } else {
        bail!(failures.join("\n"))
    }
}

pub fn start(global: &GlobalOptions, args: StartArgs) -> Result<i32> {
    let engine = global.engine()?;
    if args.attach || args.interactive {
        let [container] = args.containers.as_slice() else {
            bail!("you cannot start and attach multiple containers at once");
        };
        engine.start_container(container)?;
        return super::streams::attach(global, &engine, container, !args.interactive);
    }
    each(&args.containers, |c| Ok(engine.start_container(c)?))
}

pub fn stop(global: &GlobalOptions, args: StopArgs) -> Result<i32> {
    let engine = global.engine()?;
    let timeout = args.time.map(Duration::from_secs);
    each(&args.containers, |c| {
        if let Some(signal) = &args.signal {
            if engine.inspect_container(c)?.state.is_running() {
                engine.kill_container(c, signal)?;
            }
        }
        Ok(engine.stop_container(c, timeout)?)
    })
}

pub fn restart(global: &GlobalOptions, args: StopArgs) -> Result<i32> {
    let engine = global.engine()?;
    let timeout = args.time.map(Duration::from_secs);
    each(&args.containers, |c| {
        Ok(engine.restart_container(c, timeout)?)
    })
}

pub fn kill(global: &GlobalOptions, args: KillArgs) -> Result<i32> {
    let engine = global.engine()?;
    let signal = if args.signal.starts_with("SIG") || args.signal.parse::<i32>().is_ok() {
        args.signal.clone()
    } else {
        format!("SIG{}", args.signal.to_uppercase())
    };
    each(&args.containers, |c| Ok(engine.kill_container(c, &signal)?))
}

pub fn rm(global: &GlobalOptions, args: RmArgs) -> Result<i32> {
    if args.link {
        bail!("--link: wharf has no container links to remove");
    }
    let engine = global.engine()?;
    each(&args.containers, |c| {
        remove(&engine, c, args.force, args.volumes)
    })
}

/// Remove one container: a running one only with `force` (docker's
/// message otherwise), its anonymous volumes with `volumes` (one another
/// container still mounts stays, as docker's).
fn remove(engine: &LinuxEngine, container: &str, force: bool, volumes: bool) -> Result<()> {
    let info = engine.inspect_container(container)?;
    if info.state.is_running() && !force {
        bail!(
            "cannot remove container \"/{}\": container is {}: stop the container before removing or force remove",
            info.name,
            info.state.name()
        );
    }
    if volumes {
        engine.remove_container_and_anonymous_volumes(&info.id, force)?;
    } else {
        engine.remove_container(&info.id, force)?;
    }
    Ok(())
}

pub fn rename(global: &GlobalOptions, args: RenameArgs) -> Result<i32> {
    let engine = global.engine()?;
    if !wharf_app::docker::create::valid_name(&args.new_name) {
        bail!(wharf_app::AppError::InvalidName(args.new_name));
    }
    let info = engine.inspect_container(&args.container)?;
    if let Ok(other) = engine.inspect_container(&args.new_name) {
        if other.id != info.id {
            bail!(wharf_app::AppError::NameInUse {
                name: args.new_name,
                id: other.id
            });
        }
    }
    engine.rename_container(&info.id, &args.new_name)?;
    Ok(0)
}

pub fn pause(global: &GlobalOptions, args: ContainersArgs) -> Result<i32> {
    let engine = global.engine()?;
    each(&args.containers, |c| Ok(engine.pause_container(c)?))
}

pub fn unpause(global: &GlobalOptions, args: ContainersArgs) -> Result<i32> {
    let engine = global.engine()?;
    each(&args.containers, |c| Ok(engine.unpause_container(c)?))
}

/// Block until each container stops; print its exit code.
pub fn wait(global: &GlobalOptions, args: ContainersArgs) -> Result<i32> {
    let engine = global.engine()?;
    let mut failures = Vec::new();
    for c in &args.containers {
        loop {
            match engine.inspect_container(c) {
                Ok(info) => match info.state {
                    ContainerState::Exited { exit_code, .. } => {
                        println!("{exit_code}");
                        break;
                    }
                    ContainerState::Dead => {
                        println!("-1");
                        break;
                    }
                    _ => std::thread::sleep(Duration::from_millis(50)),
                },
                Err(e) => {
                    failures.push(format!("{c}: {e}"));
                    break;
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(0)
    } else {
        bail!(failures.join("\n"))
    }
}

/// Remove every stopped container (matching the label filters).
pub fn prune(global: &GlobalOptions, args: PruneArgs) -> Result<i32> {
    let engine = global.engine()?;
    if !args.force && !super::confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(0);
    }
    let mut label_filters = Vec::new();
    for f in &args.filters {
        match f.split_once('=') {
            Some(("label", value)) => label_filters.push(value.to_string()),
            _ => bail!("invalid filter {f:?}: container prune filters on label=KEY[=VALUE]"),
        }
    }
    let mut removed = Vec::new();
    for c in engine.list_containers(&[])? {
        if c.state.is_running()
            || !label_filters
                .iter()
                .all(|l| super::super::label_filter_matches(&c.labels, l))
        {
            continue;
        }
        engine.remove_container(&c.id, false)?;
        removed.push(c.id);
    }
    if !removed.is_empty() {
        println!("Deleted Containers:");
        for id in &removed {
            println!("{id}");
        }
        println!();
    }
    println!("Total reclaimed space: 0B");
    Ok(0)
}

/// New limits for running or stopped containers, written to a running one's
/// cgroup at once.
pub fn update(global: &GlobalOptions, args: UpdateArgs) -> Result<i32> {
    if let Some(n) = args.limits.pids_limit.filter(|n| *n <= 0) {
        bail!("--pids-limit {n}: update cannot lift a container's pids limit yet; give a positive limit, or recreate the container without --pids-limit");
    }
    let mut update = ResourceUpdate {
        resources: args.limits.resources()?,
        ..Default::default()
    };
    update.restart = args.restart.as_deref().map(flags::restart).transpose()?;
    let engine = global.engine()?;
    let discarded = wharf_app::docker::discard_unsupported_limits(&engine, &mut update.resources);
    // docker prints the daemon's warnings after the names, on stdout.
    let mut warnings = Vec::new();
    let outcome = each(&args.containers, |c| {
        engine.update_container(c, &update)?;
        warnings.extend(discarded.iter().cloned());
        Ok(())
    });
    if !warnings.is_empty() {
        println!("{}", warnings.join("\n"));
    }
    outcome
}
