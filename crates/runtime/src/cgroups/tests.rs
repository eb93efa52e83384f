//! Unit tests of the cgroup code on fake cgroupfs trees in a tempdir.

use super::stats::{parse_blkio_v1, parse_io_stat_v2};
use super::*;
use crate::RuntimeError;
use std::fs;
use std::path::Path;

const V1_UNLIMITED: &str = "9223372036854771712\n";

fn put(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

/// A hybrid v1 host: every controller mounted, plus an empty cgroup2 at unified/.
fn fake_v1(root: &Path, controllers: &[&str]) {
    for c in controllers {
        put(&root.join(c).join("cgroup.procs"), "1\n");
    }
    put(&root.join("unified/cgroup.procs"), "");
    put(&root.join("unified/cgroup.subtree_control"), "");
}

/// The files the kernel would create in a new v1 cgroup `path`.
fn fake_v1_leaf(root: &Path, path: &str) {
    let files: &[(&str, &str, &str)] = &[
        ("memory", "memory.limit_in_bytes", V1_UNLIMITED),
        ("memory", "memory.memsw.limit_in_bytes", V1_UNLIMITED),
        ("memory", "memory.usage_in_bytes", "0\n"),
        ("memory", "memory.stat", "cache 0\n"),
        ("cpu", "cpu.cfs_period_us", "100000\n"),
        ("cpu", "cpu.cfs_quota_us", "-1\n"),
        ("memory", "memory.soft_limit_in_bytes", V1_UNLIMITED),
        ("cpu", "cpu.shares", "1024\n"),
        ("pids", "pids.max", "max\n"),
        ("pids", "pids.current", "0\n"),
        ("devices", "devices.allow", ""),
        ("devices", "devices.deny", ""),
    ];
    for (c, f, v) in files {
        if root.join(c).exists() {
            put(&root.join(c).join(path).join(f), v);
        }
    }
    for c in V1_CONTROLLERS {
        if root.join(c).exists() {
            put(&root.join(c).join(path).join("cgroup.procs"), "");
        }
    }
}

fn fake_v2(root: &Path) {
    put(
        &root.join("cgroup.controllers"),
        "cpuset cpu io memory hugetlb pids rdma misc\n",
    );
    put(&root.join("cgroup.subtree_control"), "");
    put(&root.join("cgroup.procs"), "1\n");
}

fn fake_v2_leaf(root: &Path, path: &str, with_memory: bool) {
    let dir = root.join(path);
    put(&dir.join("cgroup.procs"), "");
    put(&dir.join("cpu.max"), "max 100000\n");
    put(&dir.join("cpu.weight"), "100\n");
    put(&dir.join("pids.max"), "max\n");
    if with_memory {
        put(&dir.join("memory.max"), "max\n");
        put(&dir.join("memory.swap.max"), "max\n");
        put(&dir.join("memory.low"), "0\n");
    }
}

fn config(root: &Path, path: &str, limits: Limits) -> CgroupConfig {
    CgroupConfig {
        fs_root: root.to_path_buf(),
        path: path.to_string(),
        limits,
    }
}

fn all_limits() -> Limits {
    Limits {
        memory_bytes: Some(256 << 20),
        nano_cpus: Some(1_500_000_000),
        pids: Some(100),
        ..Limits::default()
    }
}

#[test]
fn detect_tells_v1_hybrid_v2_and_nothing_apart() {
    let t = tempfile::tempdir().unwrap();
    fake_v1(t.path(), &["memory", "cpu"]);
    assert_eq!(detect(t.path()).unwrap(), CgroupMode::V1, "hybrid is v1");

    let t = tempfile::tempdir().unwrap();
    fake_v1(t.path(), &["pids"]);
    fs::remove_dir_all(t.path().join("unified")).unwrap();
    assert_eq!(detect(t.path()).unwrap(), CgroupMode::V1, "pure v1");

    let t = tempfile::tempdir().unwrap();
    fake_v2(t.path());
    assert_eq!(detect(t.path()).unwrap(), CgroupMode::V2);

    let t = tempfile::tempdir().unwrap();
    let err = detect(t.path()).unwrap_err();
    assert!(matches!(err, RuntimeError::NoCgroupFs { .. }));
    assert!(err.to_string().contains(&t.path().display().to_string()));
}

#[test]
fn v1_create_writes_limits_and_device_rules() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "wharf/proj/abc");
    let h = CgroupHandle::create(&config(root, "wharf/proj/abc", all_limits())).unwrap();
    assert_eq!(h.mode, CgroupMode::V1);
    let mem = root.join("memory/wharf/proj/abc");
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "268435456");
    assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "536870912");
    let cpu = root.join("cpu/wharf/proj/abc");
    assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "150000");
    assert_eq!(read(&root.join("pids/wharf/proj/abc/pids.max")), "100");
    assert_eq!(read(&root.join("devices/wharf/proj/abc/devices.deny")), "a");
    assert_eq!(
        read(&root.join("devices/wharf/proj/abc/devices.allow")),
        "c 136:* rwm"
    );
    for c in ["cpuacct", "blkio", "freezer"] {
        assert!(
            root.join(c).join("wharf/proj/abc").is_dir(),
            "{c} cgroup created"
        );
    }
    assert!(!root.join("cpuset/wharf").exists(), "cpuset left alone");
    assert!(
        !root.join("unified/wharf").exists(),
        "the empty unified tree is not used"
    );
}

