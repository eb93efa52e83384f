//! docker's single-container workflow (`docker run`, `ps`, `inspect`, …) on
//! the same engine and state as the Compose commands. A front turns docker's
//! flags (or the Engine API's JSON) into a [`body::CreateBody`] with docker's
//! field names; this module turns it into the engine's `ContainerSpec`,
//! names containers as docker does, attaches them to the default `bridge`
//! network and renders listings and `inspect` with docker's fields.
//!
//! Containers made here carry no Compose project label: the engine files
//! them under the `default` cgroup, and Compose commands leave them alone.

pub mod body;
pub mod bridge;
pub mod create;
pub mod discard;
pub mod flags;
pub mod inspect;
pub mod list;
pub mod names;
pub mod system;

pub use body::{CreateBody, HostConfig};
pub use create::{create, Created};
pub use discard::discard_unsupported_limits;
