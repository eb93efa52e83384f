//! The volumes and networks pages: every volume with its size and users,
//! every network with its subnet and containers, each page with its prune
//! button (a POST with the CSRF token), and the page that says what a prune
//! removed, in `docker volume prune`'s and `docker network prune`'s words.

use crate::html::{action, bytes, escape, page};
use std::collections::BTreeMap;
use std::fmt::Write;
use wharf_engine_api::{ContainerInfo, NetworkInfo, VolumeInfo};

/// `/volumes`: docker's `volume ls` columns, the size (`system df -v`) and
/// the containers that mount each one.
pub fn volumes(list: &[VolumeInfo], sizes: &BTreeMap<String, u64>, csrf: &str) -> String {
    let mut body = String::from(
        "<table id=\"volumes\"><tr><th>Driver</th><th>Volume name</th><th>Size</th><th>Links</th><th>Used by</th></tr>",
    );
    let mut unused = 0u64;
    for v in list {
        let size = sizes.get(&v.name).copied();
        if v.used_by.is_empty() {
            unused += size.unwrap_or(0);
        }
        let users: Vec<String> = v
            .used_by
            .iter()
            .map(|u| escape(&u.container_name))
            .collect();
        let _ = write!(
            body,
            "<tr data-name=\"{name}\"><td>{}</td><td>{name}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&v.driver),
            if v.anonymous { " <small>(anonymous)</small>" } else { "" },
            size.map(bytes).unwrap_or_else(|| "N/A".into()),
            v.used_by.len(),
            users.join(", "),
            name = escape(&v.name),
        );
    }
    let _ = write!(
        body,
        "</table><p>{} volumes, {} in volumes no container uses.</p><p>",
        list.len(),
        bytes(unused)
    );
    body.push_str(&action(
        "/volumes/prune",
        "Remove unused anonymous volumes",
        csrf,
    ));
    let _ = write!(
        body,
        "<form method=\"post\" action=\"/volumes/prune\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<input type=\"hidden\" name=\"all\" value=\"1\"><button>Remove all unused volumes</button></form></p>",
        escape(csrf)
    );
    page("Volumes", &body)
}

/// `/networks`: docker's `network ls` columns, the subnet and the
/// containers attached.
pub fn networks(list: &[NetworkInfo], containers: &[ContainerInfo], csrf: &str) -> String {
    let mut body = String::from(
        "<table id=\"networks\"><tr><th>Network ID</th><th>Name</th><th>Driver</th><th>Scope</th><th>Subnet</th><th>Containers</th></tr>",
    );
    for n in list {
        let attached: Vec<String> = containers
            .iter()
            .filter(|c| c.addresses.contains_key(&n.name))
            .map(|c| escape(&c.name))
            .collect();
        let _ = write!(
            body,
            "<tr data-name=\"{name}\"><td>{}</td><td>{name}</td><td>bridge</td><td>local</td><td>{}</td><td>{}</td></tr>",
            escape(n.id.get(..12).unwrap_or(&n.id)),
            escape(&n.subnet),
            attached.join(", "),
            name = escape(&n.name),
        );
    }
    body.push_str("</table><p>");
    body.push_str(&action("/networks/prune", "Remove unused networks", csrf));
    body.push_str("</p>");
    page("Networks", &body)
}

/// What a prune removed, and what it could not.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pruned {
    pub removed: Vec<String>,
    /// Bytes the removed volumes held, as far as they were measured.
    pub reclaimed: u64,
    /// One message per object that should have gone and did not.
    pub failures: Vec<String>,
}

/// What a prune of `kind` (`Volumes`, `Networks`) removed.
pub fn pruned(kind: &str, back: &str, result: &Pruned) -> String {
    let mut text = String::new();
    if !result.removed.is_empty() {
        let _ = writeln!(text, "Deleted {kind}:");
        for name in &result.removed {
            let _ = writeln!(text, "{name}");
        }
        text.push('\n');
    }
    if kind == "Volumes" {
        let _ = writeln!(text, "Total reclaimed space: {}", bytes(result.reclaimed));
    } else if result.removed.is_empty() {
        let _ = writeln!(text, "Nothing to remove.");
    }
    let mut body = format!("<pre id=\"pruned\">{}</pre>", escape(&text));
    if !result.failures.is_empty() {
        let _ = write!(
            body,
            "<p class=\"exited\">Not removed:</p><pre id=\"failures\">{}</pre>",
            escape(&result.failures.join("\n"))
        );
    }
    let _ = write!(
        body,
        "<p><a href=\"{}\">Back to the {}</a></p>",
        escape(back),
        escape(&kind.to_lowercase())
    );
    page(&format!("Prune {}", kind.to_lowercase()), &body)
}
