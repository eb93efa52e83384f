//! Units as docker and Compose write them: byte sizes (`64M`, `1.5GiB`, docker's
//! `RAMInBytes`) and Go durations (`1m30s`, `500ms`, Go's `time.ParseDuration`
//! and `Duration.String`). One parser of each for the whole workspace; callers
//! add where the value came from (a YAML path, a flag, a Dockerfile line).
//!
//! Also the civil calendar (`calendar`): dates in UTC from Unix time and back.
//!
//! Not for: CPU counts or any unit docker does not share.

mod bytes;
pub mod calendar;
mod duration;

pub use bytes::parse_bytes;
pub use duration::{format_go_duration, human_duration, parse_go_duration};

/// A value that is not a size or a duration. The message says what to write.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    #[error("invalid size {0:?}: write a number of bytes or a number with a unit b, k, m, g, t or p, like 64M or 1g")]
    Size(String),
    #[error("invalid duration {0:?}: write a number with a unit (h, m, s, ms, us, ns), like 10s or 1m30s")]
    Duration(String),
    #[error("{0:?} is too large")]
    TooLarge(String),
}
