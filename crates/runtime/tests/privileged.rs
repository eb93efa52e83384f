//! Privileged tests: real containers from a static busybox root.
//!
//! Each test re-runs this test binary (only that test) inside fresh mount, network and
//! pid namespaces made by util-linux `unshare`, so mounts, interfaces and processes
//! cannot leak to the host even when a test fails. Cgroups are not namespaced: every
//! test uses a unique `wharf-test-<pid>-<nanos>/...` path, removed by the test and again
//! by the outer process after the sandbox has exited. Without root they skip, saying so.

use std::fs;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::wait::{waitpid, WaitPidFlag};
use nix::unistd::Pid;
use wharf_runtime::*;

const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// Run `body` inside a sandbox of fresh namespaces (see the module docs); it
/// gets the sandbox's cgroup parent.
fn sandboxed(name: &str, body: impl FnOnce(&str)) {
    wharf_testkit::sandbox::run_test(name, || body(&wharf_testkit::sandbox::cgroup_parent()));
}

/// A busybox root file system in a tempdir: one lower layer plus upper/work/merged.
struct Fixture {
    dir: tempfile::TempDir,
}

impl Fixture {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let lower = dir.path().join("lower");
        fs::create_dir_all(lower.join("bin")).unwrap();
        fs::create_dir_all(lower.join("etc")).unwrap();
        fs::copy("/bin/busybox", lower.join("bin/busybox")).unwrap();
        for tool in [
            "sh", "echo", "cat", "ls", "hostname", "id", "sleep", "grep", "touch", "kill", "pwd",
        ] {
            std::os::unix::fs::symlink("busybox", lower.join("bin").join(tool)).unwrap();
        }
        fs::write(
            lower.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
        )
        .unwrap();
        fs::write(
            lower.join("etc/group"),
            "root:x:0:\napp:x:1000:\nstaff:x:50:app\n",
        )
        .unwrap();
        fs::create_dir_all(lower.join("tmp")).unwrap();
        fs::set_permissions(
            lower.join("tmp"),
            std::os::unix::fs::PermissionsExt::from_mode(0o1777),
        )
        .unwrap();
        fs::create_dir_all(dir.path().join("hostdata")).unwrap();
        fs::write(dir.path().join("hostdata/hello"), "from host\n").unwrap();
        Fixture { dir }
    }

    fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    fn rootfs(&self) -> Rootfs {
        Rootfs {
            lower_dirs: vec![self.path("lower")],
            upper_dir: self.path("upper"),
            work_dir: self.path("work"),
            merged_dir: self.path("merged"),
        }
    }

    fn config(&self, prefix: &str, name: &str, args: &[&str]) -> SpawnConfig {
        let out: OwnedFd = fs::File::create(self.path("out")).unwrap().into();
        let err: OwnedFd = fs::File::create(self.path("err")).unwrap().into();
        SpawnConfig {
            id: "0123456789abcdef".repeat(4),
            rootfs: self.rootfs(),
            args: args.iter().map(|s| s.to_string()).collect(),
            env: vec!["PATH=/bin".into(), "FOO=bar".into()],
            cwd: "/work/dir".into(),
            user: None,
            hostname: "wharf-box".into(),
            mounts: vec![],
            cgroup: CgroupConfig {
                fs_root: CGROUP_ROOT.into(),
                path: format!("{prefix}/{name}"),
                limits: Limits::default(),
            },
            new_netns: true,
            stdout: out,
            stderr: err,
        }
    }

    /// Wait until the container's stdout holds `READY`, then return it.
    fn wait_ready(&self) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let mut text = String::new();
            fs::File::open(self.path("out"))
                .unwrap()
                .read_to_string(&mut text)
                .unwrap();
            // A whole line: the script's own text (in /proc/1/cmdline) says READY too.
            if text.lines().any(|line| line == "READY") {
                return text;
            }
            let err = fs::read_to_string(self.path("err")).unwrap_or_default();
            assert!(
                Instant::now() < deadline,
                "container never got ready; stdout:\n{text}\nstderr:\n{err}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn mountinfo_mentions(p: &Path) -> bool {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(&p.display().to_string())
}

