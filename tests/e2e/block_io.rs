//! Compose's `blkio_config` end to end on the host's own hierarchy (v1's
//! `blkio.throttle.*` on a v1 or hybrid host, v2's `io.max` in the guest of
//! `scripts/test-vm.sh`): a write limit on a loop device reaches the
//! container's cgroup and throttles direct writes; docker's
//! `--device-write-bps`/`--device-read-iops` flags of `container run` do the
//! same; a device that does not exist is refused naming the service and the
//! key; a weight the host's schedulers cannot take is discarded with
//! docker's warning, and the container runs.

use crate::harness::{
    block_io_weight_supported as weight_supported, eventually, sandboxed, Sandbox, WEIGHT_DISCARDED,
};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const ROOT: &str = "/sys/fs/cgroup";
/// The write limit under test: 1 MiB/s.
const WRITE_BPS: u64 = 1 << 20;

/// A loop device over a file in the sandbox, detached when dropped (loop
/// devices are not namespaced: none may outlive the test).
struct LoopDevice(PathBuf);

impl LoopDevice {
    fn attach(backing: &Path) -> LoopDevice {
        std::fs::write(backing, vec![0u8; 8 << 20]).unwrap();
        let out = Command::new("losetup")
            .args(["--find", "--show"])
            .arg(backing)
            .output()
            .expect("running losetup (util-linux)");
        assert!(
            out.status.success(),
            "losetup could not attach a loop device (is the loop driver loaded?): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        LoopDevice(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
    }

    /// `MAJ:MIN` as the cgroup files write it, from sysfs (not from wharf).
    fn number(&self) -> String {
        let name = self.0.file_name().unwrap().to_string_lossy().into_owned();
        let dev = Path::new("/sys/class/block").join(name).join("dev");
        std::fs::read_to_string(&dev)
            .unwrap_or_else(|e| panic!("{}: {e}", dev.display()))
            .trim()
            .to_string()
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        let _ = Command::new("losetup").arg("-d").arg(&self.0).status();
    }
}

fn container_id(s: &Sandbox, dir: &Path, service: &str) -> String {
    let out = s.ok(dir, &["ps", "-a", "-q", service]);
    let id = out.trim().to_string();
    assert_eq!(id.len(), 64, "ps -q {service} printed {out:?}");
    id
}

#[test]
fn a_write_limit_reaches_the_cgroup_and_throttles_direct_writes() {
    sandboxed(
        "block_io::a_write_limit_reaches_the_cgroup_and_throttles_direct_writes",
        |s| {
            s.import_busybox();
            let disk = LoopDevice::attach(&s.work.path().join("disk.img"));
            let device = disk.0.display().to_string();
            let v2 = Path::new(ROOT).join("cgroup.controllers").is_file();
            // v1 takes a weight only with the CFQ or BFQ scheduler, which
            // hosts with multi-queue disks rarely run: there it is discarded
            // with docker's warning; v2's io.weight is always there.
            // 3 MiB at 1 MiB/s: about 3 s, where unthrottled it takes a blink.
            let yaml = format!(
                r#"services:
  disk:
    image: busybox:latest
    devices: ["{device}:/dev/xdisk"]
    command: ["sh", "-c", "s=$$(date +%s); dd if=/dev/zero of=/dev/xdisk bs=64k count=48 oflag=direct 2>/dev/null; echo elapsed=$$(( $$(date +%s) - s )); exec sleep 300"]
    blkio_config:
      weight: 300
      device_write_bps:
        - path: {device}
          rate: 1mb
      device_read_iops:
        - path: {device}
          rate: 100
"#
            );
            let dir = s.project("bio", &yaml);
            let up = s.wharf(&dir, &["up", "-d"]);
            let stderr = String::from_utf8_lossy(&up.stderr);
            assert!(up.status.success(), "{stderr}");
            assert_eq!(
                stderr.contains(WEIGHT_DISCARDED),
                !weight_supported(),
                "{stderr}"
            );
            let id = container_id(s, &dir, "disk");
            let parent = wharf_testkit::sandbox::cgroup_parent();
            let number = disk.number();
            if v2 {
                let cgroup = Path::new(ROOT).join(&parent).join("bio").join(&id);
                let bfq = cgroup.join("io.bfq.weight");
                let (file, weight) = if bfq.exists() {
                    (bfq, "default 300")
                } else {
                    (cgroup.join("io.weight"), "default 2930")
                };
                let text = std::fs::read_to_string(&file).unwrap();
                assert_eq!(text.lines().next(), Some(weight), "{}", file.display());
            }
            assert_eq!(throttles("bio", &id, &number), expected_throttles(&number));
            let logs = eventually("the dd to finish", Duration::from_secs(120), || {
                let logs = s.ok(&dir, &["logs", "disk"]);
                logs.contains("elapsed=").then_some(logs)
            });
            let elapsed: u64 = logs
                .split("elapsed=")
                .nth(1)
                .and_then(|t| t.split_whitespace().next())
                .and_then(|t| t.parse().ok())
                .unwrap_or_else(|| panic!("no elapsed time in {logs:?}"));
            assert!(
                elapsed >= 2,
                "3 MiB of direct writes at 1 MiB/s took {elapsed} s: not throttled"
            );
            s.ok(&dir, &["down", "-t", "0"]);
        },
    );
}

#[test]
fn a_throttled_device_that_does_not_exist_names_the_service_and_key() {
    sandboxed(
        "block_io::a_throttled_device_that_does_not_exist_names_the_service_and_key",
        |s| {
            s.import_busybox();
            let dir = s.project(
                "bio",
                r#"services:
  db:
    image: busybox:latest
    command: ["sleep", "300"]
    blkio_config:
      device_write_bps:
        - path: /dev/wharf-no-such-disk
          rate: 1mb
"#,
            );
            let err = s.fails(&dir, &["up", "-d"]);
            for part in [
                "bio-db-1",
                "blkio_config.device_write_bps",
                "/dev/wharf-no-such-disk",
            ] {
                assert!(err.contains(part), "{part} missing from: {err}");
            }
            let ps = s.ok(&dir, &["ps", "-a", "-q"]);
            assert!(ps.trim().is_empty(), "a container was left: {ps}");
        },
    );
}

/// The container's write and read-IOPS throttles as its cgroup holds them:
/// v2's `io.max` line for `number`, or v1's two `blkio.throttle.*` files.
fn throttles(project: &str, id: &str, number: &str) -> String {
    let parent = wharf_testkit::sandbox::cgroup_parent();
    let root = Path::new(ROOT);
    if root.join("cgroup.controllers").is_file() {
        let file = root.join(parent).join(project).join(id).join("io.max");
        let text = std::fs::read_to_string(&file).unwrap();
        text.lines()
            .find(|l| l.starts_with(&format!("{number} ")))
            .unwrap_or_else(|| panic!("no line for {number} in {}: {text:?}", file.display()))
            .to_string()
    } else {
        let dir = root.join("blkio").join(parent).join(project).join(id);
        let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap();
        format!(
            "{} / {}",
            read("blkio.throttle.write_bps_device").trim(),
            read("blkio.throttle.read_iops_device").trim()
        )
    }
}

/// What [`throttles`] reads for a 1 MiB/s write limit and 100 read IOPS.
fn expected_throttles(number: &str) -> String {
    if Path::new(ROOT).join("cgroup.controllers").is_file() {
        format!("{number} rbps=max wbps={WRITE_BPS} riops=100 wiops=max")
    } else {
        format!("{number} {WRITE_BPS} / {number} 100")
    }
}

#[test]
fn container_run_takes_docker_s_block_io_flags() {
    sandboxed(
        "block_io::container_run_takes_docker_s_block_io_flags",
        |s| {
            s.import_busybox();
            let disk = LoopDevice::attach(&s.work.path().join("disk.img"));
            let device = disk.0.display().to_string();
            let number = disk.number();
            let write = format!("{device}:1mb");
            let read = format!("{device}:100");
            let id = s.ok(
                s.work.path(),
                &[
                    "container",
                    "run",
                    "-d",
                    "--name",
                    "bw",
                    "--device-write-bps",
                    &write,
                    "--device-read-iops",
                    &read,
                    "busybox:latest",
                    "sleep",
                    "300",
                ],
            );
            assert_eq!(
                throttles("default", id.trim(), &number),
                expected_throttles(&number)
            );
            // `update --blkio-weight`: out of range is refused by name; in
            // range reaches the weight file, or is discarded with docker's
            // warning when the host's schedulers take no weight (v1 without
            // CFQ or BFQ).
            let err = s.fails(
                s.work.path(),
                &["container", "update", "--blkio-weight", "5", "bw"],
            );
            assert!(
                err.contains("--blkio-weight") && err.contains("from 10 to 1000"),
                "{err}"
            );
            let parent = wharf_testkit::sandbox::cgroup_parent();
            let cgroup = if Path::new(ROOT).join("cgroup.controllers").is_file() {
                Path::new(ROOT)
                    .join(&parent)
                    .join("default")
                    .join(id.trim())
            } else {
                Path::new(ROOT)
                    .join("blkio")
                    .join(&parent)
                    .join("default")
                    .join(id.trim())
            };
            let weighted = [
                "io.bfq.weight",
                "io.weight",
                "blkio.weight",
                "blkio.bfq.weight",
            ]
            .iter()
            .map(|f| cgroup.join(f))
            .find(|f| f.exists());
            let update = s.wharf(
                s.work.path(),
                &["container", "update", "--blkio-weight", "500", "bw"],
            );
            assert!(update.status.success(), "{update:?}");
            let stdout = String::from_utf8_lossy(&update.stdout);
            match weighted {
                Some(file) => {
                    assert_eq!(stdout, "bw\n");
                    let text = std::fs::read_to_string(&file).unwrap();
                    let expected = if file.ends_with("io.weight") {
                        "4950"
                    } else {
                        "500"
                    };
                    assert!(text.contains(expected), "{}: {text:?}", file.display());
                }
                None => {
                    assert!(!weight_supported());
                    assert_eq!(stdout, format!("bw\n{WEIGHT_DISCARDED}\n"));
                }
            }
            s.ok(s.work.path(), &["container", "rm", "-f", "bw"]);

            // `run --blkio-weight`: docker's warning where it is discarded,
            // and the container runs either way.
            let out = s.wharf(
                s.work.path(),
                &[
                    "container",
                    "run",
                    "--rm",
                    "--blkio-weight",
                    "300",
                    "busybox:latest",
                    "echo",
                    "ran",
                ],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n");
            let warning = format!("WARNING: {WEIGHT_DISCARDED}\n");
            assert_eq!(stderr.contains(&warning), !weight_supported(), "{stderr}");

            // A discarded weight is not stored: inspect shows docker's 0.
            let out = s.wharf(
                s.work.path(),
                &[
                    "container",
                    "create",
                    "--name",
                    "weighted",
                    "--blkio-weight",
                    "300",
                    "busybox:latest",
                    "true",
                ],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "{stderr}");
            assert_eq!(stderr.contains(&warning), !weight_supported(), "{stderr}");
            let shown = s.ok(
                s.work.path(),
                &[
                    "container",
                    "inspect",
                    "-f",
                    "{{.HostConfig.BlkioWeight}}",
                    "weighted",
                ],
            );
            let stored = if weight_supported() { "300" } else { "0" };
            assert_eq!(shown.trim(), stored);
            s.ok(s.work.path(), &["container", "rm", "weighted"]);

            let out = s.wharf(
                s.work.path(),
                &[
                    "container",
                    "run",
                    "--device-write-bps",
                    "sda:1mb",
                    "busybox:latest",
                    "true",
                ],
            );
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "a device outside /dev was taken");
            assert!(
                stderr.contains("--device-write-bps") && stderr.contains("/dev/sda:RATE"),
                "{stderr}"
            );
        },
    );
}
