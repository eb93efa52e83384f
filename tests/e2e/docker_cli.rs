//! wharf installed as `docker`: a Docker tutorial's single-container command
//! sequence through a `docker` symlink to the wharf binary, each result
//! checked — `run -d --name -p --memory`, the name-conflict message, `ps`,
//! `exec`, `inspect`, `update --memory` read back from the cgroup, `logs`,
//! `stop`/`start`, `rm` refused while running, `commit` and a run of the new
//! image, `rm -f`, `docker compose`, and docker's exit code 125 for bad flags.

use crate::harness::{eventually, http_get, sandboxed, Sandbox};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A `docker` symlink to the wharf binary in the sandbox's work directory.
fn docker_link(s: &Sandbox) -> PathBuf {
    let link = s.work.path().join("bin/docker");
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_wharf"), &link).unwrap();
    link
}

fn docker(s: &Sandbox, link: &Path, args: &[&str]) -> Output {
    Command::new(link)
        .args(args)
        .current_dir(s.work.path())
        .env("WHARF_ROOT", s.root.path())
        .output()
        .expect("running docker")
}

fn ok(s: &Sandbox, link: &Path, args: &[&str]) -> String {
    let out = docker(s, link, args);
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}):\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The exit code and stderr of a command that must fail.
fn fails(s: &Sandbox, link: &Path, args: &[&str]) -> (i32, String) {
    let out = docker(s, link, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "docker {args:?} should fail");
    assert!(!stderr.contains("panicked"), "panicked: {stderr}");
    (out.status.code().unwrap_or(-1), stderr)
}

