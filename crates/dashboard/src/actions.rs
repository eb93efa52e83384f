//! What the dashboard's buttons do: a container's start, stop, restart and
//! removal through the engine, a project's start, stop, restart and `down`
//! through the application core, as the CLI's commands do them.

use crate::http::Response;
use crate::server::Dashboard;
use wharf_app::containers::{lifecycle, Lifecycle, Scope};
use wharf_app::{Event, Reporter};
use wharf_engine_api::labels;
use wharf_orchestrator::DownOptions;

/// The buttons answer with a redirect, not a progress display.
struct Quiet;

impl Reporter for Quiet {
    fn report(&self, _event: Event) {}
}

pub fn perform(d: &Dashboard, path: &str) -> Response {
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let engine = d.engine.as_ref();
    let result = match segments.as_slice() {
        ["containers", id, verb] => {
            let Ok(c) = engine.inspect_container(id) else {
                return Response::text(404, format!("no such container: {id}\n"));
            };
            let done = match *verb {
                "start" => engine.start_container(&c.id),
                "stop" => engine.stop_container(&c.id, None),
                "restart" => engine
                    .stop_container(&c.id, None)
                    .and_then(|()| engine.start_container(&c.id)),
                "remove" => engine.remove_container(&c.id, false),
                _ => return Response::text(404, format!("no action {verb:?} for containers\n")),
            };
            let back = if *verb == "remove" {
                "/".to_string()
            } else {
                format!("/containers/{}", c.id)
            };
            done.map(|()| back)
                .map_err(|e| format!("{verb} {}: {e}", c.name))
        }
        ["projects", name, verb] => {
            let known = engine
                .list_containers(&[(labels::PROJECT, name)])
                .map(|c| !c.is_empty())
                .unwrap_or(false);
            if !known {
                return Response::text(404, format!("no such project: {name}\n"));
            }
            let operation = match *verb {
                "start" => Lifecycle::Start,
                "stop" => Lifecycle::Stop { timeout: None },
                "restart" => Lifecycle::Restart { timeout: None },
                "down" => {
                    // `down` without the Compose file: the project's
                    // containers and networks, found by their labels.
                    let done = wharf_orchestrator::down_reporting(
                        engine,
                        name,
                        None,
                        &DownOptions::default(),
                        &|_| {},
                        &|_| {},
                    );
                    return match done {
                        Ok(_) => Response::see_other("/"),
                        Err(e) => Response::text(500, format!("down {name}: {e}\n")),
                    };
                }
                _ => return Response::text(404, format!("no action {verb:?} for projects\n")),
            };
            let scope = Scope {
                name,
                project: None,
                services: &[],
            };
            lifecycle(engine, &scope, operation, &Quiet)
                .map(|()| "/".to_string())
                .map_err(|e| format!("{verb} {name}: {}", wharf_app::error_chain(&e)))
        }
        _ => return Response::text(404, "not found\n"),
    };
    match result {
        Ok(back) => Response::see_other(&back),
        Err(why) => Response::text(500, format!("{why}\n")),
    }
}
