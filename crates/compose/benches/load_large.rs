//! `cargo bench -p wharf-compose --bench load_large`: loading big generated
//! files: one service with 50 000 labels (one mapping with many keys: the
//! duplicate-key check must stay linear), a 10 MB file of 2 000 services and
//! a `depends_on` chain of 5 000 services enabled by the profile of its head
//! (enabling it must stay linear in the chain) (target: each well under a
//! second). Prints the time of one load of each.

use std::fmt::Write as _;
use std::time::Instant;

/// One service whose `labels` mapping has `count` keys.
fn many_labels(count: usize) -> String {
    let mut y = String::from("services:\n  web:\n    image: nginx\n    labels:\n");
    for i in 0..count {
        let _ = writeln!(y, "      com.example.label{i}: value{i}");
    }
    y
}

/// Services with labels and environment until the text reaches `bytes`.
fn big_file(bytes: usize) -> String {
    let mut y = String::from("services:\n");
    let mut i = 0;
    while y.len() < bytes {
        let _ = write!(
            y,
            "  svc{i}:\n    image: registry.example/app{i}:1.0\n    command: [\"serve\", \"--port\", \"{port}\"]\n    ports: [\"{port}:80\"]\n    environment:\n",
            port = 10000 + i % 50000
        );
        for k in 0..40 {
            let _ = writeln!(y, "      VAR_{k}: value-{i}-{k}");
        }
        y.push_str("    labels:\n");
        for k in 0..60 {
            let _ = writeln!(y, "      com.example.svc{i}.label{k}: \"{k}\"");
        }
        i += 1;
    }
    y
}

/// `count` services, each depending on the next; only the first is in the
/// active profile `top`, the others come with it.
fn dependency_chain(count: usize) -> String {
    let mut y = String::from("services:\n");
    for i in 0..count {
        let profile = if i == 0 { "top" } else { "deep" };
        let _ = write!(y, "  s{i}:\n    image: x\n    profiles: [{profile}]\n");
        if i + 1 < count {
            let _ = writeln!(y, "    depends_on: [s{}]", i + 1);
        }
    }
    y
}

fn time_load(name: &str, text: &str, profiles: &[&str]) {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("bench");
    std::fs::create_dir(&root).expect("mkdir");
    std::fs::write(root.join("compose.yaml"), text).expect("write");
    let options = wharf_compose::LoadOptions {
        cwd: root.clone(),
        profiles: profiles.iter().map(|p| p.to_string()).collect(),
        ..Default::default()
    };
    let cpu = thread_cpu_seconds();
    let t = Instant::now();
    let p = wharf_compose::load(&options).expect("load");
    let elapsed = t.elapsed();
    let cpu = thread_cpu_seconds()
        .zip(cpu)
        .map(|(after, before)| after - before);
    println!(
        "{name} ({:.1} MB, {} services): {:.3} s wall, {}",
        text.len() as f64 / 1e6,
        p.services.len(),
        elapsed.as_secs_f64(),
        cpu.map_or("CPU time unknown".to_string(), |c| format!("{c:.2} s CPU")),
    );
}

/// User and system time of this thread from `/proc` (in 10 ms ticks), when there.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").ok()?;
    // Fields after the command name, which is in parentheses: utime and stime
    // are the 12th and 13th of them.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

fn main() {
    time_load("50 000 labels on one service", &many_labels(50_000), &[]);
    time_load("10 MB file", &big_file(10_000_000), &[]);
    time_load(
        "a chain of 5 000 services enabled by a profile",
        &dependency_chain(5_000),
        &["top"],
    );
}
