//! `docker info` and `docker version`: the engine's and the host's facts as
//! the documents of docker's `/info` and `/version`, with docker's field
//! names, so a front renders them in docker's layout or through `--format`.

use crate::AppError;
use serde_json::{json, Value};
use std::path::Path;
use wharf_engine::LinuxEngine;
use wharf_engine_api::{ContainerState, Engine};

/// The version of the Engine API whose documents these are.
pub const API_VERSION: &str = "1.43";
/// The oldest Engine API version a client may speak.
pub const MIN_API_VERSION: &str = "1.24";
/// The product's version.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// What is read from the host (kernel, system, CPUs, memory, name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub kernel_version: String,
    pub operating_system: String,
    pub os_version: String,
    /// `uname -m`'s name (`x86_64`).
    pub architecture: String,
    pub cpus: usize,
    pub memory_bytes: u64,
    pub name: String,
}

impl Host {
    /// The facts of this host; what cannot be read is left empty.
    pub fn current() -> Host {
        let read = |path: &str| {
            std::fs::read_to_string(path)
                .map(|text| text.trim().to_string())
                .unwrap_or_default()
        };
        let os_release = read("/etc/os-release");
        Host {
            kernel_version: read("/proc/sys/kernel/osrelease"),
            operating_system: os_release_field(&os_release, "PRETTY_NAME").unwrap_or_default(),
            os_version: os_release_field(&os_release, "VERSION_ID").unwrap_or_default(),
            architecture: std::env::consts::ARCH.to_string(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            memory_bytes: mem_total(&read("/proc/meminfo")).unwrap_or(0),
            name: read("/proc/sys/kernel/hostname"),
        }
    }
}

/// A `KEY=value` (or `KEY="value"`) of `/etc/os-release`.
fn os_release_field(text: &str, key: &str) -> Option<String> {
    text.lines().find_map(|line| {
        let value = line.strip_prefix(key)?.strip_prefix('=')?;
        Some(value.trim_matches('"').trim_matches('\'').to_string())
    })
}

/// `MemTotal:  8048232 kB` of `/proc/meminfo`, in bytes.
fn mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// Go's name of the architecture (`amd64`), as docker's `Arch` gives it.
pub fn go_arch(architecture: &str) -> &str {
    match architecture {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" | "i686" => "386",
        "powerpc64" => "ppc64le",
        other => other,
    }
}

/// The counts of docker's `/info`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    running: usize,
    paused: usize,
    stopped: usize,
}

fn counts<'a>(states: impl Iterator<Item = &'a ContainerState>) -> Counts {
    let mut counts = Counts::default();
    for state in states {
        match state {
            ContainerState::Running { paused: true, .. } => counts.paused += 1,
            ContainerState::Running { .. } | ContainerState::Restarting => counts.running += 1,
            _ => counts.stopped += 1,
        }
    }
    counts
}

/// docker's `/info` document for this engine on `host`.
pub fn info(engine: &LinuxEngine, host: &Host) -> Result<Value, AppError> {
    let containers = engine
        .list_containers(&[])
        .map_err(|e| AppError::engine("listing containers", e))?;
    let images = engine
        .images()
        .list()
        .map_err(|e| AppError::image("listing images", e))?;
    let counts = counts(containers.iter().map(|c| &c.state));
    Ok(info_document(
        host,
        engine.root(),
        engine.cgroup_version(),
        containers.len(),
        counts,
        images.len(),
    ))
}

