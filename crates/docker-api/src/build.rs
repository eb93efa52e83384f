//! The Engine API's build endpoints. BuildKit's `/session` and `version=2`
//! builds are refused by name (the client then needs `DOCKER_BUILDKIT=0`);
//! the classic builder's `POST /build` is not served yet (501).

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::Method;

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

fn build(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    if request.query.get("version") == Some("2") {
        return Err(ApiError::bad_request(BUILDKIT_REFUSAL));
    }
    not_implemented(backend, request)
}

fn not_implemented(_backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    Err(ApiError::not_implemented(&format!(
        "{} /{}",
        request.method,
        request.path.join("/")
    )))
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
}
