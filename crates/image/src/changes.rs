//! Dockerfile instructions applied to an image config, as `docker import --change`
//! and `docker commit --change` do: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL,
//! STOPSIGNAL, USER, VOLUME, WORKDIR, with Dockerfile quoting and `$VAR` / `${VAR}`
//! / `${VAR:-default}` expansion. As in a Dockerfile, ENTRYPOINT clears the CMD
//! unless a CMD came before it.

use crate::error::ImageError;
use crate::oci::ContainerConfig;
use std::collections::BTreeMap;

const ALLOWED: &str = "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR";
const DOCKERFILE_ONLY: &[&str] = &[
    "ADD",
    "ARG",
    "COPY",
    "FROM",
    "HEALTHCHECK",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
];

/// Apply each change, in order, to `cfg`.
pub fn apply_changes(cfg: &mut ContainerConfig, changes: &[String]) -> Result<(), ImageError> {
    let mut cmd_set = false;
    for change in changes {
        apply_one(cfg, change, &mut cmd_set).map_err(|reason| ImageError::InvalidChange {
            change: change.clone(),
            reason,
        })?;
    }
    Ok(())
}

fn apply_one(cfg: &mut ContainerConfig, change: &str, cmd_set: &mut bool) -> Result<(), String> {
    let trimmed = change.trim();
    let (instr, rest) = match trimmed.find(char::is_whitespace) {
        Some(i) => (&trimmed[..i], trimmed[i..].trim()),
        None => (trimmed, ""),
    };
    if instr.is_empty() {
        return Err(format!(
            "it is empty; give a Dockerfile instruction ({ALLOWED})"
        ));
    }
    let upper = instr.to_ascii_uppercase();
    let need_args = || {
        if rest.is_empty() {
            Err(format!("{upper} needs an argument"))
        } else {
            Ok(())
        }
    };
    let env = cfg.env.clone().unwrap_or_default();
    match upper.as_str() {
        "CMD" => {
            need_args()?;
            cfg.cmd = Some(command_form(rest));
            *cmd_set = true;
        }
        "ENTRYPOINT" => {
            need_args()?;
            cfg.entrypoint = Some(command_form(rest));
            if !*cmd_set {
                cfg.cmd = None;
            }
        }
        "ENV" => {
            need_args()?;
            let pairs = key_values(rest, &env, "ENV")?;
            let list = cfg.env.get_or_insert_with(Vec::new);
            for (k, v) in pairs {
                let entry = format!("{k}={v}");
                match list
                    .iter_mut()
                    .find(|e| e.split_once('=').map_or(e.as_str(), |(ek, _)| ek) == k)
                {
                    Some(existing) => *existing = entry,
                    None => list.push(entry),
                }
            }
        }
        "LABEL" => {
            need_args()?;
            let pairs = key_values(rest, &env, "LABEL")?;
            cfg.labels.get_or_insert_with(BTreeMap::new).extend(pairs);
        }
        "WORKDIR" => {
            need_args()?;
            let dir = lex(rest, &env, false)?.concat();
            let joined = if dir.starts_with('/') {
                dir
            } else {
                format!("{}/{dir}", cfg.working_dir.as_deref().unwrap_or("/"))
            };
            cfg.working_dir = Some(clean_path(&joined));
        }
        "USER" => {
            need_args()?;
            cfg.user = Some(lex(rest, &env, false)?.concat());
        }
        "EXPOSE" => {
            need_args()?;
            let ports = cfg.exposed_ports.get_or_insert_with(BTreeMap::new);
            for word in lex(rest, &env, true)? {
                for p in expand_port(&word)? {
                    ports.insert(p, serde_json::json!({}));
                }
            }
        }
        "VOLUME" => {
            need_args()?;
            let paths = match json_array(rest) {
                Some(v) => v,
                None => lex(rest, &env, true)?,
            };
            let vols = cfg.volumes.get_or_insert_with(BTreeMap::new);
            for p in paths {
                if p.trim().is_empty() {
                    return Err("VOLUME paths must not be empty".into());
                }
                vols.insert(p, serde_json::json!({}));
            }
        }
        "STOPSIGNAL" => {
            need_args()?;
            let sig = lex(rest, &env, false)?.concat();
            let name = sig.strip_prefix("SIG").unwrap_or(&sig);
            let valid = name.parse::<u32>().is_ok()
                || (!name.is_empty()
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-'));
            if !valid {
                return Err(format!(
                    "{sig:?} is not a signal; give a name such as SIGTERM or a number"
                ));
            }
            cfg.stop_signal = Some(sig);
        }
        other if DOCKERFILE_ONLY.contains(&other) => {
            return Err(format!(
                "{other} cannot be applied to an image config; allowed instructions are {ALLOWED}"
            ))
        }
        _ => {
            return Err(format!(
                "unknown instruction {instr:?}; allowed instructions are {ALLOWED}"
            ))
        }
    }
    Ok(())
}

/// JSON exec form, or shell form run by `/bin/sh -c`.
fn command_form(rest: &str) -> Vec<String> {
    json_array(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

fn json_array(rest: &str) -> Option<Vec<String>> {
    if rest.starts_with('[') {
        serde_json::from_str::<Vec<String>>(rest).ok()
    } else {
        None
    }
}

/// `K=V K2="v 2"` pairs, or the legacy `KEY value with spaces` form.
fn key_values(rest: &str, env: &[String], what: &str) -> Result<Vec<(String, String)>, String> {
    let first_raw = rest.split(char::is_whitespace).next().unwrap_or("");
    if !first_raw.contains('=') {
        let key = first_raw;
        let value = rest[key.len()..].trim();
        if value.is_empty() {
            return Err(format!(
                "{what} needs NAME=value pairs (or the legacy form \"{what} NAME value\")"
            ));
        }
        return Ok(vec![(key.to_string(), lex(value, env, false)?.concat())]);
    }
    let mut out = Vec::new();
    for word in lex(rest, env, true)? {
        match word.split_once('=') {
            Some((k, v)) if !k.is_empty() => out.push((k.to_string(), v.to_string())),
            _ => {
                return Err(format!(
                    "{word:?} is not NAME=value; when one {what} entry uses '=', all must"
                ))
            }
        }
    }
    Ok(out)
}

/// `80`, `80/tcp`, `53/UDP`, `8000-8002/tcp` → `80/tcp`, … (import's `-c` and
/// the builder's EXPOSE).
pub(crate) fn expand_port(word: &str) -> Result<Vec<String>, String> {
    let (ports, proto) = match word.split_once('/') {
        Some((p, proto)) => (p, proto.to_ascii_lowercase()),
        None => (word, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(format!(
            "port {word:?} has protocol {proto:?}; use tcp, udp or sctp"
        ));
    }
    let num = |s: &str| {
        s.parse::<u16>().ok().filter(|p| *p > 0).ok_or_else(|| {
            format!("port {word:?} is not a number from 1 to 65535 or a range of them")
        })
    };
    let (lo, hi) = match ports.split_once('-') {
        Some((a, b)) => (num(a)?, num(b)?),
        None => (num(ports)?, num(ports)?),
    };
    if lo > hi {
        return Err(format!("port range {word:?} ends before it starts"));
    }
    Ok((lo..=hi).map(|p| format!("{p}/{proto}")).collect())
}

fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn lookup<'a>(env: &'a [String], name: &str) -> Option<&'a str> {
    env.iter()
        .rev()
        .find_map(|e| e.strip_prefix(name)?.strip_prefix('='))
}

/// Dockerfile word processing: quotes, backslash escapes and variable expansion.
/// With `split`, unquoted whitespace separates words; otherwise all is one word.
fn lex(s: &str, env: &[String], split: bool) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if split && c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                cur.push(chars.next().unwrap_or('\\'));
                in_word = true;
            }
            '\'' => {
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unterminated single quote in {s:?}")),
                    }
                }
                in_word = true;
            }
            '"' => {
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.peek() {
                            Some(&n @ ('"' | '\\' | '$')) => {
                                chars.next();
                                cur.push(n);
                            }
                            _ => cur.push('\\'),
                        },
                        Some('$') => expand(&mut chars, env, &mut cur)?,
                        Some(c) => cur.push(c),
                        None => return Err(format!("unterminated double quote in {s:?}")),
                    }
                }
                in_word = true;
            }
            '$' => {
                expand(&mut chars, env, &mut cur)?;
                in_word = true;
            }
            c => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

