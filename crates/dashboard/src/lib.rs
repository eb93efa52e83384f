//! wharf's web front, `wharf dashboard`: `/metrics` in the Prometheus text
//! format (cAdvisor's names, the Compose labels, project totals) and a
//! server-rendered dashboard of every project and container on the host,
//! whose buttons drive the same operations as the CLI. It serves only when
//! a user starts it; nothing runs otherwise.

pub mod actions;
pub mod auth;
pub mod collect;
pub mod error;
pub mod history;
pub mod host;
pub mod html;
pub mod http;
pub mod linediff;
pub mod metrics;
pub mod objects;
pub mod pages;
pub mod project;
pub mod routes;
pub mod server;

pub use error::DashboardError;
pub use server::Server;

/// The address `wharf dashboard` listens on without `--listen`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:9323";
