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
    let mut ups = Vec::new();
    let mut downs = Vec::new();
    let mut kills = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        run(&project, &["up", "-d"]);
        ups.push(start.elapsed());
        let start = Instant::now();
        run(&project, &["down"]);
        downs.push(start.elapsed());
        // busybox httpd, as the first process of its pid namespace, has no
        // SIGTERM handler, so the kernel drops the stop signal and `down` waits
        // the whole grace period (docker compose does the same). `down -t 0`
        // shows the cost of wharf's own work.
        run(&project, &["up", "-d"]);
        let start = Instant::now();
        run(&project, &["down", "-t", "0"]);
        kills.push(start.elapsed());
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let show = |v: &[Duration]| {
        v.iter()
            .map(|d| format!("{:.1}", d.as_secs_f64() * 1000.0))
            .collect::<Vec<_>>()
            .join(" ")
    };
    println!("hello stack (2 services), {runs} runs");
    println!(
        "  up -d: median {:.1} ms  [{}]",
        median(&mut ups).as_secs_f64() * 1000.0,
        show(&ups)
    );
    println!(
        "  down : median {:.1} ms  [{}]",
        median(&mut downs).as_secs_f64() * 1000.0,
        show(&downs)
    );
}
