//! `docker container inspect`: a container as docker's JSON describes it,
//! with docker's field names (`State.Status`, `Config.Env`,
//! `HostConfig.Memory`, `NetworkSettings.Networks.*.IPAddress`, `Mounts`),
//! from what the engine observes and what create resolved.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use wharf_engine::ContainerDetails;
use wharf_engine_api::{
    ContainerInfo, ContainerState, LogDriver, MountKind, NetworkMode, RestartPolicy, ThrottleDevice,
};
use wharf_image::oci::format_rfc3339;

/// Go's zero time, which docker shows for times that never happened.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// The inspect document of one container.
pub fn container(info: &ContainerInfo, details: &ContainerDetails) -> Value {
    let spec = &details.spec;
    let (path, args) = match details.args.split_first() {
        Some((path, args)) => (path.clone(), args.to_vec()),
        None => (String::new(), Vec::new()),
    };
    json!({
        "Id": info.id,
        "Created": format_rfc3339(info.created),
        "Path": path,
        "Args": args,
        "State": state(info),
        "Image": info.image_id,
        "ResolvConfPath": details.state_dir.join("resolv.conf"),
        "HostnamePath": details.state_dir.join("hostname"),
        "HostsPath": details.state_dir.join("hosts"),
        "LogPath": details.state_dir.join("container.log"),
        "Name": format!("/{}", info.name),
        "RestartCount": details.restart_count,
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "HostConfig": host_config(details),
        "Mounts": mounts(details),
        "Config": config(info, details),
        "NetworkSettings": network_settings(info, details),
        "ExecIDs": Value::Null,
        "SizeRw": Value::Null,
        "Stop": spec.stop_grace_period_secs,
    })
}

fn state(info: &ContainerInfo) -> Value {
    let (pid, started, finished, exit_code, oom) = match &info.state {
        ContainerState::Running {
            pid, started_at, ..
        } => (
            *pid,
            format_rfc3339(*started_at),
            ZERO_TIME.to_string(),
            0,
            false,
        ),
        ContainerState::Exited {
            exit_code,
            finished_at,
            oom_killed,
        } => (
            0,
            ZERO_TIME.to_string(),
            format_rfc3339(*finished_at),
            *exit_code,
            *oom_killed,
        ),
        _ => (0, ZERO_TIME.to_string(), ZERO_TIME.to_string(), 0, false),
    };
    let mut state = json!({
        "Status": info.state.name(),
        "Running": info.state.is_running(),
        "Paused": info.state.is_paused(),
        "Restarting": matches!(info.state, ContainerState::Restarting),
        "OOMKilled": oom,
        "Dead": matches!(info.state, ContainerState::Dead),
        "Pid": pid,
        "ExitCode": exit_code,
        "Error": "",
        "StartedAt": started,
        "FinishedAt": finished,
    });
    if let Some(health) = info.health {
        state["Health"] = json!({ "Status": health.name(), "FailingStreak": 0, "Log": [] });
    }
    state
}

fn network_mode(details: &ContainerDetails) -> String {
    match &details.spec.network_mode {
        NetworkMode::Host => "host".into(),
        NetworkMode::None => "none".into(),
        NetworkMode::Container(c) => format!("container:{c}"),
        NetworkMode::Bridge => details
            .spec
            .networks
            .first()
            .map(|n| n.network.clone())
            .unwrap_or_else(|| "bridge".into()),
    }
}

fn port_bindings(details: &ContainerDetails) -> Value {
    let mut map: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for p in &details.spec.ports {
        map.entry(format!("{}/{}", p.container_port, p.protocol))
            .or_default()
            .push(json!({
                "HostIp": p.host_ip.map(|ip| ip.to_string()).unwrap_or_default(),
                "HostPort": if p.host_port == 0 { String::new() } else { p.host_port.to_string() },
            }));
    }
    json!(map)
}

