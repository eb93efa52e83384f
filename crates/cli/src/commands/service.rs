//! `wharf system service [--timeout S] [--dashboard [ADDR:PORT]] [URI]`:
//! serve the Docker Engine API so that the docker CLI, docker compose and
//! the SDKs drive wharf, and with `--dashboard` the web dashboard and
//! `/metrics` from the same process. With socket activation (`LISTEN_FDS`)
//! the passed sockets are served instead (the one named `dashboard` is the
//! dashboard's) and URI is ignored; the process ends after `--timeout`
//! seconds in which neither listener had a connection open, so an idle
//! host runs nothing.

use crate::context::GlobalOptions;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;
use wharf_dashboard::auth::Access;
use wharf_dashboard::server::ConnectionWatch;
use wharf_dashboard::{Server, DEFAULT_LISTEN};
use wharf_docker_api::{listen, Activity, Backend, ListenAddress};

#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Seconds without any open connection (API or dashboard) before the service exits (0 = never)
    #[arg(short = 't', long, default_value_t = 5, value_name = "SECONDS")]
    pub timeout: u64,
    /// Also serve the dashboard and /metrics on ADDR:PORT (127.0.0.1:9323 without a value); any address but loopback needs --token-file
    #[arg(long, value_name = "ADDR:PORT", num_args = 0..=1, default_missing_value = DEFAULT_LISTEN)]
    pub dashboard: Option<String>,
    /// File whose first line is the token the dashboard's clients must send (as `Authorization: Bearer TOKEN`, or through the login page)
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<String>,
    /// Where to listen: unix:///path/to/socket or tcp://127.0.0.1:PORT
    #[arg(value_name = "URI", default_value = listen::DEFAULT_URI)]
    pub uri: String,
}

pub fn service(global: &GlobalOptions, args: ServiceArgs) -> Result<i32> {
    let engine = global.engine()?;
    let registry = global.registry()?;
    let activated = listen::activated().context("wharf system service")?;
    let token = args
        .token_file
        .as_deref()
        .map(Access::read_token_file)
        .transpose()?;
    let dashboard_listener = match (activated.dashboard, args.dashboard.as_deref()) {
        (Some(passed), _) => Some(passed),
        (None, Some(addr)) => Some(bind_dashboard(addr, token.clone())?),
        (None, None) => None,
    };
    if token.is_some() && dashboard_listener.is_none() {
        bail!("--token-file is the dashboard's token, and no dashboard is served: add --dashboard [ADDR:PORT]");
    }
    let (listener, socket_file) = match activated.api {
        Some(listener) => (listener, None),
        None => {
            let address = ListenAddress::parse(&args.uri).context("wharf system service URI")?;
            listen::bind(&address)?
        }
    };
    let activity = Arc::new(Activity::new());
    if let Some(dashboard_listener) = dashboard_listener {
        let engine = Arc::new(global.engine()?);
        let server = Server::on_listener(engine.clone(), dashboard_listener, token)?;
        let counted = Arc::clone(&activity);
        let watch: ConnectionWatch = Arc::new(move || Box::new(counted.open()));
        let server = super::dashboard::with_engine_views(&engine, registry.clone(), server)
            .with_connection_watch(watch);
        super::dashboard::announce(&server);
        std::thread::Builder::new()
            .name("dashboard".into())
            .spawn(move || server.serve())
            .context("starting the dashboard's thread")?;
    }
    let idle = (args.timeout > 0).then(|| Duration::from_secs(args.timeout));
    let backend = Backend::new(
        engine,
        global.root.clone(),
        registry,
        crate::context::timings_wanted(),
    );
    wharf_docker_api::serve_sharing_idleness(backend, listener, idle, activity)
        .context("serving the Engine API")?;
    drop(socket_file);
    Ok(0)
}

/// Bind `--dashboard ADDR`, refusing a non-loopback address without a
/// token before it holds the port.
fn bind_dashboard(addr: &str, token: Option<String>) -> Result<TcpListener> {
    let listen: SocketAddr = addr.parse().with_context(|| {
        if addr.contains("://") {
            format!("--dashboard took {addr:?} as its address: give the address before the URI (--dashboard {DEFAULT_LISTEN} {addr}) or put --dashboard after the URI")
        } else {
            format!("--dashboard {addr:?}: give an address and a port, like {DEFAULT_LISTEN}")
        }
    })?;
    Access::new(listen, token)?;
    TcpListener::bind(listen)
        .with_context(|| format!("--dashboard {listen}: cannot listen on this address"))
}
