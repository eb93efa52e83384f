//! Which handler answers a request: the version prefix is negotiated and
//! stripped, then each resource module's `route` is asked in turn. A
//! module owns its own table, so adding endpoints touches one module only.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::version::{self, ApiVersion};
use crate::{auth, build, containers, disk, events, exec, images, networks, system, volumes};
use hyper::{Method, StatusCode};

/// A handler runs on a blocking thread and answers one request.
pub type Handler = fn(&Backend, Request) -> Result<Reply, ApiError>;

/// A resource module's table: the handler for this method and path (the
/// segments after the version prefix), if the module serves it.
pub type Route = fn(&Method, &[&str]) -> Option<Handler>;

/// Every module's table, asked in order.
const ROUTES: &[Route] = &[
    system::route,
    disk::route,
    containers::route,
    exec::route,
    images::route,
    build::route,
    networks::route,
    volumes::route,
    events::route,
    auth::route,
];

/// A request path's segments, percent-decoded, without empty ones.
pub fn segments(path: &str) -> Vec<String> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(crate::query::percent_decode)
        .collect()
}

/// The negotiated version, the segments after it and the handler for
/// `method` on `segments`; docker's 404 `page not found` when none serves it.
pub fn resolve(
    method: &Method,
    segments: &[String],
) -> Result<(ApiVersion, Vec<String>, Handler), ApiError> {
    let borrowed: Vec<&str> = segments.iter().map(String::as_str).collect();
    let (version, rest) = version::strip_prefix(&borrowed)?;
    // HEAD is answered by the GET handler (hyper leaves the body out).
    let lookup = if method == Method::HEAD && !is_head_route(rest) {
        &Method::GET
    } else {
        method
    };
    ROUTES
        .iter()
        .find_map(|route| route(lookup, rest))
        .map(|handler| {
            (
                version,
                rest.iter().map(|s| s.to_string()).collect(),
                handler,
            )
        })
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "page not found"))
}

/// Paths whose HEAD differs from their GET (`archive`'s stat header).
fn is_head_route(segments: &[&str]) -> bool {
    matches!(segments, ["containers", _, "archive"])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_path(method: Method, path: &str) -> Result<(ApiVersion, Vec<String>), ApiError> {
        resolve(&method, &segments(path)).map(|(v, rest, _)| (v, rest))
    }

    #[test]
    fn the_version_prefix_is_stripped_before_routing() {
        let (version, rest) = resolve_path(Method::GET, "/v1.41/_ping").unwrap();
        assert_eq!(version, ApiVersion::new(1, 41));
        assert_eq!(rest, ["_ping"]);
        let (version, _) = resolve_path(Method::GET, "/version").unwrap();
        assert_eq!(version, ApiVersion::MAX);
    }

    #[test]
    fn unknown_paths_and_methods_are_dockers_404() {
        for (method, path) in [
            (Method::GET, "/nothing/here"),
            (Method::DELETE, "/_ping"),
            (Method::GET, "/v1.41/"),
        ] {
            let error = resolve_path(method, path).unwrap_err();
            assert_eq!(error.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(error.body(), r#"{"message":"page not found"}"#);
        }
    }

    #[test]
    fn an_out_of_range_version_is_refused_before_routing() {
        let error = resolve_path(Method::GET, "/v1.99/_ping").unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn head_falls_back_to_get() {
        assert!(resolve_path(Method::HEAD, "/_ping").is_ok());
    }

    #[test]
    fn segments_are_decoded_and_empty_ones_dropped() {
        assert_eq!(
            segments("/v1.41//images/a%2Fb/json/"),
            ["v1.41", "images", "a/b", "json"]
        );
    }
}
