//! Secrets and configs: a service's `secrets:` and `configs:` → the files
//! the engine mounts read-only, their content read from the top-level
//! object's `file:`, `environment:` or `content:`.

use crate::error::SettingError;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use wharf_compose::{FileObject, Project, Service, ServiceFileRef};
use wharf_engine_api::{FileKind, FileMount};

/// docker's mode of a secret or config file when the service sets none.
const DEFAULT_MODE: u32 = 0o444;

/// Where secrets go, and where a relative secret target is taken from.
const SECRETS_DIR: &str = "/run/secrets";

/// Every secret and config of `service` with its content, or the first that
/// cannot be had (the message names it and says what to do).
pub fn service_files(project: &Project, service: &Service) -> Result<Vec<FileMount>, SettingError> {
    let mut files: Vec<FileMount> = Vec::new();
    for (kind, reference) in references(service) {
        let file = file_mount(project, kind, reference)?;
        if let Some(other) = files.iter().find(|f| f.target == file.target) {
            return Err(SettingError::invalid(format!(
                "{} {:?} and {} {:?} are both mounted on {}: give one of them another target",
                other.kind, other.name, file.kind, file.name, file.target
            )));
        }
        files.push(file);
    }
    Ok(files)
}

fn references(service: &Service) -> impl Iterator<Item = (FileKind, &ServiceFileRef)> {
    let secrets = service.secrets.iter().map(|r| (FileKind::Secret, r));
    let configs = service.configs.iter().map(|r| (FileKind::Config, r));
    secrets.chain(configs)
}

fn declared(project: &Project, kind: FileKind) -> &BTreeMap<String, FileObject> {
    match kind {
        FileKind::Secret => &project.secrets,
        FileKind::Config => &project.configs,
    }
}

/// Where a secret or config appears in the container: `target`, under
/// `/run/secrets` (secrets) or `/` (configs) when relative, else the
/// default place named after its key.
pub fn file_target(kind: FileKind, source: &str, target: Option<&str>) -> String {
    let base = match kind {
        FileKind::Secret => SECRETS_DIR,
        FileKind::Config => "",
    };
    match target.map(str::trim).filter(|t| !t.is_empty()) {
        Some(absolute) if absolute.starts_with('/') => absolute.to_string(),
        Some(relative) => format!("{base}/{relative}"),
        None => format!("{base}/{source}"),
    }
}

fn file_mount(
    project: &Project,
    kind: FileKind,
    reference: &ServiceFileRef,
) -> Result<FileMount, SettingError> {
    let name = &reference.source;
    let object = declared(project, kind).get(name).ok_or_else(|| {
        SettingError::invalid(format!(
            "{kind} {name:?} is not declared in the top-level {kind}s: add it there"
        ))
    })?;
    let id = |what: &'static str, value: Option<&str>| -> Result<u32, SettingError> {
        match value.map(str::trim) {
            None | Some("") => Ok(0),
            Some(text) => text.parse().map_err(|source| SettingError::Number {
                key: format!("{kind} {name:?}: {what}"),
                value: text.to_string(),
                hint: "write a numeric id (user and group names are not looked up)",
                source,
            }),
        }
    };
    let content = content(kind, name, object)?;
    Ok(FileMount {
        kind,
        name: name.clone(),
        target: file_target(kind, name, reference.target.as_deref()),
        uid: id("uid", reference.uid.as_deref())?,
        gid: id("gid", reference.gid.as_deref())?,
        mode: reference.mode.unwrap_or(DEFAULT_MODE),
        digest: hex::encode(Sha256::digest(&content)),
        content,
    })
}

/// The value of the top-level secret `name` (for a build's `build.secrets`),
/// or what is wrong with it.
pub fn secret_value(project: &Project, name: &str) -> Result<Vec<u8>, SettingError> {
    let object = declared(project, FileKind::Secret)
        .get(name)
        .ok_or_else(|| {
            SettingError::invalid(format!(
                "secret {name:?} is not declared in the top-level secrets: add it there"
            ))
        })?;
    content(FileKind::Secret, name, object)
}

/// The value of a top-level secret or config.
fn content(kind: FileKind, name: &str, object: &FileObject) -> Result<Vec<u8>, SettingError> {
    if object.external {
        return Err(SettingError::invalid(format!(
            "{kind} {name:?} is external, but wharf has no swarm {kind} store to take it from: \
             give it a file, environment or content source instead"
        )));
    }
    if let Some(path) = &object.file {
        return std::fs::read(path).map_err(|source| SettingError::File {
            kind,
            name: name.to_string(),
            path: path.clone(),
            source,
        });
    }
    if let Some(variable) = &object.environment {
        return object
            .environment_value
            .as_ref()
            .map(|value| value.clone().into_bytes())
            .ok_or_else(|| {
                SettingError::invalid(format!(
                    "{kind} {name:?}: the environment variable {variable} it takes its value \
                     from is not set: set it in the shell or in the project's .env file"
                ))
            });
    }
    if let Some(content) = &object.content {
        return Ok(content.clone().into_bytes());
    }
    Err(SettingError::invalid(format!(
        "{kind} {name:?} has no file, environment or content to take its value from: add one"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_follow_compose() {
        let secret = |target| file_target(FileKind::Secret, "token", target);
        assert_eq!(secret(None), "/run/secrets/token");
        assert_eq!(secret(Some("db/pass")), "/run/secrets/db/pass");
        assert_eq!(secret(Some("/etc/token")), "/etc/token");
        let config = |target| file_target(FileKind::Config, "app", target);
        assert_eq!(config(None), "/app");
        assert_eq!(config(Some("etc/app.conf")), "/etc/app.conf");
        assert_eq!(config(Some("/srv/app.conf")), "/srv/app.conf");
    }
}
