//! Discover stage: which Compose files to read, the project directory and
//! the project name.
//!
//! Files come from `-f`, else `COMPOSE_FILE`, else the first of the standard
//! names in the working directory or its parents (plus the override file
//! beside it). Names are normalized as docker compose does.

use crate::error::{LoadError, LoadErrorKind};
use crate::LoadOptions;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The standard file names, in the order they are looked for.
pub const FILE_NAMES: [&str; 4] = [
    "compose.yaml",
    "compose.yml",
    "docker-compose.yaml",
    "docker-compose.yml",
];

/// Override files looked for beside a discovered file, first found wins.
pub const OVERRIDE_NAMES: [&str; 4] = [
    "compose.override.yaml",
    "compose.override.yml",
    "docker-compose.override.yaml",
    "docker-compose.override.yml",
];

/// A Compose file to read.
#[derive(Debug, Clone)]
pub struct SourceFile {
    /// How errors name it: as given, or relative to cwd when under it.
    pub display: Arc<str>,
    /// Absolute path; `-` for standard input.
    pub path: PathBuf,
    /// Whether the files were found by looking (not given by `-f`/`COMPOSE_FILE`).
    pub discovered: bool,
}

/// `base` joined with `p`, with `.` and `..` removed without touching the disk.
pub fn absolute(base: &Path, p: &Path) -> PathBuf {
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    let mut out = PathBuf::new();
    for c in joined.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    out.push("..");
                }
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}

/// How to name `abs` to the user: relative when under `cwd`, absolute otherwise.
pub fn display_name(cwd: &Path, abs: &Path) -> Arc<str> {
    match abs.strip_prefix(cwd) {
        Ok(rel) if !rel.as_os_str().is_empty() => Arc::from(rel.to_string_lossy().as_ref()),
        _ => Arc::from(abs.to_string_lossy().as_ref()),
    }
}

fn given(cwd: &Path, p: &Path) -> SourceFile {
    if p.as_os_str() == "-" {
        return SourceFile {
            display: Arc::from("<stdin>"),
            path: PathBuf::from("-"),
            discovered: false,
        };
    }
    let abs = absolute(cwd, p);
    let display = if p.is_relative() {
        Arc::from(p.to_string_lossy().as_ref())
    } else {
        display_name(cwd, &abs)
    };
    SourceFile {
        display,
        path: abs,
        discovered: false,
    }
}

/// Finds the Compose files to read, in merge order.
pub fn find_files(
    options: &LoadOptions,
    warnings: &mut Vec<String>,
) -> Result<Vec<SourceFile>, LoadError> {
    let cwd = absolute(Path::new("/"), &options.cwd);
    if !options.files.is_empty() {
        return Ok(options.files.iter().map(|f| given(&cwd, f)).collect());
    }
    if let Some(list) = options.env.get("COMPOSE_FILE").filter(|v| !v.is_empty()) {
        let sep = options
            .env
            .get("COMPOSE_PATH_SEPARATOR")
            .filter(|s| !s.is_empty())
            .map_or(":", String::as_str);
        return Ok(list
            .split(sep)
            .filter(|s| !s.is_empty())
            .map(|f| given(&cwd, Path::new(f)))
            .collect());
    }
    let mut dir = Some(cwd.as_path());
    while let Some(d) = dir {
        let found: Vec<&str> = FILE_NAMES
            .iter()
            .copied()
            // A directory is found too, as docker compose finds it; reading
            // it then says what it is.
            .filter(|n| d.join(n).exists())
            .collect();
        if let Some(first) = found.first() {
            if found.len() > 1 {
                warnings.push(format!(
                    "Found multiple config files with supported names: {}. Using {first}.",
                    found
                        .iter()
                        .map(|n| d.join(n).to_string_lossy().into_owned())
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            let mut files = vec![d.join(first)];
            if let Some(o) = OVERRIDE_NAMES.iter().find(|n| d.join(n).exists()) {
                files.push(d.join(o));
            }
            return Ok(files
                .into_iter()
                .map(|p| SourceFile {
                    display: display_name(&cwd, &p),
                    path: p,
                    discovered: true,
                })
                .collect());
        }
        dir = d.parent();
    }
    Err(LoadError::new(
        LoadErrorKind::Files,
        format!(
            "no configuration file provided: not found (looked for {} in {} and its parents)",
            FILE_NAMES.join(", "),
            cwd.display()
        ),
    ))
}

/// The project directory: `--project-directory`, else the first file's directory.
pub fn project_directory(options: &LoadOptions, files: &[SourceFile]) -> PathBuf {
    let cwd = absolute(Path::new("/"), &options.cwd);
    if let Some(d) = &options.project_directory {
        return absolute(&cwd, d);
    }
    match files.first() {
        Some(f) if f.path.as_os_str() != "-" => f
            .path
            .parent()
            .map_or_else(|| cwd.clone(), Path::to_path_buf),
        _ => cwd,
    }
}

/// Lowercases and drops characters outside `[a-z0-9_-]`.
pub fn normalize_project_name(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect()
}

fn starts_well(name: &str) -> bool {
    name.chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Picks the project name: `-p` > `COMPOSE_PROJECT_NAME` > `name:` > directory name.
pub fn project_name(
    options: &LoadOptions,
    env: &BTreeMap<String, String>,
    top_level_name: Option<&str>,
    project_dir: &Path,
) -> Result<String, LoadError> {
    let invalid = |what: &str, raw: &str| {
        LoadError::new(
            LoadErrorKind::ProjectName,
            format!(
                "invalid project name {raw:?} ({what}): must consist only of lowercase alphanumeric characters, hyphens, and underscores as well as start with a letter or number"
            ),
        )
    };
    if let Some(p) = &options.project_name {
        let n = normalize_project_name(p);
        return if starts_well(&n) {
            Ok(n)
        } else {
            Err(invalid("from -p", p))
        };
    }
    let candidates = [
        (
            "from COMPOSE_PROJECT_NAME",
            env.get("COMPOSE_PROJECT_NAME").map(String::as_str),
        ),
        ("from the top-level name", top_level_name),
    ];
    for (what, raw) in candidates {
        if let Some(raw) = raw.filter(|r| !r.is_empty()) {
            let n = normalize_project_name(raw);
            let n = n.trim_start_matches(['_', '-']).to_string();
            return if n.is_empty() {
                Err(invalid(what, raw))
            } else {
                Ok(n)
            };
        }
    }
    let base = project_dir
        .file_name()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = normalize_project_name(&base);
    let n = n.trim_start_matches(['_', '-']).to_string();
    if n.is_empty() {
        Err(LoadError::new(
            LoadErrorKind::ProjectName,
            format!(
                "project name could not be derived from the directory {:?}: set one with -p, COMPOSE_PROJECT_NAME or the top-level name",
                project_dir.display().to_string()
            ),
        ))
    } else {
        Ok(n)
    }
}