fn v1_file(cgroup: &CgroupHandle, controller: &str, file: &str) -> PathBuf {
    match cgroup.mode {
        CgroupMode::V1 => cgroup.v1_dir(controller).join(file),
        CgroupMode::V2 => cgroup.v2_dir().join(file),
    }
}

fn stop(spawned: &Spawned) {
    send_signal(spawned.pid, libc::SIGKILL).unwrap();
    assert!(wait_for_exit(spawned.pid, Duration::from_secs(10)).unwrap());
    waitpid(Pid::from_raw(spawned.pid as i32), None).unwrap();
    spawned.cgroup.kill_all_and_destroy().unwrap();
}

fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

#[test]
fn spawn_builds_the_container_and_exec_runs_inside_it() {
    sandboxed(
        "spawn_builds_the_container_and_exec_runs_inside_it",
        |prefix| {
            let fx = Fixture::new();
            let script = "echo pid=$$; hostname; cat /proc/1/cmdline; echo; cat /data/hello; cat /etc/new/resolv.conf; \
            (echo x > /data/new) 2>/dev/null && echo DATA=writable || echo DATA=read-only; \
            echo y > /scratch/f && echo TMPFS=ok; id; pwd; echo HOME=$HOME FOO=$FOO; \
            ls /dev; grep CapBnd /proc/self/status; echo READY; sleep 1000";
            let mut cfg = fx.config(prefix, "main", &["sh", "-c", script]);
            cfg.cgroup.limits = Limits {
                memory_bytes: Some(64 << 20),
                nano_cpus: Some(500_000_000),
                pids: Some(64),
            };
            cfg.mounts = vec![
                MountSpec {
                    kind: MountKind::Bind,
                    source: fx.path("hostdata"),
                    target: "/data".into(),
                    read_only: true,
                },
                MountSpec {
                    kind: MountKind::Tmpfs,
                    source: PathBuf::new(),
                    target: "/scratch".into(),
                    read_only: false,
                },
                MountSpec {
                    kind: MountKind::Bind,
                    source: fx.path("hostdata/hello"),
                    target: "/etc/new/resolv.conf".into(),
                    read_only: false,
                },
            ];
            let mut hook_pid = 0;
            let own_netns = fs::read_link("/proc/self/ns/net").unwrap();
            let spawned = spawn(cfg, &mut |pid| {
                hook_pid = pid;
                let netns =
                    fs::read_link(format!("/proc/{pid}/ns/net")).map_err(|e| e.to_string())?;
                if netns == own_netns {
                    return Err("container shares our network namespace".into());
                }
                Ok(())
            })
            .unwrap();
            assert_eq!(hook_pid, spawned.pid);

            let out = fx.wait_ready();
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines[0], "pid=1", "{out}");
            assert_eq!(lines[1], "wharf-box", "{out}");
            assert!(
                lines[2].starts_with("sh\0-c\0echo pid=$$"),
                "init is our sh: {out}"
            );
            assert_eq!(
                out.matches("from host\n").count(),
                2,
                "dir and file binds: {out}"
            );
            assert!(out.contains("DATA=read-only"), "{out}");
            assert!(!fx.path("hostdata/new").exists());
            assert!(out.contains("TMPFS=ok"), "{out}");
            assert!(out.contains("uid=0(root) gid=0(root)"), "{out}");
            assert!(out.contains("\n/work/dir\n"), "{out}");
            assert!(out.contains("HOME=/root FOO=bar"), "{out}");
            for dev in [
                "null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx",
                "fd", "stdout",
            ] {
                assert!(out.lines().any(|l| l == dev), "/dev/{dev} missing: {out}");
            }
            assert!(out.contains("CapBnd:\t00000000a80425fb"), "{out}");

            // Cgroup limits and membership.
            let cg = &spawned.cgroup;
            let mem_file = match cg.mode {
                CgroupMode::V1 => "memory.limit_in_bytes",
                CgroupMode::V2 => "memory.max",
            };
            assert_eq!(
                fs::read_to_string(v1_file(cg, "memory", mem_file))
                    .unwrap()
                    .trim(),
                "67108864"
            );
            assert_eq!(
                fs::read_to_string(v1_file(cg, "pids", "pids.max"))
                    .unwrap()
                    .trim(),
                "64"
            );
            let procs = fs::read_to_string(v1_file(cg, "memory", "cgroup.procs")).unwrap();
            assert!(
                procs.lines().any(|l| l == spawned.pid.to_string()),
                "{procs}"
            );
            let stats = cg.stats().unwrap();
            assert_eq!(stats.memory_limit, Some(64 << 20));
            assert!(stats.pids >= 1, "{stats:?}");
            assert!(stats.cpu_usage_ns > 0, "{stats:?}");
            assert!(stats.memory_usage > 0, "{stats:?}");

            // The overlay lives only in the container's mount namespace.
            assert!(!mountinfo_mentions(&fx.path("merged")));
            assert!(
                fx.path("upper/work/dir").is_dir(),
                "cwd created in the upper layer"
            );
            assert_eq!(
                net_io(spawned.pid).unwrap(),
                (0, 0),
                "only lo in the private netns"
            );

            // exec: exit codes.
            let env = strings(&["PATH=/bin"]);
            let run = |args: &[&str], user: Option<&str>, cwd: &str| {
                exec(spawned.pid, cg, &strings(args), &env, cwd, user)
            };
            assert_eq!(run(&["sh", "-c", "exit 3"], None, "/").unwrap(), 3);
            assert_eq!(run(&["true-not-installed"], None, "/").unwrap(), 127);
            assert_eq!(run(&["/bin/nope"], None, "/").unwrap(), 127);
            assert_eq!(run(&["sh", "-c", "kill -9 $$"], None, "/").unwrap(), 137);

            // exec: namespaces, cwd, user, capabilities.
            let script =
                "echo $$ > /tmp/e.pid; hostname > /tmp/e.host; id > /tmp/e.id; pwd > /tmp/e.pwd; \
            grep CapEff /proc/self/status > /tmp/e.caps; echo $HOME > /tmp/e.home; \
            cat /proc/self/cgroup > /tmp/e.cgroup";
            assert_eq!(run(&["sh", "-c", script], Some("app"), "/tmp").unwrap(), 0);
            let root = PathBuf::from(format!("/proc/{}/root/tmp", spawned.pid));
            let read = |f: &str| fs::read_to_string(root.join(f)).unwrap().trim().to_string();
            let exec_pid: u32 = read("e.pid").parse().unwrap();
            assert!(
                exec_pid > 1 && exec_pid < 100,
                "pid {exec_pid} is in the container's pid namespace"
            );
            assert_eq!(read("e.host"), "wharf-box");
            assert_eq!(read("e.id"), "uid=1000(app) gid=1000(app) groups=50(staff)");
            assert_eq!(read("e.pwd"), "/tmp");
            assert_eq!(read("e.caps"), "CapEff:\t0000000000000000");
            assert_eq!(read("e.home"), "/home/app");
            assert!(
                read("e.cgroup").contains(&cg.path),
                "exec joined the cgroup: {}",
                read("e.cgroup")
            );

            let err = run(&["true"], Some("nosuchuser"), "/").unwrap_err();
            assert!(
                err.to_string().contains("unable to find user nosuchuser"),
                "{err}"
            );
            let err = run(&["true"], None, "/does/not/exist").unwrap_err();
            assert!(err.to_string().contains("/does/not/exist"), "{err}");

            stop(&spawned);
            assert!(!v1_file(cg, "memory", "").exists(), "cgroup removed");
            assert!(!mountinfo_mentions(&fx.path("merged")));
            assert!(
                fs::read_dir(fx.path("merged")).unwrap().next().is_none(),
                "nothing mounted on merged"
            );
        },
    );
}

