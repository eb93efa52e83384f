//! `up` and its relatives (`create`, `scale`, `down`): the pipeline
//! pull → build → converge → wait, in that order, with each step's
//! decisions (which images to pull, which to build). Converging — what to
//! create, recreate (the config hash and its reasons), start or remove —
//! is the orchestrator's plan; this module decides what runs before and
//! after it.

use crate::build::build_for_up;
use crate::event::{Event, ImageStatus, Reporter};
use crate::images::ImageSource;
use crate::pull::{pull_images, PullPolicy, PullRequest};
use crate::{service_names, AppError};
use std::time::Duration;
use wharf_compose::Project;
use wharf_engine_api::{labels, ContainerInfo, ContainerState, Engine};
use wharf_orchestrator::{DownOptions, Plan, UpOptions};

/// When `up` builds the images of services with `build:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BuildPolicy {
    /// Only images that are missing (the default).
    #[default]
    Missing,
    /// Every one (`--build`).
    Always,
    /// None, even when missing (`--no-build`).
    Never,
}

/// Everything `up` does besides converging.
#[derive(Debug, Clone, Default)]
pub struct UpRequest {
    /// What to converge (services, recreate policy, start or not, …).
    pub options: UpOptions,
    /// `--pull`: overrides each service's `pull_policy`.
    pub pull: Option<String>,
    pub build: BuildPolicy,
    /// Wait for the containers to be running or healthy (`--wait`).
    pub wait: bool,
    /// How long `wait` may take; `None` waits as long as it takes.
    pub wait_timeout: Option<Duration>,
    /// At most this many pulls at once (`--parallel`).
    pub parallel: Option<usize>,
}

/// `--scale SERVICE=NUM`: override a service's replica count.
pub fn apply_scale(project: &mut Project, scales: &[String]) -> Result<(), AppError> {
    for scale in scales {
        let fail = |reason: String| AppError::Scale {
            arg: scale.clone(),
            reason,
        };
        let (service, count) = scale
            .split_once('=')
            .ok_or_else(|| fail("write SERVICE=NUM, like --scale web=3".into()))?;
        let count: u32 = count
            .parse()
            .map_err(|_| fail(format!("{count:?} is not a number of containers")))?;
        let names = service_names(project);
        let Some(svc) = project.services.get_mut(service) else {
            return Err(fail(format!(
                "no such service {service:?} (services: {names})"
            )));
        };
        if svc.container_name.is_some() && count > 1 {
            return Err(fail(format!(
                "service {service:?} sets container_name, so it cannot have more than one container"
            )));
        }
        svc.replicas = count;
    }
    Ok(())
}

/// The plan `up` would execute, changing nothing (`--dry-run`).
pub fn plan(engine: &dyn Engine, project: &Project, options: &UpOptions) -> Result<Plan, AppError> {
    let observed = wharf_orchestrator::observe(engine, &project.name)?;
    Ok(wharf_orchestrator::plan_up(project, &observed, options)?)
}

/// Bring the project's containers, networks and volumes to `options`
/// (the images must be local). A failure rolls back what this call did.
pub fn converge(
    engine: &dyn Engine,
    project: &Project,
    options: &UpOptions,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    wharf_orchestrator::up_reporting(
        engine,
        project,
        options,
        &|event| reporter.report(Event::Resource(event)),
        &|warning| reporter.report(Event::Warning(warning.to_string())),
    )?;
    Ok(())
}

