//! `wharf dashboard`: serve `/metrics` and the web dashboard until stopped.

use crate::context::GlobalOptions;
use anyhow::{Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::sync::Arc;
use wharf_dashboard::auth::Access;
use wharf_dashboard::{Server, DEFAULT_LISTEN};

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
    let engine = global.engine()?;
    let server = Server::bind(Arc::new(engine), listen, token)?;
    let addr = server.local_addr();
    if server.needs_token() {
        eprintln!("Serving the dashboard on http://{addr}/ and metrics on http://{addr}/metrics; clients must send the token from --token-file");
    } else {
        eprintln!("Serving the dashboard on http://{addr}/ and metrics on http://{addr}/metrics (loopback only, no token)");
    }
    server.serve();
    Ok(0)
}
