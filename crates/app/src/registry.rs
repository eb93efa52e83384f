//! How wharf reaches registries: [`RegistrySettings`] — the docker client
//! configuration directory for credentials (`DOCKER_CONFIG` or
//! `$HOME/.docker`), the registries reached without verified TLS
//! (`WHARF_INSECURE_REGISTRIES` and `insecure-registries` of the daemon
//! configuration file, `WHARF_DAEMON_CONFIG`) and the push chunk size
//! (`WHARF_PUSH_CHUNK_SIZE`) — built once by each front from its own
//! environment, and the pull and push options every front derives from them.

use std::collections::BTreeMap;
use std::path::PathBuf;
use wharf_image::auth::{self, Credentials, DockerConfig};
use wharf_image::pull::{parse_platform, PullOptions};
use wharf_image::push::PushOptions;
use wharf_image::registry::RegistryOptions;
use wharf_image::{ImageError, Reference};

/// The daemon configuration file read when `WHARF_DAEMON_CONFIG` is unset.
pub const DEFAULT_DAEMON_CONFIG: &str = "/etc/wharf/daemon.json";

/// A registry setting from the environment or the daemon configuration file
/// that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum RegistrySettingsError {
    #[error("WHARF_PUSH_CHUNK_SIZE={value:?} is not a size: give bytes or a size like 16m or 1g")]
    ChunkSize {
        value: String,
        #[source]
        source: wharf_units::UnitError,
    },
    #[error("reading the daemon configuration {path}: fix its permissions, or point WHARF_DAEMON_CONFIG at another file")]
    DaemonConfigUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the daemon configuration {path} is not valid JSON: fix it, or point WHARF_DAEMON_CONFIG at another file")]
    DaemonConfigSyntax {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("the daemon configuration {path}: \"insecure-registries\" must be a list of registry names like [\"host:5000\"]")]
    InsecureRegistries { path: PathBuf },
}

/// Everything about registries a front reads from its environment, read once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySettings {
    /// The docker client configuration directory (credentials, helpers).
    pub docker_config_dir: PathBuf,
    /// Registries that may be reached without verified TLS.
    pub insecure: Vec<String>,
    /// Blobs larger than this go up in chunks; `None` keeps the push default.
    pub push_chunk_size: Option<u64>,
}

impl RegistrySettings {
    /// The settings from the variables in `env` (a front passes its process
    /// environment) and the daemon configuration file they name. A missing
    /// daemon configuration file is no error: it is optional.
    pub fn from_environment(env: &BTreeMap<String, String>) -> Result<Self, RegistrySettingsError> {
        let var = |name: &str| env.get(name).map(String::as_str);
        let docker_config_dir = auth::config_dir(var("DOCKER_CONFIG"), var("HOME"));
        let mut insecure: Vec<String> = var("WHARF_INSECURE_REGISTRIES")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
        let daemon_config =
            PathBuf::from(var("WHARF_DAEMON_CONFIG").unwrap_or(DEFAULT_DAEMON_CONFIG));
        insecure.extend(daemon_insecure_registries(daemon_config)?);
        let push_chunk_size = var("WHARF_PUSH_CHUNK_SIZE")
            .map(|value| {
                wharf_units::parse_bytes(value).map_err(|source| RegistrySettingsError::ChunkSize {
                    value: value.to_string(),
                    source,
                })
            })
            .transpose()?;
        Ok(RegistrySettings {
            docker_config_dir,
            insecure,
            push_chunk_size,
        })
    }

    /// The transport policy of the registry client.
    pub fn registry_options(&self) -> RegistryOptions {
        RegistryOptions {
            insecure: self.insecure.clone(),
        }
    }

    /// Stored credentials for the registry `domain`.
    pub fn credentials_for(&self, domain: &str) -> Result<Option<Credentials>, ImageError> {
        DockerConfig::load(&self.docker_config_dir)?.credentials(domain)
    }

    /// Push options for `reference` with its stored credentials.
    pub fn push_options(&self, reference: &str) -> Result<PushOptions, crate::AppError> {
        let r = Reference::parse(reference).map_err(|e| crate::AppError::image(reference, e))?;
        let mut options = PushOptions {
            registry: self.registry_options(),
            credentials: self
                .credentials_for(&r.domain)
                .map_err(|e| crate::AppError::image(format!("credentials for {}", r.domain), e))?,
            ..PushOptions::default()
        };
        if let Some(size) = self.push_chunk_size {
            options.chunk_size = size;
        }
        Ok(options)
    }

    /// Pull options for `reference` (for `platform`) with its stored
    /// credentials.
    pub fn pull_options(
        &self,
        reference: &str,
        platform: Option<&str>,
    ) -> Result<PullOptions, ImageError> {
        let r = Reference::parse(reference)?;
        Ok(PullOptions {
            platform: platform.map(parse_platform).transpose()?,
            registry: self.registry_options(),
            credentials: self.credentials_for(&r.domain)?,
            concurrency: 3,
        })
    }
}

