//! Fresh namespaces for privileged tests and benchmarks.
//!
//! A test calls [`run_test`] with its own name: outside the sandbox it re-runs
//! the current test binary for just that test under util-linux `unshare`
//! (new mount, network and pid namespaces, a private `/proc`), so mounts,
//! interfaces and processes die with the sandbox even when the test fails.
//! Cgroups are not namespaced: the sandbox gets a unique cgroup parent (in
//! `WHARF_CGROUP_PARENT`), which the outer process removes afterwards — and
//! reports as a leak if anything was left below it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Set inside the sandbox.
pub const MARKER: &str = "WHARF_TEST_SANDBOX";
/// The cgroup parent the code under test must create its cgroups under.
pub const CGROUP_PARENT: &str = "WHARF_CGROUP_PARENT";
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Whether this process runs inside a sandbox.
pub fn inside() -> bool {
    std::env::var_os(MARKER).is_some()
}

/// The sandbox's cgroup parent (inside a sandbox only).
pub fn cgroup_parent() -> String {
    std::env::var(CGROUP_PARENT).expect("the cgroup parent set by the outer test process")
}

/// A cgroup parent name no other run uses. The time tells runs apart; the
/// counter tells apart the tests one process starts at once, which a coarse
/// clock (an emulated guest's) can give the same time.
pub fn unique_cgroup_parent(prefix: &str) -> String {
    static STARTED: AtomicU64 = AtomicU64::new(0);
    let sequence = STARTED.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{sequence}-{nanos}", std::process::id())
}

/// Run the current executable again with `args` inside fresh namespaces,
/// with [`MARKER`] and [`CGROUP_PARENT`] set; standard output is captured
/// (shown when the test fails), standard error passes through.
pub fn reexec(args: &[&str], cgroup_parent: &str) -> Output {
    Command::new("unshare")
        .args([
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--mount-proc",
            "--propagation",
            "private",
            "--",
        ])
        .arg(std::env::current_exe().expect("the current executable"))
        .args(args)
        .env(MARKER, "1")
        .env(CGROUP_PARENT, cgroup_parent)
        .stderr(std::process::Stdio::inherit())
        .output()
        .expect("running unshare (util-linux)")
}

/// Run test `name` (its full path, `module::test`) in a sandbox: inside, call
/// `body`; outside, re-run just this test there and require that it passed and
/// left no cgroup behind. Without root it skips, saying why.
pub fn run_test(name: &str, body: impl FnOnce()) {
    if inside() {
        body();
        return;
    }
    if !is_root() {
        eprintln!("skipping {name}: needs root (it creates namespaces, mounts and cgroups)");
        return;
    }
    let parent = unique_cgroup_parent("wharf-test");
    let out = reexec(
        &[name, "--exact", "--nocapture", "--test-threads=1"],
        &parent,
    );
    let leftovers = remove_cgroups(&parent);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{name} failed inside its sandbox ({}):\n{stdout}",
        out.status
    );
    assert!(
        leftovers.is_empty(),
        "{name} left cgroups behind: {leftovers:?}"
    );
}

/// Remove the cgroup tree `parent` in every hierarchy, killing anything still
/// in it; returns the cgroups that existed below `parent` (leaks).
pub fn remove_cgroups(parent: &str) -> Vec<PathBuf> {
    let mut leftovers = Vec::new();
    let Ok(hierarchies) = std::fs::read_dir(CGROUP_ROOT) else {
        return leftovers;
    };
    let mut tops: Vec<PathBuf> = hierarchies
        .flatten()
        .map(|h| h.path().join(parent))
        .collect();
    // cgroup v2 (or a hybrid's unified tree): the parent sits at the root.
    tops.push(Path::new(CGROUP_ROOT).join(parent));
    for top in tops.into_iter().filter(|t| t.is_dir()) {
        remove_below(&top, &mut leftovers);
        let _ = remove_cgroup_dir(&top);
    }
    leftovers
}

fn remove_below(dir: &Path, leftovers: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            leftovers.push(path.clone());
            remove_below(&path, &mut Vec::new());
            let _ = remove_cgroup_dir(&path);
        }
    }
}

/// Kill what is in the cgroup, then rmdir it, retrying while the kernel reaps
/// (which takes seconds on a loaded machine).
fn remove_cgroup_dir(dir: &Path) -> std::io::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) {
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
        }
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(e),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::unique_cgroup_parent;

    #[test]
    fn parents_made_at_once_differ_even_with_the_same_clock_reading() {
        let names: std::collections::HashSet<String> = (0..64)
            .map(|_| unique_cgroup_parent("wharf-test"))
            .collect();
        assert_eq!(names.len(), 64);
    }
}
