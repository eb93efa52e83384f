//! Exec instances: `POST /containers/{id}/exec` creates one, `POST
//! /exec/{id}/start` runs it (detached, or attached on the hijacked
//! connection), `/exec/{id}/resize` and `GET /exec/{id}/json`. They live in
//! the service's memory, as long as the service runs.

use crate::router::Handler;
use hyper::Method;
use std::collections::HashMap;
use std::sync::Mutex;

/// The exec instances of this service, by id.
#[derive(Debug, Default)]
pub struct ExecTable {
    instances: Mutex<HashMap<String, ()>>,
}

impl ExecTable {
    /// How many instances the table holds.
    pub fn len(&self) -> usize {
        self.instances
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The handler for `method` on `path`, if this module serves it.
pub fn route(_method: &Method, _path: &[&str]) -> Option<Handler> {
    None
}
