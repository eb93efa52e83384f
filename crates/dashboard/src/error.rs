//! What can go wrong starting or running the dashboard.

use std::net::SocketAddr;

#[derive(Debug, thiserror::Error)]
pub enum DashboardError {
    #[error("wharf dashboard: listening on {addr}, which is not a loopback address, needs a token: pass --token-file FILE (a file holding one line, the token browsers and scrapers must send)")]
    TokenRequired { addr: SocketAddr },
    #[error("wharf dashboard: cannot read the token file {path}: {source}")]
    TokenFile {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("wharf dashboard: the token file {path} is empty: write the token on its first line")]
    EmptyToken { path: String },
    #[error("wharf dashboard: cannot listen on {addr} (--listen): {source}")]
    Listen {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    #[error("wharf dashboard: the listening socket it was given has no address: {source}")]
    Listener {
        #[source]
        source: std::io::Error,
    },
    #[error("cannot {what}: {source}")]
    Engine {
        what: String,
        #[source]
        source: wharf_engine_api::EngineError,
    },
}
