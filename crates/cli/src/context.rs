//! What every command needs: the global flags, the environment, the loaded
//! project and the engine.

use crate::render::progress::{Progress, ProgressMode};
use anyhow::{Context as _, Result};
use clap::Args;
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use wharf_app::registry::RegistrySettings;
use wharf_engine::{EngineConfig, LinuxEngine};

/// The registry settings (credentials directory, insecure registries, push
/// chunk size) from this process's environment, for commands without a
/// project (`login`, `search`).
pub fn registry_settings() -> Result<RegistrySettings> {
    let env: BTreeMap<String, String> = std::env::vars().collect();
    Ok(RegistrySettings::from_environment(&env)?)
}

/// Whether `WHARF_TIMINGS` asks for the per-phase timers on standard error.
pub fn timings_wanted() -> bool {
    std::env::var_os("WHARF_TIMINGS").is_some_and(|v| !v.is_empty() && v != "0")
}

#[derive(Args, Debug, Clone)]
pub struct GlobalOptions {
    /// Compose configuration files
    #[arg(short = 'f', long = "file")]
    pub files: Vec<PathBuf>,
    /// Project name
    #[arg(short = 'p', long = "project-name")]
    pub project_name: Option<String>,
    /// Specify an alternate working directory (default: the path of the first Compose file)
    #[arg(long)]
    pub project_directory: Option<PathBuf>,
    /// Specify an alternate environment file
    #[arg(long = "env-file")]
    pub env_files: Vec<PathBuf>,
    /// Specify a profile to enable
    #[arg(long = "profile")]
    pub profiles: Vec<String>,
    /// State directory of wharf
    #[arg(
        long,
        global = true,
        env = "WHARF_ROOT",
        default_value = "/var/lib/wharf"
    )]
    pub root: PathBuf,
    /// Control when to print ANSI control characters ("never"|"always"|"auto")
    #[arg(long, default_value = "auto")]
    pub ansi: String,
    /// Set type of progress output (auto, tty, plain, json, quiet)
    #[arg(long, env = "COMPOSE_PROGRESS", default_value = "auto", value_parser = ["auto", "tty", "plain", "json", "quiet"])]
    pub progress: String,
    /// Control max parallelism, -1 for unlimited
    #[arg(long, env = "COMPOSE_PARALLEL_LIMIT", default_value_t = -1, allow_negative_numbers = true)]
    pub parallel: i64,
}

impl GlobalOptions {
    pub fn environment(&self) -> BTreeMap<String, String> {
        std::env::vars().collect()
    }

    /// Whether to colour and redraw on stream `is_tty`.
    pub fn ansi(&self, is_tty: bool) -> bool {
        match self.ansi.as_str() {
            "never" => false,
            "always" => true,
            _ => is_tty && std::env::var_os("NO_COLOR").is_none(),
        }
    }

    pub fn stdout_ansi(&self) -> bool {
        self.ansi(std::io::stdout().is_terminal())
    }

    pub fn stderr_ansi(&self) -> bool {
        self.ansi(std::io::stderr().is_terminal())
    }

    pub fn progress_mode(&self) -> ProgressMode {
        ProgressMode::parse(
            &self.progress,
            &self.ansi,
            std::io::stderr().is_terminal(),
            self.stderr_ansi(),
        )
        .unwrap_or(ProgressMode::Plain)
    }

    /// The progress display of a command, titled like compose's (`Running`).
    pub fn progress(&self, title: &'static str) -> Progress {
        Progress::new(self.progress_mode(), title)
    }

    /// `--parallel`: how many steps may run at once, `None` for no limit.
    pub fn parallel_limit(&self) -> Option<usize> {
        usize::try_from(self.parallel).ok().filter(|n| *n > 0)
    }

    /// The registry settings from this process's environment.
    pub fn registry(&self) -> Result<RegistrySettings> {
        registry_settings()
    }

    pub fn load_project(&self) -> Result<wharf_compose::Project> {
        self.load_project_for(&[])
    }

    /// Load the project with `services` named on the command line: they are
    /// enabled whatever their profiles.
    pub fn load_project_for(&self, services: &[String]) -> Result<wharf_compose::Project> {
        let options = wharf_compose::LoadOptions {
            cwd: std::env::current_dir().context("reading the current directory")?,
            files: self.files.clone(),
            project_directory: self.project_directory.clone(),
            project_name: self.project_name.clone(),
            env: self.environment(),
            env_files: self.env_files.clone(),
            profiles: self.profiles.clone(),
            services: services.to_vec(),
        };
        let project = wharf_compose::load(&options)?;
        for warning in &project.warnings {
            eprintln!("WARN[0000] {warning}");
        }
        Ok(project)
    }

    /// The project name when the project may not load (`down`, `ps` from
    /// anywhere with `-p`): the loaded project's, else `-p` or
    /// `COMPOSE_PROJECT_NAME`.
    pub fn project_or_name(&self) -> Result<(Option<wharf_compose::Project>, String)> {
        match self.load_project() {
            Ok(project) => {
                let name = project.name.clone();
                Ok((Some(project), name))
            }
            Err(error) => {
                let explicit = self
                    .project_name
                    .clone()
                    .or_else(|| std::env::var("COMPOSE_PROJECT_NAME").ok());
                match explicit {
                    Some(name) if self.files.is_empty() => Ok((None, name)),
                    _ => Err(error),
                }
            }
        }
    }

    pub fn engine(&self) -> Result<LinuxEngine> {
        let config = EngineConfig {
            root: self.root.clone(),
            cgroup_fs_root: PathBuf::from(
                std::env::var("WHARF_CGROUP_FS").unwrap_or_else(|_| "/sys/fs/cgroup".into()),
            ),
            cgroup_parent: std::env::var("WHARF_CGROUP_PARENT").unwrap_or_else(|_| "wharf".into()),
            monitor_program: monitor_program()?,
            timings: timings_wanted(),
        };
        LinuxEngine::open(config).with_context(|| {
            format!(
                "opening the wharf state in {} (wharf needs root; set --root or WHARF_ROOT to use another directory)",
                self.root.display()
            )
        })
    }
}

/// The program each container's monitor runs: `wharf-monitor` beside the
/// wharf executable (the monitor alone, a fraction of wharf's memory), or
/// wharf itself (`wharf __monitor …`) where it was installed without it.
fn monitor_program() -> Result<PathBuf> {
    let wharf = std::env::current_exe()
        .context("finding the wharf executable to run container monitors")?;
    let beside = wharf.with_file_name("wharf-monitor");
    Ok(if beside.is_file() { beside } else { wharf })
}
