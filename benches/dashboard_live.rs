//! Benchmark: `wharf dashboard` over 50 real running containers (5 projects
//! of 10 busybox services): the median time of a `/metrics` scrape (target
//! ≤ 20 ms) and of the overview page (≤ 50 ms) over RUNS requests (default
//! 21), and the dashboard process's RSS after them (≤ 15 MiB). Unlike
//! `benches/dashboard.rs` (the fake engine, the server's own cost), this
//! includes the state store, cgroup, /proc and network-namespace reads.
//! Runs as root inside fresh mount, network and pid namespaces with a
//! temporary state root, like the end-to-end tests.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use wharf_testkit::sandbox;

const LISTEN: &str = "127.0.0.1:9323";
const PROJECTS: usize = 5;
const SERVICES: usize = 10;

/// Kills and reaps the dashboard when dropped.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    if !sandbox::is_root() {
        eprintln!("dashboard_live needs root (namespaces, mounts, cgroups): skipped");
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
    let wharf = std::env::var("WHARF_BENCH_BINARY")
        .unwrap_or_else(|_| env!("CARGO_BIN_EXE_wharf").to_string());
    let root = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let run = |dir: &Path, args: &[&str]| {
        let out = Command::new(&wharf)
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
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success(), "make-busybox-tar.sh failed");
    run(
        work.path(),
        &["image", "import", tar.to_str().unwrap(), "busybox:latest"],
    );
    let mut projects = Vec::new();
    for p in 0..PROJECTS {
        let dir = work.path().join(format!("p{p}"));
        std::fs::create_dir_all(&dir).unwrap();
        let mut yaml = String::from("services:\n");
        for s in 0..SERVICES {
            yaml.push_str(&format!(
                "  s{s}:\n    image: busybox:latest\n    mem_limit: 64m\n    command: [\"sh\", \"-c\", \"trap 'exit 0' TERM; while :; do sleep 60 & wait; done\"]\n"
            ));
        }
        std::fs::write(dir.join("compose.yaml"), yaml).unwrap();
        run(&dir, &["up", "-d"]);
        projects.push(dir);
    }

    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(21);
    let dashboard = Running(
        Command::new(&wharf)
            .args(["dashboard", "--listen", LISTEN])
            .env("WHARF_ROOT", root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starting wharf dashboard"),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while get("/metrics").is_none() {
        assert!(Instant::now() < deadline, "the dashboard did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
    let series = get("/metrics").unwrap();
    let containers = series
        .lines()
        .filter(|l| l.starts_with("container_memory_usage_bytes{"))
        .count();
    assert_eq!(containers, PROJECTS * SERVICES, "series in the scrape");

    let pid = dashboard.0.id();
    let cpu_before = cpu_ticks(pid);
    let scrape = median(runs, || get("/metrics"));
    let scrape_cpu =
        (cpu_ticks(pid) - cpu_before) as f64 * 1000.0 / ticks_per_second() / runs as f64;
    let overview = median(runs, || get("/"));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kib = |field: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(field))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .unwrap_or(0)
    };
    let (rss_kib, anon_kib, file_kib) = (kib("VmRSS:"), kib("RssAnon:"), kib("RssFile:"));
    drop(dashboard);
    for dir in &projects {
        run(dir, &["down", "-t", "0"]);
    }

    println!(
        "dashboard, {} real containers, median of {runs}:",
        PROJECTS * SERVICES
    );
    println!(
        "  /metrics scrape   {:>8.2} ms  [{}] (target ≤ 20 ms)",
        ms(scrape.0),
        scrape.1
    );
    println!("  scrape CPU time   {scrape_cpu:>8.2} ms (user + system, mean; the sampler's reading every 5 s included)");
    println!(
        "  overview page     {:>8.2} ms  [{}] (target ≤ 50 ms)",
        ms(overview.0),
        overview.1
    );
    println!(
        "  process RSS       {:>8.2} MiB (target ≤ 15 MiB): {:.2} MiB its own, {:.2} MiB of mapped files (the binary, libc)",
        rss_kib as f64 / 1024.0,
        anon_kib as f64 / 1024.0,
        file_kib as f64 / 1024.0
    );
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The median of `runs` timed calls, and min–max.
fn median(runs: usize, mut once: impl FnMut() -> Option<String>) -> (Duration, String) {
    let mut times: Vec<Duration> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            assert!(once().is_some(), "a request failed");
            start.elapsed()
        })
        .collect();
    times.sort();
    let range = format!("{:.2}–{:.2}", ms(times[0]), ms(times[times.len() - 1]));
    (times[times.len() / 2], range)
}

/// User and system CPU time of process `pid` so far, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..].split(' ').collect();
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

fn ticks_per_second() -> f64 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64
}

/// GET `path` from the dashboard; the body of a 200 answer.
fn get(path: &str) -> Option<String> {
    let mut s = TcpStream::connect(LISTEN).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut out = Vec::new();
    s.read_to_end(&mut out).ok()?;
    let text = String::from_utf8_lossy(&out).into_owned();
    if !text.starts_with("HTTP/1.1 200") {
        return None;
    }
    text.split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
}
