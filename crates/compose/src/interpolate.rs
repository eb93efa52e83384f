//! Interpolate stage: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?err}`, `${VAR?err}`, `${VAR:+alt}`, `${VAR+alt}`, nesting and `$$`
//! in every string scalar of a file (never in keys).
//!
//! [`substitute`] is the template engine on one string; it is also used for
//! `${…}` references inside `.env` files. `$` followed by anything that cannot
//! start a variable name (`$(`, `$1`, `$ `) is kept as written.

use crate::error::{LoadError, LoadErrorKind};
use crate::yaml::{Node, ScalarKind, Value};
use std::collections::{BTreeMap, BTreeSet};

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TemplateError {
    #[error("invalid interpolation syntax at character {at}: {reason}")]
    Invalid { at: usize, reason: String },
    #[error("required variable {name} is missing a value{}", if .message.is_empty() { String::new() } else { format!(": {}", .message) })]
    Required { name: String, message: String },
}

/// How one `${…}` reference got its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// The variable's value.
    Value(String),
    /// Unset (or empty with `:-`): the default was used.
    Default(String),
    /// Set (non-empty with `:+`): the alternative was used.
    Alternate(String),
    /// Unset with no default: blank.
    Blank,
}

/// One reference to a variable in a Compose file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableUse {
    pub name: String,
    /// YAML path of the value that holds the reference.
    pub path: String,
    pub location: crate::Location,
    pub resolution: Resolution,
}

/// Collects the names of unset variables used without a default, each once,
/// in order, and (for `config --explain`) every reference and how it resolved.
#[derive(Debug, Default)]
pub struct Unset {
    seen: BTreeSet<String>,
    pub names: Vec<String>,
    /// References seen by [`substitute`] not yet given a place.
    pub trace: Vec<(String, Resolution)>,
    /// References with their place, from [`interpolate_tree`].
    pub uses: Vec<VariableUse>,
}

impl Unset {
    fn add(&mut self, name: &str) {
        self.trace.push((name.to_string(), Resolution::Blank));
        if self.seen.insert(name.to_string()) {
            self.names.push(name.to_string());
        }
    }

    fn note(&mut self, name: &str, r: Resolution) {
        self.trace.push((name.to_string(), r));
    }

    /// The warnings to show, one per variable.
    pub fn warnings(&self) -> impl Iterator<Item = String> + '_ {
        self.names
            .iter()
            .map(|n| format!("The {n:?} variable is not set. Defaulting to a blank string."))
    }
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Expands one string. `lookup` answers a variable's value (`None`: unset).
pub fn substitute(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Unset,
) -> Result<String, TemplateError> {
    let chars: Vec<char> = text.chars().collect();
    expand(&chars, 0, lookup, unset)
}

/// Expands `chars`; `offset` is where they start in the outermost string (for errors).
fn expand(
    chars: &[char],
    offset: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Unset,
) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(chars.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        match chars.get(i + 1) {
            Some('$') => {
                out.push('$');
                i += 2;
            }
            Some('{') => {
                let start = i;
                let (value, next) =
                    braced(chars, i + 2, offset, lookup, unset).map_err(|e| match e {
                        TemplateError::Invalid { at, reason } if at == usize::MAX => {
                            TemplateError::Invalid {
                                at: offset + start + 1,
                                reason,
                            }
                        }
                        e => e,
                    })?;
                out.push_str(&value);
                i = next;
            }
            Some(&n) if is_name_start(n) => {
                let mut j = i + 1;
                while j < chars.len() && is_name_char(chars[j]) {
                    j += 1;
                }
                let name: String = chars[i + 1..j].iter().collect();
                match lookup(&name) {
                    Some(v) => {
                        unset.note(&name, Resolution::Value(v.clone()));
                        out.push_str(&v)
                    }
                    None => unset.add(&name),
                }
                i = j;
            }
            _ => {
                out.push('$');
                i += 1;
            }
        }
    }
    Ok(out)
}

