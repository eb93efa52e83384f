//! The containers endpoints: create, list, inspect and the lifecycle
//! (start, stop, restart, kill, pause, unpause, rename, update, remove,
//! prune, wait), over the core's docker module and the engine. Streams
//! (attach, logs) are in [`crate::streams`], stats in [`crate::stats`],
//! `docker cp` in [`crate::archive`].

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use crate::wait::{self, Condition};
use crate::{archive, create_body, stats, streams};
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use std::io::Write;
use std::time::Duration;
use wharf_app::docker::list::{self, ListOptions};
use wharf_engine_api::{ContainerInfo, ContainerState, Engine, EngineError};

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    let handler: Handler = match (method, path) {
        (&Method::POST, ["containers", "create"]) => create,
        (&Method::GET, ["containers", "json"]) => list_containers,
        (&Method::POST, ["containers", "prune"]) => prune,
        (&Method::GET, ["containers", _, "json"]) => inspect,
        (&Method::POST, ["containers", _, "start"]) => start,
        (&Method::POST, ["containers", _, "stop"]) => stop,
        (&Method::POST, ["containers", _, "restart"]) => restart,
        (&Method::POST, ["containers", _, "kill"]) => kill,
        (&Method::POST, ["containers", _, "pause"]) => pause,
        (&Method::POST, ["containers", _, "unpause"]) => unpause,
        (&Method::POST, ["containers", _, "rename"]) => rename,
        (&Method::POST, ["containers", _, "update"]) => update,
        (&Method::POST, ["containers", _, "wait"]) => wait_for,
        (&Method::POST, ["containers", _, "resize"]) => streams::resize,
        (&Method::DELETE, ["containers", _]) => remove,
        (&Method::POST, ["containers", _, "attach"]) => streams::attach,
        (&Method::GET, ["containers", _, "logs"]) => streams::logs,
        (&Method::GET, ["containers", _, "top"]) => top,
        (&Method::GET, ["containers", _, "stats"]) => stats::stats,
        (&Method::GET, ["containers", _, "export"]) => export,
        (&Method::GET, ["containers", _, "changes"]) => changes,
        (&Method::HEAD, ["containers", _, "archive"]) => archive::stat,
        (&Method::GET, ["containers", _, "archive"]) => archive::get,
        (&Method::PUT, ["containers", _, "archive"]) => archive::put,
        _ => return None,
    };
    Some(handler)
}

/// docker's reference with its default tag (`busybox` → `busybox:latest`).
fn normalized_image(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    if last.contains(':') || image.contains('@') {
        image.to_string()
    } else {
        format!("{image}:latest")
    }
}

fn create(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let json = request.json_value()?;
    let body = create_body::parse(request.query.get("name"), &json)?;
    if backend.engine.image_inspect(&body.config.image)?.is_none() {
        return Err(ApiError::no_such(
            "image",
            &normalized_image(&body.config.image),
        ));
    }
    let created = wharf_app::docker::create(&backend.engine, &body)?;
    if body.host_config.auto_remove {
        backend
            .auto_remove
            .register(&created.id, &body.config.labels);
    }
    Ok(Reply::json(
        StatusCode::CREATED,
        &json!({ "Id": created.id, "Warnings": created.warnings }),
    ))
}

fn list_containers(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let query = &request.query;
    let filters = query
        .filters()?
        .into_iter()
        .flat_map(|(key, values)| values.into_iter().map(move |v| format!("{key}={v}")))
        .collect();
    let options = ListOptions {
        all: query.bool("all", false),
        last: query.int("limit")?.filter(|n| *n > 0).map(|n| n as usize),
        filters,
    };
    let containers = list::list(&backend.engine, &options)?;
    let now = now_secs();
    let rows: Vec<Value> = containers.iter().map(|c| summary(c, now)).collect();
    Ok(Reply::ok(Value::Array(rows)))
}