#[test]
fn v1_unlimited_and_untouched_values() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "c");
    let h = CgroupHandle::create(&config(root, "c", Limits::default())).unwrap();
    assert_eq!(
        read(&root.join("memory/c/memory.limit_in_bytes")),
        V1_UNLIMITED
    );
    h.apply(&Limits {
        memory_bytes: Some(0),
        nano_cpus: Some(0),
        pids: Some(0),
        ..Limits::default()
    })
    .unwrap();
    assert_eq!(read(&root.join("memory/c/memory.limit_in_bytes")), "-1");
    assert_eq!(read(&root.join("cpu/c/cpu.cfs_quota_us")), "-1");
    assert_eq!(read(&root.join("pids/c/pids.max")), "max");
}

#[test]
fn v1_limit_on_missing_controller_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &["memory", "cpu", "cpuacct"]);
    fake_v1_leaf(root, "c");
    let err = CgroupHandle::create(&config(root, "c", all_limits())).unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(
            err,
            RuntimeError::ControllerMissing {
                controller: "pids",
                ..
            }
        ),
        "{msg}"
    );
    assert!(
        msg.contains("pids limit requested") && msg.contains("pids cgroup controller"),
        "{msg}"
    );
}

#[test]
fn refused_limit_names_value_file_and_hint() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &["memory"]);
    fake_v1_leaf(root, "c");
    let h = CgroupHandle {
        mode: CgroupMode::V1,
        fs_root: root.into(),
        path: "c".into(),
    };
    // A directory where the kernel has a file: the write fails like a refusal would.
    fs::remove_file(root.join("memory/c/memory.memsw.limit_in_bytes")).unwrap();
    fs::remove_file(root.join("memory/c/memory.limit_in_bytes")).unwrap();
    fs::create_dir(root.join("memory/c/memory.limit_in_bytes")).unwrap();
    let err = h
        .apply(&Limits {
            memory_bytes: Some(4096),
            ..Limits::default()
        })
        .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("memory limit 4096 bytes refused by the kernel ("),
        "{msg}"
    );
    assert!(
        msg.contains("memory.limit_in_bytes: Is a directory"),
        "{msg}"
    );
    assert!(
        msg.ends_with("the limit must be above the memory the container uses"),
        "{msg}"
    );
}

#[test]
fn bad_cgroup_paths_are_refused() {
    let t = tempfile::tempdir().unwrap();
    fake_v1(t.path(), &["memory"]);
    for p in ["", "/", "../x", "a/../../b"] {
        let err = CgroupHandle::create(&config(t.path(), p, Limits::default())).unwrap_err();
        assert!(
            matches!(err, RuntimeError::InvalidCgroupPath { .. }),
            "{p}: {err}"
        );
    }
}

