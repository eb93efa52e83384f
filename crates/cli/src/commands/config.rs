//! `wharf config`: parse, resolve and render the Compose files in docker
//! compose's canonical form (YAML or JSON), list their services, volumes,
//! networks, profiles or images, or explain where each variable's value came
//! from (`--explain VAR`).

use crate::context::GlobalOptions;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::PathBuf;
use wharf_compose::interpolate::Resolution;
use wharf_compose::render::{self, Format};
use wharf_compose::{Loaded, Project, VariableOrigin};

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// Format the output. Values: [yaml | json]
    #[arg(long, default_value = "yaml")]
    pub format: String,
    /// Only validate the configuration, don't print anything
    #[arg(short, long)]
    pub quiet: bool,
    /// Print the service names, one per line
    #[arg(long)]
    pub services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    pub volumes: bool,
    /// Print the network names, one per line
    #[arg(long)]
    pub networks: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    pub profiles: bool,
    /// Print the image names, one per line
    #[arg(long)]
    pub images: bool,
    /// Save to file (default to stdout)
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Explain where a variable's value comes from (shell, env file and line,
    /// default) and where the files use it; `*` for every variable
    #[arg(long, value_name = "VAR")]
    pub explain: Vec<String>,
    /// Services to keep (with their dependencies); all when empty
    pub service: Vec<String>,
}

fn load(global: &GlobalOptions) -> Result<Loaded> {
    let options = wharf_compose::LoadOptions {
        cwd: std::env::current_dir().context("reading the current directory")?,
        files: global.files.clone(),
        project_directory: global.project_directory.clone(),
        project_name: global.project_name.clone(),
        env: global.environment(),
        env_files: global.env_files.clone(),
        profiles: global.profiles.clone(),
        services: Vec::new(),
    };
    let loaded = wharf_compose::load_detailed(&options, &mut std::io::stdin().lock())?;
    for warning in &loaded.project.warnings {
        eprintln!("WARN[0000] {warning}");
    }
    Ok(loaded)
}

/// Keeps `names` and what they depend on; an unknown name is an error.
fn select(project: &mut Project, names: &[String]) -> Result<()> {
    if names.is_empty() {
        return Ok(());
    }
    let mut keep: BTreeSet<String> = BTreeSet::new();
    let mut todo: Vec<String> = names.to_vec();
    while let Some(n) = todo.pop() {
        super::check_services(project, std::slice::from_ref(&n))?;
        let Some(s) = project.services.get(&n) else {
            continue;
        };
        if keep.insert(n.clone()) {
            todo.extend(s.depends_on.keys().cloned());
        }
    }
    project.services.retain(|k, _| keep.contains(k));
    Ok(())
}

/// Services by name, each after what it depends on (docker compose's order).
fn dependency_order(project: &Project) -> Vec<String> {
    fn visit(p: &Project, n: &str, seen: &mut BTreeSet<String>, out: &mut Vec<String>) {
        if !seen.insert(n.to_string()) {
            return;
        }
        if let Some(s) = p.services.get(n) {
            for d in s.depends_on.keys() {
                visit(p, d, seen, out);
            }
            out.push(n.to_string());
        }
    }
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for n in project.services.keys() {
        visit(project, n, &mut seen, &mut out);
    }
    out
}

fn explain(loaded: &Loaded, names: &[String]) -> Result<String> {
    let all = names.iter().any(|n| n == "*");
    let mut out = String::new();
    let wanted: Vec<&str> = if all {
        loaded.variables.keys().map(String::as_str).collect()
    } else {
        names.iter().map(String::as_str).collect()
    };
    for name in wanted {
        let v = loaded.variables.get(name);
        let value = v.and_then(|v| v.value.as_deref());
        match (value, v.and_then(|v| v.origin.as_ref())) {
            (Some(val), Some(VariableOrigin::Shell)) => {
                out.push_str(&format!("{name}={val:?}  from the shell environment\n"))
            }
            (Some(val), Some(VariableOrigin::EnvFile(at))) => {
                out.push_str(&format!("{name}={val:?}  from {at}\n"))
            }
            _ => out.push_str(&format!("{name} is not set\n")),
        }
        if let Some(v) = v {
            for (at, old) in &v.overridden {
                out.push_str(&format!("  overrides {old:?} set at {at}\n"));
            }
            for u in &v.uses {
                let how = match &u.resolution {
                    Resolution::Value(x) => format!("gives {x:?}"),
                    Resolution::Default(d) => format!("unset or empty: default {d:?} used"),
                    Resolution::Alternate(a) => format!("set: alternative {a:?} used"),
                    Resolution::Blank => "unset: blank string used".to_string(),
                };
                out.push_str(&format!("  used at {}: {}: {how}\n", u.location, u.path));
            }
            if v.uses.is_empty() {
                out.push_str("  not used by the Compose files\n");
            }
        } else {
            out.push_str("  not used by the Compose files\n");
        }
    }
    Ok(out)
}

pub fn config(global: &GlobalOptions, args: ConfigArgs) -> Result<i32> {
    let format = match args.format.as_str() {
        "yaml" => Format::Yaml,
        "json" => Format::Json,
        other => bail!("unsupported format {other:?}: use yaml or json"),
    };
    let mut loaded = load(global)?;
    if args.quiet {
        return Ok(0);
    }
    select(&mut loaded.project, &args.service)?;
    let project = &loaded.project;
    let lines = |items: Vec<String>| {
        let mut s = items.join("\n");
        if !s.is_empty() {
            s.push('\n');
        }
        s
    };
    let used = render::used(project);
    let text = if !args.explain.is_empty() {
        explain(&loaded, &args.explain)?
    } else if args.services {
        lines(dependency_order(project))
    } else if args.volumes {
        lines(used.volumes.into_iter().collect())
    } else if args.networks {
        lines(used.networks.into_iter().collect())
    } else if args.profiles {
        lines(loaded.profiles.iter().cloned().collect())
    } else if args.images {
        let images: BTreeMap<&String, String> = project
            .services
            .iter()
            .map(|(n, s)| {
                (
                    n,
                    s.image
                        .clone()
                        .unwrap_or_else(|| format!("{}-{n}", project.name)),
                )
            })
            .collect();
        lines(images.into_values().collect())
    } else {
        render::render(project, format)
    };
    match &args.output {
        Some(path) => {
            std::fs::write(path, &text).with_context(|| format!("writing {}", path.display()))?
        }
        None => {
            let mut stdout = std::io::stdout().lock();
            stdout.write_all(text.as_bytes())?;
            stdout.flush()?;
        }
    }
    Ok(0)
}
