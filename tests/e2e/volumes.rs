//! Volumes end to end: a database-like service keeps its data in a named
//! volume across `down`/`up` and in an anonymous volume across a recreate,
//! the image content is copied into a fresh volume once, `down -v` removes
//! them; bad mounts fail before anything is created; `wharf volume`.

use crate::harness::{sandboxed, Sandbox};
use std::path::Path;

const LOOP: &str = r#"["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]"#;

fn db_compose(extra_env: &str) -> String {
    format!(
        r#"
services:
  db:
    image: busybox
    command: {LOOP}
    environment:
      MODE: "{extra_env}"
    volumes:
      - data:/var
      - /cache
volumes:
  data:
"#
    )
}

fn exec(s: &Sandbox, dir: &Path, script: &str) -> String {
    s.ok(dir, &["exec", "db", "sh", "-c", script])
}

#[test]
fn data_survives_down_up_and_recreate_and_down_v_removes_it() {
    sandboxed(
        "volumes::data_survives_down_up_and_recreate_and_down_v_removes_it",
        |s| {
            s.import_busybox();
            let dir = s.project("vol", &db_compose("a"));
            s.ok(&dir, &["up", "-d"]);

            // Copy-up: the image's /var (holding www/) is now in the volume.
            assert_eq!(exec(s, &dir, "ls /var").trim(), "www");
            exec(
                s,
                &dir,
                "echo kept > /var/db.txt && echo anon > /cache/a.txt && rmdir /var/www",
            );

            let names = s.ok(&dir, &["volume", "ls", "-q"]);
            let names: Vec<&str> = names.lines().collect();
            assert!(names.contains(&"vol_data"), "{names:?}");
            let anonymous: Vec<&str> = names.iter().copied().filter(|n| n.len() == 64).collect();
            assert_eq!(anonymous.len(), 1, "{names:?}");
            let inspect: serde_json::Value =
                serde_json::from_str(&s.ok(&dir, &["volume", "inspect", "vol_data"])).unwrap();
            assert_eq!(inspect[0]["Labels"]["com.docker.compose.project"], "vol");
            assert_eq!(inspect[0]["Labels"]["com.docker.compose.volume"], "data");
            assert_eq!(inspect[0]["Driver"], "local");

            // In use: refused, forced or not, naming the container.
            let err = s.fails(&dir, &["volume", "rm", "vol_data"]);
            assert!(err.contains("vol-db-1"), "{err}");
            let err = s.fails(&dir, &["volume", "rm", "-f", "vol_data"]);
            assert!(err.contains("running container vol-db-1"), "{err}");

            // A config change recreates the container; both volumes keep their data.
            std::fs::write(dir.join("compose.yaml"), db_compose("b")).unwrap();
            s.ok(&dir, &["up", "-d"]);
            assert_eq!(exec(s, &dir, "echo $MODE").trim(), "b");
            assert_eq!(exec(s, &dir, "cat /cache/a.txt").trim(), "anon");
            assert_eq!(exec(s, &dir, "cat /var/db.txt").trim(), "kept");
            let after = s.ok(&dir, &["volume", "ls", "-q"]);
            assert!(
                after.contains(anonymous[0]),
                "anonymous volume replaced: {after}"
            );

            // down keeps the named volume; the image content is not copied again.
            s.ok(&dir, &["down"]);
            assert!(s.ok(&dir, &["volume", "ls", "-q"]).contains("vol_data"));
            s.ok(&dir, &["up", "-d"]);
            assert_eq!(exec(s, &dir, "ls /var").trim(), "db.txt");

            // down -v removes the named and anonymous volumes and says so.
            let out = s.wharf(&dir, &["down", "-v"]);
            assert!(out.status.success());
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                stderr.contains("Volume vol_data") && stderr.contains("Removed"),
                "{stderr}"
            );
            let left = s.ok(&dir, &["volume", "ls", "-q"]);
            assert!(!left.contains("vol_data"), "{left}");
        },
    );
}

