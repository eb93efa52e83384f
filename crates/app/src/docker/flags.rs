//! docker's flag values as text (`-p 8080:80`, `-v data:/srv:ro`, `--mount
//! type=tmpfs,dst=/run`, `--memory 512m`, `--restart on-failure:3`) parsed
//! into the typed values of a [`super::CreateBody`]. Every error names the
//! flag and the value, and says what to write.

use std::collections::BTreeMap;
use std::net::IpAddr;
use wharf_engine_api::{
    DeviceMapping, LogConfig, LogDriver, Mount, MountKind, PortBinding, Protocol, Resources,
    RestartPolicy, ThrottleDevice, Ulimit, VolumesFrom, WeightDevice,
};

/// A flag value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid argument {value:?} for \"{flag}\" flag: {reason}")]
pub struct FlagError {
    pub flag: &'static str,
    pub value: String,
    pub reason: String,
}

fn bad(flag: &'static str, value: &str, reason: impl Into<String>) -> FlagError {
    FlagError {
        flag,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// `-p [IP:][HOST:]CONTAINER[/PROTO]`, host ports and container ports may be
/// equal-length ranges (`8000-8001:80-81`).
pub fn publish(text: &str) -> Result<Vec<PortBinding>, FlagError> {
    let err = |why: &str| bad("--publish", text, why);
    let usage = "write [IP:][HOST_PORT:]CONTAINER_PORT[/tcp|udp], like 8080:80";
    let (ports, protocol) = match text.rsplit_once('/') {
        Some((p, "tcp")) => (p, Protocol::Tcp),
        Some((p, "udp")) => (p, Protocol::Udp),
        Some(_) => return Err(err("the protocol must be tcp or udp")),
        None => (text, Protocol::Tcp),
    };
    // An IPv6 host address is bracketed: [::1]:8080:80.
    let (host_ip, rest) = match ports.strip_prefix('[') {
        Some(after) => {
            let (ip, rest) = after.split_once("]:").ok_or_else(|| err(usage))?;
            (
                Some(ip.parse::<IpAddr>().map_err(|_| err("bad host address"))?),
                rest,
            )
        }
        None => {
            let parts: Vec<&str> = ports.split(':').collect();
            if parts.len() == 3 {
                let ip = parts[0]
                    .parse::<IpAddr>()
                    .map_err(|_| err("bad host address"))?;
                (Some(ip), &ports[parts[0].len() + 1..])
            } else {
                (None, ports)
            }
        }
    };
    let (host, container) = match rest.split_once(':') {
        Some((host, container)) => (host, container),
        None => ("", rest),
    };
    let range = |s: &str| -> Result<(u16, u16), FlagError> {
        let port = |p: &str| {
            p.parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| err(usage))
        };
        match s.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (port(a)?, port(b)?);
                if b < a {
                    return Err(err("a port range must go upwards"));
                }
                Ok((a, b))
            }
            None => port(s).map(|p| (p, p)),
        }
    };
    let (c_start, c_end) = range(container)?;
    let (h_start, h_end) = if host.is_empty() {
        (0, 0)
    } else {
        range(host)?
    };
    let count = c_end - c_start;
    if h_start != 0 && h_end - h_start != count {
        return Err(err(
            "the host and container port ranges must be the same length",
        ));
    }
    Ok((0..=count)
        .map(|i| PortBinding {
            host_ip,
            host_port: if h_start == 0 { 0 } else { h_start + i },
            container_port: c_start + i,
            protocol,
        })
        .collect())
}

