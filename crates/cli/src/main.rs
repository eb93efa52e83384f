//! The `wharf` command line: Compose commands with docker compose's flags and
//! output, backed by wharf's own engine. This is the only crate that uses
//! anyhow; every error reaches the user as one line, with docker compose's
//! exit codes: 1, or 14 (no Compose file), 15 (a Compose file that does not
//! load), 16 (a command-line usage error).

mod commands;
mod context;
mod docker;
mod render;
mod terminal;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "wharf",
    version,
    about = "Define and run multi-container applications, with no daemon",
    disable_help_subcommand = true
)]
struct Cli {
    #[command(flatten)]
    global: context::GlobalOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create and start containers
    Up(commands::up::UpArgs),
    /// Stop and remove containers and networks
    Down(commands::up::DownArgs),
    /// List containers
    Ps(commands::ps::PsArgs),
    /// View output from containers
    Logs(commands::logs::LogsArgs),
    /// Display a live stream of container resource usage statistics
    Stats(commands::stats::StatsArgs),
    /// Copy files/folders between a service container and the local filesystem
    Cp(commands::cp::CpArgs),
    /// Attach local standard input, output, and error streams to a service's running container
    ///
    /// Stdin reaches only containers with `stdin_open: true` or `tty: true`
    /// (keys as typed when it has a terminal; detach with ctrl-p ctrl-q or
    /// --detach-keys). Other containers' stdin is closed: attach then only
    /// follows their output.
    Attach(commands::attach::AttachArgs),
    /// Receive real time events from containers
    Events(commands::events::EventsArgs),
    /// Execute a command in a running container
    Exec(commands::exec::ExecArgs),
    /// Run a one-off command on a service
    Run(commands::run::RunArgs),
    /// Display the running processes
    Top(commands::info::TopArgs),
    /// Print the public port for a port binding
    Port(commands::info::PortArgs),
    /// List running compose projects
    Ls(commands::info::LsArgs),
    /// Block until containers of all (or specified) services stop
    Wait(commands::info::WaitArgs),
    /// Start services
    Start(commands::lifecycle::StartArgs),
    /// Stop services
    Stop(commands::lifecycle::StopArgs),
    /// Restart service containers
    Restart(commands::lifecycle::StopArgs),
    /// Removes stopped service containers
    Rm(commands::lifecycle::RmArgs),
    /// Force stop service containers
    Kill(commands::lifecycle::KillArgs),
    /// Pause services
    Pause(commands::lifecycle::PauseArgs),
    /// Unpause services
    Unpause(commands::lifecycle::PauseArgs),
    /// Manage images
    #[command(subcommand)]
    Image(commands::image::ImageCommand),
    /// Manage containers (docker's single-container commands)
    #[command(subcommand)]
    Container(commands::container::ContainerCommand),
    /// Manage wharf (disk usage, starting containers at boot)
    #[command(subcommand)]
    System(commands::system::SystemCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(commands::volume::VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(commands::network::NetworkCommand),
    /// List images used by the created containers
    Images(commands::image::LsArgs),
    /// Pull service images
    Pull(commands::pull::PullArgs),
    /// Push service images
    Push(commands::push::PushArgs),
    /// Log in to a registry
    Login(commands::login::LoginArgs),
    /// Log out from a registry
    Logout(commands::login::LogoutArgs),
    /// Search a registry's catalog for images
    Search(commands::search::SearchArgs),
    /// Watch the build context for services and rebuild/refresh containers when files are updated
    Watch(commands::watch::WatchArgs),
    /// Parse, resolve and render the Compose files in canonical format
    Config(commands::config::ConfigArgs),
    /// Convert the project for another platform (kubernetes)
    #[command(subcommand)]
    Convert(commands::convert::ConvertCommand),
    /// Build or rebuild services
    Build(commands::build::BuildArgs),
    /// Creates containers for a service
    Create(commands::up::CreateArgs),
    /// Scale services
    Scale(commands::up::ScaleArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion { shell: clap_complete::Shell },
    /// Serve Prometheus metrics and a web dashboard of the host's projects
    Dashboard(commands::dashboard::DashboardArgs),
    /// Show the wharf version information
    Version,
    /// Display system-wide information (docker's `info`)
    Info(commands::version::FormatArgs),
    /// Write the manual pages (wharf.1, wharf-SUBCOMMAND.1) into DIR
    #[command(hide = true)]
    Man {
        /// Where to write the pages
        #[arg(default_value = ".")]
        dir: PathBuf,
    },
}

/// docker compose's exit codes for its failure categories; any other error is 1.
mod exit_code {
    /// No Compose file found, or one that cannot be read.
    pub const FILE_NOT_FOUND: u8 = 14;
    /// A Compose file that does not load (YAML, schema, interpolation, references).
    pub const COMPOSE_PARSE: u8 = 15;
    /// An unknown flag or command, a missing or malformed argument.
    pub const COMMAND_SYNTAX: u8 = 16;
}

/// The exit code for an error that ended a command.
fn failure_exit_code(error: &anyhow::Error) -> u8 {
    use wharf_compose::LoadErrorKind;
    let load_error = error
        .chain()
        .find_map(|cause| cause.downcast_ref::<wharf_compose::LoadError>());
    match load_error.map(|e| e.kind) {
        Some(LoadErrorKind::Files) => exit_code::FILE_NOT_FOUND,
        Some(_) => exit_code::COMPOSE_PARSE,
        None => 1,
    }
}

fn main() -> ExitCode {
    // A container's monitor (`wharf __monitor …`, started by the engine) is
    // dispatched before clap parses anything.
    if let Some(code) = wharf_engine::monitor::main_if_monitor(std::env::args_os()) {
        return ExitCode::from(code.clamp(0, 255) as u8);
    }
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    if docker::invoked_as_docker(args.first()) {
        return ExitCode::from(docker::main(args));
    }
    ExitCode::from(compose_main(args))
}

/// wharf's own (Compose-first) command line; also `docker compose …`.
fn compose_main(args: Vec<std::ffi::OsString>) -> u8 {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(error) => {
            // --help and --version print to stdout and succeed.
            let _ = error.print();
            return if error.use_stderr() {
                exit_code::COMMAND_SYNTAX
            } else {
                0
            };
        }
    };
    if cli.global.parallel == 0 || cli.global.parallel < -1 {
        eprintln!(
            "error: --parallel {}: give the number of steps to run at once, or -1 for no limit",
            cli.global.parallel
        );
        return 1;
    }
    wharf_orchestrator::set_parallel_limit(cli.global.parallel_limit());
    let result = match cli.command {
        Command::Up(args) => commands::up::up(&cli.global, args),
        Command::Down(args) => commands::up::down(&cli.global, args),
        Command::Ps(args) => commands::ps::ps(&cli.global, args),
        Command::Logs(args) => commands::logs::logs(&cli.global, args),
        Command::Stats(args) => commands::stats::stats(&cli.global, args),
        Command::Dashboard(args) => commands::dashboard::dashboard(&cli.global, args),
        Command::Attach(args) => commands::attach::attach(&cli.global, args),
        Command::Events(args) => commands::events::events(&cli.global, args),
        Command::Exec(args) => commands::exec::exec(&cli.global, args),
        Command::Cp(args) => commands::cp::cp(&cli.global, args),
        Command::Watch(args) => commands::watch::watch(&cli.global, args),
        Command::Run(args) => commands::run::run(&cli.global, args),
        Command::Top(args) => commands::info::top(&cli.global, args),
        Command::Port(args) => commands::info::port(&cli.global, args),
        Command::Ls(args) => commands::info::ls(&cli.global, args),
        Command::Wait(args) => commands::info::wait(&cli.global, args),
        Command::Start(args) => commands::lifecycle::start(&cli.global, args),
        Command::Stop(args) => commands::lifecycle::stop(&cli.global, args),
        Command::Restart(args) => commands::lifecycle::restart(&cli.global, args),
        Command::Rm(args) => commands::lifecycle::rm(&cli.global, args),
        Command::Kill(args) => commands::lifecycle::kill(&cli.global, args),
        Command::Pause(args) => commands::lifecycle::pause(&cli.global, args),
        Command::Unpause(args) => commands::lifecycle::unpause(&cli.global, args),
        Command::Image(cmd) => commands::image::image(&cli.global, cmd),
        Command::Container(cmd) => commands::container::container(&cli.global, cmd),
        Command::System(cmd) => commands::system::system(&cli.global, cmd),
        Command::Volume(cmd) => commands::volume::volume(&cli.global, cmd),
        Command::Network(cmd) => commands::network::network(&cli.global, cmd),
        Command::Images(args) => commands::image::project_images(&cli.global, args),
        Command::Pull(args) => commands::pull::pull(&cli.global, args),
        Command::Push(args) => commands::push::push(&cli.global, args),
        Command::Login(args) => commands::login::login(args),
        Command::Logout(args) => commands::login::logout(args),
        Command::Search(args) => commands::search::search(args),
        Command::Config(args) => commands::config::config(&cli.global, args),
        Command::Convert(cmd) => commands::convert::convert(&cli.global, cmd),
        Command::Build(args) => commands::build::build(&cli.global, args),
        Command::Create(args) => commands::up::create(&cli.global, args),
        Command::Scale(args) => commands::up::scale(&cli.global, args),
        Command::Completion { shell } => {
            use clap::CommandFactory;
            clap_complete::generate(shell, &mut Cli::command(), "wharf", &mut std::io::stdout());
            Ok(0)
        }
        Command::Man { dir } => {
            use clap::CommandFactory;
            commands::man::write_pages(Cli::command(), &dir).map(|_| 0)
        }
        Command::Info(args) => commands::version::info(&cli.global, args),
        Command::Version => {
            println!("wharf version {}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
    };
    match result {
        Ok(code) => code.clamp(0, 255) as u8,
        Err(error) => {
            print_error(&error);
            failure_exit_code(&error)
        }
    }
}

/// An error and its causes on one line (a cause already in the text is not repeated).
fn print_error(error: &anyhow::Error) {
    let mut message = error.to_string();
    for cause in error.chain().skip(1) {
        let cause = cause.to_string();
        if !message.contains(&cause) {
            message.push_str(": ");
            message.push_str(&cause);
        }
    }
    eprintln!("error: {message}");
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn command_line_definition_is_consistent() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn man_pages_cover_every_subcommand() {
        let dir = tempfile::tempdir().unwrap();
        let written = crate::commands::man::write_pages(super::Cli::command(), dir.path()).unwrap();
        let mut expected = vec!["wharf.1".to_string()];
        for sub in super::Cli::command().get_subcommands() {
            if !sub.is_hide_set() {
                expected.push(format!("wharf-{}.1", sub.get_name()));
            }
        }
        expected.push("wharf-image-pull.1".into());
        assert!(expected.iter().any(|p| p == "wharf-up.1"));
        assert!(!expected
            .iter()
            .any(|p| p.contains("__monitor") || p == "wharf-man.1"));
        for name in &expected {
            let path = dir.path().join(name);
            assert!(written.contains(&path), "{name} not written: {written:?}");
            let page = std::fs::read_to_string(&path).unwrap();
            // The page opens with its title, after the definition of the
            // apostrophe string (`.ie`/`.el`) that its text uses.
            let first_request = page
                .lines()
                .find(|l| !l.starts_with(".ie ") && !l.starts_with(".el "))
                .unwrap_or_default();
            let title = name.trim_end_matches(".1");
            assert!(
                first_request.starts_with(&format!(".TH {title} 1 ")),
                "{name}: {page}"
            );
        }
        let up = std::fs::read_to_string(dir.path().join("wharf-up.1")).unwrap();
        assert!(up.contains("abort\\-on\\-container\\-exit"), "{up}");
    }

    #[test]
    fn completion_scripts_name_the_commands() {
        let mut out = Vec::new();
        clap_complete::generate(
            clap_complete::Shell::Bash,
            &mut super::Cli::command(),
            "wharf",
            &mut out,
        );
        let script = String::from_utf8(out).unwrap();
        assert!(
            script.contains("_wharf") && script.contains("exec"),
            "{script}"
        );
    }
}