#[test]
fn v2_create_enables_controllers_and_writes_limits() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    put(
        &root.join("wharf/cgroup.controllers"),
        "cpu io memory pids\n",
    );
    put(&root.join("wharf/cgroup.subtree_control"), "memory\n");
    fake_v2_leaf(root, "wharf/proj", true);
    put(
        &root.join("wharf/proj/cgroup.controllers"),
        "cpu io memory pids\n",
    );
    put(&root.join("wharf/proj/cgroup.subtree_control"), "");
    fake_v2_leaf(root, "wharf/proj/abc", true);
    let h = CgroupHandle::create(&config(root, "/wharf/proj/abc", all_limits())).unwrap();
    assert_eq!(h.mode, CgroupMode::V2);
    assert_eq!(h.path, "wharf/proj/abc");
    assert_eq!(
        read(&root.join("cgroup.subtree_control")),
        "+memory +cpu +pids +io"
    );
    assert_eq!(
        read(&root.join("wharf/cgroup.subtree_control")),
        "+cpu +pids +io",
        "already enabled ones skipped"
    );
    assert_eq!(
        read(&root.join("wharf/proj/cgroup.subtree_control")),
        "+memory +cpu +pids +io"
    );
    let leaf = root.join("wharf/proj/abc");
    assert_eq!(read(&leaf.join("memory.max")), "268435456");
    assert_eq!(read(&leaf.join("memory.swap.max")), "268435456");
    assert_eq!(read(&leaf.join("cpu.max")), "150000 100000");
    assert_eq!(read(&leaf.join("pids.max")), "100");
    h.apply(&Limits {
        nano_cpus: Some(0),
        memory_bytes: Some(0),
        pids: None,
        ..Limits::default()
    })
    .unwrap();
    assert_eq!(read(&leaf.join("cpu.max")), "max 100000");
    assert_eq!(read(&leaf.join("memory.max")), "max");
    assert_eq!(read(&leaf.join("pids.max")), "100");
}

#[test]
fn v2_limit_without_controller_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    fake_v2_leaf(root, "c", false);
    let err = CgroupHandle::create(&config(root, "c", all_limits())).unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::ControllerNotDelegated {
                controller: "memory",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("memory limit requested"), "{err}");
}

#[test]
fn add_process_writes_every_controller() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &["memory", "pids", "freezer"]);
    fake_v1_leaf(root, "c");
    let h = CgroupHandle::create(&config(root, "c", Limits::default())).unwrap();
    h.add_process(4242).unwrap();
    for c in ["memory", "pids", "freezer"] {
        assert_eq!(read(&root.join(c).join("c/cgroup.procs")), "4242");
    }
    assert_eq!(h.pids().unwrap(), vec![4242]);

    let t = tempfile::tempdir().unwrap();
    fake_v2(t.path());
    fake_v2_leaf(t.path(), "c", true);
    let h = CgroupHandle::create(&config(t.path(), "c", Limits::default())).unwrap();
    h.add_process(7).unwrap();
    assert_eq!(read(&t.path().join("c/cgroup.procs")), "7");
}

#[test]
fn v1_stats_follow_docker_cli() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "c");
    put(&root.join("cpuacct/c/cpuacct.usage"), "123456789\n");
    put(&root.join("memory/c/memory.usage_in_bytes"), "10000000\n");
    put(&root.join("memory/c/memory.limit_in_bytes"), "67108864\n");
    put(
        &root.join("memory/c/memory.stat"),
        "cache 5\ninactive_file 1\ntotal_inactive_file 2000000\ntotal_rss 7000000\ntotal_cache 3000000\n",
    );
    put(
        &root.join("cpu/c/cpu.stat"),
        "nr_periods 10\nnr_throttled 2\nthrottled_time 5000\n",
    );
    put(&root.join("cpu/c/cpu.cfs_quota_us"), "50000\n");
    put(
        &root.join("memory/c/memory.oom_control"),
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n",
    );
    put(&root.join("pids/c/pids.current"), "4\n");
    put(
        &root.join("blkio/c/blkio.throttle.io_service_bytes_recursive"),
        "8:0 Read 4096\n8:0 Write 512\n8:0 Sync 0\n8:0 Total 4608\n8:16 Read 100\nTotal 4708\n",
    );
    let h = CgroupHandle {
        mode: CgroupMode::V1,
        fs_root: root.into(),
        path: "c".into(),
    };
    let s = h.stats().unwrap();
    assert_eq!(
        s,
        CgroupStats {
            cpu_usage_ns: 123456789,
            memory_usage: 8000000,
            memory_limit: Some(67108864),
            pids: 4,
            block_read_bytes: 4196,
            block_write_bytes: 512,
            oom_kills: 3,
            memory_usage_total: 10000000,
            memory_rss: 7000000,
            memory_cache: 3000000,
            cpu_throttled_ns: 5000,
            cpu_quota: Some(CpuQuota {
                quota_us: 50000,
                period_us: 100000
            }),
        }
    );
    put(&root.join("cpu/c/cpu.cfs_quota_us"), "-1\n");
    assert_eq!(h.stats().unwrap().cpu_quota, None);
    put(&root.join("memory/c/memory.limit_in_bytes"), V1_UNLIMITED);
    assert_eq!(h.stats().unwrap().memory_limit, None);
    let gone = CgroupHandle {
        path: "nope".into(),
        ..h
    };
    assert!(gone.stats().is_err());
}

