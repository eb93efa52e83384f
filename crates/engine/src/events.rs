//! The per-project event log behind `wharf events`. With no daemon, events
//! are written by whoever causes them: the engine calls of the CLI (create,
//! start, stop, kill, pause, unpause, destroy) and the container's monitor
//! (die, oom, health_status, restart). Each event is one JSON line appended
//! with a single `write` on an `O_APPEND` file, so concurrent writers never
//! interleave. The log is capped: past [`MAX_LOG_BYTES`] it becomes
//! `PROJECT.jsonl.1` (replacing the previous one) and a new log begins.

use crate::store::{ContainerRecord, Layout};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;
use wharf_engine_api::{labels, EngineError};

/// Size past which the log is rotated.
pub const MAX_LOG_BYTES: u64 = 1024 * 1024;
/// How often a follower looks for new events.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// One container event as stored and as `events --json` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerEvent {
    /// Unix nanoseconds.
    pub time_ns: i64,
    /// `create`, `start`, `die`, `health_status: healthy`, …
    pub action: String,
    pub id: String,
    pub service: String,
    /// `name`, `image` and per action `exitCode` or `signal`.
    pub attributes: BTreeMap<String, String>,
}

/// What to read from the log.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub since_ns: Option<i64>,
    pub until_ns: Option<i64>,
    /// Keep following the log for new events (until `until_ns` passes).
    pub follow: bool,
}

fn log_path(layout: &Layout, project: &str) -> PathBuf {
    layout.root.join("events").join(format!("{project}.jsonl"))
}

fn rotated_path(path: &Path) -> PathBuf {
    path.with_extension("jsonl.1")
}

/// The project whose log holds the events of a container with `labels`
/// (its Compose project; `default` for one made outside any project).
pub fn project_of(labels: &std::collections::BTreeMap<String, String>) -> &str {
    labels
        .get(labels::PROJECT)
        .map(String::as_str)
        .unwrap_or("default")
}

/// The file name a project's log may use: its name, with anything that could
/// leave the events directory replaced.
fn safe_project(project: &str) -> String {
    project
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Record `action` of the container of `record`; `extra` attributes are
/// added to its name and image. Failing to record never fails the action.
pub(crate) fn record(
    layout: &Layout,
    record: &ContainerRecord,
    action: &str,
    extra: &[(&str, String)],
) {
    let labels = &record.spec.labels;
    let project = safe_project(project_of(labels));
    let mut attributes = BTreeMap::from([
        ("name".to_string(), record.name.clone()),
        ("image".to_string(), record.spec.image.clone()),
    ]);
    for (key, value) in extra {
        attributes.insert((*key).to_string(), value.clone());
    }
    let event = ContainerEvent {
        time_ns: crate::store::now_nanos(),
        action: action.to_string(),
        id: record.id.clone(),
        service: labels.get(labels::SERVICE).cloned().unwrap_or_default(),
        attributes,
    };
    let _ = append(&log_path(layout, &project), &event);
}

fn append(path: &Path, event: &ContainerEvent) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut line = serde_json::to_vec(event).map_err(std::io::Error::other)?;
    line.push(b'\n');
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    // One write: O_APPEND places it whole at the end, whoever else appends.
    file.write_all(&line)?;
    let size = file.metadata()?.len();
    if size > MAX_LOG_BYTES {
        // Rotate only the file we wrote to: another writer may have done so already.
        let ours = file.metadata()?.ino();
        if std::fs::metadata(path).is_ok_and(|m| m.ino() == ours) {
            std::fs::rename(path, rotated_path(path))?;
        }
    }
    Ok(())
}

/// Read the events of `project` in `filter`'s window, oldest first, passing
/// each to `sink` until it returns false; following, wait for new ones.
pub fn read_events(
    layout: &Layout,
    project: &str,
    filter: &EventFilter,
    sink: &mut dyn FnMut(ContainerEvent) -> bool,
) -> Result<(), EngineError> {
    read_events_until(layout, project, filter, &|| false, sink)
}

