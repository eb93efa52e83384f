//! Values as a template sees them: JSON, or Go's "no value" (a missing map
//! key), with Go's truth, printing (`%v`) and comparison rules.

use serde_json::Value;
use std::cmp::Ordering;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Val {
    /// What Go's template yields for a key a map does not have.
    Missing,
    Json(Value),
}

impl Val {
    pub fn str(s: impl Into<String>) -> Val {
        Val::Json(Value::String(s.into()))
    }

    pub fn json(&self) -> &Value {
        const NULL: Value = Value::Null;
        match self {
            Val::Missing => &NULL,
            Val::Json(v) => v,
        }
    }

    pub fn into_json(self) -> Value {
        match self {
            Val::Missing => Value::Null,
            Val::Json(v) => v,
        }
    }

    /// Go's truth: false, 0, nil and empty strings, lists and maps are false.
    pub fn truthy(&self) -> bool {
        match self.json() {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
            Value::String(s) => !s.is_empty(),
            Value::Array(a) => !a.is_empty(),
            Value::Object(o) => !o.is_empty(),
        }
    }

    /// Go's type name of the value, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Val::Missing => "<no value>",
            Val::Json(Value::Null) => "nil",
            Val::Json(Value::Bool(_)) => "bool",
            Val::Json(Value::Number(n)) if n.is_f64() => "float64",
            Val::Json(Value::Number(_)) => "int",
            Val::Json(Value::String(_)) => "string",
            Val::Json(Value::Array(_)) => "slice",
            Val::Json(Value::Object(_)) => "map",
        }
    }

    pub fn as_int(&self) -> Option<i64> {
        match self.json() {
            Value::Number(n) => n
                .as_i64()
                .or_else(|| n.as_u64().map(|u| u.min(i64::MAX as u64) as i64)),
            _ => None,
        }
    }
}

/// Go's `%v`.
pub(crate) fn format_v(val: &Val) -> String {
    let mut out = String::new();
    write_v(&mut out, val.json(), matches!(val, Val::Missing));
    out
}

fn write_v(out: &mut String, value: &Value, missing: bool) {
    match value {
        Value::Null if missing => out.push_str("<no value>"),
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&format_number(n)),
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(out, item, false);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_v(out, &map[key], false);
            }
            out.push(']');
        }
    }
}

/// Integers as integers; floats as Go's `%v` (shortest form, exponent below
/// 1e-4 and from 1e21).
pub(crate) fn format_number(n: &serde_json::Number) -> String {
    if let Some(i) = n.as_i64() {
        return i.to_string();
    }
    if let Some(u) = n.as_u64() {
        return u.to_string();
    }
    format_float(n.as_f64().unwrap_or_default())
}

pub(crate) fn format_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.into();
    }
    let magnitude = f.abs();
    if magnitude != 0.0 && !(1e-4..1e21).contains(&magnitude) {
        let text = format!("{f:e}");
        let (mantissa, exponent) = text.split_once('e').unwrap_or((&text, "0"));
        let (sign, digits) = match exponent.strip_prefix('-') {
            Some(d) => ('-', d),
            None => ('+', exponent),
        };
        return format!("{mantissa}e{sign}{digits:0>2}");
    }
    format!("{f}")
}

/// Go's `eq`-family comparison of basic values; `None` when the two cannot be
/// compared.
pub(crate) fn compare(a: &Val, b: &Val) -> Option<Ordering> {
    match (a.json(), b.json()) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => Some(x.cmp(&y)),
            _ => x.as_f64()?.partial_cmp(&y.as_f64()?),
        },
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Null, Value::Null) => Some(Ordering::Equal),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_print_as_go_prints_them() {
        assert_eq!(format_v(&Val::Json(json!(["a", 1, true]))), "[a 1 true]");
        assert_eq!(
            format_v(&Val::Json(json!({"b": 2, "a": [1]}))),
            "map[a:[1] b:2]"
        );
        assert_eq!(format_v(&Val::Missing), "<no value>");
        assert_eq!(format_v(&Val::Json(Value::Null)), "<nil>");
        assert_eq!(format_float(1.5), "1.5");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(0.00001), "1e-05");
        assert_eq!(format_float(100.0), "100");
    }
}
