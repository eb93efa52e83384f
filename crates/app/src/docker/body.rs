//! docker's container create body (`Config` + `HostConfig` +
//! `NetworkingConfig`, with docker's field names) as typed options, and its
//! translation to the engine's [`ContainerSpec`]. Values arrive parsed (a
//! front parses flags with [`super::flags`]); what wharf cannot honour is
//! named by [`CreateBody::unsupported_fields`] and refused, never ignored.

use std::collections::BTreeMap;
use wharf_engine_api::{
    ContainerSpec, DeviceMapping, Healthcheck, IpcMode, LogConfig, Mount, NetworkAttachment,
    NetworkMode, PidMode, PortBinding, Resources, RestartPolicy, SecuritySpec, Ulimit, VolumesFrom,
};

/// The name of docker's default network, and of wharf's.
pub const DEFAULT_NETWORK: &str = "bridge";

/// Everything `docker create` takes.
#[derive(Debug, Clone, Default)]
pub struct CreateBody {
    /// `--name`; generated when unset.
    pub name: Option<String>,
    pub config: Config,
    pub host_config: HostConfig,
    /// `--network-alias`, `--ip` (for the first network).
    pub networking: Networking,
}

/// docker's `Config`: what the container runs.
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub image: String,
    pub cmd: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    /// `KEY=VALUE` in order given; a later key wins.
    pub env: Vec<String>,
    pub working_dir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub domainname: Option<String>,
    pub labels: BTreeMap<String, String>,
    pub tty: bool,
    pub open_stdin: bool,
    pub stop_signal: Option<String>,
    /// Seconds.
    pub stop_timeout: Option<u64>,
    pub healthcheck: Option<Healthcheck>,
}