#[test]
fn v2_stats_follow_docker_cli() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    fake_v2_leaf(root, "c", true);
    put(
        &root.join("c/cpu.stat"),
        "usage_usec 2500\nuser_usec 2000\nsystem_usec 500\nthrottled_usec 7\n",
    );
    put(&root.join("c/memory.current"), "5000\n");
    put(
        &root.join("c/memory.stat"),
        "anon 100\nfile 4000\nactive_file 100\ninactive_file 1000\n",
    );
    put(
        &root.join("c/memory.events"),
        "low 0\nhigh 0\nmax 2\noom 1\noom_kill 1\n",
    );
    put(&root.join("c/pids.current"), "2\n");
    put(
        &root.join("c/io.stat"),
        "8:0 rbytes=100 wbytes=20 rios=1 wios=1 dbytes=0 dios=0\n8:16 rbytes=5 wbytes=0\n",
    );
    let h = CgroupHandle {
        mode: CgroupMode::V2,
        fs_root: root.into(),
        path: "c".into(),
    };
    let s = h.stats().unwrap();
    assert_eq!(
        s,
        CgroupStats {
            cpu_usage_ns: 2_500_000,
            memory_usage: 4000,
            memory_limit: None,
            pids: 2,
            block_read_bytes: 105,
            block_write_bytes: 20,
            oom_kills: 1,
            memory_usage_total: 5000,
            memory_rss: 100,
            memory_cache: 4000,
            cpu_throttled_ns: 7000,
            cpu_quota: None,
        }
    );
    put(&root.join("c/cpu.max"), "25000 50000\n");
    assert_eq!(
        h.stats().unwrap().cpu_quota,
        Some(CpuQuota {
            quota_us: 25000,
            period_us: 50000
        })
    );
}

#[test]
fn destroy_is_idempotent_and_removes_parents_when_empty() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &["memory", "cpu"]);
    // Empty directories stand for cgroups without processes.
    fs::create_dir_all(root.join("memory/wharf/proj/a")).unwrap();
    fs::create_dir_all(root.join("cpu/wharf/proj/a")).unwrap();
    fs::create_dir_all(root.join("memory/wharf/other")).unwrap();
    let h = CgroupHandle {
        mode: CgroupMode::V1,
        fs_root: root.into(),
        path: "wharf/proj/a".into(),
    };
    h.kill_all_and_destroy().unwrap();
    assert!(!root.join("memory/wharf/proj/a").exists());
    assert!(!root.join("cpu/wharf/proj/a").exists());
    h.kill_all_and_destroy().unwrap();
    CgroupHandle::try_remove_empty_parents(root, "wharf/proj").unwrap();
    assert!(!root.join("memory/wharf/proj").exists());
    assert!(!root.join("cpu/wharf").exists());
    assert!(
        root.join("memory/wharf/other").exists(),
        "non-empty parent kept"
    );
    CgroupHandle::try_remove_empty_parents(root, "wharf/proj").unwrap();
}

#[test]
fn blkio_and_io_stat_parsers() {
    assert_eq!(parse_blkio_v1(""), (0, 0));
    assert_eq!(
        parse_blkio_v1("8:0 Read 1\n8:0 Write 2\n8:1 Read 3\nTotal 6\n"),
        (4, 2)
    );
    assert_eq!(parse_io_stat_v2("253:0 rbytes=7 wbytes=9 rios=1\n"), (7, 9));
}

#[test]
fn cpu_quota_from_nano_cpus() {
    assert_eq!(limits::cpu_quota_us(1_000_000_000), Some(100_000));
    assert_eq!(limits::cpu_quota_us(500_000_000), Some(50_000));
    assert_eq!(limits::cpu_quota_us(10_000_000), Some(1_000));
    assert_eq!(limits::cpu_quota_us(0), None);
}

