//! Running a process in a running container: `exec`, and the
//! `post_start` and `pre_stop` hooks (with their output collected).

use crate::store::{self, ContainerRecord};
use crate::{events, runtime_err, security, LinuxEngine};
use std::fs;
use std::time::Duration;
use wharf_engine_api::{ContainerState, EngineError, ExecSpec, Hook, Result};
use wharf_runtime::ExecStdio;

impl LinuxEngine {
    /// Run a command in a running container connected to `stdio` (the Engine
    /// API's exec, whose caller relays it); returns its exit code. `spec.tty`
    /// is not used: a terminal comes as [`ExecStdio::Terminal`], its pair
    /// from [`LinuxEngine::open_exec_terminal`]. `started` is told the
    /// command's host pid once it runs.
    pub fn exec_with_stdio(
        &self,
        id_or_name: &str,
        spec: &ExecSpec,
        stdio: ExecStdio,
        started: &dyn Fn(u32),
    ) -> Result<i32> {
        let record = self.find(id_or_name)?;
        self.exec_in(&record, spec, Some(stdio), started)
    }

    /// A pseudo-terminal pair in the devpts of a running container, for an
    /// exec whose caller relays the terminal itself.
    pub fn open_exec_terminal(&self, id_or_name: &str) -> Result<wharf_runtime::Pty> {
        let record = self.find(id_or_name)?;
        let (pid, _) = self.running_process(&record)?;
        wharf_runtime::Pty::open_in(pid).map_err(runtime_err)
    }

    /// The host pid of a running, unpaused container's init and its cgroup.
    fn running_process(
        &self,
        record: &ContainerRecord,
    ) -> Result<(u32, wharf_runtime::CgroupHandle)> {
        let state = self.live_state(&record.id)?;
        let (ContainerState::Running { pid, paused, .. }, Some(cgroup)) =
            (&state.state, &state.cgroup)
        else {
            return Err(EngineError::Invalid(format!(
                "container {} is not running: start it first",
                record.name
            )));
        };
        if *paused {
            return Err(EngineError::Invalid(format!(
                "container {} is paused: unpause it first",
                record.name
            )));
        }
        Ok((*pid, cgroup.clone()))
    }

    /// Run `spec` in the container: with `stdio` given, connected to it
    /// (and `started` told the command's host pid); else on the caller's
    /// stdio (or a terminal relayed to it with `tty`).
    pub(crate) fn exec_in(
        &self,
        record: &ContainerRecord,
        spec: &ExecSpec,
        stdio: Option<ExecStdio>,
        started: &dyn Fn(u32),
    ) -> Result<i32> {
        let (pid, cgroup) = self.running_process(record)?;
        let mut env = record.env.clone();
        for extra in &spec.env {
            let key = extra.split_once('=').map_or(extra.as_str(), |(k, _)| k);
            env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
            env.push(extra.clone());
        }
        let cwd = spec
            .working_dir
            .clone()
            .unwrap_or_else(|| record.cwd.clone());
        let user = spec.user.clone().or_else(|| record.user.clone());
        let mut security = security::security(&record.spec, &self.layout.seccomp_cache())?;
        security.privileged |= spec.privileged;
        let options = wharf_runtime::ExecOptions {
            security,
            ulimits: security::ulimits(&record.spec),
            tty: spec.tty,
            group_add: record.spec.group_add.clone(),
            output: None,
        };
        // docker's exec events: the command in the create and start actions,
        // the exit code on exec_die, all three tied by an execID.
        let exec_id = store::new_id()?;
        let command = spec.command.join(" ");
        let id_attribute = [("execID", exec_id.clone())];
        events::record(
            &self.layout,
            record,
            &format!("exec_create: {command}"),
            &id_attribute,
        );
        events::record(
            &self.layout,
            record,
            &format!("exec_start: {command}"),
            &id_attribute,
        );
        let (command, user) = (&spec.command, user.as_deref());
        let code = match stdio {
            Some(stdio) => wharf_runtime::exec_with_stdio(
                pid, &cgroup, command, &env, &cwd, user, &options, stdio, started,
            ),
            None => wharf_runtime::exec_with(pid, &cgroup, command, &env, &cwd, user, &options),
        }
        .map_err(runtime_err)?;
        events::record(
            &self.layout,
            record,
            "exec_die",
            &[("execID", exec_id), ("exitCode", code.to_string())],
        );
        Ok(code)
    }

    /// Run `hooks` (the container's `post_start` or `pre_stop`, named by
    /// `kind`) in order, as `exec` does but without stdin and with the output
    /// collected: the first that cannot run or exits non-zero is an error
    /// naming it, with the end of what it printed. Compose discards the
    /// output of hooks that succeed when it runs detached; so does wharf.
    pub(crate) fn run_hooks(
        &self,
        record: &ContainerRecord,
        hooks: &[Hook],
        kind: &str,
    ) -> Result<()> {
        for hook in hooks {
            let spec = ExecSpec {
                command: hook.command.clone(),
                env: hook.env.clone(),
                working_dir: hook.working_dir.clone(),
                user: hook.user.clone(),
                tty: false,
                privileged: hook.privileged,
            };
            let hook_name = || format!("container {}: {kind} hook {:?}", record.name, hook.command);
            let (code, output) =
                self.exec_collecting(record, &spec)
                    .map_err(|e| EngineError::HookNotRun {
                        hook: hook_name(),
                        source: Box::new(e),
                    })?;
            if code != 0 {
                return Err(EngineError::HookFailed {
                    hook: hook_name(),
                    code,
                    output: output.trim().to_string(),
                });
            }
        }
        Ok(())
    }

    /// `exec_in` with stdout and stderr collected: the exit code and the
    /// last few KiB of the output.
    pub(crate) fn exec_collecting(
        &self,
        record: &ContainerRecord,
        spec: &ExecSpec,
    ) -> Result<(i32, String)> {
        use std::io::Read;
        use std::os::fd::AsRawFd;
        const KEPT: usize = 4096;
        let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
            .map_err(|e| EngineError::io("creating a pipe for a hook's output", e.into()))?;
        let collected = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let sink = collected.clone();
        std::thread::spawn(move || {
            let mut file = fs::File::from(read_end);
            let mut chunk = [0u8; 4096];
            while let Ok(n) = file.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                let mut kept = sink.lock().unwrap_or_else(|p| p.into_inner());
                kept.extend_from_slice(&chunk[..n]);
                let excess = kept.len().saturating_sub(KEPT);
                kept.drain(..excess);
            }
            let _ = done.send(());
        });
        let stdio = ExecStdio::Fds {
            stdin: None,
            stdout: write_end.as_raw_fd(),
            stderr: write_end.as_raw_fd(),
        };
        let code = self.exec_in(record, spec, Some(stdio), &|_| {});
        drop(write_end);
        // A process the hook left in the background may hold the pipe open:
        // take what came so far rather than wait for it.
        let _ = finished.recv_timeout(Duration::from_millis(500));
        let output = String::from_utf8_lossy(&collected.lock().unwrap_or_else(|p| p.into_inner()))
            .into_owned();
        Ok((code?, output))
    }
}
