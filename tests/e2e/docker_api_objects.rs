//! Images, volumes, networks, disk usage and events through the Engine API,
//! driven by the real docker CLI against `wharf system service`: what the
//! CLI makes through the socket is read back through wharf's own listings,
//! and images go to and come back from a registry on 127.0.0.1. docker-py
//! (Debian's python3-docker) runs `scripts/docker_py_objects.py`.

use crate::docker_api::{docker_cli, Docker, Service};
use crate::harness::{eventually, sandboxed};
use wharf_testkit::registry::{RegistryAuth, TestRegistry};

#[test]
fn volumes_and_networks_made_through_the_socket_are_wharfs() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_objects::volumes_and_networks_made_through_the_socket_are_wharfs",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let dir = s.work.path();
            let docker = Docker {
                cli,
                service: &service,
                dir,
            };
            // Volumes: create, list (with a filter), inspect, remove, prune.
            assert_eq!(
                docker
                    .ok(&["volume", "create", "--label", "team=a", "api_data"])
                    .trim(),
                "api_data"
            );
            assert!(s.ok(dir, &["volume", "ls", "-q"]).contains("api_data"));
            let listed = docker.ok(&["volume", "ls", "--filter", "label=team=a", "-q"]);
            assert_eq!(listed.trim(), "api_data");
            let mountpoint = docker.ok(&["volume", "inspect", "-f", "{{.Mountpoint}}", "api_data"]);
            assert!(mountpoint.trim().starts_with('/'), "{mountpoint}");
            docker.ok(&["volume", "rm", "api_data"]);
            assert!(!s.ok(dir, &["volume", "ls", "-q"]).contains("api_data"));
            docker.ok(&["volume", "create", "api_unused"]);
            // The CLI speaks an API before 1.42, where a prune takes named volumes too.
            let pruned = docker.ok(&["volume", "prune", "-f"]);
            assert!(pruned.contains("api_unused"), "{pruned}");
            assert!(s.ok(dir, &["volume", "ls", "-q"]).trim().is_empty());
            let missing = docker.run(&["volume", "inspect", "nope"]);
            assert!(!missing.status.success());

            // Networks: create with a subnet, connect a container, list, disconnect, remove.
            docker.ok(&[
                "network",
                "create",
                "--subnet",
                "10.91.0.0/24",
                "--label",
                "team=a",
                "api_net",
            ]);
            let subnet = s.ok(
                dir,
                &[
                    "network",
                    "inspect",
                    "-f",
                    "{{(index .IPAM.Config 0).Subnet}}",
                    "api_net",
                ],
            );
            assert_eq!(subnet.trim(), "10.91.0.0/24");
            docker.ok(&["run", "-d", "--name", "api_box", "busybox", "sleep", "300"]);
            docker.ok(&[
                "network", "connect", "--alias", "boxy", "api_net", "api_box",
            ]);
            let attached = docker.ok(&[
                "network",
                "inspect",
                "-f",
                "{{range .Containers}}{{.Name}} {{.IPv4Address}}{{end}}",
                "api_net",
            ]);
            assert!(attached.starts_with("api_box 10.91.0."), "{attached}");
            let names = docker.ok(&[
                "network",
                "ls",
                "--filter",
                "label=team=a",
                "--format",
                "{{.Name}}",
            ]);
            assert_eq!(names.trim(), "api_net");
            let refused = docker.run(&["network", "create", "--driver", "overlay", "api_overlay"]);
            assert!(!refused.status.success());
            assert!(
                String::from_utf8_lossy(&refused.stderr).contains("bridge networks only"),
                "{refused:?}"
            );
            docker.ok(&["network", "disconnect", "api_net", "api_box"]);
            docker.ok(&["rm", "-f", "api_box"]);
            docker.ok(&["network", "rm", "api_net"]);
            assert!(!s.ok(dir, &["network", "ls"]).contains("api_net"));
            docker.ok(&["network", "create", "api_idle"]);
            docker.ok(&["network", "prune", "-f"]);
            assert!(!s.ok(dir, &["network", "ls"]).contains("api_idle"));
        },
    );
}

