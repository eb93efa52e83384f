//! `docker cp` through the API: `HEAD /containers/{id}/archive` (the path's
//! stat in the `X-Docker-Container-Path-Stat` header), `GET` (a tar stream of
//! the path) and `PUT` (a tar stream extracted into a directory). Paths are
//! absolute in the container; one that climbs with `..` is refused, and the
//! engine never writes outside the container's root whatever the archive
//! holds.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use base64::Engine as _;
use hyper::StatusCode;
use serde_json::json;
use wharf_engine_api::{CopyToOptions, Engine, EngineError, PathStat};

/// The header carrying a path's stat, base64 of its JSON.
const STAT_HEADER: &str = "x-docker-container-path-stat";

/// The `path` parameter: absolute, without `..`.
fn path_param(request: &Request) -> Result<String, ApiError> {
    let path = request
        .query
        .get("path")
        .filter(|p| !p.is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                "query parameter \"path\" is required: give a path in the container",
            )
        })?;
    if path.split('/').any(|part| part == "..") {
        return Err(ApiError::bad_request(format!(
            "path {path:?} climbs with \"..\": give an absolute path inside the container"
        )));
    }
    if path.starts_with('/') {
        Ok(path.to_string())
    } else {
        Ok(format!("/{path}"))
    }
}

/// Go's `os.FileMode` bits from a Unix `st_mode`, as docker sends them.
fn go_file_mode(mode: u32) -> u32 {
    let mut go = mode & 0o777;
    go |= match mode & 0o170000 {
        0o040000 => 1 << 31,
        0o120000 => 1 << 27,
        0o010000 => 1 << 25,
        0o140000 => 1 << 24,
        0o060000 => 1 << 26,
        0o020000 => (1 << 26) | (1 << 21),
        _ => 0,
    };
    if mode & 0o4000 != 0 {
        go |= 1 << 23;
    }
    if mode & 0o2000 != 0 {
        go |= 1 << 22;
    }
    if mode & 0o1000 != 0 {
        go |= 1 << 20;
    }
    go
}

fn stat_header(stat: &PathStat) -> String {
    let mtime = {
        let (y, mo, d, h, mi, s) = wharf_units::calendar::utc_from_unix(stat.mtime);
        format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}Z")
    };
    let body = json!({
        "name": stat.name,
        "size": stat.size,
        "mode": go_file_mode(stat.mode),
        "mtime": mtime,
        "linkTarget": stat.link_target.clone().unwrap_or_default(),
    });
    base64::engine::general_purpose::STANDARD.encode(body.to_string())
}

/// docker's 404 for a missing path.
fn path_error(error: EngineError, id: &str, path: &str) -> ApiError {
    match error {
        EngineError::NotFound { kind: "file", .. } => ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Could not find the file {path} in container {id}"),
        ),
        other => other.into(),
    }
}

/// What an archive request is about: the container (by its full id), the
/// path in it and the path's stat.
struct Target {
    container_id: String,
    path: String,
    stat: PathStat,
}

/// The request's container, `path` and stat (with `follow_link`, of what a
/// final symbolic link points to), or docker's error for each.
fn target(backend: &Backend, request: &Request, follow_link: bool) -> Result<Target, ApiError> {
    let id = request.segment(1);
    let path = path_param(request)?;
    let info = backend.engine.inspect_container(id)?;
    let stat = backend
        .engine
        .stat_path(&info.id, &path, follow_link)
        .map_err(|e| path_error(e, id, &path))?;
    Ok(Target {
        container_id: info.id,
        path,
        stat,
    })
}

pub fn stat(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let target = target(backend, &request, false)?;
    Ok(Reply::empty(StatusCode::OK).with_header(STAT_HEADER, stat_header(&target.stat)))
}

pub fn get(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let Target {
        container_id,
        path,
        stat,
    } = target(backend, &request, false)?;
    let backend = backend.clone();
    Ok(Reply::stream("application/x-tar", move |out| {
        backend
            .engine
            .copy_from_container(&container_id, &path, false, None, out)
            .map(|_| ())
            .map_err(std::io::Error::other)
    })
    .with_header(STAT_HEADER, stat_header(&stat)))
}

pub fn put(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let target = target(backend, &request, true)?;
    if !target.stat.is_dir() {
        return Err(ApiError::bad_request(format!(
            "extraction point {} is not a directory: give the directory to copy into",
            target.path
        )));
    }
    let options = CopyToOptions {
        keep_ownership: request.query.bool("copyUIDGID", false),
        create_dir: false,
    };
    backend.engine.copy_to_container(
        &target.container_id,
        &target.path,
        &mut request.body,
        &options,
    )?;
    Ok(Reply::empty(StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_become_gos_file_mode() {
        assert_eq!(go_file_mode(0o040755), (1 << 31) | 0o755);
        assert_eq!(go_file_mode(0o100644), 0o644);
        assert_eq!(go_file_mode(0o120777), (1 << 27) | 0o777);
        assert_eq!(go_file_mode(0o104755), (1 << 23) | 0o755);
    }

    #[test]
    fn the_stat_header_is_base64_json() {
        let stat = PathStat {
            name: "hostname".into(),
            size: 13,
            mode: 0o100644,
            mtime: 0,
            link_target: None,
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(stat_header(&stat))
            .unwrap();
        let value: serde_json::Value = serde_json::from_slice(&decoded).unwrap();
        assert_eq!(value["name"], "hostname");
        assert_eq!(value["size"], 13);
        assert_eq!(value["mode"], 0o644);
        assert_eq!(value["mtime"], "1970-01-01T00:00:00Z");
    }
}
