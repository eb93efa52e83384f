//! The dashboard served by `wharf system service --dashboard` beside the
//! Engine API: both answer from one process, the docker CLI works on the
//! API's socket, the process outlives its idle timeout while either front
//! has a connection open and ends when both are idle, and under socket
//! activation the two passed sockets are told apart by name.

use crate::harness::docker::{api_socket, docker_cli, docker_cli_command, ping, Service};
use crate::harness::{eventually, http_get, sandboxed};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const DASHBOARD: &str = "127.0.0.1:9324";

#[test]
fn one_process_serves_the_api_and_the_dashboard_until_both_are_idle() {
    sandboxed(
        "dashboard_service::one_process_serves_the_api_and_the_dashboard_until_both_are_idle",
        |s| {
            let socket = api_socket(s);
            let mut service =
                Service::spawn(s, &socket, &["--timeout", "1", "--dashboard", DASHBOARD]);
            let metrics = eventually("the dashboard's metrics", Duration::from_secs(20), || {
                http_get(DASHBOARD, "/metrics").filter(|r| r.starts_with("HTTP/1.1 200"))
            });
            assert!(
                metrics.contains("wharf_containers{state=\"running\"} 0"),
                "{metrics}"
            );
            let overview = http_get(DASHBOARD, "/").unwrap();
            assert!(overview.starts_with("HTTP/1.1 200"), "{overview}");
            assert!(overview.contains("<html"), "{overview}");
            let pong = ping(&socket).expect("the API answers on its socket");
            assert!(pong.starts_with("HTTP/1.1 200"), "{pong}");
            if let Some(cli) = docker_cli() {
                let out = docker_cli_command(&cli, &socket, s.work.path())
                    .args(["ps", "--all", "--format", "{{.Names}}"])
                    .output()
                    .expect("running docker");
                assert!(
                    out.status.success(),
                    "docker ps: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }

            // A dashboard connection held open keeps the process past the
            // timeout, though the API has none.
            let held = TcpStream::connect(DASHBOARD).unwrap();
            std::thread::sleep(Duration::from_millis(2500));
            assert!(
                service.ended().is_none(),
                "ended with a dashboard connection open"
            );
            drop(held);
            // And an API connection, though the dashboard has none.
            let held = UnixStream::connect(&socket).unwrap();
            std::thread::sleep(Duration::from_millis(2500));
            assert!(
                service.ended().is_none(),
                "ended with an API connection open"
            );
            drop(held);

            let status = service.wait_for_idle_exit();
            assert!(status.success(), "{status}");
            assert!(!socket.exists(), "the API's socket file is left");
            assert!(
                TcpStream::connect(DASHBOARD).is_err(),
                "the dashboard still listens"
            );
        },
    );
}

#[test]
fn the_dashboard_of_the_service_keeps_the_token_rules() {
    sandboxed(
        "dashboard_service::the_dashboard_of_the_service_keeps_the_token_rules",
        |s| {
            let socket = api_socket(s);
            let out = s.wharf(
                s.work.path(),
                &[
                    "system",
                    "service",
                    "--dashboard",
                    "0.0.0.0:9325",
                    &format!("unix://{}", socket.display()),
                ],
            );
            assert_eq!(out.status.code(), Some(1));
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("not a loopback address") && stderr.contains("--token-file"),
                "{stderr}"
            );
            assert!(
                !socket.exists(),
                "the API's socket was made despite the refusal"
            );

            let token_file = s.work.path().join("token");
            std::fs::write(&token_file, "s3cret\n").unwrap();
            let token_arg = token_file.display().to_string();
            let _service = Service::spawn(
                s,
                &socket,
                &[
                    "--timeout",
                    "0",
                    "--dashboard",
                    "0.0.0.0:9325",
                    "--token-file",
                    &token_arg,
                ],
            );
            let refused = eventually("the dashboard to answer", Duration::from_secs(20), || {
                http_get("127.0.0.1:9325", "/")
            });
            assert!(refused.starts_with("HTTP/1.1 401"), "{refused}");
            let mut stream = TcpStream::connect("127.0.0.1:9325").unwrap();
            write!(
                stream,
                "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:9325\r\nAuthorization: Bearer s3cret\r\n\r\n"
            )
            .unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        },
    );
}

#[test]
fn socket_activation_passes_both_sockets_told_apart_by_name() {
    let activate = Path::new("/usr/bin/systemd-socket-activate");
    if !activate.exists() {
        assert!(
            std::env::var_os("CI").is_none(),
            "systemd-socket-activate is missing (package systemd)"
        );
        eprintln!("skipped: systemd-socket-activate is not installed (package systemd)");
        return;
    }
    sandboxed(
        "dashboard_service::socket_activation_passes_both_sockets_told_apart_by_name",
        |s| {
            // The dashboard's socket is passed first, so that only its name,
            // not its place, makes it the dashboard's.
            let socket = s.work.path().join("activated.sock");
            let ignored = s.work.path().join("ignored.sock");
            let child = Command::new(activate)
                .args(["-l", DASHBOARD, "-l"])
                .arg(&socket)
                .arg("--fdname=dashboard:wharf.socket")
                .arg(env!("CARGO_BIN_EXE_wharf"))
                .args(["system", "service", "--timeout", "1"])
                .arg(format!("unix://{}", ignored.display()))
                .env("WHARF_ROOT", s.root.path())
                .stderr(Stdio::null())
                .spawn()
                .expect("running systemd-socket-activate");
            let mut service = Service {
                child,
                socket: socket.clone(),
            };
            // The first connection, to the dashboard, starts the service.
            let metrics = eventually("the activated dashboard", Duration::from_secs(20), || {
                http_get(DASHBOARD, "/metrics").filter(|r| r.starts_with("HTTP/1.1 200"))
            });
            assert!(metrics.contains("wharf_containers{"), "{metrics}");
            let pong = eventually("the activated API", Duration::from_secs(10), || {
                ping(&socket)
            });
            assert!(pong.starts_with("HTTP/1.1 200"), "{pong}");
            assert!(
                pong.to_ascii_lowercase().contains("api-version: 1.47"),
                "{pong}"
            );
            let status = service.wait_for_idle_exit();
            assert!(status.success(), "{status}");
            assert!(
                !ignored.exists(),
                "the URI was bound despite the passed socket"
            );
        },
    );
}