/// docker's `HostConfig`: how the host runs it.
#[derive(Debug, Clone, Default)]
pub struct HostConfig {
    /// `-v`, `--mount` and `--tmpfs`, parsed.
    pub mounts: Vec<Mount>,
    pub volumes_from: Vec<VolumesFrom>,
    /// `bridge` (default), `host`, `none`, `container:NAME` or a network's name.
    pub network_mode: Option<String>,
    pub port_bindings: Vec<PortBinding>,
    /// `-P`.
    pub publish_all_ports: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--add-host NAME:ADDRESS`, parsed.
    pub extra_hosts: Vec<(String, String)>,
    pub restart_policy: RestartPolicy,
    pub auto_remove: bool,
    pub resources: Resources,
    pub ulimits: BTreeMap<String, Ulimit>,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub privileged: bool,
    pub readonly_rootfs: bool,
    pub security_opt: Vec<String>,
    pub devices: Vec<DeviceMapping>,
    pub init: bool,
    pub log_config: LogConfig,
    pub sysctls: BTreeMap<String, String>,
    pub shm_size: Option<u64>,
    pub pid_mode: PidMode,
    pub ipc_mode: IpcMode,
    pub group_add: Vec<String>,
    /// `--link`: wharf refuses it, as docker discourages it (user networks
    /// resolve names instead).
    pub links: Vec<String>,
}

/// docker's `NetworkingConfig` for the container's network.
#[derive(Debug, Clone, Default)]
pub struct Networking {
    pub aliases: Vec<String>,
    pub ipv4_address: Option<std::net::Ipv4Addr>,
}

impl CreateBody {
    /// The docker options set that wharf cannot honour, by flag name.
    pub fn unsupported_fields(&self) -> Vec<&'static str> {
        let mut refused = Vec::new();
        if !self.host_config.links.is_empty() {
            refused.push("--link");
        }
        if self.host_config.publish_all_ports {
            refused.push("--publish-all");
        }
        refused
    }

    /// The network the container joins first: `-–network`, else `bridge`.
    pub fn network(&self) -> &str {
        self.host_config
            .network_mode
            .as_deref()
            .filter(|n| !n.is_empty() && *n != "default")
            .unwrap_or(DEFAULT_NETWORK)
    }

    /// The engine's spec for this body, named `name`.
    pub fn to_spec(&self, name: &str) -> ContainerSpec {
        let (config, host) = (&self.config, &self.host_config);
        let mut env = BTreeMap::new();
        for pair in &config.env {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            env.insert(key.to_string(), value.to_string());
        }
        let network = self.network();
        let (network_mode, networks) = match network {
            "host" => (NetworkMode::Host, Vec::new()),
            "none" => (NetworkMode::None, Vec::new()),
            other => match other.strip_prefix("container:") {
                Some(container) => (NetworkMode::Container(container.to_string()), Vec::new()),
                None => {
                    // docker answers to the container's name (and its
                    // aliases) on user networks only.
                    let mut aliases = self.networking.aliases.clone();
                    if other != DEFAULT_NETWORK {
                        aliases.insert(0, name.to_string());
                    }
                    (
                        NetworkMode::Bridge,
                        vec![NetworkAttachment {
                            network: other.to_string(),
                            aliases,
                            ipv4_address: self.networking.ipv4_address,
                            ..Default::default()
                        }],
                    )
                }
            },
        };
        ContainerSpec {
            name: name.to_string(),
            image: config.image.clone(),
            entrypoint: config.entrypoint.clone(),
            command: config.cmd.clone(),
            env,
            working_dir: config.working_dir.clone(),
            user: config.user.clone(),
            hostname: config.hostname.clone(),
            domainname: config.domainname.clone(),
            labels: config.labels.clone(),
            mounts: host.mounts.clone(),
            volumes_from: host.volumes_from.clone(),
            networks,
            network_mode,
            ports: host.port_bindings.clone(),
            resources: host.resources.clone(),
            stop_signal: config.stop_signal.clone(),
            stop_grace_period_secs: config.stop_timeout,
            restart: host.restart_policy.clone(),
            auto_remove: host.auto_remove,
            healthcheck: config.healthcheck.clone(),
            security: SecuritySpec {
                privileged: host.privileged,
                cap_add: host.cap_add.clone(),
                cap_drop: host.cap_drop.clone(),
                read_only: host.readonly_rootfs,
                security_opt: host.security_opt.clone(),
                devices: host.devices.clone(),
            },
            ulimits: host.ulimits.clone(),
            sysctls: host.sysctls.clone(),
            shm_size: host.shm_size,
            dns: host.dns.clone(),
            dns_search: host.dns_search.clone(),
            dns_opt: host.dns_options.clone(),
            extra_hosts: host.extra_hosts.clone(),
            init: host.init,
            pid_mode: host.pid_mode.clone(),
            ipc_mode: host.ipc_mode.clone(),
            group_add: host.group_add.clone(),
            logging: host.log_config,
            tty: config.tty,
            stdin_open: config.open_stdin,
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(network: Option<&str>) -> CreateBody {
        let mut body = CreateBody::default();
        body.config.image = "busybox".into();
        body.config.env = vec!["A=1".into(), "B".into(), "A=2".into()];
        body.host_config.network_mode = network.map(String::from);
        body.networking.aliases = vec!["db".into()];
        body
    }

    #[test]
    fn the_default_network_is_bridge_without_the_name_as_alias() {
        let spec = body(None).to_spec("con01");
        assert_eq!(spec.networks.len(), 1);
        assert_eq!(spec.networks[0].network, "bridge");
        assert_eq!(spec.networks[0].aliases, ["db"]);
        assert_eq!(spec.env.get("A").map(String::as_str), Some("2"));
        assert_eq!(spec.env.get("B").map(String::as_str), Some(""));
    }

    #[test]
    fn a_user_network_answers_to_the_container_name() {
        let spec = body(Some("appnet")).to_spec("con01");
        assert_eq!(spec.networks[0].aliases, ["con01", "db"]);
    }

    #[test]
    fn host_none_and_container_modes_have_no_attachment() {
        assert_eq!(
            body(Some("host")).to_spec("c").network_mode,
            NetworkMode::Host
        );
        assert_eq!(
            body(Some("none")).to_spec("c").network_mode,
            NetworkMode::None
        );
        let spec = body(Some("container:web")).to_spec("c");
        assert_eq!(spec.network_mode, NetworkMode::Container("web".into()));
        assert!(spec.networks.is_empty());
    }

    #[test]
    fn links_are_refused_by_name() {
        let mut b = body(None);
        b.host_config.links = vec!["db:db".into()];
        assert_eq!(b.unsupported_fields(), ["--link"]);
    }
}
