//! One module per command (group).

pub mod attach;
pub mod boot;
pub mod build;
pub mod config;
pub mod container;
pub mod convert;
pub mod cp;
pub mod dashboard;
pub mod events;
pub mod exec;
pub mod image;
pub mod info;
pub mod lifecycle;
pub mod login;
pub mod logs;
pub mod man;
pub mod network;
pub mod ps;
pub mod pull;
pub mod push;
pub mod run;
pub mod search;
pub mod service;
pub mod stats;
pub mod system;
pub mod up;
pub mod version;
pub mod volume;
pub mod watch;

use wharf_engine_api::{labels, ContainerInfo};

/// Write an archive made by `fill` to `path` (`-o FILE`) through a temporary
/// file beside it, renamed into place only once complete; or to standard
/// output, unless that is a terminal.
pub fn write_archive(
    path: Option<&str>,
    fill: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use anyhow::Context;
    use std::io::{IsTerminal, Write};
    let Some(path) = path else {
        if std::io::stdout().is_terminal() {
            anyhow::bail!(
                "refusing to write an archive to a terminal: use -o FILE or redirect the output"
            );
        }
        let mut out = std::io::BufWriter::new(std::io::stdout().lock());
        fill(&mut out)?;
        return out.flush().context("writing to standard output");
    };
    let dir = std::path::Path::new(path)
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let tmp = dir.join(format!(".wharf-archive-{}", std::process::id()));
    let file =
        std::fs::File::create(&tmp).with_context(|| format!("creating {}", tmp.display()))?;
    let mut w = std::io::BufWriter::new(file);
    let result = fill(&mut w).and_then(|()| {
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        Ok(())
    });
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.with_context(|| format!("writing {path}"))
}

/// `KEY=VALUE` pairs (a bare `KEY` has an empty value); `what` names them in
/// errors (`label`, `option`).
pub fn key_values(
    pairs: &[String],
    what: &str,
) -> anyhow::Result<std::collections::BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair.as_str(), ""));
            if k.is_empty() {
                anyhow::bail!("bad {what} {pair:?}: expected KEY=VALUE");
            }
            Ok((k.to_string(), v.to_string()))
        })
        .collect()
}

/// Labels as docker lists them: `k=v,k2=v2`.
pub fn labels_text(labels: &std::collections::BTreeMap<String, String>) -> String {
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// docker's `label=KEY` or `label=KEY=VALUE` filter against `labels`.
pub use wharf_app::filters::label_matches as label_filter_matches;

/// `web-1` for `hello-web-1`: how docker compose names a container in logs.
pub fn short_name(container: &ContainerInfo) -> String {
    match (
        container.label(labels::SERVICE),
        container.label(labels::CONTAINER_NUMBER),
    ) {
        (Some(service), Some(number)) => format!("{service}-{number}"),
        _ => container.name.clone(),
    }
}

/// Keep containers of the named services (all when `services` is empty);
/// an unknown service name is an error.
pub fn filter_services(
    containers: Vec<ContainerInfo>,
    services: &[String],
    project: Option<&wharf_compose::Project>,
) -> anyhow::Result<Vec<ContainerInfo>> {
    let scope = wharf_app::containers::Scope {
        name: "",
        project,
        services,
    };
    Ok(wharf_app::containers::filter_services(containers, &scope)?)
}

/// Every name in `services` is a service of `project`, else docker compose's error.
pub fn check_services(project: &wharf_compose::Project, services: &[String]) -> anyhow::Result<()> {
    Ok(wharf_app::check_services(project, services)?)
}
