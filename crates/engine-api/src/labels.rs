//! The label keys docker compose puts on what it creates. wharf uses the same
//! keys, so users' scripts and tools that read them keep working, and so a
//! daemonless CLI can rediscover its containers and networks.

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const CONTAINER_NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const CONFIG_HASH: &str = "com.docker.compose.config-hash";
pub const IMAGE: &str = "com.docker.compose.image";
pub const DEPENDS_ON: &str = "com.docker.compose.depends_on";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const VERSION: &str = "com.docker.compose.version";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";
/// On a network: docker's default `bridge` network, whose containers get no
/// name resolution (the host's resolvers, not the embedded DNS server), as on
/// docker's. docker marks its own with the option of this name.
pub const DEFAULT_BRIDGE: &str = "com.docker.network.bridge.default_bridge";
