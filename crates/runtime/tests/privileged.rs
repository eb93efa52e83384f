//! Privileged tests: real containers from a static busybox root.
//!
//! Each test re-runs this test binary (only that test) inside fresh mount, network and
//! pid namespaces made by util-linux `unshare`, so mounts, interfaces and processes
//! cannot leak to the host even when a test fails. Cgroups are not namespaced: every
//! test uses a unique `wharf-test-<pid>-<n>-<nanos>/...` path, removed by the test and again
//! by the outer process after the sandbox has exited. Without root they skip, saying so.

#![allow(unsafe_code)] // the in-container probe makes raw system calls

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

/// A busybox root file system in a tempdir: one lower layer plus the upper, work and merged directories.
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
            "ln", "rmdir", "umount",
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
            cwd: "/srv/app".into(),
            user: None,
            hostname: "wharf-box".into(),
            mounts: vec![],
            cgroup: CgroupConfig {
                fs_root: CGROUP_ROOT.into(),
                path: format!("{prefix}/{name}"),
                limits: Limits::default(),
            },
            new_netns: true,
            terminal: None,
            stdin: None,
            stdout: out,
            stderr: err,
            process: ProcessOptions::default(),
            security: Security::default(),
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
                ..Limits::default()
            };
            cfg.mounts = vec![
                MountSpec {
                    kind: MountKind::Bind,
                    source: fx.path("hostdata"),
                    target: "/data".into(),
                    read_only: true,
                    options: Vec::new(),
                },
                MountSpec {
                    kind: MountKind::Tmpfs,
                    source: PathBuf::new(),
                    target: "/scratch".into(),
                    read_only: false,
                    options: Vec::new(),
                },
                MountSpec {
                    kind: MountKind::Bind,
                    source: fx.path("hostdata/hello"),
                    target: "/etc/new/resolv.conf".into(),
                    read_only: false,
                    options: Vec::new(),
                },
            ];
            let mut hook_pid = 0;
            let own_netns = fs::read_link("/proc/self/ns/net").unwrap();
            let spawned = spawn(cfg, &mut |pid| -> Result<(), String> {
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
            assert!(out.contains("\n/srv/app\n"), "{out}");
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
                fx.path("upper/srv/app").is_dir(),
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
            let err = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap_err();
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
            let err = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap_err();
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
        let err = spawn(cfg, &mut |pid| -> Result<(), String> {
            seen = pid;
            Err("could not move veth".into())
        })
        .unwrap_err();
        assert!(matches!(err, RuntimeError::BeforeStart { .. }));
        assert!(err.to_string().contains("could not move veth"), "{err}");
        assert_eq!(
            std::error::Error::source(&err).map(|s| s.to_string()),
            Some("could not move veth".to_string())
        );
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
        let spawned = spawn(cfg, &mut |pid| -> Result<(), String> {
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

// ------------------------------------------------------------ security and options

/// The errno name of a failure (read right after the call), or "ok".
fn outcome(rc: i64) -> String {
    if rc >= 0 {
        return "ok".into();
    }
    errno_name(nix::errno::Errno::last())
}

fn errno_name(e: nix::errno::Errno) -> String {
    match e {
        nix::errno::Errno::EPERM => "EPERM".into(),
        nix::errno::Errno::EACCES => "EACCES".into(),
        nix::errno::Errno::ENOSYS => "ENOSYS".into(),
        e => format!("{e:?}"),
    }
}

/// Not a test of its own: this test binary, bind-mounted into a container as /probe,
/// runs this function there (`WHARF_PROBE` set) to try system calls and attacks from
/// the inside and print what happened.
#[test]
fn probe() {
    let Ok(mode) = std::env::var("WHARF_PROBE") else {
        return;
    };
    let c = |s: &str| std::ffi::CString::new(s).unwrap();
    match mode.as_str() {
        "syscalls" => {
            // SAFETY (all calls below): plain syscalls with valid or null pointers.
            println!();
            let calls: [(&str, &dyn Fn() -> i64); 7] = [
                // SAFETY: a plain system call with valid or null pointers.
                ("keyctl", &|| unsafe {
                    libc::syscall(libc::SYS_keyctl, 1, 0)
                }),
                // SAFETY: a plain system call with valid or null pointers.
                ("unshare", &|| unsafe {
                    libc::unshare(libc::CLONE_NEWNS) as i64
                }),
                // SAFETY: a plain system call with valid or null pointers.
                ("mount", &|| unsafe {
                    libc::mount(
                        c"none".as_ptr(),
                        c"/mnt".as_ptr(),
                        c"tmpfs".as_ptr(),
                        0,
                        std::ptr::null(),
                    ) as i64
                }),
                // SAFETY: a plain system call with valid or null pointers.
                ("init_module", &|| unsafe {
                    libc::syscall(
                        libc::SYS_init_module,
                        std::ptr::null::<u8>(),
                        0,
                        c"".as_ptr(),
                    )
                }),
                // SAFETY: a plain system call with valid or null pointers.
                ("clone3", &|| unsafe {
                    libc::syscall(libc::SYS_clone3, std::ptr::null::<u8>(), 0)
                }),
                // SAFETY: a plain system call with valid or null pointers.
                ("vsock", &|| unsafe {
                    libc::socket(40, libc::SOCK_STREAM, 0) as i64
                }),
                // SAFETY: a plain system call with valid or null pointers.
                ("personality", &|| unsafe {
                    libc::personality(0xffff_ffff) as i64
                }),
            ];
            for (name, call) in calls {
                let rc = call();
                println!("{name}={}", outcome(rc));
            }
            let t = std::thread::spawn(|| 7).join().unwrap();
            println!("thread={t}");
            let w = fs::write("/proc/sys/kernel/hostname", "x");
            println!("procsys={}", if w.is_ok() { "ok" } else { "denied" });
        }
        "attack" => {
            // Block the exec helper's child in its read of /etc/passwd (a FIFO here):
            // it is then a copy of the host binary inside our pid namespace.
            println!();
            let mut fifo = fs::OpenOptions::new()
                .write(true)
                .open("/etc/passwd")
                .unwrap();
            let me = std::process::id();
            // Everything in our pid namespace but us, our shell and pid 1: the exec
            // helper's child.
            let parent = std::os::unix::process::parent_id();
            let mut targets = 0;
            for e in fs::read_dir("/proc").unwrap().flatten() {
                let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
                    continue;
                };
                if pid == me || pid == parent || pid == 1 {
                    continue;
                }
                targets += 1;
                let exe = c(&format!("/proc/{pid}/exe"));
                // SAFETY: open/close on a NUL-terminated path.
                let wr = unsafe { libc::open(exe.as_ptr(), libc::O_WRONLY) } as i64;
                let wr_s = outcome(wr);
                // SAFETY: as above.
                let op = unsafe { libc::open(exe.as_ptr(), libc::O_PATH) } as i64;
                let op_s = outcome(op);
                let mut reopen = "none".to_string();
                if op >= 0 {
                    let via = c(&format!("/proc/self/fd/{op}"));
                    // SAFETY: as above.
                    reopen = outcome(unsafe { libc::open(via.as_ptr(), libc::O_WRONLY) } as i64);
                }
                println!("target wronly={wr_s} opath={op_s} reopen={reopen}");
            }
            println!("targets={targets}");
            // Control: the same O_PATH open works on a dumpable process of ours.
            // SAFETY: as above.
            let control = unsafe { libc::open(c("/proc/1/exe").as_ptr(), libc::O_PATH) } as i64;
            println!("control={}", outcome(control));
            use std::io::Write;
            fifo.write_all(&fs::read("/etc/passwd.real").unwrap())
                .unwrap();
        }
        "init" => {
            // pid 1 is wharf's init: a copy of the host binary that stays so. A
            // root process with the default capabilities must not reach it.
            println!();
            let exe = c("/proc/1/exe");
            for (name, flags) in [
                ("wronly", libc::O_WRONLY),
                ("rdonly", libc::O_RDONLY),
                ("opath", libc::O_PATH),
            ] {
                // SAFETY: open on a NUL-terminated path.
                let rc = unsafe { libc::open(exe.as_ptr(), flags | libc::O_CLOEXEC) } as i64;
                println!("exe-{name}={}", outcome(rc));
            }
            let mut buf = [0u8; 256];
            // SAFETY: readlink into a local buffer of the length passed.
            let rc = unsafe { libc::readlink(exe.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
            println!("exe-readlink={}", outcome(rc as i64));
            let run = std::process::Command::new("/proc/1/exe")
                .arg("--version")
                .output();
            println!(
                "exe-exec={}",
                match run {
                    Ok(_) => "ok".to_string(),
                    Err(e) =>
                        errno_name(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0))),
                }
            );
            // The init holds no descriptor; the directory may be listed.
            match fs::read_dir("/proc/1/fd") {
                Ok(entries) => println!("init-fds={}", entries.count()),
                Err(e) => println!(
                    "init-fds={}",
                    errno_name(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(0)))
                ),
            }
            for file in ["mem", "environ", "root", "cwd"] {
                let path = c(&format!("/proc/1/{file}"));
                // SAFETY: open on a NUL-terminated path.
                let rc = unsafe { libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) };
                println!("init-{file}={}", outcome(rc as i64));
            }
            // Control: the same open of our own exe works.
            // SAFETY: open on a NUL-terminated path.
            let own = unsafe { libc::open(c("/proc/self/exe").as_ptr(), libc::O_PATH) } as i64;
            println!("control={}", outcome(own));
        }
        other => panic!("unknown probe {other}"),
    }
}

impl Fixture {
    /// Bind the host's /usr (for the probe's shared libraries) and this test binary
    /// as /probe into the container.
    fn with_probe(&self, cfg: &mut SpawnConfig) {
        let lower = self.path("lower");
        for (link, to) in [("lib", "usr/lib"), ("lib64", "usr/lib64")] {
            let _ = std::os::unix::fs::symlink(to, lower.join(link));
        }
        fs::create_dir_all(lower.join("mnt")).unwrap();
        cfg.mounts.push(MountSpec {
            kind: MountKind::Bind,
            source: "/usr".into(),
            target: "/usr".into(),
            read_only: true,
            options: Vec::new(),
        });
        cfg.mounts.push(MountSpec {
            kind: MountKind::Bind,
            source: std::env::current_exe().unwrap(),
            target: "/probe".into(),
            read_only: true,
            options: Vec::new(),
        });
    }
}

const PROBE: &str = "WHARF_PROBE=syscalls /probe probe --exact --nocapture --test-threads=1";

#[test]
fn default_security_holds_inside_the_container() {
    sandboxed("default_security_holds_inside_the_container", |prefix| {
        let fx = Fixture::new();
        let script = format!(
            "grep -E '^(CapEff|Seccomp|NoNewPrivs):' /proc/self/status; {PROBE}; echo READY; sleep 1000"
        );
        let mut cfg = fx.config(prefix, "sec", &["sh", "-c", &script]);
        fx.with_probe(&mut cfg);
        let cache = fx.path("seccomp-cache");
        cfg.security.seccomp_cache_dir = Some(cache.clone());
        let spawned = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
        let out = fx.wait_ready();
        assert!(out.contains("CapEff:\t00000000a80425fb"), "{out}");
        assert!(out.contains("Seccomp:\t2"), "{out}");
        assert!(
            out.contains("NoNewPrivs:\t0"),
            "not set unless asked: {out}"
        );
        for want in [
            "keyctl=EPERM",
            "unshare=EPERM",
            "mount=EPERM",
            "init_module=EPERM",
            "clone3=ENOSYS",
            "vsock=EPERM",
            "personality=ok",
            "thread=7",
            "procsys=denied",
        ] {
            assert!(out.lines().any(|l| l == want), "{want} missing: {out}");
        }
        assert_eq!(fs::read_dir(&cache).unwrap().count(), 1, "program cached");
        stop(&spawned);
    });
}

#[test]
fn privileged_container_may_do_what_docker_allows_it() {
    sandboxed(
        "privileged_container_may_do_what_docker_allows_it",
        |prefix| {
            let fx = Fixture::new();
            let script = format!(
                "grep -E '^(CapEff|Seccomp):' /proc/self/status; {PROBE}; \
             grep ' /sys ' /proc/mounts; ls /dev/loop-control /dev/kmsg 2>&1; \
             [ -n \"$(head -c 1 /proc/timer_list)\" ] && echo TIMER_LIST=visible; echo READY; sleep 1000"
            );
            let mut cfg = fx.config(prefix, "priv", &["sh", "-c", &script]);
            fx.with_probe(&mut cfg);
            cfg.security.privileged = true;
            let spawned = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
            let out = fx.wait_ready();
            // Every capability we hold ourselves.
            let status = fs::read_to_string("/proc/self/status").unwrap();
            let all = status
                .lines()
                .find_map(|l| l.strip_prefix("CapPrm:\t"))
                .unwrap()
                .to_string();
            assert!(out.contains(&format!("CapEff:\t{all}")), "{out}");
            assert!(out.contains("Seccomp:\t0"), "{out}");
            for want in [
                "unshare=ok",
                "mount=ok",
                "clone3=EINVAL", // the kernel's own answer: no filter
                "thread=7",
                "TIMER_LIST=visible",
            ] {
                assert!(out.lines().any(|l| l == want), "{want} missing: {out}");
            }
            assert!(out.contains("sysfs /sys sysfs rw"), "writable /sys: {out}");
            assert!(out.contains("/dev/kmsg\n"), "host devices: {out}");
            if spawned.cgroup.mode == CgroupMode::V1 {
                let list =
                    fs::read_to_string(spawned.cgroup.v1_dir("devices").join("devices.list"))
                        .unwrap();
                assert_eq!(list.trim(), "a *:* rwm");
            }
            stop(&spawned);
        },
    );
}

#[test]
fn process_options_limits_and_security_options_apply() {
    sandboxed(
        "process_options_limits_and_security_options_apply",
        |prefix| {
            let fx = Fixture::new();
            let script = "grep 'open files' /proc/self/limits; cat /proc/self/oom_score_adj; \
            cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/kernel/domainname; \
            grep ' /dev/shm ' /proc/mounts; grep -E '^(CapEff|NoNewPrivs):' /proc/self/status; \
            (touch /rootfile) 2>/dev/null && echo ROOT=writable || echo ROOT=read-only; \
            touch /scratch/f && echo TMPFS=ok; echo hi > /dev/mynull && echo DEV=ok; \
            ls -l /dev/mynull; echo READY; sleep 1000";
            let mut cfg = fx.config(prefix, "opts", &["sh", "-c", script]);
            cfg.process = ProcessOptions {
                ulimits: vec![Ulimit {
                    name: "nofile".into(),
                    soft: 1234,
                    hard: 2345,
                }],
                oom_score_adj: Some(500),
                sysctls: vec![
                    ("net.ipv4.ip_forward".into(), "1".into()),
                    ("kernel.shmmax".into(), "123456789".into()),
                ],
                shm_size: Some(1 << 20),
                domainname: Some("example.org".into()),
                ..ProcessOptions::default()
            };
            cfg.security.read_only_rootfs = true;
            cfg.security.no_new_privileges = true;
            cfg.security.cap_drop = vec!["ALL".into()];
            cfg.security.cap_add = vec!["cap_chown".into(), "NET_ADMIN".into()];
            cfg.security.devices = vec![Device {
                host_path: "/dev/null".into(),
                container_path: "/dev/mynull".into(),
                permissions: "rwm".into(),
            }];
            cfg.mounts.push(MountSpec {
                kind: MountKind::Tmpfs,
                source: PathBuf::new(),
                target: "/scratch".into(),
                read_only: false,
                options: Vec::new(),
            });
            // The first CPU this host offers (v1 cpuset hierarchy, or v2's root).
            let cpus = fs::read_to_string("/sys/fs/cgroup/cpuset/cpuset.cpus")
                .or_else(|_| fs::read_to_string("/sys/fs/cgroup/cpuset.cpus.effective"))
                .unwrap_or_default();
            let cpus = cpus
                .trim()
                .split([',', '-'])
                .next()
                .filter(|c| !c.is_empty())
                .unwrap_or("0")
                .to_string();
            cfg.cgroup.limits = Limits {
                memory_bytes: Some(64 << 20),
                memory_reservation_bytes: Some(32 << 20),
                cpu_shares: Some(512),
                cpu_quota_us: Some(20_000),
                cpu_period_us: Some(40_000),
                cpuset_cpus: Some(cpus.clone()),
                ..Limits::default()
            };
            let spawned = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
            let out = fx.wait_ready();
            assert!(
                out.contains("Max open files            1234                 2345"),
                "{out}"
            );
            for want in [
                "500",
                "1",
                "123456789",
                "example.org",
                "ROOT=read-only",
                "TMPFS=ok",
                "DEV=ok",
            ] {
                assert!(out.lines().any(|l| l == want), "{want} missing: {out}");
            }
            assert!(out.contains("size=1024k"), "shm size: {out}");
            assert!(
                out.contains("CapEff:\t0000000000001001"),
                "chown + net_admin only: {out}"
            );
            assert!(out.contains("NoNewPrivs:\t1"), "{out}");
            assert!(
                out.contains("crw-rw-rw-") && out.contains("1,   3"),
                "{out}"
            );
            let cg = &spawned.cgroup;
            if cg.mode == CgroupMode::V1 {
                let r = |c: &str, f: &str| {
                    fs::read_to_string(cg.v1_dir(c).join(f))
                        .unwrap()
                        .trim()
                        .to_string()
                };
                assert_eq!(
                    r("memory", "memory.soft_limit_in_bytes"),
                    (32u64 << 20).to_string()
                );
                assert_eq!(r("cpu", "cpu.shares"), "512");
                assert_eq!(r("cpu", "cpu.cfs_quota_us"), "20000");
                assert_eq!(r("cpu", "cpu.cfs_period_us"), "40000");
                assert_eq!(r("cpuset", "cpuset.cpus"), cpus);
                let procs = r("cpuset", "cgroup.procs");
                assert!(
                    procs.lines().any(|l| l == spawned.pid.to_string()),
                    "in the cpuset cgroup"
                );
                assert!(r("devices", "devices.list").contains("c 1:3 rwm"));
            }
            stop(&spawned);

            // Refused before anything starts.
            let mut cfg = fx.config(prefix, "bad", &["true"]);
            cfg.process.sysctls = vec![("kernel.pid_max".into(), "1".into())];
            let err = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap_err();
            assert!(
                err.to_string()
                    .contains("sysctl kernel.pid_max is not allowed"),
                "{err}"
            );
            let mut cfg = fx.config(prefix, "bad", &["true"]);
            cfg.security.cap_add = vec!["SYS_AMDIN".into()];
            let err = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap_err();
            assert!(
                err.to_string().contains("unknown capability SYS_AMDIN"),
                "{err}"
            );
            let mut cfg = fx.config(prefix, "bad", &["true"]);
            fs::write(fx.path("bad.json"), "{\"defaultAction\": 3}").unwrap();
            cfg.security.seccomp = SeccompProfile::File(fx.path("bad.json"));
            let err = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap_err();
            assert!(
                err.to_string()
                    .contains("bad.json is not a valid Docker seccomp profile"),
                "{err}"
            );
        },
    );
}

/// CVE-2019-5736: while `exec` runs, its child (a copy of the host binary) is inside
/// the container's pid namespace. From inside, open its /proc/<pid>/exe for writing
/// and as O_PATH (to reopen it through /proc/self/fd later): both must be refused.
#[test]
fn regression_cve_2019_5736_exec_helper_exe_cannot_be_opened() {
    sandboxed(
        "regression_cve_2019_5736_exec_helper_exe_cannot_be_opened",
        |prefix| {
            let fx = Fixture::new();
            let script = "mv /etc/passwd /etc/passwd.real && mkfifo /etc/passwd && echo READY && \
            WHARF_PROBE=attack /probe probe --exact --nocapture --test-threads=1; echo DONE; sleep 1000";
            // Without CAP_SYS_PTRACE anywhere and with the container holding every
            // other capability, only dumpability stands between the container and the
            // helper's child: a process may open another's /proc/<pid>/exe when the
            // uids match and its capabilities are a superset, unless the target is
            // non-dumpable.
            drop_capability_of_this_thread(19); // CAP_SYS_PTRACE
            let mut cfg = fx.config(prefix, "cve", &["sh", "-c", script]);
            fx.with_probe(&mut cfg);
            cfg.security.cap_add = vec!["ALL".into()];
            let spawned = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
            fx.wait_ready();
            let code = exec(
                spawned.pid,
                &spawned.cgroup,
                &strings(&["sh", "-c", "true"]),
                &strings(&["PATH=/bin"]),
                "/",
                None,
            )
            .unwrap();
            assert_eq!(code, 0);
            let deadline = Instant::now() + Duration::from_secs(20);
            let out = loop {
                let out = fs::read_to_string(fx.path("out")).unwrap();
                if out.contains("DONE") || Instant::now() > deadline {
                    break out;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            assert!(
                out.contains("targets=1"),
                "the helper's child was found: {out}"
            );
            assert!(
                out.contains("target wronly=EACCES opath=EACCES reopen=none"),
                "{out}"
            );
            assert!(
                out.contains("control=ok"),
                "the same open works on a dumpable process: {out}"
            );
            stop(&spawned);
        },
    );
}

/// Drop capability `cap` from the bounding, permitted and effective sets of the calling
/// thread (spawn and exec fork from it, so their processes lack it too).
fn drop_capability_of_this_thread(cap: u32) {
    let status = fs::read_to_string("/proc/thread-self/status").unwrap();
    let get = |key: &str| {
        let v = status.lines().find_map(|l| l.strip_prefix(key)).unwrap();
        u64::from_str_radix(v.trim(), 16).unwrap() & !(1u64 << cap)
    };
    let (eff, prm) = (get("CapEff:"), get("CapPrm:"));
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    let mut h = Header {
        version: 0x2008_0522,
        pid: 0,
    };
    let d = [
        Data {
            effective: eff as u32,
            permitted: prm as u32,
            inheritable: 0,
        },
        Data {
            effective: (eff >> 32) as u32,
            permitted: (prm >> 32) as u32,
            inheritable: 0,
        },
    ];
    // SAFETY: prctl takes integers; capset gets a valid v3 header and two data items.
    unsafe {
        assert_eq!(
            libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0),
            0
        );
        assert_eq!(
            libc::syscall(libc::SYS_capset, &mut h as *mut Header, d.as_ptr()),
            0
        );
    }
}

/// The states (`R`, `S`, `Z`, …) of every process in `cgroup`.
fn process_states(cgroup: &CgroupHandle) -> Vec<(u32, String)> {
    cgroup
        .pids()
        .unwrap()
        .into_iter()
        .filter_map(|pid| {
            let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let state = stat[stat.rfind(')')? + 2..].split(' ').next()?.to_string();
            Some((pid, state))
        })
        .collect()
}

/// `init: true`: pid 1 is wharf's init, which runs the command as its child,
/// reaps orphans, forwards signals, exits with the command's status, holds no
/// descriptor and no capability but CAP_KILL, and stays out of reach of the
/// container's processes (CVE-2019-5736 class: it is a copy of the host binary).
#[test]
fn init_runs_the_command_reaps_forwards_and_stays_out_of_reach() {
    sandboxed(
        "init_runs_the_command_reaps_forwards_and_stays_out_of_reach",
        |prefix| {
            let fx = Fixture::new();
            let script = "echo pid=$$ ppid=$PPID; (sleep 0.2 &); \
            WHARF_PROBE=init /probe probe --exact --nocapture --test-threads=1; \
            trap 'echo TERM; exit 3' TERM; echo READY; while :; do sleep 1 & wait; done";
            let mut cfg = fx.config(prefix, "init", &["sh", "-c", script]);
            fx.with_probe(&mut cfg);
            cfg.process.init = true;
            let spawned = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
            let out = fx.wait_ready();
            assert!(
                out.contains("pid=2 ppid=1"),
                "the command is init's child: {out}"
            );
            for want in [
                "exe-wronly=EACCES",
                "exe-rdonly=EACCES",
                "exe-opath=EACCES",
                "exe-readlink=EACCES",
                "exe-exec=EACCES",
                "init-mem=EACCES",
                "init-environ=EACCES",
                "init-root=EACCES",
                "init-cwd=EACCES",
                "control=ok",
            ] {
                assert!(out.lines().any(|l| l == want), "{want} missing: {out}");
            }
            assert!(
                out.lines()
                    .any(|l| l == "init-fds=0" || l == "init-fds=EACCES"),
                "{out}"
            );
            let init = spawned.pid;
            let cmdline = fs::read(format!("/proc/{init}/cmdline")).unwrap();
            assert!(
                cmdline.starts_with(b"wharf-init\0--\0sh\0-c\0echo pid"),
                "{}",
                String::from_utf8_lossy(&cmdline)
            );
            assert_eq!(
                fs::read_dir(format!("/proc/{init}/fd")).unwrap().count(),
                0,
                "no descriptor of the monitor's reaches the container"
            );
            let status = fs::read_to_string(format!("/proc/{init}/status")).unwrap();
            for want in [
                "CapEff:\t0000000000000020",
                "CapBnd:\t0000000000000020",
                "NoNewPrivs:\t1",
            ] {
                assert!(status.contains(want), "{want}: {status}");
            }
            // The orphaned sleep was re-parented to init and reaped: only init,
            // the shell and its current sleep are left, none of them a zombie.
            let deadline = Instant::now() + Duration::from_secs(20);
            loop {
                let states = process_states(&spawned.cgroup);
                if states.len() <= 3 && states.iter().all(|(_, s)| s != "Z") {
                    break;
                }
                assert!(Instant::now() < deadline, "zombies left: {states:?}");
                std::thread::sleep(Duration::from_millis(20));
            }
            send_signal(init, libc::SIGTERM).unwrap();
            let status = waitpid(Pid::from_raw(init as i32), None).unwrap();
            assert_eq!(
                status,
                nix::sys::wait::WaitStatus::Exited(Pid::from_raw(init as i32), 3),
                "the command's exit code"
            );
            assert!(fs::read_to_string(fx.path("out")).unwrap().contains("TERM"));
            spawned.cgroup.kill_all_and_destroy().unwrap();

            // Killed by a signal: 128 + signal, as a shell reports it.
            let mut cfg = fx.config(prefix, "init-kill", &["sh", "-c", "kill -9 $$"]);
            cfg.process.init = true;
            let spawned = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
            let status = waitpid(Pid::from_raw(spawned.pid as i32), None).unwrap();
            assert_eq!(
                status,
                nix::sys::wait::WaitStatus::Exited(Pid::from_raw(spawned.pid as i32), 137)
            );
            spawned.cgroup.kill_all_and_destroy().unwrap();

            // A command that cannot start fails the spawn as without init.
            let mut cfg = fx.config(prefix, "init-missing", &["/bin/nope"]);
            cfg.process.init = true;
            let err = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap_err();
            assert!(err.to_string().contains("/bin/nope"), "{err}");
        },
    );
}

fn ns_link(pid: u32, ns: &str) -> PathBuf {
    fs::read_link(format!("/proc/{pid}/ns/{ns}")).unwrap()
}

/// pid and IPC namespaces joined from another container (its /dev/shm with
/// them), the host's UTS and IPC namespaces; and a hostile container whose
/// IPC namespace is joined cannot make the joiner mount a host directory as
/// its /dev/shm.
#[test]
fn shared_namespaces_and_a_joined_dev_shm_that_stays_inside_its_container() {
    sandboxed(
        "shared_namespaces_and_a_joined_dev_shm_that_stays_inside_its_container",
        |prefix| {
            let donor_fx = Fixture::new();
            let script = "echo shared > /dev/shm/marker; echo READY; sleep 1000";
            let cfg = donor_fx.config(prefix, "donor", &["sh", "-c", script]);
            let donor = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
            donor_fx.wait_ready();

            let joiner_fx = Fixture::new();
            let script = "echo pid=$$; cat /dev/shm/marker; echo READY; sleep 1000";
            let mut cfg = joiner_fx.config(prefix, "joiner", &["sh", "-c", script]);
            cfg.process.pid_namespace = Namespace::Join(donor.pid);
            cfg.process.ipc_namespace = Namespace::Join(donor.pid);
            let joiner = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
            let out = joiner_fx.wait_ready();
            assert!(
                out.lines().any(|l| l == "shared"),
                "the donor's /dev/shm: {out}"
            );
            assert!(!out.contains("pid=1\n"), "pid 1 is the donor's: {out}");
            for ns in ["pid", "ipc"] {
                assert_eq!(ns_link(joiner.pid, ns), ns_link(donor.pid, ns), "{ns}");
            }
            for ns in ["mnt", "uts", "net"] {
                assert_ne!(ns_link(joiner.pid, ns), ns_link(donor.pid, ns), "{ns}");
            }
            stop(&joiner);
            stop(&donor);

            let host_fx = Fixture::new();
            let script = "hostname; echo READY; sleep 1000";
            let mut cfg = host_fx.config(prefix, "host", &["sh", "-c", script]);
            cfg.process.uts_namespace = Namespace::Host;
            cfg.process.ipc_namespace = Namespace::Host;
            let host = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
            let out = host_fx.wait_ready();
            let own_name = nix::unistd::gethostname().unwrap();
            assert_eq!(out.lines().next(), own_name.to_str(), "the host's name");
            let me = std::process::id();
            for ns in ["uts", "ipc"] {
                assert_eq!(ns_link(host.pid, ns), ns_link(me, ns), "{ns}");
            }
            assert_ne!(ns_link(host.pid, "pid"), ns_link(me, "pid"));
            stop(&host);
            let mut cfg = host_fx.config(prefix, "refused", &["true"]);
            cfg.process.uts_namespace = Namespace::Join(me);
            assert!(spawn(cfg, &mut |_| Ok::<(), String>(())).is_err());
            let mut cfg = host_fx.config(prefix, "refused", &["true"]);
            cfg.process.uts_namespace = Namespace::Host;
            cfg.process.domainname = Some("example.org".into());
            let err = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap_err();
            assert!(err.to_string().contains("rename the host"), "{err}");
            let mut cfg = host_fx.config(prefix, "refused", &["true"]);
            cfg.process.ipc_namespace = Namespace::Host;
            cfg.process.shm_size = Some(1 << 20);
            let err = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap_err();
            assert!(
                err.to_string().contains("shm_size needs a /dev/shm"),
                "{err}"
            );

            // Hostile donors replace their /dev/shm with a symlink: to a magic
            // link into the host's root (seen with pid: host), or to an absolute
            // path. The first is refused, the second stays inside the donor.
            for (target, pid_host) in [("/proc/1/root/etc", true), ("/etc", false)] {
                let donor_fx = Fixture::new();
                let script = format!(
                    "umount /dev/shm && rmdir /dev/shm && ln -s {target} /dev/shm && echo READY; sleep 1000"
                );
                let mut cfg = donor_fx.config(prefix, "hostile", &["sh", "-c", &script]);
                cfg.security.privileged = true;
                if pid_host {
                    cfg.process.pid_namespace = Namespace::Host;
                }
                let donor = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
                donor_fx.wait_ready();
                let joiner_fx = Fixture::new();
                let script = "ls /dev/shm; echo READY; sleep 1000";
                let mut cfg = joiner_fx.config(prefix, "victim", &["sh", "-c", script]);
                cfg.process.ipc_namespace = Namespace::Join(donor.pid);
                match spawn(cfg, &mut |_| Ok::<(), String>(())) {
                    Err(err) => {
                        assert!(pid_host, "{target}: {err}");
                        assert!(
                            err.to_string().contains("dev/shm")
                                && err.to_string().contains("symbolic links"),
                            "{err}"
                        );
                    }
                    Ok(victim) => {
                        assert!(!pid_host, "{target} was followed");
                        let out = joiner_fx.wait_ready();
                        assert!(
                            out.lines().any(|l| l == "passwd")
                                && !out.lines().any(|l| l == "os-release" || l == "hostname"),
                            "the donor's /etc, not the host's: {out}"
                        );
                        stop(&victim);
                    }
                }
                stop(&donor);
            }
        },
    );
}

/// Open each node as `sh` would (`<` read, `<>` read-write) and print
/// `NODE: ok` or `NODE: <the shell's error>`.
const OPEN_PROBE: &str = "probe() { if (exec 3<\"$2\") 2>/tmp/probe.err && [ \"$1\" = r ] || \
    (exec 3<>\"$2\") 2>/tmp/probe.err; then echo \"$2: ok\"; \
    else echo \"$2: $(cat /tmp/probe.err)\"; fi; }";

/// The verdict the probe printed for `node`.
fn verdict<'a>(out: &'a str, node: &str) -> &'a str {
    let prefix = format!("{node}: ");
    out.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no verdict for {node}: {out}"))
}

