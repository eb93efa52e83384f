//! `wharf container logs|exec|top|port|cp|attach`: a container's output,
//! processes, ports and files, by name or id, in any project.

use crate::context::GlobalOptions;
use crate::render::units;
use anyhow::{bail, Context as _, Result};
use clap::Args;
use std::io::IsTerminal;
use wharf_engine_api::{Engine, ExecSpec, LogOptions, Protocol};

#[derive(Args, Debug)]
pub struct LogsArgs {
    #[command(flatten)]
    pub flags: crate::commands::logs::LogsFlags,
    /// Show extra details provided to logs
    #[arg(long)]
    pub details: bool,
    pub container: String,
}

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run command in the background
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: "<name|uid>[:<group|gid>]")
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Give extended privileges to the command
    #[arg(long)]
    pub privileged: bool,
    pub container: String,
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

#[derive(Args, Debug)]
pub struct TopArgs {
    pub container: String,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    pub container: String,
    /// PRIVATE_PORT[/PROTO]
    pub port: Option<String>,
}

#[derive(Args, Debug)]
pub struct CpArgs {
    /// Archive mode (copy all uid/gid information)
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Always follow symbol link in SRC_PATH
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH or SRC_PATH|-
    #[arg(value_name = "SRC")]
    pub source: String,
    /// DEST_PATH|- or CONTAINER:DEST_PATH
    #[arg(value_name = "DEST")]
    pub destination: String,
}

pub fn logs(global: &GlobalOptions, args: LogsArgs) -> Result<i32> {
    let engine = global.engine()?;
    let container = engine.inspect_container(&args.container)?;
    let options = args.flags.options()?;
    // docker logs keeps the container's streams apart and adds no prefix.
    let timestamps = args.flags.timestamps;
    engine.logs(&container.id, &options, &mut |line| {
        use std::io::Write;
        let mut text = String::new();
        if timestamps {
            text.push_str(&units::rfc3339_nanos(line.time_ns));
            text.push(' ');
        }
        text.push_str(&line.text);
        let written = match line.stream {
            wharf_engine_api::LogStream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(text.as_bytes()).and_then(|()| out.flush())
            }
            wharf_engine_api::LogStream::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(text.as_bytes()).and_then(|()| err.flush())
            }
        };
        written.is_ok()
    })?;
    Ok(0)
}

pub fn exec(global: &GlobalOptions, args: ExecArgs) -> Result<i32> {
    let engine = global.engine()?;
    let container = engine.inspect_container(&args.container)?;
    if !container.state.is_running() {
        bail!(
            "container {} is not running: start it first (wharf container start {})",
            container.id,
            container.name
        );
    }
    if container.state.is_paused() {
        bail!(
            "container {} is paused, unpause the container before exec",
            container.id
        );
    }
    if args.tty && args.interactive && !std::io::stdin().is_terminal() {
        bail!("the input device is not a TTY: drop -t, or run from a terminal");
    }
    let spec = ExecSpec {
        command: args.command,
        env: args.env,
        working_dir: args.workdir,
        user: args.user,
        tty: args.tty && std::io::stdin().is_terminal(),
        privileged: args.privileged,
    };
    if args.detach {
        // The command runs on with its output dropped, as `exec -d`; this
        // process returns at once.
        let program = std::env::current_exe().context("finding the wharf executable")?;
        let mut command = std::process::Command::new(program);
        command
            .arg("--root")
            .arg(&global.root)
            .args(["container", "exec"])
            .args(spec.env.iter().flat_map(|e| ["-e", e.as_str()]));
        if let Some(w) = &spec.working_dir {
            command.args(["-w", w]);
        }
        if let Some(u) = &spec.user {
            command.args(["-u", u]);
        }
        command
            .arg(&container.id)
            .args(&spec.command)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        command.spawn().context("starting the detached exec")?;
        return Ok(0);
    }
    let raw_mode = spec.tty.then(crate::terminal::RawMode::enter);
    let code = engine.exec(&container.id, &spec);
    drop(raw_mode);
    Ok(code?)
}

pub fn top(global: &GlobalOptions, args: TopArgs) -> Result<i32> {
    let engine = global.engine()?;
    let container = engine.inspect_container(&args.container)?;
    if !container.state.is_running() {
        bail!("container {} is not running", container.id);
    }
    print!(
        "{}",
        super::super::info::process_table(&engine.top(&container.id)?)
    );
    Ok(0)
}

