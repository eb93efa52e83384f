//! Kubernetes object names from Compose names: the one rule that turns a
//! service, volume, network, config or secret key into a DNS-1035 label
//! (what a Service name must be, and so valid for every other object too).
//!
//! The rule: lowercase; every character other than `a-z`, `0-9` and `-`
//! becomes `-`; runs of `-` collapse to one and none is kept at either end; a
//! name that does not start with a letter gets the prefix `x-`; a name longer
//! than the limit keeps its first characters and ends with `-` and the first
//! 8 hex digits of the SHA-256 of the Compose name, so two long names stay
//! distinct. A name the rule changes is reported by the caller.

use sha2::{Digest, Sha256};

/// The longest DNS-1035 label.
pub const MAX_LABEL: usize = 63;

/// `name` as a DNS-1035 label of at most `max` characters.
pub fn dns_label(name: &str, max: usize) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && (out.is_empty() || out.ends_with('-')) {
            continue;
        }
        out.push(c);
    }
    while out.ends_with('-') {
        out.pop();
    }
    if !out.starts_with(|c: char| c.is_ascii_lowercase()) {
        out.insert_str(0, "x-");
        if out.ends_with('-') {
            out.pop();
        }
    }
    if out.len() > max {
        let hash = hex::encode(Sha256::digest(name.as_bytes()));
        let mut head: String = out.chars().take(max - 9).collect();
        while head.ends_with('-') {
            head.pop();
        }
        out = format!("{head}-{}", &hash[..8]);
    }
    out
}

/// Whether `value` may be a label value as it is (at most 63 characters of
/// `[A-Za-z0-9_.-]`, alphanumeric at both ends, or empty).
pub fn is_label_value(value: &str) -> bool {
    value.len() <= MAX_LABEL
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && (value.is_empty()
            || (value.starts_with(|c: char| c.is_ascii_alphanumeric())
                && value.ends_with(|c: char| c.is_ascii_alphanumeric())))
}

/// `value` when it is a valid label value, else its [`dns_label`].
pub fn label_value(value: &str) -> String {
    if is_label_value(value) {
        value.to_string()
    } else {
        dns_label(value, MAX_LABEL)
    }
}

/// A ConfigMap or Secret data key (`[-._a-zA-Z0-9]+`) from a file name.
pub fn data_key(name: &str) -> String {
    let key: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    match key.as_str() {
        "" | "." | ".." => format!("file{key}"),
        _ => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_names_are_kept() {
        assert_eq!(dns_label("web", MAX_LABEL), "web");
        assert_eq!(dns_label("api-v2", MAX_LABEL), "api-v2");
    }

    #[test]
    fn compose_names_become_labels() {
        assert_eq!(dns_label("my_service", MAX_LABEL), "my-service");
        assert_eq!(dns_label("Web.Front", MAX_LABEL), "web-front");
        assert_eq!(dns_label("__a__", MAX_LABEL), "a");
        assert_eq!(dns_label("1db", MAX_LABEL), "x-1db");
        assert_eq!(dns_label("_", MAX_LABEL), "x");
    }

    #[test]
    fn long_names_are_truncated_with_a_hash() {
        let long = "a".repeat(80);
        let other = format!("{}b", "a".repeat(79));
        let (l, o) = (dns_label(&long, MAX_LABEL), dns_label(&other, MAX_LABEL));
        assert_eq!(l.len(), MAX_LABEL);
        assert_ne!(l, o);
        assert!(l.starts_with(&"a".repeat(54)));
    }

    #[test]
    fn label_values_and_data_keys() {
        assert!(is_label_value("my_app.v1"));
        assert!(!is_label_value("_x"));
        assert_eq!(label_value("_x"), "x");
        assert_eq!(data_key("nginx conf"), "nginx_conf");
        assert_eq!(data_key(".."), "file..");
    }
}
