//! Parsers for the little languages inside Compose values: the ports and
//! volumes short syntax, CPU counts and shell-like word splitting (sizes and
//! durations are read by `wharf_units`). Each returns a plain `String` reason
//! on failure; callers add the file position and YAML path.

/// One published/exposed port from the short syntax, ranges expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortSpec {
    pub host_ip: Option<String>,
    pub published: Option<String>,
    pub target: u16,
    pub protocol: String,
}

fn port_number(s: &str) -> Result<u16, String> {
    match s.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(format!(
            "invalid port {s:?}: ports are numbers from 1 to 65535"
        )),
    }
}

/// `"8080"` or `"8000-8010"` → first and last port.
fn port_range(s: &str) -> Result<(u16, u16), String> {
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port_number(a)?, port_number(b)?);
            if a > b {
                return Err(format!(
                    "invalid port range {s:?}: the first port is larger than the last"
                ));
            }
            Ok((a, b))
        }
        None => {
            let p = port_number(s)?;
            Ok((p, p))
        }
    }
}

/// Parses `[[HOST_IP:]PUBLISHED:]TARGET[/PROTOCOL]`, with ranges and `[v6]` addresses.
pub fn parse_port(spec: &str) -> Result<Vec<PortSpec>, String> {
    let (rest, protocol) = match spec.rsplit_once('/') {
        Some((r, p)) => {
            if !matches!(p, "tcp" | "udp" | "sctp") {
                return Err(format!(
                    "invalid protocol {p:?} in port {spec:?}: use tcp, udp or sctp"
                ));
            }
            (r, p.to_string())
        }
        None => (spec, "tcp".to_string()),
    };
    let (host_ip, rest) = if let Some(r) = rest.strip_prefix('[') {
        let (ip, after) = r
            .split_once(']')
            .ok_or_else(|| format!("invalid port {spec:?}: '[' without ']'"))?;
        let after = after
            .strip_prefix(':')
            .ok_or_else(|| format!("invalid port {spec:?}: expected ':' after ']'"))?;
        (Some(ip.to_string()), after)
    } else {
        let parts: Vec<&str> = rest.split(':').collect();
        if parts.len() > 2 {
            let ip = parts[..parts.len() - 2].join(":");
            let tail_at = ip.len() + 1;
            (Some(ip), &rest[tail_at..])
        } else {
            (None, rest)
        }
    };
    let (published, target) = match rest.split_once(':') {
        Some((p, t)) => (Some(p), t),
        None if host_ip.is_some() => {
            return Err(format!(
                "invalid port {spec:?}: expected HOST_IP:PUBLISHED:TARGET"
            ))
        }
        None => (None, rest),
    };
    if host_ip.as_deref() == Some("") {
        return Err(format!("invalid port {spec:?}: empty host address"));
    }
    let published = published.filter(|p| !p.is_empty());
    let (t0, t1) = port_range(target)?;
    let count = u32::from(t1 - t0) + 1;
    let mut out = Vec::new();
    let make = |published: Option<String>, target: u16| PortSpec {
        host_ip: host_ip.clone(),
        published,
        target,
        protocol: protocol.clone(),
    };
    match published {
        None => {
            for t in t0..=t1 {
                out.push(make(None, t));
            }
        }
        Some(p) => {
            let (p0, p1) = port_range(p)?;
            let pcount = u32::from(p1 - p0) + 1;
            if count == 1 {
                out.push(make(Some(p.to_string()), t0));
            } else if pcount == count {
                for k in 0..=(t1 - t0) {
                    out.push(make(Some((p0 + k).to_string()), t0 + k));
                }
            } else {
                return Err(format!(
                    "invalid port {spec:?}: the published range has {pcount} ports and the target range {count}"
                ));
            }
        }
    }
    Ok(out)
}

/// A mount from the volumes short syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeSpec {
    /// `bind` or `volume`.
    pub kind: &'static str,
    /// Host path as written, or volume name; `None` for an anonymous volume.
    pub source: Option<String>,
    pub target: String,
    pub read_only: bool,
    /// `shared`, `rslave`, … when given.
    pub propagation: Option<String>,
    /// `z` or `Z` when given.
    pub selinux: Option<String>,
    /// `nocopy` was given.
    pub nocopy: bool,
    /// Modes docker compose does not know, which it ignores (and so does
    /// the loader, with a warning).
    pub ignored_modes: Vec<String>,
}

