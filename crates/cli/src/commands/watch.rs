//! `wharf watch` and `wharf up --watch`: the terminal side of Compose's
//! `develop.watch` — Ctrl-C, following the containers' output — around the
//! application core's watch loop (`wharf_app::watch`), which decides and
//! applies what each change asks for.

use super::logs::Printer;
use super::short_name;
use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::Result;
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use std::collections::BTreeSet;
use std::io::Write;
use std::sync::Arc;
use wharf_app::watch::{Watch, WatchOptions};
use wharf_app::LocalImages;
use wharf_engine::LinuxEngine;
use wharf_engine_api::{Engine, LogOptions};
use wharf_orchestrator::UpOptions;

#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Do not build & start services before watching
    #[arg(long)]
    pub no_up: bool,
    /// Prune dangling images on rebuild
    #[arg(long)]
    pub prune: bool,
    /// Hide build output
    #[arg(long)]
    pub quiet: bool,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// How the watch loop behaves besides applying changes.
pub struct Session {
    pub services: Vec<String>,
    /// Follow the containers' output (`up --watch`), new ones included.
    pub attach: Option<Printer>,
    /// Stop the containers on Ctrl-C (`up --watch`).
    pub stop_on_exit: bool,
    pub prune: bool,
    pub quiet: bool,
    /// Show output since this time (nanoseconds) when attaching.
    pub since_ns: i64,
}

fn stop_signals() -> SigSet {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    signals
}

/// `wharf watch`.
pub fn watch(global: &GlobalOptions, args: WatchArgs) -> Result<i32> {
    // Ctrl-C must reach our waiter, not a helper thread: block it first.
    stop_signals().thread_block()?;
    let project = global.load_project_for(&args.services)?;
    Watch::new(&project, &args.services)?;
    let engine = Arc::new(global.engine()?);
    if !args.no_up {
        let mut view = View::new(global);
        view.build_silent = false;
        let images = LocalImages::new(&engine, global.registry()?);
        wharf_app::build::build_for_up(&images, &project, &args.services, false, false, &view)?;
        let options = UpOptions {
            services: args.services.clone(),
            ..Default::default()
        };
        wharf_app::up::converge(&*engine, &project, &options, &view)?;
    }
    let session = Session {
        services: args.services,
        attach: None,
        stop_on_exit: false,
        prune: args.prune,
        quiet: args.quiet,
        since_ns: 0,
    };
    run(global, engine, &project, session)
}

/// Watch until Ctrl-C (the caller has blocked SIGINT and SIGTERM).
pub fn run(
    global: &GlobalOptions,
    engine: Arc<LinuxEngine>,
    project: &wharf_compose::Project,
    session: Session,
) -> Result<i32> {
    let watch = Watch::new(project, &session.services)?;
    let stopper = watch.stopper();
    std::thread::spawn(move || {
        if stop_signals().wait().is_ok() {
            stopper.stop();
        }
    });
    let mut view = View::new(global);
    view.build_silent = session.quiet;
    view.build_ids = session.quiet;
    let options = WatchOptions {
        services: session.services.clone(),
        prune: session.prune,
    };
    let mut followed = BTreeSet::new();
    let mut tick = || {
        if let Some(printer) = &session.attach {
            follow_new(&engine, project, printer, session.since_ns, &mut followed);
        }
    };
    let images = LocalImages::new(&engine, global.registry()?);
    watch.run(&*engine, &images, project, &options, &view, &mut tick)?;
    if session.stop_on_exit {
        eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
        stop_all(global, &engine, project)?;
    }
    Ok(0)
}

/// Start following the output of project containers not followed yet.
fn follow_new(
    engine: &Arc<LinuxEngine>,
    project: &wharf_compose::Project,
    printer: &Printer,
    since_ns: i64,
    followed: &mut BTreeSet<String>,
) {
    let Ok(containers) = wharf_orchestrator::project_containers(&**engine, &project.name, false)
    else {
        return;
    };
    for container in containers {
        if !container.state.is_running() || !followed.insert(container.id.clone()) {
            continue;
        }
        let engine = Arc::clone(engine);
        let index = followed.len();
        let name = short_name(&container);
        let printer = Printer {
            width: name.len().max(printer.width),
            ..*printer
        };
        std::thread::spawn(move || {
            let options = LogOptions {
                follow: true,
                tail: None,
                since_ns: Some(since_ns),
                until_ns: None,
            };
            let _ = engine.logs(&container.id, &options, &mut |line| {
                let mut out = std::io::stdout().lock();
                printer.line(&mut out, index, &name, &line);
                out.flush().is_ok()
            });
        });
    }
}

/// Stop every container of the project (Ctrl-C of `up --watch`).
fn stop_all(
    global: &GlobalOptions,
    engine: &LinuxEngine,
    project: &wharf_compose::Project,
) -> Result<()> {
    let containers = wharf_orchestrator::project_containers(engine, &project.name, false)?;
    let view = View::titled(global, "Stopping");
    wharf_app::containers::stop_each(engine, &containers, &view);
    Ok(())
}
