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

use crate::store;
use std::fs::File;
use std::io::{BufRead, BufReader};
use wharf_image::build::{RunError, RunExecutor, RunNetwork, RunOutcome, RunStep};
use wharf_runtime::{CgroupConfig, CgroupHandle, ProcessOptions, Rootfs, Security, SpawnConfig};

impl RunExecutor for crate::LinuxEngine {
    fn run(&self, step: &RunStep<'_>) -> Result<RunOutcome, RunError> {
        let fail = |what: &str, e: String| RunError(format!("{what}: {e}"));
        let id = store::new_id().map_err(|e| fail("making a step id", e.to_string()))?;
        let (out_r, out_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| fail("creating the output pipe", e.to_string()))?;
        let err_w = out_w
            .try_clone()
            .map_err(|e| fail("duplicating the output pipe", e.to_string()))?;
        let cgroup_parent = format!("{}/build", self.config.cgroup_parent);
        let new_netns = step.network != RunNetwork::Host;
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
            hostname: id[..12].to_string(),
            mounts: Vec::new(),
            cgroup: CgroupConfig {
                fs_root: self.config.cgroup_fs_root.clone(),
                path: format!("{cgroup_parent}/{id}"),
                limits: Default::default(),
            },
            new_netns,
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
        let spawned =
            wharf_runtime::spawn(config, &mut before_start).map_err(|e| RunError(e.to_string()))?;
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
        Ok(RunOutcome { exit_code: code })
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