/// [`read_events`], following until `stop` says so (asked between polls).
fn read_events_until(
    layout: &Layout,
    project: &str,
    filter: &EventFilter,
    stop: &dyn Fn() -> bool,
    sink: &mut dyn FnMut(ContainerEvent) -> bool,
) -> Result<(), EngineError> {
    let path = log_path(layout, &safe_project(project));
    let in_window = |event: &ContainerEvent| {
        filter.since_ns.is_none_or(|s| event.time_ns >= s)
            && filter.until_ns.is_none_or(|u| event.time_ns <= u)
    };
    // Without --since a follower sees only what happens from now on.
    let replay = filter.since_ns.is_some() || !filter.follow;
    let open = |path: &Path| match File::open(path) {
        Ok(file) => Ok(Some(file)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(EngineError::io(format!("opening {}", path.display()), e)),
    };
    if replay {
        if let Some(old) = open(&rotated_path(&path))? {
            let mut reader = BufReader::new(old);
            if !pass_lines(&mut reader, &in_window, sink, &path)? {
                return Ok(());
            }
        }
    }
    let mut current = match open(&path)? {
        Some(mut file) => {
            if !replay {
                file.seek(SeekFrom::End(0))
                    .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
            }
            Some(BufReader::new(file))
        }
        None => None,
    };
    loop {
        if let Some(reader) = current.as_mut() {
            if !pass_lines(reader, &in_window, sink, &path)? {
                return Ok(());
            }
        }
        if !filter.follow {
            return Ok(());
        }
        if stop()
            || filter
                .until_ns
                .is_some_and(|until| crate::store::now_nanos() > until)
        {
            return Ok(());
        }
        std::thread::sleep(FOLLOW_POLL);
        // A rotation (or the first event) puts a new file at the path: finish
        // the old one, then go on with the new one from its start.
        let ino_now = std::fs::metadata(&path).ok().map(|m| m.ino());
        let ino_reading = current
            .as_ref()
            .and_then(|r| r.get_ref().metadata().ok())
            .map(|m| m.ino());
        if ino_now.is_some() && ino_now != ino_reading {
            if let Some(reader) = current.as_mut() {
                if !pass_lines(reader, &in_window, sink, &path)? {
                    return Ok(());
                }
            }
            current = open(&path)?.map(BufReader::new);
        }
    }
}

/// How often a following host-wide read looks for the logs of new projects.
const NEW_PROJECTS_TICK: Duration = Duration::from_millis(100);

/// The projects that have an event log in `dir`.
fn projects_with_logs(dir: &Path) -> Result<Vec<String>, EngineError> {
    match std::fs::read_dir(dir) {
        Ok(entries) => Ok(entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.strip_suffix(".jsonl").map(str::to_string)
            })
            .collect()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(EngineError::io(format!("reading {}", dir.display()), e)),
    }
}

/// Follow `project`'s log on a thread of the scope, sending its events,
/// until `done` is set or the receiver is gone.
fn follow_project<'scope, 'env>(
    scope: &'scope std::thread::Scope<'scope, 'env>,
    layout: &'env Layout,
    filter: &'env EventFilter,
    done: &'env std::sync::atomic::AtomicBool,
    project: String,
    sender: std::sync::mpsc::Sender<ContainerEvent>,
) {
    scope.spawn(move || {
        let stop = || done.load(std::sync::atomic::Ordering::Relaxed);
        read_events_until(layout, &project, filter, &stop, &mut |event| {
            sender.send(event).is_ok()
        })
    });
}