#[test]
fn images_go_through_a_registry_an_archive_and_the_event_stream() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_objects::images_go_through_a_registry_an_archive_and_the_event_stream",
        |s| {
            let Some(registry) = TestRegistry::start(RegistryAuth::Open) else {
                return;
            };
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let dir = s.work.path();
            let docker = Docker {
                cli,
                service: &service,
                dir,
            };
            let since = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs();
            let remote = format!("{}/api/box:v1", registry.host());
            docker.ok(&["tag", "busybox:latest", &remote]);
            assert!(s.ok(dir, &["image", "ls"]).contains("api/box"));
            let pushed = docker.ok(&["push", &remote]);
            assert!(pushed.contains("v1: digest: sha256:"), "{pushed}");
            let removed = docker.ok(&["rmi", &remote]);
            assert!(
                removed.contains(&format!("Untagged: {remote}")),
                "{removed}"
            );
            let pulled = docker.ok(&["pull", &remote]);
            assert!(
                pulled.contains("Downloaded newer image") || pulled.contains("Image is up to date"),
                "{pulled}"
            );
            let listed = docker.ok(&[
                "images",
                "--filter",
                "reference=*/api/box",
                "--format",
                "{{.Repository}}:{{.Tag}}",
            ]);
            assert_eq!(listed.trim(), remote);
            let id = docker.ok(&["image", "inspect", "-f", "{{.Id}}", &remote]);
            assert!(id.trim().starts_with("sha256:"), "{id}");
            let missing = docker.run(&["image", "inspect", "nothing:here"]);
            assert!(!missing.status.success());

            // save | load into the store again.
            let archive = dir.join("box.tar");
            docker.ok(&["save", "-o", archive.to_str().unwrap(), &remote]);
            docker.ok(&["rmi", &remote]);
            let loaded = docker.ok(&["load", "-i", archive.to_str().unwrap()]);
            assert!(loaded.contains("Loaded image"), "{loaded}");
            assert!(s.ok(dir, &["image", "ls"]).contains("api/box"));

            // The classic builder, as docker's CLI asks for it without BuildKit.
            let context = dir.join("context");
            std::fs::create_dir_all(&context).unwrap();
            std::fs::write(
                context.join("Dockerfile"),
                "FROM busybox\nARG WHO=nobody\nRUN echo hello $WHO > /greeting\nCMD [\"cat\", \"/greeting\"]\n",
            )
            .unwrap();
            let built = docker
                .command(&[
                    "build",
                    "--build-arg",
                    "WHO=api",
                    "-t",
                    "built:v1",
                    "context",
                ])
                .env("DOCKER_BUILDKIT", "0")
                .output()
                .unwrap();
            let build_out = String::from_utf8_lossy(&built.stdout);
            assert!(built.status.success(), "{built:?}");
            assert!(build_out.contains("Step 1/"), "{build_out}");
            assert!(
                build_out.contains("Successfully tagged built:v1"),
                "{build_out}"
            );
            assert_eq!(docker.ok(&["run", "--rm", "built:v1"]).trim(), "hello api");
            let buildkit = docker
                .command(&["build", "-t", "kit:v1", "context"])
                .env("DOCKER_BUILDKIT", "1")
                .output()
                .unwrap();
            assert!(!buildkit.status.success(), "{buildkit:?}");

            // Disk usage and events.
            docker.ok(&["run", "--name", "api_once", "busybox", "true"]);
            let df = docker.ok(&["system", "df", "--format", "{{.Type}}={{.TotalCount}}"]);
            assert!(df.contains("Containers=1"), "{df}");
            // Until a moment from now: the stream ends once it has passed.
            let until = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 2;
            let events = docker.ok(&[
                "events",
                "--since",
                &since.to_string(),
                "--until",
                &until.to_string(),
                "--filter",
                "container=api_once",
                "--format",
                "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}",
            ]);
            let lines: Vec<&str> = events.lines().collect();
            assert!(lines.contains(&"container create api_once"), "{events}");
            assert!(lines.contains(&"container die api_once"), "{events}");
            docker.ok(&["rm", "api_once"]);
            drop(registry);
        },
    );
}

