//! wharf installed as `docker`: a Docker tutorial's single-container command
//! sequence through a `docker` symlink to the wharf binary, each result
//! checked — `run -d --name -p --memory`, the name-conflict message, `ps`,
//! `exec`, `inspect`, `update --memory` read back from the cgroup, `logs`,
//! `stop`/`start`, `rm` refused while running, `commit` and a run of the new
//! image, `rm -f`, `docker compose`, and docker's exit code 125 for bad flags.

use crate::harness::docker::{
    collect, docker, docker_cli, docker_command, docker_link, fails, ok, open_pty, stdio, Docker,
    Service,
};
use crate::harness::{
    block_io_weight_supported, eventually, http_get, sandboxed, Sandbox, WEIGHT_DISCARDED,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

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
        // The default bridge resolves no names (docker's embedded DNS serves
        // user networks only): the host's resolvers, not 127.0.0.11.
        let resolv = ok(s, &d, &["exec", "con01", "cat", "/etc/resolv.conf"]);
        assert!(!resolv.contains("127.0.0.11"), "{resolv}");
        assert!(resolv.contains("nameserver "), "{resolv}");

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

        // stats: one reading with the memory limit, top: its processes.
        let stats = ok(s, &d, &["stats", "--no-stream", "con01"]);
        assert!(stats.starts_with("CONTAINER ID   NAME"), "{stats}");
        assert!(
            stats.contains("con01") && stats.contains(" / 64MiB"),
            "{stats}"
        );
        let top = ok(s, &d, &["top", "con01"]);
        assert!(top.starts_with("UID") && top.contains("httpd"), "{top}");

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

#[test]
fn run_it_gives_the_container_this_terminal() {
    sandboxed(
        "docker_cli::run_it_gives_the_container_this_terminal",
        |s| {
            s.import_busybox();
            let d = docker_link(s);
            let (master, slave) = open_pty(27, 91);
            let run_it = [
                "run",
                "-it",
                "--name",
                "con01",
                "busybox",
                "sh",
                "-c",
                "tty; stty size; exit 5",
            ];
            let mut child = docker_command(s, &d, &run_it)
                .stdin(stdio(&slave))
                .stdout(stdio(&slave))
                .stderr(stdio(&slave))
                .spawn()
                .unwrap();
            drop(slave);
            let output = collect(master);
            let status = eventually("docker run -it to end", Duration::from_secs(60), || {
                child.try_wait().unwrap()
            });
            let shown = eventually("the container's output", Duration::from_secs(10), || {
                let t = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
                t.contains("27 91").then_some(t)
            });
            assert!(shown.contains("/dev/pts/"), "{shown:?}");
            assert_eq!(status.code(), Some(5), "{shown:?}");
            // Without --rm it stays, exited with its code.
            let ps = ok(
                s,
                &d,
                &["ps", "-a", "--filter", "exited=5", "--format", "json"],
            );
            assert!(ps.contains("\"Names\":\"con01\""), "{ps}");
            // -it without a terminal is docker's error, and creates nothing.
            let (code, stderr) = fails(s, &d, &["run", "-it", "busybox", "true"]);
            assert_eq!(code, 125);
            assert!(stderr.contains("the input device is not a TTY"), "{stderr}");
            assert_eq!(ok(s, &d, &["ps", "-a", "-q"]).lines().count(), 1);
            assert_eq!(ok(s, &d, &["rm", "con01"]), "con01\n");

            // attach to a detached -it shell: keys go to it, its code comes back.
            ok(s, &d, &["run", "-dit", "--name", "sh1", "busybox", "sh"]);
            let (mut master, slave) = open_pty(27, 91);
            let mut child = docker_command(s, &d, &["attach", "sh1"])
                .stdin(stdio(&slave))
                .stdout(stdio(&slave))
                .stderr(stdio(&slave))
                .spawn()
                .unwrap();
            drop(slave);
            let mut keys = master.try_clone().unwrap();
            let output = collect(master.try_clone().unwrap());
            let typed = eventually("the shell to answer", Duration::from_secs(20), || {
                use std::io::Write;
                keys.write_all(b"echo typed-$((6*7))\r").unwrap();
                std::thread::sleep(Duration::from_millis(200));
                let t = String::from_utf8_lossy(&output.lock().unwrap()).into_owned();
                t.contains("typed-42").then_some(t)
            });
            assert!(typed.contains("typed-42"), "{typed:?}");
            std::io::Write::write_all(&mut master, b"exit 7\r").unwrap();
            let status = eventually("docker attach to end", Duration::from_secs(30), || {
                child.try_wait().unwrap()
            });
            assert_eq!(status.code(), Some(7));
            assert_eq!(ok(s, &d, &["rm", "sh1"]), "sh1\n");
        },
    );
}

#[test]
fn files_volumes_and_networks() {
    sandboxed("docker_cli::files_volumes_and_networks", |s| {
        s.import_busybox();
        let d = docker_link(s);
        let host_dir = s.work.path().join("site");
        std::fs::create_dir_all(&host_dir).unwrap();
        std::fs::write(host_dir.join("index.html"), "from the host\n").unwrap();
        let bind = format!("{}:/site:ro", host_dir.display());

        // A named volume, a read-only bind, a tmpfs and an anonymous volume.
        ok(
            s,
            &d,
            &[
                "run",
                "-d",
                "--name",
                "store",
                "-v",
                "data:/data",
                "-v",
                &bind,
                "--tmpfs",
                "/scratch:size=1m",
                "-v",
                "/anon",
                "busybox",
                "sleep",
                "600",
            ],
        );
        ok(
            s,
            &d,
            &["exec", "store", "sh", "-c", "echo kept > /data/file"],
        );
        assert_eq!(
            ok(s, &d, &["exec", "store", "cat", "/site/index.html"]),
            "from the host\n"
        );
        let (_, stderr) = fails(s, &d, &["exec", "store", "touch", "/site/x"]);
        assert!(
            stderr.contains("Read-only") || stderr.is_empty(),
            "{stderr}"
        );
        let mounts = ok(
            s,
            &d,
            &["exec", "store", "grep", " /scratch ", "/proc/mounts"],
        );
        assert!(mounts.starts_with("tmpfs /scratch tmpfs"), "{mounts}");
        let doc = inspect(s, &d, "store");
        let types: Vec<&str> = doc["Mounts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Type"].as_str().unwrap())
            .collect();
        assert!(
            types.contains(&"bind") && types.contains(&"volume"),
            "{doc}"
        );
        assert_eq!(doc["HostConfig"]["Tmpfs"]["/scratch"], "size=1048576");

        // --volumes-from sees the same data; the volume outlives the containers.
        assert_eq!(
            ok(
                s,
                &d,
                &[
                    "run",
                    "--rm",
                    "--volumes-from",
                    "store",
                    "busybox",
                    "cat",
                    "/data/file"
                ]
            ),
            "kept\n"
        );
        assert_eq!(
            ok(
                s,
                &d,
                &["run", "--rm", "-v", "data:/d", "busybox", "cat", "/d/file"]
            ),
            "kept\n"
        );
        let volumes = ok(s, &d, &["volume", "ls", "-q"]);
        assert!(volumes.lines().any(|v| v == "data"), "{volumes}");
        // inspect finds a volume by name too.
        let doc = inspect(s, &d, "data");
        assert_eq!(doc["Name"], "data");

        // cp both ways.
        let local = s.work.path().join("copied.txt");
        std::fs::write(&local, "into the container\n").unwrap();
        ok(s, &d, &["cp", local.to_str().unwrap(), "store:/tmp/in.txt"]);
        assert_eq!(
            ok(s, &d, &["exec", "store", "cat", "/tmp/in.txt"]),
            "into the container\n"
        );
        let back = s.work.path().join("back.txt");
        ok(s, &d, &["cp", "store:/data/file", back.to_str().unwrap()]);
        assert_eq!(std::fs::read_to_string(&back).unwrap(), "kept\n");

        // export: the container's files as a tar.
        let tar = s.work.path().join("store.tar");
        ok(s, &d, &["export", "-o", tar.to_str().unwrap(), "store"]);
        let listing = Command::new("tar").arg("-tf").arg(&tar).output().unwrap();
        let listing = String::from_utf8_lossy(&listing.stdout);
        assert!(
            listing
                .lines()
                .any(|l| l.trim_end_matches('/') == "tmp/in.txt"),
            "{listing}"
        );

        // rm -v removes the anonymous volume, never the named one.
        let before = ok(s, &d, &["volume", "ls", "-q"]).lines().count();
        ok(s, &d, &["rm", "-f", "-v", "store"]);
        let after = ok(s, &d, &["volume", "ls", "-q"]);
        assert_eq!(after.lines().count(), before - 1, "{after}");
        assert!(after.lines().any(|v| v == "data"), "{after}");

        // Network modes.
        let links = ok(
            s,
            &d,
            &[
                "run",
                "--rm",
                "--network",
                "none",
                "busybox",
                "cat",
                "/proc/net/dev",
            ],
        );
        assert!(!links.contains("eth0"), "{links}");
        let host_links = std::fs::read_to_string("/proc/net/dev").unwrap();
        let seen = ok(
            s,
            &d,
            &[
                "run",
                "--rm",
                "--network",
                "host",
                "busybox",
                "cat",
                "/proc/net/dev",
            ],
        );
        assert_eq!(seen.lines().count(), host_links.lines().count(), "{seen}");

        // A user network: names and aliases resolve there.
        ok(s, &d, &["network", "create", "appnet"]);
        ok(
            s,
            &d,
            &[
                "run",
                "-d",
                "--name",
                "db",
                "--network",
                "appnet",
                "--network-alias",
                "database",
                "busybox",
                "sleep",
                "600",
            ],
        );
        let resolved = ok(
            s,
            &d,
            &[
                "run",
                "--rm",
                "--network",
                "appnet",
                "busybox",
                "sh",
                "-c",
                "nslookup db 127.0.0.11 && nslookup database 127.0.0.11",
            ],
        );
        let address = inspect(s, &d, "db")["NetworkSettings"]["Networks"]["appnet"]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            resolved.matches(&address).count() >= 2,
            "{resolved} (db is {address})"
        );
        let (code, stderr) = fails(s, &d, &["network", "rm", "appnet"]);
        assert_eq!(code, 1, "{stderr}");
        ok(s, &d, &["rm", "-f", "db"]);
        ok(s, &d, &["network", "rm", "appnet"]);

        // Bad input: clear errors, nothing half-created.
        let (code, stderr) = fails(s, &d, &["run", "-d", "--memory", "1k", "busybox", "true"]);
        assert_eq!(code, 125);
        assert!(stderr.contains("memory"), "{stderr}");
        let (code, stderr) = fails(s, &d, &["run", "-d", "--cpus", "99", "busybox", "true"]);
        assert_eq!(code, 125);
        assert!(stderr.contains("CPU") || stderr.contains("cpu"), "{stderr}");
        let (code, stderr) = fails(s, &d, &["run", "-d", "--link", "db:db", "busybox", "true"]);
        assert_eq!(code, 125);
        assert!(stderr.contains("--link not supported"), "{stderr}");
        let (code, stderr) = fails(s, &d, &["run", "-d", "-p", "99999:80", "busybox", "true"]);
        assert_eq!(code, 125);
        assert!(stderr.contains("\"--publish\""), "{stderr}");
        let _holder = std::net::TcpListener::bind("0.0.0.0:18181").unwrap();
        let (code, stderr) = fails(
            s,
            &d,
            &["run", "-d", "-p", "18181:80", "busybox", "sleep", "9"],
        );
        assert_eq!(code, 125);
        assert!(stderr.contains("18181"), "{stderr}");
        assert_eq!(ok(s, &d, &["ps", "-a", "-q"]), "");
        let (code, stderr) = fails(s, &d, &["rm", "nothing-here"]);
        assert_eq!(code, 1);
        assert!(stderr.contains("nothing-here"), "{stderr}");
    });
}

