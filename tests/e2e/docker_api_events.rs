//! `GET /events` follows the projects that begin after the stream did: an
//! event of a project that existed shows the stream is live, then a new
//! project comes up and its events reach the same stream.

use crate::docker_api::{docker_cli, Service};
use crate::harness::sandboxed;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::time::Duration;

const APP: &str = "services:\n  app:\n    image: busybox\n    command: [\"sleep\", \"300\"]\n    stop_grace_period: 1s\n";

/// Wait for a line of `lines` holding every one of `parts`.
fn wait_for(lines: &mpsc::Receiver<String>, parts: &[&str], what: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match lines.recv_timeout(left) {
            Ok(line) if parts.iter().all(|p| line.contains(p)) => return line,
            Ok(_) => {}
            Err(_) => panic!("no event of {what} on the stream"),
        }
    }
}

#[test]
fn the_event_stream_follows_a_project_made_after_it_began() {
    // The docker CLI marks the machine that has the API tests' tools.
    if docker_cli().is_none() {
        return;
    }
    sandboxed(
        "docker_api_events::the_event_stream_follows_a_project_made_after_it_began",
        |s| {
            s.import_busybox();
            let old = s.project("old", APP);
            s.ok(&old, &["up", "-d"]);
            let service = Service::start(s, &["--timeout", "0"]);
            let mut api = UnixStream::connect(&service.socket).unwrap();
            write!(
                api,
                "GET /v1.47/events HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
            )
            .unwrap();
            let (sender, lines) = mpsc::channel();
            std::thread::spawn(move || {
                for line in BufReader::new(api).lines() {
                    let Ok(line) = line else { return };
                    if sender.send(line).is_err() {
                        return;
                    }
                }
            });

            // Live: an event of the project that was there before.
            s.ok(&old, &["restart"]);
            wait_for(&lines, &["\"Action\":\"start\"", "old"], "the old project");

            let fresh = s.project("fresh", APP);
            s.ok(&fresh, &["up", "-d"]);
            wait_for(
                &lines,
                &["\"Action\":\"create\"", "fresh"],
                "the new project's create",
            );
            wait_for(
                &lines,
                &["\"Action\":\"start\"", "fresh"],
                "the new project's start",
            );
            s.ok(&fresh, &["down"]);
            s.ok(&old, &["down"]);
        },
    );
}

/// The threads of process `pid`.
fn thread_count(pid: u32) -> usize {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|tasks| tasks.count())
        .unwrap_or(0)
}

#[test]
fn an_event_client_that_leaves_takes_its_followers_with_it() {
    if docker_cli().is_none() {
        return;
    }
    sandboxed(
        "docker_api_events::an_event_client_that_leaves_takes_its_followers_with_it",
        |s| {
            s.import_busybox();
            let (one, two) = (s.project("one", APP), s.project("two", APP));
            s.ok(&one, &["up", "-d"]);
            s.ok(&two, &["up", "-d"]);
            let service = Service::start(s, &["--timeout", "0"]);
            let pid = service.child.id();
            let before = thread_count(pid);

            // Each client: a follower a project and a scanner for new ones.
            let clients: Vec<UnixStream> = (0..3)
                .map(|_| {
                    let mut api = UnixStream::connect(&service.socket).unwrap();
                    write!(
                        api,
                        "GET /v1.47/events HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
                    )
                    .unwrap();
                    api
                })
                .collect();
            crate::harness::eventually("the followers to start", Duration::from_secs(10), || {
                (thread_count(pid) >= before + 9).then_some(())
            });

            // Gone while nothing happens in either project.
            drop(clients);
            crate::harness::eventually(
                "the followers of the clients gone to end",
                Duration::from_secs(10),
                || (thread_count(pid) <= before).then_some(()),
            );
            s.ok(&one, &["down"]);
            s.ok(&two, &["down"]);
        },
    );
}