#[test]
fn bad_mounts_fail_before_anything_is_created() {
    sandboxed("volumes::bad_mounts_fail_before_anything_is_created", |s| {
        s.import_busybox();
        // Long syntax bind without create_host_path: the path must exist.
        let dir = s.project(
            "badbind",
            &format!(
                r#"
services:
  app:
    image: busybox
    command: {LOOP}
    volumes:
      - type: bind
        source: ./missing
        target: /data
"#
            ),
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(err.contains("does not exist"), "{err}");
        assert!(!dir.join("missing").exists());
        assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");

        // A directory where the image has a file.
        let dir = s.project(
            "mismatch",
            &format!(
                r#"
services:
  app:
    image: busybox
    command: {LOOP}
    volumes:
      - ./confdir:/etc/passwd
"#
            ),
        );
        std::fs::create_dir_all(dir.join("confdir")).unwrap();
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(err.contains("is a file in the image"), "{err}");
        assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");

        // A subpath that leaves the volume through a symlink.
        s.ok(&dir, &["volume", "create", "esc"]);
        let data = s.root.path().join("volumes/esc/_data");
        std::os::unix::fs::symlink("/etc", data.join("link")).unwrap();
        let dir = s.project(
            "subpath",
            &format!(
                r#"
services:
  app:
    image: busybox
    command: {LOOP}
    volumes:
      - type: volume
        source: esc
        target: /data
        volume:
          subpath: link
volumes:
  esc:
    external: true
"#
            ),
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(err.contains("leaves the volume"), "{err}");

        // An external volume that does not exist.
        let dir = s.project(
            "external",
            &format!(
                r#"
services:
  app:
    image: busybox
    command: {LOOP}
    volumes: ["gone:/data"]
volumes:
  gone:
    external: true
"#
            ),
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(err.contains("external volume \"gone\" not found"), "{err}");
        assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
    });
}

#[test]
fn subpath_mounts_a_directory_of_the_volume() {
    sandboxed("volumes::subpath_mounts_a_directory_of_the_volume", |s| {
        s.import_busybox();
        let work = s.work.path();
        s.ok(work, &["volume", "create", "shared"]);
        let data = s.root.path().join("volumes/shared/_data");
        std::fs::create_dir_all(data.join("app/conf")).unwrap();
        std::fs::write(data.join("app/conf/x"), "inside\n").unwrap();
        let dir = s.project(
            "sub",
            &format!(
                r#"
services:
  db:
    image: busybox
    command: {LOOP}
    volumes:
      - type: volume
        source: shared
        target: /conf
        read_only: true
        volume:
          subpath: app/conf
volumes:
  shared:
    external: true
"#
            ),
        );
        s.ok(&dir, &["up", "-d"]);
        assert_eq!(exec(s, &dir, "cat /conf/x").trim(), "inside");
        assert_eq!(exec(s, &dir, "ls /conf").trim(), "x");
        s.ok(&dir, &["down", "-v"]);
        // External: never removed.
        assert!(s.ok(work, &["volume", "ls", "-q"]).contains("shared"));
    });
}

#[test]
fn volume_commands() {
    sandboxed("volumes::volume_commands", |s| {
        let work = s.work.path();
        assert_eq!(
            s.ok(work, &["volume", "create", "--label", "team=db", "one"])
                .trim(),
            "one"
        );
        s.ok(work, &["volume", "create", "two"]);
        // Creating it again is a no-op, as with docker.
        s.ok(work, &["volume", "create", "two"]);
        let table = s.ok(work, &["volume", "ls"]);
        assert!(table.starts_with("DRIVER"), "{table}");
        assert!(table.contains("VOLUME NAME"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.split_whitespace().eq(["local", "one"])),
            "{table}"
        );
        let json = s.ok(work, &["volume", "ls", "--format", "json"]);
        let first: serde_json::Value = serde_json::from_str(json.lines().next().unwrap()).unwrap();
        assert_eq!(first["Name"], "one");
        assert_eq!(first["Labels"], "team=db");
        assert_eq!(
            s.ok(work, &["volume", "ls", "-q", "--filter", "label=team=db"])
                .trim(),
            "one"
        );
        assert_eq!(
            s.ok(work, &["volume", "ls", "-q", "--filter", "dangling=true"])
                .lines()
                .count(),
            2
        );
        let err = s.fails(work, &["volume", "create", "bad/name"]);
        assert!(err.contains("invalid volume name"), "{err}");
        let err = s.fails(work, &["volume", "create", "-d", "nfs", "x1"]);
        assert!(err.contains("only the local driver"), "{err}");
        let err = s.fails(work, &["volume", "inspect", "nope"]);
        assert!(err.contains("nope"), "{err}");
        assert_eq!(s.ok(work, &["volume", "rm", "one"]).trim(), "one");
        // prune removes only anonymous volumes unless -a.
        s.ok(work, &["volume", "prune", "-f"]);
        assert!(s.ok(work, &["volume", "ls", "-q"]).contains("two"));
        s.ok(work, &["volume", "prune", "-a", "-f"]);
        assert_eq!(s.ok(work, &["volume", "ls", "-q"]).trim(), "");
    });
}

#[test]
fn tmpfs_mounts_get_their_size_mode_and_flags() {
    sandboxed("volumes::tmpfs_mounts_get_their_size_mode_and_flags", |s| {
        s.import_busybox();
        let dir = s.project(
            "tmpfs",
            &format!(
                r#"
services:
  db:
    image: busybox
    command: {LOOP}
    tmpfs:
      - /run/cache:size=64m,mode=1770
      - /scratch:exec,uid=33
    volumes:
      - type: tmpfs
        target: /var/spool
        tmpfs:
          size: 2m
          mode: 0o700
"#
            ),
        );
        s.ok(&dir, &["up", "-d"]);
        let mounts = exec(s, &dir, "cat /proc/mounts");
        let options = |target: &str| -> Vec<String> {
            let line = mounts
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(target))
                .unwrap_or_else(|| panic!("no mount on {target}: {mounts}"));
            assert!(line.starts_with("tmpfs "), "{line}");
            line.split_whitespace()
                .nth(3)
                .unwrap()
                .split(',')
                .map(str::to_string)
                .collect()
        };
        let cache = options("/run/cache");
        for wanted in [
            "rw",
            "nosuid",
            "nodev",
            "noexec",
            "size=65536k",
            "mode=1770",
        ] {
            assert!(cache.iter().any(|o| o == wanted), "{wanted}: {cache:?}");
        }
        let scratch = options("/scratch");
        assert!(!scratch.iter().any(|o| o == "noexec"), "{scratch:?}");
        assert!(scratch.iter().any(|o| o == "uid=33"), "{scratch:?}");
        let spool = options("/var/spool");
        assert!(
            spool.iter().any(|o| o == "size=2048k") && spool.iter().any(|o| o == "mode=700"),
            "{spool:?}"
        );
        assert_eq!(exec(s, &dir, "stat -c %a /run/cache").trim(), "1770");
        assert_eq!(
            exec(s, &dir, "df -k /run/cache | tail -1")
                .split_whitespace()
                .nth(1),
            Some("65536")
        );
        // Programs run from /scratch only (busybox runs as the applet it is named).
        exec(s, &dir, "cp /bin/busybox /scratch/true && /scratch/true");
        exec(s, &dir, "cp /bin/busybox /run/cache/true");
        let out = s.wharf(&dir, &["exec", "db", "/run/cache/true"]);
        assert_ne!(out.status.code(), Some(0), "noexec tmpfs ran a program");
        s.ok(&dir, &["down"]);
    });
}

#[test]
fn volumes_from_shares_volumes_and_binds_but_not_tmpfs() {
    sandboxed(
        "volumes::volumes_from_shares_volumes_and_binds_but_not_tmpfs",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "vf",
                &format!(
                    r#"
services:
  db:
    image: busybox
    command: {LOOP}
    volumes:
      - /shared
      - ./site:/site
    tmpfs: [/private]
  reader:
    image: busybox
    command: {LOOP}
    volumes_from: ["db:ro"]
  writer:
    image: busybox
    command: {LOOP}
    volumes_from: [db]
    volumes: ["./site:/shared/site:ro"]
"#
                ),
            );
            std::fs::create_dir_all(dir.join("site")).unwrap();
            std::fs::write(dir.join("site/index.html"), "home\n").unwrap();
            s.ok(&dir, &["up", "-d"]);
            let run =
                |service: &str, script: &str| s.ok(&dir, &["exec", service, "sh", "-c", script]);
            run("db", "echo from-db > /shared/a && echo mine > /private/p");
            assert_eq!(run("reader", "cat /shared/a").trim(), "from-db");
            assert_eq!(run("reader", "cat /site/index.html").trim(), "home");
            run("writer", "echo from-writer > /shared/b");
            // Its own mount inside an inherited one is mounted after it.
            assert_eq!(run("writer", "cat /shared/site/index.html").trim(), "home");
            assert_eq!(run("db", "cat /shared/b").trim(), "from-writer");
            // :ro makes every mount read-only.
            let out = s.wharf(&dir, &["exec", "reader", "touch", "/shared/c"]);
            assert_ne!(out.status.code(), Some(0), "reader wrote to /shared");
            // Not the tmpfs.
            assert_eq!(run("reader", "ls /private 2>/dev/null | wc -l").trim(), "0");

            // container:NAME from another project, and a missing one.
            let other = s.project(
                "vf2",
                &format!(
                    "services:\n  peek:\n    image: busybox\n    command: {LOOP}\n    volumes_from: [\"container:vf-db-1:ro\"]\n"
                ),
            );
            s.ok(&other, &["up", "-d"]);
            assert_eq!(
                s.ok(&other, &["exec", "peek", "cat", "/shared/b"]).trim(),
                "from-writer"
            );
            // The anonymous volume is in use by every container that takes it.
            let volumes = s.ok(&dir, &["volume", "ls", "-q"]);
            let shared = volumes.lines().next().expect(&volumes).to_string();
            let refused = s.fails(&dir, &["volume", "rm", "-f", &shared]);
            for user in ["vf-db-1", "vf-reader-1", "vf-writer-1", "vf2-peek-1"] {
                assert!(refused.contains(user), "{user} missing: {refused}");
            }
            let missing = s.project(
                "vf3",
                &format!(
                    "services:\n  peek:\n    image: busybox\n    command: {LOOP}\n    volumes_from: [\"container:nobody-here\"]\n"
                ),
            );
            let err = s.fails(&missing, &["up", "-d"]);
            assert!(
                err.contains("volumes_from names container nobody-here, which does not exist"),
                "{err}"
            );
            assert_eq!(s.ok(&missing, &["ps", "-a", "-q"]).trim(), "");
            s.ok(&other, &["down"]);
            s.ok(&dir, &["down"]);
        },
    );
}

