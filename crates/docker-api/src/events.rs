//! `GET /events`: the host's container events streamed as docker's event
//! messages (`Type`, `Action`, `Actor{ID,Attributes}`, `time`, `timeNano`,
//! docker's action names such as `die`), from `since` to `until` (or on
//! while the client stays), kept to the `filters` `type`, `container`,
//! `image`, `label` and `event`; projects made after the stream began are
//! followed too, and a client that leaves ends its followers at once.

use crate::backend::Backend;
use crate::error::ApiError;
use crate::reply::Reply;
use crate::request::Request;
use crate::router::Handler;
use hyper::Method;
use serde_json::{json, Value};
use std::io::Write;
use wharf_engine::events::{ContainerEvent, EventFilter};

/// The handler for `method` on `path`, if this module serves it.
pub fn route(method: &Method, path: &[&str]) -> Option<Handler> {
    match (method, path) {
        (&Method::GET, ["events"]) => Some(events),
        _ => None,
    }
}

/// Which events a client asked for.
#[derive(Debug, Default)]
struct Selection {
    types: Vec<String>,
    containers: Vec<String>,
    images: Vec<String>,
    labels: Vec<String>,
    actions: Vec<String>,
}

impl Selection {
    fn from_filters(filters: &crate::query::Filters) -> Result<Self, ApiError> {
        let mut selection = Selection::default();
        for (key, values) in filters {
            let list = match key.as_str() {
                "type" => &mut selection.types,
                "container" => &mut selection.containers,
                "image" => &mut selection.images,
                "label" => &mut selection.labels,
                "event" => &mut selection.actions,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "invalid filter {other:?}: wharf filters events on type, container, image, label and event"
                    )))
                }
            };
            list.extend(values.iter().cloned());
        }
        Ok(selection)
    }

    fn keeps(&self, event: &ContainerEvent) -> bool {
        let attribute = |key: &str| event.attributes.get(key).map(String::as_str).unwrap_or("");
        let any = |wanted: &[String], test: &dyn Fn(&str) -> bool| {
            wanted.is_empty() || wanted.iter().any(|w| test(w))
        };
        any(&self.types, &|t| t == "container")
            && any(&self.containers, &|c| {
                event.id.starts_with(c) || attribute("name") == c
            })
            && any(&self.images, &|i| attribute("image") == i)
            && any(&self.labels, &|l| match l.split_once('=') {
                Some((k, v)) => attribute(k) == v,
                None => event.attributes.contains_key(l),
            })
            && any(&self.actions, &|a| {
                event.action == a || event.action.split(':').next() == Some(a)
            })
    }
}

/// docker's event message for one container event.
pub fn message(event: &ContainerEvent) -> Value {
    json!({
        "Type": "container",
        "Action": event.action,
        "Actor": { "ID": event.id, "Attributes": event.attributes },
        "scope": "local",
        "time": event.time_ns.div_euclid(1_000_000_000),
        "timeNano": event.time_ns,
        "status": event.action,
        "id": event.id,
        "from": event.attributes.get("image").cloned().unwrap_or_default(),
    })
}

fn time_param(request: &Request, name: &'static str) -> Result<Option<i64>, ApiError> {
    request
        .query
        .get(name)
        .filter(|v| !v.is_empty())
        .map(|v| {
            wharf_units::calendar::parse_time(v, wharf_units::calendar::now_ns()).ok_or_else(|| {
                ApiError::bad_request(format!(
                    "{name} {v:?}: give a Unix timestamp, an RFC 3339 time or a duration ago"
                ))
            })
        })
        .transpose()
}

fn events(backend: &Backend, request: Request) -> Result<Reply, ApiError> {
    let selection = Selection::from_filters(&request.query.filters()?)?;
    let filter = EventFilter {
        since_ns: time_param(&request, "since")?,
        until_ns: time_param(&request, "until")?,
        follow: true,
    };
    let root = backend.root.clone();
    Ok(Reply::stream("application/json", move |out| {
        let mut failed = None;
        // Asked while no event comes: a client that left ends the stream
        // (and its threads) without waiting for the next event to fail.
        let out = std::cell::RefCell::new(out);
        let client_here = || !out.borrow().is_closed();
        let result =
            wharf_engine::events::read_host_events(&root, &filter, &client_here, &mut |event| {
                if !selection.keeps(&event) {
                    return true;
                }
                let mut line = message(&event).to_string();
                line.push('\n');
                match out.borrow_mut().write_all(line.as_bytes()) {
                    Ok(()) => true,
                    Err(e) => {
                        failed = Some(e);
                        false
                    }
                }
            });
        match (failed, result) {
            (Some(e), _) => Err(e),
            (None, Err(e)) => Err(std::io::Error::other(e)),
            (None, Ok(())) => Ok(()),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn died() -> ContainerEvent {
        ContainerEvent {
            time_ns: 1_700_000_000_500_000_000,
            action: "die".into(),
            id: "3f2e9a".into(),
            service: String::new(),
            attributes: BTreeMap::from([
                ("name".into(), "web".into()),
                ("image".into(), "busybox".into()),
                ("exitCode".into(), "3".into()),
            ]),
        }
    }

    #[test]
    fn messages_carry_dockers_fields() {
        let m = message(&died());
        assert_eq!(m["Type"], "container");
        assert_eq!(m["Action"], "die");
        assert_eq!(m["Actor"]["ID"], "3f2e9a");
        assert_eq!(m["Actor"]["Attributes"]["exitCode"], "3");
        assert_eq!(m["time"], 1_700_000_000);
        assert_eq!(m["timeNano"], 1_700_000_000_500_000_000i64);
    }

    #[test]
    fn filters_keep_what_was_asked_for() {
        let select = |json: &str| {
            Selection::from_filters(&crate::query::parse_filters(json).unwrap()).unwrap()
        };
        assert!(select(r#"{"event":["die"],"container":["web"]}"#).keeps(&died()));
        assert!(select(r#"{"container":["3f2e"]}"#).keeps(&died()));
        assert!(!select(r#"{"event":["start"]}"#).keeps(&died()));
        assert!(!select(r#"{"type":["network"]}"#).keeps(&died()));
        assert!(select(r#"{"image":["busybox"],"type":["container"]}"#).keeps(&died()));
        assert!(Selection::from_filters(
            &crate::query::parse_filters(r#"{"bogus":["x"]}"#).unwrap()
        )
        .is_err());
    }
}
