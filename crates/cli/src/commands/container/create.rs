//! `wharf container create` and `run`: docker's flags parsed into the core's
//! create body, then created, and for `run` started detached or attached to
//! this terminal (a pseudo-terminal with `-t`, signals forwarded).

use crate::context::GlobalOptions;
use anyhow::{Context, Result};
use clap::Args;
use std::io::IsTerminal;
use wharf_app::docker::{self, flags, CreateBody};
use wharf_engine_api::{Engine, Healthcheck};

/// docker's create flags, shared by `create` and `run`. `-h` is the host
/// name, as docker's; help is `--help` only.
#[derive(Args, Debug, Default)]
#[command(disable_help_flag = true)]
pub struct CreateFlags {
    /// Print help
    #[arg(long, action = clap::ArgAction::Help)]
    pub help: Option<bool>,
    /// Assign a name to the container
    #[arg(long)]
    pub name: Option<String>,
    /// Keep STDIN open even if not attached
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short = 't', long)]
    pub tty: bool,
    /// Set environment variables
    #[arg(short = 'e', long = "env", value_name = "KEY=VAL")]
    pub env: Vec<String>,
    /// Read in a file of environment variables
    #[arg(long = "env-file")]
    pub env_file: Vec<String>,
    /// Publish a container's port(s) to the host
    #[arg(short = 'p', long = "publish")]
    pub publish: Vec<String>,
    /// Publish all exposed ports to random ports
    #[arg(short = 'P', long = "publish-all")]
    pub publish_all: bool,
    /// Bind mount a volume
    #[arg(short = 'v', long = "volume")]
    pub volumes: Vec<String>,
    /// Attach a filesystem mount to the container
    #[arg(long = "mount")]
    pub mounts: Vec<String>,
    /// Mount a tmpfs directory
    #[arg(long = "tmpfs")]
    pub tmpfs: Vec<String>,
    /// Mount volumes from the specified container(s)
    #[arg(long = "volumes-from")]
    pub volumes_from: Vec<String>,
    /// Connect a container to a network (bridge, host, none, container:NAME or a network)
    #[arg(long = "network", alias = "net")]
    pub network: Option<String>,
    /// Add network-scoped alias for the container
    #[arg(long = "network-alias", alias = "net-alias")]
    pub network_alias: Vec<String>,
    /// IPv4 address (e.g., 172.30.100.104)
    #[arg(long)]
    pub ip: Option<std::net::Ipv4Addr>,
    /// Add link to another container (refused: use a user network)
    #[arg(long = "link")]
    pub link: Vec<String>,
    /// Container host name
    #[arg(short = 'h', long)]
    pub hostname: Option<String>,
    /// Container NIS domain name
    #[arg(long)]
    pub domainname: Option<String>,
    /// Set custom DNS servers
    #[arg(long)]
    pub dns: Vec<String>,
    /// Set DNS search domains
    #[arg(long = "dns-search")]
    pub dns_search: Vec<String>,
    /// Set DNS options
    #[arg(long = "dns-option", alias = "dns-opt")]
    pub dns_option: Vec<String>,
    /// Add a custom host-to-IP mapping (host:ip)
    #[arg(long = "add-host")]
    pub add_host: Vec<String>,
    /// Working directory inside the container
    #[arg(short = 'w', long = "workdir")]
    pub workdir: Option<String>,
    /// Username or UID (format: <name|uid>[:<group|gid>])
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Add additional groups to join
    #[arg(long = "group-add")]
    pub group_add: Vec<String>,
    /// Overwrite the default ENTRYPOINT of the image
    #[arg(long)]
    pub entrypoint: Option<String>,
    /// Restart policy to apply when a container exits
    #[arg(long, default_value = "no")]
    pub restart: String,
    #[command(flatten)]
    pub limits: super::limits::LimitArgs,
    /// Block IO weight (relative device weight)
    #[arg(long = "blkio-weight-device")]
    pub blkio_weight_device: Vec<String>,
    /// Limit read rate (bytes per second) from a device
    #[arg(long = "device-read-bps")]
    pub device_read_bps: Vec<String>,
    /// Limit write rate (bytes per second) to a device
    #[arg(long = "device-write-bps")]
    pub device_write_bps: Vec<String>,
    /// Limit read rate (IO per second) from a device
    #[arg(long = "device-read-iops")]
    pub device_read_iops: Vec<String>,
    /// Limit write rate (IO per second) to a device
    #[arg(long = "device-write-iops")]
    pub device_write_iops: Vec<String>,
    /// Ulimit options
    #[arg(long)]
    pub ulimit: Vec<String>,
    /// Add Linux capabilities
    #[arg(long = "cap-add")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities
    #[arg(long = "cap-drop")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to this container
    #[arg(long)]
    pub privileged: bool,
    /// Mount the container's root filesystem as read only
    #[arg(long = "read-only")]
    pub read_only: bool,
    /// Security Options
    #[arg(long = "security-opt")]
    pub security_opt: Vec<String>,
    /// Add a host device to the container
    #[arg(long)]
    pub device: Vec<String>,
    /// Run an init inside the container that forwards signals and reaps processes
    #[arg(long)]
    pub init: bool,
    /// Command to run to check health
    #[arg(long = "health-cmd")]
    pub health_cmd: Option<String>,
    /// Time between running the check (ms|s|m|h)
    #[arg(long = "health-interval")]
    pub health_interval: Option<String>,
    /// Consecutive failures needed to report unhealthy
    #[arg(long = "health-retries")]
    pub health_retries: Option<u32>,
    /// Maximum time to allow one check to run (ms|s|m|h)
    #[arg(long = "health-timeout")]
    pub health_timeout: Option<String>,
    /// Start period for the container to initialize before starting health-retries countdown
    #[arg(long = "health-start-period")]
    pub health_start_period: Option<String>,
    /// Disable any container-specified HEALTHCHECK
    #[arg(long = "no-healthcheck")]
    pub no_healthcheck: bool,
    /// Signal to stop the container
    #[arg(long = "stop-signal")]
    pub stop_signal: Option<String>,
    /// Timeout (in seconds) to stop a container
    #[arg(long = "stop-timeout")]
    pub stop_timeout: Option<u64>,
    /// Set meta data on a container
    #[arg(short = 'l', long = "label")]
    pub label: Vec<String>,
    /// Logging driver for the container
    #[arg(long = "log-driver")]
    pub log_driver: Option<String>,
    /// Log driver options
    #[arg(long = "log-opt")]
    pub log_opt: Vec<String>,
    /// Sysctl options
    #[arg(long)]
    pub sysctl: Vec<String>,
    /// Size of /dev/shm
    #[arg(long = "shm-size")]
    pub shm_size: Option<String>,
    /// PID namespace to use (host or container:NAME)
    #[arg(long)]
    pub pid: Option<String>,
    /// IPC mode to use (private, shareable, host, none, container:NAME)
    #[arg(long)]
    pub ipc: Option<String>,
    /// Automatically remove the container when it exits
    #[arg(long)]
    pub rm: bool,
    /// Image to create the container from
    pub image: String,
    /// Command and arguments
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl CreateFlags {
    /// The core's create body for these flags.
    pub fn body(&self) -> Result<CreateBody> {
        let mut body = CreateBody {
            name: self.name.clone(),
            ..Default::default()
        };
        let config = &mut body.config;
        config.image = self.image.clone();
        config.cmd = (!self.command.is_empty()).then(|| self.command.clone());
        config.entrypoint = self.entrypoint.as_ref().map(|e| {
            // `--entrypoint ""` clears the image's, as docker.
            if e.is_empty() {
                Vec::new()
            } else {
                vec![e.clone()]
            }
        });
        for file in &self.env_file {
            let text = std::fs::read_to_string(file)
                .with_context(|| format!("--env-file {file}: cannot read it"))?;
            config
                .env
                .extend(flags::env_file(&text, |k| std::env::var(k).ok()));
        }
        for pair in &self.env {
            // `-e KEY` takes the value from our environment, or is left out.
            match pair.split_once('=') {
                Some(_) => config.env.push(pair.clone()),
                None => {
                    if let Ok(value) = std::env::var(pair) {
                        config.env.push(format!("{pair}={value}"));
                    }
                }
            }
        }
        config.working_dir = self.workdir.clone();
        config.user = self.user.clone();
        config.hostname = self.hostname.clone();
        config.domainname = self.domainname.clone();
        config.labels = flags::key_values("--label", &self.label)?;
        config.tty = self.tty;
        config.open_stdin = self.interactive;
        config.stop_signal = self.stop_signal.clone();
        config.stop_timeout = self.stop_timeout;
        config.healthcheck = self.healthcheck()?;
        let host = &mut body.host_config;
        for v in &self.volumes {
            host.mounts.push(flags::volume(v)?);
        }
        for m in &self.mounts {
            host.mounts.push(flags::mount(m)?);
        }
        for t in &self.tmpfs {
            host.mounts.push(flags::tmpfs(t)?);
        }
        for v in &self.volumes_from {
            host.volumes_from.push(flags::volumes_from(v)?);
        }
        host.network_mode = self.network.clone();
        for p in &self.publish {
            host.port_bindings.extend(flags::publish(p)?);
        }
        host.publish_all_ports = self.publish_all;
        host.links = self.link.clone();
        host.dns = self.dns.clone();
        host.dns_search = self.dns_search.clone();
        host.dns_options = self.dns_option.clone();
        for h in &self.add_host {
            host.extra_hosts.push(flags::add_host(h)?);
        }
        host.restart_policy = flags::restart(&self.restart)?;
        host.auto_remove = self.rm;
        host.resources = self.limits.resources()?;
        let r = &mut host.resources;
        for d in &self.blkio_weight_device {
            r.blkio_weight_device.push(flags::weight_device(d)?);
        }
        for (flag, list, into) in [
            (
                "--device-read-bps",
                &self.device_read_bps,
                &mut r.blkio_device_read_bps,
            ),
            (
                "--device-write-bps",
                &self.device_write_bps,
                &mut r.blkio_device_write_bps,
            ),
        ] {
            for d in list {
                into.push(flags::throttle_bps(flag, d)?);
            }
        }
        for (flag, list, into) in [
            (
                "--device-read-iops",
                &self.device_read_iops,
                &mut r.blkio_device_read_iops,
            ),
            (
                "--device-write-iops",
                &self.device_write_iops,
                &mut r.blkio_device_write_iops,
            ),
        ] {
            for d in list {
                into.push(flags::throttle_iops(flag, d)?);
            }
        }
        for u in &self.ulimit {
            let (name, limit) = flags::ulimit(u)?;
            host.ulimits.insert(name, limit);
        }
        host.cap_add = self.cap_add.clone();
        host.cap_drop = self.cap_drop.clone();
        host.privileged = self.privileged;
        host.readonly_rootfs = self.read_only;
        host.security_opt = self.security_opt.clone();
        for d in &self.device {
            host.devices.push(flags::device(d)?);
        }
        host.init = self.init;
        host.log_config = flags::log_config(self.log_driver.as_deref(), &self.log_opt)?;
        host.sysctls = flags::key_values("--sysctl", &self.sysctl)?;
        host.shm_size = self
            .shm_size
            .as_deref()
            .map(|s| flags::bytes("--shm-size", s))
            .transpose()?;
        host.group_add = self.group_add.clone();
        host.pid_mode = match self.pid.as_deref() {
            None | Some("") => wharf_engine_api::PidMode::Private,
            Some("host") => wharf_engine_api::PidMode::Host,
            Some(other) => match other.strip_prefix("container:") {
                Some(c) => wharf_engine_api::PidMode::Container(c.into()),
                None => anyhow::bail!("--pid {other:?}: use host or container:NAME"),
            },
        };
        host.ipc_mode = match self.ipc.as_deref() {
            None | Some("") | Some("private") => wharf_engine_api::IpcMode::Private,
            Some("shareable") => wharf_engine_api::IpcMode::Shareable,
            Some("host") => wharf_engine_api::IpcMode::Host,
            Some("none") => wharf_engine_api::IpcMode::None,
            Some(other) => match other.strip_prefix("container:") {
                Some(c) => wharf_engine_api::IpcMode::Container(c.into()),
                None => anyhow::bail!(
                    "--ipc {other:?}: use private, shareable, host, none or container:NAME"
                ),
            },
        };
        body.networking.aliases = self.network_alias.clone();
        body.networking.ipv4_address = self.ip;
        Ok(body)
    }

    fn healthcheck(&self) -> Result<Option<Healthcheck>> {
        if self.no_healthcheck {
            return Ok(Some(Healthcheck {
                test: vec!["NONE".into()],
                ..Default::default()
            }));
        }
        let Some(cmd) = &self.health_cmd else {
            return Ok(None);
        };
        let ms = |flag, v: &Option<String>| {
            v.as_deref()
                .map(|t| flags::duration_ms(flag, t))
                .transpose()
        };
        Ok(Some(Healthcheck {
            test: vec!["CMD-SHELL".into(), cmd.clone()],
            interval_ms: ms("--health-interval", &self.health_interval)?,
            timeout_ms: ms("--health-timeout", &self.health_timeout)?,
            retries: self.health_retries,
            start_period_ms: ms("--health-start-period", &self.health_start_period)?,
            start_interval_ms: None,
        }))
    }
}