fn host_config(details: &ContainerDetails) -> Value {
    let spec = &details.spec;
    let r = &spec.resources;
    let (restart_name, retries) = match &spec.restart {
        RestartPolicy::No => ("no", 0),
        RestartPolicy::Always => ("always", 0),
        RestartPolicy::UnlessStopped => ("unless-stopped", 0),
        RestartPolicy::OnFailure { max_retries } => ("on-failure", max_retries.unwrap_or(0)),
    };
    let binds: Vec<String> = spec
        .mounts
        .iter()
        .filter(|m| m.kind != MountKind::Tmpfs && !m.source.is_empty())
        .map(|m| {
            format!(
                "{}:{}{}",
                m.source,
                m.target,
                if m.read_only { ":ro" } else { "" }
            )
        })
        .collect();
    let tmpfs: BTreeMap<&str, String> = spec
        .mounts
        .iter()
        .filter(|m| m.kind == MountKind::Tmpfs)
        .map(|m| (m.target.as_str(), m.options.join(",")))
        .collect();
    let log_type = match spec.logging.driver {
        LogDriver::JsonFile => "json-file",
        LogDriver::Local => "local",
        LogDriver::None => "none",
    };
    let mut log_options = Map::new();
    if let Some(size) = spec.logging.max_size {
        log_options.insert("max-size".into(), json!(size.to_string()));
    }
    if spec.logging.max_file != 1 {
        log_options.insert("max-file".into(), json!(spec.logging.max_file.to_string()));
    }
    json!({
        "Binds": binds,
        "NetworkMode": network_mode(details),
        "PortBindings": port_bindings(details),
        "RestartPolicy": { "Name": restart_name, "MaximumRetryCount": retries },
        "VolumesFrom": spec.volumes_from.iter().map(|v| if v.read_only { format!("{}:ro", v.container) } else { v.container.clone() }).collect::<Vec<_>>(),
        "CapAdd": spec.security.cap_add,
        "CapDrop": spec.security.cap_drop,
        "Dns": spec.dns,
        "DnsOptions": spec.dns_opt,
        "DnsSearch": spec.dns_search,
        "ExtraHosts": spec.extra_hosts.iter().map(|(n, a)| format!("{n}:{a}")).collect::<Vec<_>>(),
        "GroupAdd": spec.group_add,
        "Privileged": spec.security.privileged,
        "ReadonlyRootfs": spec.security.read_only,
        "SecurityOpt": spec.security.security_opt,
        "ShmSize": spec.shm_size.unwrap_or(64 * 1024 * 1024),
        "Memory": r.memory_bytes.unwrap_or(0),
        "MemoryReservation": r.memory_reservation.unwrap_or(0),
        "MemorySwap": r.memory_swap.unwrap_or(0),
        "NanoCpus": r.nano_cpus.unwrap_or(0),
        "CpuShares": r.cpu_shares.unwrap_or(0),
        "CpuQuota": r.cpu_quota.unwrap_or(0),
        "CpuPeriod": r.cpu_period.unwrap_or(0),
        "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
        "PidsLimit": r.pids_limit,
        "BlkioWeight": r.blkio_weight.unwrap_or(0),
        "BlkioWeightDevice": r.blkio_weight_device.iter().map(|d| json!({"Path": d.path, "Weight": d.weight})).collect::<Vec<_>>(),
        "BlkioDeviceReadBps": throttle_devices(&r.blkio_device_read_bps),
        "BlkioDeviceWriteBps": throttle_devices(&r.blkio_device_write_bps),
        "BlkioDeviceReadIOps": throttle_devices(&r.blkio_device_read_iops),
        "BlkioDeviceWriteIOps": throttle_devices(&r.blkio_device_write_iops),
        "Ulimits": spec.ulimits.iter().map(|(name, u)| json!({"Name": name, "Soft": u.soft, "Hard": u.hard})).collect::<Vec<_>>(),
        "Devices": spec.security.devices.iter().map(|d| json!({"PathOnHost": d.host_path, "PathInContainer": d.container_path, "CgroupPermissions": d.permissions})).collect::<Vec<_>>(),
        "Init": spec.init,
        "LogConfig": { "Type": log_type, "Config": log_options },
        "Sysctls": spec.sysctls,
        "Tmpfs": tmpfs,
        "AutoRemove": details.spec.auto_remove,
    })
}

/// docker's `ThrottleDevice` list: `[{"Path": "/dev/sda", "Rate": 1048576}]`.
fn throttle_devices(devices: &[ThrottleDevice]) -> Vec<Value> {
    devices
        .iter()
        .map(|d| json!({"Path": d.path, "Rate": d.rate}))
        .collect()
}

fn mounts(details: &ContainerDetails) -> Value {
    Value::Array(
        details
            .spec
            .mounts
            .iter()
            .map(|m| {
                let mut entry = json!({
                    "Type": match m.kind { MountKind::Bind => "bind", MountKind::Volume => "volume", MountKind::Tmpfs => "tmpfs" },
                    "Source": m.source,
                    "Destination": m.target,
                    "Mode": if m.read_only { "ro" } else { "" },
                    "RW": !m.read_only,
                    "Propagation": if m.kind == MountKind::Bind { "rprivate" } else { "" },
                });
                if m.kind == MountKind::Volume {
                    entry["Name"] = json!(m.source);
                    entry["Driver"] = json!("local");
                }
                entry
            })
            .collect(),
    )
}