/// One row of `GET /containers/json`.
fn summary(c: &ContainerInfo, now: i64) -> Value {
    let ports: Vec<Value> = c
        .ports
        .iter()
        .map(|p| {
            json!({
                "IP": p.host_ip.map_or("0.0.0.0".to_string(), |ip| ip.to_string()),
                "PrivatePort": p.container_port,
                "PublicPort": p.host_port,
                "Type": p.protocol.to_string(),
            })
        })
        .collect();
    let networks: serde_json::Map<String, Value> = c
        .addresses
        .iter()
        .map(|(name, address)| {
            (
                name.clone(),
                json!({ "IPAddress": address.to_string(), "NetworkID": "" }),
            )
        })
        .collect();
    let network_mode = c
        .addresses
        .keys()
        .next()
        .cloned()
        .unwrap_or_else(|| "default".into());
    json!({
        "Id": c.id,
        "Names": [format!("/{}", c.name)],
        "Image": c.image,
        "ImageID": c.image_id,
        "Command": c.command.join(" "),
        "Created": c.created,
        "Ports": ports,
        "Labels": c.labels,
        "State": c.state.name(),
        "Status": wharf_app::docker::list::status_text(&c.state, c.health, now),
        "HostConfig": { "NetworkMode": network_mode },
        "NetworkSettings": { "Networks": networks },
        "Mounts": [],
    })
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

fn inspect(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let info = backend.engine.inspect_container(id)?;
    let details = backend.engine.container_details(&info.id)?;
    Ok(Reply::ok(wharf_app::docker::inspect::container(
        &info, &details,
    )))
}

fn not_running(id: &str) -> ApiError {
    ApiError::conflict(format!("Container {id} is not running"))
}

fn start(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let info = backend.engine.inspect_container(id)?;
    let claimed = backend
        .starting
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(info.id.clone());
    if !claimed {
        return Ok(Reply::empty(StatusCode::NOT_MODIFIED));
    }
    let started = start_claimed(backend, &info.id);
    backend
        .starting
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&info.id);
    started
}

