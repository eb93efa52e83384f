//! `docker info` and `docker version` (also `wharf info`): the documents of
//! `wharf_app::docker::system` in docker's layout — `Client:` and `Server:`
//! sections — or through `--format` (`json`, or a Go template over the
//! document, as docker's flag takes it).

use crate::context::GlobalOptions;
use crate::render::{format, units};
use anyhow::Result;
use clap::Args;
use serde_json::Value;
use wharf_app::docker::system::{self, Host};

#[derive(Args, Debug)]
pub struct FormatArgs {
    /// Format output: json, or a Go template
    #[arg(short = 'f', long)]
    pub format: Option<String>,
}

/// `docker version`: the client's and the engine's versions.
pub fn version(args: FormatArgs) -> Result<i32> {
    let host = Host::current();
    let document = serde_json::json!({
        "Client": system::client_version(&host),
        "Server": system::server_version(&host),
    });
    match args.format.as_deref() {
        Some(text) => print!("{}", templated(&document, text)?),
        None => print!("{}", version_text(&document)),
    }
    Ok(0)
}

/// `docker info`: what the engine holds and the host it runs on.
pub fn info(global: &GlobalOptions, args: FormatArgs) -> Result<i32> {
    let host = Host::current();
    let engine = global.engine()?;
    let mut document = system::info(&engine, &host)?;
    document["ClientInfo"] = serde_json::json!({
        "Debug": false,
        "Context": "default",
        "Version": system::VERSION,
    });
    match args.format.as_deref() {
        Some(text) => print!("{}", templated(&document, text)?),
        None => print!("{}", info_text(&document)),
    }
    Ok(0)
}

/// `--format json` or a template, run once over the document.
fn templated(document: &Value, text: &str) -> Result<String> {
    if text.trim() == "json" {
        return Ok(format!("{document}\n"));
    }
    format::inspect("--format", Some(text), std::slice::from_ref(document))
}

/// A ` Key:` and its value at docker's column 20 (its tabwriter's width).
fn field(out: &mut String, key: &str, value: impl std::fmt::Display) {
    out.push_str(&format!("{:<20}{value}\n", format!("{key}:")));
}

fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

fn version_text(document: &Value) -> String {
    let (client, server) = (&document["Client"], &document["Server"]);
    let mut out = String::from("Client:\n");
    field(&mut out, " Version", text(&client["Version"]));
    field(&mut out, " API version", text(&client["ApiVersion"]));
    let os_arch = |v: &Value| format!("{}/{}", text(&v["Os"]), text(&v["Arch"]));
    field(&mut out, " OS/Arch", os_arch(client));
    field(&mut out, " Context", text(&client["Context"]));
    out.push_str(&format!(
        "\nServer: {}\n",
        text(&server["Platform"]["Name"])
    ));
    for component in server["Components"].as_array().into_iter().flatten() {
        let details = &component["Details"];
        out.push_str(&format!(" {}:\n", text(&component["Name"])));
        field(&mut out, "  Version", text(&component["Version"]));
        field(
            &mut out,
            "  API version",
            format!(
                "{} (minimum version {})",
                text(&details["ApiVersion"]),
                text(&details["MinAPIVersion"])
            ),
        );
        field(&mut out, "  OS/Arch", os_arch(details));
        field(&mut out, "  Experimental", text(&details["Experimental"]));
    }
    out
}

