//! What the conversion changed or could not carry over: one finding per
//! Compose key, named by its path in the file (`services.web.ulimits`).

use serde::Serialize;
use std::fmt;

/// One reported key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The Compose key, as a path (`services.web.network_mode`).
    pub path: String,
    /// What happened to it (`… dropped`, `… kept as …`).
    pub message: String,
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// The findings of one conversion, in the order they were made.
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub findings: Vec<Finding>,
}

impl Report {
    pub fn add(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.findings.push(Finding {
            path: path.into(),
            message: message.into(),
        });
    }

    /// One line a finding.
    pub fn to_text(&self) -> String {
        self.findings.iter().map(|f| format!("{f}\n")).collect()
    }

    /// `[{"path": …, "message": …}, …]`.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(&self.findings).unwrap_or_else(|_| "[]".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_one_line_a_finding_and_json_an_array() {
        let mut r = Report::default();
        r.add("services.web.ulimits", "dropped");
        r.add("services.web.init", "dropped");
        assert_eq!(
            r.to_text(),
            "services.web.ulimits: dropped\nservices.web.init: dropped\n"
        );
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).expect("json");
        assert_eq!(v[1]["path"], "services.web.init");
        assert_eq!(v[1]["message"], "dropped");
    }
}