/// Expands `${…}` whose name starts at `i`; returns the value and the index after `}`.
fn braced(
    chars: &[char],
    i: usize,
    offset: usize,
    lookup: &dyn Fn(&str) -> Option<String>,
    unset: &mut Unset,
) -> Result<(String, usize), TemplateError> {
    let invalid = |reason: &str| TemplateError::Invalid {
        at: usize::MAX,
        reason: reason.to_string(),
    };
    let mut j = i;
    if j >= chars.len() || !is_name_start(chars[j]) {
        return Err(if j >= chars.len() {
            invalid("\"${\" is not closed: write $$ for a literal $")
        } else {
            invalid("a variable name must follow \"${\": write $$ for a literal $")
        });
    }
    while j < chars.len() && is_name_char(chars[j]) {
        j += 1;
    }
    let name: String = chars[i..j].iter().collect();
    if j >= chars.len() {
        return Err(invalid(&format!("\"${{{name}\" is not closed with \"}}\"")));
    }
    if chars[j] == '}' {
        return Ok((
            match lookup(&name) {
                Some(v) => {
                    unset.note(&name, Resolution::Value(v.clone()));
                    v
                }
                None => {
                    unset.add(&name);
                    String::new()
                }
            },
            j + 1,
        ));
    }
    let colon = chars[j] == ':';
    let op_at = if colon { j + 1 } else { j };
    let op = match chars.get(op_at) {
        Some(&c @ ('-' | '?' | '+')) => c,
        _ => {
            return Err(invalid(&format!(
                "unexpected {:?} after \"${{{name}\": expected }}, :-, -, :?, ?, :+ or +",
                chars.get(op_at).copied().unwrap_or(chars[j])
            )))
        }
    };
    // The word runs to the matching `}`, nested `${…}` included.
    let word_start = op_at + 1;
    let mut depth = 0usize;
    let mut k = word_start;
    let word_end = loop {
        match chars.get(k) {
            None => return Err(invalid(&format!("\"${{{name}\" is not closed with \"}}\""))),
            Some('$') if chars.get(k + 1) == Some(&'$') => k += 2,
            Some('$') if chars.get(k + 1) == Some(&'{') => {
                depth += 1;
                k += 2;
            }
            Some('}') if depth == 0 => break k,
            Some('}') => {
                depth -= 1;
                k += 1;
            }
            Some(_) => k += 1,
        }
    };
    let word = &chars[word_start..word_end];
    let value = lookup(&name);
    let is_set = value.is_some();
    let is_nonempty = value.as_deref().is_some_and(|v| !v.is_empty());
    let present = if colon { is_nonempty } else { is_set };
    let result = match op {
        '-' | '?' if present => {
            let v = value.unwrap_or_default();
            unset.note(&name, Resolution::Value(v.clone()));
            v
        }
        '-' => {
            let d = expand(word, offset + word_start, lookup, unset)?;
            unset.note(&name, Resolution::Default(d.clone()));
            d
        }
        '?' => {
            let message = expand(word, offset + word_start, lookup, unset)?;
            return Err(TemplateError::Required { name, message });
        }
        _ if present => {
            let a = expand(word, offset + word_start, lookup, unset)?;
            unset.note(&name, Resolution::Alternate(a.clone()));
            a
        }
        _ => {
            unset.note(&name, Resolution::Blank);
            String::new()
        }
    };
    Ok((result, word_end + 1))
}

/// Interpolates every string scalar under `node`; `path` is the node's YAML path.
pub fn interpolate_tree(
    node: &mut Node,
    path: &str,
    env: &BTreeMap<String, String>,
    unset: &mut Unset,
) -> Result<(), LoadError> {
    let mut buffer = path.to_string();
    interpolate_at(node, &mut buffer, env, unset)
}

/// [`interpolate_tree`], with the path in one buffer that grows and shrinks
/// as the walk goes down and up (no string per node).
fn interpolate_at(
    node: &mut Node,
    path: &mut String,
    env: &BTreeMap<String, String>,
    unset: &mut Unset,
) -> Result<(), LoadError> {
    match &mut node.value {
        Value::Scalar(text, ScalarKind::Str) => {
            if text.contains('$') {
                let lookup = |n: &str| env.get(n).cloned();
                unset.trace.clear();
                let result = substitute(text, &lookup, unset);
                for (name, resolution) in std::mem::take(&mut unset.trace) {
                    unset.uses.push(VariableUse {
                        name,
                        path: path.to_string(),
                        location: node.loc.clone(),
                        resolution,
                    });
                }
                *text = result.map_err(|e| {
                    let msg = match &e {
                        TemplateError::Invalid { at, reason } => format!(
                            "invalid interpolation syntax in {text:?} at character {at}: {reason}"
                        ),
                        TemplateError::Required { .. } => e.to_string(),
                    };
                    LoadError::at(
                        LoadErrorKind::Interpolation,
                        node.loc.clone(),
                        path.as_str(),
                        msg,
                    )
                })?;
            }
        }
        Value::Scalar(..) => {}
        Value::Seq(items) => {
            let len = path.len();
            for (i, item) in items.iter_mut().enumerate() {
                use std::fmt::Write as _;
                let _ = write!(path, "[{i}]");
                interpolate_at(item, path, env, unset)?;
                path.truncate(len);
            }
        }
        Value::Map(entries) => {
            let len = path.len();
            for e in entries {
                if len > 0 {
                    path.push('.');
                }
                path.push_str(&e.key);
                interpolate_at(&mut e.value, path, env, unset)?;
                path.truncate(len);
            }
        }
    }
    Ok(())
}
