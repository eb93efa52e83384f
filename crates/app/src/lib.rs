//! wharf's application core: the operations a user asks for (`up`, `down`,
//! `pull`, `build`, …) as functions over typed options, with every decision a
//! front needs (pull policies, what to build, the order of the `up`
//! pipeline). Fronts — the CLI, and the Engine API and dashboard to come —
//! parse their input into these options and render the [`Event`]s; nothing
//! here prints or touches a terminal.
//!
//! Not here: Compose loading (wharf-compose), planning and converging
//! (wharf-orchestrator), the engine itself. Image pulls and builds go
//! through [`ImageSource`], so the core runs against the fake engine in tests.

pub mod boot;
pub mod build;
pub mod config;
pub mod containers;
pub mod cp;
pub mod disk;
pub mod docker;
pub mod error;
pub mod event;
pub mod events;
pub mod filters;
pub mod image_store;
pub mod images;
pub mod logs;
pub mod networks;
pub mod ps;
pub mod pull;
pub mod push;
pub mod registry;
pub mod run;
pub mod search;
pub mod stats;
pub mod up;
pub mod volumes;
pub mod watch;

pub use error::AppError;
pub use event::{Event, ImageStatus, Reporter};
pub use images::{ImageSource, LocalImages};
pub use watch::WatchEvent;

/// The project's service names, for error messages.
pub fn service_names(project: &wharf_compose::Project) -> String {
    project
        .services
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every name in `services` is a service of `project`, else docker compose's
/// error.
pub fn check_services(
    project: &wharf_compose::Project,
    services: &[String],
) -> Result<(), AppError> {
    match services.iter().find(|s| !project.services.contains_key(*s)) {
        Some(unknown) => Err(AppError::NoSuchService {
            service: unknown.clone(),
            services: service_names(project),
        }),
        None => Ok(()),
    }
}

/// Run `work` on every item on scoped threads, at most `limit` at once
/// (`--parallel`; `None` runs them all at once).
pub fn for_each_limited<T: Send>(items: Vec<T>, limit: Option<usize>, work: impl Fn(T) + Sync) {
    let workers = limit.unwrap_or(items.len()).clamp(1, items.len().max(1));
    let queue = std::sync::Mutex::new(items.into_iter());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                match next {
                    Some(item) => work(item),
                    None => break,
                }
            });
        }
    });
}

/// An error and its sources on one line, as `a: b: c` (a source already
/// contained in the text before it is not repeated).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    message
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn limited_work_never_exceeds_the_limit() {
        let (running, most, done) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        super::for_each_limited((0..12).collect(), Some(2), |_: i32| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(done.into_inner(), 12);
        assert!(most.into_inner() <= 2);
    }
}
