//! wharf-compose: reads Compose files into a typed [`Project`].
//!
//! Stages, one module each: discover ([`discover`]: files, project directory,
//! project name) → parse ([`yaml`]: positioned tree, anchors, `<<`) →
//! interpolate ([`interpolate`], with [`dotenv`] for `.env`) → canonicalize
//! syntax per file ([`canonical`]: short → long forms) → include and extends
//! per file ([`resolve`]) → merge ([`merge`]) → model ([`typed`] and
//! [`attrs`], reading nodes with [`fields`]: types, keys, units) → validate
//! ([`validate`]: references, profiles, cycles) → [`Project`], whose
//! dependency graph is in [`graph`]. [`render`] prints a project as `docker compose config` does; [`schema`]
//! generates the JSON Schema of the file from the model. The process
//! environment is passed in through [`LoadOptions`]; nothing here reads it.

pub mod attrs;
pub mod canonical;
pub mod discover;
pub mod dotenv;
pub mod error;
pub mod fields;
pub mod graph;
pub mod interpolate;
pub mod keys;
pub mod merge;
pub mod model;
pub mod render;
pub mod resolve;
pub mod schema;
pub mod source;
pub mod syntax;
pub mod typed;
pub mod validate;
pub mod yaml;

pub use error::{LoadError, LoadErrorKind, Location};
pub use model::*;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

/// What `load` needs from the command line and the environment.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// The directory the command runs in (used for file discovery).
    pub cwd: PathBuf,
    /// `-f` files in order; `-` means standard input. Empty: discover.
    pub files: Vec<PathBuf>,
    /// `--project-directory`.
    pub project_directory: Option<PathBuf>,
    /// `-p`.
    pub project_name: Option<String>,
    /// The process environment (`COMPOSE_PROJECT_NAME`, `COMPOSE_FILE`, interpolation).
    pub env: BTreeMap<String, String>,
    /// `--env-file`, in order; empty means `.env` in the project directory if present.
    pub env_files: Vec<PathBuf>,
    /// `--profile`, added to `COMPOSE_PROFILES`.
    pub profiles: Vec<String>,
    /// Services named on the command line: enabled whatever their profiles
    /// (with the services they depend on), as docker compose does.
    pub services: Vec<String>,
}

/// Load a project; `-` in `options.files` reads standard input.
pub fn load(options: &LoadOptions) -> Result<Project, LoadError> {
    load_with_stdin(options, &mut std::io::stdin().lock())
}

/// [`load`], with `-` read from `stdin` instead of the process's standard input.
pub fn load_with_stdin(options: &LoadOptions, stdin: &mut dyn Read) -> Result<Project, LoadError> {
    load_detailed(options, stdin).map(|l| l.project)
}

/// Where a variable of the interpolation environment came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VariableOrigin {
    /// The process environment (wins over env files).
    Shell,
    /// An env file (`.env` or `--env-file`), at a line.
    EnvFile(Location),
}

/// One variable of the interpolation environment or used by the files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    /// Its value, when set.
    pub value: Option<String>,
    pub origin: Option<VariableOrigin>,
    /// Env-file assignments the winning value hid (lower precedence), in order.
    pub overridden: Vec<(Location, String)>,
    /// Where the Compose files refer to it, and what each reference gave.
    pub uses: Vec<interpolate::VariableUse>,
}

/// A loaded project with what `wharf config` shows beyond it.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub project: Project,
    /// Every profile named by a service, enabled or not.
    pub profiles: BTreeSet<String>,
    /// Variables referred to by the files, and those set by env files, by name.
    pub variables: BTreeMap<String, Variable>,
}

/// The interpolation environment with where each value came from.
struct Environment {
    values: BTreeMap<String, String>,
    origins: BTreeMap<String, VariableOrigin>,
    overridden: BTreeMap<String, Vec<(Location, String)>>,
}

