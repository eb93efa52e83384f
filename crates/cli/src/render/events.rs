//! Renders the application core's events as docker compose does: resource
//! changes and image removals in the `Running` progress block, pulls in the
//! `Pulling` one, copies in the `Copying` one, builds as docker's plain build
//! output on stderr, warnings as `WARN[0000]` lines, and what `watch` does as
//! docker compose's lines on stdout.

use crate::context::GlobalOptions;
use crate::render::progress::{Progress, ProgressMode};
use std::io::Write;
use std::sync::Mutex;
use wharf_app::event::{ContainerStatus, CopyStatus, PullStatus, PushStatus};
use wharf_app::{Event, ImageStatus, WatchEvent};
use wharf_image::build::BuildEvent;
use wharf_orchestrator::Status;

/// A front-end view of one command's events.
pub struct View {
    mode: ProgressMode,
    running: Mutex<Progress>,
    copying: Progress,
    pushing: Progress,
    pulling: Progress,
    /// `--quiet-pull`, `pull -q`: no pull progress (warnings still show).
    pub quiet_pull: bool,
    /// `push -q`: no push progress (failures still show).
    pub quiet_push: bool,
    /// Print a failed pull as it happens (`pull`); `up` returns them.
    pub pull_errors: bool,
    /// No build output (`build -q`, `--progress quiet`, `watch --quiet`).
    pub build_silent: bool,
    /// Print each built image's id on stdout (`build -q`).
    pub build_ids: bool,
}

impl View {
    pub fn new(global: &GlobalOptions) -> Self {
        let quiet = global.progress_mode() == ProgressMode::Quiet;
        View {
            mode: global.progress_mode(),
            running: Mutex::new(global.progress("Running")),
            copying: global.progress("Copying"),
            pushing: global.progress("Pushing"),
            pulling: global.progress("Pulling"),
            quiet_pull: false,
            quiet_push: false,
            pull_errors: false,
            build_silent: quiet,
            build_ids: false,
        }
    }

    /// A view whose resource block has its own title (`Stopping`, `Killing`).
    pub fn titled(global: &GlobalOptions, title: &'static str) -> Self {
        View {
            running: Mutex::new(global.progress(title)),
            ..View::new(global)
        }
    }

    fn running(&self) -> std::sync::MutexGuard<'_, Progress> {
        self.running.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn render(&self, event: Event) {
        match event {
            Event::Resource(event) => show(&self.running(), event),
            Event::Pull { services, status } => self.pull(&services, status),
            Event::Push { image, status } => self.push(&image, status),
            Event::Build(event) => {
                if !self.build_silent {
                    build_line(event)
                }
            }
            Event::Built {
                service,
                id,
                elapsed,
            } => {
                if self.build_ids {
                    println!("{id}");
                } else if !self.build_silent {
                    eprintln!(
                        " ✔ Service {service}  Built {:>24.1}s",
                        elapsed.as_secs_f64()
                    );
                }
            }
            Event::Image { image, status } => {
                let (text, done, failed) = match status {
                    ImageStatus::Removing => ("Removing".to_string(), false, false),
                    ImageStatus::Removed => ("Removed".to_string(), true, false),
                    ImageStatus::Failed(e) => (format!("Error {e}"), true, true),
                };
                self.running().update("Image", &image, &text, done, failed);
            }
            Event::Container { name, status } => {
                let (text, done, failed) = match status {
                    ContainerStatus::Killing => ("Killing", false, false),
                    ContainerStatus::Killed => ("Killed", true, false),
                    ContainerStatus::Paused => ("Paused", true, false),
                    ContainerStatus::Unpaused => ("Unpaused", true, false),
                    ContainerStatus::Failed => ("Error", true, true),
                };
                self.running()
                    .update("Container", &name, text, done, failed);
            }
            Event::Copy { label, status } => {
                let (text, done, failed) = match status {
                    CopyStatus::Copying => ("Copying", false, false),
                    CopyStatus::Copied => ("Copied", true, false),
                    CopyStatus::Failed => ("Error", true, true),
                };
                self.copying.update("Container", &label, text, done, failed);
            }
            Event::Watch(event) => self.watch(event),
            Event::Warning(warning) => eprintln!("WARN[0000] {warning}"),
        }
    }

