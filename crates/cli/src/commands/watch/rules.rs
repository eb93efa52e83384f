//! `develop.watch` rules as triggers: which rule a changed host path falls
//! under (its `ignore` and `include` patterns, the build context's
//! `.dockerignore`, editors' temporary files and `.git` skipped), where it
//! goes in the container, and what a batch of changes asks of each service.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use wharf_compose::model::ServiceHook;
use wharf_image::build::ignore::Ignore;

/// A rule's `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Action {
    Sync,
    SyncRestart,
    SyncExec,
    Restart,
    Rebuild,
}

impl Action {
    fn parse(text: &str) -> Option<Action> {
        Some(match text {
            "sync" => Action::Sync,
            "sync+restart" => Action::SyncRestart,
            "sync+exec" => Action::SyncExec,
            "restart" => Action::Restart,
            "rebuild" => Action::Rebuild,
            _ => return None,
        })
    }

    fn syncs(self) -> bool {
        matches!(self, Action::Sync | Action::SyncRestart | Action::SyncExec)
    }
}

/// Files editors and tools write and delete around a save; never a change.
const EPHEMERAL: &str = "**/.git\n**/*___jb_old___\n**/*___jb_tmp___\n**/.idea\n**/.#*\n**/#*#\n**/4913\n**/*~\n**/.*.swp\n**/.*.swx\n**/.*.swo\n**/.*.swn\n**/.*.kate-swp\n**/*-go-tmp-umask\n";

/// One `develop.watch` rule of one service.
#[derive(Debug, Clone)]
pub struct Trigger {
    pub service: String,
    pub action: Action,
    /// Absolute host path the rule watches (a directory or a file).
    pub path: PathBuf,
    pub target: Option<String>,
    pub exec: Option<ServiceHook>,
    /// `initial_sync: true` on a sync or sync+restart rule.
    pub initial_sync: bool,
    ignore: Ignore,
    include: Option<Ignore>,
    /// The build context and its `.dockerignore`, when the service builds.
    context_ignore: Option<(PathBuf, Ignore)>,
}

/// The triggers of `services` (all when empty), with compose's errors for a
/// project that has nothing to watch or a rule that cannot work.
pub fn triggers(
    project: &wharf_compose::Project,
    services: &[String],
) -> Result<Vec<Trigger>, String> {
    let mut out = Vec::new();
    for (name, service) in &project.services {
        if !services.is_empty() && !services.contains(name) {
            continue;
        }
        let Some(develop) = &service.develop else {
            continue;
        };
        let context_ignore = service.build.as_ref().map(|build| {
            let text =
                std::fs::read_to_string(build.context.join(".dockerignore")).unwrap_or_default();
            (build.context.clone(), Ignore::parse(&text))
        });
        for (index, rule) in develop.watch.iter().enumerate() {
            let at = format!("service {name:?} develop.watch[{index}]");
            let action = Action::parse(&rule.action)
                .ok_or_else(|| format!("{at}: unknown action {:?}", rule.action))?;
            if action == Action::Rebuild && service.build.is_none() {
                return Err(format!(
                    "can't watch service {name:?} with action rebuild without a build context: add a build section or use another action"
                ));
            }
            if action.syncs() && rule.target.is_none() {
                return Err(format!(
                    "{at}: action {} needs a target (the path in the container)",
                    rule.action
                ));
            }
            if action == Action::SyncExec && rule.exec.is_none() {
                return Err(format!("{at}: action sync+exec needs exec.command"));
            }
            let patterns = rule.ignore.join("\n");
            out.push(Trigger {
                service: name.clone(),
                action,
                path: rule.path.clone(),
                target: rule.target.clone(),
                exec: rule.exec.clone(),
                initial_sync: rule.initial_sync
                    && matches!(action, Action::Sync | Action::SyncRestart),
                ignore: Ignore::parse(&format!("{EPHEMERAL}{patterns}")),
                include: (!rule.include.is_empty())
                    .then(|| Ignore::parse(&rule.include.join("\n"))),
                context_ignore: context_ignore.clone(),
            });
        }
    }
    if out.is_empty() {
        return Err(
            "none of the selected services is configured for watch, consider setting a 'develop' section"
                .into(),
        );
    }
    Ok(out)
}

/// `path` relative to `base` with `/` separators; None when not below it.
fn relative(base: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(base).ok()?;
    Some(
        rel.components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/"),
    )
}

impl Trigger {
    /// Whether a change of `path` counts for this rule.
    pub fn matches(&self, path: &Path) -> bool {
        let Some(rel) = relative(&self.path, path) else {
            return false;
        };
        if !rel.is_empty() && self.ignore.is_ignored(&rel) {
            return false;
        }
        if let Some(include) = &self.include {
            if !rel.is_empty() && !include.is_ignored(&rel) {
                return false;
            }
        }
        if let Some((context, ignore)) = &self.context_ignore {
            if let Some(in_context) = relative(context, path) {
                if !in_context.is_empty() && ignore.is_ignored(&in_context) {
                    return false;
                }
            }
        }
        true
    }

    /// Where `path` goes in the container (sync actions only).
    pub fn container_path(&self, path: &Path) -> Option<String> {
        let target = self.target.as_deref()?;
        let rel = relative(&self.path, path)?;
        let target = target.trim_end_matches('/');
        Some(if rel.is_empty() {
            if target.is_empty() { "/" } else { target }.to_string()
        } else {
            format!("{target}/{rel}")
        })
    }
}

