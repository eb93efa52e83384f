//! `POST /containers/create`'s JSON (docker's `Config` with `HostConfig` and
//! `NetworkingConfig`) read into the core's [`CreateBody`]. Values go
//! through the same parsers as the CLI's flags; an error names the JSON
//! field. A field wharf cannot honour is refused by name when it is set to
//! anything but its zero value (the docker CLI sends every field, most of
//! them zero).

use crate::error::ApiError;
use serde_json::{Map, Value};
use wharf_app::docker::flags::{self, FlagError};
use wharf_app::docker::CreateBody;
use wharf_engine_api::{Healthcheck, IpcMode, PidMode};

/// Fields of `Config` that carry nothing for wharf whatever their value
/// (docker derives them, or they only describe the request).
const CONFIG_IGNORED: &[&str] = &[
    "AttachStdin",
    "AttachStdout",
    "AttachStderr",
    "StdinOnce",
    "ExposedPorts",
    // Read after the HostConfig (`read_volumes`).
    "Volumes",
    "ArgsEscaped",
    "HostConfig",
    "NetworkingConfig",
    "OnBuild",
    "Shell",
    "Platform",
];

/// Fields of `HostConfig` accepted and left to the engine's defaults.
const HOST_IGNORED: &[&str] = &["ConsoleSize", "ContainerIDFile", "Isolation", "Annotations"];

/// The create body of `POST /containers/create?name=NAME`.
pub fn parse(name: Option<&str>, json: &Value) -> Result<CreateBody, ApiError> {
    let Value::Object(config) = json else {
        return Err(ApiError::bad_request(
            "invalid JSON body: expected an object with docker's container Config",
        ));
    };
    let mut body = CreateBody {
        name: name
            .filter(|n| !n.is_empty())
            .map(|n| n.trim_start_matches('/').to_string()),
        ..Default::default()
    };
    read_config(config, &mut body)?;
    if let Some(host) = config.get("HostConfig").filter(|v| !v.is_null()) {
        let Value::Object(host) = host else {
            return Err(field_error("HostConfig", "expected an object"));
        };
        read_host_config(host, &mut body)?;
    }
    if let Some(networking) = config.get("NetworkingConfig") {
        read_networking(networking, &mut body)?;
    }
    read_volumes(config.get("Volumes"), &mut body)?;
    if body.config.image.is_empty() {
        return Err(ApiError::bad_request(
            "Config.Image is empty: give the image to create the container from",
        ));
    }
    Ok(body)
}

/// `Config.Volumes`: docker's CLI sends `-v /data` (an anonymous volume)
/// there, not in `Binds`; docker-py also lists the targets of its binds,
/// which the binds then mount.
fn read_volumes(volumes: Option<&Value>, body: &mut CreateBody) -> Result<(), ApiError> {
    let path = "Volumes";
    let targets = match volumes {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(targets)) => targets,
        Some(_) => return Err(field_error(path, "expected an object of mount targets")),
    };
    for target in targets.keys() {
        let mount = flags::volume(target).map_err(|e| flag_error(path, e))?;
        let mounts = &mut body.host_config.mounts;
        if !mounts.iter().any(|m| m.target == mount.target) {
            mounts.push(mount);
        }
    }
    Ok(())
}

fn field_error(path: &str, why: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("invalid field {path}: {why}"))
}

fn flag_error(path: &str, error: FlagError) -> ApiError {
    field_error(path, format!("{:?}: {}", error.value, error.reason))
}

fn unsupported(path: &str) -> ApiError {
    ApiError::bad_request(format!(
        "{path} is not supported by wharf: remove it from the request (or leave it at its zero value)"
    ))
}

/// Whether a value is Go's zero value for its field (null, false, 0, "",
/// empty list or map, or an object whose every field is zero).
fn is_zero(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(fields) => fields.values().all(is_zero),
    }
}

fn string(path: &str, value: &Value) -> Result<Option<String>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(field_error(path, "expected a string")),
    }
}

fn boolean(path: &str, value: &Value) -> Result<bool, ApiError> {
    match value {
        Value::Null => Ok(false),
        Value::Bool(b) => Ok(*b),
        _ => Err(field_error(path, "expected true or false")),
    }
}