/// The events of every project whose log exists under the state directory
/// `root` (the Engine API's host-wide `/events`): without follow, merged
/// oldest first; following, each project's log on a thread of its own,
/// passed on as they come, and the log of a project created later followed
/// too as soon as it appears. A follower ends when `sink` returns false,
/// or when `still_wanted` (asked while no event comes) says the reader is
/// gone; its threads end with it, within a poll.
pub fn read_host_events(
    root: &Path,
    filter: &EventFilter,
    still_wanted: &dyn Fn() -> bool,
    sink: &mut dyn FnMut(ContainerEvent) -> bool,
) -> Result<(), EngineError> {
    let layout = Layout {
        root: root.to_path_buf(),
    };
    let dir = root.join("events");
    let mut projects = projects_with_logs(&dir)?;
    projects.sort();
    if !filter.follow {
        let mut all = Vec::new();
        for project in &projects {
            read_events(&layout, project, filter, &mut |event| {
                all.push(event);
                true
            })?;
        }
        all.sort_by_key(|e| e.time_ns);
        for event in all {
            if !sink(event) {
                break;
            }
        }
        return Ok(());
    }
    // A project that appears later is read from its log's start (it began
    // after the stream did), within the client's window.
    let late = EventFilter {
        since_ns: filter.since_ns.or(Some(crate::store::now_nanos())),
        until_ns: filter.until_ns,
        follow: true,
    };
    let (sender, receiver) = std::sync::mpsc::channel();
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let (layout, done) = (&layout, &done);
        let mut known: std::collections::HashSet<String> = projects.iter().cloned().collect();
        for project in projects {
            follow_project(scope, layout, filter, done, project, sender.clone());
        }
        // The scanner holds a sender until the client is gone or `until`
        // has passed, so the stream stays open for projects yet to come.
        let scanner_sender = sender.clone();
        let (dir, late) = (&dir, &late);
        scope.spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed)
                && filter
                    .until_ns
                    .is_none_or(|until| crate::store::now_nanos() < until)
            {
                std::thread::sleep(NEW_PROJECTS_TICK);
                for project in projects_with_logs(dir).unwrap_or_default() {
                    if known.insert(project.clone()) {
                        follow_project(scope, layout, late, done, project, scanner_sender.clone());
                    }
                }
            }
        });
        drop(sender);
        loop {
            let wanted = match receiver.recv_timeout(NEW_PROJECTS_TICK) {
                Ok(event) => sink(event),
                Err(RecvTimeoutError::Timeout) => still_wanted(),
                Err(RecvTimeoutError::Disconnected) => false,
            };
            if !wanted {
                break;
            }
        }
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        drop(receiver);
    });
    Ok(())
}

/// Pass the complete lines available now; a partial last line stays for the
/// next call. False when the sink wants no more.
fn pass_lines(
    reader: &mut BufReader<File>,
    in_window: &dyn Fn(&ContainerEvent) -> bool,
    sink: &mut dyn FnMut(ContainerEvent) -> bool,
    path: &Path,
) -> Result<bool, EngineError> {
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader
            .read_line(&mut line)
            .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
        if n == 0 {
            return Ok(true);
        }
        if !line.ends_with('\n') {
            // Not yet complete: read it again once its writer is done.
            reader
                .seek_relative(-(n as i64))
                .map_err(|e| EngineError::io(format!("reading {}", path.display()), e))?;
            return Ok(true);
        }
        let Ok(event) = serde_json::from_str::<ContainerEvent>(&line) else {
            continue;
        };
        if in_window(&event) && !sink(event) {
            return Ok(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time_ns: i64, action: &str) -> ContainerEvent {
        ContainerEvent {
            time_ns,
            action: action.into(),
            id: "abc".into(),
            service: "web".into(),
            attributes: BTreeMap::new(),
        }
    }

    #[test]
    fn replays_the_window_across_a_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout {
            root: dir.path().to_path_buf(),
        };
        let path = log_path(&layout, "p");
        append(&path, &event(1, "create")).unwrap();
        std::fs::rename(&path, rotated_path(&path)).unwrap();
        append(&path, &event(2, "start")).unwrap();
        append(&path, &event(3, "die")).unwrap();
        let mut seen = Vec::new();
        let filter = EventFilter {
            since_ns: Some(1),
            until_ns: Some(2),
            follow: false,
        };
        read_events(&layout, "p", &filter, &mut |e| {
            seen.push(e.action);
            true
        })
        .unwrap();
        assert_eq!(seen, ["create", "start"]);
    }

    #[test]
    fn a_big_log_is_rotated() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events").join("p.jsonl");
        let mut big = event(1, "start");
        big.attributes
            .insert("pad".into(), "x".repeat(MAX_LOG_BYTES as usize));
        append(&path, &big).unwrap();
        assert!(!path.exists());
        assert!(rotated_path(&path).exists());
        append(&path, &event(2, "stop")).unwrap();
        assert!(std::fs::metadata(&path).unwrap().len() < 1000);
    }

    #[test]
    fn project_names_stay_in_the_events_directory() {
        assert_eq!(safe_project("../etc/x"), "___etc_x");
        assert_eq!(safe_project("my-app_1"), "my-app_1");
    }
}