/// What one service has to do after a batch of changes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceWork {
    pub rebuild: bool,
    pub restart: bool,
    /// Host path → container path, for every changed path of sync rules.
    pub sync: BTreeMap<PathBuf, String>,
    /// Indexes (into the triggers) of the sync+exec rules that fired.
    pub exec: BTreeSet<usize>,
}

/// The first rule of each service that `path` falls under.
pub fn plan(triggers: &[Trigger], paths: &[PathBuf]) -> BTreeMap<String, ServiceWork> {
    let mut work: BTreeMap<String, ServiceWork> = BTreeMap::new();
    for path in paths {
        let mut seen: BTreeSet<&str> = BTreeSet::new();
        for (index, trigger) in triggers.iter().enumerate() {
            if seen.contains(trigger.service.as_str()) || !trigger.matches(path) {
                continue;
            }
            seen.insert(&trigger.service);
            let entry = work.entry(trigger.service.clone()).or_default();
            match trigger.action {
                Action::Rebuild => entry.rebuild = true,
                Action::Restart => entry.restart = true,
                sync => {
                    if let Some(target) = trigger.container_path(path) {
                        entry.sync.insert(path.clone(), target);
                    }
                    match sync {
                        Action::SyncRestart => entry.restart = true,
                        Action::SyncExec => {
                            entry.exec.insert(index);
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    // A rebuild recreates the containers: nothing else is left to do.
    for entry in work.values_mut() {
        if entry.rebuild {
            *entry = ServiceWork {
                rebuild: true,
                ..Default::default()
            };
        }
    }
    work
}

/// Whether any rule cares about `path` (so the event is kept for the batch).
pub fn wanted(triggers: &[Trigger], path: &Path) -> bool {
    triggers.iter().any(|t| t.matches(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(
        service: &str,
        action: Action,
        path: &str,
        target: Option<&str>,
        ignore: &str,
    ) -> Trigger {
        Trigger {
            service: service.into(),
            action,
            path: path.into(),
            target: target.map(str::to_string),
            exec: None,
            initial_sync: false,
            ignore: Ignore::parse(&format!("{EPHEMERAL}{ignore}")),
            include: None,
            context_ignore: None,
        }
    }

    #[test]
    fn paths_map_below_the_target() {
        let t = trigger("web", Action::Sync, "/p/site", Some("/www/"), "");
        assert_eq!(
            t.container_path(Path::new("/p/site/a/b.html")).as_deref(),
            Some("/www/a/b.html")
        );
        assert_eq!(
            t.container_path(Path::new("/p/site")).as_deref(),
            Some("/www")
        );
        assert_eq!(t.container_path(Path::new("/p/sitemap")), None);
        let file = trigger(
            "web",
            Action::Sync,
            "/p/page.html",
            Some("/www/index.html"),
            "",
        );
        assert_eq!(
            file.container_path(Path::new("/p/page.html")).as_deref(),
            Some("/www/index.html")
        );
    }

    #[test]
    fn ignored_and_editor_files_do_not_count() {
        let t = trigger(
            "web",
            Action::Sync,
            "/p/site",
            Some("/www"),
            "*.tmp\nnode_modules",
        );
        assert!(t.matches(Path::new("/p/site/index.html")));
        assert!(!t.matches(Path::new("/p/site/draft.tmp")));
        assert!(
            t.matches(Path::new("/p/site/sub/draft.tmp")),
            "dockerignore patterns are anchored"
        );
        assert!(!t.matches(Path::new("/p/site/node_modules/x/y.js")));
        assert!(!t.matches(Path::new("/p/site/.git/index")));
        assert!(!t.matches(Path::new("/p/site/sub/.index.html.swp")));
        assert!(!t.matches(Path::new("/p/site/index.html~")));
        assert!(!t.matches(Path::new("/elsewhere/index.html")));
    }

    #[test]
    fn include_and_dockerignore_narrow_a_rule() {
        let mut t = trigger("web", Action::Rebuild, "/p", None, "");
        t.include = Some(Ignore::parse("*.go"));
        t.context_ignore = Some((PathBuf::from("/p"), Ignore::parse("vendor\n")));
        assert!(t.matches(Path::new("/p/main.go")));
        assert!(!t.matches(Path::new("/p/README.md")));
        assert!(!t.matches(Path::new("/p/vendor/lib.go")));
    }

    #[test]
    fn the_first_matching_rule_of_a_service_wins_and_rebuild_takes_over() {
        let triggers = vec![
            trigger("web", Action::Rebuild, "/p/package.json", None, ""),
            trigger("web", Action::Sync, "/p", Some("/app"), ""),
            trigger("api", Action::SyncRestart, "/p/shared", Some("/srv"), ""),
        ];
        let work = plan(
            &triggers,
            &[
                PathBuf::from("/p/src/a.js"),
                PathBuf::from("/p/shared/c.txt"),
            ],
        );
        assert!(!work["web"].rebuild);
        assert_eq!(work["web"].sync.len(), 2);
        assert_eq!(work["web"].sync[Path::new("/p/src/a.js")], "/app/src/a.js");
        assert!(work["api"].restart);
        assert_eq!(work["api"].sync[Path::new("/p/shared/c.txt")], "/srv/c.txt");

        let work = plan(
            &triggers,
            &[
                PathBuf::from("/p/package.json"),
                PathBuf::from("/p/src/a.js"),
            ],
        );
        assert_eq!(
            work["web"],
            ServiceWork {
                rebuild: true,
                ..Default::default()
            }
        );
    }
}
