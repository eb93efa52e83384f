//! Pieces every page uses: escaping, the page frame, sizes, sparklines.

use crate::history::Point;
use std::fmt::Write;

/// Text made safe for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(ch),
        }
    }
    out
}

/// A path segment for a link (container ids and project names are plain,
/// but a name from a label may not be).
pub fn encode_segment(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}\
table{border-collapse:collapse;margin-bottom:1em}td,th{padding:.25em .6em;border-bottom:1px solid #ddd;text-align:left}\
.running{color:#18794e}.exited,.dead{color:#b42318}.paused,.restarting,.created{color:#b54708}\
pre{background:#f6f6f6;padding:.6em;max-height:30em;overflow:auto}form{display:inline}nav a{margin-right:1em}";

/// A whole page.
pub fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t} · wharf</title>\
<style>{STYLE}</style></head><body><nav><a href=\"/\">Projects</a><a href=\"/volumes\">Volumes</a><a href=\"/networks\">Networks</a><a href=\"/system\">System</a><a href=\"/metrics\">Metrics</a></nav>\
<h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

/// A POST button carrying the CSRF token.
pub fn action(path: &str, label: &str, csrf: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><button>{}</button></form> ",
        escape(path),
        escape(csrf),
        escape(label)
    )
}

/// Bytes as docker shows them (`12.5MiB`).
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n}B")
    } else {
        format!("{value:.1}{}", UNITS[unit])
    }
}

/// An inline SVG line of `values` (scaled to their maximum).
pub fn sparkline(points: &[Point], value: fn(&Point) -> f64) -> String {
    if points.len() < 2 {
        return String::new();
    }
    let max = points.iter().map(value).fold(0.0f64, f64::max).max(1e-9);
    let step = 120.0 / (points.len() - 1) as f64;
    let mut line = String::new();
    for (i, p) in points.iter().enumerate() {
        let _ = write!(
            line,
            "{:.1},{:.1} ",
            i as f64 * step,
            20.0 - value(p) / max * 18.0
        );
    }
    format!(
        "<svg width=\"120\" height=\"20\" role=\"img\"><polyline fill=\"none\" stroke=\"#2e90fa\" points=\"{}\"/></svg>",
        line.trim_end()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markup_is_escaped() {
        assert_eq!(
            escape("<a href=\"x\">'&"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;"
        );
        assert_eq!(encode_segment("a b/c"), "a%20b%2Fc");
        assert_eq!(bytes(67108864), "64.0MiB");
        assert_eq!(bytes(100), "100B");
    }
}
