//! `push`: the image of every selected service that names one, each image
//! once, keeping going past failures.

use crate::event::{Event, PushStatus, Reporter};
use crate::images::ImageSource;
use crate::{check_services, error_chain, AppError};
use wharf_compose::Project;

/// Which images `push` pushes.
#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    /// Services whose images to push; empty for all.
    pub services: Vec<String>,
    /// A failed push is a warning, not an error.
    pub ignore_failures: bool,
}

/// Push the images of the project's services (those that name one). The
/// failures that are not ignored come back as [`AppError::Push`], after
/// every image was tried.
pub fn push_images(
    images: &dyn ImageSource,
    project: &Project,
    request: &PushRequest,
    reporter: &dyn Reporter,
) -> Result<(), AppError> {
    check_services(project, &request.services)?;
    let mut done: Vec<String> = Vec::new();
    let mut failures = Vec::new();
    for (name, service) in &project.services {
        if !request.services.is_empty() && !request.services.contains(name) {
            continue;
        }
        let Some(image) = service.image.clone() else {
            continue;
        };
        if done.contains(&image) {
            continue;
        }
        done.push(image.clone());
        let report = |status| {
            reporter.report(Event::Push {
                image: image.clone(),
                status,
            })
        };
        report(PushStatus::Pushing);
        match images.push(&image, reporter) {
            Ok(()) => report(PushStatus::Pushed),
            Err(e) => {
                let message = format!("pushing {image} for service {name}: {}", error_chain(&e));
                if request.ignore_failures {
                    report(PushStatus::Ignored(message));
                } else {
                    report(PushStatus::Failed(message.clone()));
                    failures.push(message);
                }
            }
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(AppError::Push(failures))
    }
}