fn info_document(
    host: &Host,
    root: &Path,
    cgroup_version: Option<u8>,
    total: usize,
    counts: Counts,
    images: usize,
) -> Value {
    json!({
        "Containers": total,
        "ContainersRunning": counts.running,
        "ContainersPaused": counts.paused,
        "ContainersStopped": counts.stopped,
        "Images": images,
        "Driver": "overlayfs",
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version.map(|v| v.to_string()).unwrap_or_default(),
        "KernelVersion": host.kernel_version,
        "OperatingSystem": host.operating_system,
        "OSVersion": host.os_version,
        "OSType": "linux",
        "Architecture": host.architecture,
        "NCPU": host.cpus,
        "MemTotal": host.memory_bytes,
        "DockerRootDir": root.display().to_string(),
        "Name": host.name,
        "ServerVersion": VERSION,
        "Runtimes": {"wharf": {"path": "wharf"}},
        "DefaultRuntime": "wharf",
        "Debug": false,
        "ExperimentalBuild": false,
        "LiveRestoreEnabled": false,
        "Isolation": "",
        "SecurityOptions": ["name=seccomp,profile=builtin"],
        "Labels": [],
        "Warnings": [],
    })
}

/// docker's `/version` document (the server's half of `docker version`).
pub fn server_version(host: &Host) -> Value {
    let os_arch = json!({"Os": "linux", "Arch": go_arch(&host.architecture)});
    json!({
        "Platform": {"Name": "wharf"},
        "Components": [{
            "Name": "Engine",
            "Version": VERSION,
            "Details": {
                "ApiVersion": API_VERSION,
                "MinAPIVersion": MIN_API_VERSION,
                "Os": os_arch["Os"],
                "Arch": os_arch["Arch"],
                "KernelVersion": host.kernel_version,
                "Experimental": "false",
            },
        }],
        "Version": VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "Os": os_arch["Os"],
        "Arch": os_arch["Arch"],
        "KernelVersion": host.kernel_version,
    })
}

/// The client's half of `docker version` (wharf is its own client).
pub fn client_version(host: &Host) -> Value {
    json!({
        "Platform": {"Name": ""},
        "Version": VERSION,
        "ApiVersion": API_VERSION,
        "DefaultAPIVersion": API_VERSION,
        "Os": "linux",
        "Arch": go_arch(&host.architecture),
        "Context": "default",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host() -> Host {
        Host {
            kernel_version: "6.1.0-13-amd64".into(),
            operating_system: "Debian GNU/Linux 12 (bookworm)".into(),
            os_version: "12".into(),
            architecture: "x86_64".into(),
            cpus: 2,
            memory_bytes: 8 << 30,
            name: "box".into(),
        }
    }

    #[test]
    fn os_release_and_meminfo_are_read_as_written() {
        let text = "NAME=\"Debian GNU/Linux\"\nVERSION_ID=\"12\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_release_field(text, "PRETTY_NAME").as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_release_field(text, "VERSION_ID").as_deref(), Some("12"));
        assert_eq!(os_release_field(text, "ID"), None);
        assert_eq!(
            mem_total("MemTotal:        8048232 kB\nMemFree: 1 kB\n"),
            Some(8048232 * 1024)
        );
    }

    #[test]
    fn info_counts_containers_by_state_with_docker_names() {
        let states = [
            ContainerState::Running {
                pid: 1,
                started_at: 0,
                paused: false,
            },
            ContainerState::Running {
                pid: 2,
                started_at: 0,
                paused: true,
            },
            ContainerState::Created,
            ContainerState::Exited {
                exit_code: 0,
                finished_at: 0,
                oom_killed: false,
            },
        ];
        let counts = counts(states.iter());
        let doc = info_document(&host(), Path::new("/var/lib/wharf"), Some(2), 4, counts, 3);
        assert_eq!(doc["Containers"], 4);
        assert_eq!(doc["ContainersRunning"], 1);
        assert_eq!(doc["ContainersPaused"], 1);
        assert_eq!(doc["ContainersStopped"], 2);
        assert_eq!(doc["Images"], 3);
        assert_eq!(doc["CgroupVersion"], "2");
        assert_eq!(doc["DockerRootDir"], "/var/lib/wharf");
        assert_eq!(doc["NCPU"], 2);
    }

    #[test]
    fn version_names_go_architectures() {
        let server = server_version(&host());
        assert_eq!(server["Arch"], "amd64");
        assert_eq!(server["Components"][0]["Name"], "Engine");
        assert_eq!(client_version(&host())["Context"], "default");
    }
}
