//! A project's Compose file in the dashboard: found only through the
//! labels wharf put on the project's containers (a path never comes from
//! the browser), shown, and redeployed after an edit. An edit is written
//! beside the file and loaded first; only a file that loads replaces the
//! original, and then the core's `up` converges the project, reporting the
//! same recreate reasons as `wharf up`. Before that, a preview shows the
//! edit's `config`, its difference from the files as they are, and what
//! `up` would create, recreate (and why) and remove: the orchestrator's plan,
//! not executed.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wharf_app::config::{document, ConfigFormat};
use wharf_app::{Event, Reporter};
use wharf_compose::{LoadOptions, Project};
use wharf_engine_api::{labels, Engine};
use wharf_orchestrator::{Action, Cause, Plan, UpOptions};

/// Runs the core's `up` on a loaded project (the CLI gives it the Linux
/// engine and its image source).
pub type Deployer =
    Box<dyn Fn(&Project, &dyn Reporter) -> Result<(), wharf_app::AppError> + Send + Sync>;

/// Where a project's Compose files are, as its containers' labels say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComposeFiles {
    pub working_dir: PathBuf,
    /// In the order they were given; the first is the one edited.
    pub files: Vec<PathBuf>,
}

/// The Compose files of `project`, from the labels of its containers.
pub fn compose_files(engine: &dyn Engine, project: &str) -> Result<ComposeFiles, String> {
    let containers = engine
        .list_containers(&[(labels::PROJECT, project)])
        .map_err(|e| format!("cannot list the containers of {project}: {e}"))?;
    let first = containers
        .iter()
        .find(|c| c.label(labels::CONFIG_FILES).is_some())
        .ok_or_else(|| format!("no container of project {project} records its Compose files"))?;
    let files: Vec<PathBuf> = first
        .label(labels::CONFIG_FILES)
        .unwrap_or("")
        .split(',')
        .filter(|f| !f.is_empty())
        .map(PathBuf::from)
        .collect();
    let working_dir = PathBuf::from(first.label(labels::WORKING_DIR).unwrap_or("/"));
    if files.is_empty() || files.iter().any(|f| !f.is_absolute()) {
        return Err(format!(
            "project {project} records no usable Compose file paths"
        ));
    }
    Ok(ComposeFiles { working_dir, files })
}

fn load(files: &ComposeFiles, project: &str, first: &Path) -> Result<Project, String> {
    let mut paths = files.files.clone();
    paths[0] = first.to_path_buf();
    let options = LoadOptions {
        cwd: files.working_dir.clone(),
        files: paths,
        project_directory: Some(files.working_dir.clone()),
        project_name: Some(project.to_string()),
        env: std::env::vars().collect(),
        ..Default::default()
    };
    wharf_compose::load(&options).map_err(|e| e.to_string())
}

/// Collects the progress lines of `up` as docker compose prints them.
#[derive(Default)]
struct Lines(Mutex<Vec<String>>);

impl Reporter for Lines {
    fn report(&self, event: Event) {
        let line = match event {
            Event::Resource(wharf_orchestrator::Event::Container { name, status }) => {
                format!("Container {name}  {status}")
            }
            Event::Resource(wharf_orchestrator::Event::Network { name, status }) => {
                format!("Network {name}  {status}")
            }
            Event::Resource(wharf_orchestrator::Event::Volume { name, status }) => {
                format!("Volume {name}  {status}")
            }
            Event::Warning(warning) => format!("WARN {warning}"),
            _ => return,
        };
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(line);
    }
}

/// The edited first Compose file of `project`, written beside it (as
/// `.NAME.wharf-edit`) and loaded with the project's other files; the
/// draft's path and the loaded project, or why it does not load (naming the
/// file itself, not the draft). The caller removes or renames the draft.
fn load_edit(
    files: &ComposeFiles,
    project: &str,
    text: &str,
) -> Result<(PathBuf, Project), String> {
    let target = &files.files[0];
    let name = target
        .file_name()
        .ok_or_else(|| format!("{} is not a file", target.display()))?;
    let name = name.to_string_lossy();
    let draft_name = format!(".{name}.wharf-edit");
    let draft = target.with_file_name(&draft_name);
    // Browsers send a textarea with CRLF line ends; keep the file's own.
    let original = std::fs::read_to_string(target).unwrap_or_default();
    let text = if original.contains("\r\n") {
        text.to_string()
    } else {
        text.replace("\r\n", "\n")
    };
    std::fs::write(&draft, &text).map_err(|e| format!("cannot write {}: {e}", draft.display()))?;
    match load(files, project, &draft) {
        Ok(loaded) => Ok((draft, loaded)),
        Err(e) => {
            let _ = std::fs::remove_file(&draft);
            // Errors name the draft; the user edited the file itself.
            Err(format!(
                "the edited file does not load, nothing was changed: {}",
                e.replace(&draft_name, &name)
            ))
        }
    }
}

