//! Block I/O limits on fake cgroupfs trees: the files each hierarchy gets,
//! the errors for a missing controller, and weights discarded without a
//! scheduler that takes them.

use super::*;
use crate::cgroups::{CgroupConfig, Limits};
use std::fs;

fn put(path: &Path, content: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, content).unwrap();
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap()
}

const SDA: DeviceNumber = DeviceNumber { major: 8, minor: 0 };
const VDB: DeviceNumber = DeviceNumber {
    major: 254,
    minor: 16,
};

fn rate(device: DeviceNumber, rate: u64) -> Vec<DeviceRate> {
    vec![DeviceRate { device, rate }]
}

fn limits(io: BlockIo) -> Limits {
    Limits {
        block_io: io,
        ..Limits::default()
    }
}

fn handle(root: &Path, mode: CgroupMode) -> CgroupHandle {
    CgroupHandle {
        mode,
        fs_root: root.to_path_buf(),
        path: "wharf/p/c".into(),
    }
}

/// A v1 host whose blkio cgroup `wharf/p/c` has the CFQ-era files.
fn fake_v1(root: &Path, weight_file: Option<&str>) {
    put(&root.join("blkio/cgroup.procs"), "1\n");
    let dir = root.join("blkio/wharf/p/c");
    put(&dir.join("cgroup.procs"), "");
    for f in [
        "read_bps_device",
        "write_bps_device",
        "read_iops_device",
        "write_iops_device",
    ] {
        put(&dir.join(format!("blkio.throttle.{f}")), "");
    }
    if let Some(prefix) = weight_file {
        put(&root.join(format!("blkio/{prefix}weight")), "500\n");
        put(&dir.join(format!("{prefix}weight")), "500\n");
        put(&dir.join(format!("{prefix}weight_device")), "");
    }
}

/// A v2 host with `io` delegated down to `wharf/p/c`.
fn fake_v2(root: &Path, bfq: bool) {
    put(&root.join("cgroup.controllers"), "cpu io memory pids\n");
    put(&root.join("cgroup.subtree_control"), "cpu io memory pids\n");
    put(&root.join("cgroup.procs"), "1\n");
    for d in ["wharf", "wharf/p"] {
        put(
            &root.join(d).join("cgroup.controllers"),
            "cpu io memory pids\n",
        );
        put(
            &root.join(d).join("cgroup.subtree_control"),
            "cpu io memory pids\n",
        );
    }
    let dir = root.join("wharf/p/c");
    put(&dir.join("cgroup.procs"), "");
    put(&dir.join("io.max"), "");
    put(&dir.join("io.weight"), "default 100\n");
    if bfq {
        put(&dir.join("io.bfq.weight"), "default 100\n");
    }
}

#[test]
fn v2_throttles_of_one_device_share_one_io_max_line() {
    let t = tempfile::tempdir().unwrap();
    fake_v2(t.path(), false);
    let io = BlockIo {
        read_bps: rate(SDA, 1 << 20),
        write_bps: rate(SDA, 2 << 20),
        read_iops: rate(SDA, 100),
        write_iops: rate(SDA, 0),
        ..BlockIo::default()
    };
    handle(t.path(), CgroupMode::V2).apply(&limits(io)).unwrap();
    assert_eq!(
        read(&t.path().join("wharf/p/c/io.max")),
        "8:0 rbps=1048576 wbps=2097152 riops=100 wiops=max"
    );
}

#[test]
fn v2_weight_goes_to_bfq_when_there_else_to_io_weight_converted() {
    let t = tempfile::tempdir().unwrap();
    fake_v2(t.path(), true);
    let io = BlockIo {
        weight: Some(300),
        ..BlockIo::default()
    };
    handle(t.path(), CgroupMode::V2)
        .apply(&limits(io.clone()))
        .unwrap();
    let dir = t.path().join("wharf/p/c");
    assert_eq!(read(&dir.join("io.bfq.weight")), "300");
    assert_eq!(read(&dir.join("io.weight")), "default 100\n", "untouched");

    let t = tempfile::tempdir().unwrap();
    fake_v2(t.path(), false);
    handle(t.path(), CgroupMode::V2).apply(&limits(io)).unwrap();
    let dir = t.path().join("wharf/p/c");
    assert_eq!(read(&dir.join("io.weight")), "default 2930");
    assert_eq!(io_weight_from_blkio(10), 1);
    assert_eq!(io_weight_from_blkio(1000), 10000);
}

