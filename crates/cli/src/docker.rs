//! The docker personality: invoked as `docker` (a symlink to the wharf
//! binary, as podman-docker installs one), wharf takes docker's top level —
//! `docker run`, `ps`, `exec`, `images`, `rmi`, … are the single-container
//! and image commands, and `docker compose …` is wharf's own Compose command
//! line. Usage errors exit 125, as docker's do.

use crate::commands::{self, container};
use crate::context::GlobalOptions;
use clap::{Parser, Subcommand};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// docker's exit code for an error of the docker command itself (a bad
/// flag, a container that could not be created).
pub const DOCKER_FAILURE: u8 = 125;

/// Whether the program was started under the name `docker`.
pub fn invoked_as_docker(argv0: Option<&OsString>) -> bool {
    argv0
        .and_then(|a| Path::new(a).file_name())
        .is_some_and(|name| name == "docker")
}

#[derive(Parser, Debug)]
#[command(
    name = "docker",
    version,
    about = "A self-sufficient runtime for containers (wharf, with no daemon)",
    disable_help_subcommand = true
)]
struct DockerCli {
    /// State directory of wharf
    #[arg(
        long,
        global = true,
        env = "WHARF_ROOT",
        default_value = "/var/lib/wharf"
    )]
    root: PathBuf,
    #[command(subcommand)]
    command: DockerCommand,
}

