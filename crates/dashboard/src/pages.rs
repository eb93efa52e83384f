//! The dashboard's pages, rendered on the server: readable without
//! JavaScript; with it, a container's logs and the overview refresh
//! themselves.

use crate::history::History;
use crate::host::{EventLine, UsageRow};
use crate::html::{action, bytes, encode_segment, escape, page, sparkline};
use crate::linediff::{self, Line};
use crate::project::{ComposeFiles, Preview};
use std::collections::BTreeMap;
use std::fmt::Write;
use wharf_engine_api::{labels, ContainerInfo, Engine, LogOptions};

/// Most bytes of log a container page shows (the newest lines).
pub const MAX_LOG_BYTES: usize = 256 * 1024;
/// Lines of log a container page asks for.
const LOG_TAIL: usize = 200;

fn ports(c: &ContainerInfo) -> String {
    c.ports
        .iter()
        .map(|p| {
            let ip = p
                .host_ip
                .map(|ip| ip.to_string())
                .unwrap_or("0.0.0.0".into());
            format!("{ip}:{}->{}/{}", p.host_port, p.container_port, p.protocol)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn health(c: &ContainerInfo) -> &'static str {
    c.health.map(|h| h.name()).unwrap_or("")
}

/// `/`: every project and its containers (containers no project owns under
/// "(no project)").
pub fn overview(containers: &[ContainerInfo], history: &History, csrf: &str) -> String {
    let mut projects: BTreeMap<&str, Vec<&ContainerInfo>> = BTreeMap::new();
    for c in containers {
        projects
            .entry(c.label(labels::PROJECT).unwrap_or(""))
            .or_default()
            .push(c);
    }
    let mut body = String::new();
    if projects.is_empty() {
        body.push_str("<p>No containers on this host.</p>");
    }
    for (project, members) in &projects {
        let title = if project.is_empty() {
            "(no project)"
        } else {
            project
        };
        let running = members.iter().filter(|c| c.state.is_running()).count();
        let _ = write!(
            body,
            "<h2 class=\"project\">{}</h2><p>{running} of {} running ",
            title,
            members.len()
        );
        if !project.is_empty() {
            let base = format!("/projects/{}", encode_segment(project));
            let _ = write!(body, "<a href=\"{base}/events\">Events</a> ");
            for (verb, label) in [
                ("start", "Start"),
                ("stop", "Stop"),
                ("restart", "Restart"),
                ("down", "Down"),
            ] {
                body.push_str(&action(&format!("{base}/{verb}"), label, csrf));
            }
        }
        body.push_str("</p><table><tr><th>Name</th><th>Service</th><th>State</th><th>Health</th><th>Ports</th><th>CPU</th><th>Memory</th><th></th></tr>");
        for c in members {
            let points = history.points(&c.id);
            let (cpu, mem) = points
                .last()
                .map(|p| (format!("{:.2}%", p.cpu_percent), bytes(p.memory)))
                .unwrap_or_default();
            let link = format!("/containers/{}", encode_segment(&c.id));
            let _ = write!(
                body,
                "<tr class=\"container\" data-name=\"{name}\"><td><a href=\"{link}\">{name}</a></td><td>{service}</td>\
<td class=\"state {state}\">{state}</td><td>{health}</td><td>{ports}</td><td>{cpu} {cpu_line}</td><td>{mem} {mem_line}</td><td>",
                name = escape(&c.name),
                service = escape(c.label(labels::SERVICE).unwrap_or("")),
                state = c.state.name(),
                health = health(c),
                ports = escape(&ports(c)),
                cpu_line = sparkline(&points, |p| p.cpu_percent),
                mem_line = sparkline(&points, |p| p.memory as f64),
            );
            body.push_str(&container_actions(c, csrf));
            body.push_str("</td></tr>");
        }
        body.push_str("</table>");
    }
    body.push_str("<script>setTimeout(function(){location.reload()},10000)</script>");
    page("Projects", &body)
}

fn container_actions(c: &ContainerInfo, csrf: &str) -> String {
    let base = format!("/containers/{}", encode_segment(&c.id));
    let verbs: &[(&str, &str)] = if c.state.is_running() {
        &[("restart", "Restart"), ("stop", "Stop")]
    } else {
        &[("start", "Start"), ("remove", "Remove")]
    };
    verbs
        .iter()
        .map(|(verb, label)| action(&format!("{base}/{verb}"), label, csrf))
        .collect()
}

/// The newest lines of a container's log, at most [`MAX_LOG_BYTES`].
pub fn log_tail(engine: &dyn Engine, id: &str) -> String {
    let options = LogOptions {
        tail: Some(LOG_TAIL),
        ..Default::default()
    };
    let mut text = String::new();
    let result = engine.logs(id, &options, &mut |line| {
        text.push_str(&line.text);
        if !line.text.ends_with('\n') {
            text.push('\n');
        }
        if text.len() > 2 * MAX_LOG_BYTES {
            let cut = text.len() - MAX_LOG_BYTES;
            let cut = (cut..text.len())
                .find(|i| text.is_char_boundary(*i))
                .unwrap_or(0);
            text.drain(..cut);
        }
        true
    });
    if let Err(e) = result {
        return format!("(logs cannot be read: {e})\n");
    }
    if text.len() > MAX_LOG_BYTES {
        let cut = text.len() - MAX_LOG_BYTES;
        let cut = (cut..text.len())
            .find(|i| text.is_char_boundary(*i))
            .unwrap_or(0);
        text.drain(..cut);
    }
    text
}

/// `/containers/<id>`: details, processes, live figures and logs.
pub fn container(engine: &dyn Engine, c: &ContainerInfo, history: &History, csrf: &str) -> String {
    let mut body = String::new();
    let _ = write!(
        body,
        "<p>{}</p><table>\
<tr><th>ID</th><td>{}</td></tr><tr><th>Image</th><td>{}</td></tr>\
<tr><th>Command</th><td>{}</td></tr><tr><th>State</th><td class=\"state {state}\">{state}</td></tr>\
<tr><th>Health</th><td>{}</td></tr><tr><th>Ports</th><td>{}</td></tr>",
        container_actions(c, csrf),
        escape(&c.id),
        escape(&c.image),
        escape(&c.command.join(" ")),
        health(c),
        escape(&ports(c)),
        state = c.state.name(),
    );
    for (network, ip) in &c.addresses {
        let _ = write!(body, "<tr><th>{}</th><td>{ip}</td></tr>", escape(network));
    }
    body.push_str("</table><h2>Labels</h2><table>");
    for (k, v) in &c.labels {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(k),
            escape(v)
        );
    }
    body.push_str("</table>");
    let points = history.points(&c.id);
    if let Some(p) = points.last() {
        let _ = write!(
            body,
            "<h2>Usage</h2><p>CPU {:.2}% {} · Memory {} {}</p>",
            p.cpu_percent,
            sparkline(&points, |p| p.cpu_percent),
            bytes(p.memory),
            sparkline(&points, |p| p.memory as f64)
        );
    }
    if c.state.is_running() {
        if let Ok(processes) = engine.top(&c.id) {
            body.push_str("<h2>Processes</h2><table><tr><th>PID</th><th>PPID</th><th>UID</th><th>Command</th></tr>");
            for p in processes {
                let _ = write!(
                    body,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    p.pid,
                    p.ppid,
                    p.uid,
                    escape(&p.command)
                );
            }
            body.push_str("</table>");
        }
    }
    let inspect = serde_json::to_string_pretty(c).unwrap_or_default();
    let _ = write!(
        body,
        "<details><summary>Inspect</summary><pre id=\"inspect\">{}</pre></details>",
        escape(&inspect)
    );
    let logs_url = format!("/containers/{}/logs", encode_segment(&c.id));
    let _ = write!(
        body,
        "<h2>Logs</h2><pre id=\"logs\">{}</pre>\
<script>(function(){{var pre=document.getElementById('logs');function poll(){{\
fetch('{url}',{{credentials:'same-origin'}}).then(function(r){{return r.ok?r.text():null}})\
.then(function(t){{if(t!==null&&t!==pre.textContent){{pre.textContent=t;pre.scrollTop=pre.scrollHeight}}}})\
.finally(function(){{setTimeout(poll,2000)}})}}setTimeout(poll,2000)}})()</script>",
        escape(&log_tail(engine, &c.id)),
        url = logs_url
    );
    page(&c.name, &body)
}

/// The login page a token-protected listener shows: it names nothing of
/// the host.
pub fn login(failed: bool) -> String {
    let note = if failed { "<p>Wrong token.</p>" } else { "" };
    page(
        "Log in",
        &format!(
            "{note}<form method=\"post\" action=\"/login\"><label>Token <input type=\"password\" name=\"token\" autofocus></label> <button>Log in</button></form>"
        ),
    )
}

/// `/projects/<name>`: its Compose file, editable when the server can
/// redeploy; an edit is previewed before it is deployed.
pub fn project(name: &str, files: &ComposeFiles, can_deploy: bool, csrf: &str) -> String {
    let mut body = format!(
        "<p>Working directory {} · <a href=\"/projects/{}/events\">Events</a></p>",
        escape(&files.working_dir.display().to_string()),
        encode_segment(name)
    );
    for (i, path) in files.files.iter().enumerate() {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| format!("# cannot read {}: {e}", path.display()));
        let _ = write!(body, "<h2>{}</h2>", escape(&path.display().to_string()));
        if i == 0 && can_deploy {
            body.push_str(&edit_form(name, &text, csrf, false));
        } else {
            let _ = write!(body, "<pre>{}</pre>", escape(&text));
        }
    }
    page(name, &body)
}

