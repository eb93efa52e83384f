//! The Engine API's networks endpoints (not served yet: 501).

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::Method;

/// The handler for `method` on `path`, if this module serves it.
pub fn route(_method: &Method, path: &[&str]) -> Option<Handler> {
    match path {
        ["networks", ..] => Some(not_implemented),
        _ => None,
    }
}

fn not_implemented(_backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    Err(ApiError::not_implemented(&format!(
        "{} /{}",
        request.method,
        request.path.join("/")
    )))
}
