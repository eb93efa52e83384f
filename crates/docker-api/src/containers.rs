//! The containers endpoints: create, list, inspect, the lifecycle, attach,
//! wait, logs, stats, archive and the rest, over the core's docker module.

use crate::router::Handler;
use hyper::Method;

/// The handler for `method` on `path`, if this module serves it.
pub fn route(_method: &Method, _path: &[&str]) -> Option<Handler> {
    None
}