#[test]
fn spawn_of_a_missing_binary_names_it_and_cleans_up() {
    sandboxed(
        "spawn_of_a_missing_binary_names_it_and_cleans_up",
        |prefix| {
            let fx = Fixture::new();
            let cfg = fx.config(prefix, "missing", &["no-such-binary", "--flag"]);
            let path = cfg.cgroup.path.clone();
            let err = spawn(cfg, &mut |_| Ok(())).unwrap_err();
            let msg = err.to_string();
            assert!(
                msg.contains("exec: \"no-such-binary\": executable file not found in $PATH"),
                "{msg}"
            );
            assert_eq!(
                waitpid(None, Some(WaitPidFlag::WNOHANG)).unwrap_err(),
                nix::errno::Errno::ECHILD,
                "child reaped"
            );
            let h = CgroupHandle {
                mode: detect(Path::new(CGROUP_ROOT)).unwrap(),
                fs_root: CGROUP_ROOT.into(),
                path,
            };
            assert!(h.dirs().iter().all(|d| !d.exists()), "cgroup removed");

            let cfg = fx.config(prefix, "user", &["sh", "-c", "true"]);
            let cfg = SpawnConfig {
                user: Some("ghost:nogroup".into()),
                ..cfg
            };
            let err = spawn(cfg, &mut |_| Ok(())).unwrap_err();
            assert!(
                err.to_string().contains("unable to find user ghost"),
                "{err}"
            );
        },
    );
}