/// A v1 cpuset hierarchy whose root offers CPUs 0-3 and node 0; new cgroups start
/// with empty cpuset.cpus/mems, as the kernel makes them.
fn fake_v1_cpuset(root: &Path, path: &str) {
    put(&root.join("cpuset/cgroup.procs"), "1\n");
    put(&root.join("cpuset/cpuset.cpus"), "0-3\n");
    put(&root.join("cpuset/cpuset.mems"), "0\n");
    let mut dir = root.join("cpuset");
    for c in path.split('/') {
        dir.push(c);
        put(&dir.join("cpuset.cpus"), "\n");
        put(&dir.join("cpuset.mems"), "\n");
        put(&dir.join("cgroup.procs"), "");
    }
}

#[test]
fn v1_swap_reservation_shares_quota_and_cpuset() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "wharf/p/c");
    fake_v1_cpuset(root, "wharf/p/c");
    put(&root.join("cpuset/wharf/p/cpuset.mems"), "0\n");
    let limits = Limits {
        memory_bytes: Some(100 << 20),
        memory_swap_bytes: Some(300 << 20),
        memory_reservation_bytes: Some(50 << 20),
        cpu_shares: Some(512),
        cpu_quota_us: Some(25_000),
        cpu_period_us: Some(50_000),
        cpuset_cpus: Some("1-2".into()),
        ..Limits::default()
    };
    let h = CgroupHandle::create(&config(root, "wharf/p/c", limits)).unwrap();
    let mem = root.join("memory/wharf/p/c");
    assert_eq!(read(&mem.join("memory.limit_in_bytes")), "104857600");
    assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "314572800");
    assert_eq!(read(&mem.join("memory.soft_limit_in_bytes")), "52428800");
    let cpu = root.join("cpu/wharf/p/c");
    assert_eq!(read(&cpu.join("cpu.shares")), "512");
    assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "50000");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "25000");
    // cpus/mems copied down where empty, kept where set, then the container's own.
    assert_eq!(read(&root.join("cpuset/wharf/cpuset.cpus")), "0-3");
    assert_eq!(read(&root.join("cpuset/wharf/cpuset.mems")), "0");
    assert_eq!(read(&root.join("cpuset/wharf/p/cpuset.mems")), "0\n");
    assert_eq!(read(&root.join("cpuset/wharf/p/c/cpuset.cpus")), "1-2");
    assert_eq!(read(&root.join("cpuset/wharf/p/c/cpuset.mems")), "0");
    assert!(
        h.dirs().contains(&root.join("cpuset/wharf/p/c")),
        "processes go to cpuset too"
    );

    // Unlimited swap, no reservation, default shares, unlimited quota.
    h.apply(&Limits {
        memory_bytes: Some(100 << 20),
        memory_swap_bytes: Some(-1),
        memory_reservation_bytes: Some(0),
        cpu_shares: Some(0),
        cpu_quota_us: Some(-1),
        ..Limits::default()
    })
    .unwrap();
    assert_eq!(read(&mem.join("memory.memsw.limit_in_bytes")), "-1");
    assert_eq!(read(&mem.join("memory.soft_limit_in_bytes")), "-1");
    assert_eq!(read(&cpu.join("cpu.shares")), "1024");
    assert_eq!(read(&cpu.join("cpu.cfs_quota_us")), "-1");
    assert_eq!(read(&cpu.join("cpu.cfs_period_us")), "100000");
}

