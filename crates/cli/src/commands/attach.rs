//! `wharf attach`: connect to a running service container, as `docker
//! compose attach` does. A container with `stdin_open` or `tty` is reached
//! through its monitor's attach socket: our stdin goes to the container (keys
//! as typed, in raw mode, when it has a terminal) until the detach keys, and
//! its output comes back. Any other container's stdin is closed: its output
//! is followed from the log.

use crate::context::GlobalOptions;
use anyhow::{bail, Result};
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use std::io::{IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use wharf_engine_api::{labels, ContainerState, Engine, LogOptions, LogStream};

#[derive(Args, Debug)]
pub struct AttachArgs {
    /// index of the container if service has multiple replicas.
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    /// Do not attach STDIN
    #[arg(long)]
    pub no_stdin: bool,
    /// Proxy all received signals to the process
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub sig_proxy: bool,
    /// Override the key sequence for detaching from a container.
    #[arg(long)]
    pub detach_keys: Option<String>,
    pub service: String,
}

pub fn attach(global: &GlobalOptions, args: AttachArgs) -> Result<i32> {
    let (project, name) = global.project_or_name()?;
    if let Some(project) = &project {
        super::filter_services(
            Vec::new(),
            std::slice::from_ref(&args.service),
            Some(project),
        )?;
    }
    let detach_keys = crate::terminal::DetachKeys::parse(
        args.detach_keys
            .as_deref()
            .unwrap_or(crate::terminal::DEFAULT_DETACH_KEYS),
    )?;
    // Signals go to the container (or end us): blocked before any thread exists.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
    // A terminal's new size is passed on to the container's.
    signals.add(Signal::SIGWINCH);
    signals.thread_block()?;
    let engine = global.engine()?;
    let number = args.index.to_string();
    let container = engine
        .list_containers(&[
            (labels::PROJECT, &name),
            (labels::SERVICE, &args.service),
            (labels::CONTAINER_NUMBER, &number),
        ])?
        .into_iter()
        .find(|c| c.label(labels::ONEOFF) != Some("True"));
    let Some(container) = container else {
        bail!(
            "service {:?} has no container {} in project {name}: is it up? (wharf ps)",
            args.service,
            args.index
        );
    };
    if !container.state.is_running() {
        bail!(
            "container {} is not running: start it first (wharf start {})",
            container.name,
            args.service
        );
    }
    if let Some(attached) = engine.attach_stream(&container.id)? {
        let options = StreamOptions {
            no_stdin: args.no_stdin,
            sig_proxy: args.sig_proxy,
        };
        return attach_stream(
            &engine,
            &container.id,
            attached,
            &options,
            detach_keys,
            signals,
        );
    }
    let options = LogOptions {
        follow: true,
        tail: None,
        since_ns: Some(wharf_units::calendar::now_ns()),
        until_ns: None,
    };
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while let Ok(signal) = signals.wait() {
                if finished.load(Ordering::SeqCst) {
                    return;
                }
                if signal == Signal::SIGWINCH {
                    continue;
                }
                if !args.sig_proxy {
                    // Not proxied: leave the container running and stop attaching.
                    std::process::exit(0);
                }
                let _ = engine.kill_container(&container.id, signal.as_str());
            }
        });
        let result = engine.logs(&container.id, &options, &mut |line| {
            let written = match line.stream {
                LogStream::Stderr => {
                    let mut err = std::io::stderr().lock();
                    err.write_all(line.text.as_bytes())
                        .and_then(|()| err.flush())
                }
                LogStream::Stdout => {
                    let mut out = std::io::stdout().lock();
                    out.write_all(line.text.as_bytes())
                        .and_then(|()| out.flush())
                }
            };
            written.is_ok()
        });
        finished.store(true, Ordering::SeqCst);
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), Signal::SIGTERM);
        result
    })?;
    // The container's exit code, as docker attach returns it.
    Ok(match engine.inspect_container(&container.id)?.state {
        ContainerState::Exited { exit_code, .. } => exit_code,
        _ => 0,
    })
}

