//! The listener: at most [`MAX_CONNECTIONS`] connections served at once
//! (one thread each, small stacks), every request checked by [`Access`]
//! before any route sees it, and the sampler thread feeding the history.

use crate::auth::Access;
use crate::history::{History, INTERVAL};
use crate::host::HostViews;
use crate::http::{read_request, ReadError, Response, IO_TIMEOUT};
use crate::project::Deployer;
use crate::routes;
use crate::DashboardError;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use wharf_engine_api::Engine;

/// Connections served at once; beyond that a client gets 503 at once.
pub const MAX_CONNECTIONS: usize = 64;
const THREAD_STACK: usize = 256 * 1024;

/// Everything a request may need.
pub struct Dashboard {
    pub engine: Arc<dyn Engine>,
    pub access: Access,
    pub history: History,
    /// Brings a project up after its Compose file was edited; without
    /// one, the project page only shows the file.
    pub deploy: Option<Deployer>,
    /// Events, disk usage and pruning; their pages are missing without it.
    pub host: Option<Box<dyn HostViews>>,
}

impl std::fmt::Debug for Dashboard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Dashboard")
            .field("access", &self.access)
            .finish()
    }
}

/// Told of each connection the dashboard serves; what it returns is
/// dropped when that connection closes. `wharf system service` counts the
/// dashboard's connections with the API's through it, for its idle timeout.
pub type ConnectionWatch = Arc<dyn Fn() -> Box<dyn Send> + Send + Sync>;

/// A bound listener, ready to serve.
pub struct Server {
    listener: TcpListener,
    dashboard: Arc<Dashboard>,
    watch: Option<ConnectionWatch>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("listener", &self.listener)
            .field("dashboard", &self.dashboard)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Bind `listen`; a non-loopback address without `token` is refused.
    pub fn bind(
        engine: Arc<dyn Engine>,
        listen: SocketAddr,
        token: Option<String>,
    ) -> Result<Self, DashboardError> {
        // Refused before binding, so a wrong address holds no port.
        Access::new(listen, token.clone())?;
        let listener = TcpListener::bind(listen).map_err(|source| DashboardError::Listen {
            addr: listen,
            source,
        })?;
        Self::on_listener(engine, listener, token)
    }

    /// Serve on a listener bound elsewhere (by a service manager, or by
    /// `system service`); the same token rule holds for its address.
    pub fn on_listener(
        engine: Arc<dyn Engine>,
        listener: TcpListener,
        token: Option<String>,
    ) -> Result<Self, DashboardError> {
        let listen = listener
            .local_addr()
            .map_err(|source| DashboardError::Listener { source })?;
        let access = Access::new(listen, token)?;
        Ok(Server {
            listener,
            dashboard: Arc::new(Dashboard {
                engine,
                access,
                history: History::default(),
                deploy: None,
                host: None,
            }),
            watch: None,
        })
    }

    /// Tell `watch` of every connection, open until what it returns drops.
    pub fn with_connection_watch(mut self, watch: ConnectionWatch) -> Self {
        self.watch = Some(watch);
        self
    }

    /// Serve the events and system pages from `host`.
    pub fn with_host_views(mut self, host: Box<dyn HostViews>) -> Self {
        if let Some(dashboard) = Arc::get_mut(&mut self.dashboard) {
            dashboard.host = Some(host);
        }
        self
    }

    /// Let the project page redeploy edited Compose files through `deploy`.
    pub fn with_deployer(mut self, deploy: Deployer) -> Self {
        if let Some(dashboard) = Arc::get_mut(&mut self.dashboard) {
            dashboard.deploy = Some(deploy);
        }
        self
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| ([127, 0, 0, 1], 0).into())
    }

    pub fn needs_token(&self) -> bool {
        self.dashboard.access.needs_token()
    }

    /// Serve until the process ends.
    pub fn serve(self) {
        let sampler = Arc::clone(&self.dashboard);
        let _ = std::thread::Builder::new()
            .name("sampler".into())
            .stack_size(THREAD_STACK)
            .spawn(move || loop {
                if let Ok((_, readings)) = crate::collect::read_all(sampler.engine.as_ref()) {
                    sampler.history.record(&readings);
                }
                std::thread::sleep(INTERVAL);
            });
        let open = Arc::new(AtomicUsize::new(0));
        for stream in self.listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let watched = self.watch.as_ref().map(|watch| watch());
            if open.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
                open.fetch_sub(1, Ordering::SeqCst);
                let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
                let _ =
                    Response::text(503, "too many connections, try again\n").write_to(&mut stream);
                continue;
            }
            let dashboard = Arc::clone(&self.dashboard);
            let open_here = Arc::clone(&open);
            let spawned = std::thread::Builder::new()
                .stack_size(THREAD_STACK)
                .spawn(move || {
                    handle(&dashboard, stream);
                    open_here.fetch_sub(1, Ordering::SeqCst);
                    drop(watched);
                });
            if spawned.is_err() {
                open.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
}

fn handle(dashboard: &Dashboard, mut stream: TcpStream) {
    let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
    let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
    let response = match read_request(&mut stream) {
        Ok(request) => {
            let mut response = routes::respond(dashboard, &request);
            if request.method == "HEAD" {
                response.body.clear();
            }
            response
        }
        Err(ReadError::TooLarge(status)) => Response::text(status, "request too large\n"),
        Err(ReadError::Malformed(why)) => Response::text(400, format!("bad request: {why}\n")),
        Err(ReadError::Io(_)) => return,
    };
    let _ = response.write_to(&mut stream);
}