fn integer(path: &str, value: &Value) -> Result<Option<i64>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::Number(n) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| field_error(path, "expected an integer")),
        _ => Err(field_error(path, "expected an integer")),
    }
}

/// A list of strings; docker also accepts one string for `Cmd` and
/// `Entrypoint`.
fn strings(path: &str, value: &Value) -> Result<Option<Vec<String>>, ApiError> {
    match value {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(vec![s.clone()])),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| field_error(path, "expected a list of strings"))
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        _ => Err(field_error(path, "expected a list of strings")),
    }
}

fn string_map(path: &str, value: &Value) -> Result<Vec<(String, String)>, ApiError> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Object(fields) => fields
            .iter()
            .map(|(k, v)| match v {
                Value::String(s) => Ok((k.clone(), s.clone())),
                _ => Err(field_error(&format!("{path}.{k}"), "expected a string")),
            })
            .collect(),
        _ => Err(field_error(path, "expected an object of strings")),
    }
}

fn read_config(config: &Map<String, Value>, body: &mut CreateBody) -> Result<(), ApiError> {
    let c = &mut body.config;
    for (key, value) in config {
        let path = key.as_str();
        match path {
            "Image" => c.image = string(path, value)?.unwrap_or_default(),
            "Cmd" => c.cmd = strings(path, value)?,
            "Entrypoint" => c.entrypoint = strings(path, value)?,
            "Env" => c.env = strings(path, value)?.unwrap_or_default(),
            "WorkingDir" => c.working_dir = string(path, value)?.filter(|s| !s.is_empty()),
            "User" => c.user = string(path, value)?.filter(|s| !s.is_empty()),
            "Hostname" => c.hostname = string(path, value)?.filter(|s| !s.is_empty()),
            "Domainname" => c.domainname = string(path, value)?.filter(|s| !s.is_empty()),
            "Labels" => c.labels = string_map(path, value)?.into_iter().collect(),
            "Tty" => c.tty = boolean(path, value)?,
            "OpenStdin" => c.open_stdin = boolean(path, value)?,
            "StopSignal" => c.stop_signal = string(path, value)?.filter(|s| !s.is_empty()),
            "StopTimeout" => {
                c.stop_timeout = integer(path, value)?
                    .map(|t| {
                        u64::try_from(t).map_err(|_| field_error(path, "must not be negative"))
                    })
                    .transpose()?
            }
            "Healthcheck" => c.healthcheck = healthcheck(value)?,
            "NetworkDisabled" => {
                if boolean(path, value)? {
                    body.host_config.network_mode = Some("none".into());
                }
            }
            "MacAddress" if is_zero(value) => {}
            other if CONFIG_IGNORED.contains(&other) => {}
            _ if is_zero(value) => {}
            other => return Err(unsupported(&format!("Config.{other}"))),
        }
    }
    Ok(())
}

fn healthcheck(value: &Value) -> Result<Option<Healthcheck>, ApiError> {
    let Value::Object(fields) = value else {
        return if value.is_null() {
            Ok(None)
        } else {
            Err(field_error("Healthcheck", "expected an object"))
        };
    };
    // Docker's durations are nanoseconds.
    let ms = |name: &str| -> Result<Option<u64>, ApiError> {
        let path = format!("Healthcheck.{name}");
        Ok(fields
            .get(name)
            .map(|v| integer(&path, v))
            .transpose()?
            .flatten()
            .filter(|n| *n > 0)
            .map(|n| n as u64 / 1_000_000))
    };
    let test = fields
        .get("Test")
        .map(|v| strings("Healthcheck.Test", v))
        .transpose()?
        .flatten()
        .unwrap_or_default();
    if test.is_empty() {
        return Ok(None);
    }
    Ok(Some(Healthcheck {
        test,
        interval_ms: ms("Interval")?,
        timeout_ms: ms("Timeout")?,
        retries: fields
            .get("Retries")
            .map(|v| integer("Healthcheck.Retries", v))
            .transpose()?
            .flatten()
            .filter(|n| *n > 0)
            .map(|n| n as u32),
        start_period_ms: ms("StartPeriod")?,
        start_interval_ms: ms("StartInterval")?,
    }))
}