/// How [`attach_stream`] attaches.
pub struct StreamOptions {
    /// `--no-stdin`: only follow the output.
    pub no_stdin: bool,
    /// Pass our signals on to the container.
    pub sig_proxy: bool,
}

/// Attach through the container's monitor: stdin to it (unless
/// `--no-stdin`), its output to our stdout and stderr, until its output ends
/// (it exited: its code) or the detach keys (0, the container keeps running).
/// `signals` are blocked by the caller before any thread exists.
pub fn attach_stream(
    engine: &wharf_engine::LinuxEngine,
    id: &str,
    attached: wharf_engine::attach::Attached,
    args: &StreamOptions,
    mut detach_keys: crate::terminal::DetachKeys,
    signals: SigSet,
) -> Result<i32> {
    let send_input = !args.no_stdin && attached.stdin_open;
    let raw_mode = (send_input && attached.tty && std::io::stdin().is_terminal())
        .then(crate::terminal::RawMode::enter);
    let detached = Arc::new(AtomicBool::new(false));
    let attached = Arc::new(attached);
    if send_input {
        let _ = attached.send_size();
        let socket = attached.clone();
        let detached = detached.clone();
        // Not joined: a read of our stdin may still be pending when we return.
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin();
            let mut buf = [0u8; 4096];
            let mut out = Vec::with_capacity(buf.len());
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    // Our stdin ended; the container's stays open, as docker's.
                    return;
                }
                out.clear();
                let detach = detach_keys.feed(&buf[..n], &mut out);
                if !out.is_empty() && socket.send_input(&out).is_err() {
                    return;
                }
                if detach {
                    detached.store(true, Ordering::SeqCst);
                    let _ = socket.stream.shutdown(std::net::Shutdown::Both);
                    return;
                }
            }
        });
    }
    // A terminal's keys (Ctrl-C included) reach it as characters; signals
    // are proxied only to a container without one, as docker does.
    let proxy = args.sig_proxy && !attached.tty;
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| -> Result<()> {
        scope.spawn(|| {
            while let Ok(signal) = signals.wait() {
                if finished.load(Ordering::SeqCst) {
                    return;
                }
                if signal == Signal::SIGWINCH {
                    if send_input {
                        let _ = attached.send_size();
                    }
                    continue;
                }
                if !proxy {
                    detached.store(true, Ordering::SeqCst);
                    let _ = attached.stream.shutdown(std::net::Shutdown::Both);
                    return;
                }
                let _ = engine.kill_container(id, signal.as_str());
            }
        });
        let mut reader = std::io::BufReader::new(&attached.stream);
        let mut buf = Vec::new();
        let copied = loop {
            match wharf_engine::attach::read_frame(&mut reader, &mut buf) {
                Ok(Some(LogStream::Stderr)) => {
                    let mut err = std::io::stderr().lock();
                    let _ = err.write_all(&buf).and_then(|()| err.flush());
                }
                Ok(Some(LogStream::Stdout)) => {
                    let mut out = std::io::stdout().lock();
                    let _ = out.write_all(&buf).and_then(|()| out.flush());
                }
                Ok(None) => break Ok(()),
                Err(_) if detached.load(Ordering::SeqCst) => break Ok(()),
                Err(e) => break Err(e),
            }
        };
        finished.store(true, Ordering::SeqCst);
        let _ = nix::sys::signal::kill(nix::unistd::Pid::this(), Signal::SIGTERM);
        Ok(copied?)
    })?;
    drop(raw_mode);
    if detached.load(Ordering::SeqCst) {
        return Ok(0);
    }
    // The output ended with the container; its monitor records the exit next.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match engine.inspect_container(id)?.state {
            ContainerState::Exited { exit_code, .. } => return Ok(exit_code),
            _ if std::time::Instant::now() > deadline => return Ok(0),
            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
}
