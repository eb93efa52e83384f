//! Per-request wall-clock timers of the service, for profiling what the API
//! adds to the engine's own phases. Off unless the service was started with
//! `WHARF_TIMINGS=1`; each finished request then prints one line to standard
//! error in the engine's format: `wharf-timing     0.42 ms  API POST
//! /v1.41/containers/create`, and a streamed or hijacked reply a second line
//! when its body or connection ends.

use std::time::Instant;

/// A request being timed; each step prints the time since it arrived.
#[derive(Clone)]
pub struct RequestTimer {
    started: Option<(Instant, String)>,
}

impl RequestTimer {
    /// Time the request `method path` when `enabled`.
    pub fn start(enabled: bool, method: &hyper::Method, path: &str) -> Self {
        RequestTimer {
            started: enabled.then(|| (Instant::now(), format!("API {method} {path}"))),
        }
    }

    /// Print the time until `step` (empty: the reply's head).
    pub fn report(&self, step: &str) {
        if let Some((started, label)) = &self.started {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            eprintln!("wharf-timing {ms:8.2} ms  {label}{step}");
        }
    }
}
