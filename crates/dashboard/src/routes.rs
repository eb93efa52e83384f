//! Which handler answers which request, after the checks every request
//! passes: a known Host, the token when one is set, POST with CSRF.

use crate::http::{Request, Response};
use crate::server::Dashboard;
use crate::{actions, collect, metrics, objects, pages, project};
use std::collections::BTreeMap;
use wharf_app::filters::Filters;

/// `POST /projects/<name>/deploy`: the edited Compose file, redeployed.
fn deploy(d: &Dashboard, name: &str, request: &Request) -> Response {
    let Some(deployer) = &d.deploy else {
        return Response::text(404, "this server does not redeploy projects\n");
    };
    let Some(text) = request.form().remove("compose") else {
        return Response::text(400, "the form has no `compose` field\n");
    };
    match project::redeploy(d.engine.as_ref(), deployer, name, &text) {
        Ok(lines) => Response::html(200, pages::deployed(name, &lines, None)),
        Err(why) => Response::html(400, pages::deployed(name, &[], Some(&why))),
    }
}

/// `POST /projects/<name>/preview`: what deploying the edit would do.
fn preview(d: &Dashboard, name: &str, request: &Request) -> Response {
    if d.deploy.is_none() {
        return Response::text(404, "this server does not redeploy projects\n");
    }
    let Some(text) = request.form().remove("compose") else {
        return Response::text(400, "the form has no `compose` field\n");
    };
    let result = project::preview(d.engine.as_ref(), name, &text);
    let status = if result.is_ok() { 200 } else { 400 };
    Response::html(
        status,
        pages::preview(name, &text, &result, d.access.csrf_token()),
    )
}

/// Each volume's size, from the host views when there are some.
fn volume_sizes(d: &Dashboard) -> BTreeMap<String, u64> {
    d.host
        .as_ref()
        .and_then(|host| host.volume_sizes().ok())
        .unwrap_or_default()
}

/// `POST /volumes/prune` (`all=1`: every unused volume, not only anonymous
/// ones) and `POST /networks/prune`, by the core's rules, those of `wharf
/// volume prune` and `wharf network prune`.
fn prune(d: &Dashboard, path: &str, request: &Request) -> Option<Response> {
    let every = Filters::default();
    let (kind, back, result) = match path {
        "/volumes/prune" => {
            let all = request.form().get("all").is_some_and(|v| v == "1");
            let pruned = wharf_app::volumes::prune(d.engine.as_ref(), all, &every).map(|report| {
                let sizes = volume_sizes(d);
                objects::Pruned {
                    reclaimed: report.removed.iter().filter_map(|n| sizes.get(n)).sum(),
                    failures: report.failures.iter().map(ToString::to_string).collect(),
                    removed: report.removed,
                }
            });
            ("Volumes", "/volumes", pruned)
        }
        "/networks/prune" => {
            let pruned = wharf_app::networks::prune(d.engine.as_ref(), &every).map(|report| {
                objects::Pruned {
                    failures: report.failures.iter().map(ToString::to_string).collect(),
                    removed: report.removed,
                    ..Default::default()
                }
            });
            ("Networks", "/networks", pruned)
        }
        _ => return None,
    };
    Some(match result {
        Ok(pruned) => Response::html(200, objects::pruned(kind, back, &pruned)),
        Err(error) => Response::text(500, format!("prune: {}\n", wharf_app::error_chain(&error))),
    })
}

