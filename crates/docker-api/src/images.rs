//! The Engine API's images endpoints: list (`all`, filters `dangling`,
//! `label`, `reference`), search (the core's, over a registry's catalog), inspect, history, tag, delete (`force`,
//! `noprune`), prune, pull (`POST /images/create`, docker's JSON progress
//! stream, `X-Registry-Auth`) and `fromSrc` import, push, save (`get`) and
//! load, each streamed as it proceeds (see [`progress`]), over the core's image operations and the local store. An image
//! name may hold `/`, so it spans path segments (`/images/a/b:1/json`).

use crate::backend::Backend;
use crate::error::ApiError;
use crate::progress;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::{Method, StatusCode};
use serde_json::{json, Value};
use wharf_app::image_store;
use wharf_image::progress::{ItemStatus, Progress};
use wharf_image::ImageDetails;

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    match (method, path) {
        (&Method::GET, ["images", "json"]) => Some(list),
        (&Method::GET, ["images", "search"]) => Some(search),
        (&Method::POST, ["images", "create"]) => Some(create),
        (&Method::POST, ["images", "prune"]) => Some(prune),
        (&Method::POST, ["images", "load"]) => Some(load),
        (&Method::GET, ["images", "get"]) => Some(save),
        (&Method::GET, ["images", _, .., "json"]) => Some(inspect),
        (&Method::GET, ["images", _, .., "history"]) => Some(history),
        (&Method::GET, ["images", _, .., "get"]) => Some(save),
        (&Method::POST, ["images", _, .., "tag"]) => Some(tag),
        (&Method::POST, ["images", _, .., "push"]) => Some(push),
        (&Method::DELETE, ["images", _, ..]) => Some(delete),
        _ => None,
    }
}

/// The image name of `/images/{name}/{action}` (or of `/images/{name}`
/// when `action` is false).
fn image_name(request: &Request, action: bool) -> String {
    let end = request.path.len() - usize::from(action);
    request.path[1..end].join("/")
}

/// docker's `ImageSummary` of one listed image.
fn summary(image: &ImageDetails, containers: &[wharf_engine_api::ContainerInfo]) -> Value {
    let labels = image
        .config
        .config
        .as_ref()
        .and_then(|c| c.labels.clone())
        .unwrap_or_default();
    let users = containers.iter().filter(|c| c.image_id == image.id).count();
    json!({
        "Id": image.id,
        "ParentId": "",
        "RepoTags": image.repo_tags,
        "RepoDigests": image.repo_digests,
        "Created": image.created,
        "Size": image.size,
        "SharedSize": -1,
        "VirtualSize": image.size,
        "Labels": labels,
        "Containers": users,
    })
}

fn list(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let filters = crate::volumes::filters(&request)?;
    let images = image_store::list(&backend.engine, &filters)?;
    let containers = wharf_engine_api::Engine::list_containers(&backend.engine, &[])?;
    // docker lists only the names that match a reference filter.
    let patterns: Vec<&str> = filters
        .iter()
        .filter(|f| f.key == "reference")
        .map(|f| f.value.as_str())
        .collect();
    let documents: Vec<Value> = images
        .into_iter()
        .map(|mut image| {
            if !patterns.is_empty() {
                image.repo_tags.retain(|t| {
                    patterns
                        .iter()
                        .all(|p| image_store::reference_matches(p, t))
                });
            }
            summary(&image, &containers)
        })
        .collect();
    Ok(Reply::ok(json!(documents)))
}

/// The details of image `name`, or docker's 404 `No such image`.
fn details(backend: &Backend, name: &str) -> Result<ImageDetails, ApiError> {
    backend
        .engine
        .images()
        .inspect(name)
        .map_err(|_| ApiError::no_such("image", name))
}

fn inspect(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let image = details(backend, &image_name(&request, true))?;
    Ok(Reply::ok(image_store::inspect_document(&image)))
}

fn history(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let name = image_name(&request, true);
    let image = details(backend, &name)?;
    let rows = backend
        .engine
        .images()
        .history(&image.id)
        .map_err(|e| ApiError::internal(format!("reading the history of {name}: {e}")))?;
    let documents: Vec<Value> = rows
        .iter()
        .enumerate()
        .map(|(index, row)| {
            json!({
                "Id": row.id,
                "Created": row.created.unwrap_or(0),
                "CreatedBy": row.created_by,
                "Tags": if index == 0 { json!(image.repo_tags) } else { Value::Null },
                "Size": row.size,
                "Comment": row.comment,
            })
        })
        .collect();
    Ok(Reply::ok(json!(documents)))
}

fn tag(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let source = image_name(&request, true);
    details(backend, &source)?;
    let repo = request
        .query
        .get("repo")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| ApiError::bad_request("repo is required: give the new name as ?repo="))?;
    let target = match request.query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{repo}:{tag}"),
        None => repo.to_string(),
    };
    backend
        .engine
        .images()
        .tag(&source, &target)
        .map_err(|e| ApiError::bad_request(format!("tagging {source} as {target}: {e}")))?;
    Ok(Reply::empty(StatusCode::CREATED))
}