/// Each container's name and state, from `ps -a`.
fn states(s: &Sandbox, link: &Path) -> std::collections::BTreeMap<String, String> {
    ok(s, link, &["ps", "-a", "--format", "{{.Names}} {{.State}}"])
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(name, state)| (name.to_string(), state.to_string()))
        .collect()
}

#[test]
fn system_boot_starts_what_the_restart_policies_say() {
    sandboxed(
        "docker_cli::system_boot_starts_what_the_restart_policies_say",
        |s| {
            s.import_busybox();
            let d = docker_link(s);
            ok(s, &d, &["network", "create", "bootnet"]);
            let server = ["busybox", "httpd", "-f", "-p", "8080"];
            let sleeper = ["busybox", "sleep", "600"];
            let fails = ["busybox", "false"];
            let runs: [(&str, &[&str], &[&str]); 8] = [
                (
                    "web",
                    &[
                        "--restart",
                        "always",
                        "--network",
                        "bootnet",
                        "-p",
                        "18090:8080",
                    ],
                    &server,
                ),
                (
                    "client",
                    &["--restart", "always", "--network", "bootnet"],
                    &sleeper,
                ),
                (
                    "kept",
                    &["--restart", "unless-stopped", "-p", "18091:8080"],
                    &server,
                ),
                ("failing", &["--restart", "on-failure"], &sleeper),
                // Its one retry used before the reboot: it stays down.
                ("used-up", &["--restart", "on-failure:1"], &fails),
                ("plain", &[], &sleeper),
                ("stopped-always", &["--restart", "always"], &sleeper),
                ("stopped-unless", &["--restart", "unless-stopped"], &sleeper),
            ];
            for (name, flags, command) in runs {
                let mut args = vec!["run", "-d", "--name", name];
                args.extend_from_slice(flags);
                args.extend_from_slice(command);
                ok(s, &d, &args);
            }
            ok(
                s,
                &d,
                &["stop", "-t", "1", "stopped-always", "stopped-unless"],
            );
            let used_up = "{{.State.Status}} {{.RestartCount}}";
            eventually("used-up to use its retry", Duration::from_secs(20), || {
                let state = ok(s, &d, &["inspect", "-f", used_up, "used-up"]);
                (state.trim() == "exited 1").then_some(())
            });
            // A `--rm` container the reboot ends is removed at boot, as docker's.
            ok(
                s,
                &d,
                &[
                    "run", "-d", "--rm", "--name", "gone", "-v", "/data", "busybox", "sleep", "600",
                ],
            );
            // Compose's `restart:` is the same policy.
            let project = s.project(
                "boot",
                "services:\n  up:\n    image: busybox:latest\n    command: [sleep, \"600\"]\n    restart: always\n  once:\n    image: busybox:latest\n    command: [sleep, \"600\"]\n",
            );
            s.ok(&project, &["up", "-d"]);

            crate::crash::simulate_reboot();
            let before = states(s, &d);
            assert!(
                before.values().all(|state| state == "exited"),
                "after the reboot nothing runs: {before:?}"
            );

            let out = docker(s, &d, &["system", "boot"]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let expected_up = [
                "web",
                "client",
                "kept",
                "failing",
                "stopped-always",
                "boot-up-1",
            ];
            for name in expected_up {
                assert!(
                    stdout.contains(&format!("Container {name} Started")),
                    "{name}: {stdout}"
                );
            }
            assert!(stdout.contains("Container gone Removed"), "{stdout}");
            let after = states(s, &d);
            for name in expected_up {
                assert_eq!(after[name], "running", "{name}: {after:?}");
            }
            for name in ["plain", "stopped-unless", "used-up", "boot-once-1"] {
                assert_eq!(after[name], "exited", "{name}: {after:?}");
            }
            assert!(!after.contains_key("gone"), "{after:?}");
            assert_eq!(ok(s, &d, &["volume", "ls", "-q"]), "");

            // Published ports on a user network and on the default bridge.
            for port in ["18090", "18091"] {
                let response = eventually("the published port", Duration::from_secs(10), || {
                    http_get(&format!("127.0.0.1:{port}"), "/")
                });
                assert!(response.starts_with("HTTP/1."), "{port}: {response}");
            }
            // Names resolve on the user network again.
            let address = ok(
                s,
                &d,
                &[
                    "inspect",
                    "-f",
                    "{{(index .NetworkSettings.Networks \"bootnet\").IPAddress}}",
                    "web",
                ],
            );
            let lookup = eventually("web to resolve", Duration::from_secs(10), || {
                let out = docker(s, &d, &["exec", "client", "nslookup", "web"]);
                out.status
                    .success()
                    .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
            });
            assert!(lookup.contains(address.trim()), "{lookup} vs {address}");

            // docker info counts them, docker version names the engine.
            let running = ok(s, &d, &["info", "--format", "{{.ContainersRunning}}"]);
            assert_eq!(running.trim(), expected_up.len().to_string());
            let info = ok(s, &d, &["info"]);
            assert!(info.starts_with("Client:\n"), "{info}");
            assert!(info.contains("\nServer:\n Containers: 10\n"), "{info}");
            let version = ok(s, &d, &["version", "--format", "{{json .}}"]);
            let version: serde_json::Value = serde_json::from_str(&version).expect(&version);
            assert_eq!(version["Server"]["Version"], version["Client"]["Version"]);

            // A second boot finds nothing left to start.
            let again = ok(s, &d, &["system", "boot"]);
            assert!(again.is_empty(), "{again}");

            s.ok(&project, &["down", "-t", "1"]);
            let mut rm = vec!["rm", "-f"];
            rm.extend(runs.iter().map(|(name, _, _)| *name));
            ok(s, &d, &rm);
            ok(s, &d, &["network", "rm", "bootnet"]);
            assert!(states(s, &d).is_empty());
        },
    );
}

#[test]
fn run_rm_attached_and_detached_and_ps_sizes() {
    sandboxed(
        "docker_cli::run_rm_attached_and_detached_and_ps_sizes",
        |s| {
            s.import_busybox();
            let d = docker_link(s);

            // Attached without -it: the container's stdout and stderr on ours,
            // its exit code as ours, and with --rm nothing left.
            let out = docker(
                s,
                &d,
                &[
                    "run",
                    "--rm",
                    "busybox",
                    "sh",
                    "-c",
                    "echo to-stdout; echo to-stderr >&2; exit 3",
                ],
            );
            assert_eq!(out.status.code(), Some(3));
            assert_eq!(String::from_utf8_lossy(&out.stdout), "to-stdout\n");
            assert!(String::from_utf8_lossy(&out.stderr).contains("to-stderr\n"));
            assert_eq!(ok(s, &d, &["ps", "-a", "-q"]), "");

            // Detached --rm: its monitor removes it once it ends by itself...
            let id = ok(
                s,
                &d,
                &[
                    "run", "-d", "--rm", "--name", "brief", "busybox", "sleep", "1",
                ],
            );
            assert_eq!(id.trim().len(), 64, "{id}");
            let doc = inspect(s, &d, "brief");
            assert_eq!(doc["HostConfig"]["AutoRemove"], true);
            // Its config goes first, then the rest of its directory.
            let dir = s.root.path().join("containers").join(id.trim());
            eventually("brief to be removed", Duration::from_secs(20), || {
                (!dir.exists()).then_some(())
            });
            assert_eq!(ok(s, &d, &["ps", "-a", "-q"]), "");

            // ... and when it is stopped or removed by force.
            for (name, command) in [("stopped", "stop"), ("forced", "rm")] {
                ok(
                    s,
                    &d,
                    &[
                        "run", "-d", "--rm", "--name", name, "busybox", "sleep", "600",
                    ],
                );
                let args: &[&str] = if command == "stop" {
                    &["stop", "-t", "1", name]
                } else {
                    &["rm", "-f", name]
                };
                assert_eq!(ok(s, &d, args).trim(), name);
                // Its veth pair went with it, deleted once, before the command returned.
                crate::harness::no_links_left();
                let left = ok(s, &d, &["ps", "-a", "--format", "{{.Names}}"]);
                assert!(!left.lines().any(|l| l == name), "{name}: {left}");
            }

            // --rm and --restart contradict each other, as docker says.
            let (code, stderr) = fails(
                s,
                &d,
                &[
                    "run",
                    "-d",
                    "--rm",
                    "--restart",
                    "always",
                    "busybox",
                    "true",
                ],
            );
            assert_eq!(code, 125);
            assert!(stderr.contains("--restart and --rm"), "{stderr}");
            assert_eq!(ok(s, &d, &["ps", "-a", "-q"]), "");

            // ps -s: what the container wrote, and with its image.
            ok(
                s,
                &d,
                &[
                    "run",
                    "-d",
                    "--name",
                    "writer",
                    "busybox",
                    "sh",
                    "-c",
                    "printf 123456789012 > /file; sleep 600",
                ],
            );
            let table = eventually("the file to be written", Duration::from_secs(10), || {
                let table = ok(s, &d, &["ps", "-s"]);
                table.contains("12B (virtual ").then_some(table)
            });
            let header = table.lines().next().unwrap();
            assert!(header.ends_with("NAMES     SIZE"), "{table}");
            let row = table.lines().find(|l| l.contains("writer")).unwrap();
            let size = row.split("writer").nth(1).unwrap().trim();
            assert!(
                size.starts_with("12B (virtual ") && size.ends_with("MB)"),
                "{size:?}"
            );
            ok(s, &d, &["rm", "-f", "writer"]);
        },
    );
}

/// Every volume's name, sorted.
fn volume_names(s: &Sandbox, link: &Path) -> Vec<String> {
    let mut names: Vec<String> = ok(s, link, &["volume", "ls", "-q"])
        .lines()
        .map(String::from)
        .collect();
    names.sort();
    names
}

#[test]
fn rm_takes_anonymous_volumes_and_restart_keeps_an_rm_container() {
    sandboxed(
        "docker_cli::rm_takes_anonymous_volumes_and_restart_keeps_an_rm_container",
        |s| {
            s.import_busybox();
            let d = docker_link(s);

            // An attached `run --rm`: its anonymous volume goes with it.
            ok(s, &d, &["run", "--rm", "-v", "/data", "busybox", "true"]);
            assert!(volume_names(s, &d).is_empty(), "{:?}", volume_names(s, &d));

            // A detached one with an anonymous and a named volume.
            let run_keeper = [
                "run", "-d", "--rm", "--name", "keeper", "-v", "/data", "-v", "named:/n",
                "busybox", "sleep", "600",
            ];
            let id = ok(s, &d, &run_keeper).trim().to_string();
            let both = volume_names(s, &d);
            assert_eq!(both.len(), 2, "{both:?}");
            assert!(both.contains(&"named".to_string()), "{both:?}");

            // `restart` keeps it, running, with its volumes, as docker does.
            assert_eq!(
                ok(s, &d, &["restart", "-t", "1", "keeper"]).trim(),
                "keeper"
            );
            let state = ok(
                s,
                &d,
                &["inspect", "-f", "{{.State.Status}} {{.Id}}", "keeper"],
            );
            assert_eq!(state.trim(), format!("running {id}"));
            assert_eq!(volume_names(s, &d), both);

            // `stop` ends it: removed with its anonymous volume, the named one kept.
            assert_eq!(ok(s, &d, &["stop", "-t", "1", "keeper"]).trim(), "keeper");
            let left = ok(s, &d, &["ps", "-a", "--format", "{{.Names}}"]);
            assert!(!left.lines().any(|l| l == "keeper"), "{left}");
            assert_eq!(volume_names(s, &d), ["named"]);

            // Ended by itself, its monitor removes it and its anonymous volume.
            let ended = ok(
                s,
                &d,
                &["run", "-d", "--rm", "-v", "/data", "busybox", "true"],
            );
            let dir = s.root.path().join("containers").join(ended.trim());
            eventually(
                "the ended --rm container to go",
                Duration::from_secs(20),
                || (!dir.exists()).then_some(()),
            );
            eventually(
                "its anonymous volume to go",
                Duration::from_secs(20),
                || (volume_names(s, &d) == ["named"]).then_some(()),
            );

            // `rm -v` likewise; `rm` without it keeps the anonymous volume.
            let run_plain = |name: &str| {
                ok(
                    s,
                    &d,
                    &[
                        "run", "-d", "--name", name, "-v", "/data", "-v", "named:/n", "busybox",
                        "sleep", "600",
                    ],
                )
            };
            run_plain("with-v");
            assert_eq!(volume_names(s, &d).len(), 2);
            ok(s, &d, &["rm", "-f", "-v", "with-v"]);
            assert_eq!(volume_names(s, &d), ["named"]);
            run_plain("without-v");
            ok(s, &d, &["rm", "-f", "without-v"]);
            let kept = volume_names(s, &d);
            assert_eq!(kept.len(), 2, "{kept:?}");
            for name in kept {
                ok(s, &d, &["volume", "rm", &name]);
            }
            assert_eq!(ok(s, &d, &["ps", "-a", "-q"]), "");

            // The same through the Engine API, with docker's own CLI
            // (AutoRemove, and the service's removal of it).
            let Some(cli) = docker_cli() else { return };
            let service = Service::start(s, &["--timeout", "0"]);
            let api = Docker {
                cli,
                service: &service,
                dir: s.work.path(),
            };
            api.ok(&[
                "run", "-d", "--rm", "--name", "via-api", "-v", "/data", "busybox", "sleep", "600",
            ]);
            assert_eq!(volume_names(s, &d).len(), 1);
            assert_eq!(api.ok(&["restart", "-t", "1", "via-api"]).trim(), "via-api");
            let state = api.ok(&["inspect", "-f", "{{.State.Status}}", "via-api"]);
            assert_eq!(state.trim(), "running");
            assert_eq!(volume_names(s, &d).len(), 1);
            api.ok(&["stop", "-t", "1", "via-api"]);
            eventually("via-api to be removed", Duration::from_secs(20), || {
                ok(s, &d, &["ps", "-a", "-q"]).is_empty().then_some(())
            });
            eventually(
                "its anonymous volume to go",
                Duration::from_secs(20),
                || volume_names(s, &d).is_empty().then_some(()),
            );
        },
    );
}

/// A block I/O weight the host's schedulers cannot take is discarded as
/// docker discards it: the warning, and `inspect` shows 0 — through the
/// `docker` personality, docker's own CLI and the raw Engine API alike.
#[test]
fn a_discarded_block_io_weight_is_warned_about_and_inspected_as_0() {
    sandboxed(
        "docker_cli::a_discarded_block_io_weight_is_warned_about_and_inspected_as_0",
        |s| {
            s.import_busybox();
            let d = docker_link(s);
            let discarded = !block_io_weight_supported();
            let stored = if discarded { "0" } else { "300" };
            let warning = format!("WARNING: {WEIGHT_DISCARDED}");
            let weight = "{{.HostConfig.BlkioWeight}}";

            let out = docker(
                s,
                &d,
                &[
                    "create",
                    "--name",
                    "w1",
                    "--blkio-weight",
                    "300",
                    "busybox",
                    "true",
                ],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert_eq!(stderr.contains(&warning), discarded, "{stderr}");
            assert_eq!(ok(s, &d, &["inspect", "-f", weight, "w1"]).trim(), stored);

            let Some(cli) = docker_cli() else { return };
            let service = Service::start(s, &["--timeout", "0"]);
            let api = Docker {
                cli,
                service: &service,
                dir: s.work.path(),
            };
            let out = api.run(&[
                "create",
                "--name",
                "w2",
                "--blkio-weight",
                "300",
                "busybox",
                "true",
            ]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert_eq!(stderr.contains(&warning), discarded, "{stderr}");
            assert_eq!(api.ok(&["inspect", "-f", weight, "w2"]).trim(), stored);
            // `update` discards it the same way, keeping what was stored.
            let out = api.run(&["update", "--blkio-weight", "500", "w2"]);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "{out:?}");
            assert_eq!(stdout.contains(WEIGHT_DISCARDED), discarded, "{stdout}");
            let updated = if discarded { "0" } else { "500" };
            assert_eq!(api.ok(&["inspect", "-f", weight, "w2"]).trim(), updated);

            let reply = service.post_json(
                "/v1.41/containers/create?name=w3",
                r#"{"Image": "busybox", "HostConfig": {"BlkioWeight": 300}}"#,
            );
            assert!(reply.starts_with("HTTP/1.1 201 "), "{reply}");
            assert_eq!(reply.contains(WEIGHT_DISCARDED), discarded, "{reply}");
            let reply = service.post_json(
                "/v1.41/containers/create?name=w4",
                r#"{"Image": "busybox", "HostConfig": {"BlkioWeight": 5}}"#,
            );
            assert!(reply.starts_with("HTTP/1.1 400 "), "{reply}");
            assert!(
                reply.contains("HostConfig.BlkioWeight") && reply.contains("10 to 1000"),
                "{reply}"
            );
            let names = ok(s, &d, &["ps", "-a", "--format", "{{.Names}}"]);
            let mut names: Vec<&str> = names.lines().collect();
            names.sort();
            assert_eq!(names, ["w1", "w2", "w3"]);
        },
    );
}

/// The saved image of examples/registry (`registry:2`): `WHARF_REGISTRY_IMAGE`,
/// else the newest archive `scripts/make-registry-image.sh` left in the cache.
fn registry_image_archive() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WHARF_REGISTRY_IMAGE") {
        return Some(PathBuf::from(path));
    }
    let cache =
        std::env::var_os("WHARF_DEV_CACHE").unwrap_or_else(|| "/var/cache/wharf-dev".into());
    std::fs::read_dir(&cache)
        .ok()?
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with("registry-image-") && name.ends_with(".tar")
        })
        .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
        .map(|e| e.path())
}

