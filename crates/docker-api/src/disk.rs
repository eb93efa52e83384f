//! `GET /system/df`: the disk usage of images, containers, volumes and the
//! build cache as the core measures it, in docker's `DiskUsage` document
//! (from which `docker system df` computes its table).

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::Method;
use serde_json::{json, Value};
use wharf_engine::DiskUsage;

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    match (method, path) {
        (&Method::GET, ["system", "df"]) => Some(disk_usage),
        _ => None,
    }
}

fn disk_usage(backend: &Backend, _request: Request) -> Result<Reply, ApiError> {
    let usage = wharf_app::disk::usage(&backend.engine)?;
    Ok(Reply::ok(document(&usage)))
}

/// docker's `DiskUsage` document of `usage`.
pub fn document(usage: &DiskUsage) -> Value {
    let [images_row, ..] = usage.summary();
    let images: Vec<Value> = usage
        .images
        .iter()
        .map(|i| {
            json!({
                "Id": i.id,
                "ParentId": "",
                "RepoTags": i.repo_tags,
                "RepoDigests": [],
                "Created": i.created,
                "Size": i.size(),
                "SharedSize": usage.shared_size(i),
                "VirtualSize": i.size(),
                "Labels": {},
                "Containers": i.containers,
            })
        })
        .collect();
    let containers: Vec<Value> = usage
        .containers
        .iter()
        .map(|c| {
            json!({
                "Id": c.info.id,
                "Names": [format!("/{}", c.info.name)],
                "Image": c.info.image,
                "ImageID": c.info.image_id,
                "Command": c.info.command.join(" "),
                "Created": c.info.created,
                "State": c.info.state.name(),
                "Status": c.info.state.name(),
                "SizeRw": c.size,
                "SizeRootFs": c.size,
                "Labels": c.info.labels,
                "Mounts": [],
            })
        })
        .collect();
    let volumes: Vec<Value> = usage
        .volumes
        .iter()
        .map(|v| {
            json!({
                "Name": v.name,
                "Driver": "local",
                "Mountpoint": "",
                "Scope": "local",
                "Labels": {},
                "Options": {},
                "UsageData": { "Size": v.size, "RefCount": v.links },
            })
        })
        .collect();
    let cache: Vec<Value> = usage
        .build_cache
        .iter()
        .map(|r| {
            json!({
                "ID": r.id,
                "Type": "regular",
                "Size": r.size,
                "CreatedAt": r.created,
                "LastUsedAt": r.created,
                "UsageCount": 0,
                "InUse": false,
                "Shared": r.shared,
                "Description": "",
            })
        })
        .collect();
    json!({
        "LayersSize": images_row.size,
        "Images": images,
        "Containers": containers,
        "Volumes": volumes,
        "BuildCache": cache,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_engine::{ImageUsage, VolumeUsage};

    #[test]
    fn the_document_carries_what_docker_computes_its_table_from() {
        let usage = DiskUsage {
            images: vec![ImageUsage {
                id: "sha256:a".into(),
                repo_tags: vec!["busybox:latest".into()],
                created: 1,
                layers: vec![("sha256:l".into(), 100)],
                containers: 0,
            }],
            containers: Vec::new(),
            volumes: vec![VolumeUsage {
                name: "data".into(),
                links: 1,
                size: 36,
            }],
            build_cache: Vec::new(),
        };
        let doc = document(&usage);
        assert_eq!(doc["LayersSize"], 100);
        assert_eq!(doc["Images"][0]["Size"], 100);
        assert_eq!(doc["Volumes"][0]["UsageData"]["RefCount"], 1);
        assert_eq!(doc["Volumes"][0]["UsageData"]["Size"], 36);
    }
}