/// [`load_with_stdin`], keeping the profiles and the variables' provenance.
pub fn load_detailed(options: &LoadOptions, stdin: &mut dyn Read) -> Result<Loaded, LoadError> {
    let mut warnings = Vec::new();
    let cwd = discover::absolute(Path::new("/"), &options.cwd);

    // discover
    let files = discover::find_files(options, &mut warnings)?;
    let project_dir = discover::project_directory(options, &files);
    let mut environment = environment(options, &cwd, &project_dir)?;

    // Every file is read once: standard input cannot be read twice.
    let mut sources = Vec::new();
    for f in &files {
        let text = if f.path.as_os_str() == "-" {
            let mut bytes = Vec::new();
            stdin.read_to_end(&mut bytes).map_err(|e| {
                LoadError::new(
                    LoadErrorKind::Files,
                    format!("cannot read standard input: {e}"),
                )
            })?;
            source::utf8(bytes).map_err(|e| text_error(&f.display, e))?
        } else {
            source::read_text(&f.path).map_err(|e| text_error(&f.display, e))?
        };
        sources.push((f, text));
    }

    // COMPOSE_PROJECT_NAME is the project name for interpolation unless the
    // environment sets it. A name from -p is known now; one from the files or
    // the directory only after reading them, which is then done again when
    // the files refer to the variable.
    if options.project_name.is_some() {
        let name = discover::project_name(options, &environment.values, None, &project_dir)?;
        environment
            .values
            .entry(PROJECT_NAME_VARIABLE.to_string())
            .or_insert(name);
    }
    let mut unset = interpolate::Unset::default();
    let mut ignored = Vec::new();
    let mut root = read_project(
        &sources,
        &project_dir,
        &cwd,
        options,
        &environment.values,
        &mut unset,
        &mut ignored,
    )?;
    let name = discover::project_name(
        options,
        &environment.values,
        top_level_name(&root)?.as_deref(),
        &project_dir,
    )?;
    if !environment.values.contains_key(PROJECT_NAME_VARIABLE)
        && unset.uses.iter().any(|u| u.name == PROJECT_NAME_VARIABLE)
    {
        environment
            .values
            .insert(PROJECT_NAME_VARIABLE.to_string(), name.clone());
        unset = interpolate::Unset::default();
        ignored.clear();
        root = read_project(
            &sources,
            &project_dir,
            &cwd,
            options,
            &environment.values,
            &mut unset,
            &mut ignored,
        )?;
    }
    warnings.extend(unset.warnings());
    for w in ignored {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
    let env = &environment.values;

    // model → validate
    let mut active: BTreeSet<String> = options.profiles.iter().cloned().collect();
    if let Some(p) = env.get("COMPOSE_PROFILES") {
        active.extend(
            p.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(String::from),
        );
    }
    let mut ctx = typed::Context {
        project_name: &name,
        project_dir: &project_dir,
        cwd: &cwd,
        env,
        profiles: &active,
        warnings: &mut warnings,
    };
    let typed = typed::build(&root, &mut ctx)?;
    let volumes = typed.volumes.clone();
    let profiles: BTreeSet<String> = typed
        .services
        .iter()
        .flat_map(|s| s.service.profiles.iter().cloned())
        .collect();
    let named: BTreeSet<String> = options.services.iter().cloned().collect();
    let checked = validate::check(typed, &name, &active, &named)?;

    let mut variables: BTreeMap<String, Variable> = BTreeMap::new();
    let describe = |n: &str| Variable {
        name: n.to_string(),
        value: env.get(n).cloned(),
        origin: environment.origins.get(n).cloned(),
        overridden: environment.overridden.get(n).cloned().unwrap_or_default(),
        uses: Vec::new(),
    };
    for (n, o) in &environment.origins {
        if matches!(o, VariableOrigin::EnvFile(_)) {
            variables.insert(n.clone(), describe(n));
        }
    }
    for u in &unset.uses {
        variables
            .entry(u.name.clone())
            .or_insert_with(|| describe(&u.name))
            .uses
            .push(u.clone());
    }

    let project = Project {
        name,
        working_dir: project_dir,
        config_files: files.iter().map(|f| f.path.clone()).collect(),
        services: checked.services,
        networks: checked.networks,
        volumes,
        warnings,
        secrets: checked.secrets,
        configs: checked.configs,
        models: checked.models,
        extensions: checked.extensions,
    };
    Ok(Loaded {
        project,
        profiles,
        variables,
    })
}

/// The variable that holds the project name during interpolation.
const PROJECT_NAME_VARIABLE: &str = "COMPOSE_PROJECT_NAME";

/// Parses, interpolates, canonicalizes and resolves (include, extends) each
/// file, then merges them in order into one tree.
fn read_project(
    sources: &[(&discover::SourceFile, String)],
    project_dir: &Path,
    cwd: &Path,
    options: &LoadOptions,
    env: &BTreeMap<String, String>,
    unset: &mut interpolate::Unset,
    warnings: &mut Vec<String>,
) -> Result<yaml::Node, LoadError> {
    let mut docs = Vec::new();
    for (f, text) in sources {
        // Standard input resolves relative paths against the project directory.
        let file_path = if f.path.as_os_str() == "-" {
            project_dir.join("-")
        } else {
            f.path.clone()
        };
        for mut doc in resolve::read_docs(text, f.display.clone(), env, unset, warnings)? {
            let mut resolver = resolve::Resolver {
                cwd,
                shell: &options.env,
                unset,
                warnings,
                including: vec![file_path.clone()],
            };
            resolve::resolve(&mut doc, &file_path, env, &mut resolver)?;
            docs.push(doc);
        }
    }
    let mut docs = docs.into_iter();
    let Some(mut root) = docs.next() else {
        return Err(LoadError::new(
            LoadErrorKind::Files,
            "no configuration file provided",
        ));
    };
    merge::finalize(&mut root);
    for doc in docs {
        merge::merge(&mut root, doc);
    }
    Ok(root)
}

/// The top-level `name:`, when the files set it.
fn top_level_name(root: &yaml::Node) -> Result<Option<String>, LoadError> {
    match root.get("name").filter(|n| !n.is_null()) {
        Some(n) => match &n.value {
            yaml::Value::Scalar(t, _) => Ok(Some(t.clone())),
            _ => Err(canonical::bad(
                &n.loc,
                "name",
                format!("must be a string, not {}", n.describe()),
            )),
        },
        None => Ok(None),
    }
}

/// A Compose file that cannot be read: a `Files` error, but for text that is
/// not UTF-8, which is a problem of the file's contents (`Yaml`) at its position.
fn text_error(display: &std::sync::Arc<str>, e: source::TextError) -> LoadError {
    match e.position() {
        Some((line, column)) => LoadError::at(
            LoadErrorKind::Yaml,
            Location {
                file: display.clone(),
                line,
                column,
            },
            "",
            e.to_string(),
        ),
        None => LoadError::new(
            LoadErrorKind::Files,
            format!("{display}: cannot read the file: {e}"),
        ),
    }
}

/// The interpolation environment: `.env` (or `--env-file`s), then the shell over it.
fn environment(
    options: &LoadOptions,
    cwd: &Path,
    project_dir: &Path,
) -> Result<Environment, LoadError> {
    let (paths, must_exist) = if options.env_files.is_empty() {
        (vec![project_dir.join(".env")], false)
    } else {
        (
            options
                .env_files
                .iter()
                .map(|p| discover::absolute(cwd, p))
                .collect(),
            true,
        )
    };
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    let mut origins: BTreeMap<String, VariableOrigin> = BTreeMap::new();
    let mut overridden: BTreeMap<String, Vec<(Location, String)>> = BTreeMap::new();
    for path in paths {
        let text = match source::read_text(&path) {
            Ok(t) => t,
            Err(e) if e.is_not_found() && !must_exist => continue,
            Err(e) => {
                let file = discover::display_name(cwd, &path);
                return Err(match e.position() {
                    Some((line, column)) => LoadError::at(
                        LoadErrorKind::EnvFile,
                        Location { file, line, column },
                        "",
                        e.to_string(),
                    ),
                    None => LoadError::new(
                        LoadErrorKind::EnvFile,
                        format!("{file}: cannot read the env file: {e}"),
                    ),
                });
            }
        };
        let shell = &options.env;
        let so_far = env.clone();
        let lookup = |k: &str| shell.get(k).or_else(|| so_far.get(k)).cloned();
        let file = discover::display_name(cwd, &path);
        for (k, v, line) in dotenv::parse_with_lines(&text, file.clone(), &lookup)? {
            let here = Location {
                file: file.clone(),
                line,
                column: 0,
            };
            if let Some(VariableOrigin::EnvFile(prev)) = origins.get(&k) {
                let old = env.get(&k).cloned().unwrap_or_default();
                overridden
                    .entry(k.clone())
                    .or_default()
                    .push((prev.clone(), old));
            }
            origins.insert(k.clone(), VariableOrigin::EnvFile(here));
            env.insert(k, v);
        }
    }
    for (k, v) in &options.env {
        if let Some(VariableOrigin::EnvFile(prev)) = origins.get(k) {
            let old = env.get(k).cloned().unwrap_or_default();
            overridden
                .entry(k.clone())
                .or_default()
                .push((prev.clone(), old));
        }
        origins.insert(k.clone(), VariableOrigin::Shell);
        env.insert(k.clone(), v.clone());
    }
    Ok(Environment {
        values: env,
        origins,
        overridden,
    })
}
