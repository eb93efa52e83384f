//! `logs`: which containers' output is read (a project's services, one
//! replica by `--index`, or one container by name), the reading options as
//! docker's flags give them (`--tail`, `--since`, `--until`), and the
//! reading of several containers at once — merged by time, or passed on as
//! they come with follow — for a front to print or stream.

use crate::AppError;
use std::sync::mpsc;
use wharf_engine_api::{labels, ContainerInfo, Engine, LogLine, LogOptions};

/// docker's log flags, as given.
#[derive(Debug, Clone, Default)]
pub struct LogRequest {
    pub follow: bool,
    /// `--tail`: a number of lines, or `all` (also `-1`).
    pub tail: String,
    /// `--since` / `--until`: an RFC 3339 time, a Unix timestamp or a
    /// duration ago (`42m`).
    pub since: Option<String>,
    pub until: Option<String>,
}

/// A log flag that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum LogsError {
    #[error("--tail {0:?} is not a number of lines: give a number or \"all\"")]
    Tail(String),
    #[error("{flag} {value:?}: give a time like 2013-01-02T13:23:37Z, a Unix timestamp, or a duration ago like 42m or 1h30m")]
    Time { flag: &'static str, value: String },
}

impl LogRequest {
    /// The engine's reading options, times relative to `now_ns`.
    pub fn options(&self, now_ns: i64) -> Result<LogOptions, LogsError> {
        let tail = match self.tail.as_str() {
            "all" | "-1" | "" => None,
            n => Some(n.parse::<usize>().map_err(|_| LogsError::Tail(n.into()))?),
        };
        let when = |flag: &'static str, value: &Option<String>| {
            value
                .as_deref()
                .map(|v| {
                    wharf_units::calendar::parse_time(v, now_ns).ok_or_else(|| LogsError::Time {
                        flag,
                        value: v.to_string(),
                    })
                })
                .transpose()
        };
        Ok(LogOptions {
            follow: self.follow,
            tail,
            since_ns: when("--since", &self.since)?,
            until_ns: when("--until", &self.until)?,
        })
    }
}

/// The containers of `project` whose logs `wharf logs` shows: those of
/// `services` (all when empty; an unknown one is an error when the project
/// is loaded), only replica `index` when given.
pub fn project_containers(
    engine: &dyn Engine,
    name: &str,
    project: Option<&wharf_compose::Project>,
    services: &[String],
    index: Option<u32>,
) -> Result<Vec<ContainerInfo>, AppError> {
    let containers = wharf_orchestrator::project_containers(engine, name, true)?;
    let scope = crate::containers::Scope {
        name,
        project,
        services,
    };
    let mut containers = crate::containers::filter_services(containers, &scope)?;
    if let Some(index) = index {
        let index = index.to_string();
        containers.retain(|c| c.label(labels::CONTAINER_NUMBER) == Some(&index));
    }
    Ok(containers)
}

/// Read the logs of `containers`, handing each line to `sink` with the
/// index of its container. Without follow the lines of all containers are
/// merged by time; with follow they are handed on as they come until every
/// container has stopped or `sink` returns false. Readers that failed are
/// reported together.
pub fn read_merged(
    engine: &dyn Engine,
    containers: &[ContainerInfo],
    options: &LogOptions,
    sink: &mut dyn FnMut(usize, &LogLine) -> bool,
) -> Result<(), AppError> {
    let (sender, receiver) = mpsc::channel::<(usize, LogLine)>();
    let mut errors = Vec::new();
    std::thread::scope(|scope| {
        let mut handles = Vec::new();
        for (index, container) in containers.iter().enumerate() {
            let sender = sender.clone();
            handles.push(scope.spawn(move || {
                engine.logs(&container.id, options, &mut |line| {
                    sender.send((index, line)).is_ok()
                })
            }));
        }
        drop(sender);
        if options.follow {
            for (index, line) in receiver.iter() {
                if !sink(index, &line) {
                    break;
                }
            }
            // Readers still following end at their next line, which no
            // longer has anywhere to go.
            drop(receiver);
        } else {
            let mut lines: Vec<(usize, LogLine)> = receiver.into_iter().collect();
            lines.sort_by_key(|(_, l)| l.time_ns);
            for (index, line) in &lines {
                if !sink(*index, line) {
                    break;
                }
            }
        }
        for (handle, container) in handles.into_iter().zip(containers) {
            match handle.join() {
                Ok(Err(e)) => errors.push(e.to_string()),
                Err(_) => errors.push(format!("the log reader of {} failed", container.name)),
                Ok(Ok(())) => {}
            }
        }
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(AppError::Logs(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_reading_options() {
        let now = 1_700_000_000_000_000_000;
        let request = LogRequest {
            follow: true,
            tail: "5".into(),
            since: Some("10s".into()),
            until: None,
        };
        let options = request.options(now).unwrap();
        assert_eq!(options.tail, Some(5));
        assert_eq!(options.since_ns, Some(now - 10_000_000_000));
        assert!(options.follow);
        let all = LogRequest {
            tail: "all".into(),
            ..LogRequest::default()
        };
        assert_eq!(all.options(now).unwrap().tail, None);
    }

    #[test]
    fn bad_flags_say_what_to_give() {
        let bad_tail = LogRequest {
            tail: "ten".into(),
            ..LogRequest::default()
        };
        assert_eq!(
            bad_tail.options(0).unwrap_err().to_string(),
            "--tail \"ten\" is not a number of lines: give a number or \"all\""
        );
        let bad_since = LogRequest {
            since: Some("yesterday".into()),
            ..LogRequest::default()
        };
        assert!(matches!(
            bad_since.options(0),
            Err(LogsError::Time {
                flag: "--since",
                ..
            })
        ));
    }
}