fn info_text(document: &Value) -> String {
    let client = &document["ClientInfo"];
    let mut out = String::from("Client:\n");
    out.push_str(&format!(" Version:    {}\n", text(&client["Version"])));
    out.push_str(&format!(" Context:    {}\n", text(&client["Context"])));
    out.push_str(&format!(" Debug Mode: {}\n", text(&client["Debug"])));
    out.push_str("\nServer:\n");
    let line = |out: &mut String, label: &str, key: &str| {
        out.push_str(&format!("{label}: {}\n", text(&document[key])));
    };
    line(&mut out, " Containers", "Containers");
    line(&mut out, "  Running", "ContainersRunning");
    line(&mut out, "  Paused", "ContainersPaused");
    line(&mut out, "  Stopped", "ContainersStopped");
    line(&mut out, " Images", "Images");
    line(&mut out, " Server Version", "ServerVersion");
    line(&mut out, " Storage Driver", "Driver");
    line(&mut out, " Logging Driver", "LoggingDriver");
    line(&mut out, " Cgroup Driver", "CgroupDriver");
    line(&mut out, " Cgroup Version", "CgroupVersion");
    line(&mut out, " Default Runtime", "DefaultRuntime");
    out.push_str(" Security Options:\n");
    for option in document["SecurityOptions"].as_array().into_iter().flatten() {
        // docker lists `name=seccomp,profile=builtin` as `seccomp` and its profile.
        let option = text(option);
        let mut parts = option.split(',');
        let name = parts.next().unwrap_or("").trim_start_matches("name=");
        out.push_str(&format!("  {name}\n"));
        for part in parts {
            if let Some((key, value)) = part.split_once('=') {
                out.push_str(&format!("   {}: {value}\n", title(key)));
            }
        }
    }
    line(&mut out, " Kernel Version", "KernelVersion");
    line(&mut out, " Operating System", "OperatingSystem");
    line(&mut out, " OSType", "OSType");
    line(&mut out, " Architecture", "Architecture");
    line(&mut out, " CPUs", "NCPU");
    let memory = document["MemTotal"].as_u64().unwrap_or(0);
    out.push_str(&format!(" Total Memory: {}\n", units::binary_size(memory)));
    line(&mut out, " Name", "Name");
    line(&mut out, " Docker Root Dir", "DockerRootDir");
    line(&mut out, " Debug Mode", "Debug");
    line(&mut out, " Experimental", "ExperimentalBuild");
    line(&mut out, " Live Restore Enabled", "LiveRestoreEnabled");
    out
}

/// `profile` → `Profile`.
fn title(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_has_docker_sections_and_columns() {
        let host = Host {
            kernel_version: "6.1.0".into(),
            operating_system: String::new(),
            os_version: String::new(),
            architecture: "x86_64".into(),
            cpus: 2,
            memory_bytes: 0,
            name: "box".into(),
        };
        let document = json!({
            "Client": system::client_version(&host),
            "Server": system::server_version(&host),
        });
        let text = version_text(&document);
        assert!(text.starts_with("Client:\n Version:           "), "{text}");
        assert!(text.contains("\nServer: wharf\n Engine:\n  Version:          "));
        assert!(text.contains(" OS/Arch:           linux/amd64\n"), "{text}");
        assert!(text.contains("  API version:      1.43 (minimum version 1.24)\n"));
        assert_eq!(
            templated(&document, "{{.Server.Version}}").unwrap(),
            format!("{}\n", system::VERSION)
        );
    }

    #[test]
    fn info_lists_counts_under_server() {
        let document = json!({
            "ClientInfo": {"Version": "0.1.0", "Context": "default", "Debug": false},
            "Containers": 3, "ContainersRunning": 1, "ContainersPaused": 0,
            "ContainersStopped": 2, "Images": 4, "MemTotal": 8u64 << 30,
            "SecurityOptions": ["name=seccomp,profile=builtin"],
        });
        let text = info_text(&document);
        assert!(
            text.contains(
                "\nServer:\n Containers: 3\n  Running: 1\n  Paused: 0\n  Stopped: 2\n Images: 4\n"
            ),
            "{text}"
        );
        assert!(text.contains(" Total Memory: 8GiB\n"), "{text}");
        assert!(text.contains("  seccomp\n   Profile: builtin\n"), "{text}");
        assert_eq!(templated(&document, "{{.Images}}").unwrap(), "4\n");
    }
}
