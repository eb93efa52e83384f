//! RUN steps of image builds: the engine's [`RunExecutor`]. Each step is a
//! short-lived container: an overlay of the stage's layer snapshots with the step's
//! diff directory as its upper directory, Docker's default capabilities and seccomp
//! profile, its own cgroup (`<cgroup parent>/build/<id>`), stdout and stderr
//! streamed line by line to the build's progress. The builder turns the upper
//! directory into the step's layer.
//!
//! Networks: `host` shares the host's network namespace (no new one is made);
//! `none` and `default` get a private namespace with only loopback up (wharf has no
//! build network with outbound access yet: use `RUN --network=host` to download).
//!
//! `RUN --mount`s arrive prepared by the builder (host directories and files to
//! bind, tmpfs options) and are mounted after those files, in order.
//!
//! Like Docker's builder, each step sees `/etc/resolv.conf` and `/etc/hosts`
//! bind-mounted from files the engine writes (the host's resolvers; localhost and
//! the step's hostname); a mount point the runtime had to create for them is removed
//! from the step's changes afterwards, so it never lands in a layer.

use crate::store;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use wharf_image::build::{RunError, RunExecutor, RunNetwork, RunOutcome, RunStep, StepMountKind};
use wharf_runtime::{
    CgroupConfig, CgroupHandle, MountKind, MountSpec, ProcessOptions, Rootfs, Security, SpawnConfig,
};

/// The files bind-mounted into every step, by their path inside it.
const STEP_ETC_FILES: [&str; 2] = ["etc/resolv.conf", "etc/hosts"];

impl RunExecutor for crate::LinuxEngine {
    fn run(&self, step: &RunStep<'_>) -> Result<RunOutcome, RunError> {
        let id = store::new_id().map_err(|e| RunError::new("making a step id", e))?;
        let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| RunError::new("creating the output pipe", e))?;
        let err_w = out_w
            .try_clone()
            .map_err(|e| RunError::new("duplicating the output pipe", e))?;
        let cgroup_parent = format!("{}/build", self.config.cgroup_parent);
        let new_netns = step.network != RunNetwork::Host;
        let hostname = id[..12].to_string();
        let mut mounts = write_step_etc_files(step, &hostname, new_netns)
            .map_err(|e| RunError::new("writing the step's /etc/resolv.conf and /etc/hosts", e))?;
        mounts.extend(step.mounts.iter().map(|m| MountSpec {
            kind: match m.kind {
                StepMountKind::Bind => MountKind::Bind,
                StepMountKind::Tmpfs => MountKind::Tmpfs,
            },
            source: m.source.clone(),
            target: m.target.clone(),
            read_only: m.read_only,
            options: m.options.clone(),
        }));
        let config = SpawnConfig {
            id: id.clone(),
            rootfs: Rootfs {
                lower_dirs: step.layers.to_vec(),
                upper_dir: step.upper_dir.to_path_buf(),
                work_dir: step.work_dir.to_path_buf(),
                merged_dir: step.merged_dir.to_path_buf(),
            },
            args: step.args.to_vec(),
            env: step.env.to_vec(),
            cwd: step.cwd.to_string(),
            user: step.user.map(str::to_string),
            hostname,
            mounts,
            cgroup: CgroupConfig {
                fs_root: self.config.cgroup_fs_root.clone(),
                path: format!("{cgroup_parent}/{id}"),
                limits: Default::default(),
            },
            new_netns,
            terminal: None,
            stdin: None,
            stdout: out_w,
            stderr: err_w,
            process: ProcessOptions {
                shm_size: step.shm_size,
                ..Default::default()
            },
            security: Security {
                seccomp_cache_dir: Some(self.layout.seccomp_cache()),
                ..Default::default()
            },
        };
        let mut before_start = |pid: u32| -> Result<(), String> {
            if new_netns {
                wharf_net::loopback_up_in(pid).map_err(|e| e.to_string())?;
            }
            Ok(())
        };
        // `config` (with our write ends of the pipe) is consumed: once the step's
        // processes are gone the reader sees end-of-file.
        let spawned = wharf_runtime::spawn(config, &mut before_start)
            .map_err(|e| RunError::new("starting the step's process", e))?;
        let mut reader = BufReader::with_capacity(64 * 1024, File::from(out_r));
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match reader.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    let text = String::from_utf8_lossy(&buf);
                    (step.output)(text.trim_end_matches(['\n', '\r']));
                }
            }
        }
        let code = wait_exit(spawned.pid);
        let _ = spawned.cgroup.kill_all_and_destroy();
        CgroupHandle::remove_empty_parents(&self.config.cgroup_fs_root, &cgroup_parent);
        remove_mount_points(step.upper_dir);
        Ok(RunOutcome { exit_code: code })
    }
}

impl crate::LinuxEngine {
    /// Where `RUN --mount=type=cache` directories live between builds.
    pub fn build_cache_mounts(&self) -> PathBuf {
        self.layout.root.join("build-cache-mounts")
    }
}

/// Write the step's resolv.conf and hosts next to its overlay work directory and
/// return the read-only bind mounts of them.
fn write_step_etc_files(
    step: &RunStep<'_>,
    hostname: &str,
    new_netns: bool,
) -> std::io::Result<Vec<MountSpec>> {
    let dir = step
        .work_dir
        .parent()
        .unwrap_or(step.work_dir)
        .join("etc-files");
    std::fs::create_dir_all(&dir)?;
    let host = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let resolv = if new_netns {
        // Loopback resolvers of the host are not reachable from another namespace.
        crate::etc_files::container_resolv_conf(&host, &Default::default())
    } else {
        host
    };
    let hosts = format!(
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t{hostname}\n"
    );
    let mut mounts = Vec::new();
    for (rel, text) in STEP_ETC_FILES.iter().zip([resolv, hosts]) {
        let source: PathBuf = dir.join(rel.trim_start_matches("etc/"));
        std::fs::write(&source, text)?;
        mounts.push(MountSpec {
            kind: MountKind::Bind,
            source,
            target: format!("/{rel}"),
            read_only: true,
            options: Vec::new(),
        });
    }
    Ok(mounts)
}

/// Remove the empty files the runtime created in the step's upper directory as
/// mount points for [`STEP_ETC_FILES`] (files of the image itself are never in the
/// upper directory unless the step changed them, which the mounts prevent).
fn remove_mount_points(upper_dir: &Path) {
    for rel in STEP_ETC_FILES {
        let path = upper_dir.join(rel);
        if let Ok(meta) = std::fs::symlink_metadata(&path) {
            if meta.file_type().is_file() && meta.len() == 0 {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Wait for the step's init: its exit code, or 128 + signal.
fn wait_exit(pid: u32) -> i32 {
    use nix::sys::wait::{waitpid, WaitStatus};
    loop {
        match waitpid(nix::unistd::Pid::from_raw(pid as i32), None) {
            Ok(WaitStatus::Exited(_, code)) => return code,
            Ok(WaitStatus::Signaled(_, signal, _)) => return 128 + signal as i32,
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            Err(_) => return 255,
        }
    }
}