/// Start a container no other request of this service is starting.
fn start_claimed(backend: &Backend, id: &str) -> Result<Reply, ApiError> {
    if backend.engine.inspect_container(id)?.state.is_running() {
        return Ok(Reply::empty(StatusCode::NOT_MODIFIED));
    }
    if let Err(error) = backend.engine.start_container(id) {
        // Started meanwhile by another front (`wharf start`).
        let now = backend.engine.inspect_container(id)?;
        if now.state.is_running() && matches!(error, EngineError::Invalid(_)) {
            return Ok(Reply::empty(StatusCode::NOT_MODIFIED));
        }
        return Err(error.into());
    }
    wait::reap_when_exited(backend, id);
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

/// docker's `t` (seconds; -1 waits forever, which wharf bounds at a day).
fn stop_timeout(request: &Request) -> Result<Option<Duration>, ApiError> {
    Ok(request.query.int("t")?.map(|t| {
        if t < 0 {
            Duration::from_secs(86_400)
        } else {
            Duration::from_secs(t as u64)
        }
    }))
}

fn stop(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let timeout = stop_timeout(&request)?;
    let info = backend.engine.inspect_container(id)?;
    if !info.state.is_running() {
        return Ok(Reply::empty(StatusCode::NOT_MODIFIED));
    }
    backend.engine.stop_container(&info.id, timeout)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn restart(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let timeout = stop_timeout(&request)?;
    let info = backend.engine.inspect_container(id)?;
    backend.engine.restart_container(&info.id, timeout)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn kill(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let signal = request
        .query
        .get("signal")
        .filter(|s| !s.is_empty())
        .unwrap_or("SIGKILL");
    let info = backend.engine.inspect_container(id)?;
    if !info.state.is_running() {
        return Err(not_running(id));
    }
    backend
        .engine
        .kill_container(&info.id, signal)
        .map_err(|error| match error {
            EngineError::Runtime(_) => ApiError::bad_request(format!(
                "invalid signal {signal:?}: give a name like SIGTERM or a number"
            )),
            other => other.into(),
        })?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn pause(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let info = backend.engine.inspect_container(id)?;
    if !info.state.is_running() {
        return Err(not_running(id));
    }
    if info.state.is_paused() {
        return Err(ApiError::conflict(format!(
            "Container {id} is already paused"
        )));
    }
    backend.engine.pause_container(&info.id)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn unpause(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let info = backend.engine.inspect_container(id)?;
    if !info.state.is_paused() {
        return Err(ApiError::conflict(format!("Container {id} is not paused")));
    }
    backend.engine.unpause_container(&info.id)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn rename(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let name = request
        .query
        .get("name")
        .filter(|n| !n.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("query parameter \"name\" is required: give the new name")
        })?;
    let name = name.trim_start_matches('/');
    if !wharf_app::docker::create::valid_name(name) {
        return Err(wharf_app::AppError::InvalidName(name.to_string()).into());
    }
    let info = backend.engine.inspect_container(id)?;
    if let Some(other) = backend
        .engine
        .list_containers(&[])?
        .into_iter()
        .find(|c| c.name == name && c.id != info.id)
    {
        return Err(wharf_app::AppError::NameInUse {
            name: name.to_string(),
            id: other.id,
        }
        .into());
    }
    backend.engine.rename_container(&info.id, name)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn update(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1).to_string();
    let json = request.json_value()?;
    let Value::Object(fields) = &json else {
        return Err(ApiError::bad_request(
            "invalid JSON body: expected an object",
        ));
    };
    // The update body is a HostConfig's resources: read it as one.
    let mut host = serde_json::Map::new();
    let mut restart = None;
    for (key, value) in fields {
        match key.as_str() {
            "RestartPolicy" => restart = Some(value.clone()),
            _ => {
                host.insert(key.clone(), value.clone());
            }
        }
    }
    if let Some(policy) = &restart {
        host.insert("RestartPolicy".into(), policy.clone());
    }
    let body = create_body::parse(
        None,
        &json!({ "Image": "-", "HostConfig": Value::Object(host) }),
    )?;
    let mut update = wharf_engine::ResourceUpdate {
        resources: body.host_config.resources.clone(),
        restart: restart.map(|_| body.host_config.restart_policy.clone()),
    };
    let warnings =
        wharf_app::docker::discard_unsupported_limits(&backend.engine, &mut update.resources);
    backend.engine.update_container(&id, &update)?;
    Ok(Reply::ok(json!({ "Warnings": warnings })))
}

fn wait_for(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let condition_text = request.query.get("condition").unwrap_or("");
    let condition = Condition::parse(condition_text).ok_or_else(|| {
        ApiError::bad_request(format!(
            "invalid condition {condition_text:?}: use not-running, next-exit or removed"
        ))
    })?;
    let initial = backend.engine.inspect_container(id)?;
    let backend = backend.clone();
    Ok(Reply::stream("application/json", move |out| {
        let sender = out.sender.clone();
        let abandoned = move || sender.is_closed();
        let body = match wait::wait(&backend, &initial, condition, &abandoned) {
            Ok(code) => json!({ "StatusCode": code, "Error": null }),
            Err(message) => json!({ "StatusCode": -1, "Error": { "Message": message } }),
        };
        out.write_all(format!("{body}\n").as_bytes())
    }))
}

fn remove(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let force = request.query.bool("force", false);
    if request.query.bool("link", false) {
        return Err(ApiError::bad_request(
            "link=1 removes a legacy link, which wharf does not make",
        ));
    }
    let info = backend.engine.inspect_container(id)?;
    if info.state.is_running() && !force {
        return Err(ApiError::conflict(format!(
            "You cannot remove a running container {}. Stop the container before attempting removal or force remove",
            info.id
        )));
    }
    if request.query.bool("v", false) {
        backend
            .engine
            .remove_container_and_anonymous_volumes(&info.id, force)?;
    } else {
        backend.engine.remove_container(&info.id, force)?;
    }
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn prune(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let filters = request.query.filters()?;
    let labels: Vec<String> = filters.get("label").cloned().unwrap_or_default();
    if let Some(key) = filters.keys().find(|k| *k != "label") {
        return Err(ApiError::bad_request(format!(
            "invalid filter {key:?}: container prune filters on label"
        )));
    }
    let mut deleted = Vec::new();
    for container in backend.engine.list_containers(&[])? {
        let stopped = matches!(
            container.state,
            ContainerState::Exited { .. } | ContainerState::Created | ContainerState::Dead
        );
        let labelled = labels.iter().all(|label| match label.split_once('=') {
            Some((k, v)) => container.labels.get(k).is_some_and(|have| have == v),
            None => container.labels.contains_key(label),
        });
        if stopped && labelled {
            backend.engine.remove_container(&container.id, false)?;
            deleted.push(container.id);
        }
    }
    Ok(Reply::ok(
        json!({ "ContainersDeleted": deleted, "SpaceReclaimed": 0 }),
    ))
}

fn top(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let id = request.segment(1);
    let info = backend.engine.inspect_container(id)?;
    if !info.state.is_running() {
        return Err(not_running(id));
    }
    let processes: Vec<Value> = backend
        .engine
        .top(&info.id)?
        .iter()
        .map(|p| {
            let time = format!(
                "{:02}:{:02}:{:02}",
                p.cpu_seconds / 3600,
                p.cpu_seconds / 60 % 60,
                p.cpu_seconds % 60
            );
            json!([
                p.uid.to_string(),
                p.pid.to_string(),
                p.ppid.to_string(),
                "0",
                clock_time(p.started),
                p.tty,
                time,
                p.command
            ])
        })
        .collect();
    Ok(Reply::ok(json!({
        "Titles": ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        "Processes": processes,
    })))
}

/// `ps`'s STIME: the hour and minute a process started (UTC).
fn clock_time(secs: i64) -> String {
    let (_, _, _, hour, minute, _) = wharf_units::calendar::utc_from_unix(secs);
    format!("{hour:02}:{minute:02}")
}

fn export(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let info = backend.engine.inspect_container(request.segment(1))?;
    let backend = backend.clone();
    Ok(Reply::stream("application/x-tar", move |out| {
        backend
            .engine
            .export_container(&info.id, out)
            .map_err(std::io::Error::other)
    }))
}

fn changes(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let info = backend.engine.inspect_container(request.segment(1))?;
    let changes: Vec<Value> = backend
        .engine
        .container_changes(&info.id)?
        .into_iter()
        .map(|(kind, path)| {
            let code = match kind {
                wharf_engine::ChangeKind::Changed => 0,
                wharf_engine::ChangeKind::Added => 1,
                wharf_engine::ChangeKind::Deleted => 2,
            };
            json!({ "Path": path, "Kind": code })
        })
        .collect();
    Ok(Reply::ok(Value::Array(changes)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_app::docker::list::status_text;
    use wharf_units::human_duration;

    #[test]
    fn every_container_path_has_its_handler() {
        for (method, path) in [
            (Method::POST, &["containers", "create"][..]),
            (Method::GET, &["containers", "json"]),
            (Method::POST, &["containers", "web", "start"]),
            (Method::POST, &["containers", "web", "attach"]),
            (Method::DELETE, &["containers", "web"]),
            (Method::HEAD, &["containers", "web", "archive"]),
            (Method::PUT, &["containers", "web", "archive"]),
        ] {
            assert!(route(&method, path).is_some(), "{method} {path:?}");
        }
        assert!(route(&Method::GET, &["containers", "web", "nothing"]).is_none());
        assert!(route(&Method::PATCH, &["containers", "web"]).is_none());
    }

    #[test]
    fn status_reads_as_dockers() {
        let now = 1_000;
        let running = ContainerState::Running {
            pid: 1,
            started_at: now - 5,
            paused: false,
        };
        assert_eq!(status_text(&running, None, now), "Up 5 seconds");
        let exited = ContainerState::Exited {
            exit_code: 3,
            finished_at: now - 120,
            oom_killed: false,
        };
        assert_eq!(status_text(&exited, None, now), "Exited (3) 2 minutes ago");
        assert_eq!(status_text(&ContainerState::Created, None, now), "Created");
        assert_eq!(human_duration(0), "Less than a second");
        assert_eq!(human_duration(3600), "About an hour");
        assert_eq!(human_duration(3 * 86_400), "3 days");
    }

    #[test]
    fn image_references_get_dockers_default_tag() {
        assert_eq!(normalized_image("busybox"), "busybox:latest");
        assert_eq!(
            normalized_image("localhost:5000/app"),
            "localhost:5000/app:latest"
        );
        assert_eq!(normalized_image("busybox:1.36"), "busybox:1.36");
    }
}
