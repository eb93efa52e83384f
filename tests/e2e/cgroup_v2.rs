//! The unified cgroup v2 hierarchy as current distributions boot it (run by
//! `scripts/test-vm.sh` in a guest booted with `cgroup_no_v1=all`; skipped, with
//! the reason, on a v1 or hybrid host): controllers enabled down a nested
//! parent, the limits' v2 files, stats, freezing, OOM kills from
//! `memory.events`, wharf inside a delegated sub-tree, and the faults: a
//! controller that is not delegated, a cgroup left by a crash, a container
//! killed from outside through `cgroup.kill`.

use crate::harness::{eventually, sandboxed, Sandbox};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ROOT: &str = "/sys/fs/cgroup";

fn v2_host(test: &str) -> bool {
    let v2 = Path::new(ROOT).join("cgroup.controllers").is_file();
    if !v2 {
        eprintln!("skipping {test}: needs a cgroup v2 host (scripts/test-vm.sh boots one)");
    }
    v2
}

fn cgroup_parent() -> String {
    std::env::var("WHARF_CGROUP_PARENT").expect("the sandbox's cgroup parent")
}

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// rmdir an empty cgroup, waiting while the kernel finishes with its last
/// processes (missing is fine).
fn remove_cgroup(dir: &Path) {
    eventually(
        &format!("{} to be removable", dir.display()),
        Duration::from_secs(10),
        || match std::fs::remove_dir(dir) {
            Ok(()) => Some(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(()),
            Err(_) => None,
        },
    );
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
        .trim()
        .to_string()
}

fn container_id(s: &Sandbox, dir: &Path, service: &str) -> String {
    let out = s.ok(dir, &["ps", "-a", "-q", service]);
    let id = out.trim().to_string();
    assert_eq!(id.len(), 64, "ps -q {service} printed {out:?}");
    id
}

fn with_parent(s: &Sandbox, dir: &Path, parent: &str, args: &[&str]) -> std::process::Output {
    s.wharf_with(dir, args, &[("WHARF_CGROUP_PARENT", parent)], b"")
}

fn ok_with_parent(s: &Sandbox, dir: &Path, parent: &str, args: &[&str]) -> String {
    let out = with_parent(s, dir, parent, args);
    assert!(
        out.status.success(),
        "wharf {args:?} failed ({}):\nstdout: {}\nstderr: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        containers_on_record(s)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Each container's state file and monitor log, for a failure's message:
/// under an emulated CPU a failure is slow to reproduce, so it says at once
/// what the monitors recorded.
fn containers_on_record(s: &Sandbox) -> String {
    let mut text = String::new();
    let Ok(entries) = std::fs::read_dir(s.root.path().join("containers")) else {
        return text;
    };
    for entry in entries.flatten() {
        for file in ["state.json", "monitor.log"] {
            let body = std::fs::read_to_string(entry.path().join(file)).unwrap_or_default();
            text.push_str(&format!(
                "{}: {}\n",
                entry.path().join(file).display(),
                body.trim()
            ));
        }
    }
    text
}

const LIMITED: &str = "services:
  box:
    image: busybox:latest
    command: [\"sleep\", \"3600\"]
    mem_limit: 64m
    memswap_limit: 96m
    cpus: 0.5
    cpu_shares: 512
    pids_limit: 40
  hog:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"x=$$(head -c 100000000 /dev/zero | tr '\\\\0' a); echo survived\"]
    mem_limit: 16m
    memswap_limit: 16m
";

#[test]
fn limits_stats_freezing_and_oom_in_a_nested_parent() {
    if !v2_host("cgroup_v2::limits_stats_freezing_and_oom_in_a_nested_parent") {
        return;
    }
    sandboxed(
        "cgroup_v2::limits_stats_freezing_and_oom_in_a_nested_parent",
        |s| {
            s.import_busybox();
            // Nested as on a systemd host: wharf's parent two levels down.
            let parent = format!("{}/system.slice/wharf.service", cgroup_parent());
            let dir = s.project("lim", LIMITED);
            ok_with_parent(s, &dir, &parent, &["up", "-d"]);
            let id = container_id(s, &dir, "box");
            let cgroup = Path::new(ROOT).join(&parent).join("lim").join(&id);

            // Every level on the way passes memory, cpu, io and pids on.
            let mut level = PathBuf::from(ROOT);
            for component in format!("{parent}/lim").split('/') {
                let enabled = read(&level.join("cgroup.subtree_control"));
                for controller in ["memory", "cpu", "io", "pids"] {
                    assert!(
                        enabled.split(' ').any(|c| c == controller),
                        "{controller} not enabled in {}: {enabled}",
                        level.display()
                    );
                }
                level.push(component);
            }
            assert_eq!(read(&cgroup.join("memory.max")), "67108864");
            assert_eq!(read(&cgroup.join("memory.swap.max")), "33554432");
            assert_eq!(read(&cgroup.join("cpu.max")), "50000 100000");
            assert_eq!(read(&cgroup.join("cpu.weight")), "20");
            assert_eq!(read(&cgroup.join("pids.max")), "40");
            let procs = read(&cgroup.join("cgroup.procs"));
            assert!(!procs.is_empty(), "no process in {}", cgroup.display());

            let stats = ok_with_parent(s, &dir, &parent, &["stats", "--no-stream", "box"]);
            let row = stats
                .lines()
                .find(|l| l.contains("lim-box-1"))
                .expect(&stats);
            assert!(row.contains(" / 64MiB"), "{stats}");

            // pause freezes through cgroup.freeze, unpause thaws.
            ok_with_parent(s, &dir, &parent, &["pause", "box"]);
            assert_eq!(read(&cgroup.join("cgroup.freeze")), "1");
            assert!(read(&cgroup.join("cgroup.events")).contains("frozen 1"));
            let ps = ok_with_parent(s, &dir, &parent, &["ps", "--format", "json", "box"]);
            assert!(ps.contains("\"State\":\"paused\""), "{ps}");
            ok_with_parent(s, &dir, &parent, &["unpause", "box"]);
            assert_eq!(read(&cgroup.join("cgroup.freeze")), "0");
            assert!(read(&cgroup.join("cgroup.events")).contains("frozen 0"));

            // The OOM kill is read from memory.events.
            let ps = eventually("hog to be OOM-killed", Duration::from_secs(60), || {
                let ps = ok_with_parent(s, &dir, &parent, &["ps", "-a", "--format", "json", "hog"]);
                ps.contains("\"State\":\"exited\"").then_some(ps)
            });
            assert!(ps.contains("\"ExitCode\":137"), "{ps}");
            let until = format!("{}", now_secs() + 1);
            let events = ok_with_parent(
                s,
                &dir,
                &parent,
                &["events", "--json", "--since", "0", "--until", &until],
            );
            assert!(
                events
                    .lines()
                    .any(|l| l.contains("\"oom\"") && l.contains("lim-hog-1")),
                "no oom event for hog: {events}"
            );
            ok_with_parent(s, &dir, &parent, &["down", "-t", "0"]);
            assert!(
                !Path::new(ROOT).join(&parent).join("lim").exists(),
                "the project's cgroup is left"
            );
            // The levels this test added above wharf's parent.
            remove_cgroup(&Path::new(ROOT).join(&parent));
            remove_cgroup(&Path::new(ROOT).join(cgroup_parent()).join("system.slice"));
        },
    );
}

/// Run `script` with sh inside a new cgroup namespace rooted at `delegated`
/// (what a delegated systemd unit sees), with cgroup2 mounted again at
/// /sys/fs/cgroup in a new mount namespace, so nothing above is reachable.
fn in_delegated_subtree(s: &Sandbox, delegated: &Path, script: &str) -> std::process::Output {
    let wharf = env!("CARGO_BIN_EXE_wharf");
    let full = format!(
        "set -e; echo $$ > {delegated}/cgroup.procs; \
         exec unshare --cgroup --mount --propagation private sh -c '\
           set -e; umount /sys/fs/cgroup; mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup; \
           mkdir -p /sys/fs/cgroup/supervisor; echo $$ > /sys/fs/cgroup/supervisor/cgroup.procs; \
           {script}'",
        delegated = delegated.display(),
        script = script.replace('\'', "'\\''"),
    );
    Command::new("sh")
        .arg("-c")
        .arg(full)
        .current_dir(s.work.path())
        .env("WHARF_ROOT", s.root.path())
        .env("WHARF", wharf)
        .env_remove("WHARF_CGROUP_PARENT")
        .output()
        .expect("running sh")
}

#[test]
fn wharf_in_a_delegated_subtree_uses_what_is_delegated_and_names_what_is_not() {
    let name =
        "cgroup_v2::wharf_in_a_delegated_subtree_uses_what_is_delegated_and_names_what_is_not";
    if !v2_host(name) {
        return;
    }
    sandboxed(name, |s| {
        s.import_busybox();
        // The sandbox's parent delegates memory and pids only, as a systemd unit
        // with Delegate=memory pids gets them.
        let top = Path::new(ROOT).join(cgroup_parent());
        std::fs::create_dir_all(&top).unwrap();
        std::fs::write(
            Path::new(ROOT).join("cgroup.subtree_control"),
            "+memory +pids",
        )
        .unwrap();
        std::fs::write(top.join("cgroup.subtree_control"), "+memory +pids").unwrap();
        std::fs::write(top.join("cgroup.subtree_control"), "-cpu -io").unwrap();
        let delegated = top.join("unit");
        std::fs::create_dir_all(&delegated).unwrap();
        assert_eq!(read(&delegated.join("cgroup.controllers")), "memory pids");

        std::fs::create_dir_all(s.work.path().join("ok")).unwrap();
        std::fs::write(
            s.work.path().join("ok/compose.yaml"),
            "services:\n  box:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n    mem_limit: 32m\n    pids_limit: 20\n",
        )
        .unwrap();
        std::fs::create_dir_all(s.work.path().join("cpu")).unwrap();
        std::fs::write(
            s.work.path().join("cpu/compose.yaml"),
            "services:\n  box:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n    cpus: 0.5\n",
        )
        .unwrap();
        let out = in_delegated_subtree(
            s,
            &delegated,
            "cd ok; \"$WHARF\" up -d; cat /proc/self/cgroup; \
             id=$(\"$WHARF\" ps -q box); echo memory.max=$(cat /sys/fs/cgroup/wharf/ok/$id/memory.max); \
             echo pids.max=$(cat /sys/fs/cgroup/wharf/ok/$id/pids.max); \
             cd ../cpu; if \"$WHARF\" up -d 2>../cpu.err; then echo CPU-UP=ok; else echo CPU-UP=failed; fi; \
             \"$WHARF\" down -t 0; cd ../ok; \"$WHARF\" down -t 0; \
             echo LEFT=$(ls /sys/fs/cgroup/wharf 2>/dev/null)",
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{stdout}\n{stderr}");
        assert!(stdout.contains("0::/supervisor\n"), "{stdout}");
        assert!(
            stdout.contains("memory.max=33554432\n"),
            "{stdout}\n{stderr}"
        );
        assert!(stdout.contains("pids.max=20\n"), "{stdout}\n{stderr}");
        assert!(stdout.contains("CPU-UP=failed\n"), "{stdout}\n{stderr}");
        let err = std::fs::read_to_string(s.work.path().join("cpu.err")).unwrap();
        assert!(
            err.contains("cpu cgroup controller")
                && err.contains("not delegated to /sys/fs/cgroup")
                && err.contains("lists memory pids"),
            "{err}"
        );
        assert!(stdout.contains("LEFT=\n"), "{stdout}");
        // Nothing of either project is left in the delegated sub-tree.
        assert!(!delegated.join("wharf/ok").exists() && !delegated.join("wharf/cpu").exists());
        remove_cgroup(&delegated.join("supervisor"));
        remove_cgroup(&delegated.join("wharf"));
        remove_cgroup(&delegated);
    });
}

#[test]
fn a_cgroup_left_by_a_crash_and_a_container_killed_through_cgroup_kill() {
    let name = "cgroup_v2::a_cgroup_left_by_a_crash_and_a_container_killed_through_cgroup_kill";
    if !v2_host(name) {
        return;
    }
    sandboxed(name, |s| {
        s.import_busybox();
        let parent = cgroup_parent();
        let dir = s.project(
            "kp",
            "services:\n  box:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n    mem_limit: 32m\n",
        );
        // A container cgroup an earlier crash left, with a process still in it.
        let stale = Path::new(ROOT)
            .join(&parent)
            .join("kp")
            .join("f".repeat(64));
        std::fs::create_dir_all(&stale).unwrap();
        let mut orphan = Command::new("sleep").arg("3600").spawn().unwrap();
        std::fs::write(stale.join("cgroup.procs"), orphan.id().to_string()).unwrap();

        s.ok(&dir, &["up", "-d"]);
        let id = container_id(s, &dir, "box");
        let cgroup = Path::new(ROOT).join(&parent).join("kp").join(&id);
        std::fs::write(cgroup.join("cgroup.kill"), "1").unwrap();
        let ps = eventually("box to be seen exited", Duration::from_secs(20), || {
            let ps = s.ok(&dir, &["ps", "-a", "--format", "json", "box"]);
            ps.contains("\"State\":\"exited\"").then_some(ps)
        });
        assert!(ps.contains("\"ExitCode\":137"), "{ps}");
        assert!(
            !cgroup.join("cgroup.procs").exists() || read(&cgroup.join("cgroup.procs")).is_empty()
        );

        let down = s.wharf(&dir, &["down", "-t", "0"]);
        let err = String::from_utf8_lossy(&down.stderr);
        assert!(down.status.success(), "{err}");
        assert!(err.contains("Container kp-box-1  Removed"), "{err}");
        assert!(err.contains("(its state was gone)"), "{err}");
        let killed = eventually(
            "the stale cgroup's process to end",
            Duration::from_secs(10),
            || orphan.try_wait().unwrap(),
        );
        assert!(
            !killed.success(),
            "the stale cgroup's process was not killed"
        );
        assert!(
            !Path::new(ROOT).join(&parent).join("kp").exists(),
            "kp's cgroup is left"
        );
    });
}

/// A `docker stats` size (`24.13MiB`, `0B`) in bytes.
fn stats_bytes(text: &str) -> f64 {
    let text = text.trim();
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let scale = match unit {
        "B" => 1.0,
        "KiB" | "kB" => 1024.0,
        "MiB" | "MB" => 1024.0 * 1024.0,
        "GiB" | "GB" => 1024.0 * 1024.0 * 1024.0,
        _ => panic!("unknown unit in {text:?}"),
    };
    number
        .parse::<f64>()
        .unwrap_or_else(|_| panic!("not a size: {text:?}"))
        * scale
}

/// One field of `stats --format json`'s line.
fn stats_field(line: &str, field: &str) -> String {
    let value: serde_json::Value =
        serde_json::from_str(line).unwrap_or_else(|e| panic!("{line}: {e}"));
    value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {line}"))
        .to_string()
}

#[test]
fn stats_figures_agree_with_the_cgroup_files() {
    let name = "cgroup_v2::stats_figures_agree_with_the_cgroup_files";
    if !v2_host(name) {
        return;
    }
    sandboxed(name, |s| {
        s.import_busybox();
        // 24 MiB in a tmpfs (charged to the container's memory, not page
        // cache that stats leaves out), three processes, one of them
        // spinning under a quota of half a CPU.
        let dir = s.project(
            "st",
            "services:
  busy:
    image: busybox:latest
    command: [\"sh\", \"-c\", \"dd if=/dev/zero of=/dev/shm/fill bs=1M count=24 2>/dev/null; sleep 3600 & sleep 3600 & while :; do :; done\"]
    cpus: 0.5
    mem_limit: 128m
",
        );
        s.ok(&dir, &["up", "-d"]);
        let id = container_id(s, &dir, "busy");
        let cgroup = Path::new(ROOT).join(cgroup_parent()).join("st").join(&id);
        eventually("the fill and both sleeps", Duration::from_secs(60), || {
            let current: u64 = read(&cgroup.join("memory.current")).parse().ok()?;
            (read(&cgroup.join("pids.current")) == "3" && current > 24 << 20).then_some(())
        });

        let stats = s.ok(&dir, &["stats", "--no-stream", "--format", "json", "busy"]);
        let line = stats.lines().next().expect(&stats);
        // What the kernel says now; stats' memory is docker's, usage less
        // the inactive page cache.
        let current: f64 = read(&cgroup.join("memory.current")).parse().unwrap();
        let inactive_file: f64 = read(&cgroup.join("memory.stat"))
            .lines()
            .find_map(|l| l.strip_prefix("inactive_file "))
            .and_then(|v| v.parse().ok())
            .unwrap();
        let usage = stats_field(line, "MemUsage");
        let (used, limit) = usage.split_once(" / ").expect(&usage);
        assert_eq!(stats_bytes(limit), f64::from(128u32 << 20), "{line}");
        assert_eq!(read(&cgroup.join("memory.max")), (128u64 << 20).to_string());
        let kernel = current - inactive_file;
        assert!(
            (stats_bytes(used) - kernel).abs() < 2.0 * 1024.0 * 1024.0,
            "stats says {used}, memory.current less inactive_file is {kernel} bytes: {line}"
        );
        assert_eq!(
            stats_field(line, "PIDs"),
            read(&cgroup.join("pids.current"))
        );
        // No block device is written in the guest: io.stat lists none.
        let io: u64 = read(&cgroup.join("io.stat"))
            .split_whitespace()
            .filter_map(|f| f.strip_prefix("rbytes=").or(f.strip_prefix("wbytes=")))
            .filter_map(|v| v.parse::<u64>().ok())
            .sum();
        assert_eq!(io, 0, "io.stat: {}", read(&cgroup.join("io.stat")));
        assert_eq!(stats_field(line, "BlockIO"), "0B / 0B", "{line}");
        // The spinning shell gets its half CPU, as cpu.max says, and no more.
        assert_eq!(read(&cgroup.join("cpu.max")), "50000 100000");
        let cpu = stats_field(line, "CPUPerc");
        let percent: f64 = cpu.trim_end_matches('%').parse().expect(&cpu);
        assert!(
            (10.0..=65.0).contains(&percent),
            "CPU {cpu} with cpu.max 50000 100000: {line}"
        );
        s.ok(&dir, &["down", "-t", "0"]);
        assert!(!cgroup.exists(), "the container's cgroup is left");
    });
}

/// A kernel without a controller: run by hand on a guest booted without
/// pids (`WHARF_VM_APPEND=cgroup_disable=pids
/// WHARF_VM_LANE_FILTER=cgroup_v2::a_kernel_without scripts/test-vm.sh`;
/// the runtime's privileged test that sets a pids limit fails there, as it
/// should); skipped where the kernel has it, as in the default lane.
#[test]
fn a_kernel_without_the_pids_controller_runs_containers_and_names_it_for_a_pids_limit() {
    let name =
        "cgroup_v2::a_kernel_without_the_pids_controller_runs_containers_and_names_it_for_a_pids_limit";
    if !v2_host(name) {
        return;
    }
    if read(&Path::new(ROOT).join("cgroup.controllers"))
        .split(' ')
        .any(|c| c == "pids")
    {
        eprintln!(
            "skipping {name}: the kernel has the pids controller (boot with cgroup_disable=pids)"
        );
        return;
    }
    sandboxed(name, |s| {
        s.import_busybox();
        let plain = s.project(
            "plain",
            "services:\n  box:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n    mem_limit: 32m\n",
        );
        s.ok(&plain, &["up", "-d"]);
        container_id(s, &plain, "box");
        s.ok(&plain, &["down", "-t", "0"]);

        let limited = s.project(
            "lim",
            "services:\n  box:\n    image: busybox:latest\n    command: [\"sleep\", \"3600\"]\n    pids_limit: 20\n",
        );
        let err = s.fails(&limited, &["up", "-d"]);
        assert!(
            err.contains("pids cgroup controller") && err.contains("boot a kernel with it"),
            "{err}"
        );
        s.ok(&limited, &["down", "-t", "0"]);
        let parent = Path::new(ROOT).join(cgroup_parent());
        assert!(
            !parent.join("lim").exists() && !parent.join("plain").exists(),
            "a project's cgroup is left"
        );
    });
}