/// `up`: pull the missing images (or as `--pull` says; a service that can be
/// built is built when its image is missing, not pulled), build what has to
/// be built, converge, then wait for readiness when asked.
pub fn up(
    engine: &dyn Engine,
    images: &dyn ImageSource,
    project: &Project,
    request: &UpRequest,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    let options = &request.options;
    let selected =
        wharf_orchestrator::selected_services(project, &options.services, options.no_deps)?;
    let pull = PullRequest {
        services: selected,
        policy: request.pull.clone(),
        default_policy: PullPolicy::Missing,
        ignore_failures: false,
        ignore_buildable: true,
        report_skipped: false,
        parallel: request.parallel,
    };
    let failures = pull_images(images, project, &pull, reporter)?;
    if !failures.is_empty() {
        return Err(AppError::Pull(failures));
    }
    if request.build != BuildPolicy::Never {
        build_for_up(
            images,
            project,
            &options.services,
            options.no_deps,
            request.build == BuildPolicy::Always,
            reporter,
        )?;
    }
    converge(engine, project, options, reporter)?;
    if request.wait && !options.no_start {
        wharf_orchestrator::wait_ready(
            engine,
            &project.name,
            &options.services,
            request.wait_timeout,
            &|event| reporter.report(Event::Resource(event)),
        )?;
    }
    Ok(())
}

/// `down --rmi`: which images of the services go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveImages {
    /// Only those without a custom tag (built under `<project>-<service>`).
    Local,
    All,
}

/// What `down` found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DownOutcome {
    /// Something of the project existed.
    pub existed: bool,
    /// An image could not be removed (reported as [`ImageStatus::Failed`]).
    pub image_failed: bool,
}

/// `down`: stop and remove the project's containers and networks (and
/// volumes, images as asked). Keeps going past failures.
pub fn down(
    engine: &dyn Engine,
    images: &dyn ImageSource,
    name: &str,
    project: Option<&Project>,
    options: &DownOptions,
    remove_images: Option<RemoveImages>,
    reporter: &dyn Reporter,
) -> Result<DownOutcome, AppError> {
    let existed = wharf_orchestrator::down_reporting(
        engine,
        name,
        project,
        options,
        &|event| reporter.report(Event::Resource(event)),
        &|warning| reporter.report(Event::Warning(warning.to_string())),
    )?;
    let image_failed = match (remove_images, project) {
        (Some(which), Some(project)) => {
            remove_service_images(images, project, which == RemoveImages::All, reporter)
        }
        _ => false,
    };
    Ok(DownOutcome {
        existed,
        image_failed,
    })
}

/// The images of the project's services, each once; with `all` every one,
/// else only those without a custom tag. Keeps going past failures (an
/// image another container uses) and says whether one failed.
fn remove_service_images(
    images: &dyn ImageSource,
    project: &Project,
    all: bool,
    reporter: &dyn Reporter,
) -> bool {
    let mut names: Vec<String> = Vec::new();
    for service in project.services.values() {
        if !all && service.image.is_some() {
            continue;
        }
        let image = wharf_orchestrator::service_image(project, service);
        if !names.contains(&image) && images.exists(&image) {
            names.push(image);
        }
    }
    let mut failed = false;
    let report = |image: &str, status| {
        reporter.report(Event::Image {
            image: image.to_string(),
            status,
        })
    };
    for image in names {
        report(&image, ImageStatus::Removing);
        match images.remove(&image) {
            Ok(()) => report(&image, ImageStatus::Removed),
            Err(e) => {
                report(&image, ImageStatus::Failed(e.to_string()));
                failed = true;
            }
        }
    }
    failed
}

/// What attached `up` follows: the running containers of `services` (all
/// when empty) but those in `skip`, and those that already ended since
/// `since_ns` (a quick job may be done before anyone looks).
pub fn attach_targets(
    engine: &dyn Engine,
    project: &Project,
    services: &[String],
    skip: &[String],
    since_ns: i64,
) -> Result<Vec<ContainerInfo>, AppError> {
    let since_secs = since_ns / 1_000_000_000 - 1;
    Ok(
        wharf_orchestrator::project_containers(engine, &project.name, true)?
            .into_iter()
            .filter(|c| match &c.state {
                ContainerState::Exited { finished_at, .. } => *finished_at >= since_secs,
                state => state.is_running() || matches!(state, ContainerState::Restarting),
            })
            .filter(|c| {
                let service = c.label(labels::SERVICE).unwrap_or_default();
                (services.is_empty() || services.iter().any(|s| s == service))
                    && !skip.iter().any(|s| s == service)
            })
            .collect(),
    )
}