#[test]
fn before_start_failure_kills_the_child() {
    sandboxed("before_start_failure_kills_the_child", |prefix| {
        let fx = Fixture::new();
        let cfg = fx.config(prefix, "hook", &["sh", "-c", "echo started; sleep 1000"]);
        let mut seen = 0;
        let err = spawn(cfg, &mut |pid| {
            seen = pid;
            Err("could not move veth".into())
        })
        .unwrap_err();
        assert!(matches!(err, RuntimeError::BeforeStart { .. }));
        assert!(err.to_string().contains("could not move veth"), "{err}");
        assert!(seen > 0);
        assert!(!Path::new(&format!("/proc/{seen}")).exists(), "child gone");
        assert_eq!(
            fs::read_to_string(fx.path("out")).unwrap(),
            "",
            "the command never ran"
        );
    });
}

#[test]
fn spawn_in_the_host_network_binds_sys_read_only() {
    sandboxed("spawn_in_the_host_network_binds_sys_read_only", |prefix| {
        let fx = Fixture::new();
        let script = "ls /sys/class/net; (touch /sys/kernel/x) 2>/dev/null && echo SYS=writable || echo SYS=read-only; \
            (echo 1 > /proc/sys/kernel/domainname) 2>/dev/null && echo PROCSYS=writable || echo PROCSYS=read-only; \
            cat /proc/kcore | grep -c . ; echo READY; sleep 1000";
        let mut cfg = fx.config(prefix, "hostnet", &["sh", "-c", script]);
        cfg.new_netns = false;
        let own_netns = fs::read_link("/proc/self/ns/net").unwrap();
        let spawned = spawn(cfg, &mut |pid| {
            let netns = fs::read_link(format!("/proc/{pid}/ns/net")).map_err(|e| e.to_string())?;
            if netns != own_netns {
                return Err("container should share our network namespace".into());
            }
            Ok(())
        })
        .unwrap();
        let out = fx.wait_ready();
        assert!(out.lines().any(|l| l == "lo"), "{out}");
        assert!(out.contains("SYS=read-only"), "{out}");
        assert!(out.contains("PROCSYS=read-only"), "{out}");
        assert!(
            out.contains("\n0\n"),
            "/proc/kcore is masked (empty): {out}"
        );
        stop(&spawned);
    });
}
