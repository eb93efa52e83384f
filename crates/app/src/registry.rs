//! How wharf reaches registries: the transport policy (insecure registries
//! from `WHARF_INSECURE_REGISTRIES` and the daemon configuration file) and
//! credentials from the docker client configuration (`DOCKER_CONFIG` or
//! `$HOME/.docker`), as every front that pulls or pushes needs them.

use std::path::PathBuf;
use wharf_image::auth::{self, Credentials, DockerConfig};
use wharf_image::pull::{parse_platform, PullOptions};
use wharf_image::push::PushOptions;
use wharf_image::registry::RegistryOptions;
use wharf_image::{ImageError, Reference};

/// The docker client config directory, from `DOCKER_CONFIG` or `$HOME/.docker`.
pub fn docker_config_dir() -> PathBuf {
    auth::config_dir(
        std::env::var("DOCKER_CONFIG").ok().as_deref(),
        std::env::var("HOME").ok().as_deref(),
    )
}

/// Registries that may be reached without verified TLS: `WHARF_INSECURE_REGISTRIES`
/// (comma-separated) and `insecure-registries` in `/etc/wharf/daemon.json`
/// (`WHARF_DAEMON_CONFIG`). A configuration file that is not JSON is ignored
/// with a warning to `on_warning`.
pub fn registry_options(on_warning: &dyn Fn(String)) -> RegistryOptions {
    let mut insecure: Vec<String> = std::env::var("WHARF_INSECURE_REGISTRIES")
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    let daemon_json = std::env::var("WHARF_DAEMON_CONFIG")
        .unwrap_or_else(|_| "/etc/wharf/daemon.json".to_string());
    if let Ok(data) = std::fs::read(&daemon_json) {
        match serde_json::from_slice::<serde_json::Value>(&data) {
            Ok(v) => {
                if let Some(list) = v.get("insecure-registries").and_then(|l| l.as_array()) {
                    insecure.extend(list.iter().filter_map(|s| s.as_str().map(str::to_string)));
                }
            }
            Err(e) => on_warning(format!("ignoring {daemon_json}: not valid JSON: {e}")),
        }
    }
    RegistryOptions { insecure }
}

/// Stored credentials for the registry `domain`.
pub fn credentials_for(domain: &str) -> Result<Option<Credentials>, ImageError> {
    let config = DockerConfig::load(&docker_config_dir())?;
    config.credentials(domain)
}

/// Push options for `reference` with its stored credentials.
/// `WHARF_PUSH_CHUNK_SIZE` (bytes) sets the size above which blobs go up in
/// chunks.
pub fn push_options(
    reference: &str,
    on_warning: &dyn Fn(String),
) -> Result<PushOptions, crate::AppError> {
    let r = Reference::parse(reference).map_err(|e| crate::AppError::image(reference, e))?;
    let mut options = PushOptions {
        registry: registry_options(on_warning),
        credentials: credentials_for(&r.domain)
            .map_err(|e| crate::AppError::image(format!("credentials for {}", r.domain), e))?,
        ..PushOptions::default()
    };
    if let Ok(v) = std::env::var("WHARF_PUSH_CHUNK_SIZE") {
        options.chunk_size = v.parse().map_err(|_| {
            crate::AppError::Registry(format!(
                "WHARF_PUSH_CHUNK_SIZE={v:?} is not a number of bytes"
            ))
        })?;
    }
    Ok(options)
}

/// Pull options for `reference` with its stored credentials.
pub fn pull_options(
    reference: &str,
    platform: Option<&str>,
    on_warning: &dyn Fn(String),
) -> Result<PullOptions, ImageError> {
    let r = Reference::parse(reference)?;
    Ok(PullOptions {
        platform: platform.map(parse_platform).transpose()?,
        registry: registry_options(on_warning),
        credentials: credentials_for(&r.domain)?,
        concurrency: 3,
    })
}

/// The registry a login names: `https://host:5000/v2/` → `host:5000`;
/// Docker Hub's several names (and none) → `docker.io`.
pub fn server_domain(server: Option<&str>) -> String {
    let s = server.unwrap_or(wharf_image::reference::DEFAULT_DOMAIN);
    let s = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"))
        .unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "" => {
            wharf_image::reference::DEFAULT_DOMAIN.to_string()
        }
        h => h.to_string(),
    }
}
