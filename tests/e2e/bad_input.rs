//! Bad input: each mistake gives a one-line error with exit code 1 (15 for a
//! Compose file that does not load), never a panic, and a failed `up`
//! leaves nothing behind.

use crate::harness::{sandboxed, Sandbox};
use std::path::Path;

/// Nothing of the project exists: no container, no network, no bridge.
fn assert_nothing_left(s: &Sandbox, dir: &Path) {
    assert_eq!(s.ok(dir, &["ps", "-a", "-q"]).trim(), "", "containers left");
    let networks: Vec<_> = std::fs::read_dir(s.root.path().join("networks"))
        .map(|d| d.flatten().collect())
        .unwrap_or_default();
    assert!(networks.is_empty(), "networks left: {networks:?}");
    crate::harness::no_links_left();
}

fn one_line(stderr: &str) -> &str {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(lines.len(), 1, "expected one error line: {stderr}");
    lines[0]
}

#[test]
fn bad_compose_files_are_reported_with_positions() {
    sandboxed(
        "bad_input::bad_compose_files_are_reported_with_positions",
        |s| {
            let dir = s.project("yaml", "services:\n  web:\n    image: busybox\n   bad: [\n");
            let err = s.fails_loading(&dir, &["up", "-d"]);
            assert!(one_line(&err).contains("compose.yaml:"), "{err}");

            let dir = s.project(
                "unknown-dep",
                "services:\n  web:\n    image: busybox\n    depends_on: [db]\n",
            );
            let err = s.fails_loading(&dir, &["up", "-d"]);
            let line = one_line(&err);
            assert!(
                line.contains("compose.yaml:4:") && line.contains("\"db\""),
                "{err}"
            );

            let dir = s.project(
            "cycle",
            "services:\n  a:\n    image: busybox\n    depends_on: [b]\n  b:\n    image: busybox\n    depends_on: [a]\n",
        );
            let err = s.fails_loading(&dir, &["up", "-d"]);
            assert!(one_line(&err).contains("cycle"), "{err}");
        },
    );
}

#[test]
fn failed_up_leaves_nothing_behind() {
    sandboxed("bad_input::failed_up_leaves_nothing_behind", |s| {
        // No image at all: up tries to pull it (from a registry on loopback
        // that does not answer), fails, and creates nothing...
        let dir = s.project(
            "noimage",
            "services:\n  web:\n    image: 127.0.0.1:9/nosuchimage:1.0\n",
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(one_line(&err).contains("nosuchimage:1.0"), "{err}");
        assert_nothing_left(s, &dir);
        // ...and with --pull never says it is not there.
        let err = s.fails(&dir, &["up", "-d", "--pull", "never"]);
        assert!(one_line(&err).contains("not found locally"), "{err}");
        assert_nothing_left(s, &dir);

        s.import_busybox();

        // A port in use on the host: found before anything is created.
        let taken = std::net::TcpListener::bind("127.0.0.1:18081").unwrap();
        let dir = s.project(
            "port",
            "services:\n  a:\n    image: busybox\n    command: [sleep, '60']\n  b:\n    image: busybox\n    command: [sleep, '60']\n    depends_on: [a]\n    ports: ['127.0.0.1:18081:80']\n",
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(one_line(&err).contains("127.0.0.1:18081"), "{err}");
        // ...and the error says who holds it: this test process.
        let holder = format!("(pid {})", std::process::id());
        assert!(one_line(&err).contains(&holder), "{err}");
        assert!(!err.contains("Creat"), "created before the check: {err}");
        assert_nothing_left(s, &dir);
        drop(taken);

        // A memory limit below what a container can run with.
        let dir = s.project(
            "tiny",
            "services:\n  a:\n    image: busybox\n    command: [sleep, '60']\n    mem_limit: 4k\n",
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(one_line(&err).contains("memory"), "{err}");
        assert_nothing_left(s, &dir);

        // A command that does not exist in the image.
        let dir = s.project(
            "nocommand",
            "services:\n  a:\n    image: busybox\n    command: [/no/such/binary]\n",
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(one_line(&err).contains("/no/such/binary"), "{err}");
        assert_nothing_left(s, &dir);
    });
}

/// Regression: a layer that is not a tar archive was reported as
/// "bad layer layer sha256:…".
#[test]
fn a_layer_that_is_not_a_tar_archive_is_named_once() {
    sandboxed(
        "bad_input::a_layer_that_is_not_a_tar_archive_is_named_once",
        |s| {
            // No compression's magic, and no valid tar header either.
            let layer = s.work.path().join("rootfs.tar");
            std::fs::write(&layer, [0x5a; 1536]).unwrap();
            let stderr = s.fails(
                s.work.path(),
                &["image", "import", layer.to_str().unwrap(), "broken:latest"],
            );
            let line = one_line(&stderr);
            assert!(line.contains("bad layer sha256:"), "{line}");
            assert!(!line.contains("layer layer"), "{line}");
        },
    );
}