/// docker's `port`: every published port (`80/tcp -> 0.0.0.0:8080`), or the
/// host addresses of one.
pub fn port(global: &GlobalOptions, args: PortArgs) -> Result<i32> {
    let engine = global.engine()?;
    let container = engine.inspect_container(&args.container)?;
    let wanted = match args.port.as_deref() {
        None => None,
        Some(text) => {
            let (port, protocol) = match text.split_once('/') {
                Some((p, "udp")) => (p, Protocol::Udp),
                Some((p, "tcp")) | Some((p, "")) => (p, Protocol::Tcp),
                None => (text, Protocol::Tcp),
                Some(_) => bail!("port {text:?}: the protocol must be tcp or udp"),
            };
            let port: u16 = port
                .parse()
                .map_err(|_| anyhow::anyhow!("port {text:?}: give PRIVATE_PORT[/PROTO]"))?;
            Some((port, protocol))
        }
    };
    let host = |p: &wharf_engine_api::PublishedPort| match p.host_ip {
        Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", p.host_port),
        Some(ip) => format!("{ip}:{}", p.host_port),
        None => format!("0.0.0.0:{}", p.host_port),
    };
    let mut found = false;
    for p in &container.ports {
        match wanted {
            Some((port, protocol)) if (p.container_port, p.protocol) == (port, protocol) => {
                println!("{}", host(p));
                found = true;
            }
            Some(_) => {}
            None => {
                println!("{}/{} -> {}", p.container_port, p.protocol, host(p));
                found = true;
            }
        }
    }
    if let (Some((port, protocol)), false) = (wanted, found) {
        bail!(
            "no public port '{port}/{protocol}' published for {}",
            container.name
        );
    }
    Ok(0)
}

pub fn cp(_global: &GlobalOptions, engine: &dyn Engine, args: CpArgs) -> Result<i32> {
    let request = wharf_app::cp::CopyRequest {
        source: wharf_app::cp::location(&args.source),
        destination: wharf_app::cp::location(&args.destination),
        index: 0,
        archive: args.archive,
        follow_link: args.follow_link,
        include_oneoff: true,
        cwd: std::env::current_dir().context("reading the current directory")?,
    };
    let streams = wharf_app::cp::Streams {
        input: &mut std::io::stdin().lock(),
        output: &mut std::io::stdout().lock(),
    };
    wharf_app::cp::copy_container(engine, &request, streams)?;
    Ok(0)
}

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    pub container: String,
}

/// Attach to a running container: through its monitor when it keeps a
/// terminal or stdin (keys typed go to it, ctrl-p ctrl-q detaches), else by
/// following its output until it ends. Its exit code.
pub fn attach(
    _global: &GlobalOptions,
    engine: &wharf_engine::LinuxEngine,
    container: &str,
    no_stdin: bool,
) -> Result<i32> {
    use nix::sys::signal::{SigSet, Signal};
    let info = engine.inspect_container(container)?;
    if !info.state.is_running() {
        bail!("You cannot attach to a stopped container, start it first");
    }
    if let Some(attached) = engine.attach_stream(&info.id)? {
        // Blocked before the attach threads exist, so that only the
        // forwarding thread receives them.
        let mut signals = SigSet::empty();
        signals.add(Signal::SIGINT);
        signals.add(Signal::SIGTERM);
        signals.add(Signal::SIGWINCH);
        signals.thread_block()?;
        let keys = crate::terminal::DetachKeys::parse(crate::terminal::DEFAULT_DETACH_KEYS)?;
        let options = super::super::attach::StreamOptions {
            no_stdin,
            sig_proxy: true,
        };
        return super::super::attach::attach_stream(
            engine, &info.id, attached, &options, keys, signals,
        );
    }
    let options = LogOptions {
        follow: true,
        tail: None,
        since_ns: match info.state {
            wharf_engine_api::ContainerState::Running { started_at, .. } => {
                Some(started_at * 1_000_000_000)
            }
            _ => Some(wharf_units::calendar::now_ns()),
        },
        until_ns: None,
    };
    engine.logs(&info.id, &options, &mut |line| {
        use std::io::Write;
        let written = match line.stream {
            wharf_engine_api::LogStream::Stdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(line.text.as_bytes())
                    .and_then(|()| out.flush())
            }
            wharf_engine_api::LogStream::Stderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(line.text.as_bytes())
                    .and_then(|()| err.flush())
            }
        };
        written.is_ok()
    })?;
    Ok(match engine.inspect_container(&info.id)?.state {
        wharf_engine_api::ContainerState::Exited { exit_code, .. } => exit_code,
        _ => 0,
    })
}

#[derive(Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Disable streaming stats and only pull the first result
    #[arg(long)]
    pub no_stream: bool,
    /// Do not truncate output
    #[arg(long)]
    pub no_trunc: bool,
    /// Format output: table or json
    #[arg(long, default_value = "table")]
    pub format: String,
    #[arg(value_name = "CONTAINER")]
    pub containers: Vec<String>,
}

/// docker's `stats`: the named containers, else every running one (every
/// one with `-a`), in any project; no total row, as docker.
pub fn stats(global: &GlobalOptions, args: StatsArgs) -> Result<i32> {
    let format = crate::render::format::Format::parse("--format", &args.format)?;
    let engine = global.engine()?;
    let containers = if args.containers.is_empty() {
        engine
            .list_containers(&[])?
            .into_iter()
            .filter(|c| args.all || c.state.is_running())
            .collect()
    } else {
        args.containers
            .iter()
            .map(|c| engine.inspect_container(c))
            .collect::<std::result::Result<Vec<_>, _>>()?
    };
    let display = super::super::stats::Display {
        no_stream: args.no_stream,
        format,
        no_trunc: args.no_trunc,
        no_total: true,
    };
    let mut sampler = wharf_app::stats::Sampler::default();
    super::super::stats::show(global, &display, || {
        Ok(sampler.sample_containers(&engine, &containers)?)
    })
}