#[test]
fn v2_device_weight_names_the_device() {
    let t = tempfile::tempdir().unwrap();
    fake_v2(t.path(), true);
    let io = BlockIo {
        weight_device: vec![DeviceWeight {
            device: VDB,
            weight: 200,
        }],
        ..BlockIo::default()
    };
    handle(t.path(), CgroupMode::V2).apply(&limits(io)).unwrap();
    assert_eq!(
        read(&t.path().join("wharf/p/c/io.bfq.weight")),
        "254:16 200"
    );
}

#[test]
fn v2_without_the_io_controller_says_which_cgroup_does_not_pass_it_on() {
    let t = tempfile::tempdir().unwrap();
    fake_v2(t.path(), false);
    put(
        &t.path().join("wharf/p/cgroup.subtree_control"),
        "cpu memory pids\n",
    );
    fs::remove_file(t.path().join("wharf/p/c/io.max")).unwrap();
    let io = BlockIo {
        write_bps: rate(SDA, 1 << 20),
        ..BlockIo::default()
    };
    let err = handle(t.path(), CgroupMode::V2)
        .apply(&limits(io))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RuntimeError::ControllerNotDelegated {
                controller: "io",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn v1_writes_weight_and_throttle_files() {
    let t = tempfile::tempdir().unwrap();
    fake_v1(t.path(), Some("blkio."));
    let io = BlockIo {
        weight: Some(700),
        weight_device: vec![DeviceWeight {
            device: VDB,
            weight: 20,
        }],
        read_bps: rate(SDA, 4096),
        write_bps: rate(VDB, 1 << 20),
        read_iops: rate(SDA, 10),
        write_iops: rate(VDB, 20),
    };
    handle(t.path(), CgroupMode::V1).apply(&limits(io)).unwrap();
    let dir = t.path().join("blkio/wharf/p/c");
    assert_eq!(read(&dir.join("blkio.weight")), "700");
    assert_eq!(read(&dir.join("blkio.weight_device")), "254:16 20");
    assert_eq!(
        read(&dir.join("blkio.throttle.read_bps_device")),
        "8:0 4096"
    );
    assert_eq!(
        read(&dir.join("blkio.throttle.write_bps_device")),
        "254:16 1048576"
    );
    assert_eq!(read(&dir.join("blkio.throttle.read_iops_device")), "8:0 10");
    assert_eq!(
        read(&dir.join("blkio.throttle.write_iops_device")),
        "254:16 20"
    );
}

#[test]
fn v1_weight_uses_bfq_files_when_cfq_is_gone() {
    let t = tempfile::tempdir().unwrap();
    fake_v1(t.path(), Some("blkio.bfq."));
    let io = BlockIo {
        weight: Some(100),
        ..BlockIo::default()
    };
    handle(t.path(), CgroupMode::V1).apply(&limits(io)).unwrap();
    assert_eq!(
        read(&t.path().join("blkio/wharf/p/c/blkio.bfq.weight")),
        "100"
    );
}

#[test]
fn v1_weight_without_a_weighting_scheduler_is_discarded_as_docker_does() {
    let t = tempfile::tempdir().unwrap();
    fake_v1(t.path(), None);
    assert!(!block_io_weight_supported(t.path()));
    let device = DeviceNumber {
        major: 254,
        minor: 16,
    };
    let io = BlockIo {
        weight: Some(100),
        weight_device: vec![DeviceWeight { device, weight: 20 }],
        write_bps: rate(device, 1024),
        ..BlockIo::default()
    };
    handle(t.path(), CgroupMode::V1).apply(&limits(io)).unwrap();
    let dir = t.path().join("blkio/wharf/p/c");
    assert!(!dir.join("blkio.weight").exists());
    assert!(!dir.join("blkio.weight_device").exists());
    // The throttle beside it is written all the same.
    assert_eq!(
        read(&dir.join("blkio.throttle.write_bps_device")),
        "254:16 1024"
    );
}

#[test]
fn a_weight_alone_is_discarded_where_blkio_is_not_mounted() {
    let t = tempfile::tempdir().unwrap();
    put(&t.path().join("memory/cgroup.procs"), "1\n");
    assert!(!block_io_weight_supported(t.path()));
    let io = BlockIo {
        weight: Some(500),
        ..BlockIo::default()
    };
    handle(t.path(), CgroupMode::V1).apply(&limits(io)).unwrap();
}

#[test]
fn weight_support_is_read_as_docker_reads_it() {
    let t = tempfile::tempdir().unwrap();
    fake_v1(t.path(), None);
    put(&t.path().join("blkio/blkio.bfq.weight"), "100\n");
    assert!(block_io_weight_supported(t.path()));
    let v2 = tempfile::tempdir().unwrap();
    fake_v2(v2.path(), false);
    assert!(block_io_weight_supported(v2.path()));
    put(&v2.path().join("cgroup.controllers"), "cpu memory pids\n");
    assert!(!block_io_weight_supported(v2.path()));
}

#[test]
fn v1_without_the_blkio_hierarchy_names_the_controller() {
    let t = tempfile::tempdir().unwrap();
    put(&t.path().join("memory/cgroup.procs"), "1\n");
    let io = BlockIo {
        read_bps: rate(SDA, 1),
        ..BlockIo::default()
    };
    let err = handle(t.path(), CgroupMode::V1)
        .apply(&limits(io))
        .unwrap_err();
    assert!(
        matches!(
            &err,
            RuntimeError::ControllerMissing {
                controller: "blkio",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn weights_out_of_range_name_the_spec_field() {
    let io = BlockIo {
        weight: Some(5),
        ..BlockIo::default()
    };
    let err = validate(&io).unwrap_err();
    assert_eq!(err.field, "blkio_weight");
    let io = BlockIo {
        weight_device: vec![DeviceWeight {
            device: SDA,
            weight: 1001,
        }],
        ..BlockIo::default()
    };
    let err = validate(&io).unwrap_err();
    assert_eq!(err.field, "blkio_weight_device");
    assert!(err.reason.contains("8:0"), "{}", err.reason);
}

#[test]
fn a_device_path_resolves_to_its_number_or_says_what_is_wrong() {
    let t = tempfile::tempdir().unwrap();
    let file = t.path().join("disk.img");
    put(&file, "");
    let err = block_device(&file).unwrap_err();
    assert!(matches!(err, BlockDeviceError::NotBlock { .. }), "{err:?}");
    assert!(err.to_string().contains("disk.img"), "{err}");
    let err = block_device(&t.path().join("missing")).unwrap_err();
    assert!(
        matches!(err, BlockDeviceError::Unreadable { .. }),
        "{err:?}"
    );
    // A real block device when the host has one readable (loop devices are
    // block 7:N).
    if let Ok(n) = block_device(Path::new("/dev/loop0")) {
        assert_eq!(n, DeviceNumber { major: 7, minor: 0 });
    }
}

#[test]
fn block_io_survives_the_trip_to_the_monitor() {
    // CgroupConfig carries block I/O through serde for the monitor.
    let c = CgroupConfig {
        fs_root: "/sys/fs/cgroup".into(),
        path: "wharf/p/c".into(),
        limits: limits(BlockIo {
            write_bps: rate(SDA, 5),
            ..BlockIo::default()
        }),
    };
    let back: CgroupConfig = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
    assert_eq!(back, c);
    let old: Limits =
        serde_json::from_str("{\"memory_bytes\":null,\"nano_cpus\":null,\"pids\":null}").unwrap();
    assert!(
        old.block_io.is_empty(),
        "a record from before block I/O loads"
    );
}