/// `create`: print the new container's id.
pub fn create(global: &GlobalOptions, flags: CreateFlags) -> Result<i32> {
    let engine = global.engine()?;
    let created = create_pulling(global, &engine, &flags.body()?)?;
    println!("{}", created.id);
    Ok(0)
}

/// Create, pulling the image first when it is not in the store (as docker).
fn create_pulling(
    global: &GlobalOptions,
    engine: &wharf_engine::LinuxEngine,
    body: &CreateBody,
) -> Result<docker::Created> {
    if engine.image_inspect(&body.config.image)?.is_none() {
        eprintln!("Unable to find image '{}' locally", body.config.image);
        let image = &body.config.image;
        let options = global.registry()?.pull_options(image, None)?;
        // Quiet: stdout carries the id (`id=$(docker run -d …)`).
        let view = super::super::pull::TransferView::new(global, true);
        let outcome = engine.images().pull(image, &options, &|p| view.event(p));
        view.finish();
        outcome.with_context(|| format!("pulling {image}"))?;
        eprintln!("Status: Downloaded newer image for {image}");
    }
    let created = docker::create(engine, body)?;
    for warning in &created.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(created)
}

#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RunArgs {
    /// Run container in background and print container ID
    #[arg(short = 'd', long)]
    pub detach: bool,
    #[command(flatten)]
    pub create: CreateFlags,
}