#[test]
fn a_bind_with_rslave_propagation_sees_later_host_mounts() {
    use nix::mount::{mount, umount2, MntFlags, MsFlags};
    sandboxed(
        "volumes::a_bind_with_rslave_propagation_sees_later_host_mounts",
        |s| {
            s.import_busybox();
            let compose = |propagation: &str| {
                format!(
                    r#"
services:
  db:
    image: busybox
    command: {LOOP}
    volumes:
      - type: bind
        source: ./media
        target: /media
        bind:
          propagation: {propagation}
"#
                )
            };
            let dir = s.project("prop", &compose("rslave"));
            let media = dir.join("media");
            std::fs::create_dir_all(&media).unwrap();
            // A private source cannot pass mount events on: refused, as docker does.
            let err = s.fails(&dir, &["up", "-d"]);
            assert!(
                err.contains("asks for rslave propagation") && err.contains("is private"),
                "{err}"
            );
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");

            let none: Option<&str> = None;
            mount(Some("tmpfs"), &media, Some("tmpfs"), MsFlags::empty(), none).unwrap();
            mount(none, &media, none, MsFlags::MS_SHARED, none).unwrap();
            std::fs::create_dir(media.join("usb")).unwrap();
            s.ok(&dir, &["up", "-d"]);
            // Mounted on the host after the container started: seen inside.
            mount(
                Some("tmpfs"),
                &media.join("usb"),
                Some("tmpfs"),
                MsFlags::empty(),
                none,
            )
            .unwrap();
            std::fs::write(media.join("usb/found.txt"), "plugged in\n").unwrap();
            assert_eq!(
                exec(s, &dir, "cat /media/usb/found.txt").trim(),
                "plugged in"
            );
            s.ok(&dir, &["down"]);

            // Without propagation the container keeps what it saw at start.
            umount2(&media.join("usb"), MntFlags::empty()).unwrap();
            std::fs::write(dir.join("compose.yaml"), compose("rprivate")).unwrap();
            s.ok(&dir, &["up", "-d"]);
            mount(
                Some("tmpfs"),
                &media.join("usb"),
                Some("tmpfs"),
                MsFlags::empty(),
                none,
            )
            .unwrap();
            std::fs::write(media.join("usb/found.txt"), "plugged in\n").unwrap();
            assert_eq!(exec(s, &dir, "ls /media/usb | wc -l").trim(), "0");
            s.ok(&dir, &["down"]);
        },
    );
}