pub fn respond(d: &Dashboard, request: &Request) -> Response {
    if !d.access.host_allowed(request) {
        return Response::text(403, "this server answers to localhost names only\n");
    }
    let path = request.path.as_str();
    let post = match request.method.as_str() {
        "GET" | "HEAD" => false,
        "POST" => true,
        _ => return Response::text(405, "only GET and POST\n").with_header("Allow", "GET, POST"),
    };
    if path == "/login" && post {
        if let Err(why) = d.access.check_post_origin(request) {
            return Response::text(403, format!("{why}\n"));
        }
        let token = request.form().remove("token").unwrap_or_default();
        return if d.access.login(&token) {
            Response::see_other("/").with_header("Set-Cookie", &d.access.session_cookie())
        } else {
            Response::html(401, pages::login(true))
        };
    }
    if !d.access.authorized(request) {
        return if path == "/metrics" || path.ends_with("/logs") {
            Response::text(
                401,
                "401 Unauthorized: send the token as `Authorization: Bearer TOKEN`\n",
            )
            .with_header("WWW-Authenticate", "Bearer")
        } else {
            Response::html(401, pages::login(false))
        };
    }
    if post {
        if let Err(why) = d.access.check_post(request) {
            return Response::text(403, format!("{why}\n"));
        }
        match path
            .trim_matches('/')
            .split('/')
            .collect::<Vec<_>>()
            .as_slice()
        {
            ["projects", name, "deploy"] => return deploy(d, name, request),
            ["projects", name, "preview"] => return preview(d, name, request),
            _ => {}
        }
        if let Some(response) = prune(d, path, request) {
            return response;
        }
        if path == "/system/prune" {
            return match &d.host {
                Some(host) => match host.prune_images() {
                    Ok(()) => Response::see_other("/system"),
                    Err(why) => Response::text(500, format!("prune: {why}\n")),
                },
                None => Response::text(404, "not found\n"),
            };
        }
        return actions::perform(d, path);
    }
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    match segments.as_slice() {
        [""] => match collect::list_all(d.engine.as_ref()) {
            Ok(all) => Response::html(
                200,
                pages::overview(&all, &d.history, d.access.csrf_token()),
            ),
            Err(e) => Response::text(500, format!("{e}\n")),
        },
        ["metrics"] => match collect::read_all(d.engine.as_ref()) {
            Ok((all, readings)) => {
                Response::new(200, metrics::CONTENT_TYPE, metrics::render(&readings, &all))
            }
            Err(e) => Response::text(500, format!("{e}\n")),
        },
        ["containers", id] => match d.engine.inspect_container(id) {
            Ok(c) => Response::html(
                200,
                pages::container(d.engine.as_ref(), &c, &d.history, d.access.csrf_token()),
            ),
            Err(_) => Response::text(404, format!("no such container: {id}\n")),
        },
        ["projects", name] => match project::compose_files(d.engine.as_ref(), name) {
            Ok(files) => Response::html(
                200,
                pages::project(name, &files, d.deploy.is_some(), d.access.csrf_token()),
            ),
            Err(why) => Response::text(404, format!("{why}\n")),
        },
        ["projects", name, "events"] => match &d.host {
            Some(host) => match host.events(name, pages::EVENTS_SHOWN) {
                Ok(events) => Response::html(200, pages::events(name, &events)),
                Err(why) => Response::text(500, format!("{why}\n")),
            },
            None => Response::text(404, "not found\n"),
        },
        ["volumes"] => match d.engine.list_volumes(&[]) {
            Ok(list) => Response::html(
                200,
                objects::volumes(&list, &volume_sizes(d), d.access.csrf_token()),
            ),
            Err(e) => Response::text(500, format!("cannot list the volumes: {e}\n")),
        },
        ["networks"] => match (
            d.engine.list_networks(&[]),
            collect::list_all(d.engine.as_ref()),
        ) {
            (Ok(list), Ok(containers)) => Response::html(
                200,
                objects::networks(&list, &containers, d.access.csrf_token()),
            ),
            (Err(e), _) => Response::text(500, format!("cannot list the networks: {e}\n")),
            (_, Err(e)) => Response::text(500, format!("{e}\n")),
        },
        ["system"] => match &d.host {
            Some(host) => match host.disk_usage() {
                Ok(rows) => Response::html(200, pages::system(&rows, d.access.csrf_token())),
                Err(why) => Response::text(500, format!("{why}\n")),
            },
            None => Response::text(404, "not found\n"),
        },
        ["containers", id, "logs"] => match d.engine.inspect_container(id) {
            Ok(c) => Response::text(200, pages::log_tail(d.engine.as_ref(), &c.id)),
            Err(_) => Response::text(404, format!("no such container: {id}\n")),
        },
        _ => Response::text(404, "not found\n"),
    }
}
