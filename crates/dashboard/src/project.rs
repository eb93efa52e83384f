//! A project's Compose file in the dashboard: found only through the
//! labels wharf put on the project's containers (a path never comes from
//! the browser), shown, and redeployed after an edit. An edit is written
//! beside the file and loaded first; only a file that loads replaces the
//! original, and then the core's `up` converges the project, reporting the
//! same recreate reasons as `wharf up`.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use wharf_app::{Event, Reporter};
use wharf_compose::{LoadOptions, Project};
use wharf_engine_api::{labels, Engine};

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
    let loaded = load(&files, project, &draft).map_err(|e| {
        // Errors name the draft; the user edited the file itself.
        e.replace(&draft_name, &name)
    });
    let project_model = match loaded {
        Ok(p) => p,
        Err(e) => {
            let _ = std::fs::remove_file(&draft);
            return Err(format!(
                "the edited file does not load, nothing was changed: {e}"
            ));
        }
    };
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
