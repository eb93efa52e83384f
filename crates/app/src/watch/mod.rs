//! Compose's `develop.watch`: file events under the rules' paths are batched
//! ([`debounce`]), matched to rules ([`rules`]) and applied to the running
//! containers: changed files are copied in and deleted ones removed
//! (`sync`), then the containers are restarted or a command is run in them,
//! or the image is rebuilt and the containers recreated (`rebuild`). Runs
//! until its [`Stopper`] is used; what happens is reported as
//! [`WatchEvent`]s.

pub mod debounce;
pub mod rules;

use crate::build::{build_services, BuildOptions};
use crate::event::{Event, Reporter};
use crate::images::ImageSource;
use crate::{error_chain, AppError};
use notify::Watcher as _;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use wharf_compose::Project;
use wharf_engine_api::{labels, ContainerInfo, CopyToOptions, Engine, ExecSpec};
use wharf_orchestrator::UpOptions;

/// What the watch loop did, for a front to show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WatchEvent {
    /// The watchers are in place (after the initial sync).
    Enabled,
    /// A rebuild rule fired: the image is built and the containers recreated.
    Rebuilding { service: String },
    /// The rebuild is done.
    Rebuilt { service: String },
    /// `changes` paths are copied into (or removed from) the containers.
    Syncing { service: String, changes: usize },
    /// The containers are restarted.
    Restarting { service: String },
    /// A `sync+exec` command exited with a code other than 0.
    ExecFailed {
        container: String,
        command: Vec<String>,
        code: i32,
    },
    /// Applying a batch of changes to a service failed; watching goes on.
    Failed { service: String, error: String },
    /// The initial sync of a rule's path failed; watching goes on.
    InitialSyncFailed {
        service: String,
        path: PathBuf,
        error: String,
    },
}

/// How the watch loop behaves besides applying changes.
#[derive(Debug, Clone, Default)]
pub struct WatchOptions {
    /// Services to watch (all with `develop.watch` when empty).
    pub services: Vec<String>,
    /// Prune dangling images after a rebuild.
    pub prune: bool,
}

enum Message {
    Files(notify::Result<notify::Event>),
    Stop,
}

/// Ends a running watch from another thread (Ctrl-C, an API call).
#[derive(Clone, Debug)]
pub struct Stopper(mpsc::Sender<Message>);

impl std::fmt::Debug for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Message::Files(_) => "Files",
            Message::Stop => "Stop",
        })
    }
}

impl Stopper {
    pub fn stop(&self) {
        let _ = self.0.send(Message::Stop);
    }
}

/// A watch of a project's `develop.watch` rules, checked and ready to run.
pub struct Watch {
    triggers: Vec<rules::Trigger>,
    sender: mpsc::Sender<Message>,
    receiver: mpsc::Receiver<Message>,
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watch")
            .field("triggers", &self.triggers.len())
            .finish_non_exhaustive()
    }
}

impl Watch {
    /// The rules of `services` (all when empty); compose's errors for a
    /// project with nothing to watch or a rule that cannot work.
    pub fn new(project: &Project, services: &[String]) -> Result<Watch, AppError> {
        let triggers = rules::triggers(project, services).map_err(AppError::Watch)?;
        let (sender, receiver) = mpsc::channel();
        Ok(Watch {
            triggers,
            sender,
            receiver,
        })
    }

    pub fn stopper(&self) -> Stopper {
        Stopper(self.sender.clone())
    }

    /// Watch until stopped. `tick` runs after each turn of the loop (at least
    /// every half second), for a front's own work (following new containers).
    pub fn run(
        self,
        engine: &dyn Engine,
        images: &dyn ImageSource,
        project: &Project,
        options: &WatchOptions,
        reporter: &dyn Reporter,
        tick: &mut dyn FnMut(),
    ) -> Result<(), AppError> {
        let triggers = &self.triggers;
        let files = self.sender.clone();
        let mut watcher = notify::recommended_watcher(move |event| {
            let _ = files.send(Message::Files(event));
        })
        .map_err(|e| AppError::Watch(format!("starting the file watcher: {e}")))?;
        for (root, mode) in watch_roots(triggers)? {
            watcher
                .watch(&root, mode)
                .map_err(|e| AppError::Watch(format!("watching {}: {e}", root.display())))?;
        }
        // After the watcher is in place, so nothing changed meanwhile is missed.
        initial_sync(engine, project, triggers, reporter);
        tick();
        reporter.report(Event::Watch(WatchEvent::Enabled));
        let mut batch = debounce::Debouncer::new(debounce::QUIET, debounce::LONGEST);
        loop {
            let now = Instant::now();
            let wait = batch
                .deadline()
                .map(|d| d.saturating_duration_since(now))
                .unwrap_or(Duration::from_millis(500));
            match self.receiver.recv_timeout(wait) {
                Ok(Message::Files(Ok(event))) => {
                    if !matches!(event.kind, notify::EventKind::Access(_)) {
                        for path in event.paths {
                            if rules::wanted(triggers, &path) {
                                batch.add(path, Instant::now());
                            }
                        }
                    }
                }
                Ok(Message::Files(Err(error))) => {
                    reporter.report(Event::Warning(format!("watching files: {error}")))
                }
                Ok(Message::Stop) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
            }
            if let Some(paths) = batch.take_due(Instant::now()) {
                for (service, work) in rules::plan(triggers, &paths) {
                    let applied = apply(
                        engine, images, project, triggers, &service, &work, options, reporter,
                    );
                    if let Err(error) = applied {
                        reporter.report(Event::Watch(WatchEvent::Failed {
                            service,
                            error: error_chain(&error),
                        }));
                    }
                }
            }
            tick();
        }
        drop(watcher);
        Ok(())
    }
}

