//! wharf-testkit: dev-only helpers shared by wharf's tests.
//!
//! - [`FakeEngine`]: an in-memory [`wharf_engine_api::Engine`] with a call log,
//!   fault injection, artificial latency and a concurrency gauge, so the
//!   orchestrator is tested without root and without a real engine.
//! - [`container_info`] / [`network_info`]: build observed state by hand for
//!   plan golden tests.
//! - [`project_dir`]: a temporary project directory.
//! - [`credhelper`]: a fake docker credential helper (a shell script).
//! - [`registry`]: a real `docker-registry` on 127.0.0.1 for registry tests.
//! - [`sandbox`]: fresh namespaces and a private cgroup parent for privileged
//!   tests and benchmarks.

pub mod credhelper;
mod fake;
pub mod registry;
pub mod sandbox;

pub use fake::FakeEngine;

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use wharf_engine_api::{labels, ContainerInfo, ContainerSpec, ContainerState, NetworkInfo};

/// A fresh temporary directory to hold a project's files; removed on drop.
pub fn project_dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("wharf-project-")
        .tempdir()
        .expect("create a temporary project directory")
}

/// A container as an engine would report it after creating `spec` and
/// bringing it to `state`; for hand-built observed state in plan tests.
pub fn container_info(spec: &ContainerSpec, id: &str, state: ContainerState) -> ContainerInfo {
    let mut command = spec.entrypoint.clone().unwrap_or_default();
    command.extend(spec.command.clone().unwrap_or_default());
    ContainerInfo {
        id: id.to_string(),
        name: spec.name.clone(),
        image: spec.image.clone(),
        image_id: format!("sha256:{}", fake::hex_id(image_seed(&spec.image))),
        command,
        created: 1_700_000_000,
        state,
        labels: spec.labels.clone(),
        ports: Vec::new(),
        addresses: BTreeMap::new(),
        addresses_v6: BTreeMap::new(),
        health: None,
    }
}

/// A running state for [`container_info`].
pub fn running() -> ContainerState {
    ContainerState::Running {
        pid: 4242,
        started_at: 1_700_000_000,
        paused: false,
    }
}

/// An exited (exit code 0) state for [`container_info`].
pub fn exited() -> ContainerState {
    ContainerState::Exited {
        exit_code: 0,
        finished_at: 1_700_000_100,
        oom_killed: false,
    }
}

/// A network of project `project` under top-level key `key`, as an engine
/// would report it after the orchestrator created it.
pub fn network_info(id: &str, name: &str, project: &str, key: &str) -> NetworkInfo {
    let mut labels = BTreeMap::new();
    labels.insert(labels::PROJECT.to_string(), project.to_string());
    labels.insert(labels::NETWORK.to_string(), key.to_string());
    NetworkInfo {
        id: id.to_string(),
        name: name.to_string(),
        labels,
        subnet: "172.30.0.0/16".to_string(),
        gateway: IpAddr::V4(Ipv4Addr::new(172, 30, 0, 1)),
        bridge: "br-test".to_string(),
        ip_range: None,
        aux_addresses: Default::default(),
        mtu: None,
        ipv6: None,
    }
}

fn image_seed(reference: &str) -> u64 {
    reference.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}
