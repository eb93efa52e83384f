//! `wharf run`: a one-off command in a new container of a service, attached
//! to this terminal's stdin, stdout and stderr, through a pseudo-terminal
//! when stdin is a terminal (or the service has `tty: true`) unless `-T`.

use crate::context::GlobalOptions;
use crate::render::events::View;
use anyhow::{bail, Result};
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use wharf_engine_api::{Engine, PortBinding, Protocol};

#[derive(Args, Debug)]
pub struct RunArgs {
    /// Run container in background and print container name
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Override the entrypoint of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Don't start linked services
    #[arg(long)]
    pub no_deps: bool,
    /// Run command with all service's ports enabled and mapped to the host
    #[arg(long)]
    pub service_ports: bool,
    /// Publish a container's port(s) to the host
    #[arg(
        short = 'p',
        long = "publish",
        value_name = "[IP:]HOST:CONTAINER[/PROTO]"
    )]
    pub publish: Vec<String>,
    /// Run as specified username or uid
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Add or override a label
    #[arg(short = 'l', long = "label", value_name = "KEY=VAL")]
    pub labels: Vec<String>,
    #[arg(
        short = 'v',
        long = "volume",
        value_name = "SRC:DST[:MODE]",
        help = "Bind mount a volume (SRC:DST[:ro], VOLUME:DST or DST)"
    )]
    pub volumes: Vec<String>,
    /// Disable pseudo-TTY allocation (default: auto-detected)
    #[arg(short = 'T', long = "no-TTY")]
    pub no_tty: bool,
    /// Keep STDIN open even if not attached (the default)
    #[arg(short = 'i', long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub interactive: bool,
    pub service: String,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

fn key_values(pairs: &[String], flag: &str) -> Result<BTreeMap<String, String>> {
    pairs
        .iter()
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => Ok((k.to_string(), v.to_string())),
            // `-e KEY` takes the value from our environment, as docker does.
            None if flag == "-e" => Ok((pair.clone(), std::env::var(pair).unwrap_or_default())),
            None => bail!("{flag} {pair:?}: write KEY=VALUE"),
        })
        .collect()
}

/// `[IP:]HOST:CONTAINER[/PROTO]` or `CONTAINER[/PROTO]`.
fn parse_publish(text: &str) -> Result<PortBinding> {
    let bad = || {
        anyhow::anyhow!(
            "-p {text:?}: write [IP:]HOST_PORT:CONTAINER_PORT[/tcp|udp], like -p 8080:80"
        )
    };
    let (ports, protocol) = match text.rsplit_once('/') {
        Some((p, "tcp")) => (p, Protocol::Tcp),
        Some((p, "udp")) => (p, Protocol::Udp),
        Some(_) => return Err(bad()),
        None => (text, Protocol::Tcp),
    };
    let parts: Vec<&str> = ports.rsplitn(3, ':').collect();
    let port = |s: &str| s.parse::<u16>().map_err(|_| bad());
    let (host_ip, host_port, container_port) = match parts.as_slice() {
        [container] => (None, 0, port(container)?),
        [container, host] => (
            None,
            if host.is_empty() { 0 } else { port(host)? },
            port(container)?,
        ),
        [container, host, ip] => {
            let ip: IpAddr = ip.trim_matches(['[', ']']).parse().map_err(|_| bad())?;
            (
                Some(ip),
                if host.is_empty() { 0 } else { port(host)? },
                port(container)?,
            )
        }
        _ => return Err(bad()),
    };
    Ok(PortBinding {
        host_ip,
        host_port,
        container_port,
        protocol,
    })
}

pub fn run(global: &GlobalOptions, args: RunArgs) -> Result<i32> {
    let project = global.load_project_for(std::slice::from_ref(&args.service))?;
    // docker compose run: a terminal when ours is one, or when the service
    // asks for one; never with -T.
    let stdin_is_terminal = std::io::stdin().is_terminal();
    let tty = wharf_app::run::wants_tty(
        &project,
        &args.service,
        args.no_tty,
        args.detach,
        stdin_is_terminal,
    );
    let options = wharf_orchestrator::RunOptions {
        command: (!args.command.is_empty()).then(|| args.command.clone()),
        entrypoint: args
            .entrypoint
            .as_deref()
            .map(|e| e.split_whitespace().map(String::from).collect()),
        env: key_values(&args.env, "-e")?,
        user: args.user.clone(),
        working_dir: args.workdir.clone(),
        name: args.name.clone(),
        service_ports: args.service_ports,
        publish: args
            .publish
            .iter()
            .map(|p| parse_publish(p))
            .collect::<Result<_>>()?,
        labels: key_values(&args.labels, "-l")?,
        no_deps: args.no_deps,
        tty,
        stdin_open: args.interactive,
        volumes: args.volumes.clone(),
    };
    let signals = forwarded_signals(!args.detach)?;
    let engine = global.engine()?;
    let view = View::new(global);
    let one_off = wharf_app::run::create(&engine, &project, &args.service, &options, &view)?;
    if args.detach {
        wharf_app::run::start_detached(&engine, &one_off)?;
        println!("{}", one_off.name);
        return Ok(0);
    }
    // Keys go to the container as typed (Ctrl-C is a character for it).
    let result = start_forwarding(&engine, &one_off.id, &signals, tty && stdin_is_terminal);
    let exit = wharf_app::run::finish(&engine, &one_off, args.rm, result)?;
    if let Some(message) = exit.message {
        eprintln!("error: {message}");
    }
    Ok(exit.code)
}

/// The signals an attached run forwards to its container (Ctrl-C goes to the
/// container, not to us), blocked in this thread when `attached`: call it
/// before any other thread exists, so that only the forwarding thread of
/// [`start_forwarding`] receives them.
pub(crate) fn forwarded_signals(attached: bool) -> Result<SigSet> {
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    if attached {
        signals.thread_block()?;
    }
    Ok(signals)
}

/// Start container `id` attached to this terminal (in raw mode when `raw`),
/// forwarding `signals` to it until it ends; its exit code.
pub(crate) fn start_forwarding<E: Engine + Sync>(
    engine: &E,
    id: &str,
    signals: &SigSet,
    raw: bool,
) -> wharf_engine_api::Result<i32> {
    let raw_mode = raw.then(crate::terminal::RawMode::enter);
    let finished = AtomicBool::new(false);
    let result = std::thread::scope(|scope| {
        scope.spawn(|| {
            while let Ok(signal) = signals.wait() {
                if finished.load(Ordering::SeqCst) {
                    return;
                }
                let _ = engine.kill_container(id, signal.as_str());
            }
        });
        let result = engine.start_attached(id);
        finished.store(true, Ordering::SeqCst);
        // Wakes the forwarding thread, which sees `finished` and returns.
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), Signal::SIGTERM);
        result
    });
    drop(raw_mode);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_forms() {
        let p = parse_publish("127.0.0.1:8080:80/udp").unwrap();
        assert_eq!(
            (
                p.host_ip.map(|i| i.to_string()),
                p.host_port,
                p.container_port,
                p.protocol
            ),
            (Some("127.0.0.1".into()), 8080, 80, Protocol::Udp)
        );
        let p = parse_publish("80").unwrap();
        assert_eq!((p.host_port, p.container_port), (0, 80));
        assert!(parse_publish("80/sctp").is_err());
        assert!(parse_publish("x:80").is_err());
    }
}
