//! The devstack example (MariaDB + Redis + a Python web app, built FROM a
//! debootstrapped debian:bookworm-slim) end to end: up, counters in Redis and
//! rows in MariaDB, data surviving `down` + `up` in the named volume, `down -v`
//! removing it, and nothing left behind.
//!
//! Its images install Debian packages while they build, which needs the
//! internet, so they are built outside the test by
//! `scripts/make-devstack-images.sh` (which `scripts/test.sh` runs) and loaded
//! here from the archive it prints (`WHARF_DEVSTACK_IMAGES`, else the newest
//! archive in the cache directory).

use crate::harness::{http_get, sandboxed, Sandbox};
use std::path::{Path, PathBuf};

/// How the archive is made, for the failures that find none.
const BUILD_IT: &str = "`bash scripts/make-devstack-images.sh target/debug/wharf` builds it and \
     prints its path (scripts/test.sh runs it and sets WHARF_DEVSTACK_IMAGES; it needs the \
     internet the first time, as the images install Debian packages)";

/// The devstack images' archive: `WHARF_DEVSTACK_IMAGES`, else the newest
/// in the cache directory. None found fails the test with what to run: the
/// test suite's command always provides one.
fn images_archive() -> PathBuf {
    let is_archive =
        |path: &Path| std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.len() > 0);
    if let Some(path) = std::env::var_os("WHARF_DEVSTACK_IMAGES") {
        let path = PathBuf::from(path);
        assert!(
            is_archive(&path),
            "WHARF_DEVSTACK_IMAGES names {}, which is missing or empty: {BUILD_IT}",
            path.display()
        );
        return path;
    }
    let cache =
        std::env::var_os("WHARF_DEV_CACHE").unwrap_or_else(|| "/var/cache/wharf-dev".into());
    let newest = std::fs::read_dir(&cache).ok().and_then(|entries| {
        entries
            .flatten()
            .filter(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                name.starts_with("devstack-images-")
                    && name.ends_with(".tar")
                    && is_archive(&e.path())
            })
            .max_by_key(|e| e.metadata().and_then(|m| m.modified()).ok())
            .map(|e| e.path())
    });
    newest.unwrap_or_else(|| {
        panic!(
            "the devstack image archive is missing: WHARF_DEVSTACK_IMAGES is not set and {} holds \
             no devstack-images-*.tar (WHARF_DEV_CACHE chooses that directory): {BUILD_IT}",
            Path::new(&cache).display()
        )
    })
}

fn example_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/devstack")
}

/// The web app's answer to `GET /`: (Redis hits, MariaDB visit rows).
fn visit() -> (u64, u64) {
    let response = http_get("127.0.0.1:8080", "/").expect("the web app answers on :8080");
    assert!(response.starts_with("HTTP/1.0 200"), "{response}");
    let body = response.split("\r\n\r\n").nth(1).unwrap_or("");
    let number = |key: &str| -> u64 {
        let start = body.find(&format!("\"{key}\": ")).expect(body) + key.len() + 4;
        body[start..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect::<String>()
            .parse()
            .expect(body)
    };
    (number("hits"), number("visits"))
}

fn up(s: &Sandbox, dir: &Path) {
    s.ok(dir, &["up", "-d", "--wait", "--wait-timeout", "180"]);
    let ps = s.ok(dir, &["ps", "--format", "json"]);
    for service in ["db", "cache", "web"] {
        assert!(
            ps.contains(&format!("\"Name\":\"devstack-{service}-1\"")),
            "{ps}"
        );
    }
    assert_eq!(ps.matches("\"Health\":\"healthy\"").count(), 3, "{ps}");
}

#[test]
fn devstack_up_counts_keeps_its_data_and_cleans_up() {
    let archive = images_archive();
    sandboxed(
        "devstack::devstack_up_counts_keeps_its_data_and_cleans_up",
        |s| {
            let loaded = s.ok(
                s.work.path(),
                &["image", "load", "-i", archive.to_str().unwrap()],
            );
            for image in ["devstack-db", "devstack-cache", "devstack-web"] {
                assert!(
                    loaded.contains(&format!("Loaded image: {image}:latest")),
                    "{loaded}"
                );
            }
            let dir = example_dir();

            up(s, &dir);
            assert_eq!(visit(), (1, 1));
            assert_eq!(visit(), (2, 2));
            let stats = s.ok(&dir, &["stats", "--no-stream"]);
            for (service, limit) in [("db", "512MiB"), ("cache", "128MiB"), ("web", "128MiB")] {
                let row = stats
                    .lines()
                    .find(|l| l.contains(&format!("devstack-{service}-1")))
                    .expect(&stats);
                assert!(row.contains(&format!(" / {limit}")), "{stats}");
            }
            // Only the web app publishes a port.
            let ps = s.ok(&dir, &["ps"]);
            assert_eq!(ps.matches("->").count(), 1, "{ps}");
            assert!(ps.contains("0.0.0.0:8080->8000/tcp"), "{ps}");

            // The database lives in its named volume; Redis keeps nothing.
            s.ok(&dir, &["down"]);
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
            let volumes = s.ok(&dir, &["volume", "ls", "-q"]);
            assert_eq!(volumes.trim(), "devstack_db-data");
            up(s, &dir);
            assert_eq!(visit(), (1, 3));

            s.ok(&dir, &["down", "-v"]);
            assert_eq!(s.ok(&dir, &["volume", "ls", "-q"]).trim(), "");
            assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "");
            // The monitors (which held the port) are gone when `down` returns.
            assert!(
                std::net::TcpStream::connect("127.0.0.1:8080").is_err(),
                "the port is still served after down"
            );
            crate::harness::no_links_left();
            let ruleset = std::process::Command::new("nft")
                .args(["list", "ruleset"])
                .output()
                .expect("running nft");
            let ruleset = String::from_utf8_lossy(&ruleset.stdout);
            assert!(!ruleset.contains("172."), "firewall rules left: {ruleset}");
            for entry in std::fs::read_dir("/proc").unwrap().flatten() {
                if let Ok(cmdline) = std::fs::read_to_string(entry.path().join("cmdline")) {
                    assert!(
                        !["__monitor", "mariadbd", "redis-server", "app.py"]
                            .iter()
                            .any(|p| cmdline.contains(p)),
                        "left running: {cmdline:?}"
                    );
                }
            }
            let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
            assert!(
                !mounts.contains(s.root.path().to_str().unwrap()),
                "mounts left: {mounts}"
            );
        },
    );
}
