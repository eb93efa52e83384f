//! docker's volume commands as every front needs them: which volumes a
//! listing or prune keeps (`dangling`, `label`, `label!`, `name`, `driver`),
//! creating one (a random name when none is given, an existing one of the
//! same driver accepted as docker does), removing several, and docker's
//! `volume inspect` document.

use crate::filters::{label_matches, FilterError, Filters};
use crate::AppError;
use std::collections::BTreeMap;
use wharf_engine_api::{EngineError, VolumeEngine, VolumeInfo, VolumeSpec};

const FILTER_KEYS: &str = "dangling, label, label!, name and driver";

/// Keep the volumes that pass every filter.
pub fn filter_volumes(
    volumes: Vec<VolumeInfo>,
    filters: &Filters,
) -> Result<Vec<VolumeInfo>, FilterError> {
    let mut out = volumes;
    for filter in filters.iter() {
        let value = filter.value.as_str();
        let labelled = |v: &VolumeInfo| label_matches(&v.labels, value);
        match filter.key.as_str() {
            "dangling" => {
                let want = filter.bool_value()?;
                out.retain(|v| v.used_by.is_empty() == want);
            }
            "label" => out.retain(labelled),
            "label!" => out.retain(|v| !labelled(v)),
            "name" => out.retain(|v| v.name.contains(value)),
            "driver" => out.retain(|v| v.driver == value),
            _ => return Err(filter.unsupported(FILTER_KEYS)),
        }
    }
    Ok(out)
}

/// The volumes of the engine that pass `filters`.
pub fn list(engine: &dyn VolumeEngine, filters: &Filters) -> Result<Vec<VolumeInfo>, AppError> {
    let volumes = engine
        .list_volumes(&[])
        .map_err(|e| AppError::engine("listing volumes", e))?;
    Ok(filter_volumes(volumes, filters)?)
}

/// What `volume create` was asked for.
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    /// A random 64-hex-digit name when `None`, as docker names anonymous volumes.
    pub name: Option<String>,
    pub driver: String,
    pub driver_opts: BTreeMap<String, String>,
    pub labels: BTreeMap<String, String>,
}

/// Create a volume; creating one that exists with the same driver is a
/// no-op, as with docker. Returns the volume as it now is.
pub fn create(engine: &dyn VolumeEngine, options: CreateOptions) -> Result<VolumeInfo, AppError> {
    let name = match options.name {
        Some(name) => name,
        None => random_name()?,
    };
    let spec = VolumeSpec {
        name: name.clone(),
        driver: Some(options.driver.clone()),
        driver_opts: options.driver_opts,
        labels: options.labels,
    };
    match engine.create_volume(&spec) {
        Ok(_) | Err(EngineError::Conflict { .. }) => {}
        Err(e) => return Err(AppError::engine(format!("creating volume {name}"), e)),
    }
    let volume = engine
        .inspect_volume(&name)
        .map_err(|e| AppError::engine(format!("reading volume {name}"), e))?;
    if volume.driver != options.driver {
        return Err(AppError::Refused(format!(
            "volume {name} already exists with driver {}, not {}",
            volume.driver, options.driver
        )));
    }
    Ok(volume)
}

fn random_name() -> Result<String, AppError> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| AppError::io("reading /dev/urandom for a volume name", e))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Remove one volume; with `force`, one that does not exist is no error
/// (`Ok(false)`), and one used only by stopped containers goes too.
pub fn remove(engine: &dyn VolumeEngine, name: &str, force: bool) -> Result<bool, EngineError> {
    match engine.remove_volume(name, force) {
        Ok(()) => Ok(true),
        Err(EngineError::NotFound { .. }) if force => Ok(false),
        Err(e) => Err(e),
    }
}

/// What a prune removed and what it could not.
#[derive(Debug, Default)]
pub struct PruneReport {
    pub removed: Vec<String>,
    pub reclaimed_bytes: u64,
    pub failures: Vec<EngineError>,
}

/// Remove the volumes no container uses that pass `filters`: anonymous
/// ones only, or named ones too with `all` (docker's rule since 23.0).
pub fn prune(
    engine: &dyn VolumeEngine,
    all: bool,
    filters: &Filters,
) -> Result<PruneReport, AppError> {
    let mut report = PruneReport::default();
    for volume in list(engine, filters)? {
        if !volume.used_by.is_empty() || !(all || volume.anonymous) {
            continue;
        }
        match engine.remove_volume(&volume.name, false) {
            Ok(()) => report.removed.push(volume.name),
            Err(e) => report.failures.push(e),
        }
    }
    Ok(report)
}

/// docker's `volume inspect` document.
pub fn inspect_document(v: &VolumeInfo) -> serde_json::Value {
    serde_json::json!({
        "CreatedAt": wharf_units::calendar::docker_time(v.created),
        "Driver": v.driver,
        "Labels": v.labels,
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": v.options,
        "Scope": v.scope,
        "UsedBy": v.used_by.iter().map(|u| serde_json::json!({
            "Container": u.container_name,
            "ContainerID": u.container_id,
            "Destination": u.target,
            "Running": u.running,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use wharf_engine_api::VolumeUser;

    fn volume(name: &str, labels: &[(&str, &str)], used: bool) -> VolumeInfo {
        VolumeInfo {
            name: name.into(),
            driver: "local".into(),
            mountpoint: String::new(),
            created: 0,
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            options: BTreeMap::new(),
            scope: "local".into(),
            anonymous: false,
            used_by: if used {
                vec![VolumeUser {
                    container_id: "x".into(),
                    container_name: "c".into(),
                    target: "/d".into(),
                    running: true,
                }]
            } else {
                Vec::new()
            },
        }
    }

    #[test]
    fn filters_by_label_and_dangling() {
        let all = vec![
            volume("a_data", &[("com.docker.compose.project", "a")], true),
            volume("b_data", &[("com.docker.compose.project", "b")], false),
            volume("plain", &[], false),
        ];
        let names = |filters: &[&str]| -> Vec<String> {
            let filters: Vec<String> = filters.iter().map(|s| s.to_string()).collect();
            let filters = Filters::from_flags(&filters, "dangling=true").unwrap();
            filter_volumes(all.clone(), &filters)
                .unwrap()
                .into_iter()
                .map(|v| v.name)
                .collect()
        };
        assert_eq!(names(&["dangling=true"]), ["b_data", "plain"]);
        assert_eq!(names(&["dangling=false"]), ["a_data"]);
        assert_eq!(
            names(&["label=com.docker.compose.project"]),
            ["a_data", "b_data"]
        );
        assert_eq!(names(&["label=com.docker.compose.project=b"]), ["b_data"]);
        assert_eq!(names(&["name=data", "dangling=true"]), ["b_data"]);
        let bad = Filters::from_flags(&["color=red".into()], "x=y").unwrap();
        assert_eq!(
            filter_volumes(all.clone(), &bad).unwrap_err().to_string(),
            "unsupported filter \"color\": wharf supports dangling, label, label!, name and driver"
        );
    }

    #[test]
    fn inspect_document_has_docker_fields() {
        let doc = inspect_document(&volume("a", &[], true));
        assert_eq!(doc["CreatedAt"], "1970-01-01 00:00:00 +0000 UTC");
        assert_eq!(doc["UsedBy"][0]["Destination"], "/d");
        assert_eq!(doc["Scope"], "local");
    }
}