/// Debian's python3 with python3-docker, or None (after saying so).
fn python_with_docker_py() -> Option<&'static str> {
    let python = "/usr/bin/python3";
    let found = std::process::Command::new(python)
        .args(["-c", "import docker"])
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(python);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "python3-docker is missing: run scripts/install-deps.sh"
    );
    eprintln!("skipped: python3-docker is not installed (scripts/install-deps.sh)");
    None
}

#[test]
fn docker_py_drives_images_volumes_networks_containers_exec_logs_and_stats() {
    let Some(python) = python_with_docker_py() else {
        return;
    };
    sandboxed(
        "docker_api_objects::docker_py_drives_images_volumes_networks_containers_exec_logs_and_stats",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/e2e/scripts/docker_py_objects.py");
            let out = std::process::Command::new(python)
                .arg(&script)
                .arg(format!("unix://{}", service.socket.display()))
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "docker-py script failed:\nstdout: {}\nstderr: {}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(String::from_utf8_lossy(&out.stdout).contains("docker-py ok"));
            let dir = s.work.path();
            assert!(!s.ok(dir, &["volume", "ls", "-q"]).contains("py_data"));
            assert!(!s.ok(dir, &["network", "ls"]).contains("py_net"));
        },
    );
}

const COMPOSE_FILE: &str = r#"version: "3.8"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo hello-from-web > /www/index.html; httpd -f -p 8080 -h /www"]
    ports: ["18080:8080"]
    volumes: ["www:/www"]
    networks: [back]
  worker:
    image: busybox
    command: ["sleep", "300"]
    networks: [back]
networks:
  back: {}
volumes:
  www: {}
"#;

#[test]
fn docker_compose_1_29_brings_a_project_up_and_down_through_the_socket() {
    let compose = std::path::Path::new("/usr/bin/docker-compose");
    if !compose.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "docker-compose is missing: run scripts/install-deps.sh"
        );
        eprintln!("skipped: docker-compose is not installed (scripts/install-deps.sh)");
        return;
    }
    sandboxed(
        "docker_api_objects::docker_compose_1_29_brings_a_project_up_and_down_through_the_socket",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let project = s.work.path().join("shop");
            std::fs::create_dir_all(&project).unwrap();
            std::fs::write(project.join("docker-compose.yml"), COMPOSE_FILE).unwrap();
            let run = |args: &[&str]| {
                let out = std::process::Command::new(compose)
                    .args(args)
                    .current_dir(&project)
                    .env(
                        "DOCKER_HOST",
                        format!("unix://{}", service.socket.display()),
                    )
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "docker-compose {args:?} failed:\n{}",
                    String::from_utf8_lossy(&out.stderr)
                );
            };
            run(&["up", "-d"]);
            let page = eventually(
                "the published port",
                std::time::Duration::from_secs(20),
                || {
                    let out = std::process::Command::new("curl")
                        .args(["-sf", "http://127.0.0.1:18080/index.html"])
                        .output()
                        .ok()?;
                    out.status
                        .success()
                        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
                },
            );
            assert_eq!(page.trim(), "hello-from-web");
            let listed = s.ok(&project, &["ps", "--format", "{{.Service}} {{.State}}"]);
            assert!(listed.contains("web running"), "{listed}");
            assert!(listed.contains("worker running"), "{listed}");
            let labels = s.ok(
                &project,
                &[
                    "container",
                    "inspect",
                    "-f",
                    "{{index .Config.Labels \"com.docker.compose.project\"}}",
                    "shop_web_1",
                ],
            );
            assert_eq!(labels.trim(), "shop");
            run(&["down"]);
            assert!(s.ok(&project, &["ps", "-a", "-q"]).trim().is_empty());
            assert!(!s.ok(&project, &["network", "ls"]).contains("shop_back"));
        },
    );
}