#[test]
fn v1_swap_without_accounting_or_cpuset_without_controller_is_an_error() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "c");
    fs::remove_file(root.join("memory/c/memory.memsw.limit_in_bytes")).unwrap();
    let err = CgroupHandle::create(&config(
        root,
        "c",
        Limits {
            memory_bytes: Some(1 << 20),
            memory_swap_bytes: Some(2 << 20),
            ..Limits::default()
        },
    ))
    .unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::Unsupported {
                what: "memory_swap",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("swapaccount=1"), "{err}");

    fake_v1_leaf(root, "d");
    let err = CgroupHandle::create(&config(
        root,
        "d",
        Limits {
            cpuset_cpus: Some("0".into()),
            ..Limits::default()
        },
    ))
    .unwrap_err();
    assert!(
        matches!(
            err,
            RuntimeError::ControllerMissing {
                controller: "cpuset",
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn docker_refusals_happen_before_any_write() {
    let cases: [(Limits, &str); 7] = [
        (
            Limits {
                memory_swap_bytes: Some(1 << 30),
                ..Limits::default()
            },
            "needs a memory limit",
        ),
        (
            Limits {
                memory_bytes: Some(2 << 20),
                memory_swap_bytes: Some(1 << 20),
                ..Limits::default()
            },
            "below the memory limit",
        ),
        (
            Limits {
                memory_bytes: Some(1 << 20),
                memory_reservation_bytes: Some(2 << 20),
                ..Limits::default()
            },
            "above the memory limit",
        ),
        (
            Limits {
                cpu_shares: Some(1),
                ..Limits::default()
            },
            "2..=262144",
        ),
        (
            Limits {
                nano_cpus: Some(1_000_000_000),
                cpu_quota_us: Some(50_000),
                ..Limits::default()
            },
            "cannot both be set",
        ),
        (
            Limits {
                cpu_period_us: Some(10),
                ..Limits::default()
            },
            "cpu_period: 10",
        ),
        (
            Limits {
                cpuset_cpus: Some("0-a".into()),
                ..Limits::default()
            },
            "cpuset_cpus: \"0-a\"",
        ),
    ];
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "c");
    let h = CgroupHandle {
        mode: CgroupMode::V1,
        fs_root: root.into(),
        path: "c".into(),
    };
    for (limits, expected) in cases {
        let err = h.apply(&limits).unwrap_err();
        assert!(matches!(err, RuntimeError::InvalidLimit(_)), "{err}");
        assert!(err.to_string().contains(expected), "{expected}: {err}");
    }
    assert_eq!(
        read(&root.join("memory/c/memory.limit_in_bytes")),
        V1_UNLIMITED
    );
}

#[test]
fn v2_swap_low_weight_quota_and_cpuset() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    fake_v2_leaf(root, "c", true);
    put(&root.join("c/cpuset.cpus"), "\n");
    put(&root.join("c/cpuset.mems"), "\n");
    let limits = Limits {
        memory_bytes: Some(100 << 20),
        memory_swap_bytes: Some(300 << 20),
        memory_reservation_bytes: Some(50 << 20),
        cpu_shares: Some(1024),
        cpu_quota_us: Some(25_000),
        cpu_period_us: Some(50_000),
        cpuset_cpus: Some("0,2".into()),
        cpuset_mems: Some("0".into()),
        ..Limits::default()
    };
    let h = CgroupHandle::create(&config(root, "c", limits)).unwrap();
    let leaf = root.join("c");
    assert_eq!(read(&leaf.join("memory.max")), "104857600");
    assert_eq!(
        read(&leaf.join("memory.swap.max")),
        "209715200",
        "swap only: total - memory"
    );
    assert_eq!(read(&leaf.join("memory.low")), "52428800");
    assert_eq!(read(&leaf.join("cpu.weight")), "39");
    assert_eq!(read(&leaf.join("cpu.max")), "25000 50000");
    assert_eq!(read(&leaf.join("cpuset.cpus")), "0,2");
    assert_eq!(read(&leaf.join("cpuset.mems")), "0");
    assert!(
        read(&root.join("cgroup.subtree_control")).contains("+cpuset"),
        "cpuset enabled only because it was asked for"
    );
    h.apply(&Limits {
        memory_bytes: Some(100 << 20),
        memory_swap_bytes: Some(-1),
        cpu_quota_us: Some(-1),
        ..Limits::default()
    })
    .unwrap();
    assert_eq!(read(&leaf.join("memory.swap.max")), "max");
    assert_eq!(read(&leaf.join("cpu.max")), "max 100000");

    fs::remove_file(leaf.join("memory.swap.max")).unwrap();
    let err = h
        .apply(&Limits {
            memory_bytes: Some(1 << 20),
            memory_swap_bytes: Some(2 << 20),
            ..Limits::default()
        })
        .unwrap_err();
    assert!(matches!(err, RuntimeError::Unsupported { .. }), "{err}");
}

#[test]
fn cpu_weight_conversion_matches_runc() {
    assert_eq!(limits::cpu_weight_from_shares(2), 1);
    assert_eq!(limits::cpu_weight_from_shares(1024), 39);
    assert_eq!(limits::cpu_weight_from_shares(262_144), 10_000);
    assert_eq!(limits::cpu_weight_from_shares(512), 20);
}

#[test]
fn oom_kill_disable_and_swappiness_are_written_on_v1_and_refused_on_v2() {
    let limits = Limits {
        memory_bytes: Some(64 << 20),
        oom_kill_disable: true,
        swappiness: Some(10),
        ..Limits::default()
    };
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "c");
    put(
        &root.join("memory/c/memory.oom_control"),
        "oom_kill_disable 0\n",
    );
    put(&root.join("memory/c/memory.swappiness"), "60\n");
    CgroupHandle::create(&config(root, "c", limits.clone())).unwrap();
    assert_eq!(read(&root.join("memory/c/memory.oom_control")), "1");
    assert_eq!(read(&root.join("memory/c/memory.swappiness")), "10");

    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    fake_v2_leaf(root, "c", true);
    let err = CgroupHandle::create(&config(root, "c", limits.clone())).unwrap_err();
    assert!(
        err.to_string().contains("oom_kill_disable requested")
            && err.to_string().contains("cannot enforce oom_kill_disable"),
        "{err}"
    );
    let err = CgroupHandle::create(&config(
        root,
        "c",
        Limits {
            swappiness: Some(10),
            ..Limits::default()
        },
    ))
    .unwrap_err();
    assert!(
        err.to_string().contains("cannot honour mem_swappiness"),
        "{err}"
    );
    let err = CgroupHandle::create(&config(
        root,
        "c",
        Limits {
            swappiness: Some(101),
            ..Limits::default()
        },
    ))
    .unwrap_err();
    assert!(err.to_string().contains("outside 0..=100"), "{err}");
}

