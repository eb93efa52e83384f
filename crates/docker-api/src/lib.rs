//! wharf's Docker Engine API: an HTTP/1.1 server (hyper) on a Unix socket,
//! or a loopback TCP port, that the docker CLI, docker compose and docker
//! SDKs drive. It is one more front on the application core: requests are
//! parsed into the core's typed options and its results rendered with
//! docker's JSON field names; the containers it makes are the ones every
//! other front sees.
//!
//! [`server`] accepts connections and runs handlers on blocking threads;
//! [`router`] negotiates the version and asks each resource module (one a
//! resource: [`containers`], [`exec`], [`images`], …) for its handler.

// `/info` and `inspect` are large `json!` documents.
#![recursion_limit = "256"]

pub mod archive;
pub mod auth;
pub mod backend;
pub mod build;
pub mod containers;
pub mod create_body;
pub mod detach_keys;
pub mod disk;
pub mod error;
pub mod events;
pub mod exec;
pub mod exec_io;
pub mod hijack;
pub mod idle;
pub mod images;
pub mod listen;
pub mod networks;
pub mod progress;
pub mod query;
pub mod reply;
pub mod request;
pub mod router;
pub mod server;
pub mod stats;
pub mod streams;
pub mod system;
pub mod timing;
pub mod version;
pub mod volumes;
pub mod wait;

pub use backend::Backend;
pub use error::ApiError;
pub use idle::Activity;
pub use listen::{ListenAddress, ListenError, DEFAULT_URI};
pub use server::{serve, serve_sharing_idleness, Listener};
