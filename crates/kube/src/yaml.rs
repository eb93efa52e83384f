//! A small YAML emitter for the JSON-like trees the converter builds: block
//! maps and sequences, and scalars written plain only when no YAML 1.1 or 1.2
//! reader could take them for anything but the same string; every other
//! string is double-quoted with JSON's escapes (a JSON string is a valid YAML
//! double-quoted scalar).

use serde_json::Value;
use std::fmt::Write as _;

/// `value` as a YAML document (no `---`), ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    let mut out = String::with_capacity(4096);
    match value {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => seq(&mut out, a, 0),
        other => {
            scalar(&mut out, other);
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn is_block(v: &Value) -> bool {
    match v {
        Value::Object(m) => !m.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => false,
    }
}

fn map(out: &mut String, m: &serde_json::Map<String, Value>, level: usize) {
    let mut first = true;
    for (k, v) in m {
        // The first key of a map inside a sequence follows its `- `.
        if !first || level == 0 || !out.ends_with("- ") {
            indent(out, level);
        }
        first = false;
        string(out, k);
        out.push(':');
        match v {
            Value::Object(inner) if !inner.is_empty() => {
                out.push('\n');
                map(out, inner, level + 2);
            }
            Value::Array(items) if !items.is_empty() => {
                out.push('\n');
                seq(out, items, level);
            }
            other => {
                out.push(' ');
                scalar(out, other);
                out.push('\n');
            }
        }
    }
}

fn seq(out: &mut String, items: &[Value], level: usize) {
    for item in items {
        indent(out, level);
        out.push_str("- ");
        match item {
            Value::Object(m) if !m.is_empty() => map(out, m, level + 2),
            Value::Array(a) if !a.is_empty() => {
                out.push('\n');
                seq(out, a, level + 2);
            }
            other => {
                debug_assert!(!is_block(other));
                scalar(out, other);
                out.push('\n');
            }
        }
    }
}

fn scalar(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
        Value::String(s) => string(out, s),
        Value::Array(_) => out.push_str("[]"),
        Value::Object(_) => out.push_str("{}"),
    }
}

/// Words YAML 1.1 reads as booleans or null.
const RESERVED: &[&str] = &["y", "n", "yes", "no", "true", "false", "on", "off", "null"];

fn string(q: &mut String, s: &str) {
    if is_plain(s) {
        q.push_str(s);
        return;
    }
    q.push('"');
    for c in s.chars() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            c if (c as u32) < 0x20 || c == '\u{7f}' || c == '\u{85}' || c == '\u{feff}' => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c if matches!(c, '\u{2028}' | '\u{2029}') => {
                let _ = write!(q, "\\u{:04x}", c as u32);
            }
            c => q.push(c),
        }
    }
    q.push('"');
}

/// A string that starts with a letter, `_` or `/` and holds only
/// `[A-Za-z0-9_./-]` reads back as itself, unless it is a reserved word.
fn is_plain(s: &str) -> bool {
    let Some(first) = s.chars().next() else {
        return false;
    };
    (first.is_ascii_alphabetic() || first == '_' || first == '/')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'))
        && !RESERVED.iter().any(|r| r.eq_ignore_ascii_case(s))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use yaml_rust2::{Yaml, YamlLoader};

    fn to_json(y: &Yaml) -> Value {
        match y {
            Yaml::Hash(h) => Value::Object(
                h.iter()
                    .map(|(k, v)| (k.as_str().expect("string key").to_string(), to_json(v)))
                    .collect(),
            ),
            Yaml::Array(a) => Value::Array(a.iter().map(to_json).collect()),
            Yaml::String(s) => Value::String(s.clone()),
            Yaml::Integer(i) => json!(i),
            Yaml::Real(r) => json!(r.parse::<f64>().expect("real")),
            Yaml::Boolean(b) => json!(b),
            Yaml::Null => Value::Null,
            other => panic!("unexpected {other:?}"),
        }
    }

    fn round_trip(v: Value) {
        let text = to_yaml(&v);
        let docs = YamlLoader::load_from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        assert_eq!(to_json(&docs[0]), v, "{text}");
    }

    #[test]
    fn nested_trees_read_back_the_same() {
        round_trip(json!({
            "apiVersion": "v1",
            "items": [{"a": 1, "b": [1, 2, {"c": "d"}]}, [], {}, [["x", "y"], "z"]],
            "empty": {}, "list": [], "null": null, "flag": true, "ratio": 0.5
        }));
    }

    #[test]
    fn ambiguous_strings_are_quoted() {
        for s in [
            "",
            "yes",
            "No",
            "on",
            "null",
            "~",
            "1",
            "0x1f",
            "1e3",
            "1_000",
            "12:30",
            ".inf",
            "-",
            "- a",
            "a: b",
            "#c",
            "a #b",
            " lead",
            "trail ",
            "'q'",
            "\"q\"",
            "x\ny",
            "tab\there",
            "{a}",
            "[a]",
            "*ref",
            "&anc",
            "!tag",
            "%dir",
            "@at",
            "`b`",
            "|",
            ">",
            "?",
            "500m",
            "64Mi",
            "sh -c 'echo $$HOME'",
            "\u{1}",
            "é",
            "\u{2028}",
        ] {
            round_trip(json!({ "k": s, "l": [s] }));
        }
        assert_eq!(to_yaml(&json!({"k": "64Mi"})), "k: \"64Mi\"\n");
        assert_eq!(
            to_yaml(&json!({"k": "nginx/web-1.2"})),
            "k: nginx/web-1.2\n"
        );
    }

    #[test]
    fn maps_in_sequences_start_on_the_dash() {
        let text = to_yaml(&json!({"containers": [{"name": "web", "image": "nginx"}]}));
        assert_eq!(text, "containers:\n- image: nginx\n  name: web\n");
    }
}
