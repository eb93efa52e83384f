//! `wharf up`, `create`, `scale` and `down`: their flags, the terminal side
//! of attached `up` (Ctrl-C, the containers' output) and the rendering of
//! resource progress; the pipeline itself is the application core's
//! (`wharf_app::up`).

use super::logs::Printer;
use super::short_name;
use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::Result;
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::Duration;
use wharf_app::up::{AfterExit, BuildPolicy, ExitPolicy, RemoveImages, UpRequest};
use wharf_app::LocalImages;
use wharf_engine_api::{ContainerState, Engine, LogLine, LogOptions};
use wharf_orchestrator::{DownOptions, UpOptions, UpdateOrder};

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
    /// Recreate dependent containers. Incompatible with --no-recreate.
    #[arg(long, conflicts_with = "no_recreate")]
    pub always_recreate_deps: bool,
    /// Don't start the services after creating them
    #[arg(long)]
    pub no_start: bool,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances; overrides the `scale` setting in the Compose file
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    /// Use this timeout in seconds for container shutdown when containers are already running
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Wait for services to be running|healthy. Implies detached mode
    #[arg(long)]
    pub wait: bool,
    /// Maximum duration in seconds to wait for the project to be running|healthy
    #[arg(long, value_name = "SECONDS")]
    pub wait_timeout: Option<u64>,
    /// Stops all containers if any container was stopped. Incompatible with -d
    #[arg(long, conflicts_with = "detach")]
    pub abort_on_container_exit: bool,
    /// Return the exit code of the selected service container. Implies --abort-on-container-exit
    #[arg(long, value_name = "SERVICE", conflicts_with = "detach")]
    pub exit_code_from: Option<String>,
    /// Restrict attaching to the specified services
    #[arg(long, value_name = "SERVICE")]
    pub attach: Vec<String>,
    /// Do not attach (stream logs) to the specified services
    #[arg(long, value_name = "SERVICE")]
    pub no_attach: Vec<String>,
    /// Show timestamps
    #[arg(long)]
    pub timestamps: bool,
    /// Don't print prefix in logs
    #[arg(long)]
    pub no_log_prefix: bool,
    /// Produce monochrome output
    #[arg(long)]
    pub no_color: bool,
    /// Print the plan and change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Watch source code and rebuild/refresh containers when files are updated
    #[arg(short = 'w', long)]
    pub watch: bool,
    /// Build images before starting containers
    #[arg(long)]
    pub build: bool,
    /// Don't build an image, even if it's missing
    #[arg(long, conflicts_with = "build")]
    pub no_build: bool,
    /// Pull image before running ("always"|"missing"|"never"|"build")
    #[arg(long, value_name = "POLICY")]
    pub pull: Option<String>,
    /// Pull without printing progress information
    #[arg(long)]
    pub quiet_pull: bool,
    /// Recreate anonymous volumes instead of retrieving data from the previous containers
    #[arg(short = 'V', long)]
    pub renew_anon_volumes: bool,
    /// Replace changed containers start-first: the new one serves before the old one stops
    #[arg(long)]
    pub no_downtime: bool,
    /// Order of container replacement for every service, over deploy.update_config.order
    #[arg(long, value_name = "ORDER", value_parser = ["start-first", "stop-first"], conflicts_with = "no_downtime")]
    pub update_order: Option<String>,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct CreateArgs {
    /// Recreate containers even if their configuration and image haven't changed
    #[arg(long)]
    pub force_recreate: bool,
    /// If containers already exist, don't recreate them
    #[arg(long, conflicts_with = "force_recreate")]
    pub no_recreate: bool,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Scale SERVICE to NUM instances
    #[arg(long, value_name = "SERVICE=NUM")]
    pub scale: Vec<String>,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct ScaleArgs {
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    #[arg(value_name = "SERVICE=REPLICAS", required = true)]
    pub scales: Vec<String>,
}

/// Bring the project to `options` with docker compose's progress output.
fn converge(
    global: &GlobalOptions,
    engine: &dyn Engine,
    project: &wharf_compose::Project,
    options: &UpOptions,
) -> Result<()> {
    wharf_app::up::converge(engine, project, options, &View::new(global))?;
    Ok(())
}

/// `wharf create`: `up --no-start`.
pub fn create(global: &GlobalOptions, args: CreateArgs) -> Result<i32> {
    let mut project = global.load_project_for(&args.services)?;
    wharf_app::up::apply_scale(&mut project, &args.scale)?;
    let engine = global.engine()?;
    let options = UpOptions {
        services: args.services,
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        no_start: true,
        remove_orphans: args.remove_orphans,
        ..Default::default()
    };
    converge(global, &engine, &project, &options)?;
    Ok(0)
}

/// `wharf scale web=3`: the named services to that many containers, started,
/// without recreating the ones that exist.
pub fn scale(global: &GlobalOptions, args: ScaleArgs) -> Result<i32> {
    let services: Vec<String> = args
        .scales
        .iter()
        .map(|s| {
            s.split_once('=')
                .map_or(s.as_str(), |(name, _)| name)
                .to_string()
        })
        .collect();
    let mut project = global.load_project_for(&services)?;
    wharf_app::up::apply_scale(&mut project, &args.scales)?;
    let engine = global.engine()?;
    let options = UpOptions {
        services,
        no_recreate: true,
        no_deps: args.no_deps,
        ..Default::default()
    };
    converge(global, &engine, &project, &options)?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct DownArgs {
    /// Specify a shutdown timeout in seconds
    #[arg(short = 't', long)]
    pub timeout: Option<u64>,
    /// Remove containers for services not defined in the Compose file
    #[arg(long)]
    pub remove_orphans: bool,
    /// Remove named volumes declared in the "volumes" section of the Compose file and anonymous volumes attached to containers
    #[arg(short = 'v', long)]
    pub volumes: bool,
    /// Remove images used by services. "local" remove only images that don't have a custom tag ("local"|"all")
    #[arg(long, value_name = "TYPE", value_parser = ["local", "all"])]
    pub rmi: Option<String>,
}

pub fn up(global: &GlobalOptions, args: UpArgs) -> Result<i32> {
    let mut project = global.load_project_for(&args.services)?;
    wharf_app::up::apply_scale(&mut project, &args.scale)?;
    let engine = global.engine()?;
    let options = UpOptions {
        services: args.services.clone(),
        force_recreate: args.force_recreate,
        no_recreate: args.no_recreate,
        always_recreate_deps: args.always_recreate_deps,
        no_start: args.no_start,
        no_deps: args.no_deps,
        remove_orphans: args.remove_orphans,
        timeout: args.timeout.map(Duration::from_secs),
        renew_anon_volumes: args.renew_anon_volumes,
        update_order: match (args.no_downtime, args.update_order.as_deref()) {
            (true, _) => Some(UpdateOrder::StartFirst),
            (false, Some(order)) => Some(UpdateOrder::parse(order)?),
            (false, None) => None,
        },
    };
    if args.dry_run {
        print!("{}", wharf_app::up::plan(&engine, &project, &options)?);
        return Ok(0);
    }
    let detach = args.detach || args.wait || args.no_start;
    // Attached, Ctrl-C must reach the signal waiter, never a helper thread:
    // block the signals before any thread exists, so every thread inherits it.
    let signals = stop_signals();
    if !detach || args.watch {
        signals.thread_block()?;
    }
    let attach_since = wharf_units::calendar::now_ns();
    let request = UpRequest {
        options,
        pull: args.pull.clone(),
        build: if args.no_build {
            BuildPolicy::Never
        } else if args.build {
            BuildPolicy::Always
        } else {
            BuildPolicy::Missing
        },
        wait: args.wait,
        wait_timeout: args.wait_timeout.map(Duration::from_secs),
        parallel: global.parallel_limit(),
    };
    let mut view = View::new(global);
    view.quiet_pull = args.quiet_pull;
    let images = LocalImages::new(&engine, global.registry()?);
    wharf_app::up::up(&engine, &images, &project, &request, &view)?;
    if args.watch {
        let session = super::watch::Session {
            services: args.services.clone(),
            attach: (!detach).then(|| Printer {
                timestamps: args.timestamps,
                prefix: !args.no_log_prefix,
                colour: !args.no_color && global.stdout_ansi(),
                width: 0,
            }),
            stop_on_exit: !detach,
            prune: false,
            quiet: false,
            since_ns: attach_since,
        };
        return super::watch::run(global, std::sync::Arc::new(engine), &project, session);
    }
    if detach {
        return Ok(0);
    }
    let attached: Vec<String> = if args.attach.is_empty() {
        args.services.clone()
    } else {
        args.attach.clone()
    };
    let attach_options = Attach {
        services: attached,
        skip: args.no_attach.clone(),
        abort_on_exit: args.abort_on_container_exit || args.exit_code_from.is_some(),
        exit_code_from: args.exit_code_from.clone(),
        printer: Printer {
            timestamps: args.timestamps,
            prefix: !args.no_log_prefix,
            colour: !args.no_color && global.stdout_ansi(),
            width: 0,
        },
        since_ns: attach_since,
    };
    attach(global, &engine, &project, attach_options, signals)
}

fn stop_signals() -> SigSet {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
}

/// How attached `up` follows the containers.
struct Attach {
    /// Services whose output is shown (all when empty).
    services: Vec<String>,
    skip: Vec<String>,
    abort_on_exit: bool,
    exit_code_from: Option<String>,
    printer: Printer,
    since_ns: i64,
}

enum Message {
    Line(usize, LogLine),
    Ended(usize),
}

/// Attached `up`: print the containers' output until they all stop (or, with
/// abort-on-exit, until the first stops, which stops the rest); Ctrl-C stops them.
fn attach(
    global: &GlobalOptions,
    engine: &dyn Engine,
    project: &wharf_compose::Project,
    options: Attach,
    signals: SigSet,
) -> Result<i32> {
    let containers = wharf_app::up::attach_targets(
        engine,
        project,
        &options.services,
        &options.skip,
        options.since_ns,
    )?;
    let mut exits = ExitPolicy::new(
        options.abort_on_exit,
        options.exit_code_from.clone(),
        &containers,
    )?;
    let names: Vec<String> = containers.iter().map(short_name).collect();
    println!("Attaching to {}", names.join(", "));
    let printer = Printer {
        width: names.iter().map(String::len).max().unwrap_or(0),
        ..options.printer
    };
    let log_options = LogOptions {
        follow: true,
        tail: None,
        // What the containers printed since this `up` began, then new output.
        since_ns: Some(options.since_ns),
        until_ns: None,
    };
    let stop_all = |title: &'static str| {
        wharf_app::containers::stop_each(engine, &containers, &View::titled(global, title));
    };
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            if signals.wait().is_ok() && !finished.load(Ordering::SeqCst) {
                eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
                let _ = signals.thread_unblock();
                stop_all("Stopping");
            }
        });
        let (sender, receiver) = mpsc::channel::<Message>();
        for (index, container) in containers.iter().enumerate() {
            let sender = sender.clone();
            let log_options = &log_options;
            scope.spawn(move || {
                let _ = engine.logs(&container.id, log_options, &mut |line| {
                    sender.send(Message::Line(index, line)).is_ok()
                });
                let _ = sender.send(Message::Ended(index));
            });
        }
        drop(sender);
        for message in receiver {
            match message {
                Message::Line(index, line) => {
                    let mut out = std::io::stdout().lock();
                    printer.line(&mut out, index, &names[index], &line);
                    let _ = out.flush();
                }
                Message::Ended(index) => {
                    let container = &containers[index];
                    let code = match engine.inspect_container(&container.id).map(|c| c.state) {
                        Ok(ContainerState::Exited { exit_code, .. }) => exit_code,
                        _ => 0,
                    };
                    println!("{} exited with code {code}", names[index]);
                    if exits.ended(container, code) == AfterExit::Abort {
                        eprintln!("Aborting on container exit...");
                        stop_all("Stopping");
                    }
                }
            }
        }
        // Everything stopped: wake the signal waiter so it ends.
        finished.store(true, Ordering::SeqCst);
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), Signal::SIGTERM);
    });
    Ok(exits.exit_code)
}

pub fn down(global: &GlobalOptions, args: DownArgs) -> Result<i32> {
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let options = DownOptions {
        timeout: args.timeout.map(Duration::from_secs),
        remove_orphans: args.remove_orphans,
        volumes: args.volumes,
    };
    let remove_images = match args.rmi.as_deref() {
        Some("all") => Some(RemoveImages::All),
        Some(_) => Some(RemoveImages::Local),
        None => None,
    };
    let outcome = wharf_app::up::down(
        &engine,
        &LocalImages::new(&engine, global.registry()?),
        &name,
        project.as_ref(),
        &options,
        remove_images,
        &View::new(global),
    )?;
    if !outcome.existed && args.rmi.is_none() {
        eprintln!("No resource found to remove for project \"{name}\".");
    }
    Ok(i32::from(outcome.image_failed))
}