#[test]
fn the_tutorials_private_registry_round_trip() {
    let Some(archive) = registry_image_archive() else {
        eprintln!(
            "skipped: no image of examples/registry; build it with \
             `bash scripts/make-registry-image.sh target/debug/wharf` (scripts/test.sh does) \
             or set WHARF_REGISTRY_IMAGE"
        );
        return;
    };
    sandboxed(
        "docker_cli::the_tutorials_private_registry_round_trip",
        |s| {
            s.import_busybox();
            let d = docker_link(s);
            ok(s, &d, &["load", "-i", archive.to_str().unwrap()]);
            ok(
                s,
                &d,
                &[
                    "run",
                    "-d",
                    "-p",
                    "5000:5000",
                    "--name",
                    "registry",
                    "registry:2",
                ],
            );
            let answer = eventually("the registry to answer", Duration::from_secs(30), || {
                http_get("127.0.0.1:5000", "/v2/").filter(|r| r.contains(" 200 "))
            });
            assert!(
                answer.contains("Docker-Distribution-Api-Version"),
                "{answer}"
            );

            let name = "127.0.0.1:5000/tutorial/busybox:1";
            ok(s, &d, &["tag", "busybox", name]);
            ok(s, &d, &["push", name]);
            ok(s, &d, &["rmi", name]);
            let images = ok(s, &d, &["images", "--format", "{{.Repository}}"]);
            assert!(!images.contains("127.0.0.1:5000"), "{images}");
            ok(s, &d, &["pull", name]);
            assert_eq!(
                ok(s, &d, &["run", "--rm", name, "echo", "pulled back"]),
                "pulled back\n"
            );
            let found = ok(
                s,
                &d,
                &["search", "--format", "{{.Name}}", "127.0.0.1:5000/busy"],
            );
            assert_eq!(found.trim(), "127.0.0.1:5000/tutorial/busybox", "{found}");

            ok(s, &d, &["rm", "-f", "-v", "registry"]);
            assert_eq!(ok(s, &d, &["ps", "-a", "-q"]), "");
        },
    );
}