fn delete(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let name = image_name(&request, false);
    details(backend, &name)?;
    let force = request.query.bool("force", false);
    // `noprune` keeps untagged parents; wharf's images have none to prune.
    let _ = request.query.bool("noprune", false);
    let lines = image_store::remove(&backend.engine, &name, force).map_err(|e| {
        let error = ApiError::from(e);
        if error.status() == StatusCode::BAD_REQUEST {
            ApiError::conflict(error.to_string())
        } else {
            error
        }
    })?;
    let entries: Vec<Value> = image_store::removed_entries(&lines)
        .iter()
        .map(image_store::Removed::document)
        .collect();
    Ok(Reply::ok(json!(entries)))
}

fn prune(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let filters = request.query.filters()?;
    // docker prunes dangling images unless `dangling=false` asks for all.
    let all = filters
        .get("dangling")
        .is_some_and(|v| v.iter().any(|d| d == "false" || d == "0"));
    if let Some(key) = filters.keys().find(|k| *k != "dangling") {
        return Err(ApiError::bad_request(format!(
            "invalid filter {key:?}: wharf prunes images by dangling only"
        )));
    }
    let report = image_store::prune(&backend.engine, all)?;
    let entries: Vec<Value> = image_store::removed_entries(&report.lines)
        .iter()
        .map(image_store::Removed::document)
        .collect();
    Ok(Reply::ok(json!({
        "ImagesDeleted": entries,
        "SpaceReclaimed": report.reclaimed_bytes,
    })))
}

/// `GET /images/search?term=…&limit=…&filters=…`: a registry catalog's
/// repositories whose name contains the term, in docker's fields (the
/// catalog has no descriptions or stars).
fn search(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let term = request
        .query
        .get("term")
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request("term is required: give what to look for as ?term=")
        })?;
    let limit = match request.query.get("limit").filter(|l| !l.is_empty()) {
        None => 25,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(format!("limit {text:?}: give a number from 1 to 100"))
            })?,
    };
    let filters: Vec<String> = request
        .query
        .filters()?
        .into_iter()
        .flat_map(|(key, values)| values.into_iter().map(move |v| format!("{key}={v}")))
        .collect();
    let names = wharf_app::search::search(term, limit, &filters, &backend.registry).map_err(
        |e| match e {
            wharf_app::search::SearchError::Filter { .. } => ApiError::bad_request(e.to_string()),
            _ => ApiError::internal(wharf_app::error_chain(&e)),
        },
    )?;
    let results: Vec<Value> = names
        .into_iter()
        .map(|name| {
            json!({
                "name": name,
                "description": "",
                "star_count": 0,
                "is_official": false,
                "is_automated": false,
            })
        })
        .collect();
    Ok(Reply::ok(json!(results)))
}

/// docker's JSON progress message for one pull or push event.
pub fn progress_message(event: &Progress) -> Value {
    match event {
        Progress::Line(text) => json!({ "status": text }),
        Progress::Item { id, status } => {
            let detail = match status {
                ItemStatus::Downloading { done, total } | ItemStatus::Pushing { done, total } => {
                    json!({ "current": done, "total": total })
                }
                _ => json!({}),
            };
            json!({ "status": status.text(), "progressDetail": detail, "id": id })
        }
    }
}

/// `POST /images/create`: pull `fromImage` (with `tag` or a digest), or
/// import `fromSrc=-` from the body.
fn create(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    if let Some(source) = request.query.get("fromSrc") {
        if source != "-" {
            return Err(ApiError::bad_request(
                "fromSrc: wharf imports from the request body only (fromSrc=-)",
            ));
        }
        let reference = match (request.query.get("repo"), request.query.get("tag")) {
            (Some(repo), Some(tag)) if !repo.is_empty() && !tag.is_empty() => {
                Some(format!("{repo}:{tag}"))
            }
            (Some(repo), _) if !repo.is_empty() => Some(repo.to_string()),
            _ => None,
        };
        let changes: Vec<String> = request
            .query
            .all("changes")
            .into_iter()
            .map(str::to_string)
            .collect();
        // The body is read as it arrives, whatever its size.
        let id = backend
            .engine
            .images()
            .import(&mut request.body, reference.as_deref(), &changes)
            .map_err(|e| ApiError::bad_request(format!("importing the request body: {e}")))?;
        return Ok(Reply::ok(json!({ "status": id })));
    }
    let image = request
        .query
        .get("fromImage")
        .filter(|i| !i.is_empty())
        .ok_or_else(|| ApiError::bad_request("fromImage or fromSrc is required"))?;
    let reference = match request.query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) if tag.starts_with("sha256:") => format!("{image}@{tag}"),
        Some(tag) => format!("{image}:{tag}"),
        None => image.to_string(),
    };
    let platform = request.query.get("platform").filter(|p| !p.is_empty());
    let credentials = crate::auth::registry_auth(&request)?;
    let mut options = backend
        .registry
        .pull_options(&reference, platform)
        .map_err(|e| ApiError::bad_request(format!("pulling {reference}: {e}")))?;
    if credentials.is_some() {
        options.credentials = credentials;
    }
    let backend = backend.clone();
    let pulled = reference.clone();
    progress::stream(
        move |emit| {
            backend
                .engine
                .images()
                .pull(&pulled, &options, &|event| emit(progress_message(&event)))
                .map(drop)
                .map_err(|e| wharf_app::error_chain(&e))
        },
        // Before any progress, docker answers a missing image with a 404.
        |message| {
            Some(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("pull access denied or manifest unknown for {reference}: {message}"),
            ))
        },
    )
}