/// The exit code of attached `up` as containers end, and when to stop the
/// others (`--abort-on-container-exit`, `--exit-code-from`).
#[derive(Debug, Clone)]
pub struct ExitPolicy {
    abort_on_exit: bool,
    code_from: Option<String>,
    aborted: bool,
    /// The code to exit with so far.
    pub exit_code: i32,
}

/// What to do when a container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterExit {
    Continue,
    /// Stop every other container (the first exit with abort-on-exit).
    Abort,
}

impl ExitPolicy {
    /// `exit_code_from` implies aborting on exit. With it, a container of
    /// that service must be among `attached`.
    pub fn new(
        abort_on_exit: bool,
        exit_code_from: Option<String>,
        attached: &[ContainerInfo],
    ) -> Result<ExitPolicy, AppError> {
        if let Some(service) = &exit_code_from {
            if !attached
                .iter()
                .any(|c| c.label(labels::SERVICE) == Some(service))
            {
                return Err(AppError::Attach(format!(
                    "--exit-code-from {service}: no running container of that service is attached"
                )));
            }
        }
        Ok(ExitPolicy {
            abort_on_exit: abort_on_exit || exit_code_from.is_some(),
            code_from: exit_code_from,
            aborted: false,
            exit_code: 0,
        })
    }

    /// `container` ended with `code`. As docker compose: without
    /// `--exit-code-from`, aborting takes its code from the service that
    /// exited first.
    pub fn ended(&mut self, container: &ContainerInfo, code: i32) -> AfterExit {
        let service = container.label(labels::SERVICE);
        if self.abort_on_exit && self.code_from.is_none() {
            self.code_from = service.map(String::from);
        }
        if self.code_from.is_some() && self.code_from.as_deref() == service {
            self.exit_code = code;
        }
        if self.abort_on_exit && !self.aborted {
            self.aborted = true;
            return AfterExit::Abort;
        }
        AfterExit::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::{AfterExit, ExitPolicy};
    use wharf_engine_api::{labels, ContainerInfo, ContainerSpec};

    fn of(service: &str) -> ContainerInfo {
        let mut spec = ContainerSpec {
            name: format!("p-{service}-1"),
            ..Default::default()
        };
        spec.labels.insert(labels::SERVICE.into(), service.into());
        wharf_testkit::container_info(&spec, service, wharf_testkit::exited())
    }

    #[test]
    fn aborting_takes_the_code_of_the_first_service_to_exit() {
        let attached = [of("job"), of("web")];
        let mut exits = ExitPolicy::new(true, None, &attached).unwrap();
        assert_eq!(exits.ended(&attached[0], 3), AfterExit::Abort);
        assert_eq!(exits.ended(&attached[1], 137), AfterExit::Continue);
        assert_eq!(exits.exit_code, 3);
    }

    #[test]
    fn exit_code_from_names_an_attached_service() {
        let attached = [of("job"), of("web")];
        let mut exits = ExitPolicy::new(false, Some("web".into()), &attached).unwrap();
        assert_eq!(exits.ended(&attached[0], 3), AfterExit::Abort);
        assert_eq!(exits.ended(&attached[1], 0), AfterExit::Continue);
        assert_eq!(exits.exit_code, 0);
        let err = ExitPolicy::new(false, Some("db".into()), &attached).unwrap_err();
        assert!(err.to_string().contains("--exit-code-from db"), "{err}");
        // Without either flag nothing aborts and the code stays 0.
        let mut exits = ExitPolicy::new(false, None, &attached).unwrap();
        assert_eq!(exits.ended(&attached[0], 3), AfterExit::Continue);
        assert_eq!(exits.exit_code, 0);
    }
}
