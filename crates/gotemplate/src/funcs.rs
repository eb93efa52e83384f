//! The functions a template may call: Go's builtins and the ones docker's
//! CLI adds (`json join split title lower upper pad truncate`). `and` and
//! `or` are evaluated lazily by the executor and only named here.

use crate::printf;
use crate::value::{compare, format_v, Val};
use serde_json::Value;
use std::cmp::Ordering;

const NAMES: &[&str] = &[
    "and", "or", "not", "len", "index", "slice", "printf", "print", "println", "eq", "ne", "lt",
    "le", "gt", "ge", "json", "join", "split", "title", "lower", "upper", "pad", "truncate",
    "html", "js", "urlquery",
];

/// Longest string `pad` and `printf` widths may produce, so that a format
/// cannot ask for gigabytes of spaces.
pub(crate) const MAX_WIDTH: usize = 1 << 16;

pub(crate) fn exists(name: &str) -> bool {
    NAMES.contains(&name)
}

pub(crate) fn call(name: &str, args: Vec<Val>) -> Result<Val, String> {
    match name {
        "not" => {
            let [a] = exact::<1>(name, args)?;
            Ok(Val::Json(Value::Bool(!a.truthy())))
        }
        "len" => {
            let [a] = exact::<1>(name, args)?;
            let len = match a.json() {
                Value::String(s) => s.len(),
                Value::Array(items) => items.len(),
                Value::Object(map) => map.len(),
                _ => return Err(format!("error calling len: len of type {}", a.type_name())),
            };
            Ok(Val::Json(Value::from(len)))
        }
        "index" => index(args),
        "slice" => slice(args),
        "printf" => {
            let mut args = args.into_iter();
            let format = args
                .next()
                .ok_or("wrong number of args for printf: want at least 1 got 0")?;
            let Value::String(format) = format.json() else {
                return Err(format!(
                    "wrong type for value; expected string; got {}",
                    format.type_name()
                ));
            };
            Ok(Val::str(printf::sprintf(
                format,
                &args.collect::<Vec<_>>(),
            )?))
        }
        "print" => Ok(Val::str(sprint(&args))),
        "println" => {
            let words: Vec<String> = args.iter().map(format_v).collect();
            Ok(Val::str(words.join(" ") + "\n"))
        }
        "eq" => {
            let mut args = args.into_iter();
            let first = args.next().ok_or("missing argument for comparison")?;
            let mut rest = args.peekable();
            if rest.peek().is_none() {
                return Err("missing argument for comparison".into());
            }
            for other in rest {
                if equal(&first, &other)? {
                    return Ok(Val::Json(Value::Bool(true)));
                }
            }
            Ok(Val::Json(Value::Bool(false)))
        }
        "ne" => {
            let [a, b] = exact::<2>(name, args)?;
            Ok(Val::Json(Value::Bool(!equal(&a, &b)?)))
        }
        "lt" | "le" | "gt" | "ge" => {
            let [a, b] = exact::<2>(name, args)?;
            let order = match (a.json(), b.json()) {
                (Value::String(_), Value::String(_)) | (Value::Number(_), Value::Number(_)) => {
                    compare(&a, &b)
                }
                _ => None,
            }
            .ok_or_else(|| {
                format!(
                    "error calling {name}: incompatible types for comparison ({} and {})",
                    a.type_name(),
                    b.type_name()
                )
            })?;
            let result = match name {
                "lt" => order == Ordering::Less,
                "le" => order != Ordering::Greater,
                "gt" => order == Ordering::Greater,
                _ => order != Ordering::Less,
            };
            Ok(Val::Json(Value::Bool(result)))
        }
        "json" => {
            let [a] = exact::<1>(name, args)?;
            serde_json::to_string(a.json())
                .map(Val::str)
                .map_err(|e| format!("error calling json: {e}"))
        }
        "join" => {
            let [list, sep] = exact::<2>(name, args)?;
            let Value::Array(items) = list.json() else {
                return Err(format!(
                    "error calling join: expected a list, got {}",
                    list.type_name()
                ));
            };
            let words: Vec<String> = items
                .iter()
                .map(|v| format_v(&Val::Json(v.clone())))
                .collect();
            Ok(Val::str(words.join(&string_arg(name, &sep)?)))
        }
        "split" => {
            let [s, sep] = exact::<2>(name, args)?;
            let (s, sep) = (string_arg(name, &s)?, string_arg(name, &sep)?);
            let parts: Vec<Value> = if sep.is_empty() {
                s.chars().map(|c| Value::String(c.to_string())).collect()
            } else {
                s.split(sep.as_str())
                    .map(|p| Value::String(p.to_string()))
                    .collect()
            };
            Ok(Val::Json(Value::Array(parts)))
        }
        "title" => {
            let [s] = exact::<1>(name, args)?;
            Ok(Val::str(title(&string_arg(name, &s)?)))
        }
        "lower" => {
            let [s] = exact::<1>(name, args)?;
            Ok(Val::str(string_arg(name, &s)?.to_lowercase()))
        }
        "upper" => {
            let [s] = exact::<1>(name, args)?;
            Ok(Val::str(string_arg(name, &s)?.to_uppercase()))
        }
        "pad" => {
            let [s, before, after] = exact::<3>(name, args)?;
            let s = string_arg(name, &s)?;
            let (before, after) = (width_arg(name, &before)?, width_arg(name, &after)?);
            if s.is_empty() {
                return Ok(Val::str(s));
            }
            Ok(Val::str(format!(
                "{}{s}{}",
                " ".repeat(before),
                " ".repeat(after)
            )))
        }
        "truncate" => {
            let [s, n] = exact::<2>(name, args)?;
            let s = string_arg(name, &s)?;
            let n = n
                .as_int()
                .filter(|n| *n >= 0)
                .ok_or("error calling truncate: the length must be a number of 0 or more")?;
            Ok(Val::str(s.chars().take(n as usize).collect::<String>()))
        }
        "html" => Ok(Val::str(escape_html(&sprint(&args)))),
        "js" => Ok(Val::str(escape_js(&sprint(&args)))),
        "urlquery" => Ok(Val::str(escape_query(&sprint(&args)))),
        other => Err(format!("function {other:?} not defined")),
    }
}

