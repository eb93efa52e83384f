//! wharf-compose: reads Compose files into a typed [`Project`].
//!
//! Stages, one module each: discover ([`discover`]: files, project directory,
//! project name) → parse ([`yaml`]: positioned tree, anchors, `<<`) →
//! interpolate ([`interpolate`], with [`dotenv`] for `.env`) → canonicalize
//! syntax per file ([`canonical`]: short → long forms) → merge ([`merge`]) →
//! model ([`typed`]: types, keys, units) → validate ([`validate`]:
//! references, profiles, cycles) → [`Project`], whose dependency graph is in
//! [`graph`]. The process environment is passed in through [`LoadOptions`];
//! nothing here reads it.

pub mod canonical;
pub mod discover;
pub mod dotenv;
pub mod error;
pub mod graph;
pub mod interpolate;
pub mod keys;
pub mod merge;
pub mod model;
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
}

/// Load a project; `-` in `options.files` reads standard input.
pub fn load(options: &LoadOptions) -> Result<Project, LoadError> {
    load_with_stdin(options, &mut std::io::stdin().lock())
}

/// [`load`], with `-` read from `stdin` instead of the process's standard input.
pub fn load_with_stdin(options: &LoadOptions, stdin: &mut dyn Read) -> Result<Project, LoadError> {
    let mut warnings = Vec::new();
    let cwd = discover::absolute(Path::new("/"), &options.cwd);

    // discover
    let files = discover::find_files(options, &mut warnings)?;
    let project_dir = discover::project_directory(options, &files);
    let env = environment(options, &cwd, &project_dir)?;

    // parse → interpolate → canonicalize, file by file
    let mut unset = interpolate::Unset::default();
    let mut docs = Vec::new();
    for f in &files {
        let text = if f.path.as_os_str() == "-" {
            let mut s = String::new();
            stdin.read_to_string(&mut s).map_err(|e| {
                LoadError::new(
                    LoadErrorKind::Files,
                    format!("cannot read standard input: {e}"),
                )
            })?;
            s
        } else {
            std::fs::read_to_string(&f.path).map_err(|e| {
                LoadError::new(
                    LoadErrorKind::Files,
                    format!("{}: cannot read the file: {e}", f.display),
                )
            })?
        };
        let parsed = yaml::parse(&text, f.display.clone())?;
        if parsed.iter().all(yaml::Node::is_null) {
            return Err(LoadError::new(
                LoadErrorKind::Yaml,
                format!("{}: empty compose file", f.display),
            ));
        }
        for mut doc in parsed {
            if doc.is_null() {
                continue;
            }
            if doc.as_map().is_none() {
                return Err(canonical::bad(
                    &doc.loc,
                    "",
                    format!("the top level must be a mapping, not {}", doc.describe()),
                ));
            }
            interpolate::interpolate_tree(&mut doc, "", &env, &mut unset)?;
            canonical::canonicalize(&mut doc)?;
            docs.push(doc);
        }
    }
    warnings.extend(unset.warnings());

    // merge
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

    // project name
    let top_name = match root.get("name").filter(|n| !n.is_null()) {
        Some(n) => match &n.value {
            yaml::Value::Scalar(t, _) => Some(t.clone()),
            _ => {
                return Err(canonical::bad(
                    &n.loc,
                    "name",
                    format!("must be a string, not {}", n.describe()),
                ))
            }
        },
        None => None,
    };
    let name = discover::project_name(options, &env, top_name.as_deref(), &project_dir)?;

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
        env: &env,
        profiles: &active,
        warnings: &mut warnings,
    };
    let typed = typed::build(&root, &mut ctx)?;
    let volumes = typed.volumes.clone();
    let checked = validate::check(typed, &name, &active)?;

    Ok(Project {
        name,
        working_dir: project_dir,
        config_files: files.iter().map(|f| f.path.clone()).collect(),
        services: checked.services,
        networks: checked.networks,
        volumes,
        warnings,
    })
}

/// The interpolation environment: `.env` (or `--env-file`s), then the shell over it.
fn environment(
    options: &LoadOptions,
    cwd: &Path,
    project_dir: &Path,
) -> Result<BTreeMap<String, String>, LoadError> {
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
    for path in paths {
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => continue,
            Err(e) => {
                return Err(LoadError::new(
                    LoadErrorKind::EnvFile,
                    format!(
                        "{}: cannot read the env file: {e}",
                        discover::display_name(cwd, &path)
                    ),
                ))
            }
        };
        let shell = &options.env;
        let so_far = env.clone();
        let lookup = |k: &str| shell.get(k).or_else(|| so_far.get(k)).cloned();
        for (k, v) in dotenv::parse(&text, discover::display_name(cwd, &path), &lookup)? {
            env.insert(k, v);
        }
    }
    for (k, v) in &options.env {
        env.insert(k.clone(), v.clone());
    }
    Ok(env)
}