fn config(info: &ContainerInfo, details: &ContainerDetails) -> Value {
    let spec = &details.spec;
    let exposed: BTreeMap<String, Value> = spec
        .ports
        .iter()
        .map(|p| (format!("{}/{}", p.container_port, p.protocol), json!({})))
        .collect();
    let healthcheck = spec.healthcheck.as_ref().map(|h| {
        let ns = |ms: Option<u64>| ms.unwrap_or(0) * 1_000_000;
        json!({
            "Test": h.test,
            "Interval": ns(h.interval_ms),
            "Timeout": ns(h.timeout_ms),
            "StartPeriod": ns(h.start_period_ms),
            "Retries": h.retries.unwrap_or(0),
        })
    });
    let mut config = json!({
        "Hostname": details.hostname,
        "Domainname": spec.domainname.clone().unwrap_or_default(),
        "User": details.user.clone().unwrap_or_default(),
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
        "ExposedPorts": exposed,
        "Tty": spec.tty,
        "OpenStdin": spec.stdin_open,
        "StdinOnce": false,
        "Env": details.env,
        "Cmd": spec.command,
        "Image": info.image,
        "Volumes": Value::Null,
        "WorkingDir": details.working_dir,
        "Entrypoint": spec.entrypoint,
        "OnBuild": Value::Null,
        "Labels": info.labels,
    });
    if let Some(signal) = &spec.stop_signal {
        config["StopSignal"] = json!(signal);
    }
    if let Some(timeout) = spec.stop_grace_period_secs {
        config["StopTimeout"] = json!(timeout);
    }
    if let Some(healthcheck) = healthcheck {
        config["Healthcheck"] = healthcheck;
    }
    if spec.command.is_none() {
        // The image's command is what runs: show what create resolved.
        config["Cmd"] = json!(details.args);
    }
    config
}

fn network_settings(info: &ContainerInfo, details: &ContainerDetails) -> Value {
    let mut ports: BTreeMap<String, Value> = details
        .spec
        .ports
        .iter()
        .map(|p| (format!("{}/{}", p.container_port, p.protocol), Value::Null))
        .collect();
    for p in &info.ports {
        let key = format!("{}/{}", p.container_port, p.protocol);
        let entry = ports.entry(key).or_insert(Value::Null);
        if !entry.is_array() {
            *entry = json!([]);
        }
        if let Some(list) = entry.as_array_mut() {
            list.push(json!({
                "HostIp": p.host_ip.map(|ip| ip.to_string()).unwrap_or_else(|| "0.0.0.0".into()),
                "HostPort": p.host_port.to_string(),
            }));
        }
    }
    let networks: Map<String, Value> = details
        .endpoints
        .iter()
        .map(|e| {
            let (v6, v6_prefix, v6_gateway) = match e.ipv6 {
                Some((address, prefix, gateway)) => (address.to_string(), prefix, gateway.to_string()),
                None => (String::new(), 0, String::new()),
            };
            (
                e.network.clone(),
                json!({
                    "IPAMConfig": Value::Null,
                    "Links": Value::Null,
                    "Aliases": e.aliases,
                    "MacAddress": e.mac.clone().unwrap_or_default(),
                    "NetworkID": e.network_id,
                    "EndpointID": "",
                    "Gateway": e.gateway.to_string(),
                    "IPAddress": e.address.to_string(),
                    "IPPrefixLen": e.prefix,
                    "IPv6Gateway": v6_gateway,
                    "GlobalIPv6Address": v6,
                    "GlobalIPv6PrefixLen": v6_prefix,
                    "DNSNames": if e.network == super::body::DEFAULT_NETWORK { Value::Null } else { json!(e.aliases) },
                }),
            )
        })
        .collect();
    // The top-level address fields describe the default network, as docker's.
    let default = details
        .endpoints
        .iter()
        .find(|e| e.network == super::body::DEFAULT_NETWORK);
    json!({
        "Bridge": "",
        "SandboxID": "",
        "SandboxKey": "",
        "Ports": ports,
        "Gateway": default.map(|e| e.gateway.to_string()).unwrap_or_default(),
        "IPAddress": default.map(|e| e.address.to_string()).unwrap_or_default(),
        "IPPrefixLen": default.map(|e| e.prefix).unwrap_or(0),
        "MacAddress": default.and_then(|e| e.mac.clone()).unwrap_or_default(),
        "Networks": networks,
    })
}
