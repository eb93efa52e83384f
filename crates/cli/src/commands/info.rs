//! `wharf top`, `port`, `ls` and `wait`: questions about what runs.

use super::{filter_services, short_name};
use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::{table, units};
use anyhow::{bail, Result};
use clap::Args;
use serde_json::json;
use std::collections::BTreeMap;
use std::time::Duration;
use wharf_engine_api::{labels, ContainerState, Engine, Protocol};

#[derive(Args, Debug)]
pub struct TopArgs {
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

#[derive(Args, Debug)]
pub struct PortArgs {
    /// tcp or udp
    #[arg(long, default_value = "tcp")]
    pub protocol: String,
    /// Index of the container if the service has multiple replicas
    #[arg(long, default_value_t = 1)]
    pub index: u32,
    pub service: String,
    pub private_port: u16,
}

#[derive(Args, Debug)]
pub struct LsArgs {
    /// Show all stopped Compose projects
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display project names
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Format the output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
}

#[derive(Args, Debug)]
pub struct WaitArgs {
    /// Stop the other containers of the project once the first one exits
    #[arg(long)]
    pub down_project: bool,
    #[arg(value_name = "SERVICE", required = true)]
    pub services: Vec<String>,
}

pub fn top(global: &GlobalOptions, args: TopArgs) -> Result<i32> {
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let containers = filter_services(
        wharf_orchestrator::project_containers(&engine, &name, false)?,
        &args.services,
        project.as_ref(),
    )?;
    for (n, c) in containers.iter().enumerate() {
        let processes = engine.top(&c.id)?;
        let text = process_table(&processes);
        if n > 0 {
            println!();
        }
        println!("{}", c.name);
        print!("{text}");
    }
    Ok(0)
}

/// `top`'s table of a container's processes, as docker prints it.
pub fn process_table(processes: &[wharf_engine_api::ProcessInfo]) -> String {
    let rows: Vec<Vec<String>> = processes
        .iter()
        .map(|p| {
            let (h, m, s) = (
                p.cpu_seconds / 3600,
                p.cpu_seconds / 60 % 60,
                p.cpu_seconds % 60,
            );
            let started = units::docker_time(p.started);
            vec![
                if p.uid == 0 {
                    "root".to_string()
                } else {
                    p.uid.to_string()
                },
                p.pid.to_string(),
                p.ppid.to_string(),
                "0".into(),
                // HH:MM of the docker time string.
                started.get(11..16).unwrap_or("").to_string(),
                p.tty.clone(),
                format!("{h:02}:{m:02}:{s:02}"),
                p.command.clone(),
            ]
        })
        .collect();
    table::render(
        &["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"],
        &rows,
    )
}

pub fn port(global: &GlobalOptions, args: PortArgs) -> Result<i32> {
    let protocol = match args.protocol.as_str() {
        "tcp" => Protocol::Tcp,
        "udp" => Protocol::Udp,
        other => bail!("--protocol {other:?}: use tcp or udp"),
    };
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let index = args.index.to_string();
    let containers = filter_services(
        wharf_orchestrator::project_containers(&engine, &name, false)?,
        std::slice::from_ref(&args.service),
        project.as_ref(),
    )?;
    let Some(container) = containers
        .iter()
        .find(|c| c.label(labels::CONTAINER_NUMBER) == Some(index.as_str()))
    else {
        bail!(
            "service {:?} has no running container {}",
            args.service,
            args.index
        );
    };
    let Some(published) = container
        .ports
        .iter()
        .find(|p| p.container_port == args.private_port && p.protocol == protocol)
    else {
        bail!(
            "no port {}/{} published for {}",
            args.private_port,
            args.protocol,
            container.name
        );
    };
    let host = published
        .host_ip
        .map(|ip| ip.to_string())
        .unwrap_or_else(|| "0.0.0.0".into());
    println!("{host}:{}", published.host_port);
    Ok(0)
}

/// The fields of an `ls` row and docker compose's headers for them.
const LS_HEADERS: &Headers = &[
    ("Name", "NAME"),
    ("Status", "STATUS"),
    ("ConfigFiles", "CONFIG FILES"),
];

pub fn ls(global: &GlobalOptions, args: LsArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    let engine = global.engine()?;
    // project → (state → count, config files)
    let mut projects: BTreeMap<String, (BTreeMap<&'static str, usize>, String)> = BTreeMap::new();
    for c in engine.list_containers(&[])? {
        let Some(project) = c.label(labels::PROJECT) else {
            continue;
        };
        let entry = projects.entry(project.to_string()).or_insert_with(|| {
            (
                BTreeMap::new(),
                c.label(labels::CONFIG_FILES).unwrap_or("").to_string(),
            )
        });
        *entry.0.entry(c.state.name()).or_default() += 1;
    }
    let listed: Vec<(String, String, String)> = projects
        .into_iter()
        .filter(|(_, (states, _))| {
            args.all || states.contains_key("running") || states.contains_key("paused")
        })
        .map(|(name, (states, files))| {
            let status = states
                .iter()
                .map(|(state, n)| format!("{state}({n})"))
                .collect::<Vec<_>>()
                .join(", ");
            (name, status, files)
        })
        .collect();
    if args.quiet {
        listed.iter().for_each(|(name, _, _)| println!("{name}"));
        return Ok(0);
    }
    let entries: Vec<_> = listed
        .iter()
        .map(|(name, status, files)| json!({"Name": name, "Status": status, "ConfigFiles": files}))
        .collect();
    if let Format::Json = format {
        // docker compose ls prints one JSON array.
        println!("{}", serde_json::Value::Array(entries));
        return Ok(0);
    }
    let text = format::render(&format, "--format", LS_HEADERS, &entries, || {
        let rows: Vec<Vec<String>> = listed
            .into_iter()
            .map(|(name, status, files)| vec![name, status, files])
            .collect();
        table::render(&["NAME", "STATUS", "CONFIG FILES"], &rows)
    })?;
    print!("{text}");
    Ok(0)
}

/// Block until the services' containers have stopped; print each exit code.
/// The exit code is the first container's, as docker compose's.
pub fn wait(global: &GlobalOptions, args: WaitArgs) -> Result<i32> {
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let containers = filter_services(
        wharf_orchestrator::project_containers(&engine, &name, true)?,
        &args.services,
        project.as_ref(),
    )?;
    if containers.is_empty() {
        bail!(
            "no container of {} in project {name}",
            args.services.join(", ")
        );
    }
    let mut first = None;
    let mut pending: Vec<_> = containers.iter().collect();
    while !pending.is_empty() {
        let mut still = Vec::new();
        for c in pending {
            match engine.inspect_container(&c.id)?.state {
                ContainerState::Exited { exit_code, .. } => {
                    println!("{}", exit_code);
                    first.get_or_insert(exit_code);
                    if args.down_project {
                        let all = wharf_orchestrator::project_containers(&engine, &name, false)?;
                        for other in all {
                            let _ = engine.stop_container(&other.id, None);
                        }
                        return Ok(exit_code);
                    }
                }
                ContainerState::Dead => {
                    eprintln!("{} is dead", short_name(c));
                }
                _ => still.push(c),
            }
        }
        pending = still;
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(100));
        }
    }
    Ok(first.unwrap_or(0))
}
