//! Soak: 50 services each print 100,000 numbered lines as fast as they can,
//! all at once. `stats --no-stream` answers while the output pours in, and
//! `logs` then returns every line of every service exactly once, in order.

use crate::harness::{sandboxed, Sandbox};
use std::path::Path;
use std::time::{Duration, Instant};

const SERVICES: usize = 50;
const LINES: u32 = 100_000;

fn compose() -> String {
    // Wait for a line on the go pipe (so all services write at once, after
    // `up`), print the numbers, then idle.
    let write = format!(
        "read go < /go/pipe; seq 1 {LINES}; trap 'exit 0' TERM; while :; do sleep 60 & wait; done"
    );
    let mut yaml = String::from("services:\n");
    for i in 0..SERVICES {
        yaml.push_str(&format!(
            "  s{i:02}:\n    image: busybox:latest\n    volumes: [\"./go:/go:ro\"]\n    command: [\"sh\", \"-c\", \"{write}\"]\n"
        ));
    }
    yaml
}

/// The last complete line of the container's log file, read from its end.
fn last_log_record(root: &Path, id: &str) -> String {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(root.join("containers").join(id).join("container.log"))
    else {
        return String::new();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(256)));
    let mut tail = String::new();
    let _ = file.read_to_string(&mut tail);
    tail.lines().last().unwrap_or_default().to_string()
}

/// Service name → its lines' numbers, from `logs` output with prefixes.
fn numbers_by_service(logs: &str) -> std::collections::BTreeMap<String, Vec<u32>> {
    let mut by_service: std::collections::BTreeMap<String, Vec<u32>> = Default::default();
    for line in logs.lines() {
        let (prefix, text) = line
            .split_once(" | ")
            .unwrap_or_else(|| panic!("no prefix in {line:?}"));
        let number = text
            .parse()
            .unwrap_or_else(|_| panic!("not a number in {line:?}"));
        by_service
            .entry(prefix.trim().to_string())
            .or_default()
            .push(number);
    }
    by_service
}

#[test]
fn logs_of_fifty_busy_services_are_complete_and_in_order() {
    sandboxed(
        "soak::logs_of_fifty_busy_services_are_complete_and_in_order",
        |s: &Sandbox| {
            s.import_busybox();
            let dir = s.project("soak", &compose());
            std::fs::create_dir_all(dir.join("go")).unwrap();
            let pipe = dir.join("go/pipe");
            nix::unistd::mkfifo(&pipe, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
            let started = Instant::now();
            s.ok(&dir, &["up", "-d"]);
            eprintln!("up -d of {SERVICES} services: {:?}", started.elapsed());
            // One line a service; kept open (read and write, so the open does
            // not wait for a reader) until a service that reaches its `read`
            // late has had its line.
            let mut go = std::fs::OpenOptions::new()
                .read(true)
                .write(true)
                .open(&pipe)
                .unwrap();
            std::io::Write::write_all(&mut go, "go\n".repeat(SERVICES).as_bytes()).unwrap();
            let started = Instant::now();

            // While the services write, stats answers for every one of them.
            let asked = Instant::now();
            let stats = s.ok(&dir, &["stats", "--no-stream"]);
            let took = asked.elapsed();
            eprintln!("stats --no-stream while writing: {took:?}");
            assert!(
                took < Duration::from_secs(30),
                "stats --no-stream took {took:?}"
            );
            let rows = stats.lines().filter(|l| l.contains("soak-s")).count();
            assert_eq!(rows, SERVICES, "{stats}");
            let ids: Vec<String> = s
                .ok(&dir, &["ps", "-q"])
                .lines()
                .map(str::to_string)
                .collect();
            assert_eq!(ids.len(), SERVICES);
            let last = format!("\"log\":\"{LINES}\\n\"");
            let finished = ids
                .iter()
                .filter(|id| last_log_record(s.root.path(), id).contains(&last))
                .count();
            eprintln!("services done writing when stats returned: {finished} of {SERVICES}");

            // Wait until each service's last number reached its log file.
            let deadline = Instant::now() + Duration::from_secs(120);
            for id in &ids {
                while !last_log_record(s.root.path(), id).contains(&last) {
                    assert!(
                        Instant::now() < deadline,
                        "container {id} did not log {LINES} lines in time: its last record is {:?}",
                        last_log_record(s.root.path(), id)
                    );
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            eprintln!("all lines written: {:?}", started.elapsed());
            drop(go);

            let asked = Instant::now();
            let logs = s.ok(&dir, &["logs", "--no-color"]);
            eprintln!(
                "logs of {} lines: {:?}",
                logs.lines().count(),
                asked.elapsed()
            );
            let by_service = numbers_by_service(&logs);
            assert_eq!(by_service.len(), SERVICES, "{:?}", by_service.keys());
            let expected: Vec<u32> = (1..=LINES).collect();
            for (service, numbers) in &by_service {
                if numbers != &expected {
                    let first_wrong = numbers
                        .iter()
                        .zip(&expected)
                        .position(|(got, want)| got != want);
                    panic!(
                        "{service}: {} lines, first out of place at {first_wrong:?}",
                        numbers.len()
                    );
                }
            }
            s.ok(&dir, &["down", "-t", "1"]);
        },
    );
}