fn expand(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    env: &[String],
    out: &mut String,
) -> Result<(), String> {
    let is_name = |c: char| c.is_ascii_alphanumeric() || c == '_';
    match chars.peek() {
        Some('{') => {
            chars.next();
            let mut body = String::new();
            loop {
                match chars.next() {
                    Some('}') => break,
                    Some(c) => body.push(c),
                    None => return Err("unterminated ${ in a variable reference".into()),
                }
            }
            let name_end = body.find(|c: char| !is_name(c)).unwrap_or(body.len());
            let (name, modifier) = body.split_at(name_end);
            if name.is_empty() {
                return Err(format!("bad variable reference ${{{body}}}"));
            }
            let value = lookup(env, name);
            match modifier {
                "" => out.push_str(value.unwrap_or("")),
                m if m.starts_with(":-") => {
                    out.push_str(value.filter(|v| !v.is_empty()).unwrap_or(&m[2..]))
                }
                m if m.starts_with(":+") => {
                    if value.is_some_and(|v| !v.is_empty()) {
                        out.push_str(&m[2..]);
                    }
                }
                m => return Err(format!("unsupported modifier {m:?} in ${{{body}}}")),
            }
        }
        Some(&c) if c.is_ascii_alphabetic() || c == '_' => {
            let mut name = String::new();
            while let Some(&c) = chars.peek() {
                if !is_name(c) {
                    break;
                }
                name.push(c);
                chars.next();
            }
            out.push_str(lookup(env, &name).unwrap_or(""));
        }
        _ => out.push('$'),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(changes: &[&str]) -> Result<ContainerConfig, ImageError> {
        let mut cfg = ContainerConfig::default();
        let changes: Vec<String> = changes.iter().map(|s| s.to_string()).collect();
        apply_changes(&mut cfg, &changes)?;
        Ok(cfg)
    }

    #[test]
    fn command_forms() {
        let c = apply(&[r#"CMD ["/bin/sh"]"#, "ENTRYPOINT echo hello world"]).unwrap();
        assert_eq!(c.cmd, Some(vec!["/bin/sh".to_string()]));
        assert_eq!(
            c.entrypoint,
            Some(vec![
                "/bin/sh".into(),
                "-c".into(),
                "echo hello world".into()
            ])
        );
        let c = apply(&["cmd [not json"]).unwrap();
        assert_eq!(c.cmd.unwrap()[2], "[not json");
    }

    #[test]
    fn entrypoint_clears_an_earlier_cmd_only_when_no_cmd_was_given() {
        let mut cfg = ContainerConfig {
            cmd: Some(vec!["old".into()]),
            ..Default::default()
        };
        apply_changes(&mut cfg, &[r#"ENTRYPOINT ["/entry"]"#.to_string()]).unwrap();
        assert_eq!(cfg.cmd, None);
        let changes = [
            r#"CMD ["arg"]"#.to_string(),
            "ENTRYPOINT /entry".to_string(),
        ];
        apply_changes(&mut cfg, &changes).unwrap();
        assert_eq!(cfg.cmd, Some(vec!["arg".to_string()]));
    }

    #[test]
    fn env_forms_and_expansion() {
        let c = apply(&[
            "ENV A=1 B=\"two words\" C=x\\ y",
            "ENV PATH_EXTRA /opt/bin and more",
            "ENV D=$A-${B} E=${MISSING:-dflt} F=${A:+set} G='$A'",
            "ENV A=3",
        ])
        .unwrap();
        assert_eq!(
            c.env.unwrap(),
            vec![
                "A=3",
                "B=two words",
                "C=x y",
                "PATH_EXTRA=/opt/bin and more",
                "D=1-two words",
                "E=dflt",
                "F=set",
                "G=$A"
            ]
        );
        assert!(apply(&["ENV A=1 B"]).is_err());
        assert!(apply(&["ENV LONELY"]).is_err());
    }

    #[test]
    fn workdir_user_expose_label_volume_stopsignal() {
        let c = apply(&[
            "WORKDIR /app",
            "WORKDIR sub/../src",
            "USER 1000:1000",
            "EXPOSE 80 53/UDP 8000-8001",
            "LABEL a=b \"c d\"=e",
            r#"VOLUME ["/data"]"#,
            "VOLUME /cache /logs",
            "STOPSIGNAL SIGINT",
        ])
        .unwrap();
        assert_eq!(c.working_dir.as_deref(), Some("/app/src"));
        assert_eq!(c.user.as_deref(), Some("1000:1000"));
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["53/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        let labels = c.labels.unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["c d"], "e");
        let vols: Vec<_> = c.volumes.unwrap().into_keys().collect();
        assert_eq!(vols, ["/cache", "/data", "/logs"]);
        assert_eq!(c.stop_signal.as_deref(), Some("SIGINT"));
    }

    #[test]
    fn bad_changes_are_named() {
        let e = apply(&["FROB x"]).unwrap_err().to_string();
        assert!(
            e.contains("\"FROB x\"") && e.contains("unknown instruction \"FROB\""),
            "{e}"
        );
        assert!(e.contains("CMD, ENTRYPOINT"), "{e}");
        let e = apply(&["RUN echo"]).unwrap_err().to_string();
        assert!(e.contains("RUN cannot be applied"), "{e}");
        let e = apply(&["EXPOSE 99999"]).unwrap_err().to_string();
        assert!(e.contains("99999"), "{e}");
        assert!(apply(&["EXPOSE 80/icmp"]).is_err());
        assert!(apply(&["CMD"]).is_err());
        assert!(apply(&["ENV A=\"open"]).is_err());
    }
}
