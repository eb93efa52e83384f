//! Readers of single nodes for the model stage: a string, a boolean, a
//! size, a duration, a host path…, each checking the node's type and naming
//! the YAML path and position when it is wrong. [`crate::typed`] and
//! [`crate::attrs`] both build the model with these.

use crate::canonical::{bad, join};
use crate::discover::absolute;
use crate::error::LoadError;
use crate::keys;
use crate::syntax;
use crate::yaml::{Entry, Node, ScalarKind, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// What the model stage needs besides the tree.
pub struct Context<'a> {
    pub project_name: &'a str,
    pub project_dir: &'a Path,
    pub cwd: &'a Path,
    /// The interpolation environment (shell over `.env`).
    pub env: &'a BTreeMap<String, String>,
    /// Active profiles (`--profile` and `COMPOSE_PROFILES`).
    pub profiles: &'a BTreeSet<String>,
    pub warnings: &'a mut Vec<String>,
}

impl Context<'_> {
    pub(crate) fn warn(&mut self, w: String) {
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }
}

pub(crate) fn text(node: &Node) -> Option<&str> {
    match &node.value {
        Value::Scalar(t, k) if *k != ScalarKind::Null => Some(t),
        _ => None,
    }
}

pub(crate) fn string(node: &Node, path: &str) -> Result<String, LoadError> {
    match &node.value {
        Value::Scalar(t, k) if *k != ScalarKind::Null => Ok(t.clone()),
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be a string, not {}", node.describe()),
        )),
    }
}

/// The value under `key` unless absent or null.
pub(crate) fn field<'a>(map: &'a Node, key: &str) -> Option<&'a Node> {
    map.get(key).filter(|n| !n.is_null())
}

pub(crate) fn opt_string(map: &Node, key: &str, path: &str) -> Result<Option<String>, LoadError> {
    field(map, key)
        .map(|n| string(n, &join(path, key)))
        .transpose()
}

pub(crate) fn boolean(node: &Node, path: &str) -> Result<bool, LoadError> {
    match text(node) {
        Some("true" | "True" | "TRUE") => Ok(true),
        Some("false" | "False" | "FALSE") => Ok(false),
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be true or false, not {}", node.describe()),
        )),
    }
}

pub(crate) fn opt_bool(map: &Node, key: &str, path: &str) -> Result<Option<bool>, LoadError> {
    field(map, key)
        .map(|n| boolean(n, &join(path, key)))
        .transpose()
}

pub(crate) fn integer<T: TryFrom<i64>>(
    node: &Node,
    path: &str,
    what: &str,
) -> Result<T, LoadError> {
    let fail = || {
        bad(
            &node.loc,
            path,
            format!("must be {what}, not {}", node.describe()),
        )
    };
    let t = match &node.value {
        Value::Scalar(t, ScalarKind::Int | ScalarKind::Str) => t.trim(),
        _ => return Err(fail()),
    };
    let n: i64 = if let Some(h) = t.strip_prefix("0x") {
        i64::from_str_radix(h, 16).map_err(|_| fail())?
    } else if let Some(o) = t.strip_prefix("0o") {
        i64::from_str_radix(o, 8).map_err(|_| fail())?
    } else {
        t.parse().map_err(|_| fail())?
    };
    T::try_from(n).map_err(|_| fail())
}

pub(crate) fn entries<'a>(node: &'a Node, path: &str) -> Result<&'a [Entry], LoadError> {
    match &node.value {
        Value::Map(m) => Ok(m),
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be a mapping, not {}", node.describe()),
        )),
    }
}

pub(crate) fn items<'a>(node: &'a Node, path: &str, what: &str) -> Result<&'a [Node], LoadError> {
    match &node.value {
        Value::Seq(s) => Ok(s),
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be a list of {what}, not {}", node.describe()),
        )),
    }
}

pub(crate) fn string_list(node: &Node, path: &str) -> Result<Vec<String>, LoadError> {
    items(node, path, "strings")?
        .iter()
        .enumerate()
        .map(|(i, n)| string(n, &format!("{path}[{i}]")))
        .collect()
}

