//! `events`: a project's container events, replayed from the event log and
//! then live, kept to the services asked for. Fronts render each event.

use crate::containers::Scope;
use crate::AppError;
use wharf_engine::events::{ContainerEvent, EventFilter};
use wharf_engine::LinuxEngine;

/// Feed the scope's events to `sink` until it returns `false` or the
/// filter's end; an unknown service name is docker compose's error.
pub fn stream(
    engine: &LinuxEngine,
    scope: &Scope<'_>,
    filter: &EventFilter,
    sink: &mut dyn FnMut(ContainerEvent) -> bool,
) -> Result<(), AppError> {
    scope.check()?;
    engine
        .events(scope.name, filter, &mut |event| {
            if !scope.services.is_empty() && !scope.services.contains(&event.service) {
                return true;
            }
            sink(event)
        })
        .map_err(|e| AppError::engine(format!("events of project {}", scope.name), e))
}
