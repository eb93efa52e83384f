//! `wharf attach`: follow a running service container's output from now on,
//! as `docker compose attach` does. The container's stdin cannot be attached:
//! a detached container's stdin is not kept open by its monitor.

use crate::context::GlobalOptions;
use anyhow::{bail, Result};
use clap::Args;
use nix::sys::signal::{SigSet, Signal};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
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
    // Signals go to the container (or end us): blocked before any thread exists.
    let mut signals = SigSet::empty();
    signals.add(Signal::SIGINT);
    signals.add(Signal::SIGTERM);
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
    let options = LogOptions {
        follow: true,
        tail: None,
        since_ns: Some(crate::render::units::now_nanos()),
        until_ns: None,
    };
    let finished = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while let Ok(signal) = signals.wait() {
                if finished.load(Ordering::SeqCst) {
                    return;
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
