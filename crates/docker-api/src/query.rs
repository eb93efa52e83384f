//! The query string as docker reads it: percent-decoded pairs, docker's
//! booleans (`1`, `true`; `0`, `false`, `no`, `none` and empty are false),
//! numbers whose errors name the parameter, and the `filters` JSON (both
//! `{"label":["a=b"]}` and the older `{"label":{"a=b":true}}`).

use crate::error::ApiError;
use std::collections::BTreeMap;

/// A request's query parameters, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// docker's `filters`: each key with its values.
pub type Filters = BTreeMap<String, Vec<String>>;

impl Query {
    /// Parse `a=1&b=x%20y` (the part after `?`).
    pub fn parse(text: &str) -> Self {
        let pairs = text
            .split('&')
            .filter(|part| !part.is_empty())
            .map(|part| {
                let (key, value) = part.split_once('=').unwrap_or((part, ""));
                (percent_decode(key), percent_decode(value))
            })
            .collect();
        Query { pairs }
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// Every value of `name` (`?env=A&env=B`).
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
            .collect()
    }

    /// docker's boolean: absent is `default`.
    pub fn bool(&self, name: &str, default: bool) -> bool {
        match self.get(name) {
            None => default,
            Some(value) => !matches!(
                value.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "no" | "false" | "none"
            ),
        }
    }

    /// An integer parameter; a value that is not one is a 400 naming it.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.get(name).filter(|v| !v.is_empty()) {
            None => Ok(None),
            Some(value) => value.trim().parse().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for query parameter {name:?}: {value:?} is not an integer"
                ))
            }),
        }
    }

    /// The `filters` parameter; empty when absent.
    pub fn filters(&self) -> Result<Filters, ApiError> {
        match self.get("filters").filter(|v| !v.trim().is_empty()) {
            None => Ok(Filters::new()),
            Some(text) => parse_filters(text),
        }
    }
}

/// docker's `filters` JSON, in either of its shapes.
pub fn parse_filters(text: &str) -> Result<Filters, ApiError> {
    let invalid = |why: String| {
        ApiError::bad_request(format!(
            "invalid filter in query parameter \"filters\": {why} (expected a JSON object like {{\"label\":[\"key=value\"]}})"
        ))
    };
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|error| invalid(error.to_string()))?;
    let serde_json::Value::Object(map) = value else {
        return Err(invalid(format!("{text} is not an object")));
    };
    let mut filters = Filters::new();
    for (key, values) in map {
        let list = match values {
            serde_json::Value::Array(items) => items
                .into_iter()
                .map(|item| match item {
                    serde_json::Value::String(s) => Ok(s),
                    other => Err(invalid(format!("{key}: {other} is not a string"))),
                })
                .collect::<Result<Vec<_>, _>>()?,
            serde_json::Value::Object(items) => items
                .into_iter()
                .filter(|(_, on)| on.as_bool().unwrap_or(false))
                .map(|(item, _)| item)
                .collect(),
            other => return Err(invalid(format!("{key}: {other} is not a list"))),
        };
        filters.insert(key, list);
    }
    Ok(filters)
}

/// `%2F` → `/`, `+` → space; an invalid escape is kept as written.
pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(high), Some(low)) => {
                    out.push(high << 4 | low);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(digit: u8) -> Option<u8> {
    (digit as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_in_order() {
        let query = Query::parse("all=1&name=a%2Fb&cmd=x+y&env=A&env=B");
        assert_eq!(query.get("name"), Some("a/b"));
        assert_eq!(query.get("cmd"), Some("x y"));
        assert_eq!(query.all("env"), ["A", "B"]);
        assert_eq!(query.get("missing"), None);
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%41"), "A");
    }

    #[test]
    fn booleans_follow_docker() {
        let query = Query::parse("a=1&b=true&c=0&d=false&e=&f=no&g=True");
        assert!(query.bool("a", false));
        assert!(query.bool("b", false));
        assert!(!query.bool("c", true));
        assert!(!query.bool("d", true));
        assert!(!query.bool("e", true));
        assert!(!query.bool("f", true));
        assert!(query.bool("g", false));
        assert!(query.bool("absent", true));
    }

    #[test]
    fn a_bad_integer_names_the_parameter() {
        let query = Query::parse("limit=ten&t=5");
        let error = query.int("limit").unwrap_err();
        assert_eq!(error.status(), 400);
        assert!(error.to_string().contains("\"limit\""));
        assert_eq!(query.int("t").unwrap(), Some(5));
        assert_eq!(query.int("none").unwrap(), None);
    }

    #[test]
    fn filters_accept_both_of_dockers_shapes() {
        let query = Query::parse(&format!(
            "filters={}",
            "%7B%22label%22%3A%5B%22a%3Db%22%5D%2C%22status%22%3A%7B%22running%22%3Atrue%7D%7D"
        ));
        let filters = query.filters().unwrap();
        assert_eq!(filters["label"], ["a=b"]);
        assert_eq!(filters["status"], ["running"]);
        assert!(Query::parse("").filters().unwrap().is_empty());
    }

    #[test]
    fn malformed_filters_are_400s() {
        for bad in ["{", "[1]", r#"{"label":3}"#, r#"{"label":[3]}"#] {
            let error = parse_filters(bad).unwrap_err();
            assert_eq!(error.status(), 400, "{bad}");
            assert!(error.to_string().contains("filters"), "{bad}");
        }
    }
}
