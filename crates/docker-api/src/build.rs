//! The Engine API's build endpoints: `POST /build` with a tar context runs
//! the classic builder (`dockerfile`, `t`, `buildargs`, `labels`, `target`,
//! `nocache`, `pull`, `q`) and answers docker's JSON stream
//! (`{"stream":"Step 1/3 : …"}`, `{"aux":{"ID":…}}`) step by step as the
//! build runs, so `DOCKER_BUILDKIT=0 docker build` prints as with docker. BuildKit's `/session` and
//! `version=2` builds are refused by name.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::progress;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::Method;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_app::{Event, ImageSource, LocalImages};
use wharf_image::build::{BuildEvent, BuildRequest};

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    match (method, path) {
        (&Method::POST, ["build"]) => Some(build),
        (&Method::POST, ["build", "prune"]) => Some(not_implemented),
        (&Method::POST, ["session"]) => Some(session),
        _ => None,
    }
}

const BUILDKIT_REFUSAL: &str =
    "BuildKit is not supported by wharf: build with the classic builder (DOCKER_BUILDKIT=0)";

fn session(_backend: &Backend, _request: Request) -> Result<Reply, ApiError> {
    Err(ApiError::bad_request(BUILDKIT_REFUSAL))
}

fn not_implemented(_backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    Err(ApiError::not_implemented(&format!(
        "{} /{}",
        request.method,
        request.path.join("/")
    )))
}

/// A JSON map of strings from a query parameter (`buildargs`, `labels`); a
/// `null` value (an argument named without a value) is left out.
fn string_map(request: &Request, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
    let Some(text) = request.query.get(name).filter(|t| !t.trim().is_empty()) else {
        return Ok(BTreeMap::new());
    };
    let map: BTreeMap<String, Option<String>> = serde_json::from_str(text).map_err(|e| {
        ApiError::bad_request(format!(
            "invalid {name}: {e} (send a JSON object of strings)"
        ))
    })?;
    Ok(map.into_iter().filter_map(|(k, v)| Some((k, v?))).collect())
}

/// docker's classic step line for a builder step label: `[web 2/5] RUN make`
/// → `Step 2/5 : RUN make`; labels of the builder's own work give none.
fn classic_step(label: &str) -> Option<String> {
    let rest = label.strip_prefix('[')?;
    let (head, instruction) = rest.split_once("] ")?;
    let counter = head.rsplit(' ').next()?;
    let (done, total) = counter.split_once('/')?;
    if done.parse::<usize>().is_err() || total.parse::<usize>().is_err() {
        return None;
    }
    Some(format!("Step {counter} : {instruction}"))
}

/// A fresh directory for one build's context.
fn context_dir(backend: &Backend) -> Result<PathBuf, ApiError> {
    // Builds run at once on several threads, and a coarse clock can give
    // them the same time: the counter keeps their directories apart.
    static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let sequence = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let dir = backend
        .root
        .join("tmp")
        .join(format!("build-{}-{sequence}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| {
        ApiError::internal(format!(
            "creating {} for the build context: {e}",
            dir.display()
        ))
    })?;
    Ok(dir)
}

/// Removes a build's context directory however the build ends.
struct ContextGuard(PathBuf);

impl Drop for ContextGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn build(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    if request.query.get("version") == Some("2") {
        return Err(ApiError::bad_request(BUILDKIT_REFUSAL));
    }
    if request.query.get("remote").is_some_and(|r| !r.is_empty()) {
        return Err(ApiError::bad_request(
            "remote is not supported by wharf: send the build context as a tar body",
        ));
    }
    let quiet = request.query.bool("q", false);
    let build_request = BuildRequest {
        dockerfile: request
            .query
            .get("dockerfile")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from),
        tags: request
            .query
            .all("t")
            .into_iter()
            .filter(|t| !t.is_empty())
            .map(str::to_string)
            .collect(),
        target: request
            .query
            .get("target")
            .filter(|t| !t.is_empty())
            .map(str::to_string),
        build_args: string_map(&request, "buildargs")?,
        labels: string_map(&request, "labels")?,
        no_cache: request.query.bool("nocache", false),
        pull: request.query.bool("pull", false),
        ..BuildRequest::default()
    };
    let dir = context_dir(backend)?;
    let guard = ContextGuard(dir.clone());
    tar::Archive::new(&mut request.body)
        .unpack(&dir)
        .map_err(|e| ApiError::bad_request(format!("reading the build context tar: {e}")))?;
    let build_request = BuildRequest {
        context: dir,
        ..build_request
    };
    let backend = backend.clone();
    progress::stream(
        move |emit| {
            let outcome = run_build(&backend, &build_request, quiet, emit);
            drop(guard);
            outcome
        },
        |_| None,
    )
}

/// Build, sending docker's classic stream through `emit` step by step.
fn run_build(
    backend: &Backend,
    build_request: &BuildRequest,
    quiet: bool,
    emit: &(dyn Fn(Value) + Sync),
) -> Result<(), String> {
    let reporter = |event: Event| match event {
        Event::Build(BuildEvent::Step { label, .. }) if !quiet => {
            if let Some(step) = classic_step(&label) {
                emit(json!({ "stream": format!("{step}\n") }));
            }
        }
        Event::Build(BuildEvent::Output { line, .. }) if !quiet => {
            emit(json!({ "stream": format!("{line}\n") }));
        }
        Event::Build(BuildEvent::Cached { .. }) if !quiet => {
            emit(json!({ "stream": " ---> Using cache\n" }));
        }
        Event::Build(BuildEvent::Warning(text)) | Event::Warning(text) => {
            emit(json!({ "stream": format!("[Warning] {text}\n") }));
        }
        _ => {}
    };
    let id = LocalImages::new(&backend.engine, backend.registry.clone())
        .build(build_request, &reporter)
        .map_err(|e| wharf_app::error_chain(&e))?;
    emit(json!({ "aux": { "ID": id } }));
    let short = id.trim_start_matches("sha256:");
    if quiet {
        emit(json!({ "stream": format!("{id}\n") }));
    } else {
        emit(
            json!({ "stream": format!("Successfully built {}\n", &short[..12.min(short.len())]) }),
        );
        for tag in &build_request.tags {
            emit(json!({ "stream": format!("Successfully tagged {tag}\n") }));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buildkit_is_refused_by_name() {
        assert!(route(&Method::POST, &["session"]).is_some());
        assert!(route(&Method::POST, &["build"]).is_some());
        assert!(BUILDKIT_REFUSAL.contains("DOCKER_BUILDKIT=0"));
    }

    #[test]
    fn builder_steps_read_as_classic_steps() {
        assert_eq!(
            classic_step("[2/3] RUN echo hi").as_deref(),
            Some("Step 2/3 : RUN echo hi")
        );
        assert_eq!(
            classic_step("[web 1/2] FROM busybox").as_deref(),
            Some("Step 1/2 : FROM busybox")
        );
        assert_eq!(
            classic_step("[internal] load build definition from Dockerfile"),
            None
        );
        assert_eq!(classic_step("exporting to image"), None);
    }
}