fn read_host_config(host: &Map<String, Value>, body: &mut CreateBody) -> Result<(), ApiError> {
    let h = &mut body.host_config;
    let mut memory = None;
    let mut memory_swap = None;
    let mut memory_reservation = None;
    for (key, value) in host {
        let path = format!("HostConfig.{key}");
        let path = path.as_str();
        match key.as_str() {
            "Binds" => {
                for bind in strings(path, value)?.unwrap_or_default() {
                    h.mounts
                        .push(flags::volume(&bind).map_err(|e| flag_error(path, e))?);
                }
            }
            "Mounts" => {
                for (index, mount) in value.as_array().into_iter().flatten().enumerate() {
                    let item = format!("{path}[{index}]");
                    h.mounts.push(mount_spec(&item, mount)?);
                }
            }
            "Tmpfs" => {
                for (target, options) in string_map(path, value)? {
                    let text = if options.is_empty() {
                        target
                    } else {
                        format!("{target}:{options}")
                    };
                    h.mounts
                        .push(flags::tmpfs(&text).map_err(|e| flag_error(path, e))?);
                }
            }
            "VolumesFrom" => {
                for from in strings(path, value)?.unwrap_or_default() {
                    h.volumes_from
                        .push(flags::volumes_from(&from).map_err(|e| flag_error(path, e))?);
                }
            }
            "NetworkMode" => h.network_mode = string(path, value)?.filter(|s| !s.is_empty()),
            "PortBindings" => {
                let Value::Object(ports) = value else {
                    if value.is_null() {
                        continue;
                    }
                    return Err(field_error(
                        path,
                        "expected an object like {\"80/tcp\":[{\"HostPort\":\"8080\"}]}",
                    ));
                };
                for (port, bindings) in ports {
                    for binding in bindings.as_array().into_iter().flatten() {
                        let host_ip = binding.get("HostIp").and_then(Value::as_str).unwrap_or("");
                        let host_port = binding
                            .get("HostPort")
                            .and_then(Value::as_str)
                            .unwrap_or("");
                        let text = match (host_ip, host_port) {
                            ("", "") => port.clone(),
                            ("", p) => format!("{p}:{port}"),
                            (ip, p) if ip.contains(':') => format!("[{ip}]:{p}:{port}"),
                            (ip, p) => format!("{ip}:{p}:{port}"),
                        };
                        h.port_bindings
                            .extend(flags::publish(&text).map_err(|e| flag_error(path, e))?);
                    }
                }
            }
            "PublishAllPorts" => h.publish_all_ports = boolean(path, value)?,
            "Links" => h.links = strings(path, value)?.unwrap_or_default(),
            "Dns" => h.dns = strings(path, value)?.unwrap_or_default(),
            "DnsSearch" => h.dns_search = strings(path, value)?.unwrap_or_default(),
            "DnsOptions" => h.dns_options = strings(path, value)?.unwrap_or_default(),
            "ExtraHosts" => {
                for entry in strings(path, value)?.unwrap_or_default() {
                    h.extra_hosts
                        .push(flags::add_host(&entry).map_err(|e| flag_error(path, e))?);
                }
            }
            "RestartPolicy" => {
                let name = value.get("Name").and_then(Value::as_str).unwrap_or("");
                let retries = value
                    .get("MaximumRetryCount")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                let text = match (name, retries) {
                    ("", _) => "no".to_string(),
                    ("on-failure", n) if n > 0 => format!("on-failure:{n}"),
                    (name, _) => name.to_string(),
                };
                h.restart_policy = flags::restart(&text).map_err(|e| flag_error(path, e))?;
            }
            "AutoRemove" => h.auto_remove = boolean(path, value)?,
            "Memory" => memory = integer(path, value)?.filter(|n| *n > 0),
            "MemorySwap" => memory_swap = integer(path, value)?.filter(|n| *n != 0),
            "MemoryReservation" => memory_reservation = integer(path, value)?.filter(|n| *n > 0),
            "NanoCpus" => {
                h.resources.nano_cpus = integer(path, value)?.filter(|n| *n > 0).map(|n| n as u64)
            }
            "CpuShares" => {
                h.resources.cpu_shares = integer(path, value)?.filter(|n| *n > 0).map(|n| n as u64)
            }
            "CpusetCpus" => {
                h.resources.cpuset_cpus = string(path, value)?.filter(|s| !s.is_empty())
            }
            // Taken as the CLI's --blkio-weight: a host without an I/O
            // scheduler that takes it discards it with docker's warning.
            "BlkioWeight" => {
                h.resources.blkio_weight = integer(path, value)?
                    .map(flags::blkio_weight)
                    .transpose()
                    .map_err(|e| flag_error(path, e))?
                    .filter(|w| *w != 0)
            }
            "PidsLimit" => {
                h.resources.pids_limit = integer(path, value)?.filter(|n| *n > 0).map(|n| n as u64)
            }
            "Ulimits" => {
                for (index, limit) in value.as_array().into_iter().flatten().enumerate() {
                    let item = format!("{path}[{index}]");
                    let name = limit.get("Name").and_then(Value::as_str).unwrap_or("");
                    let soft = limit.get("Soft").and_then(Value::as_i64).unwrap_or(0);
                    let hard = limit.get("Hard").and_then(Value::as_i64).unwrap_or(soft);
                    let (name, ulimit) = flags::ulimit(&format!("{name}={soft}:{hard}"))
                        .map_err(|e| flag_error(&item, e))?;
                    h.ulimits.insert(name, ulimit);
                }
            }
            "CapAdd" => h.cap_add = strings(path, value)?.unwrap_or_default(),
            "CapDrop" => h.cap_drop = strings(path, value)?.unwrap_or_default(),
            "Privileged" => h.privileged = boolean(path, value)?,
            "ReadonlyRootfs" => h.readonly_rootfs = boolean(path, value)?,
            "SecurityOpt" => h.security_opt = strings(path, value)?.unwrap_or_default(),
            "Devices" => {
                for (index, device) in value.as_array().into_iter().flatten().enumerate() {
                    let item = format!("{path}[{index}]");
                    let on_host = device
                        .get("PathOnHost")
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    let inside = device
                        .get("PathInContainer")
                        .and_then(Value::as_str)
                        .filter(|p| !p.is_empty())
                        .unwrap_or(on_host);
                    let perms = device
                        .get("CgroupPermissions")
                        .and_then(Value::as_str)
                        .filter(|p| !p.is_empty())
                        .unwrap_or("rwm");
                    h.devices.push(
                        flags::device(&format!("{on_host}:{inside}:{perms}"))
                            .map_err(|e| flag_error(&item, e))?,
                    );
                }
            }
            "Init" => h.init = boolean(path, value)?,
            "LogConfig" => {
                let driver = value
                    .get("Type")
                    .and_then(Value::as_str)
                    .filter(|d| !d.is_empty());
                let options: Vec<String> = value
                    .get("Config")
                    .map(|c| string_map(&format!("{path}.Config"), c))
                    .transpose()?
                    .unwrap_or_default()
                    .into_iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                h.log_config =
                    flags::log_config(driver, &options).map_err(|e| flag_error(path, e))?;
            }
            "Sysctls" => h.sysctls = string_map(path, value)?.into_iter().collect(),
            "ShmSize" => h.shm_size = integer(path, value)?.filter(|n| *n > 0).map(|n| n as u64),
            "GroupAdd" => h.group_add = strings(path, value)?.unwrap_or_default(),
            "PidMode" => {
                h.pid_mode = match string(path, value)?.as_deref().unwrap_or("") {
                    "" => PidMode::Private,
                    "host" => PidMode::Host,
                    other => match other.strip_prefix("container:") {
                        Some(c) => PidMode::Container(c.into()),
                        None => return Err(field_error(path, "use host or container:NAME")),
                    },
                }
            }
            "IpcMode" => {
                h.ipc_mode = match string(path, value)?.as_deref().unwrap_or("") {
                    "" | "private" => IpcMode::Private,
                    "shareable" => IpcMode::Shareable,
                    "host" => IpcMode::Host,
                    "none" => IpcMode::None,
                    other => match other.strip_prefix("container:") {
                        Some(c) => IpcMode::Container(c.into()),
                        None => {
                            return Err(field_error(
                                path,
                                "use private, shareable, host, none or container:NAME",
                            ))
                        }
                    },
                }
            }
            // docker's defaults: the kernel's swappiness, a private cgroup
            // namespace.
            "MemorySwappiness" if value.as_i64() == Some(-1) => {}
            "CgroupnsMode" if matches!(value.as_str(), Some("" | "private")) => {}
            other if HOST_IGNORED.contains(&other) => {}
            _ if is_zero(value) => {}
            _ => return Err(unsupported(path)),
        }
    }
    let as_text = |n: Option<i64>| n.map(|n| n.to_string());
    let (memory, memory_swap, memory_reservation) = (
        as_text(memory),
        as_text(memory_swap),
        as_text(memory_reservation),
    );
    flags::LimitFlags {
        memory: memory.as_deref(),
        memory_swap: memory_swap.as_deref(),
        memory_reservation: memory_reservation.as_deref(),
        cpus: None,
    }
    .apply(&mut h.resources)
    .map_err(|e| flag_error(&format!("HostConfig.{}", api_field(e.flag)), e))?;
    Ok(())
}