/// Whether a short-syntax source is a host path (bind) rather than a volume
/// name: `/…`, `.…`, `~…`, a Windows drive path (`C:\…`) or UNC path (`\\…`).
pub fn is_path(source: &str) -> bool {
    source.starts_with('/')
        || source.starts_with('.')
        || source.starts_with('~')
        || source.starts_with("\\\\")
        || has_drive(source)
}

/// `C:…`: a Windows drive letter and its colon.
fn has_drive(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() >= 2 && b[0].is_ascii_alphabetic() && b[1] == b':'
}

/// A Windows absolute path, `C:\data` or `c:/data`, which docker compose
/// accepts as a source or target as written.
pub fn is_windows_absolute(s: &str) -> bool {
    has_drive(s) && matches!(s.as_bytes().get(2), Some(b'\\' | b'/'))
}

/// Splits a volume spec at its colons, but not at a drive letter's colon
/// (`C:\data:/data` is two parts), as docker compose splits it.
fn volume_parts(spec: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut start = 0;
    for (i, c) in spec.char_indices() {
        if c != ':' {
            continue;
        }
        let part = &spec[start..i];
        if part.len() == 1 && part.as_bytes()[0].is_ascii_alphabetic() {
            continue;
        }
        parts.push(part);
        start = i + 1;
    }
    parts.push(&spec[start..]);
    parts
}

/// Parses `[SOURCE:]TARGET[:MODE]`.
pub fn parse_volume(spec: &str) -> Result<VolumeSpec, String> {
    let parts = volume_parts(spec);
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => {
            return Err(format!(
                "invalid volume {spec:?}: expected SOURCE:TARGET[:MODE]"
            ))
        }
    };
    if target.is_empty() {
        return Err(format!("invalid volume {spec:?}: empty target"));
    }
    let mut read_only = false;
    let mut propagation = None;
    let mut selinux = None;
    let mut nocopy = false;
    let mut ignored_modes = Vec::new();
    for m in mode.into_iter().flat_map(|m| m.split(',')) {
        match m {
            // The last of `ro` and `rw` wins, as in docker compose.
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" => selinux = Some(m.to_string()),
            "nocopy" => nocopy = true,
            "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate" => {
                propagation = Some(m.to_string())
            }
            "cached" | "delegated" | "consistent" | "" => {}
            _ => ignored_modes.push(m.to_string()),
        }
    }
    let kind = match source {
        None => "volume",
        Some("") => return Err(format!("invalid volume {spec:?}: empty source")),
        Some(s) if is_path(s) => "bind",
        Some(s) => {
            if !valid_volume_name(s) {
                return Err(format!(
                    "invalid volume {spec:?}: {s:?} is not a volume name; write a host path as ./{s} or an absolute path"
                ));
            }
            "volume"
        }
    };
    Ok(VolumeSpec {
        kind,
        source: source.map(str::to_string),
        target: target.to_string(),
        read_only,
        propagation,
        selinux,
        nocopy,
        ignored_modes,
    })
}

fn valid_volume_name(s: &str) -> bool {
    s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

/// A CPU count (`"0.5"`, `2`) in billionths of a CPU.
pub fn parse_nano_cpus(s: &str) -> Result<u64, String> {
    let bad = || format!("invalid CPU count {s:?}: write a positive decimal number like 0.5 or 2");
    let t = s.trim();
    let (int, frac) = t.split_once('.').unwrap_or((t, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    if frac.len() > 9 && frac[9..].bytes().any(|b| b != b'0') {
        return Err(format!("invalid CPU count {s:?}: at most 9 decimal places"));
    }
    let int: u64 = if int.is_empty() {
        0
    } else {
        int.parse().map_err(|_| bad())?
    };
    let mut frac9 = frac.chars().take(9).collect::<String>();
    while frac9.len() < 9 {
        frac9.push('0');
    }
    let frac: u64 = frac9.parse().map_err(|_| bad())?;
    int.checked_mul(1_000_000_000)
        .and_then(|n| n.checked_add(frac))
        .ok_or_else(bad)
}

/// Splits a command line into words as a POSIX shell would (quotes and
/// backslashes; no expansion).
pub fn shell_split(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated single quote in {s:?}")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some('\n') => {}
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err(format!("unterminated double quote in {s:?}")),
                        },
                        Some(c) => word.push(c),
                        None => return Err(format!("unterminated double quote in {s:?}")),
                    }
                }
            }
            '\\' => match chars.next() {
                Some('\n') => {}
                Some(c) => {
                    in_word = true;
                    word.push(c);
                }
                None => {
                    in_word = true;
                    word.push('\\');
                }
            },
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}