/// The Compose file's editor: it previews the edit, and once previewed
/// (`previewed`) it can also deploy it.
fn edit_form(name: &str, text: &str, csrf: &str, previewed: bool) -> String {
    let project = encode_segment(name);
    let (action, buttons) = if previewed {
        (
            "deploy",
            format!(
                "<button>Save and redeploy</button> <button formaction=\"/projects/{project}/preview\">Preview again</button>"
            ),
        )
    } else {
        ("preview", "<button>Preview changes</button>".to_string())
    };
    // HTML drops a newline right after `<textarea>`: the one written here,
    // so that a file's own first blank line survives the round trip.
    format!(
        "<form method=\"post\" action=\"/projects/{project}/{action}\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
<textarea name=\"compose\" rows=\"30\" cols=\"100\" spellcheck=\"false\">\n{}</textarea><br>{buttons}</form>",
        escape(csrf),
        escape(text)
    )
}

/// `POST /projects/<name>/preview`: what a redeploy of the edit would do —
/// the containers created, recreated (and why) and removed — the edit's
/// `config` against the running files', and the editor to deploy it.
pub fn preview(name: &str, text: &str, result: &Result<Preview, String>, csrf: &str) -> String {
    let mut body = String::new();
    match result {
        Err(why) => {
            let _ = write!(
                body,
                "<p class=\"exited\">The edit cannot be deployed.</p><pre id=\"error\">{}</pre>",
                escape(why)
            );
        }
        Ok(preview) => {
            body.push_str("<h2>What the redeploy does</h2><pre id=\"changes\">");
            if preview.changes.is_empty() {
                body.push_str("Nothing to do");
            }
            body.push_str(&escape(&preview.changes.join("\n")));
            body.push_str("</pre>");
            if let Some(why) = &preview.current_error {
                let _ = write!(
                    body,
                    "<p>The files as they are do not load, so there is nothing to compare with: {}</p>",
                    escape(why)
                );
            }
            body.push_str("<h2>Configuration, as it is → as edited</h2>");
            if linediff::changed(&preview.diff) {
                body.push_str("<pre id=\"diff\">");
                for line in &preview.diff {
                    let (class, mark, text) = match line {
                        Line::Same(t) => ("", ' ', t),
                        Line::Removed(t) => (" class=\"exited\"", '-', t),
                        Line::Added(t) => (" class=\"running\"", '+', t),
                    };
                    let _ = writeln!(body, "<span{class}>{mark} {}</span>", escape(text));
                }
                body.push_str("</pre>");
            } else {
                body.push_str("<p id=\"diff\">The configuration is unchanged.</p>");
            }
            let _ = write!(
                body,
                "<details><summary>The plan</summary><pre id=\"plan\">{}</pre></details>\
<details><summary>config of the edit</summary><pre id=\"config\">{}</pre></details>",
                escape(&preview.plan),
                escape(&preview.config)
            );
        }
    }
    body.push_str("<h2>The edit</h2>");
    body.push_str(&edit_form(name, text, csrf, result.is_ok()));
    let _ = write!(
        body,
        "<p><a href=\"/projects/{}\">Back to the project</a></p>",
        encode_segment(name)
    );
    page(&format!("Preview {name}"), &body)
}

