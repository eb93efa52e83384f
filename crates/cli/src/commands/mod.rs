//! One module per command (group).

pub mod attach;
pub mod build;
pub mod config;
pub mod container;
pub mod cp;
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
pub mod stats;
pub mod system;
pub mod up;
pub mod volume;
pub mod watch;

use wharf_engine_api::{labels, ContainerInfo};

/// Run `work` on every item on scoped threads, at most `limit` at once
/// (`--parallel`; `None` runs them all at once).
pub fn for_each_limited<T: Send>(items: Vec<T>, limit: Option<usize>, work: impl Fn(T) + Sync) {
    let workers = limit.unwrap_or(items.len()).clamp(1, items.len().max(1));
    let queue = std::sync::Mutex::new(items.into_iter());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| loop {
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).next();
                match next {
                    Some(item) => work(item),
                    None => break,
                }
            });
        }
    });
}

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
pub fn label_filter_matches(
    labels: &std::collections::BTreeMap<String, String>,
    value: &str,
) -> bool {
    let (key, want) = match value.split_once('=') {
        Some((k, want)) => (k, Some(want)),
        None => (value, None),
    };
    labels
        .get(key)
        .is_some_and(|have| want.is_none_or(|w| w == have))
}

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
    if let Some(project) = project {
        check_services(project, services)?;
    }
    Ok(containers
        .into_iter()
        .filter(|c| {
            services.is_empty()
                || c.label(labels::SERVICE)
                    .is_some_and(|s| services.iter().any(|w| w == s))
        })
        .collect())
}

/// The project's service names, for error messages.
pub fn service_names(project: &wharf_compose::Project) -> String {
    project
        .services
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(", ")
}

/// Every name in `services` is a service of `project`, else docker compose's error.
pub fn check_services(project: &wharf_compose::Project, services: &[String]) -> anyhow::Result<()> {
    match services.iter().find(|s| !project.services.contains_key(*s)) {
        Some(unknown) => anyhow::bail!(
            "no such service: {unknown} (services: {})",
            service_names(project)
        ),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn limited_work_never_exceeds_the_limit() {
        let (running, most, done) = (
            AtomicUsize::new(0),
            AtomicUsize::new(0),
            AtomicUsize::new(0),
        );
        super::for_each_limited((0..12).collect(), Some(2), |_: i32| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(5));
            running.fetch_sub(1, Ordering::SeqCst);
            done.fetch_add(1, Ordering::SeqCst);
        });
        assert_eq!(done.into_inner(), 12);
        assert!(most.into_inner() <= 2);
    }
}