#[derive(Subcommand, Debug)]
enum DockerCommand {
    /// Create and run a new container from an image
    Run(Box<container::create::RunArgs>),
    /// Create a new container
    Create(Box<container::create::CreateFlags>),
    /// Start one or more stopped containers
    Start(container::lifecycle::StartArgs),
    /// Stop one or more running containers
    Stop(container::lifecycle::StopArgs),
    /// Restart one or more containers
    Restart(container::lifecycle::StopArgs),
    /// Kill one or more running containers
    Kill(container::lifecycle::KillArgs),
    /// Remove one or more containers
    Rm(container::lifecycle::RmArgs),
    /// List containers
    Ps(container::list::LsArgs),
    /// Return low-level information on Docker objects
    Inspect(container::inspect::InspectArgs),
    /// Fetch the logs of a container
    Logs(container::streams::LogsArgs),
    /// Execute a command in a running container
    Exec(container::streams::ExecArgs),
    /// Display the running processes of a container
    Top(container::streams::TopArgs),
    /// Display a live stream of container(s) resource usage statistics
    Stats(container::streams::StatsArgs),
    /// List port mappings or a specific mapping for the container
    Port(container::streams::PortArgs),
    /// Rename a container
    Rename(container::lifecycle::RenameArgs),
    /// Update configuration of one or more containers
    Update(container::lifecycle::UpdateArgs),
    /// Block until one or more containers stop, then print their exit codes
    Wait(container::lifecycle::ContainersArgs),
    /// Pause all processes within one or more containers
    Pause(container::lifecycle::ContainersArgs),
    /// Unpause all processes within one or more containers
    Unpause(container::lifecycle::ContainersArgs),
    /// Copy files/folders between a container and the local filesystem
    Cp(container::streams::CpArgs),
    /// Attach local standard input, output, and error streams to a running container
    Attach(container::streams::AttachArgs),
    /// Export a container's filesystem as a tar archive
    Export(container::files::ExportArgs),
    /// Inspect changes to files or directories on a container's filesystem
    Diff(container::files::DiffArgs),
    /// Create a new image from a container's changes
    Commit(container::files::CommitArgs),
    /// Manage containers
    #[command(subcommand)]
    Container(container::ContainerCommand),
    /// List images
    Images(commands::image::LsArgs),
    /// Manage images
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Download an image from a registry
    Pull(commands::pull::ImagePullArgs),
    /// Upload an image to a registry
    Push(commands::push::ImagePushArgs),
    /// Remove one or more images
    Rmi(commands::image::RmArgs),
    /// Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE
    Tag { source: String, target: String },
    /// Build an image from a Dockerfile
    Build(commands::build::ImageBuildArgs),
    /// Save one or more images to a tar archive
    Save(commands::image::SaveArgs),
    /// Load an image from a tar archive or STDIN
    Load(commands::image::LoadArgs),
    /// Import the contents from a tarball to create a filesystem image
    Import(commands::image::ImportArgs),
    /// Show the history of an image
    History(commands::image::HistoryArgs),
    /// Manage volumes
    #[command(subcommand)]
    Volume(commands::volume::VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(commands::network::NetworkCommand),
    /// Manage Docker
    #[command(subcommand)]
    System(commands::system::SystemCommand),
    /// Search a registry's catalog for images
    Search(commands::search::SearchArgs),
    /// Log in to a registry
    Login(commands::login::LoginArgs),
    /// Log out from a registry
    Logout(commands::login::LogoutArgs),
    /// Show the Docker version information
    Version(commands::version::FormatArgs),
    /// Display system-wide information
    Info(commands::version::FormatArgs),
    /// Define and run multi-container applications (wharf's Compose commands)
    Compose {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<OsString>,
    },
}

/// The options the shared commands read; docker's top level sets only the root.
fn global(root: PathBuf) -> GlobalOptions {
    GlobalOptions {
        files: Vec::new(),
        project_name: None,
        project_directory: None,
        env_files: Vec::new(),
        profiles: Vec::new(),
        root,
        ansi: "auto".into(),
        progress: "auto".into(),
        parallel: -1,
    }
}

/// Run docker's command line `args` (`argv[0]` included); the process's exit code.
pub fn main(args: Vec<OsString>) -> u8 {
    let cli = match DockerCli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(error) => {
            let _ = error.print();
            return if error.use_stderr() {
                DOCKER_FAILURE
            } else {
                0
            };
        }
    };
    let global = global(cli.root);
    use commands::image::ImageCommand;
    // `run` and `create` failing to make the container is docker's 125.
    let own_failure = matches!(
        cli.command,
        DockerCommand::Run(_) | DockerCommand::Create(_)
    );
    let result = match cli.command {
        DockerCommand::Compose { args: rest } => {
            let mut argv = vec![OsString::from("docker compose")];
            argv.extend(rest);
            return crate::compose_main(argv);
        }
        DockerCommand::Run(args) => container::create::run(&global, *args),
        DockerCommand::Create(args) => container::create::create(&global, *args),
        DockerCommand::Start(args) => container::lifecycle::start(&global, args),
        DockerCommand::Stop(args) => container::lifecycle::stop(&global, args),
        DockerCommand::Restart(args) => container::lifecycle::restart(&global, args),
        DockerCommand::Kill(args) => container::lifecycle::kill(&global, args),
        DockerCommand::Rm(args) => container::lifecycle::rm(&global, args),
        DockerCommand::Ps(args) => container::list::ls(&global, args),
        DockerCommand::Inspect(args) => container::inspect::inspect(&global, args, false),
        DockerCommand::Logs(args) => container::streams::logs(&global, args),
        DockerCommand::Exec(args) => container::streams::exec(&global, args),
        DockerCommand::Top(args) => container::streams::top(&global, args),
        DockerCommand::Stats(args) => container::streams::stats(&global, args),
        DockerCommand::Port(args) => container::streams::port(&global, args),
        DockerCommand::Rename(args) => container::lifecycle::rename(&global, args),
        DockerCommand::Update(args) => container::lifecycle::update(&global, args),
        DockerCommand::Wait(args) => container::lifecycle::wait(&global, args),
        DockerCommand::Pause(args) => container::lifecycle::pause(&global, args),
        DockerCommand::Unpause(args) => container::lifecycle::unpause(&global, args),
        DockerCommand::Cp(args) => global
            .engine()
            .and_then(|engine| container::streams::cp(&global, &engine, args)),
        DockerCommand::Attach(args) => global.engine().and_then(|engine| {
            container::streams::attach(&global, &engine, &args.container, args.no_stdin)
        }),
        DockerCommand::Export(args) => container::files::export(&global, args),
        DockerCommand::Diff(args) => container::files::diff(&global, args),
        DockerCommand::Commit(args) => container::files::commit(&global, args),
        DockerCommand::Container(cmd) => container::container(&global, cmd),
        DockerCommand::Images(args) => commands::image::ls(&global, args),
        DockerCommand::Image(cmd) => commands::image::image(&global, cmd),
        DockerCommand::Pull(args) => commands::pull::image_pull(&global, args),
        DockerCommand::Push(args) => commands::image::image(&global, ImageCommand::Push(args)),
        DockerCommand::Rmi(args) => commands::image::image(&global, ImageCommand::Rm(args)),
        DockerCommand::Tag { source, target } => {
            commands::image::image(&global, ImageCommand::Tag { source, target })
        }
        DockerCommand::Build(args) => commands::image::image(&global, ImageCommand::Build(args)),
        DockerCommand::Save(args) => commands::image::image(&global, ImageCommand::Save(args)),
        DockerCommand::Load(args) => commands::image::image(&global, ImageCommand::Load(args)),
        DockerCommand::Import(args) => commands::image::image(&global, ImageCommand::Import(args)),
        DockerCommand::History(args) => {
            commands::image::image(&global, ImageCommand::History(args))
        }
        DockerCommand::Volume(cmd) => commands::volume::volume(&global, cmd),
        DockerCommand::Network(cmd) => commands::network::network(&global, cmd),
        DockerCommand::System(cmd) => commands::system::system(&global, cmd),
        DockerCommand::Search(args) => commands::search::search(args),
        DockerCommand::Login(args) => commands::login::login(args),
        DockerCommand::Logout(args) => commands::login::logout(args),
        DockerCommand::Version(args) => commands::version::version(args),
        DockerCommand::Info(args) => commands::version::info(&global, args),
    };
    match result {
        Ok(code) => code.clamp(0, 255) as u8,
        Err(error) => {
            crate::print_error(&error);
            if own_failure {
                DOCKER_FAILURE
            } else {
                1
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        DockerCli::command().debug_assert();
    }

    #[test]
    fn only_the_name_docker_selects_the_personality() {
        assert!(invoked_as_docker(Some(&"/usr/local/bin/docker".into())));
        assert!(invoked_as_docker(Some(&"docker".into())));
        assert!(!invoked_as_docker(Some(&"/usr/bin/wharf".into())));
        assert!(!invoked_as_docker(Some(&"docker-compose".into())));
        assert!(!invoked_as_docker(None));
    }

    #[test]
    fn a_tutorial_run_line_parses() {
        let cli = DockerCli::try_parse_from([
            "docker",
            "run",
            "-it",
            "--rm",
            "--name",
            "con01",
            "-p",
            "8080:80",
            "-v",
            "/srv:/srv:ro",
            "--memory",
            "64m",
            "busybox",
            "sh",
            "-c",
            "echo hi",
        ])
        .unwrap();
        let DockerCommand::Run(run) = cli.command else {
            panic!("{:?}", cli.command)
        };
        let run = *run;
        assert!(run.create.interactive && run.create.tty && run.create.rm);
        assert_eq!(run.create.image, "busybox");
        assert_eq!(run.create.command, ["sh", "-c", "echo hi"]);
        let body = run.create.body().unwrap();
        assert_eq!(body.host_config.resources.memory_bytes, Some(64 << 20));
        assert_eq!(body.host_config.port_bindings[0].host_port, 8080);
    }

    #[test]
    fn unknown_flags_exit_125() {
        assert_eq!(
            main(vec![
                "docker".into(),
                "run".into(),
                "--bogus".into(),
                "busybox".into()
            ]),
            125
        );
    }
}
