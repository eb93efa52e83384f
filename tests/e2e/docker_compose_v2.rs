//! docker compose v2 (Debian 13's Go build, run as the docker CLI's plugin)
//! brings a project up and down through `wharf system service`: published
//! port, named volume, a healthcheck gating `depends_on`, and its `ps`,
//! `logs`, `exec`, `run`, `stop`, `start` and `down -v`, with wharf's own
//! listings showing the same containers.
//!
//! The plugin comes from scripts/install-deps.sh; without it (the package
//! could not be fetched) the test is skipped, except in CI.

use crate::docker_api::{docker_cli, Docker, Service};
use crate::harness::{eventually, http_get, sandboxed};
use std::path::PathBuf;
use std::time::Duration;

const COMPOSE_V2_PLUGINS: &str = "/var/cache/wharf-dev/docker-compose-v2/cli-plugins";

/// The directory holding the `docker-compose` plugin, or None (after saying so).
fn compose_v2_plugins() -> Option<PathBuf> {
    let dir = PathBuf::from(COMPOSE_V2_PLUGINS);
    if dir.join("docker-compose").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "docker compose v2 is missing at {COMPOSE_V2_PLUGINS}: run scripts/install-deps.sh"
    );
    eprintln!(
        "skipped: docker compose v2 is not installed at {COMPOSE_V2_PLUGINS} (scripts/install-deps.sh could not fetch it)"
    );
    None
}

const PROJECT: &str = r#"services:
  db:
    image: busybox
    command: ["sh", "-c", "echo db-ready; touch /data/ready; exec sleep 300"]
    volumes: ["data:/data"]
    stop_grace_period: 1s
    healthcheck:
      test: ["CMD", "test", "-f", "/data/ready"]
      interval: 1s
      timeout: 2s
      retries: 30
  web:
    image: busybox
    command: ["sh", "-c", "mkdir -p /www; echo hello-from-v2 > /www/index.html; exec httpd -f -p 8080 -h /www"]
    ports: ["18082:8080"]
    stop_grace_period: 1s
    depends_on:
      db:
        condition: service_healthy
volumes:
  data: {}
"#;

/// `docker compose ps --format json`: one object a line (2.21 and later) or one array.
fn ps_entries(out: &str) -> Vec<serde_json::Value> {
    let trimmed = out.trim();
    if trimmed.starts_with('[') {
        return serde_json::from_str::<Vec<serde_json::Value>>(trimmed)
            .unwrap_or_else(|e| panic!("ps --format json: {e}: {out}"));
    }
    trimmed
        .lines()
        .map(|line| {
            serde_json::from_str(line).unwrap_or_else(|e| panic!("ps --format json: {e}: {line}"))
        })
        .collect()
}

fn state_of<'a>(entries: &'a [serde_json::Value], service: &str) -> Option<&'a str> {
    entries
        .iter()
        .find(|e| e["Service"] == service)
        .and_then(|e| e["State"].as_str())
}

#[test]
fn docker_compose_v2_runs_a_project_through_the_socket() {
    let Some(cli) = docker_cli() else { return };
    let Some(plugins) = compose_v2_plugins() else {
        return;
    };
    sandboxed(
        "docker_compose_v2::docker_compose_v2_runs_a_project_through_the_socket",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let project = s.project("v2shop", PROJECT);
            let config = project.join(".docker");
            std::fs::create_dir_all(&config).unwrap();
            std::os::unix::fs::symlink(&plugins, config.join("cli-plugins")).unwrap();
            let d = Docker {
                cli,
                service: &service,
                dir: &project,
            };
            let compose = |args: &[&str]| -> String {
                let mut full = vec!["compose", "-p", "v2shop", "-f", "compose.yaml"];
                full.extend_from_slice(args);
                d.ok(&full)
            };

            compose(&["up", "-d"]);
            let page = eventually("the published port", Duration::from_secs(20), || {
                http_get("127.0.0.1:18082", "/index.html")
            });
            assert!(page.contains("hello-from-v2"), "{page}");

            let entries = ps_entries(&compose(&["ps", "--format", "json"]));
            assert_eq!(entries.len(), 2, "{entries:?}");
            assert_eq!(state_of(&entries, "db"), Some("running"), "{entries:?}");
            assert_eq!(state_of(&entries, "web"), Some("running"), "{entries:?}");
            let db = entries.iter().find(|e| e["Service"] == "db").unwrap();
            assert_eq!(db["Health"], "healthy", "{db}");

            // The same containers, seen by wharf's own listings.
            let listed = s.ok(&project, &["ps", "--format", "{{.Service}} {{.State}}"]);
            assert!(listed.contains("db running"), "{listed}");
            assert!(listed.contains("web running"), "{listed}");
            // By project name alone, away from the Compose file, as the
            // docker personality's `docker compose -p NAME ps` does.
            let listed = s.ok(
                s.work.path(),
                &["-p", "v2shop", "ps", "--format", "{{.Name}}"],
            );
            assert!(listed.contains("v2shop-db-1"), "{listed}");
            assert!(listed.contains("v2shop-web-1"), "{listed}");

            let logs = compose(&["logs", "--no-color", "db"]);
            assert!(logs.contains("db-ready"), "{logs}");
            let exec = compose(&["exec", "-T", "web", "cat", "/www/index.html"]);
            assert_eq!(exec.trim(), "hello-from-v2");
            // Interactive, compose's default: stdin open, attached through
            // the monitor, which keeps what the short command printed before
            // the attach reached it.
            let one_off = compose(&["run", "--rm", "-T", "db", "echo", "one-off"]);
            assert!(one_off.contains("one-off"), "{one_off}");
            let quiet = compose(&[
                "run",
                "--rm",
                "-T",
                "--interactive=false",
                "db",
                "echo",
                "not-interactive",
            ]);
            assert!(quiet.contains("not-interactive"), "{quiet}");
            let all = ps_entries(&compose(&["ps", "-a", "--format", "json"]));
            assert_eq!(all.len(), 2, "the one-off container is gone: {all:?}");

            compose(&["stop"]);
            let stopped = ps_entries(&compose(&["ps", "-a", "--format", "json"]));
            assert_eq!(state_of(&stopped, "db"), Some("exited"), "{stopped:?}");
            assert_eq!(state_of(&stopped, "web"), Some("exited"), "{stopped:?}");
            compose(&["start"]);
            let page = eventually("the port after start", Duration::from_secs(20), || {
                http_get("127.0.0.1:18082", "/index.html")
            });
            assert!(page.contains("hello-from-v2"), "{page}");

            compose(&["down", "-v"]);
            assert!(d.ok(&["ps", "-a", "-q"]).trim().is_empty());
            let volumes = s.ok(&project, &["volume", "ls", "-q"]);
            assert!(!volumes.contains("v2shop_data"), "{volumes}");
            let networks = s.ok(&project, &["network", "ls"]);
            assert!(!networks.contains("v2shop_default"), "{networks}");
        },
    );
}