    fn watch(&self, event: WatchEvent) {
        let say = |line: String| {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
        };
        match event {
            WatchEvent::Enabled => say("Watch enabled".into()),
            WatchEvent::Rebuilding { service } => {
                // Each rebuild's progress is a block of its own.
                *self.running.lock().unwrap_or_else(|e| e.into_inner()) =
                    Progress::new(self.mode, "Running");
                say(format!(
                    "Rebuilding service {service:?} after changes were detected..."
                ))
            }
            WatchEvent::Rebuilt { service } => {
                say(format!("service {service:?} successfully built"))
            }
            WatchEvent::Syncing { service, changes } => say(format!(
                "Syncing service {service:?} after {changes} changes were detected"
            )),
            WatchEvent::Restarting { service } => say(format!(
                "Restarting service {service:?} after changes were detected"
            )),
            WatchEvent::ExecFailed {
                container,
                command,
                code,
            } => eprintln!("WARN[0000] {container}: exec {command:?} exited with code {code}"),
            WatchEvent::Failed { service, error } => {
                eprintln!("error: service {service:?}: {error}")
            }
            WatchEvent::InitialSyncFailed {
                service,
                path,
                error,
            } => eprintln!(
                "error: service {service:?}: initial sync of {}: {error}",
                path.display()
            ),
        }
    }

    fn push(&self, image: &str, status: PushStatus) {
        let board = |text: &str, done, failed| {
            if !self.quiet_push {
                self.pushing.update("Image", image, text, done, failed);
            }
        };
        match status {
            PushStatus::Pushing => board("Pushing", false, false),
            PushStatus::Pushed => board("Pushed", true, false),
            PushStatus::Ignored(error) => {
                board("Error", true, true);
                eprintln!("WARN[0000] {error}");
            }
            PushStatus::Failed(error) => {
                board("Error", true, true);
                eprintln!("error: {error}");
            }
        }
    }

    fn pull(&self, services: &str, status: PullStatus) {
        let board = |text: &str, done, failed| {
            if !self.quiet_pull {
                self.pulling.update("Image", services, text, done, failed);
            }
        };
        match status {
            PullStatus::Skipped(why) => board(why, true, false),
            PullStatus::Pulling => board("Pulling", false, false),
            PullStatus::Pulled => board("Pulled", true, false),
            PullStatus::Ignored(error) => {
                board("Warning", true, false);
                eprintln!("WARN[0000] {error}");
            }
            PullStatus::Failed(error) => {
                board("Error", true, true);
                if self.pull_errors {
                    eprintln!("error: {error}");
                }
            }
        }
    }
}

impl wharf_app::Reporter for View {
    fn report(&self, event: Event) {
        self.render(event)
    }
}

/// A resource change in docker compose's words, in `progress`.
pub fn show(progress: &Progress, event: wharf_orchestrator::Event) {
    let (kind, name, status) = match event {
        wharf_orchestrator::Event::Network { name, status } => ("Network", name, status),
        wharf_orchestrator::Event::Container { name, status } => ("Container", name, status),
        wharf_orchestrator::Event::Volume { name, status } => ("Volume", name, status),
        wharf_orchestrator::Event::Warning(message) => {
            eprintln!("WARN[0000] {message}");
            return;
        }
    };
    let (text, done, failed) = match &status {
        Status::Creating => ("Creating".to_string(), false, false),
        Status::Created => ("Created".into(), true, false),
        Status::Recreate { .. } => (status.to_string(), false, false),
        Status::Recreated { .. } => (status.to_string(), true, false),
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

/// Docker's plain build progress on stderr.
pub fn build_line(event: BuildEvent) {
    match event {
        BuildEvent::Step { n, label } => eprintln!("#{n} {label}"),
        BuildEvent::Output { n, elapsed, line } => {
            eprintln!("#{n} {:.3} {line}", elapsed.as_secs_f64())
        }
        BuildEvent::Cached { n } => eprintln!("#{n} CACHED"),
        BuildEvent::Done { n, elapsed } => eprintln!("#{n} DONE {:.1}s", elapsed.as_secs_f64()),
        BuildEvent::Failed { n, message } => {
            eprintln!("#{n} ERROR: {}", message.lines().next().unwrap_or(""))
        }
        BuildEvent::Warning(w) => eprintln!("WARN[0000] {w}"),
    }
}
