//! Pull policies and the pulling of a project's service images: which
//! images a `pull` or an `up` pulls (each image once, with the services that
//! use it), side by side up to the parallel limit.

use crate::event::{Event, PullStatus, Reporter};
use crate::images::ImageSource;
use crate::{error_chain, for_each_limited, AppError};
use wharf_compose::Project;

/// A pull policy, as Compose's `pull_policy` and `--pull` name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PullPolicy {
    Always,
    Missing,
    Never,
    /// Build the image instead of pulling it.
    Build,
}

impl PullPolicy {
    /// Compose's spellings: `if_not_present` is `missing`; `daily`, `weekly`
    /// and `every_<duration>` pull every time (wharf keeps no pull dates).
    pub fn parse(text: &str) -> Result<PullPolicy, AppError> {
        Ok(match text {
            "always" => PullPolicy::Always,
            "missing" | "if_not_present" => PullPolicy::Missing,
            "never" => PullPolicy::Never,
            "build" => PullPolicy::Build,
            p if p.starts_with("every_") || p == "daily" || p == "weekly" => PullPolicy::Always,
            other => return Err(AppError::PullPolicy(other.to_string())),
        })
    }
}

/// The effective policy of a service: the flag, else the service's
/// `pull_policy`, else `default`.
pub fn effective_policy(
    flag: Option<&str>,
    service: Option<&str>,
    default: PullPolicy,
) -> Result<PullPolicy, AppError> {
    match flag.or(service) {
        Some(text) => PullPolicy::parse(text),
        None => Ok(default),
    }
}

/// Which images of a project [`pull_images`] pulls, and how.
#[derive(Debug, Clone)]
pub struct PullRequest {
    /// Services whose images to pull; empty for all.
    pub services: Vec<String>,
    /// Overrides each service's `pull_policy` (`--policy`, `--pull`).
    pub policy: Option<String>,
    /// The policy of a service without `pull_policy`: `Always` for `pull`,
    /// `Missing` for `up`.
    pub default_policy: PullPolicy,
    /// A failed pull is a warning, not an error.
    pub ignore_failures: bool,
    /// Leave out the images of services that have `build:`.
    pub ignore_buildable: bool,
    /// Report the images that are not pulled (`pull` does, `up` does not).
    pub report_skipped: bool,
    /// At most this many pulls at once (`None`: all at once).
    pub parallel: Option<usize>,
}

struct Wanted {
    image: String,
    services: Vec<String>,
    buildable: bool,
    policy: PullPolicy,
    platform: Option<String>,
}

/// Each image of the requested services once, with the services that use it.
fn wanted_images(project: &Project, request: &PullRequest) -> Result<Vec<Wanted>, AppError> {
    let mut images: Vec<Wanted> = Vec::new();
    for (name, service) in &project.services {
        if !request.services.is_empty() && !request.services.contains(name) {
            continue;
        }
        let buildable = service.build.is_some();
        if buildable && (service.image.is_none() || request.ignore_buildable) {
            continue;
        }
        let policy = effective_policy(
            request.policy.as_deref(),
            service.pull_policy.as_deref(),
            request.default_policy,
        )?;
        let image = wharf_orchestrator::service_image(project, service);
        match images.iter_mut().find(|w| w.image == image) {
            Some(w) => {
                w.services.push(name.clone());
                w.buildable = w.buildable && buildable;
                if policy == PullPolicy::Always {
                    w.policy = PullPolicy::Always;
                }
            }
            None => images.push(Wanted {
                image,
                services: vec![name.clone()],
                buildable,
                policy,
                platform: service.platform.clone(),
            }),
        }
    }
    Ok(images)
}

/// Pull the images of a project's services as their policies say, each image
/// once. Returns the failures (one line each); the image of a service that
/// can be built may fail to pull (it is built instead), which is reported as
/// [`PullStatus::Ignored`].
pub fn pull_images(
    images: &dyn ImageSource,
    project: &Project,
    request: &PullRequest,
    reporter: &dyn Reporter,
) -> Result<Vec<String>, AppError> {
    let wanted = wanted_images(project, request)?;
    let failures = std::sync::Mutex::new(Vec::new());
    let report = |services: &str, status| {
        reporter.report(Event::Pull {
            services: services.to_string(),
            status,
        })
    };
    for_each_limited(wanted, request.parallel, |w| {
        let shown = w.services.join(", ");
        let image = &w.image;
        let skip = match w.policy {
            PullPolicy::Never | PullPolicy::Build => Some("Skipped"),
            PullPolicy::Missing if images.exists(image) => {
                Some("Skipped - Image is already present locally")
            }
            _ => None,
        };
        if let Some(why) = skip {
            if request.report_skipped {
                report(&shown, PullStatus::Skipped(why));
            }
            return;
        }
        report(&shown, PullStatus::Pulling);
        match images.pull(image, w.platform.as_deref(), reporter) {
            Ok(()) => report(&shown, PullStatus::Pulled),
            Err(e) => {
                let message = format!("pulling {image} for {shown}: {}", error_chain(&e));
                if w.buildable || request.ignore_failures {
                    report(&shown, PullStatus::Ignored(message));
                } else {
                    report(&shown, PullStatus::Failed(message.clone()));
                    failures
                        .lock()
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .push(message);
                }
            }
        }
    });
    Ok(failures
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner))
}

#[cfg(test)]
mod tests {
    use super::{effective_policy, PullPolicy::*};

    #[test]
    fn policies() {
        assert_eq!(effective_policy(None, None, Always).unwrap(), Always);
        assert_eq!(effective_policy(None, None, Missing).unwrap(), Missing);
        assert_eq!(
            effective_policy(None, Some("if_not_present"), Always).unwrap(),
            Missing
        );
        assert_eq!(
            effective_policy(Some("always"), Some("never"), Missing).unwrap(),
            Always
        );
        assert_eq!(
            effective_policy(None, Some("build"), Always).unwrap(),
            Build
        );
        assert_eq!(
            effective_policy(None, Some("every_2h"), Missing).unwrap(),
            Always
        );
        assert!(effective_policy(None, Some("sometimes"), Always).is_err());
        assert!(effective_policy(Some("sometimes"), None, Missing).is_err());
    }
}