/// `-v SOURCE:TARGET[:OPTIONS]` or `-v TARGET` (an anonymous volume). A
/// source starting with `/` or `.` is a bind.
pub fn volume(text: &str) -> Result<Mount, FlagError> {
    let parts: Vec<&str> = text.split(':').collect();
    let (source, target, options) = match parts.as_slice() {
        [target] => ("", *target, ""),
        [source, target] => (*source, *target, ""),
        [source, target, options] => (*source, *target, *options),
        _ => {
            return Err(bad(
                "--volume",
                text,
                "write SOURCE:TARGET[:ro], NAME:TARGET or TARGET",
            ))
        }
    };
    if !target.starts_with('/') {
        return Err(bad(
            "--volume",
            text,
            "the target must be an absolute path in the container",
        ));
    }
    let kind = if source.starts_with('/') || source.starts_with('.') {
        MountKind::Bind
    } else {
        MountKind::Volume
    };
    let source = if kind == MountKind::Bind {
        absolute(source).map_err(|why| bad("--volume", text, why))?
    } else {
        source.to_string()
    };
    let mut mount = Mount::new(kind, source, target);
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option {
            "ro" | "readonly" => mount.read_only = true,
            "rw" => mount.read_only = false,
            "nocopy" if kind == MountKind::Volume => mount.no_copy = true,
            "z" | "Z" => {}
            "rslave" | "slave" | "rprivate" | "private" if kind == MountKind::Bind => {
                mount.options.push(option.to_string())
            }
            other => {
                return Err(bad(
                    "--volume",
                    text,
                    format!("unknown option {other:?}: use ro, rw, nocopy or a propagation"),
                ))
            }
        }
    }
    Ok(mount)
}