/// The API field of a CLI flag the limit parser names.
fn api_field(flag: &str) -> &'static str {
    match flag {
        "--memory-swap" => "MemorySwap",
        "--memory-reservation" => "MemoryReservation",
        _ => "Memory",
    }
}

/// One of `HostConfig.Mounts`, through `--mount`'s parser.
fn mount_spec(path: &str, mount: &Value) -> Result<wharf_engine_api::Mount, ApiError> {
    let text_of = |name: &str| mount.get(name).and_then(Value::as_str).unwrap_or("");
    let kind = text_of("Type");
    let mut parts = vec![format!(
        "type={}",
        if kind.is_empty() { "volume" } else { kind }
    )];
    if !text_of("Source").is_empty() {
        parts.push(format!("source={}", text_of("Source")));
    }
    parts.push(format!("target={}", text_of("Target")));
    if mount.get("ReadOnly").and_then(Value::as_bool) == Some(true) {
        parts.push("readonly".into());
    }
    if let Some(size) = mount
        .pointer("/TmpfsOptions/SizeBytes")
        .and_then(Value::as_i64)
    {
        if size > 0 {
            parts.push(format!("tmpfs-size={size}"));
        }
    }
    flags::mount(&parts.join(",")).map_err(|e| flag_error(path, e))
}

