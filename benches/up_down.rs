//! Benchmark: median wall time of `wharf up -d` and `wharf down` of the
//! `examples/hello` stack (two busybox services), over RUNS runs (default 10),
//! and of `down -t 0`.
//! Runs as root inside fresh mount, network and pid namespaces with a
//! temporary state root, like the end-to-end tests. Prints the figures.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use wharf_testkit::sandbox;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !sandbox::inside() {
        let parent = sandbox::unique_cgroup_parent("wharf-bench");
        let out = sandbox::reexec(&[], &parent);
        print!("{}", String::from_utf8_lossy(&out.stdout));
        sandbox::remove_cgroups(&parent);
        std::process::exit(out.status.code().unwrap_or(1));
    }
    wharf_net::loopback_up().expect("setting lo up");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = |dir: &Path, args: &[&str]| {
        let out = Command::new(wharf)
            .args(args)
            .current_dir(dir)
            .env("WHARF_ROOT", root.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "wharf {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let tar = work.path().join("busybox.tar");
    let status = Command::new("bash")
        .arg(repo.join("scripts/make-busybox-tar.sh"))
        .arg(&tar)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    run(
        work.path(),
        &["image", "import", tar.to_str().unwrap(), "busybox:latest"],
    );
    let project = work.path().join("hello");
    std::fs::create_dir_all(project.join("site")).unwrap();
    std::fs::copy(
        repo.join("examples/hello/compose.yaml"),
        project.join("compose.yaml"),
    )
    .unwrap();
    std::fs::copy(
        repo.join("examples/hello/site/index.html"),
        project.join("site/index.html"),
    )
    .unwrap();

    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(10);
    // busybox httpd, as the first process of its pid namespace, has no SIGTERM
    // handler, so the kernel drops the stop signal and `down` waits the whole
    // grace period (docker compose does the same); `down -t 0` shows the cost
    // of wharf's own work.
    measure("hello stack (2 services)", &project, runs, &run, true);
    process_costs(&project, runs, &run);

    for count in [50, 100] {
        let dir = work.path().join(format!("many{count}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut yaml = String::from("services:\n");
        for i in 0..count {
            yaml.push_str(&format!(
                "  s{i}:\n    image: busybox:latest\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 60 & wait; done\"]\n"
            ));
        }
        std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
        let runs = if count > 50 { runs.min(3) } else { runs.min(5) };
        measure(&format!("{count} services"), &dir, runs, &run, false);
    }
}

/// With the stack up: `run --rm` and `exec` latency, and the memory of the
/// per-container monitors (the only processes wharf leaves running).
fn process_costs(dir: &Path, runs: usize, run: &dyn Fn(&Path, &[&str])) {
    run(dir, &["up", "-d"]);
    let time = |args: &[&str]| {
        let mut all: Vec<Duration> = (0..runs.max(5))
            .map(|_| {
                let start = Instant::now();
                run(dir, args);
                start.elapsed()
            })
            .collect();
        all.sort();
        all[all.len() / 2]
    };
    let run_rm = time(&["run", "--rm", "--no-deps", "-T", "worker", "true"]);
    let exec = time(&["exec", "-T", "worker", "true"]);
    let mut rss_kib = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains("__monitor") {
            let status = std::fs::read_to_string(entry.path().join("status")).unwrap_or_default();
            if let Some(kib) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmRSS:"))
                .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<u64>().ok())
            {
                rss_kib.push(kib);
            }
        }
    }
    run(dir, &["down", "-t", "0"]);
    println!("process costs (hello stack up)");
    println!(
        "  run --rm worker true   median {:>8.1} ms",
        run_rm.as_secs_f64() * 1000.0
    );
    println!(
        "  exec worker true       median {:>8.1} ms",
        exec.as_secs_f64() * 1000.0
    );
    println!(
        "  monitor RSS            {} KiB each ({} monitors)",
        rss_kib
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join(", "),
        rss_kib.len()
    );
}

/// Time `up -d`, a second (no-op) `up -d`, `ps`, and `down` of the project in
/// `dir`, `runs` times; with `kill`, also `down -t 0`. Prints the medians.
fn measure(label: &str, dir: &Path, runs: usize, run: &dyn Fn(&Path, &[&str]), kill: bool) {
    let time = |args: &[&str]| {
        let start = Instant::now();
        run(dir, args);
        start.elapsed()
    };
    let mut figures: Vec<(&str, Vec<Duration>)> = vec![
        ("up -d", Vec::new()),
        ("up -d (nothing to do)", Vec::new()),
        ("ps", Vec::new()),
        ("down", Vec::new()),
    ];
    if kill {
        figures.push(("down -t 0", Vec::new()));
    }
    for _ in 0..runs {
        figures[0].1.push(time(&["up", "-d"]));
        figures[1].1.push(time(&["up", "-d"]));
        figures[2].1.push(time(&["ps"]));
        figures[3].1.push(time(&["down"]));
        if kill {
            run(dir, &["up", "-d"]);
            figures[4].1.push(time(&["down", "-t", "0"]));
        }
    }
    println!("{label}, {runs} runs");
    for (name, mut values) in figures {
        values.sort();
        let all: Vec<String> = values
            .iter()
            .map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0))
            .collect();
        println!(
            "  {name:<22} median {:>8.1} ms  [{}]",
            values[values.len() / 2].as_secs_f64() * 1000.0,
            all.join(" ")
        );
    }
}