/// The directories to watch: a rule's directory recursively, a rule's file
/// through its parent (editors replace files by renaming).
fn watch_roots(
    triggers: &[rules::Trigger],
) -> Result<BTreeMap<PathBuf, notify::RecursiveMode>, AppError> {
    let mut roots = BTreeMap::new();
    for trigger in triggers {
        let meta = std::fs::metadata(&trigger.path).map_err(|e| {
            AppError::Watch(format!(
                "service {:?}: develop.watch path {} cannot be watched ({e}): create it or fix the path",
                trigger.service,
                trigger.path.display()
            ))
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
    engine: &dyn Engine,
    project: &Project,
    triggers: &[rules::Trigger],
    reporter: &dyn Reporter,
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
            reporter.report(Event::Watch(WatchEvent::InitialSyncFailed {
                service: trigger.service.clone(),
                path: trigger.path.clone(),
                error: error_chain(&error),
            }));
        }
    }
}

/// The running containers of `service`.
fn running(
    engine: &dyn Engine,
    project: &str,
    service: &str,
) -> Result<Vec<ContainerInfo>, AppError> {
    Ok(engine
        .list_containers(&[(labels::PROJECT, project), (labels::SERVICE, service)])
        .map_err(|e| AppError::engine(format!("service {service:?}"), e))?
        .into_iter()
        .filter(|c| c.label(labels::ONEOFF) != Some("True") && c.state.is_running())
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn apply(
    engine: &dyn Engine,
    images: &dyn ImageSource,
    project: &Project,
    triggers: &[rules::Trigger],
    service: &str,
    work: &rules::ServiceWork,
    options: &WatchOptions,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    let report = |event| reporter.report(Event::Watch(event));
    if work.rebuild {
        report(WatchEvent::Rebuilding {
            service: service.to_string(),
        });
        return rebuild(engine, images, project, service, options, reporter);
    }
    let containers = running(engine, &project.name, service)?;
    if !work.sync.is_empty() {
        report(WatchEvent::Syncing {
            service: service.to_string(),
            changes: work.sync.len(),
        });
        sync(engine, &containers, triggers, service, &work.sync)?;
    }
    if work.restart {
        report(WatchEvent::Restarting {
            service: service.to_string(),
        });
        for container in &containers {
            let failed = |e| AppError::engine(format!("container {}", container.name), e);
            engine.stop_container(&container.id, None).map_err(failed)?;
            engine.start_container(&container.id).map_err(failed)?;
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
            let code = engine
                .exec(&container.id, &spec)
                .map_err(|e| AppError::engine(format!("container {}", container.name), e))?;
            if code != 0 {
                report(WatchEvent::ExecFailed {
                    container: container.name.clone(),
                    command: hook.command.clone(),
                    code,
                });
            }
        }
    }
    Ok(())
}

/// Copy the changed paths that exist into every container and delete the
/// ones that are gone.
fn sync(
    engine: &dyn Engine,
    containers: &[ContainerInfo],
    triggers: &[rules::Trigger],
    service: &str,
    changes: &BTreeMap<PathBuf, String>,
) -> Result<(), AppError> {
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
            Err(e) => return Err(AppError::io(format!("reading {}", host.display()), e)),
        }
    }
    let data = archive
        .into_inner()
        .map_err(|e| AppError::io("building the sync archive", e))?;
    let options = CopyToOptions {
        keep_ownership: false,
        create_dir: true,
    };
    for container in containers {
        let failed = |e| AppError::engine(format!("container {}", container.name), e);
        for path in &deleted {
            engine.remove_path(&container.id, path).map_err(failed)?;
        }
        if copied > 0 {
            engine
                .copy_to_container(&container.id, "/", &mut &data[..], &options)
                .map_err(failed)?;
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
) -> Result<usize, AppError> {
    let reading = |e| AppError::io(format!("reading {}", host.display()), e);
    let name = target.trim_start_matches('/');
    // The rule's directory itself mapping onto `/`: only its contents go.
    if !name.is_empty() {
        archive.append_path_with_name(host, name).map_err(reading)?;
    }
    let mut count = 1;
    let meta = std::fs::symlink_metadata(host).map_err(reading)?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(host)
            .map_err(reading)?
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
    engine: &dyn Engine,
    images: &dyn ImageSource,
    project: &Project,
    service: &str,
    options: &WatchOptions,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    let services = vec![service.to_string()];
    build_services(
        images,
        project,
        &services,
        &BuildOptions::default(),
        false,
        reporter,
    )?;
    let up = UpOptions {
        services,
        no_deps: true,
        force_recreate: true,
        ..Default::default()
    };
    crate::up::converge(engine, project, &up, reporter)?;
    reporter.report(Event::Watch(WatchEvent::Rebuilt {
        service: service.to_string(),
    }));
    if options.prune {
        // The previous image is dangling now, unless something still uses it.
        images.prune_dangling()?;
    }
    Ok(())
}