/// `run`: create and start; detached it prints the id, attached it relays
/// this terminal and gives back the container's exit code.
pub fn run(global: &GlobalOptions, args: RunArgs) -> Result<i32> {
    let RunArgs {
        detach,
        create: flags,
    } = args;
    let stdin_is_terminal = std::io::stdin().is_terminal();
    if flags.tty && flags.interactive && !detach && !stdin_is_terminal {
        anyhow::bail!("the input device is not a TTY: drop -t, or run from a terminal");
    }
    let body = flags.body()?;
    let signals = super::super::run::forwarded_signals(!detach)?;
    let engine = global.engine()?;
    let created = create_pulling(global, &engine, &body)?;
    if detach {
        engine
            .start_container(&created.id)
            .with_context(|| format!("starting container {}", created.name))?;
        println!("{}", created.id);
        return Ok(0);
    }
    let result = super::super::run::start_forwarding(
        &engine,
        &created.id,
        &signals,
        flags.tty && stdin_is_terminal,
    );
    let one_off = wharf_app::run::OneOff {
        id: created.id,
        name: created.name,
    };
    let exit = wharf_app::run::finish(&engine, &one_off, flags.rm, result)?;
    if let Some(message) = exit.message {
        eprintln!("error: {message}");
    }
    Ok(exit.code)
}