/// The container's memory limit as its cgroup holds it.
fn memory_limit(id: &str) -> String {
    let parent = std::env::var("WHARF_CGROUP_PARENT").unwrap();
    let root = Path::new("/sys/fs/cgroup");
    let path = if root.join("cgroup.controllers").exists() {
        root.join(parent)
            .join("default")
            .join(id)
            .join("memory.max")
    } else {
        root.join("memory")
            .join(parent)
            .join("default")
            .join(id)
            .join("memory.limit_in_bytes")
    };
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn inspect(s: &Sandbox, link: &Path, name: &str) -> serde_json::Value {
    let text = ok(s, link, &["inspect", name]);
    let all: serde_json::Value = serde_json::from_str(&text).expect(&text);
    all[0].clone()
}

#[test]
fn a_docker_tutorial_runs_unchanged() {
    sandboxed("docker_cli::a_docker_tutorial_runs_unchanged", |s| {
        s.import_busybox();
        let d = docker_link(s);

        // Bad flags: docker's usage exit code.
        let (code, _) = fails(s, &d, &["run", "--no-such-flag", "busybox"]);
        assert_eq!(code, 125);

        // A detached server with a name, a published port and a memory limit.
        let id = ok(
            s,
            &d,
            &[
                "run",
                "-d",
                "--name",
                "con01",
                "-p",
                "18080:8080",
                "--memory",
                "64m",
                "busybox",
                "httpd",
                "-f",
                "-p",
                "8080",
            ],
        )
        .trim()
        .to_string();
        assert_eq!(id.len(), 64, "run -d prints the id: {id:?}");
        let response = eventually("the published port", Duration::from_secs(10), || {
            http_get("127.0.0.1:18080", "/")
        });
        assert!(response.starts_with("HTTP/1."), "{response}");

        // The name is taken: docker's message, exit 125, nothing created.
        let (code, stderr) = fails(s, &d, &["run", "-d", "--name", "con01", "busybox"]);
        assert_eq!(code, 125);
        assert!(
            stderr.contains(&format!(
                "Conflict. The container name \"/con01\" is already in use by container \"{id}\""
            )),
            "{stderr}"
        );
        assert_eq!(ok(s, &d, &["ps", "-a", "-q"]).lines().count(), 1);

        // ps: docker's columns.
        let ps = ok(s, &d, &["ps"]);
        let header = ps.lines().next().unwrap();
        for column in [
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "CREATED",
            "STATUS",
            "PORTS",
            "NAMES",
        ] {
            assert!(header.contains(column), "{ps}");
        }
        let row = ps.lines().nth(1).expect(&ps);
        assert!(row.starts_with(&id[..12]), "{ps}");
        assert!(row.contains("Up ") && row.ends_with("con01"), "{ps}");
        assert!(row.contains("0.0.0.0:18080->8080/tcp"), "{ps}");

        // exec: the host name is the short id, as docker's.
        let hostname = ok(s, &d, &["exec", "con01", "cat", "/etc/hostname"]);
        assert_eq!(hostname.trim(), &id[..12]);

        // inspect with docker's fields.
        let doc = inspect(s, &d, "con01");
        assert_eq!(doc["Name"], "/con01");
        assert_eq!(doc["Id"], id.as_str());
        assert_eq!(doc["State"]["Status"], "running");
        assert!(doc["State"]["Pid"].as_u64().unwrap() > 0, "{doc}");
        assert_eq!(doc["HostConfig"]["Memory"], 64 * 1024 * 1024);
        let address = doc["NetworkSettings"]["Networks"]["bridge"]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(address.parse::<std::net::Ipv4Addr>().is_ok(), "{doc}");
        assert_eq!(doc["Config"]["Image"], "busybox");

        // update: the new limit is in the cgroup at once.
        assert_eq!(memory_limit(&id), "67108864");
        assert_eq!(
            ok(s, &d, &["update", "--memory", "128m", "con01"]).trim(),
            "con01"
        );
        assert_eq!(memory_limit(&id), "134217728");
        assert_eq!(
            inspect(s, &d, "con01")["HostConfig"]["Memory"],
            128 * 1024 * 1024
        );
        // A limit the container cannot run with changes nothing.
        let (code, stderr) = fails(s, &d, &["update", "--memory", "1k", "con01"]);
        assert_eq!(code, 1);
        assert!(stderr.contains("memory"), "{stderr}");
        assert_eq!(memory_limit(&id), "134217728");

        // An attached run: its output and its exit code.
        assert_eq!(
            ok(s, &d, &["run", "--rm", "busybox", "echo", "hello"]),
            "hello\n"
        );
        let out = docker(s, &d, &["run", "--rm", "busybox", "sh", "-c", "exit 3"]);
        assert_eq!(out.status.code(), Some(3));
        // A detached one: wait gives its exit code, logs its output.
        ok(
            s,
            &d,
            &[
                "run",
                "-d",
                "--name",
                "hello",
                "busybox",
                "sh",
                "-c",
                "echo hello; exit 4",
            ],
        );
        assert_eq!(ok(s, &d, &["wait", "hello"]), "4\n");
        assert_eq!(ok(s, &d, &["logs", "hello"]), "hello\n");

        // stop and start again.
        assert_eq!(ok(s, &d, &["stop", "-t", "1", "con01"]).trim(), "con01");
        assert!(!ok(s, &d, &["ps"]).contains("con01"));
        let all = ok(s, &d, &["ps", "-a"]);
        assert!(all.contains("Exited ("), "{all}");
        let (_, stderr) = fails(s, &d, &["exec", "con01", "true"]);
        assert!(stderr.contains("is not running"), "{stderr}");
        ok(s, &d, &["start", "con01"]);
        assert_eq!(inspect(s, &d, "con01")["State"]["Status"], "running");

        // rm of a running container needs -f.
        let (code, stderr) = fails(s, &d, &["rm", "con01"]);
        assert_eq!(code, 1);
        assert!(
            stderr.contains("stop the container before removing or force remove"),
            "{stderr}"
        );

        // commit, and run the new image.
        ok(
            s,
            &d,
            &["exec", "con01", "sh", "-c", "echo committed > /marker"],
        );
        let image = ok(s, &d, &["commit", "con01", "snap:v1"]);
        assert!(image.trim().starts_with("sha256:"), "{image}");
        assert_eq!(
            ok(s, &d, &["run", "--rm", "snap:v1", "cat", "/marker"]),
            "committed\n"
        );

        // rm -f: gone, its host ends with it.
        assert_eq!(ok(s, &d, &["rm", "-f", "con01", "hello"]), "con01\nhello\n");
        assert_eq!(ok(s, &d, &["ps", "-a", "-q"]), "");
        assert!(http_get("127.0.0.1:18080", "/").is_none());
        let net_dev = std::fs::read_to_string("/proc/net/dev").unwrap();
        assert!(!net_dev.contains("veth"), "links left: {net_dev}");

        // docker compose is wharf's Compose command line.
        let compose = s.project(
            "app",
            "services:\n  box:\n    image: busybox:latest\n    command: sleep 60\n",
        );
        let out = Command::new(&d)
            .args(["compose", "up", "-d"])
            .current_dir(&compose)
            .env("WHARF_ROOT", s.root.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let listed = ok(s, &d, &["ps", "--format", "json"]);
        assert!(listed.contains("\"Name\":\"app-box-1\""), "{listed}");
        let out = Command::new(&d)
            .args(["compose", "down", "-t", "1"])
            .current_dir(&compose)
            .env("WHARF_ROOT", s.root.path())
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    });
}
