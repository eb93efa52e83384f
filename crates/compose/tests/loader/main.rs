//! Integration tests of `wharf_compose::load`, one module per concern, sharing
//! the project-directory harness below.

mod attributes;
mod conformance;
mod discovery;
mod dotenv;
mod example;
mod explain;
mod extends_include;
mod golden;
mod graph;
mod interpolation;
mod limits;
mod merge;
mod ports_volumes;
mod robustness;
mod schema;
mod validation;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use wharf_compose::{load, LoadError, LoadOptions, Project};

/// A project directory `myapp` inside a temporary directory.
pub struct Proj {
    _tmp: tempfile::TempDir,
    pub root: PathBuf,
    pub env: BTreeMap<String, String>,
}

impl Default for Proj {
    fn default() -> Self {
        Proj::new()
    }
}

impl Proj {
    pub fn new() -> Proj {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("myapp");
        std::fs::create_dir(&root).unwrap();
        let mut env = BTreeMap::new();
        env.insert("HOME".to_string(), "/home/tester".to_string());
        Proj {
            _tmp: tmp,
            root,
            env,
        }
    }

    /// A project with `compose.yaml` holding `yaml`.
    pub fn with(yaml: &str) -> Proj {
        let p = Proj::new();
        p.file("compose.yaml", yaml);
        p
    }

    pub fn file(&self, name: &str, content: &str) -> &Proj {
        let path = self.root.join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
        self
    }

    pub fn env(mut self, k: &str, v: &str) -> Proj {
        self.env.insert(k.into(), v.into());
        self
    }

    pub fn options(&self) -> LoadOptions {
        LoadOptions {
            cwd: self.root.clone(),
            env: self.env.clone(),
            ..LoadOptions::default()
        }
    }

    pub fn load(&self) -> Result<Project, LoadError> {
        load(&self.options())
    }

    pub fn load_with(&self, f: impl FnOnce(&mut LoadOptions)) -> Result<Project, LoadError> {
        let mut o = self.options();
        f(&mut o);
        load(&o)
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// Loads `yaml` as `compose.yaml` of a fresh project.
pub fn load_yaml(yaml: &str) -> Project {
    match Proj::with(yaml).load() {
        Ok(p) => p,
        Err(e) => panic!("load failed: {e}"),
    }
}

/// The error message of loading `yaml`.
pub fn error_of(yaml: &str) -> String {
    match Proj::with(yaml).load() {
        Ok(_) => panic!("expected an error for:\n{yaml}"),
        Err(e) => e.to_string(),
    }
}

pub fn abs(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}
