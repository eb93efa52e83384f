//! The Engine API's volumes endpoints: list (`{"Volumes":[…],"Warnings":[]}`
//! with docker's filters), inspect, create, delete (`force`) and prune,
//! over the core's volume operations.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use crate::version::ApiVersion;
use hyper::{Method, StatusCode};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;
use wharf_app::filters::Filters;
use wharf_app::volumes;

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    match (method, path) {
        (&Method::GET, ["volumes"]) => Some(list),
        (&Method::POST, ["volumes", "create"]) => Some(create),
        (&Method::POST, ["volumes", "prune"]) => Some(prune),
        (&Method::GET, ["volumes", _]) => Some(inspect),
        (&Method::DELETE, ["volumes", _]) => Some(delete),
        _ => None,
    }
}

/// The request's `filters` as the core reads them.
pub fn filters(request: &Request) -> Result<Filters, ApiError> {
    Ok(Filters::from_map(&request.query.filters()?))
}

fn list(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let found = volumes::list(&backend.engine, &filters(&request)?)?;
    let documents: Vec<_> = found.iter().map(volumes::inspect_document).collect();
    Ok(Reply::ok(json!({ "Volumes": documents, "Warnings": [] })))
}

fn inspect(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let name = request.segment(1);
    let volume = wharf_engine_api::VolumeEngine::inspect_volume(&backend.engine, name)?;
    Ok(Reply::ok(volumes::inspect_document(&volume)))
}

/// docker's `VolumeCreateOptions`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
struct CreateBody {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    driver: Option<String>,
    #[serde(default)]
    driver_opts: Option<BTreeMap<String, String>>,
    #[serde(default)]
    labels: Option<BTreeMap<String, String>>,
    /// Cluster volumes (swarm) are refused by name below.
    #[serde(default)]
    cluster_volume_spec: Option<serde_json::Value>,
}

fn create(backend: &Backend, mut request: Request) -> Result<Reply, ApiError> {
    let body: CreateBody = request.json()?;
    if body.cluster_volume_spec.is_some() {
        return Err(ApiError::bad_request(
            "ClusterVolumeSpec is not supported: wharf has no swarm; leave it out",
        ));
    }
    let options = volumes::CreateOptions {
        name: body.name.filter(|n| !n.is_empty()),
        driver: body
            .driver
            .filter(|d| !d.is_empty())
            .unwrap_or_else(|| "local".into()),
        driver_opts: body.driver_opts.unwrap_or_default(),
        labels: body.labels.unwrap_or_default(),
    };
    let volume = volumes::create(&backend.engine, options)?;
    Ok(Reply::json(
        StatusCode::CREATED,
        &volumes::inspect_document(&volume),
    ))
}

fn delete(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let force = request.query.bool("force", false);
    volumes::remove(&backend.engine, request.segment(1), force)?;
    Ok(Reply::empty(StatusCode::NO_CONTENT))
}

fn prune(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let mut filters = filters(&request)?;
    // docker's `all=true` filter (API 1.42+) prunes named volumes too;
    // before 1.42 a prune removed every unused volume.
    let all = take_bool_filter(&mut filters, "all") || request.version < ApiVersion::new(1, 42);
    let report = volumes::prune(&backend.engine, all, &filters)?;
    if let Some(first) = report.failures.into_iter().next() {
        return Err(first.into());
    }
    Ok(Reply::ok(json!({
        "VolumesDeleted": report.removed,
        "SpaceReclaimed": report.reclaimed_bytes,
    })))
}

/// Remove the filter `key` and say whether it was `true`.
fn take_bool_filter(filters: &mut Filters, key: &str) -> bool {
    let mut on = false;
    filters.0.retain(|f| {
        if f.key == key {
            on = matches!(f.value.as_str(), "true" | "1");
            false
        } else {
            true
        }
    });
    on
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_volume_endpoint_is_routed() {
        assert!(route(&Method::GET, &["volumes"]).is_some());
        assert!(route(&Method::POST, &["volumes", "create"]).is_some());
        assert!(route(&Method::POST, &["volumes", "prune"]).is_some());
        assert!(route(&Method::GET, &["volumes", "data"]).is_some());
        assert!(route(&Method::DELETE, &["volumes", "data"]).is_some());
        assert!(route(&Method::PUT, &["volumes", "data"]).is_none());
    }

    #[test]
    fn the_all_filter_is_taken_out_of_the_listing_filters() {
        let mut filters = Filters::from_flags(&["all=true".into(), "label=a".into()], "").unwrap();
        assert!(take_bool_filter(&mut filters, "all"));
        assert_eq!(filters.0.len(), 1);
        assert!(!take_bool_filter(&mut filters, "all"));
    }

    #[test]
    fn a_create_body_with_an_unknown_field_is_refused() {
        let error =
            crate::request::parse_json::<CreateBody>(br#"{"Name":"a","Bogus":1}"#).unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
        let body: CreateBody =
            crate::request::parse_json(br#"{"Name":"a","Labels":{"k":"v"}}"#).unwrap();
        assert_eq!(body.name.as_deref(), Some("a"));
    }
}
