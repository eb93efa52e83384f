//! `docker ps`: which containers a listing shows (running, or all with
//! `-a`; the last `-n` created; `--filter`s) in docker's order, newest first.
//! Every container of the engine is listed, Compose's too, as docker does.

use crate::AppError;
use wharf_engine_api::{ContainerInfo, ContainerState, Engine, Health};

/// What `docker ps` was asked for.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    pub all: bool,
    /// `-n N`: the N last created, in any state.
    pub last: Option<usize>,
    /// `--filter KEY=VALUE`, in order given.
    pub filters: Vec<String>,
}

/// A parsed `--filter`.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Filter {
    Id(String),
    Name(String),
    Label(String),
    Status(String),
    Exited(i32),
    Ancestor(String),
    Network(String),
}

const FILTER_KEYS: &str = "id, name, label, status, exited, ancestor, network";

fn parse_filter(text: &str) -> Result<Filter, AppError> {
    let (key, value) = text.split_once('=').ok_or_else(|| {
        AppError::Refused(format!(
            "bad format of filter {text:?} (expected name=value)"
        ))
    })?;
    let value = value.to_string();
    Ok(match key {
        "id" => Filter::Id(value),
        "name" => Filter::Name(value),
        "label" => Filter::Label(value),
        "status" => {
            const STATES: [&str; 7] = [
                "created",
                "restarting",
                "running",
                "removing",
                "paused",
                "exited",
                "dead",
            ];
            if !STATES.contains(&value.as_str()) {
                return Err(AppError::Refused(format!(
                    "invalid filter 'status={value}': use one of {}",
                    STATES.join(", ")
                )));
            }
            Filter::Status(value)
        }
        "exited" => Filter::Exited(value.parse().map_err(|_| {
            AppError::Refused(format!(
                "invalid filter 'exited={value}': give an exit code"
            ))
        })?),
        "ancestor" => Filter::Ancestor(value),
        "network" => Filter::Network(value),
        other => {
            return Err(AppError::Refused(format!(
                "invalid filter '{other}': wharf filters on {FILTER_KEYS}"
            )))
        }
    })
}

fn matches(filter: &Filter, c: &ContainerInfo) -> bool {
    use wharf_engine_api::ContainerState;
    match filter {
        Filter::Id(prefix) => c.id.starts_with(prefix.as_str()),
        Filter::Name(part) => c.name.contains(part.as_str()),
        Filter::Label(label) => {
            let (key, want) = match label.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (label.as_str(), None),
            };
            c.labels
                .get(key)
                .is_some_and(|have| want.is_none_or(|w| w == have))
        }
        Filter::Status(status) => c.state.name() == status,
        Filter::Exited(code) => {
            matches!(c.state, ContainerState::Exited { exit_code, .. } if exit_code == *code)
        }
        Filter::Ancestor(image) => {
            c.image == *image
                || c.image_id
                    .trim_start_matches("sha256:")
                    .starts_with(image.trim_start_matches("sha256:"))
                || c.image.split(':').next() == Some(image.as_str())
        }
        Filter::Network(network) => c.addresses.contains_key(network),
    }
}

/// The containers `docker ps` shows, newest first.
pub fn list(engine: &dyn Engine, options: &ListOptions) -> Result<Vec<ContainerInfo>, AppError> {
    let filters = options
        .filters
        .iter()
        .map(|f| parse_filter(f))
        .collect::<Result<Vec<_>, _>>()?;
    let mut containers = engine
        .list_containers(&[])
        .map_err(|e| AppError::engine("listing containers", e))?;
    containers.sort_by(|a, b| b.created.cmp(&a.created).then(b.name.cmp(&a.name)));
    if let Some(last) = options.last {
        containers.truncate(last);
    }
    // A status filter or -n shows stopped containers without -a, as docker.
    let show_stopped = options.all
        || options.last.is_some()
        || filters
            .iter()
            .any(|f| matches!(f, Filter::Status(_) | Filter::Exited(_)));
    // Filters of one key are alternatives; different keys must all match.
    Ok(containers
        .into_iter()
        .filter(|c| show_stopped || c.state.is_running())
        .filter(|c| {
            filters.iter().all(|f| {
                filters
                    .iter()
                    .filter(|g| std::mem::discriminant(*g) == std::mem::discriminant(f))
                    .any(|g| matches(g, c))
            })
        })
        .collect())
}

/// docker's `Status` column: `Up 5 seconds (healthy)`, `Exited (0) 2
/// minutes ago`, `Created`; `now` in Unix seconds.
pub fn status_text(state: &ContainerState, health: Option<Health>, now: i64) -> String {
    match state {
        ContainerState::Created => "Created".into(),
        ContainerState::Running {
            started_at, paused, ..
        } => {
            let up = format!("Up {}", wharf_units::human_duration(now - started_at));
            match health {
                _ if *paused => format!("{up} (Paused)"),
                None => up,
                Some(Health::Starting) => format!("{up} (health: starting)"),
                Some(health) => format!("{up} ({})", health.name()),
            }
        }
        ContainerState::Restarting => "Restarting".into(),
        ContainerState::Exited {
            exit_code,
            finished_at,
            ..
        } => format!(
            "Exited ({exit_code}) {} ago",
            wharf_units::human_duration(now - finished_at)
        ),
        ContainerState::Dead => "Dead".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_testkit::FakeEngine;

    fn make(engine: &FakeEngine, name: &str, label: &str) -> String {
        let spec = wharf_engine_api::ContainerSpec {
            name: name.into(),
            image: "busybox".into(),
            labels: [(label.to_string(), "1".to_string())].into(),
            ..Default::default()
        };
        engine.create_container(&spec).unwrap()
    }

    #[test]
    fn filters_and_states() {
        let engine = FakeEngine::new();
        engine.add_image("busybox");
        let a = make(&engine, "alpha", "tier");
        make(&engine, "beta", "other");
        engine.start_container(&a).unwrap();
        let names = |options: ListOptions| -> Vec<String> {
            list(&engine, &options)
                .unwrap()
                .into_iter()
                .map(|c| c.name)
                .collect()
        };
        assert_eq!(names(ListOptions::default()), ["alpha"]);
        let all = ListOptions {
            all: true,
            ..Default::default()
        };
        assert_eq!(names(all.clone()).len(), 2);
        let filtered = |f: &[&str]| ListOptions {
            all: true,
            filters: f.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        };
        assert_eq!(names(filtered(&["label=tier"])), ["alpha"]);
        assert_eq!(names(filtered(&["name=bet"])), ["beta"]);
        assert_eq!(names(filtered(&["status=created"])), ["beta"]);
        assert_eq!(names(filtered(&["name=alpha", "name=beta"])).len(), 2);
        assert!(names(filtered(&["name=alpha", "status=created"])).is_empty());
        let err = list(&engine, &filtered(&["colour=red"])).unwrap_err();
        assert!(err.to_string().contains("invalid filter 'colour'"), "{err}");
        assert!(list(&engine, &filtered(&["status=sleeping"])).is_err());
    }
}
