//! Health checks and `depends_on` conditions: `service_healthy` waits for the
//! check to pass, `service_completed_successfully` for a job to exit 0, and a
//! dependency that fails its condition fails `up` and rolls it back.

use crate::harness::{sandboxed, Sandbox};
use std::path::Path;

const LOOP: &str = r#"["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]"#;

fn stack(s: &Sandbox, name: &str, db_check: &str, migrate: &str) -> std::path::PathBuf {
    let yaml = format!(
        r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    healthcheck:
      test: {db_check}
      interval: 200ms
      retries: 3
      start_period: 10s
  migrate:
    image: busybox
    command: ["sh", "-c", "{migrate}"]
    depends_on:
      db: {{condition: service_healthy}}
  app:
    image: busybox
    command: {LOOP}
    depends_on:
      db: {{condition: service_healthy}}
      migrate: {{condition: service_completed_successfully}}
"#
    );
    s.project(name, &yaml)
}

fn position(haystack: &str, needle: &str) -> usize {
    haystack
        .find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{haystack}"))
}

fn ps_all(s: &Sandbox, dir: &Path) -> String {
    s.ok(dir, &["ps", "-a"])
}

#[test]
fn conditions_wait_for_health_and_completion() {
    sandboxed("health::conditions_wait_for_health_and_completion", |s| {
        s.import_busybox();
        let dir = stack(
            s,
            "good",
            r#"["CMD", "test", "-f", "/tmp/ready"]"#,
            "echo migrated",
        );
        let out = s.wharf(&dir, &["up", "-d"]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        let waiting = position(&err, "Container good-db-1  Waiting");
        let healthy = position(&err, "Container good-db-1  Healthy");
        let migrated = position(&err, "Container good-migrate-1  Exited");
        let app = position(&err, "Container good-app-1  Started");
        assert!(
            waiting < healthy && healthy < migrated && migrated < app,
            "{err}"
        );
        let ps = ps_all(s, &dir);
        let db = ps.lines().find(|l| l.starts_with("good-db-1")).expect(&ps);
        assert!(db.contains("(healthy)"), "{ps}");
        let logs = s.ok(&dir, &["logs", "--no-log-prefix", "migrate"]);
        assert_eq!(logs.trim(), "migrated");
        s.ok(&dir, &["down"]);
    });
}

#[test]
fn failed_conditions_fail_up_and_roll_back() {
    sandboxed("health::failed_conditions_fail_up_and_roll_back", |s| {
        s.import_busybox();
        let dir = stack(s, "sick", r#"["CMD", "false"]"#, "echo migrated");
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(
            err.contains("dependency failed to start: container sick-db-1 is unhealthy"),
            "{err}"
        );
        assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "", "rolled back");

        let dir = stack(
            s,
            "broken",
            r#"["CMD", "test", "-f", "/tmp/ready"]"#,
            "exit 4",
        );
        let err = s.fails(&dir, &["up", "-d"]);
        assert!(
            err.contains("service \"migrate\" didn't complete successfully: exit 4"),
            "{err}"
        );
        assert_eq!(s.ok(&dir, &["ps", "-a", "-q"]).trim(), "", "rolled back");
    });
}

#[test]
fn the_image_healthcheck_applies_unless_the_service_disables_it() {
    sandboxed(
        "health::the_image_healthcheck_applies_unless_the_service_disables_it",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "imagecheck",
                &format!(
                    r#"
services:
  checked:
    build: ./img
    command: {LOOP}
  unchecked:
    build: ./img
    command: {LOOP}
    healthcheck:
      disable: true
"#
                ),
            );
            std::fs::create_dir_all(dir.join("img")).unwrap();
            std::fs::write(
                dir.join("img/Dockerfile"),
                "FROM busybox:latest\nHEALTHCHECK --interval=200ms --retries=2 CMD true\n",
            )
            .unwrap();
            s.ok(&dir, &["up", "--wait"]);
            let ps = ps_all(s, &dir);
            let checked = ps
                .lines()
                .find(|l| l.starts_with("imagecheck-checked-1"))
                .expect(&ps);
            assert!(checked.contains("(healthy)"), "{ps}");
            let unchecked = ps
                .lines()
                .find(|l| l.starts_with("imagecheck-unchecked-1"))
                .expect(&ps);
            assert!(!unchecked.contains("health"), "{ps}");
            s.ok(&dir, &["down"]);
        },
    );
}
