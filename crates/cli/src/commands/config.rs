//! `wharf config`: its flags, loading the project and writing what the core
//! (`wharf_app::config`) decides to show — the canonical document, a list of
//! names, or the variables' explanation — to stdout or `--output`.

use crate::context::GlobalOptions;
use anyhow::{Context as _, Result};
use clap::Args;
use std::io::Write as _;
use std::path::PathBuf;
use wharf_app::config::{ConfigFormat, ConfigOptions, ConfigOutput, ConfigView};
use wharf_compose::Loaded;

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

/// Load the project as every command does, keeping the variables' origins
/// for `--explain`.
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

/// The flags as the core's options; the first listing flag given wins, as
/// in docker compose.
fn options(args: ConfigArgs, format: ConfigFormat) -> ConfigOptions {
    let view = if !args.explain.is_empty() {
        ConfigView::Explain(args.explain)
    } else if args.services {
        ConfigView::Services
    } else if args.volumes {
        ConfigView::Volumes
    } else if args.networks {
        ConfigView::Networks
    } else if args.profiles {
        ConfigView::Profiles
    } else if args.images {
        ConfigView::Images
    } else {
        ConfigView::Document(format)
    };
    ConfigOptions {
        view,
        quiet: args.quiet,
        services: args.service,
    }
}

pub fn config(global: &GlobalOptions, args: ConfigArgs) -> Result<i32> {
    let format: ConfigFormat = args.format.parse()?;
    let loaded = load(global)?;
    let output_path = args.output.clone();
    let text = match wharf_app::config::config(loaded, &options(args, format))? {
        ConfigOutput::Nothing => return Ok(0),
        ConfigOutput::Text(text) => text,
        ConfigOutput::Names(names) => {
            let mut text = names.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            text
        }
    };
    match &output_path {
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
