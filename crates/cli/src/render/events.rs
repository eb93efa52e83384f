//! Renders the application core's events as docker compose does: resource
//! changes and image removals in the `Running` progress block, pulls in the
//! `Pulling` one, builds as docker's plain build output on stderr, warnings
//! as `WARN[0000]` lines.

use crate::context::GlobalOptions;
use crate::render::progress::{Progress, ProgressMode};
use wharf_app::event::PullStatus;
use wharf_app::{Event, ImageStatus};
use wharf_image::build::BuildEvent;

/// A front-end view of one command's events.
pub struct View {
    running: Progress,
    pulling: Progress,
    /// `--quiet-pull`, `pull -q`: no pull progress (warnings still show).
    pub quiet_pull: bool,
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
            running: global.progress("Running"),
            pulling: global.progress("Pulling"),
            quiet_pull: false,
            pull_errors: false,
            build_silent: quiet,
            build_ids: false,
        }
    }

    pub fn render(&self, event: Event) {
        match event {
            Event::Resource(event) => crate::commands::up::show(&self.running, event),
            Event::Pull { services, status } => self.pull(&services, status),
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
                self.running.update("Image", &image, &text, done, failed);
            }
            Event::Warning(warning) => eprintln!("WARN[0000] {warning}"),
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
