//! Starting a container's monitor (`wharf __monitor`, see [`crate::monitor`]):
//! in the background, handing it the monitor lock and waiting for its word
//! that the container runs, or in the foreground for `run`.

use crate::lock::MonitorLock;
use crate::store::ContainerRecord;
use crate::{LinuxEngine, MONITOR_LOG};
use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use wharf_engine_api::{ContainerState, EngineError, Result};

impl LinuxEngine {
    /// The command line of the monitor of `record`.
    pub(crate) fn monitor_command(
        &self,
        record: &ContainerRecord,
        attached: bool,
        await_ports: bool,
    ) -> Command {
        let mut command = Command::new(&self.config.monitor_program);
        command.arg(crate::monitor::MONITOR_ARG);
        if attached {
            command.arg("--attached");
        }
        if await_ports {
            command.arg(crate::monitor::AWAIT_PORTS_ARG);
        }
        command
            .arg("--root")
            .arg(&self.config.root)
            .arg("--cgroup-fs")
            .arg(&self.config.cgroup_fs_root)
            .arg(&record.id);
        command
    }

    pub(crate) fn monitor_error(&self, error: std::io::Error) -> EngineError {
        EngineError::io(
            format!(
                "starting the monitor {}",
                self.config.monitor_program.display()
            ),
            error,
        )
    }

    /// The monitor started in the foreground: it hands our stdio to the
    /// container and returns when the container has exited.
    pub(crate) fn run_monitor_attached(&self, record: &ContainerRecord) -> Result<i32> {
        let status = self
            .monitor_command(record, true, false)
            .status()
            .map_err(|e| self.monitor_error(e))?;
        let state = self.live_state(&record.id)?;
        match (state.state, state.error) {
            (ContainerState::Exited { exit_code, .. }, _) => Ok(exit_code),
            (_, Some(message)) => Err(match status.code() {
                Some(code @ (126 | 127)) => EngineError::CommandNotRunnable { code, message },
                _ => EngineError::Monitor {
                    container: record.name.clone(),
                    message,
                },
            }),
            _ => Err(EngineError::Monitor {
                container: record.name.clone(),
                message: format!(
                    "the monitor of {} ended ({status}) without recording an exit",
                    record.name
                ),
            }),
        }
    }

    /// `start`: the monitor in the background, then the `post_start` hooks.
    pub(crate) fn start(&self, id: &str, await_ports: bool) -> Result<()> {
        let record = self.find(id)?;
        let _whole = self.phase("start", &record.name);
        let Some(monitor_lock) = self.claim_monitor(&record)? else {
            return Ok(());
        };
        let dir = self.layout.container(&record.id);
        let _ = fs::remove_file(dir.join(crate::STOP_MARKER));
        let _ = fs::remove_file(dir.join(crate::RESTART_MARKER));
        self.write_etc_files_locked(&record)?;
        self.spawn_monitor(&record, monitor_lock, await_ports)?;
        self.run_hooks(&record, &record.spec.post_start, "post_start")
    }

    /// Start the monitor in the background, handing it `lock` as its stdin,
    /// and wait for its word that the container runs. With `await_ports` it
    /// binds no published port: a port handover brings them.
    pub(crate) fn spawn_monitor(
        &self,
        record: &ContainerRecord,
        lock: MonitorLock,
        await_ports: bool,
    ) -> Result<()> {
        let dir = self.layout.container(&record.id);
        let monitor_log = fs::File::create(dir.join(MONITOR_LOG))
            .map_err(|e| EngineError::io("creating the monitor log", e))?;
        let handover = lock
            .handover()
            .map_err(|e| EngineError::io("passing the monitor lock on", e))?;
        let mut child = self
            .monitor_command(record, false, await_ports)
            .stdin(handover)
            .stdout(Stdio::piped())
            .stderr(monitor_log)
            .spawn()
            .map_err(|e| self.monitor_error(e))?;
        // The monitor holds the lock now, through its copy of the open file.
        drop(lock);
        let stdout = child.stdout.take().ok_or_else(|| {
            EngineError::io(
                format!("reading the answer of the monitor of {}", record.name),
                std::io::Error::other("its stdout is not a pipe"),
            )
        })?;
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let line = line.trim_end();
        if line == "ok" {
            // The monitor keeps running on its own; reap it in the background
            // so a long-lived caller collects no zombies.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            return Ok(());
        }
        let _ = child.wait();
        let message = match line.strip_prefix("error: ") {
            Some(m) => m.to_string(),
            None => {
                let log = fs::read_to_string(dir.join(MONITOR_LOG)).unwrap_or_default();
                format!(
                    "the monitor of {} ended before the container started{}",
                    record.name,
                    if log.trim().is_empty() {
                        String::new()
                    } else {
                        format!(": {}", log.trim())
                    }
                )
            }
        };
        Err(EngineError::Monitor {
            container: record.name.clone(),
            message,
        })
    }
}
