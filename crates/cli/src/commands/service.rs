//! `wharf system service [--timeout S] [URI]`: serve the Docker Engine API
//! so that the docker CLI, docker compose and the SDKs drive wharf. With
//! socket activation (`LISTEN_FDS`) the passed socket is served and URI is
//! ignored; the process ends after `--timeout` idle seconds, so an idle host
//! runs nothing.

use crate::context::GlobalOptions;
use anyhow::{Context as _, Result};
use clap::Args;
use std::time::Duration;
use wharf_docker_api::{listen, Backend, ListenAddress};

#[derive(Args, Debug)]
pub struct ServiceArgs {
    /// Seconds without any open connection before the service exits (0 = never)
    #[arg(short = 't', long, default_value_t = 5, value_name = "SECONDS")]
    pub timeout: u64,
    /// Where to listen: unix:///path/to/socket or tcp://127.0.0.1:PORT
    #[arg(value_name = "URI", default_value = listen::DEFAULT_URI)]
    pub uri: String,
}

pub fn service(global: &GlobalOptions, args: ServiceArgs) -> Result<i32> {
    let engine = global.engine()?;
    let registry = global.registry()?;
    let (listener, socket_file) = match listen::activated() {
        Some(listener) => (listener, None),
        None => {
            let address = ListenAddress::parse(&args.uri).context("wharf system service URI")?;
            listen::bind(&address)?
        }
    };
    let idle = (args.timeout > 0).then(|| Duration::from_secs(args.timeout));
    let backend = Backend::new(engine, global.root.clone(), registry);
    wharf_docker_api::serve(backend, listener, idle).context("serving the Engine API")?;
    drop(socket_file);
    Ok(0)
}
