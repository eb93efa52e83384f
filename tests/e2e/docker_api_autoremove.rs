//! `--rm` (`HostConfig.AutoRemove`) through the Engine API: the container's
//! monitor removes it when it ends and keeps it through a restart, whichever
//! front asked for the restart, and `wait` still gives the exit code of a
//! container that is gone.

use crate::docker_api::{docker_cli, status_line, Docker, Service};
use crate::harness::docker::{docker_link, ok};
use crate::harness::{eventually, sandboxed};
use std::time::Duration;

#[test]
fn an_auto_remove_container_goes_with_its_end_and_stays_through_restarts() {
    let Some(cli) = docker_cli() else { return };
    sandboxed(
        "docker_api_autoremove::an_auto_remove_container_goes_with_its_end_and_stays_through_restarts",
        |s| {
            s.import_busybox();
            let service = Service::start(s, &["--timeout", "0"]);
            let d = Docker {
                cli,
                service: &service,
                dir: s.work.path(),
            };
            let wharf_as_docker = docker_link(s);
            let running = |name: &str| {
                d.run(&["inspect", "-f", "{{.State.Running}}", name])
                    .stdout
                    .starts_with(b"true")
            };

            // Restarted through the API, then through wharf's own CLI
            // (which the service knows nothing of): kept both times.
            d.ok(&["run", "-d", "--rm", "--name", "kept", "busybox", "sleep", "300"]);
            d.ok(&["restart", "-t", "1", "kept"]);
            assert!(running("kept"));
            ok(s, &wharf_as_docker, &["restart", "-t", "1", "kept"]);
            eventually("kept to run again", Duration::from_secs(10), || {
                running("kept").then_some(())
            });
            d.ok(&["stop", "-t", "1", "kept"]);
            eventually("kept to go once stopped", Duration::from_secs(10), || {
                (!d.ok(&["ps", "-a", "--format", "{{.Names}}"]).contains("kept")).then_some(())
            });

            // `wait` with the removed condition: the code of a container
            // that its monitor removed.
            let id = d.ok(&[
                "create", "--rm", "--name", "short", "busybox", "sh", "-c", "sleep 1; exit 5",
            ]);
            let id = id.trim();
            d.ok(&["start", id]);
            let waited = service.post_json(&format!("/v1.41/containers/{id}/wait?condition=removed"), "");
            assert_eq!(status_line(&waited), "HTTP/1.1 200 OK", "{waited}");
            assert!(waited.contains("\"StatusCode\":5"), "{waited}");
            assert!(!d.ok(&["ps", "-a", "-q"]).contains(&id[..12]));
        },
    );
}
