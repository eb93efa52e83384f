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
use wharf_engine_api::Engine;
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
