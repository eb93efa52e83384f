//! `wharf dashboard`: serve `/metrics` and the web dashboard until stopped.

use crate::context::GlobalOptions;
use anyhow::{Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;
use wharf_app::registry::RegistrySettings;
use wharf_app::up::UpRequest;
use wharf_app::LocalImages;
use wharf_dashboard::auth::Access;
use wharf_dashboard::host::{EventLine, HostViews, UsageRow};
use wharf_dashboard::project::Deployer;
use wharf_dashboard::{Server, DEFAULT_LISTEN};
use wharf_engine::events::EventFilter;
use wharf_engine::LinuxEngine;
use wharf_orchestrator::UpOptions;

#[derive(Args, Debug)]
pub struct DashboardArgs {
    /// Address and port to serve on; any address but loopback needs --token-file
    #[arg(long, value_name = "ADDR:PORT", default_value = DEFAULT_LISTEN)]
    listen: String,
    /// File whose first line is the token clients must send (as `Authorization: Bearer TOKEN`, or through the login page)
    #[arg(long, value_name = "FILE")]
    token_file: Option<String>,
}

pub fn dashboard(global: &GlobalOptions, args: DashboardArgs) -> Result<i32> {
    let listen: SocketAddr = args.listen.parse().with_context(|| {
        format!(
            "--listen {:?}: give an address and a port, like {DEFAULT_LISTEN} or 0.0.0.0:9323",
            args.listen
        )
    })?;
    let token = args
        .token_file
        .as_deref()
        .map(Access::read_token_file)
        .transpose()?;
    let engine = Arc::new(global.engine()?);
    let registry = global.registry()?;
    let server = with_engine_views(
        &engine,
        registry,
        Server::bind(engine.clone(), listen, token)?,
    );
    announce(&server);
    server.serve();
    Ok(0)
}

/// `server` with the project page's redeploy and the host's pages, over
/// the Linux engine, pulling with `registry`.
pub(crate) fn with_engine_views(
    engine: &Arc<LinuxEngine>,
    registry: RegistrySettings,
    server: Server,
) -> Server {
    let deploying = Arc::clone(engine);
    let host_registry = registry.clone();
    let deploy: Deployer = Box::new(move |project, reporter| {
        let request = UpRequest {
            options: UpOptions::default(),
            ..Default::default()
        };
        let images = LocalImages::new(&deploying, registry.clone());
        wharf_app::up::up(deploying.as_ref(), &images, project, &request, reporter)
    });
    let host = Box::new(LinuxHost(Arc::clone(engine), host_registry));
    server.with_deployer(deploy).with_host_views(host)
}

/// Say where the dashboard serves and whether clients need the token.
pub(crate) fn announce(server: &Server) {
    let addr = server.local_addr();
    if server.needs_token() {
        eprintln!("Serving the dashboard on http://{addr}/ and metrics on http://{addr}/metrics; clients must send the token from --token-file");
    } else {
        eprintln!("Serving the dashboard on http://{addr}/ and metrics on http://{addr}/metrics (loopback only, no token)");
    }
}

/// The event log, disk usage (with each volume's size) and image pruning of
/// the Linux engine.
struct LinuxHost(Arc<LinuxEngine>, RegistrySettings);

impl HostViews for LinuxHost {
    fn events(&self, project: &str, limit: usize) -> std::result::Result<Vec<EventLine>, String> {
        let mut newest = std::collections::VecDeque::with_capacity(limit);
        self.0
            .events(project, &EventFilter::default(), &mut |event| {
                if newest.len() == limit {
                    newest.pop_front();
                }
                newest.push_back(EventLine {
                    time_ns: event.time_ns,
                    action: event.action,
                    service: event.service,
                    name: event.attributes.get("name").cloned().unwrap_or_default(),
                });
                true
            })
            .map_err(|e| format!("events of {project}: {e}"))?;
        Ok(newest.into())
    }

    fn disk_usage(&self) -> std::result::Result<Vec<UsageRow>, String> {
        let usage = self
            .0
            .disk_usage()
            .map_err(|e| format!("disk usage: {e}"))?;
        Ok(usage
            .summary()
            .iter()
            .map(|r| UsageRow {
                kind: r.kind.to_string(),
                total: r.total,
                active: r.active,
                size: r.size,
                reclaimable: r.reclaimable,
            })
            .collect())
    }

    fn volume_sizes(&self) -> std::result::Result<std::collections::BTreeMap<String, u64>, String> {
        let usage = self
            .0
            .disk_usage()
            .map_err(|e| format!("disk usage: {e}"))?;
        Ok(usage
            .volumes
            .into_iter()
            .map(|v| (v.name, v.size))
            .collect())
    }

    fn prune_images(&self) -> std::result::Result<(), String> {
        use wharf_app::ImageSource;
        LocalImages::new(&self.0, self.1.clone())
            .prune_dangling()
            .map_err(|e| wharf_app::error_chain(&e))
    }
}