fn read_networking(value: &Value, body: &mut CreateBody) -> Result<(), ApiError> {
    let Some(endpoints) = value.get("EndpointsConfig").and_then(Value::as_object) else {
        return Ok(());
    };
    if endpoints.len() > 1 {
        return Err(ApiError::bad_request(
            "NetworkingConfig.EndpointsConfig: a container is created on one network; connect it to the others with POST /networks/{id}/connect",
        ));
    }
    if let Some((network, endpoint)) = endpoints.iter().next() {
        if body
            .host_config
            .network_mode
            .as_deref()
            .is_none_or(|m| m == "default")
        {
            body.host_config.network_mode = Some(network.clone());
        }
        if let Some(aliases) = endpoint.get("Aliases") {
            body.networking.aliases =
                strings("NetworkingConfig.EndpointsConfig.Aliases", aliases)?.unwrap_or_default();
        }
        if let Some(address) = endpoint
            .pointer("/IPAMConfig/IPv4Address")
            .and_then(Value::as_str)
            .filter(|a| !a.is_empty())
        {
            body.networking.ipv4_address = Some(address.parse().map_err(|_| {
                field_error(
                    "NetworkingConfig.EndpointsConfig.IPAMConfig.IPv4Address",
                    format!("{address:?} is not an IPv4 address"),
                )
            })?);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_docker_clis_body_maps_field_by_field() {
        let body = parse(
            Some("web"),
            &json!({
                "Image": "busybox", "Cmd": ["echo", "hi"], "Env": ["A=1"], "Tty": false,
                "AttachStdout": true, "ExposedPorts": {"80/tcp": {}}, "Labels": {"k": "v"},
                "HostConfig": {
                    "Binds": ["/srv:/data:ro"], "AutoRemove": true, "Memory": 67108864,
                    "PortBindings": {"80/tcp": [{"HostIp": "", "HostPort": "8080"}]},
                    "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
                    "KernelMemory": 0, "OomKillDisable": false, "LogConfig": {"Type": "", "Config": {}},
                    "NetworkMode": "default", "ConsoleSize": [24, 80], "MemorySwappiness": -1
                }
            }),
        )
        .unwrap();
        assert_eq!(body.name.as_deref(), Some("web"));
        assert_eq!(
            body.config.cmd.as_deref(),
            Some(&["echo".to_string(), "hi".to_string()][..])
        );
        assert_eq!(body.config.labels["k"], "v");
        assert!(body.host_config.auto_remove);
        assert_eq!(body.host_config.resources.memory_bytes, Some(64 << 20));
        assert_eq!(body.host_config.mounts.len(), 1);
        assert_eq!(body.host_config.port_bindings.len(), 1);
        assert_eq!(body.network(), "bridge");
    }

    #[test]
    fn config_volumes_are_anonymous_volumes_unless_a_bind_mounts_the_target() {
        let body = parse(
            None,
            &json!({"Image": "busybox", "Volumes": {"/data": {}, "/srv": {}},
                    "HostConfig": {"Binds": ["/host:/srv"]}}),
        )
        .unwrap();
        let mounts: Vec<(&str, &str)> = body
            .host_config
            .mounts
            .iter()
            .map(|m| (m.source.as_str(), m.target.as_str()))
            .collect();
        assert_eq!(mounts, [("/host", "/srv"), ("", "/data")]);
        let error = parse(None, &json!({"Image": "busybox", "Volumes": ["/data"]})).unwrap_err();
        assert!(error.to_string().contains("Volumes"), "{error}");
    }

    #[test]
    fn a_block_io_weight_is_read_as_the_flag_reads_it() {
        let body = parse(
            None,
            &json!({"Image": "busybox", "HostConfig": {"BlkioWeight": 300}}),
        )
        .unwrap();
        assert_eq!(body.host_config.resources.blkio_weight, Some(300));
        let body = parse(
            None,
            &json!({"Image": "busybox", "HostConfig": {"BlkioWeight": 0}}),
        )
        .unwrap();
        assert_eq!(body.host_config.resources.blkio_weight, None);
        let error = parse(
            None,
            &json!({"Image": "busybox", "HostConfig": {"BlkioWeight": 5}}),
        )
        .unwrap_err();
        assert_eq!(error.status(), 400);
        let message = error.to_string();
        assert!(
            message.contains("HostConfig.BlkioWeight") && message.contains("10 to 1000"),
            "{message}"
        );
    }

    #[test]
    fn a_field_wharf_cannot_honour_is_named() {
        let error = parse(
            None,
            &json!({"Image": "busybox", "HostConfig": {"CpuRealtimeRuntime": 1000}}),
        )
        .unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(
            error.to_string().contains("HostConfig.CpuRealtimeRuntime"),
            "{error}"
        );
        let error = parse(None, &json!({"Image": "busybox", "Bogus": 1})).unwrap_err();
        assert!(error.to_string().contains("Config.Bogus"), "{error}");
    }

    #[test]
    fn a_bad_value_names_its_field() {
        let error = parse(
            None,
            &json!({"Image": "busybox", "HostConfig": {"Binds": ["relative:/x:zz"]}}),
        )
        .unwrap_err();
        assert!(error.to_string().contains("HostConfig.Binds"), "{error}");
        let error = parse(None, &json!({"Image": "busybox", "Cmd": 3})).unwrap_err();
        assert!(error.to_string().contains("Cmd"), "{error}");
        let error = parse(None, &json!({"Cmd": ["ls"]})).unwrap_err();
        assert!(error.to_string().contains("Config.Image"), "{error}");
        assert_eq!(parse(None, &json!([1])).unwrap_err().status(), 400);
    }

    #[test]
    fn the_network_comes_from_the_endpoints_config() {
        let body = parse(
            None,
            &json!({"Image": "busybox", "HostConfig": {"NetworkMode": "default"},
                    "NetworkingConfig": {"EndpointsConfig": {"front": {"Aliases": ["web"]}}}}),
        )
        .unwrap();
        assert_eq!(body.network(), "front");
        assert_eq!(body.networking.aliases, ["web"]);
    }
}
