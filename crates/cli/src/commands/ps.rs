//! `wharf ps`: the project's containers, as docker compose lists them.

use crate::context::GlobalOptions;
use crate::render::format::{self, Format, Headers};
use crate::render::{table, units};
use anyhow::Result;
use clap::Args;
use serde_json::json;
use wharf_engine_api::{labels, ContainerInfo, ContainerState, Health, PublishedPort};

#[derive(Args, Debug)]
pub struct PsArgs {
    /// Show all stopped containers (including those created by the run command)
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only display IDs
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Display services
    #[arg(long)]
    pub services: bool,
    /// Format output: table, json, 'table TEMPLATE' or a Go template
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Filter services by status (running, exited, created, restarting, …)
    #[arg(long)]
    pub status: Vec<String>,
    #[arg(value_name = "SERVICE")]
    pub names: Vec<String>,
}

/// The fields of a `ps` row and docker compose's headers for them.
pub const HEADERS: &Headers = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Ports", "PORTS"),
    ("Status", "STATUS"),
    ("Size", "SIZE"),
    ("Name", "NAME"),
    ("Names", "NAMES"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("LocalVolumes", "LOCAL VOLUMES"),
    ("Networks", "NETWORKS"),
    ("State", "STATE"),
    ("Health", "HEALTH"),
    ("ExitCode", "EXIT CODE"),
    ("Project", "PROJECT"),
    ("Service", "SERVICE"),
    ("Publishers", "PUBLISHERS"),
];

pub fn ps(global: &GlobalOptions, args: PsArgs) -> Result<i32> {
    let format = Format::parse("--format", &args.format)?;
    let (project, name) = global.project_or_name()?;
    let engine = global.engine()?;
    let scope = wharf_app::containers::Scope {
        name: &name,
        project: project.as_ref(),
        services: &args.names,
    };
    let options = wharf_app::ps::PsOptions {
        all: args.all,
        status: &args.status,
    };
    let containers = wharf_app::ps::list(&engine, &scope, options)?;
    if args.quiet {
        for c in &containers {
            println!("{}", c.id);
        }
        return Ok(0);
    }
    if args.services {
        for s in wharf_app::ps::services(&containers) {
            println!("{s}");
        }
        return Ok(0);
    }
    let now = units::now_secs();
    let entries: Vec<serde_json::Value> = containers.iter().map(|c| json_entry(c, now)).collect();
    let text = format::render(&format, "--format", HEADERS, &entries, || {
        let rows: Vec<Vec<String>> = containers
            .iter()
            .map(|c| {
                vec![
                    c.name.clone(),
                    c.image.clone(),
                    quoted_command(c, 20),
                    c.label(labels::SERVICE).unwrap_or("").to_string(),
                    format!("{} ago", units::human_duration(now - c.created)),
                    status_text(&c.state, c.health, now),
                    ports_text(&c.ports),
                ]
            })
            .collect();
        table::render(
            &[
                "NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS",
            ],
            &rows,
        )
    })?;
    print!("{text}");
    Ok(0)
}

/// `"httpd -f -v -p 8080…"`: docker's command column, cut to `width` characters.
pub fn quoted_command(c: &ContainerInfo, width: usize) -> String {
    let command = c.command.join(" ");
    if command.chars().count() > width {
        let cut: String = command.chars().take(width - 1).collect();
        format!("\"{cut}…\"")
    } else {
        format!("\"{command}\"")
    }
}

pub use wharf_app::docker::list::status_text;

fn port_host(p: &PublishedPort) -> String {
    match p.host_ip {
        Some(std::net::IpAddr::V6(ip)) => format!("[{ip}]:{}", p.host_port),
        Some(ip) => format!("{ip}:{}", p.host_port),
        None => format!("0.0.0.0:{}", p.host_port),
    }
}

pub fn ports_text(ports: &[PublishedPort]) -> String {
    ports
        .iter()
        .map(|p| format!("{}->{}/{}", port_host(p), p.container_port, p.protocol))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn json_entry(c: &ContainerInfo, now: i64) -> serde_json::Value {
    let exit_code = match c.state {
        ContainerState::Exited { exit_code, .. } => exit_code,
        _ => 0,
    };
    let publishers: Vec<serde_json::Value> = c
        .ports
        .iter()
        .map(|p| {
            json!({
                "URL": p.host_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "0.0.0.0".into()),
                "TargetPort": p.container_port,
                "PublishedPort": p.host_port,
                "Protocol": p.protocol.to_string(),
            })
        })
        .collect();
    let labels: Vec<String> = c.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    json!({
        "Command": format!("\"{}\"", c.command.join(" ")),
        "CreatedAt": units::docker_time(c.created),
        "ExitCode": exit_code,
        "Health": c.health.map(Health::name).unwrap_or(""),
        "ID": c.id,
        "Image": c.image,
        "Labels": labels.join(","),
        "LocalVolumes": "0",
        "Mounts": "",
        "Name": c.name,
        "Names": c.name,
        "Networks": c.addresses.keys().cloned().collect::<Vec<_>>().join(","),
        "Ports": ports_text(&c.ports),
        "Project": c.label(labels::PROJECT).unwrap_or(""),
        "Publishers": publishers,
        "RunningFor": format!("{} ago", units::human_duration(now - c.created)),
        "Service": c.label(labels::SERVICE).unwrap_or(""),
        "Size": "0B",
        "State": c.state.name(),
        "Status": status_text(&c.state, c.health, now),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_paused_container_reads_as_docker_shows_it() {
        let paused = ContainerState::Running {
            pid: 7,
            started_at: 100,
            paused: true,
        };
        assert_eq!(
            status_text(&paused, Some(Health::Healthy), 105),
            "Up 5 seconds (Paused)"
        );
        assert_eq!(paused.name(), "paused");
        let running = ContainerState::Running {
            pid: 7,
            started_at: 100,
            paused: false,
        };
        assert_eq!(
            status_text(&running, Some(Health::Healthy), 105),
            "Up 5 seconds (healthy)"
        );
        assert_eq!(running.name(), "running");
    }
}
