//! `wharf events`: the project's container events as docker compose prints
//! them, live (and, with `--since`, replayed from the event log first).

use crate::context::GlobalOptions;
use crate::render::format;
use crate::render::units;
use anyhow::{Context as _, Result};
use clap::Args;
use std::io::Write;
use wharf_engine::events::{ContainerEvent, EventFilter};

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Output events as a stream of json objects
    #[arg(long)]
    pub json: bool,
    /// Format the output: json or a Go template over docker's event fields
    /// (.Type .Action .ID .Actor.Attributes .Time …)
    #[arg(long)]
    pub format: Option<String>,
    /// Show all events created since timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub since: Option<String>,
    /// Stream events until this timestamp (e.g. 2013-01-02T13:23:37Z) or relative (e.g. 42m for 42 minutes)
    #[arg(long)]
    pub until: Option<String>,
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
}

/// `2024-01-01 12:00:00.000000 container start 3f2e… (image=busybox, name=p-web-1)`.
pub fn text_line(event: &ContainerEvent) -> String {
    let attributes: Vec<String> = event
        .attributes
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    format!(
        "{} container {} {} ({})",
        units::event_time(event.time_ns),
        event.action,
        event.id,
        attributes.join(", ")
    )
}

/// The fields a `--format` template sees: docker's event message (`Type`,
/// `Action`, `Actor`, `Time`, …) and compose's (`service`, `attributes`).
pub fn template_data(event: &ContainerEvent) -> serde_json::Value {
    let mut data = json_value(event);
    let extra = serde_json::json!({
        "Type": "container",
        "Action": event.action,
        "Status": event.action,
        "ID": event.id,
        "id": event.id,
        "From": event.attributes.get("image").cloned().unwrap_or_default(),
        "Actor": {"ID": event.id, "Attributes": event.attributes},
        "Scope": "local",
        "Time": event.time_ns / 1_000_000_000,
        "TimeNano": event.time_ns,
    });
    if let (Some(data), serde_json::Value::Object(extra)) = (data.as_object_mut(), extra) {
        data.extend(extra);
    }
    data
}

/// One `--json` object, with compose's fields.
pub fn json_line(event: &ContainerEvent) -> String {
    json_value(event).to_string()
}

fn json_value(event: &ContainerEvent) -> serde_json::Value {
    serde_json::json!({
        "time": units::rfc3339_nanos(event.time_ns),
        "type": "container",
        "service": event.service,
        "id": event.id,
        "action": event.action,
        "attributes": event.attributes,
    })
}

fn parse_time_flag(flag: &str, text: &Option<String>) -> Result<Option<i64>> {
    text.as_deref()
        .map(|t| {
            units::parse_time(t, wharf_units::calendar::now_ns()).with_context(|| {
                format!("{flag} {t:?}: write a time like 2013-01-02T13:23:37Z, a Unix timestamp or a duration like 42m")
            })
        })
        .transpose()
}

pub fn events(global: &GlobalOptions, args: EventsArgs) -> Result<i32> {
    let template = match args.format.as_deref().map(str::trim) {
        None | Some("") => None,
        Some("json") => None,
        Some(text) => Some(format::parse_template("--format", text)?),
    };
    let json = args.json || matches!(args.format.as_deref().map(str::trim), Some("json"));
    let (project, name) = global.project_or_name()?;
    let scope = wharf_app::containers::Scope {
        name: &name,
        project: project.as_ref(),
        services: &args.services,
    };
    scope.check()?;
    let filter = EventFilter {
        since_ns: parse_time_flag("--since", &args.since)?,
        until_ns: parse_time_flag("--until", &args.until)?,
        follow: true,
    };
    let engine = global.engine()?;
    let mut out = std::io::stdout();
    let mut failure = None;
    wharf_app::events::stream(&engine, &scope, &filter, &mut |event| {
        let line = match &template {
            Some(template) => match template.execute(&template_data(&event)) {
                Ok(line) => line,
                Err(e) => {
                    failure = Some(e);
                    return false;
                }
            },
            None if json => json_line(&event),
            None => text_line(&event),
        };
        writeln!(out, "{line}").and_then(|()| out.flush()).is_ok()
    })?;
    if let Some(e) = failure {
        anyhow::bail!("invalid --format template: {e}");
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn sample() -> ContainerEvent {
        ContainerEvent {
            time_ns: 1_704_110_400_123_456_789,
            action: "die".into(),
            id: "3f2e".into(),
            service: "web".into(),
            attributes: BTreeMap::from([
                ("name".into(), "p-web-1".into()),
                ("image".into(), "busybox".into()),
                ("exitCode".into(), "3".into()),
            ]),
        }
    }

    #[test]
    fn text_form_is_compose_s() {
        assert_eq!(
            text_line(&sample()),
            "2024-01-01 12:00:00.123456 container die 3f2e (exitCode=3, image=busybox, name=p-web-1)"
        );
    }

    #[test]
    fn templates_see_docker_s_event_fields() {
        let template = crate::render::format::parse_template(
            "--format",
            "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}} {{.TimeNano}} {{.service}}",
        )
        .unwrap();
        assert_eq!(
            template.execute(&template_data(&sample())).unwrap(),
            "container die 3f2e p-web-1 1704110400123456789 web"
        );
    }

    #[test]
    fn json_form_has_compose_s_fields() {
        let value: serde_json::Value = serde_json::from_str(&json_line(&sample())).unwrap();
        assert_eq!(value["type"], "container");
        assert_eq!(value["action"], "die");
        assert_eq!(value["service"], "web");
        assert_eq!(value["id"], "3f2e");
        assert_eq!(value["time"], "2024-01-01T12:00:00.123456789Z");
        assert_eq!(value["attributes"]["exitCode"], "3");
    }
}
