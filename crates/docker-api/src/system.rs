//! The system endpoints a client asks first: `/_ping` (GET and HEAD, with
//! the version headers clients negotiate from), `/version` and `/info`.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use crate::version::ApiVersion;
use hyper::{Method, StatusCode};
use serde_json::json;
use wharf_engine_api::{ContainerState, Engine};

/// The API version wharf speaks ([`ApiVersion::MAX`]) as text, for headers.
pub const API_VERSION: &str = "1.47";
/// The product's version, as `docker version` shows the server's.
const SERVER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    match (method, path) {
        (&Method::GET | &Method::HEAD, ["_ping"]) => Some(ping),
        (&Method::GET, ["version"]) => Some(version),
        (&Method::GET, ["info"]) => Some(info),
        _ => None,
    }
}

fn ping(_backend: &Backend, _request: Request) -> Result<Reply, ApiError> {
    Ok(Reply::text(StatusCode::OK, "OK")
        .with_header(
            "cache-control",
            "no-cache, no-store, must-revalidate".into(),
        )
        .with_header("pragma", "no-cache".into())
        .with_header("builder-version", "1".into()))
}

fn version(_backend: &Backend, _request: Request) -> Result<Reply, ApiError> {
    let kernel = kernel_version();
    let arch = go_arch();
    Ok(Reply::ok(json!({
        "Platform": { "Name": "wharf" },
        "Components": [{
            "Name": "Engine",
            "Version": SERVER_VERSION,
            "Details": {
                "ApiVersion": API_VERSION,
                "MinAPIVersion": ApiVersion::MIN.to_string(),
                "Os": "linux",
                "Arch": arch,
                "KernelVersion": kernel,
                "Experimental": "false",
            },
        }],
        "Version": SERVER_VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": ApiVersion::MIN.to_string(),
        "GitCommit": "",
        "GoVersion": "",
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": kernel,
        "Experimental": false,
        "BuildTime": "",
    })))
}

fn info(backend: &Backend, _request: Request) -> Result<Reply, ApiError> {
    let containers = backend.engine.list_containers(&[])?;
    let count =
        |want: fn(&ContainerState) -> bool| containers.iter().filter(|c| want(&c.state)).count();
    let running = count(|s| matches!(s, ContainerState::Running { paused: false, .. }));
    let paused = count(|s| matches!(s, ContainerState::Running { paused: true, .. }));
    let images = backend
        .engine
        .images()
        .list()
        .map(|list| list.len())
        .unwrap_or(0);
    let cgroup_version = if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        "2"
    } else {
        "1"
    };
    let hostname = read_trimmed("/proc/sys/kernel/hostname");
    Ok(Reply::ok(json!({
        "ID": machine_id(),
        "Containers": containers.len(),
        "ContainersRunning": running,
        "ContainersPaused": paused,
        "ContainersStopped": containers.len() - running - paused,
        "Images": images,
        "Driver": "overlay",
        "DriverStatus": [],
        "Plugins": {
            "Volume": ["local"],
            "Network": ["bridge", "host", "none"],
            "Authorization": null,
            "Log": ["json-file"],
        },
        "MemoryLimit": true,
        "SwapLimit": true,
        "CpuCfsPeriod": true,
        "CpuCfsQuota": true,
        "CPUShares": true,
        "CPUSet": true,
        "PidsLimit": true,
        "OomKillDisable": false,
        "IPv4Forwarding": read_trimmed("/proc/sys/net/ipv4/ip_forward") == "1",
        "Debug": false,
        "NFd": open_fds(),
        "NGoroutines": 0,
        "SystemTime": rfc3339_now(),
        "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs",
        "CgroupVersion": cgroup_version,
        "NEventsListener": 0,
        "KernelVersion": kernel_version(),
        "OperatingSystem": operating_system(),
        "OSVersion": os_release_field("VERSION_ID"),
        "OSType": "linux",
        "Architecture": std::env::consts::ARCH,
        "NCPU": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "MemTotal": mem_total(),
        "DockerRootDir": backend.root.display().to_string(),
        "Name": hostname,
        "Labels": [],
        "ExperimentalBuild": false,
        "ServerVersion": SERVER_VERSION,
        "Runtimes": { "wharf": { "path": "wharf" } },
        "DefaultRuntime": "wharf",
        "Swarm": { "LocalNodeState": "inactive", "ControlAvailable": false, "NodeID": "", "NodeAddr": "" },
        "LiveRestoreEnabled": true,
        "Isolation": "",
        "InitBinary": "",
        "SecurityOptions": ["name=seccomp,profile=builtin", "name=cgroupns"],
        "Warnings": [],
    })))
}

/// The current time as docker's `SystemTime` (RFC 3339, nanoseconds).
fn rfc3339_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let (y, mo, d, h, mi, s) = wharf_units::calendar::utc_from_unix(now.as_secs() as i64);
    format!(
        "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{:09}Z",
        now.subsec_nanos()
    )
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

fn kernel_version() -> String {
    read_trimmed("/proc/sys/kernel/osrelease")
}

/// Go's name for the machine (`amd64`, `arm64`), as docker reports it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

fn machine_id() -> String {
    read_trimmed("/etc/machine-id")
}

fn os_release_field(key: &str) -> String {
    let text = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix(key)?.strip_prefix('='))
        .map(|value| value.trim_matches('"').to_string())
        .unwrap_or_default()
}

fn operating_system() -> String {
    let pretty = os_release_field("PRETTY_NAME");
    if pretty.is_empty() {
        "Linux".into()
    } else {
        pretty
    }
}

/// `MemTotal` of /proc/meminfo, in bytes.
fn mem_total() -> u64 {
    let text = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    text.lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<u64>()
                .ok()
        })
        .map_or(0, |kib| kib * 1024)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}