fn absolute(source: &str) -> Result<String, String> {
    if source.starts_with('/') {
        return Ok(source.to_string());
    }
    let cwd = std::env::current_dir().map_err(|e| format!("reading the current directory: {e}"))?;
    Ok(cwd.join(source).to_string_lossy().into_owned())
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly]…`.
pub fn mount(text: &str) -> Result<Mount, FlagError> {
    let err = |why: String| bad("--mount", text, why);
    let mut kind = MountKind::Volume;
    let (mut source, mut target) = (String::new(), None::<String>);
    let (mut read_only, mut no_copy, mut options) = (false, false, Vec::new());
    let mut subpath = None;
    for field in text.split(',') {
        let (key, value) = field.split_once('=').unwrap_or((field, ""));
        match key {
            "type" => {
                kind = match value {
                    "bind" => MountKind::Bind,
                    "volume" => MountKind::Volume,
                    "tmpfs" => MountKind::Tmpfs,
                    other => return Err(err(format!("type {other:?}: use bind, volume or tmpfs"))),
                }
            }
            "source" | "src" => source = value.to_string(),
            "target" | "destination" | "dst" => target = Some(value.to_string()),
            "readonly" | "ro" => read_only = matches!(value, "" | "true" | "1"),
            "volume-nocopy" => no_copy = matches!(value, "" | "true" | "1"),
            "volume-subpath" => subpath = Some(value.to_string()),
            "bind-propagation" => options.push(value.to_string()),
            "tmpfs-size" => {
                let bytes = wharf_units::parse_bytes(value).map_err(|e| err(e.to_string()))?;
                options.push(format!("size={bytes}"));
            }
            "tmpfs-mode" => options.push(format!("mode={value}")),
            "consistency" => {}
            other => return Err(err(format!("unknown field {other:?}"))),
        }
    }
    let target = target.ok_or_else(|| err("a target is required: add target=/PATH".into()))?;
    if kind == MountKind::Bind {
        if source.is_empty() {
            return Err(err("a bind needs a source: add source=/HOST/PATH".into()));
        }
        source = absolute(&source).map_err(err)?;
    }
    let mut mount = Mount::new(kind, source, target);
    mount.read_only = read_only;
    mount.no_copy = no_copy;
    mount.subpath = subpath;
    mount.options = options;
    // `--mount` never creates a missing bind source, unlike `-v`.
    mount.require_host_path = kind == MountKind::Bind;
    Ok(mount)
}

/// `--tmpfs /run[:OPTIONS]` (`size=64m,mode=1777`).
pub fn tmpfs(text: &str) -> Result<Mount, FlagError> {
    let (target, options) = text.split_once(':').unwrap_or((text, ""));
    let mut mount = Mount::new(MountKind::Tmpfs, "", target);
    for option in options.split(',').filter(|o| !o.is_empty()) {
        match option.split_once('=') {
            Some(("size", size)) => {
                let bytes = wharf_units::parse_bytes(size)
                    .map_err(|e| bad("--tmpfs", text, e.to_string()))?;
                mount.options.push(format!("size={bytes}"));
            }
            _ => mount.options.push(option.to_string()),
        }
    }
    Ok(mount)
}

/// `--volumes-from CONTAINER[:ro|rw]`.
pub fn volumes_from(text: &str) -> Result<VolumesFrom, FlagError> {
    let (container, mode) = text.split_once(':').unwrap_or((text, "rw"));
    let read_only = match mode {
        "ro" => true,
        "rw" => false,
        _ => return Err(bad("--volumes-from", text, "the mode must be ro or rw")),
    };
    Ok(VolumesFrom {
        container: container.to_string(),
        read_only,
    })
}

/// `--restart no|always|unless-stopped|on-failure[:N]`.
pub fn restart(text: &str) -> Result<RestartPolicy, FlagError> {
    let usage = "use no, always, unless-stopped or on-failure[:MAX_RETRIES]";
    Ok(match text.split_once(':') {
        None if text == "no" || text.is_empty() => RestartPolicy::No,
        None if text == "always" => RestartPolicy::Always,
        None if text == "unless-stopped" => RestartPolicy::UnlessStopped,
        None if text == "on-failure" => RestartPolicy::OnFailure { max_retries: None },
        Some(("on-failure", n)) => RestartPolicy::OnFailure {
            max_retries: Some(n.parse().map_err(|_| bad("--restart", text, usage))?),
        },
        _ => return Err(bad("--restart", text, usage)),
    })
}

/// A byte size flag (`--memory 512m`); `-1` is allowed where docker takes it
/// for "unlimited" and returned as `None`.
pub fn bytes(flag: &'static str, text: &str) -> Result<u64, FlagError> {
    wharf_units::parse_bytes(text).map_err(|e| bad(flag, text, e.to_string()))
}

/// `--memory-swap`: bytes, or -1 for unlimited swap.
pub fn memory_swap(text: &str) -> Result<i64, FlagError> {
    if text.trim() == "-1" {
        return Ok(-1);
    }
    let value = bytes("--memory-swap", text)?;
    i64::try_from(value).map_err(|_| bad("--memory-swap", text, "too large"))
}

/// `--cpus 1.5` in billionths of a CPU.
pub fn cpus(text: &str) -> Result<u64, FlagError> {
    let value: f64 = text
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite() && *v >= 0.0)
        .ok_or_else(|| bad("--cpus", text, "write a number of CPUs, like 1.5"))?;
    Ok((value * 1e9).round() as u64)
}

/// The memory and CPU flags `run`/`create` and `update` share, as written.
#[derive(Debug, Default, Clone, Copy)]
pub struct LimitFlags<'a> {
    pub memory: Option<&'a str>,
    pub memory_swap: Option<&'a str>,
    pub memory_reservation: Option<&'a str>,
    pub cpus: Option<&'a str>,
}

impl LimitFlags<'_> {
    /// Parses the flags into `resources`; a bad value names its flag.
    pub fn apply(&self, resources: &mut Resources) -> Result<(), FlagError> {
        resources.memory_bytes = self.memory.map(|m| bytes("--memory", m)).transpose()?;
        resources.memory_swap = self.memory_swap.map(memory_swap).transpose()?;
        resources.memory_reservation = self
            .memory_reservation
            .map(|m| bytes("--memory-reservation", m))
            .transpose()?;
        resources.nano_cpus = self.cpus.map(cpus).transpose()?;
        Ok(())
    }
}

/// `--blkio-weight 300` (`HostConfig.BlkioWeight`): a relative weight of
/// 10 to 1000, or 0 for the default.
pub fn blkio_weight(weight: i64) -> Result<u16, FlagError> {
    u16::try_from(weight)
        .ok()
        .filter(|w| *w == 0 || (10..=1000).contains(w))
        .ok_or_else(|| {
            bad(
                "--blkio-weight",
                &weight.to_string(),
                "the weight is a number from 10 to 1000, or 0 for the default",
            )
        })
}

/// `--blkio-weight-device /dev/sda:200`: a device path and a weight of 10
/// to 1000 (0 lifts it).
pub fn weight_device(text: &str) -> Result<WeightDevice, FlagError> {
    let flag = "--blkio-weight-device";
    let (path, weight) = device_and_value(flag, text, "WEIGHT")?;
    let weight = weight
        .parse::<u16>()
        .ok()
        .filter(|w| *w == 0 || (10..=1000).contains(w))
        .ok_or_else(|| bad(flag, text, "the weight is a number from 10 to 1000"))?;
    Ok(WeightDevice { path, weight })
}

/// `--device-read-bps /dev/sda:1mb` (and `--device-write-bps`): a device
/// path and bytes per second in docker's size syntax.
pub fn throttle_bps(flag: &'static str, text: &str) -> Result<ThrottleDevice, FlagError> {
    let (path, rate) = device_and_value(flag, text, "RATE")?;
    let rate = wharf_units::parse_bytes(&rate).map_err(|e| bad(flag, text, e.to_string()))?;
    Ok(ThrottleDevice { path, rate })
}

/// `--device-read-iops /dev/sda:100` (and `--device-write-iops`): a device
/// path and operations per second.
pub fn throttle_iops(flag: &'static str, text: &str) -> Result<ThrottleDevice, FlagError> {
    let (path, rate) = device_and_value(flag, text, "IOPS")?;
    let rate = rate.parse().map_err(|_| {
        bad(
            flag,
            text,
            "the rate is a whole number of operations per second",
        )
    })?;
    Ok(ThrottleDevice { path, rate })
}

/// `PATH:VALUE` with a path under /dev, as docker requires.
fn device_and_value(
    flag: &'static str,
    text: &str,
    value: &str,
) -> Result<(String, String), FlagError> {
    match text.rsplit_once(':') {
        Some((path, v)) if path.starts_with("/dev/") && !v.is_empty() => {
            Ok((path.to_string(), v.to_string()))
        }
        _ => Err(bad(
            flag,
            text,
            format!("write a device path under /dev and a value, like /dev/sda:{value}"),
        )),
    }
}

/// A Go duration flag (`--health-interval 5s`) in milliseconds.
pub fn duration_ms(flag: &'static str, text: &str) -> Result<u64, FlagError> {
    wharf_units::parse_go_duration(text)
        .map(|d| d.as_millis() as u64)
        .map_err(|e| bad(flag, text, e.to_string()))
}

/// `--ulimit nofile=1024[:2048]`.
pub fn ulimit(text: &str) -> Result<(String, Ulimit), FlagError> {
    let usage = "write NAME=SOFT[:HARD], like nofile=1024:2048";
    let (name, values) = text
        .split_once('=')
        .ok_or_else(|| bad("--ulimit", text, usage))?;
    let number = |v: &str| v.parse::<i64>().map_err(|_| bad("--ulimit", text, usage));
    let (soft, hard) = match values.split_once(':') {
        Some((soft, hard)) => (number(soft)?, number(hard)?),
        None => {
            let v = number(values)?;
            (v, v)
        }
    };
    if hard >= 0 && soft > hard {
        return Err(bad(
            "--ulimit",
            text,
            "the soft limit is above the hard limit",
        ));
    }
    Ok((name.to_string(), Ulimit { soft, hard }))
}

/// `--device /dev/X[:/dev/Y[:rwm]]`.
pub fn device(text: &str) -> Result<DeviceMapping, FlagError> {
    let parts: Vec<&str> = text.split(':').collect();
    let perms_ok = |p: &str| !p.is_empty() && p.chars().all(|c| "rwm".contains(c));
    let (host, container, permissions) = match parts.as_slice() {
        [host] => (*host, *host, "rwm"),
        [host, p] if perms_ok(p) => (*host, *host, *p),
        [host, container] => (*host, *container, "rwm"),
        [host, container, p] if perms_ok(p) => (*host, *container, *p),
        _ => return Err(bad("--device", text, "write HOST[:CONTAINER[:rwm]]")),
    };
    if !host.starts_with('/') || !container.starts_with('/') {
        return Err(bad("--device", text, "device paths must be absolute"));
    }
    Ok(DeviceMapping {
        host_path: host.to_string(),
        container_path: container.to_string(),
        permissions: permissions.to_string(),
    })
}

/// `--add-host NAME:ADDRESS` (or `NAME=ADDRESS`; the address may be
/// `host-gateway`).
pub fn add_host(text: &str) -> Result<(String, String), FlagError> {
    let (name, address) = text
        .split_once('=')
        .or_else(|| text.split_once(':'))
        .ok_or_else(|| bad("--add-host", text, "write NAME:ADDRESS"))?;
    let address = address.trim_matches(['[', ']']);
    if address != "host-gateway" && address.parse::<IpAddr>().is_err() {
        return Err(bad(
            "--add-host",
            text,
            "the address must be an IP address or host-gateway",
        ));
    }
    Ok((name.to_string(), address.to_string()))
}

/// `--log-driver` and its `--log-opt KEY=VALUE`s.
pub fn log_config(driver: Option<&str>, options: &[String]) -> Result<LogConfig, FlagError> {
    let mut config = LogConfig::default();
    match driver.unwrap_or("json-file") {
        "json-file" => {}
        "local" => {
            config.driver = LogDriver::Local;
            config.max_size = Some(20 * 1000 * 1000);
            config.max_file = 5;
            config.compress = true;
        }
        "none" => config.driver = LogDriver::None,
        other => {
            return Err(bad(
                "--log-driver",
                other,
                "wharf stores logs with json-file, local or none",
            ))
        }
    }
    for option in options {
        let (key, value) = option
            .split_once('=')
            .ok_or_else(|| bad("--log-opt", option, "write KEY=VALUE"))?;
        match key {
            "max-size" => config.max_size = Some(bytes("--log-opt", value)?),
            "max-file" => {
                config.max_file = value
                    .parse()
                    .ok()
                    .filter(|n| *n >= 1)
                    .ok_or_else(|| bad("--log-opt", option, "max-file must be a number ≥ 1"))?
            }
            "compress" => config.compress = value == "true",
            "mode" | "max-buffer-size" | "labels" | "env" | "tag" => {}
            other => {
                return Err(bad(
                    "--log-opt",
                    option,
                    format!(
                        "unknown option {other:?} for the {} driver",
                        driver.unwrap_or("json-file")
                    ),
                ))
            }
        }
    }
    Ok(config)
}

/// `KEY=VALUE` flags (`--label`, `--sysctl`) into a map; a bare `KEY` has an
/// empty value.
pub fn key_values(
    flag: &'static str,
    pairs: &[String],
) -> Result<BTreeMap<String, String>, FlagError> {
    pairs
        .iter()
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if key.is_empty() {
                return Err(bad(flag, pair, "write KEY=VALUE"));
            }
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// `--env-file` contents: `KEY=VALUE` lines, `#` comments, a bare `KEY`
/// taken from `lookup` (the caller's environment) and left out when unset.
pub fn env_file(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Vec<String> {
    text.lines()
        .map(str::trim_start)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| match line.split_once('=') {
            Some(_) => Some(line.to_string()),
            None => lookup(line.trim_end()).map(|v| format!("{}={v}", line.trim_end())),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_forms() {
        let p = &publish("127.0.0.1:8080:80/udp").unwrap()[0];
        assert_eq!(p.host_ip, Some("127.0.0.1".parse().unwrap()));
        assert_eq!(
            (p.host_port, p.container_port, p.protocol),
            (8080, 80, Protocol::Udp)
        );
        let p = &publish("80").unwrap()[0];
        assert_eq!((p.host_port, p.container_port), (0, 80));
        let p = &publish("[::1]:9000:90").unwrap()[0];
        assert_eq!(
            (p.host_ip.unwrap().to_string().as_str(), p.host_port),
            ("::1", 9000)
        );
        let range = publish("8000-8001:80-81").unwrap();
        assert_eq!(
            range
                .iter()
                .map(|p| (p.host_port, p.container_port))
                .collect::<Vec<_>>(),
            [(8000, 80), (8001, 81)]
        );
        let err = publish("80/sctp").unwrap_err();
        assert_eq!(err.flag, "--publish");
        assert!(publish("x:80").is_err());
        assert!(publish("8000-8002:80-81").is_err());
    }

    #[test]
    fn volume_forms() {
        let m = volume("/srv/data:/data:ro").unwrap();
        assert_eq!(
            (m.kind, m.source.as_str(), m.target.as_str(), m.read_only),
            (MountKind::Bind, "/srv/data", "/data", true)
        );
        let m = volume("cache:/cache").unwrap();
        assert_eq!((m.kind, m.source.as_str()), (MountKind::Volume, "cache"));
        let m = volume("/anon").unwrap();
        assert_eq!((m.kind, m.source.as_str()), (MountKind::Volume, ""));
        assert!(volume("data:relative").is_err());
        assert!(volume("a:/b:bogus").unwrap_err().reason.contains("bogus"));
    }

    #[test]
    fn mount_and_tmpfs_forms() {
        let m = mount("type=tmpfs,dst=/run,tmpfs-size=1m").unwrap();
        assert_eq!((m.kind, m.target.as_str()), (MountKind::Tmpfs, "/run"));
        assert_eq!(m.options, ["size=1048576"]);
        let m = mount("type=bind,src=/etc,target=/host-etc,readonly").unwrap();
        assert!(m.read_only && m.require_host_path);
        assert!(mount("type=bind,target=/x").is_err());
        assert!(mount("type=nfs,target=/x").is_err());
        let t = tmpfs("/scratch:size=64m,mode=1777").unwrap();
        assert_eq!(t.options, ["size=67108864", "mode=1777"]);
    }

    #[test]
    fn restart_and_limits() {
        assert_eq!(
            restart("on-failure:3").unwrap(),
            RestartPolicy::OnFailure {
                max_retries: Some(3)
            }
        );
        assert_eq!(
            restart("unless-stopped").unwrap(),
            RestartPolicy::UnlessStopped
        );
        assert!(restart("sometimes").is_err());
        assert_eq!(cpus("1.5").unwrap(), 1_500_000_000);
        assert!(cpus("lots").is_err());
        assert_eq!(memory_swap("-1").unwrap(), -1);
        assert_eq!(bytes("--memory", "64m").unwrap(), 64 << 20);
        assert_eq!(
            throttle_bps("--device-write-bps", "/dev/sda:1mb").unwrap(),
            ThrottleDevice {
                path: "/dev/sda".into(),
                rate: 1 << 20
            }
        );
        assert_eq!(
            throttle_iops("--device-read-iops", "/dev/vdb:100")
                .unwrap()
                .rate,
            100
        );
        assert_eq!(blkio_weight(300), Ok(300));
        assert_eq!(blkio_weight(0), Ok(0));
        for out_of_range in [5, 1001, -1, 70000] {
            let err = blkio_weight(out_of_range).unwrap_err().to_string();
            assert!(
                err.contains("--blkio-weight") && err.contains("10 to 1000"),
                "{err}"
            );
        }
        assert_eq!(weight_device("/dev/sda:200").unwrap().weight, 200);
        let err = weight_device("/dev/sda:5").unwrap_err().to_string();
        assert!(
            err.contains("--blkio-weight-device") && err.contains("10 to 1000"),
            "{err}"
        );
        let err = throttle_bps("--device-read-bps", "sda:1mb")
            .unwrap_err()
            .to_string();
        assert!(err.contains("/dev/sda:RATE"), "{err}");
        assert_eq!(
            ulimit("nofile=1024:2048").unwrap().1,
            Ulimit {
                soft: 1024,
                hard: 2048
            }
        );
        assert!(ulimit("nofile=9:1").is_err());
    }

    #[test]
    fn devices_hosts_and_logs() {
        let d = device("/dev/fuse").unwrap();
        assert_eq!(
            (d.container_path.as_str(), d.permissions.as_str()),
            ("/dev/fuse", "rwm")
        );
        let d = device("/dev/null:/dev/mynull:r").unwrap();
        assert_eq!(
            (d.container_path.as_str(), d.permissions.as_str()),
            ("/dev/mynull", "r")
        );
        assert_eq!(
            add_host("db:10.0.0.2").unwrap(),
            ("db".into(), "10.0.0.2".into())
        );
        assert!(add_host("db:nowhere").is_err());
        let log = log_config(
            Some("json-file"),
            &["max-size=1m".into(), "max-file=3".into()],
        )
        .unwrap();
        assert_eq!((log.max_size, log.max_file), (Some(1 << 20), 3));
        assert!(log_config(Some("syslog"), &[]).is_err());
    }

    #[test]
    fn env_files_skip_comments_and_unset_names() {
        let lines = env_file("# c\nA=1\n\nHOME\nMISSING\n", |k| {
            (k == "HOME").then(|| "/root".into())
        });
        assert_eq!(lines, ["A=1", "HOME=/root"]);
    }
}
