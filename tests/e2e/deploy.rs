//! Deploying on one host: restarts of containers that stay unhealthy
//! (`deploy.restart_policy`) and start-first updates
//! (`deploy.update_config`).

use crate::harness::{eventually, sandboxed, Sandbox};
use std::path::Path;
use std::time::Duration;

/// Healthy for about a second after each start, unhealthy after.
const FLAKY: &str = r#"["sh", "-c", "touch /tmp/ok; (sleep 1; rm /tmp/ok) & trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]"#;

fn events(s: &Sandbox, dir: &Path) -> String {
    let until = format!(
        "{}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 1
    );
    s.ok(dir, &["events", "--since", "0", "--until", &until])
}

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn an_unhealthy_container_is_restarted_up_to_max_attempts() {
    sandboxed(
        "deploy::an_unhealthy_container_is_restarted_up_to_max_attempts",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "heal",
                &format!(
                    r#"
services:
  app:
    image: busybox
    command: {FLAKY}
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 200ms
      retries: 2
    deploy:
      restart_policy:
        condition: any
        delay: 300ms
        max_attempts: 2
        window: 120s
"#
                ),
            );
            s.ok(&dir, &["up", "-d"]);
            // interval × retries + delay, plus a second of health and slack.
            let first = eventually("the first restart", Duration::from_secs(10), || {
                let events = events(s, &dir);
                (count(&events, "container restart") >= 1).then_some(events)
            });
            let unhealthy = first.find("health_status: unhealthy").expect(&first);
            let restart = first.find("container restart").expect(&first);
            assert!(unhealthy < restart, "unhealthy, then restart:\n{first}");

            // The third unhealthy verdict is beyond max_attempts: it stays.
            let events = eventually("a third unhealthy verdict", Duration::from_secs(30), || {
                let events = events(s, &dir);
                (count(&events, "health_status: unhealthy") >= 3).then_some(events)
            });
            assert_eq!(count(&events, "container restart"), 2, "{events}");
            let ps = eventually("ps to show it unhealthy", Duration::from_secs(5), || {
                let ps = s.ok(&dir, &["ps"]);
                ps.contains("(unhealthy)").then_some(ps)
            });
            assert!(ps.contains("heal-app-1"), "{ps}");
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

#[test]
fn without_a_deploy_restart_policy_an_unhealthy_container_is_left_alone() {
    sandboxed(
        "deploy::without_a_deploy_restart_policy_an_unhealthy_container_is_left_alone",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "alone",
                &format!(
                    r#"
services:
  app:
    image: busybox
    command: {FLAKY}
    restart: always
    healthcheck:
      test: ["CMD", "test", "-f", "/tmp/ok"]
      interval: 200ms
      retries: 2
"#
                ),
            );
            s.ok(&dir, &["up", "-d"]);
            let events = eventually("an unhealthy verdict", Duration::from_secs(10), || {
                let events = events(s, &dir);
                (count(&events, "health_status: unhealthy") >= 1).then_some(events)
            });
            assert_eq!(count(&events, "container restart"), 0, "{events}");
            assert_eq!(count(&events, "container die"), 0, "{events}");
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}