/// A mapping whose keys are all in `allowed` (or `x-*`).
pub(crate) fn check_keys(node: &Node, path: &str, allowed: &[&str]) -> Result<(), LoadError> {
    for e in entries(node, path)? {
        if !allowed.contains(&e.key.as_str()) && !e.key.starts_with("x-") {
            return Err(bad(
                &e.key_loc,
                path,
                keys::unknown_key_message(&e.key, allowed, false),
            ));
        }
    }
    Ok(())
}

pub(crate) fn string_map(node: &Node, path: &str) -> Result<BTreeMap<String, String>, LoadError> {
    let mut out = BTreeMap::new();
    for e in entries(node, path)? {
        let v = if e.value.is_null() {
            String::new()
        } else {
            string(&e.value, &join(path, &e.key))?
        };
        out.insert(e.key.clone(), v);
    }
    Ok(out)
}

pub(crate) fn duration(node: &Node, path: &str) -> Result<Duration, LoadError> {
    let t = text(node)
        .filter(|_| !matches!(node.value, Value::Scalar(_, ScalarKind::Bool)))
        .ok_or_else(|| {
            bad(
                &node.loc,
                path,
                format!("must be a duration like 10s, not {}", node.describe()),
            )
        })?;
    wharf_units::parse_go_duration(t).map_err(|e| bad(&node.loc, path, e.to_string()))
}

pub(crate) fn opt_duration(
    map: &Node,
    key: &str,
    path: &str,
) -> Result<Option<Duration>, LoadError> {
    field(map, key)
        .map(|n| duration(n, &join(path, key)))
        .transpose()
}

pub(crate) fn memory(node: &Node, path: &str) -> Result<u64, LoadError> {
    match &node.value {
        Value::Scalar(t, ScalarKind::Int | ScalarKind::Str | ScalarKind::Float) => {
            wharf_units::parse_bytes(t).map_err(|e| bad(&node.loc, path, e.to_string()))
        }
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be a size like 64M, not {}", node.describe()),
        )),
    }
}

pub(crate) fn nano_cpus(node: &Node, path: &str) -> Result<u64, LoadError> {
    match &node.value {
        Value::Scalar(t, ScalarKind::Int | ScalarKind::Str | ScalarKind::Float) => {
            syntax::parse_nano_cpus(t).map_err(|e| bad(&node.loc, path, e))
        }
        _ => Err(bad(
            &node.loc,
            path,
            format!("must be a CPU count like 0.5, not {}", node.describe()),
        )),
    }
}

/// Warns about keys of `node` that are allowed but not in `modeled`.
pub(crate) fn warn_unmodeled(node: &Node, path: &str, modeled: &[&str], ctx: &mut Context) {
    if let Some(m) = node.as_map() {
        for e in m {
            if !modeled.contains(&e.key.as_str()) && !e.key.starts_with("x-") {
                ctx.warn(format!(
                    "{}: {} is not supported by wharf yet and is ignored",
                    e.key_loc,
                    join(path, &e.key)
                ));
            }
        }
    }
}

/// A host path: `~` from HOME, relative against the project directory.
pub(crate) fn host_path(
    raw: &str,
    node: &Node,
    path: &str,
    ctx: &Context,
) -> Result<PathBuf, LoadError> {
    if raw == "~" || raw.starts_with("~/") {
        let home = ctx
            .env
            .get("HOME")
            .filter(|h| !h.is_empty())
            .ok_or_else(|| {
                bad(
                    &node.loc,
                    path,
                    format!("cannot expand {raw:?}: HOME is not set"),
                )
            })?;
        let rest = raw.trim_start_matches('~').trim_start_matches('/');
        return Ok(absolute(Path::new(home), Path::new(rest)));
    }
    Ok(absolute(ctx.project_dir, Path::new(raw)))
}

/// `external: true` or the legacy `external: {name: x}`.
pub(crate) fn external(n: &Node, path: &str) -> Result<(bool, Option<String>), LoadError> {
    match field(n, "external") {
        None => Ok((false, None)),
        Some(
            x @ Node {
                value: Value::Map(_),
                ..
            },
        ) => {
            let p = join(path, "external");
            check_keys(x, &p, &["name"])?;
            Ok((true, opt_string(x, "name", &p)?))
        }
        Some(x) => Ok((boolean(x, &join(path, "external"))?, None)),
    }
}
