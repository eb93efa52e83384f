//! `wharf search` against registries on 127.0.0.1: the test registry's
//! catalog, one that asks for credentials, and a small server of our own for
//! `Link` paging and a registry without a catalog.

use crate::harness::{sandboxed, Sandbox};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use wharf_testkit::registry::{RegistryAuth, TestRegistry};

fn search(s: &Sandbox, args: &[&str]) -> std::process::Output {
    let mut all = vec!["search"];
    all.extend_from_slice(args);
    s.wharf(s.work.path(), &all)
}

fn stdout(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "search failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr_of_failure(out: &std::process::Output) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(1), "search should fail: {err}");
    assert!(!err.contains("panicked"), "{err}");
    err
}

#[test]
fn search_lists_the_catalog_in_dockers_columns() {
    sandboxed("search::search_lists_the_catalog_in_dockers_columns", |s| {
        let Some(registry) = TestRegistry::start(RegistryAuth::Open) else {
            return;
        };
        s.import_busybox();
        let host = registry.host();
        for repo in ["e2e/busybox", "e2e/tools", "other/app"] {
            let reference = format!("{host}/{repo}:v1");
            s.ok(s.work.path(), &["image", "tag", "busybox", &reference]);
            s.ok(s.work.path(), &["image", "push", &reference]);
        }

        let table = stdout(&search(s, &[&format!("{host}/e2e")]));
        let lines: Vec<&str> = table.lines().collect();
        assert!(lines[0].starts_with("NAME"), "{table}");
        assert!(
            lines[0].contains("DESCRIPTION   STARS     OFFICIAL"),
            "{table}"
        );
        let names: Vec<&str> = lines[1..]
            .iter()
            .map(|l| l.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            names,
            [format!("{host}/e2e/busybox"), format!("{host}/e2e/tools")],
            "{table}"
        );
        assert!(lines[1].split_whitespace().nth(1) == Some("0"), "{table}");

        let one = stdout(&search(
            s,
            &[
                "--limit",
                "1",
                "--format",
                "{{.Name}}",
                &format!("{host}/e2e"),
            ],
        ));
        assert_eq!(one, format!("{host}/e2e/busybox\n"));
        let json = stdout(&search(s, &["--format", "json", &format!("{host}/APP")]));
        let row: serde_json::Value = serde_json::from_str(json.trim()).unwrap();
        assert_eq!(row["Name"], format!("{host}/other/app"));
        assert_eq!(row["StarCount"], "0");
        let none = stdout(&search(
            s,
            &["--filter", "is-official=true", &format!("{host}/e2e")],
        ));
        assert_eq!(none.lines().count(), 1, "only the header: {none}");

        let err = stderr_of_failure(&search(s, &["--limit", "0", &host]));
        assert!(err.contains("--limit 0"), "{err}");
    });
}

#[test]
fn search_explains_a_registry_that_wants_a_login() {
    sandboxed(
        "search::search_explains_a_registry_that_wants_a_login",
        |s| {
            let Some(registry) = TestRegistry::start(RegistryAuth::Htpasswd) else {
                return;
            };
            let config = s.work.path().join("docker-config");
            std::fs::create_dir_all(&config).unwrap();
            let out = s.wharf_with(
                s.work.path(),
                &["search", &format!("{}/x", registry.host())],
                &[("DOCKER_CONFIG", config.to_str().unwrap())],
                b"",
            );
            let err = stderr_of_failure(&out);
            assert!(
                err.contains(&format!("wharf login {}", registry.host())),
                "{err}"
            );
        },
    );
}

/// A registry of our own: `/v2/` answers 200; the catalog is two pages joined
/// by a `Link` header, or missing (404) when `catalog` is false.
fn fake_registry(catalog: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request_line = String::new();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let path = request_line.split_whitespace().nth(1).unwrap_or("");
            let (status, link, body) = match path {
                "/v2/" => ("200 OK", "", "{}".to_string()),
                _ if !catalog => (
                    "404 Not Found",
                    "",
                    r#"{"errors":[{"code":"NOT_FOUND","message":"no catalog"}]}"#.into(),
                ),
                p if p.starts_with("/v2/_catalog?n=") => (
                    "200 OK",
                    "Link: </v2/_catalog?last=beta&n=100>; rel=\"next\"\r\n",
                    r#"{"repositories":["alpha","beta"]}"#.into(),
                ),
                p if p.starts_with("/v2/_catalog?last=beta") => {
                    ("200 OK", "", r#"{"repositories":["gamma"]}"#.into())
                }
                _ => ("404 Not Found", "", "{}".into()),
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{link}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    host
}

#[test]
fn search_follows_link_pages_and_explains_a_missing_catalog() {
    sandboxed(
        "search::search_follows_link_pages_and_explains_a_missing_catalog",
        |s| {
            let host = fake_registry(true);
            let names = stdout(&search(s, &["--format", "{{.Name}}", &format!("{host}/")]));
            assert_eq!(names, format!("{host}/alpha\n{host}/beta\n{host}/gamma\n"));
            let gamma = stdout(&search(
                s,
                &["--format", "{{.Name}}", &format!("{host}/gam")],
            ));
            assert_eq!(gamma, format!("{host}/gamma\n"));

            let host = fake_registry(false);
            let err = stderr_of_failure(&search(s, &[&format!("{host}/x")]));
            assert!(err.contains("has no catalog"), "{err}");
        },
    );
}
