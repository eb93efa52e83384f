//! Per-phase wall-clock timers of the container lifecycle, for profiling
//! where the milliseconds of `up`, `run` and `down` go. Off unless the
//! engine was opened with `EngineConfig::timings` (the CLI sets it from
//! `WHARF_TIMINGS=1`); each finished phase then prints one line to standard
//! error: `wharf-timing    12.34 ms  stop: delete veths  p-web-1`.

use std::time::Instant;

/// A phase being timed; the line is printed when it is dropped.
pub(crate) struct Phase<'a> {
    name: &'static str,
    subject: &'a str,
    started: Option<Instant>,
}

/// Start timing phase `name` of `subject` (a container's name) when `enabled`.
pub(crate) fn phase<'a>(enabled: bool, name: &'static str, subject: &'a str) -> Phase<'a> {
    Phase {
        name,
        subject,
        started: enabled.then(Instant::now),
    }
}

impl Drop for Phase<'_> {
    fn drop(&mut self) {
        if let Some(started) = self.started {
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            eprintln!("wharf-timing {ms:8.2} ms  {}  {}", self.name, self.subject);
        }
    }
}