/// A cgroup2 hierarchy mounted in the sandbox's own mount namespace, so the
/// device program path is exercised on hybrid (v1) hosts too; on them the
/// process stays in the v1 root devices cgroup, which allows everything, so
/// only the program decides.
fn private_cgroup2() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    nix::mount::mount(
        Some("cgroup2"),
        dir.path(),
        Some("cgroup2"),
        nix::mount::MsFlags::empty(),
        None::<&str>,
    )
    .expect("mounting cgroup2 in the sandbox");
    dir
}

#[test]
fn cgroup_v2_device_program_enforces_docker_device_rules() {
    sandboxed(
        "cgroup_v2_device_program_enforces_docker_device_rules",
        |prefix| {
            let cgroup2 = private_cgroup2();
            let script = format!(
                "{OPEN_PROBE}; busybox mknod /tmp/sda b 8 0 && echo MKNOD=ok; \
                 busybox mknod /tmp/loop0 b 7 0; busybox mknod /tmp/lc c 10 237; \
                 for n in null zero full random urandom tty; do probe rw /dev/$n; done; \
                 probe r /tmp/sda; probe r /tmp/loop0; probe rw /tmp/lc; \
                 [ -e /dev/loop-control ] && probe rw /dev/loop-control; \
                 echo URANDOM=$(busybox head -c 16 /dev/urandom | busybox wc -c); \
                 echo x > /dev/null && echo NULL=written; echo READY; sleep 1000"
            );
            let run = |name: &str, setup: &dyn Fn(&mut SpawnConfig)| {
                let fx = Fixture::new();
                let mut cfg = fx.config(prefix, name, &["sh", "-c", &script]);
                cfg.cgroup.fs_root = cgroup2.path().to_path_buf();
                setup(&mut cfg);
                let spawned = spawn(cfg, &mut |_| Ok::<(), String>(())).unwrap();
                assert_eq!(spawned.cgroup.mode, CgroupMode::V2);
                (fx.wait_ready(), spawned, fx)
            };
            const EPERM: &str = "Operation not permitted";

            // Docker's defaults: mknod anything, use only the standard nodes.
            let (out, spawned, _fx) = run("default", &|_| {});
            assert!(out.contains("MKNOD=ok\n"), "{out}");
            for n in ["null", "zero", "full", "random", "urandom"] {
                assert_eq!(verdict(&out, &format!("/dev/{n}")), "ok", "{out}");
            }
            // No controlling terminal: the tty driver answers, not the filter.
            assert!(!verdict(&out, "/dev/tty").contains(EPERM), "{out}");
            assert!(
                out.contains("URANDOM=16\n") && out.contains("NULL=written\n"),
                "{out}"
            );
            for node in ["/tmp/sda", "/tmp/loop0", "/tmp/lc"] {
                assert!(verdict(&out, node).contains(EPERM), "{node}: {out}");
            }
            // `exec` joins the cgroup, so the program covers it too.
            let status = exec(
                spawned.pid,
                &spawned.cgroup,
                &strings(&["sh", "-c", "exec 3</tmp/sda"]),
                &strings(&["PATH=/bin"]),
                "/",
                None,
            )
            .unwrap();
            assert_ne!(status, 0, "exec opened the disk node");
            stop(&spawned);

            // A listed device is usable, under its own path and any other node.
            let (out, spawned, _fx) = run("listed", &|cfg| {
                cfg.security.devices = vec![Device {
                    host_path: "/dev/loop-control".into(),
                    container_path: String::new(),
                    permissions: "rw".into(),
                }];
            });
            assert_eq!(verdict(&out, "/dev/loop-control"), "ok", "{out}");
            assert_eq!(verdict(&out, "/tmp/lc"), "ok", "{out}");
            assert!(verdict(&out, "/tmp/sda").contains(EPERM), "{out}");
            assert!(verdict(&out, "/tmp/loop0").contains(EPERM), "{out}");
            stop(&spawned);

            // Privileged: every device.
            let (out, spawned, _fx) = run("privileged", &|cfg| cfg.security.privileged = true);
            assert_eq!(verdict(&out, "/tmp/loop0"), "ok", "{out}");
            assert_eq!(verdict(&out, "/tmp/lc"), "ok", "{out}");
            assert!(!verdict(&out, "/tmp/sda").contains(EPERM), "{out}");
            stop(&spawned);
        },
    );
}