fn push(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let name = image_name(&request, true);
    let reference = match request.query.get("tag").filter(|t| !t.is_empty()) {
        Some(tag) => format!("{name}:{tag}"),
        None => name,
    };
    details(backend, &reference)?;
    let credentials = crate::auth::registry_auth(&request)?;
    let mut options = backend.registry.push_options(&reference)?;
    if credentials.is_some() {
        options.credentials = credentials;
    }
    let backend = backend.clone();
    progress::stream(
        move |emit| {
            backend
                .engine
                .images()
                .push(&reference, &options, &|event| {
                    emit(progress_message(&event))
                })
                .map(drop)
                .map_err(|e| wharf_app::error_chain(&e))
        },
        |_| None,
    )
}

/// `GET /images/get?names=…` and `GET /images/{name}/get`: a docker-archive
/// tar of the images, sent as the archive is written.
fn save(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let names: Vec<String> = if request.segment(1) == "get" && request.path.len() == 2 {
        request
            .query
            .all("names")
            .into_iter()
            .map(str::to_string)
            .collect()
    } else {
        vec![image_name(&request, true)]
    };
    if names.is_empty() {
        return Err(ApiError::bad_request(
            "names is required: give the images to save as ?names=",
        ));
    }
    for name in &names {
        details(backend, name)?;
    }
    let backend = backend.clone();
    // A failure after the first bytes can only cut the archive short, as
    // docker's does; the client's tar reader reports it.
    Ok(Reply::stream("application/x-tar", move |out| {
        backend
            .engine
            .images()
            .save(&names, out)
            .map_err(|e| std::io::Error::other(format!("saving {}: {e}", names.join(", "))))
    }))
}

/// `POST /images/load`: a docker-archive or OCI layout tar in the body,
/// read as it arrives (no size limit but the disk's).
fn load(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    // `quiet` (sent when the client's output is no terminal) hides progress
    // bars only; wharf sends none, and docker prints the loaded names anyway.
    let _ = request.query.bool("quiet", false);
    let platform = request
        .query
        .get("platform")
        .filter(|p| !p.is_empty())
        .map(wharf_image::pull::parse_platform)
        .transpose()
        .map_err(|e| ApiError::bad_request(format!("platform: {e}")))?;
    let backend = backend.clone();
    let mut body = request.body;
    progress::stream(
        move |emit| {
            let lines = backend
                .engine
                .images()
                .load(&mut body, "the request body", platform.as_ref())
                .map_err(|e| format!("loading the request body: {e}"))?;
            for line in lines {
                emit(json!({ "stream": format!("{line}\n") }));
            }
            Ok(())
        },
        |message| Some(ApiError::bad_request(message)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_with_slashes_reach_their_handler() {
        assert!(route(&Method::GET, &["images", "json"]).is_some());
        assert!(route(
            &Method::GET,
            &["images", "127.0.0.1:5000", "app:v1", "json"]
        )
        .is_some());
        assert!(route(&Method::POST, &["images", "library", "busybox", "tag"]).is_some());
        assert!(route(&Method::DELETE, &["images", "a", "b"]).is_some());
        assert!(route(&Method::GET, &["images", "a", "get"]).is_some());
        assert!(route(&Method::PUT, &["images", "a"]).is_none());
    }

    #[test]
    fn progress_reads_as_dockers_json_messages() {
        let item = Progress::Item {
            id: "abc".into(),
            status: ItemStatus::Downloading { done: 5, total: 10 },
        };
        assert_eq!(
            progress_message(&item),
            json!({"status": "Downloading", "progressDetail": {"current": 5, "total": 10}, "id": "abc"})
        );
        assert_eq!(
            progress_message(&Progress::Line("Digest: sha256:x".into())),
            json!({"status": "Digest: sha256:x"})
        );
        assert_eq!(
            progress::error_message("boom")["errorDetail"]["message"],
            "boom"
        );
    }
}