fn exact<const N: usize>(name: &str, args: Vec<Val>) -> Result<[Val; N], String> {
    let got = args.len();
    args.try_into()
        .map_err(|_| format!("wrong number of args for {name}: want {N} got {got}"))
}

fn string_arg(name: &str, v: &Val) -> Result<String, String> {
    match v.json() {
        Value::String(s) => Ok(s.clone()),
        _ => Err(format!(
            "error calling {name}: expected a string, got {} {}",
            v.type_name(),
            format_v(v)
        )),
    }
}

fn width_arg(name: &str, v: &Val) -> Result<usize, String> {
    match v.as_int() {
        Some(n) if (0..=MAX_WIDTH as i64).contains(&n) => Ok(n as usize),
        _ => Err(format!(
            "error calling {name}: expected a number from 0 to {MAX_WIDTH}, got {}",
            format_v(v)
        )),
    }
}

/// Go's `fmt.Sprint`: a space between two operands when neither is a string.
pub(crate) fn sprint(args: &[Val]) -> String {
    let mut out = String::new();
    for (i, arg) in args.iter().enumerate() {
        let is_string = |v: &Val| matches!(v.json(), Value::String(_));
        if i > 0 && !is_string(arg) && !is_string(&args[i - 1]) {
            out.push(' ');
        }
        out.push_str(&format_v(arg));
    }
    out
}

fn equal(a: &Val, b: &Val) -> Result<bool, String> {
    if matches!(a.json(), Value::Array(_) | Value::Object(_))
        || matches!(b.json(), Value::Array(_) | Value::Object(_))
    {
        return Err(format!(
            "error calling eq: non-comparable types {} and {}",
            a.type_name(),
            b.type_name()
        ));
    }
    match compare(a, b) {
        Some(order) => Ok(order == Ordering::Equal),
        None if a.json().is_null() || b.json().is_null() => Ok(false),
        None => Err(format!(
            "error calling eq: incompatible types for comparison ({} and {})",
            a.type_name(),
            b.type_name()
        )),
    }
}

