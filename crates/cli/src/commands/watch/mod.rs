//! `wharf watch` and `wharf up --watch`: Compose's `develop.watch`. File
//! events under the rules' paths are batched ([`debounce`]), matched to rules
//! ([`rules`]) and applied to the running containers: changed files are
//! copied in and deleted ones removed (`sync`), then the containers are
//! restarted or a command is run in them, or the image is rebuilt and the
//! containers recreated (`rebuild`). Runs in the foreground until Ctrl-C.

pub mod debounce;
pub mod rules;

use super::logs::Printer;
use super::short_name;
use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::{anyhow, Context as _, Result};
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use notify::Watcher as _;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use wharf_app::build::BuildOptions;
use wharf_app::LocalImages;
use wharf_engine::LinuxEngine;
use wharf_engine_api::{labels, ContainerInfo, CopyToOptions, Engine, ExecSpec, LogOptions};
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

enum Message {
    Files(notify::Result<notify::Event>),
    Stop,
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
    rules::triggers(&project, &args.services).map_err(|e| anyhow!(e))?;
    let engine = Arc::new(global.engine()?);
    if !args.no_up {
        let mut view = View::new(global);
        view.build_silent = false;
        let images = LocalImages::new(&engine);
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
    let triggers = rules::triggers(project, &session.services).map_err(|e| anyhow!(e))?;
    let (sender, receiver) = mpsc::channel::<Message>();
    let files = sender.clone();
    let mut watcher = notify::recommended_watcher(move |event| {
        let _ = files.send(Message::Files(event));
    })
    .context("starting the file watcher")?;
    for (root, mode) in watch_roots(&triggers)? {
        watcher
            .watch(&root, mode)
            .with_context(|| format!("watching {}", root.display()))?;
    }
    std::thread::spawn(move || {
        if stop_signals().wait().is_ok() {
            let _ = sender.send(Message::Stop);
        }
    });
    // After the watcher is in place, so nothing changed meanwhile is missed.
    initial_sync(&engine, project, &triggers);
    let mut followed = BTreeSet::new();
    if let Some(printer) = &session.attach {
        follow_new(&engine, project, printer, session.since_ns, &mut followed);
    }
    println!("Watch enabled");
    let _ = std::io::stdout().flush();
    let mut batch = debounce::Debouncer::new(debounce::QUIET, debounce::LONGEST);
    loop {
        let now = Instant::now();
        let wait = batch
            .deadline()
            .map(|d| d.saturating_duration_since(now))
            .unwrap_or(Duration::from_millis(500));
        match receiver.recv_timeout(wait) {
            Ok(Message::Files(Ok(event))) => {
                if !matches!(event.kind, notify::EventKind::Access(_)) {
                    for path in event.paths {
                        if rules::wanted(&triggers, &path) {
                            batch.add(path, Instant::now());
                        }
                    }
                }
            }
            Ok(Message::Files(Err(error))) => eprintln!("WARN[0000] watching files: {error}"),
            Ok(Message::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
        }
        if let Some(paths) = batch.take_due(Instant::now()) {
            for (service, work) in rules::plan(&triggers, &paths) {
                if let Err(error) = apply(
                    global, &engine, project, &triggers, &service, &work, &session,
                ) {
                    eprintln!("error: service {service:?}: {error:#}");
                }
            }
        }
        if let Some(printer) = &session.attach {
            follow_new(&engine, project, printer, session.since_ns, &mut followed);
        }
    }
    drop(watcher);
    if session.stop_on_exit {
        eprintln!("Gracefully stopping... (press Ctrl+C again to force)");
        stop_all(global, &engine, project)?;
    }
    Ok(0)
}

/// The directories to watch: a rule's directory recursively, a rule's file
/// through its parent (editors replace files by renaming).
fn watch_roots(triggers: &[rules::Trigger]) -> Result<BTreeMap<PathBuf, notify::RecursiveMode>> {
    let mut roots = BTreeMap::new();
    for trigger in triggers {
        let meta = std::fs::metadata(&trigger.path).map_err(|e| {
            anyhow!(
                "service {:?}: develop.watch path {} cannot be watched ({e}): create it or fix the path",
                trigger.service,
                trigger.path.display()
            )
        })?;
        if meta.is_dir() {
            roots.insert(trigger.path.clone(), notify::RecursiveMode::Recursive);
        } else {
            let parent = trigger
                .path
                .parent()
                .unwrap_or(Path::new("/"))
                .to_path_buf();
            roots
                .entry(parent)
                .or_insert(notify::RecursiveMode::NonRecursive);
        }
    }
    Ok(roots)
}

/// `initial_sync: true`: copy each such rule's whole path (what its ignore
/// and include patterns and the `.dockerignore` let through) into the
/// service's running containers, as docker compose does when watching starts.
fn initial_sync(
    engine: &LinuxEngine,
    project: &wharf_compose::Project,
    triggers: &[rules::Trigger],
) {
    for trigger in triggers.iter().filter(|t| t.initial_sync) {
        let Some(target) = trigger.container_path(&trigger.path) else {
            continue;
        };
        let synced = running(engine, &project.name, &trigger.service).and_then(|containers| {
            let whole = BTreeMap::from([(trigger.path.clone(), target)]);
            sync(
                engine,
                &containers,
                std::slice::from_ref(trigger),
                &trigger.service,
                &whole,
            )
        });
        if let Err(error) = synced {
            eprintln!(
                "error: service {:?}: initial sync of {}: {error:#}",
                trigger.service,
                trigger.path.display()
            );
        }
    }
}

/// The running containers of `service`.
fn running(engine: &LinuxEngine, project: &str, service: &str) -> Result<Vec<ContainerInfo>> {
    Ok(engine
        .list_containers(&[(labels::PROJECT, project), (labels::SERVICE, service)])?
        .into_iter()
        .filter(|c| c.label(labels::ONEOFF) != Some("True") && c.state.is_running())
        .collect())
}

fn apply(
    global: &GlobalOptions,
    engine: &Arc<LinuxEngine>,
    project: &wharf_compose::Project,
    triggers: &[rules::Trigger],
    service: &str,
    work: &rules::ServiceWork,
    session: &Session,
) -> Result<()> {
    if work.rebuild {
        println!("Rebuilding service {service:?} after changes were detected...");
        let _ = std::io::stdout().flush();
        return rebuild(global, engine, project, service, session);
    }
    let containers = running(engine, &project.name, service)?;
    if !work.sync.is_empty() {
        println!(
            "Syncing service {service:?} after {} changes were detected",
            work.sync.len()
        );
        let _ = std::io::stdout().flush();
        sync(engine, &containers, triggers, service, &work.sync)?;
    }
    if work.restart {
        println!("Restarting service {service:?} after changes were detected");
        let _ = std::io::stdout().flush();
        for container in &containers {
            engine.stop_container(&container.id, None)?;
            engine.start_container(&container.id)?;
        }
    }
    for index in &work.exec {
        let Some(hook) = &triggers[*index].exec else {
            continue;
        };
        for container in &containers {
            let spec = ExecSpec {
                command: hook.command.clone(),
                env: hook
                    .environment
                    .iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect(),
                working_dir: hook.working_dir.clone(),
                user: hook.user.clone(),
                tty: false,
                privileged: hook.privileged,
            };
            let code = engine.exec(&container.id, &spec)?;
            if code != 0 {
                eprintln!(
                    "WARN[0000] {}: exec {:?} exited with code {code}",
                    container.name, hook.command
                );
            }
        }
    }
    Ok(())
}

/// Copy the changed paths that exist into every container and delete the
/// ones that are gone.
fn sync(
    engine: &LinuxEngine,
    containers: &[ContainerInfo],
    triggers: &[rules::Trigger],
    service: &str,
    changes: &BTreeMap<PathBuf, String>,
) -> Result<()> {
    let service_triggers: Vec<&rules::Trigger> =
        triggers.iter().filter(|t| t.service == service).collect();
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(false);
    let mut deleted = Vec::new();
    let mut copied = 0;
    for (host, target) in changes {
        match std::fs::symlink_metadata(host) {
            Ok(_) => {
                copied += append_tree(&mut archive, host, target, &service_triggers)?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => deleted.push(target.clone()),
            Err(e) => return Err(e).with_context(|| format!("reading {}", host.display())),
        }
    }
    let data = archive.into_inner().context("building the sync archive")?;
    let options = CopyToOptions {
        keep_ownership: false,
        create_dir: true,
    };
    for container in containers {
        for path in &deleted {
            engine.remove_path(&container.id, path)?;
        }
        if copied > 0 {
            engine.copy_to_container(&container.id, "/", &mut &data[..], &options)?;
        }
    }
    Ok(())
}

/// Append `host` (recursively for a directory, skipping what the rules
/// ignore) to the archive as `target`; returns the number of entries.
fn append_tree(
    archive: &mut tar::Builder<Vec<u8>>,
    host: &Path,
    target: &str,
    triggers: &[&rules::Trigger],
) -> Result<usize> {
    let name = target.trim_start_matches('/');
    if name.is_empty() {
        // The rule's directory itself maps onto `/`: only its contents go.
    } else {
        archive
            .append_path_with_name(host, name)
            .with_context(|| format!("reading {}", host.display()))?;
    }
    let mut count = 1;
    let meta = std::fs::symlink_metadata(host)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(host)
            .with_context(|| format!("reading {}", host.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for child in entries {
            if !triggers.iter().any(|t| t.matches(&child)) {
                continue;
            }
            let child_name = child.file_name().unwrap_or_default().to_string_lossy();
            let child_target = format!("{}/{child_name}", target.trim_end_matches('/'));
            count += append_tree(archive, &child, &child_target, triggers)?;
        }
    }
    Ok(count)
}

/// Build the service's image and recreate its containers.
fn rebuild(
    global: &GlobalOptions,
    engine: &Arc<LinuxEngine>,
    project: &wharf_compose::Project,
    service: &str,
    session: &Session,
) -> Result<()> {
    let services = vec![service.to_string()];
    let mut view = View::new(global);
    view.build_silent = session.quiet;
    view.build_ids = session.quiet;
    let images = LocalImages::new(engine);
    let options = BuildOptions::default();
    wharf_app::build::build_services(&images, project, &services, &options, false, &view)?;
    let options = UpOptions {
        services: services.clone(),
        no_deps: true,
        force_recreate: true,
        ..Default::default()
    };
    wharf_app::up::converge(&**engine, project, &options, &view)?;
    println!("service {service:?} successfully built");
    if session.prune {
        // The previous image is dangling now, unless something still uses it.
        engine.prune_images(false)?;
    }
    Ok(())
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
    let progress = global.progress("Stopping");
    std::thread::scope(|scope| {
        for c in &containers {
            let progress = &progress;
            scope.spawn(move || {
                progress.update("Container", &c.name, "Stopping", false, false);
                match engine.stop_container(&c.id, None) {
                    Ok(()) => progress.update("Container", &c.name, "Stopped", true, false),
                    Err(e) => {
                        progress.update("Container", &c.name, &format!("Error {e}"), true, true)
                    }
                }
            });
        }
    });
    Ok(())
}