/// What redeploying an edit would do, computed without changing anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    /// `config` of the edited project.
    pub config: String,
    /// `config` of the files as they are now against the edit's, line by line.
    pub diff: Vec<crate::linediff::Line>,
    /// Why the files as they are now do not load, when they do not.
    pub current_error: Option<String>,
    /// What `up` would do to each container, network and volume, in the
    /// words of its progress lines (`Container p-web-1  Recreate (environment
    /// changed)`).
    pub changes: Vec<String>,
    /// The whole plan as `up --dry-run` prints it.
    pub plan: String,
}

/// Load `text` as the first Compose file of `project` and plan the `up` a
/// redeploy would run (observe → reconcile), executing nothing; the files
/// on disk stay as they are.
pub fn preview(engine: &dyn Engine, project: &str, text: &str) -> Result<Preview, String> {
    let files = compose_files(engine, project)?;
    let (draft, edited) = load_edit(&files, project, text)?;
    let _ = std::fs::remove_file(&draft);
    let config = document(&edited, ConfigFormat::Yaml);
    let (current, current_error) = match load(&files, project, &files.files[0]) {
        Ok(current) => (document(&current, ConfigFormat::Yaml), None),
        Err(e) => (String::new(), Some(e)),
    };
    let plan = wharf_app::up::plan(engine, &edited, &UpOptions::default())
        .map_err(|e| format!("cannot plan the redeploy: {}", wharf_app::error_chain(&e)))?;
    Ok(Preview {
        diff: crate::linediff::diff(&current, &config),
        config,
        current_error,
        changes: changes(&plan),
        plan: plan.to_string(),
    })
}

/// The plan's steps as `up`'s progress lines name them, one line a
/// container, network or volume it changes, then the containers it leaves
/// running and its warnings.
pub fn changes(plan: &Plan) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for step in &plan.steps {
        let line = match (&step.action, &step.cause) {
            (Action::CreateNetwork(spec), _) => format!("Network {}  Create", spec.name),
            (Action::CreateVolume(spec), _) => format!("Volume {}  Create", spec.name),
            (Action::CreateContainer { spec, .. }, Cause::Recreate(why)) => {
                format!("Container {}  Recreate ({why})", spec.name)
            }
            (Action::CreateContainer { spec, .. }, _) => {
                format!("Container {}  Create", spec.name)
            }
            (Action::ReplaceStartFirst(r), _) => {
                format!(
                    "Container {}  Recreate ({}, start-first)",
                    r.old_name, r.reason
                )
            }
            (Action::StartContainer { name, .. }, Cause::NotRunning) => {
                format!("Container {name}  Start")
            }
            (
                Action::RemoveContainer { name, .. },
                cause @ (Cause::Orphan | Cause::Surplus { .. } | Cause::Duplicate { .. }),
            ) => format!("Container {name}  Remove ({cause})"),
            (Action::RemoveNetwork { name, .. }, _) => format!("Network {name}  Remove"),
            (Action::RemoveVolume { name }, _) => format!("Volume {name}  Remove"),
            _ => continue,
        };
        let object = step.action.object();
        if seen.insert(object) {
            lines.push(line);
        }
    }
    lines.extend(
        plan.running
            .iter()
            .map(|name| format!("Container {name}  Running (unchanged)")),
    );
    lines.extend(plan.warnings.iter().map(|w| format!("WARN {w}")));
    lines
}

/// Replace the first Compose file of `project` with `text` if it loads,
/// then bring the project up; the progress lines.
pub fn redeploy(
    engine: &dyn Engine,
    deploy: &Deployer,
    project: &str,
    text: &str,
) -> Result<Vec<String>, String> {
    let files = compose_files(engine, project)?;
    let target = &files.files[0];
    let (draft, project_model) = load_edit(&files, project, text)?;
    std::fs::rename(&draft, target)
        .map_err(|e| format!("cannot replace {}: {e}", target.display()))?;
    let lines = Lines::default();
    let result = deploy(&project_model, &lines);
    let mut out = lines.0.into_inner().unwrap_or_else(|p| p.into_inner());
    match result {
        Ok(()) => Ok(out),
        Err(e) => {
            out.push(format!("Error: {}", wharf_app::error_chain(&e)));
            Err(out.join("\n"))
        }
    }
}