fn index(args: Vec<Val>) -> Result<Val, String> {
    let mut args = args.into_iter();
    let mut current = args
        .next()
        .ok_or("wrong number of args for index: want at least 1 got 0")?;
    for key in args {
        current = match (current.json(), key.json()) {
            (Value::Object(map), Value::String(k)) => {
                map.get(k).cloned().map_or(Val::Missing, Val::Json)
            }
            (Value::Array(_), _) | (Value::String(_), _) if key.as_int().is_none() => {
                return Err(format!(
                    "error calling index: cannot index slice/array with type {}",
                    key.type_name()
                ))
            }
            (Value::Array(items), _) => {
                let i = key.as_int().unwrap_or(-1);
                let item = usize::try_from(i).ok().and_then(|i| items.get(i));
                item.cloned()
                    .map(Val::Json)
                    .ok_or_else(|| format!("error calling index: index out of range: {i}"))?
            }
            (Value::String(s), _) => {
                let i = key.as_int().unwrap_or(-1);
                let byte = usize::try_from(i).ok().and_then(|i| s.as_bytes().get(i));
                byte.map(|b| Val::Json(Value::from(*b)))
                    .ok_or_else(|| format!("error calling index: index out of range: {i}"))?
            }
            (Value::Null, _) => return Err("error calling index: index of untyped nil".into()),
            _ => {
                return Err(format!(
                    "error calling index: can't index item of type {}",
                    current.type_name()
                ))
            }
        };
    }
    Ok(current)
}

fn slice(args: Vec<Val>) -> Result<Val, String> {
    let mut args = args.into_iter();
    let item = args
        .next()
        .ok_or("wrong number of args for slice: want at least 1 got 0")?;
    let bounds: Vec<i64> = args
        .map(|a| {
            a.as_int().ok_or_else(|| {
                format!(
                    "error calling slice: cannot index slice/array with type {}",
                    a.type_name()
                )
            })
        })
        .collect::<Result<_, _>>()?;
    let len = match item.json() {
        Value::String(s) => s.len(),
        Value::Array(items) => items.len(),
        _ => {
            return Err(format!(
                "error calling slice: can't slice item of type {}",
                item.type_name()
            ))
        }
    };
    if bounds.len() > 2 {
        return Err(
            "error calling slice: too many slice indexes: 3-index slices are not supported here"
                .into(),
        );
    }
    let low = bounds.first().copied().unwrap_or(0);
    let high = bounds.get(1).copied().unwrap_or(len as i64);
    if low < 0 || high < low || high > len as i64 {
        return Err(format!(
            "error calling slice: invalid slice index: {low} > {high} or out of range of {len}"
        ));
    }
    let (low, high) = (low as usize, high as usize);
    Ok(match item.json() {
        Value::String(s) => Val::str(
            s.get(low..high)
                .ok_or("error calling slice: index is inside a UTF-8 character")?,
        ),
        Value::Array(items) => Val::Json(Value::Array(items[low..high].to_vec())),
        _ => unreachable!("checked above"),
    })
}

/// Go's `strings.Title`: a letter after a non-letter is upper-cased.
fn title(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut previous_letter = false;
    for c in s.chars() {
        if !previous_letter {
            out.extend(c.to_uppercase());
        } else {
            out.push(c);
        }
        previous_letter = c.is_alphanumeric() || c == '_' || c == '\'';
    }
    out
}

fn escape_html(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&#39;"),
            '"' => out.push_str("&#34;"),
            '\0' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn escape_js(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\\""),
            '<' => out.push_str("\\u003C"),
            '>' => out.push_str("\\u003E"),
            '&' => out.push_str("\\u0026"),
            '=' => out.push_str("\\u003D"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn escape_query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