/// `insecure-registries` of the daemon configuration file at `path`; none
/// when there is no such file.
fn daemon_insecure_registries(path: PathBuf) -> Result<Vec<String>, RegistrySettingsError> {
    let data = match std::fs::read(&path) {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(RegistrySettingsError::DaemonConfigUnreadable { path, source }),
    };
    let document: serde_json::Value = match serde_json::from_slice(&data) {
        Ok(document) => document,
        Err(source) => return Err(RegistrySettingsError::DaemonConfigSyntax { path, source }),
    };
    let Some(list) = document.get("insecure-registries") else {
        return Ok(Vec::new());
    };
    list.as_array()
        .and_then(|items| {
            items
                .iter()
                .map(|item| item.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
        })
        .ok_or(RegistrySettingsError::InsecureRegistries { path })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn daemon_config(text: &str) -> (tempfile::TempDir, String) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("daemon.json");
        std::fs::write(&path, text).unwrap();
        let path = path.to_string_lossy().into_owned();
        (dir, path)
    }

    #[test]
    fn docker_config_wins_over_home() {
        let settings = RegistrySettings::from_environment(&env(&[
            ("DOCKER_CONFIG", "/cfg"),
            ("HOME", "/home/u"),
            ("WHARF_DAEMON_CONFIG", "/nonexistent/daemon.json"),
        ]))
        .unwrap();
        assert_eq!(settings.docker_config_dir, PathBuf::from("/cfg"));
        let settings = RegistrySettings::from_environment(&env(&[
            ("HOME", "/home/u"),
            ("WHARF_DAEMON_CONFIG", "/nonexistent/daemon.json"),
        ]))
        .unwrap();
        assert_eq!(settings.docker_config_dir, PathBuf::from("/home/u/.docker"));
        assert_eq!(settings.push_chunk_size, None);
        assert!(settings.insecure.is_empty());
    }

    #[test]
    fn insecure_registries_come_from_the_variable_and_the_daemon_config() {
        let (_dir, path) = daemon_config(r#"{"insecure-registries": ["b:5000"], "debug": true}"#);
        let settings = RegistrySettings::from_environment(&env(&[
            ("WHARF_INSECURE_REGISTRIES", " a:5000, ,c "),
            ("WHARF_DAEMON_CONFIG", &path),
        ]))
        .unwrap();
        assert_eq!(settings.insecure, ["a:5000", "c", "b:5000"]);
        assert_eq!(settings.registry_options().insecure, settings.insecure);
    }

    #[test]
    fn a_daemon_config_that_is_not_json_is_named() {
        let (_dir, path) = daemon_config("{insecure");
        let error = RegistrySettings::from_environment(&env(&[("WHARF_DAEMON_CONFIG", &path)]))
            .unwrap_err();
        assert!(matches!(
            error,
            RegistrySettingsError::DaemonConfigSyntax { .. }
        ));
        let message = error.to_string();
        assert!(message.contains(&path), "{message}");
        assert!(message.contains("not valid JSON"), "{message}");
    }

    #[test]
    fn insecure_registries_that_are_not_names_are_refused() {
        let (_dir, path) = daemon_config(r#"{"insecure-registries": "a:5000"}"#);
        let error = RegistrySettings::from_environment(&env(&[("WHARF_DAEMON_CONFIG", &path)]))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .contains("must be a list of registry names"),
            "{error}"
        );
    }

    #[test]
    fn an_unreadable_daemon_config_is_named() {
        // A directory cannot be read as a file, even by root.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_string_lossy().into_owned();
        let error = RegistrySettings::from_environment(&env(&[("WHARF_DAEMON_CONFIG", &path)]))
            .unwrap_err();
        assert!(matches!(
            error,
            RegistrySettingsError::DaemonConfigUnreadable { .. }
        ));
        assert!(error.to_string().contains(&path), "{error}");
    }

    #[test]
    fn push_chunk_size_takes_bytes_or_a_size() {
        let settings = |value: &str| {
            RegistrySettings::from_environment(&env(&[
                ("WHARF_PUSH_CHUNK_SIZE", value),
                ("WHARF_DAEMON_CONFIG", "/nonexistent/daemon.json"),
            ]))
        };
        assert_eq!(settings("1048576").unwrap().push_chunk_size, Some(1 << 20));
        assert_eq!(settings("16m").unwrap().push_chunk_size, Some(16 << 20));
        let error = settings("lots").unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("WHARF_PUSH_CHUNK_SIZE=\"lots\" is not a size"),
            "{error}"
        );
    }

    #[test]
    fn push_options_carry_the_chunk_size() {
        let settings = RegistrySettings {
            docker_config_dir: PathBuf::from("/nonexistent"),
            insecure: vec!["localhost:5000".into()],
            push_chunk_size: Some(4096),
        };
        let options = settings.push_options("localhost:5000/app:1").unwrap();
        assert_eq!(options.chunk_size, 4096);
        assert_eq!(options.registry.insecure, ["localhost:5000"]);
        assert!(options.credentials.is_none());
    }
}