#[test]
fn freeze_and_thaw_write_the_freezer_and_report_the_state() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "c");
    put(&root.join("freezer/c/freezer.state"), "THAWED\n");
    let h = CgroupHandle::create(&config(root, "c", Limits::default())).unwrap();
    assert!(!h.is_frozen().unwrap());
    h.freeze().unwrap();
    assert_eq!(read(&root.join("freezer/c/freezer.state")), "FROZEN");
    assert!(h.is_frozen().unwrap());
    h.thaw().unwrap();
    assert!(!h.is_frozen().unwrap());

    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    fake_v2_leaf(root, "c", true);
    put(&root.join("c/cgroup.freeze"), "0\n");
    // The kernel's answer once every process stopped.
    put(&root.join("c/cgroup.events"), "populated 1\nfrozen 1\n");
    let h = CgroupHandle::create(&config(root, "c", Limits::default())).unwrap();
    h.freeze().unwrap();
    assert_eq!(read(&root.join("c/cgroup.freeze")), "1");
    assert!(h.is_frozen().unwrap());
    h.thaw().unwrap();
    assert_eq!(read(&root.join("c/cgroup.freeze")), "0");

    // A v1 host without the freezer controller cannot pause.
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &["memory", "cpu", "pids"]);
    fake_v1_leaf(root, "c");
    let h = CgroupHandle::create(&config(root, "c", Limits::default())).unwrap();
    let err = h.freeze().unwrap_err();
    assert!(
        err.to_string()
            .contains("pause requested, but the freezer cgroup controller is not available"),
        "{err}"
    );
    assert!(!h.is_frozen().unwrap(), "no freezer: never frozen");
}

#[test]
fn v1_allow_devices_appends_rules_and_allow_all() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v1(root, &V1_CONTROLLERS);
    fake_v1_leaf(root, "wharf/proj/dev");
    let h = CgroupHandle::create(&config(root, "wharf/proj/dev", Limits::default())).unwrap();
    let allow = root.join("devices/wharf/proj/dev/devices.allow");
    h.allow_devices(&[]).unwrap();
    assert_eq!(read(&allow), "c 136:* rwm", "no rules: the defaults stay");
    let loop_control = DeviceRule {
        kind: DeviceType::Char,
        major: Some(10),
        minor: Some(237),
        access: DeviceRule::parse_access("rw").unwrap(),
    };
    h.allow_devices(&[loop_control]).unwrap();
    assert_eq!(read(&allow), "c 10:237 rw");
    h.allow_devices(&[DeviceRule::ALLOW_ALL]).unwrap();
    assert_eq!(read(&allow), "a");
}