/// What a redeploy did, or why it did not happen.
pub fn deployed(name: &str, lines: &[String], error: Option<&str>) -> String {
    let mut body = String::new();
    if let Some(error) = error {
        let _ = write!(
            body,
            "<p class=\"exited\">Not deployed.</p><pre id=\"error\">{}</pre>",
            escape(error)
        );
    } else {
        let _ = write!(
            body,
            "<pre id=\"progress\">{}</pre>",
            escape(&lines.join("\n"))
        );
    }
    let _ = write!(
        body,
        "<p><a href=\"/projects/{}\">Back to the project</a></p>",
        encode_segment(name)
    );
    page(&format!("Deploy {name}"), &body)
}

/// Events a project's events page shows (the newest).
pub const EVENTS_SHOWN: usize = 200;

/// `/projects/<name>/events`: the newest events, newest first; the page
/// reloads itself.
pub fn events(name: &str, events: &[EventLine]) -> String {
    let mut body = String::from(
        "<table id=\"events\"><tr><th>Time (UTC)</th><th>Action</th><th>Service</th><th>Container</th></tr>",
    );
    for e in events.iter().rev() {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            utc_time(e.time_ns),
            escape(&e.action),
            escape(&e.service),
            escape(&e.name)
        );
    }
    body.push_str("</table><script>setTimeout(function(){location.reload()},5000)</script>");
    page(&format!("Events of {name}"), &body)
}

/// `2026-12-07 14:05:09` from Unix nanoseconds.
fn utc_time(ns: i64) -> String {
    let (year, month, day, hour, minute, second) =
        wharf_units::calendar::utc_from_unix(ns.div_euclid(1_000_000_000));
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}")
}

/// `/system`: disk usage by type and the prune button.
pub fn system(rows: &[UsageRow], csrf: &str) -> String {
    let mut body = String::from(
        "<table><tr><th>Type</th><th>Total</th><th>Active</th><th>Size</th><th>Reclaimable</th></tr>",
    );
    for r in rows {
        let _ = write!(
            body,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&r.kind),
            r.total,
            r.active,
            bytes(r.size),
            bytes(r.reclaimable)
        );
    }
    body.push_str("</table><p>");
    body.push_str(&action("/system/prune", "Remove dangling images", csrf));
    body.push_str("</p>");
    page("System", &body)
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_times_are_utc() {
        assert_eq!(super::utc_time(0), "1970-01-01 00:00:00");
        assert_eq!(
            super::utc_time(1_796_654_862_000_000_000),
            "2026-12-07 14:47:42"
        );
    }
}