#[test]
fn v2_allow_devices_never_silently_does_nothing() {
    // A fake tree is no cgroup: installing the device program must fail, naming
    // the directory, even with no extra rules (the defaults are always installed).
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    fake_v2_leaf(root, "wharf/proj/dev", true);
    let h = CgroupHandle::create(&config(root, "wharf/proj/dev", Limits::default())).unwrap();
    assert_eq!(h.mode, CgroupMode::V2);
    let err = h.allow_devices(&[]).unwrap_err();
    let text = err.to_string();
    assert!(text.contains("device program"), "{text}");
    assert!(
        text.contains(&root.join("wharf/proj/dev").display().to_string()),
        "{text}"
    );
}

/// A delegated sub-tree like systemd's: the root offers everything, `deleg`
/// gets memory and pids only.
fn fake_delegated(root: &Path) {
    fake_v2(root);
    put(&root.join("cgroup.subtree_control"), "cpu io memory pids\n");
    put(&root.join("deleg/cgroup.controllers"), "memory pids\n");
    put(&root.join("deleg/cgroup.subtree_control"), "memory pids\n");
    put(&root.join("deleg/cgroup.procs"), "");
    put(
        &root.join("deleg/wharf/cgroup.controllers"),
        "memory pids\n",
    );
    put(
        &root.join("deleg/wharf/cgroup.subtree_control"),
        "memory pids\n",
    );
    fake_v2_leaf(root, "deleg/wharf/c", true);
    fs::remove_file(root.join("deleg/wharf/c/cpu.max")).unwrap();
}

#[test]
fn v2_limit_names_the_cgroup_that_was_not_delegated_the_controller() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_delegated(root);
    let limits = Limits {
        memory_bytes: Some(64 << 20),
        pids: Some(10),
        ..Limits::default()
    };
    CgroupHandle::create(&config(root, "deleg/wharf/c", limits)).unwrap();

    let err = CgroupHandle::create(&config(root, "deleg/wharf/c", all_limits())).unwrap_err();
    let msg = err.to_string();
    match &err {
        RuntimeError::ControllerNotDelegated {
            controller, path, ..
        } => {
            assert_eq!(*controller, "cpu", "{msg}");
            assert_eq!(path, &root.join("deleg"), "{msg}");
        }
        other => panic!("expected ControllerNotDelegated, got {other:?}"),
    }
    assert!(
        msg.starts_with("CPU limit requested, but the cpu cgroup controller"),
        "{msg}"
    );
    assert!(
        msg.contains(&format!(
            "not delegated to {}",
            root.join("deleg").display()
        )) && msg.contains("lists memory pids")
            && msg.contains("Delegate="),
        "{msg}"
    );
}

#[test]
fn v2_controller_the_kernel_lacks_or_a_busy_cgroup_keeps_is_explained() {
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    put(&root.join("cgroup.controllers"), "cpu memory\n");
    fake_v2_leaf(root, "c", true);
    fs::remove_file(root.join("c/pids.max")).unwrap();
    let err = CgroupHandle::create(&config(root, "c", all_limits())).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("pids limit requested")
            && msg.contains("offers no pids controller")
            && msg.contains("boot a kernel with it"),
        "{msg}"
    );

    // `busy` holds a process, so the kernel refuses to enable anything below it
    // (a directory stands in for the refusing cgroup.subtree_control).
    let t = tempfile::tempdir().unwrap();
    let root = t.path();
    fake_v2(root);
    put(&root.join("cgroup.subtree_control"), "cpu io memory pids\n");
    put(
        &root.join("busy/cgroup.controllers"),
        "cpu io memory pids\n",
    );
    put(&root.join("busy/cgroup.procs"), "42\n");
    fs::create_dir_all(root.join("busy/cgroup.subtree_control")).unwrap();
    put(&root.join("busy/c/cgroup.procs"), "");
    let limits = Limits {
        memory_bytes: Some(64 << 20),
        ..Limits::default()
    };
    let err = CgroupHandle::create(&config(root, "busy/c", limits)).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("holds processes of its own") && msg.contains("into a leaf cgroup"),
        "{msg}"
    );
}
